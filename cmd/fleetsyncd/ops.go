package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/fleetsync/fleetsync/internal/config"
	"github.com/fleetsync/fleetsync/internal/store/sqlstore"
	"github.com/fleetsync/fleetsync/internal/version"
)

// printVersion is `fleetsyncd version` and `fleetsyncd --version`.
func printVersion(out io.Writer) {
	fmt.Fprintln(out, version.Get().String("fleetsyncd"))
}

// newLogger builds the process logger: text (the default, as the agent's)
// or JSON lines on stderr.
func newLogger(level, format string) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level %q: %w", level, err)
	}
	opts := &slog.HandlerOptions{Level: l}
	switch format {
	case "text", "":
		return slog.New(slog.NewTextHandler(os.Stderr, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(os.Stderr, opts)), nil
	}
	return nil, fmt.Errorf("--log-format %q: want text or json", format)
}

// backup is `fleetsyncd backup --to FILE`: a consistent online copy of the
// SQLite database (the server may be running), integrity-checked.
func backup(cfg config.Config, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("fleetsyncd backup", flag.ContinueOnError)
	cfg.Register(fs)
	to := fs.String("to", "", "file to write the copy of the database to (must not exist)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *to == "" {
		return fmt.Errorf("usage: fleetsyncd backup --to FILE [--data-dir DIR | --database sqlite:///path]")
	}
	if cfg.Postgres() {
		return fmt.Errorf("--database is PostgreSQL: back it up with pg_dump (see docs/operations.md), and keep %s", filepath.Join(cfg.DataDir, "master.key"))
	}
	path, err := cfg.SQLitePath()
	if err != nil {
		return err
	}
	ctx := context.Background()
	if err := sqlstore.BackupSQLite(ctx, path, *to); err != nil {
		return err
	}
	if err := sqlstore.CheckSQLite(ctx, *to); err != nil {
		return err
	}
	st, err := os.Stat(*to)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "backed up %s to %s (%d bytes, integrity ok)\n", path, *to, st.Size())
	fmt.Fprintf(stdout, "keep %s with it: without that key the stored credentials cannot be opened\n", filepath.Join(cfg.DataDir, "master.key"))
	return nil
}
