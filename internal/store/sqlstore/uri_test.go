package sqlstore

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"testing"

	"github.com/fleetsync/fleetsync/internal/fleet"
)

// TestSQLitePathsOfAnyName: a data directory and a backup whose names hold
// the characters a file: URI gives a meaning ('?', '#', '%') are opened,
// written, backed up and checked as the files they name.
func TestSQLitePathsOfAnyName(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "fleet?sync#data%20dir")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "fleetsync.db")
	s, err := OpenSQLite(ctx, path, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	f := fleet.Fleet{ARN: "arn:aws:robomaker:us-east-1:123456789012:fleet/f/1", Account: "123456789012", Name: "f", CreatedMs: 1, Tags: fleet.Tags{}}
	if err := s.CreateFleet(ctx, f, 10); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("the database is not the file its path names: %v", err)
	}
	backup := filepath.Join(dir, "backup?#%41.db")
	if err := BackupSQLite(ctx, path, backup); err != nil {
		t.Fatal(err)
	}
	s.Close()
	if err := CheckSQLite(ctx, backup); err != nil {
		t.Fatal(err)
	}
	b, err := OpenSQLite(ctx, backup, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if got, err := b.GetFleet(ctx, f.Account, f.ARN); err != nil || got.Name != "f" {
		t.Fatalf("fleet in the backup = %+v, %v", got, err)
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if n := e.Name(); n != "fleetsync.db" && n != "fleetsync.db-wal" && n != "fleetsync.db-shm" && n != "backup?#%41.db" &&
			n != "backup?#%41.db-wal" && n != "backup?#%41.db-shm" {
			t.Errorf("stray file %q beside the databases", n)
		}
	}
}
