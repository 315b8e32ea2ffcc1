package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// BackupSQLite writes a consistent copy of the SQLite database at path to
// the new file to, while servers keep using the database: VACUUM INTO reads
// one snapshot in a single read transaction (WAL readers do not block
// writers) and writes a compact, self-contained database file (no -wal or
// -shm needed). The copy is made under a temporary name, synced, then renamed
// into place, so to is either absent or complete. to must not exist.
func BackupSQLite(ctx context.Context, path, to string) error {
	if _, err := os.Stat(path); err != nil {
		return fmt.Errorf("database %s: %w", path, err)
	}
	if _, err := os.Stat(to); err == nil {
		return fmt.Errorf("backup target %s exists: choose a new file", to)
	} else if !errors.Is(err, os.ErrNotExist) {
		return err
	}
	tmp := filepath.Join(filepath.Dir(to), "."+filepath.Base(to)+".partial")
	os.Remove(tmp)
	db, err := sql.Open("sqlite", sqliteURI(path, "_pragma=busy_timeout(10000)"))
	if err != nil {
		return err
	}
	defer db.Close()
	if _, err := db.ExecContext(ctx, "VACUUM INTO ?", tmp); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("VACUUM INTO %s: %w", tmp, err)
	}
	if err := syncFile(tmp); err != nil {
		os.Remove(tmp)
		return err
	}
	if err := os.Rename(tmp, to); err != nil {
		os.Remove(tmp)
		return err
	}
	return syncFile(filepath.Dir(to))
}

// CheckSQLite runs SQLite's integrity check on a database file (a backup
// before it is restored).
func CheckSQLite(ctx context.Context, path string) error {
	db, err := sql.Open("sqlite", sqliteURI(path, "_pragma=query_only(1)"))
	if err != nil {
		return err
	}
	defer db.Close()
	var res string
	if err := db.QueryRowContext(ctx, "PRAGMA integrity_check").Scan(&res); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if res != "ok" {
		return fmt.Errorf("%s: integrity check: %s", path, res)
	}
	return nil
}

func syncFile(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	return f.Sync()
}
