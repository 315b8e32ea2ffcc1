package sqlstore

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"
	"sync"
	"time"
)

// ErrDamaged is a database file that is missing, empty or corrupt where a
// database is known to have been: the server must not start on it (it
// would silently start afresh, or fail request by request).
var ErrDamaged = errors.New("database damaged")

// SQLiteOptions tune OpenSQLiteWith.
type SQLiteOptions struct {
	// MustExist: a database was set up here before (its data directory
	// holds the master key), so a missing or empty file is a lost
	// database, not a first start.
	MustExist bool
	// CheckEvery is how often Ready re-runs the integrity check on a
	// fresh connection (0: one minute).
	CheckEvery time.Duration
}

// sqliteHeader starts every SQLite database file.
const sqliteHeader = "SQLite format 3\x00"

// restoreHint tells the operator what to do about a damaged file.
const restoreHint = "stop every fleetsyncd on it and restore the file from a backup (with its -wal file, if the backup has one, else with none)"

// checkSQLiteFile refuses a file that is not a SQLite database, and a
// missing or empty one when mustExist.
func checkSQLiteFile(path string, mustExist bool) error {
	fi, err := os.Stat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if mustExist {
			return fmt.Errorf("%w: database %s does not exist, but its data directory holds master.key, so a database was set up here: %s; if this data directory belongs to a PostgreSQL install, pass its --database; to start afresh on purpose, use a new --data-dir", ErrDamaged, path, restoreHint)
		}
		return nil
	case err != nil:
		return fmt.Errorf("database %s: %w", path, err)
	case !fi.Mode().IsRegular():
		return fmt.Errorf("%w: database %s is not a regular file", ErrDamaged, path)
	case fi.Size() == 0:
		if mustExist {
			return fmt.Errorf("%w: database %s is empty (0 bytes), but its data directory holds master.key, so a database was set up here: %s; to start afresh on purpose, use a new --data-dir", ErrDamaged, path, restoreHint)
		}
		return nil
	}
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("database %s: %w", path, err)
	}
	defer f.Close()
	head := make([]byte, len(sqliteHeader))
	if _, err := io.ReadFull(f, head); err != nil || !bytes.Equal(head, []byte(sqliteHeader)) {
		return fmt.Errorf("%w: %s is not a SQLite database (its header is wrong): %s", ErrDamaged, path, restoreHint)
	}
	return nil
}

// quickCheck runs PRAGMA quick_check (every page and index entry read
// once, without the slower cross-checks of integrity_check) on db.
func quickCheck(ctx context.Context, db *sql.DB, path string) error {
	rows, err := db.QueryContext(ctx, "PRAGMA quick_check(5)")
	if err != nil {
		return fmt.Errorf("%w: database %s cannot be checked (%v): %s", ErrDamaged, path, err, restoreHint)
	}
	defer rows.Close()
	var problems []string
	for rows.Next() {
		var line string
		if err := rows.Scan(&line); err != nil {
			return fmt.Errorf("%w: database %s: %v: %s", ErrDamaged, path, err, restoreHint)
		}
		problems = append(problems, line)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("%w: database %s cannot be checked (%v): %s", ErrDamaged, path, err, restoreHint)
	}
	if len(problems) == 1 && problems[0] == "ok" {
		return nil
	}
	return fmt.Errorf("%w: database %s is corrupt (quick_check: %s): %s", ErrDamaged, path, strings.Join(problems, "; "), restoreHint)
}

// integrity remembers the last integrity check of a SQLite file for Ready.
type integrity struct {
	path  string
	every time.Duration

	mu      sync.Mutex
	at      time.Time
	err     error
	running bool
}

// check runs quickCheck on a connection of its own: the pool's connections
// keep pages cached across transactions and would not see damage on disk.
func (in *integrity) check(ctx context.Context) error {
	db, err := sql.Open("sqlite", sqliteURI(in.path, "_pragma=query_only(1)&_pragma=busy_timeout(10000)"))
	if err != nil {
		return err
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	return quickCheck(ctx, db, in.path)
}

// last returns the latest result, starting a new check in the background
// when it is older than every (a readiness probe never waits for a scan).
func (in *integrity) last() error {
	in.mu.Lock()
	defer in.mu.Unlock()
	if !in.running && time.Since(in.at) >= in.every {
		in.running = true
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
			defer cancel()
			err := in.check(ctx)
			in.mu.Lock()
			in.err, in.at, in.running = err, time.Now(), false
			in.mu.Unlock()
		}()
	}
	return in.err
}

// Ready reports whether the database answers and, on SQLite, passed its
// latest integrity check ("database disk image is malformed" makes the
// server not ready, instead of failing request by request).
func (s *Store) Ready(ctx context.Context) error {
	if err := s.db.PingContext(ctx); err != nil {
		return err
	}
	if s.integrity != nil {
		return s.integrity.last()
	}
	return nil
}
