// Package sqlstore implements the store contract on SQL databases. Queries are
// written once in portable SQL ($n placeholders, row-value comparisons, ON
// CONFLICT upserts); a dialect carries what differs (driver, migrations,
// error classification). SQLite (modernc.org/sqlite, no cgo) is the embedded
// default.
package sqlstore

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"

	"github.com/pressly/goose/v3"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/fleetsync/fleetsync/internal/store"
)

//go:embed migrations
var migrations embed.FS

// dialect is what differs between SQL backends.
type dialect struct {
	name          string
	goose         goose.Dialect
	migrationsDir string
	// isUnique reports whether err is a unique-constraint violation.
	isUnique func(error) bool
	// lockAccount serialises an account's quota-checked writes until the
	// transaction ends (SQLite's immediate transactions already do).
	lockAccount func(ctx context.Context, tx *sql.Tx, account string) error
	// forUpdate is appended to a SELECT whose row the transaction will change.
	forUpdate string
	// retryable reports whether a transaction failed only because of a
	// concurrent one (deadlock victim) and can run again; nil: never.
	retryable func(error) bool
}

var sqliteDialect = dialect{
	name:          "sqlite",
	goose:         goose.DialectSQLite3,
	migrationsDir: "migrations/sqlite",
	isUnique: func(err error) bool {
		var se *sqlite.Error
		if errors.As(err, &se) {
			c := se.Code()
			return c == sqlite3.SQLITE_CONSTRAINT_UNIQUE || c == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY
		}
		return false
	},
	lockAccount: func(context.Context, *sql.Tx, string) error { return nil },
}

// Store is the SQL implementation of store.Store.
type Store struct {
	db      *sql.DB
	dialect dialect
	log     *slog.Logger
}

var _ store.Store = (*Store)(nil)

// OpenSQLite opens (creating if needed) the SQLite database file at path in
// WAL mode and applies pending migrations.
func OpenSQLite(ctx context.Context, path string, logger *slog.Logger) (*Store, error) {
	dsn := "file:" + path + "?_pragma=journal_mode(WAL)&_pragma=busy_timeout(10000)&_pragma=synchronous(NORMAL)&_txlock=immediate"
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	// SQLite has one writer; a few readers run beside it in WAL mode.
	db.SetMaxOpenConns(8)
	s := &Store{db: db, dialect: sqliteDialect, log: logger}
	if err := s.migrate(ctx); err != nil {
		db.Close()
		return nil, err
	}
	return s, nil
}

func (s *Store) migrate(ctx context.Context) error {
	sub, err := fs.Sub(migrations, s.dialect.migrationsDir)
	if err != nil {
		return err
	}
	p, err := goose.NewProvider(s.dialect.goose, s.db, sub)
	if err != nil {
		return fmt.Errorf("migrations: %w", err)
	}
	results, err := p.Up(ctx)
	if err != nil {
		return fmt.Errorf("apply migrations: %w", err)
	}
	for _, r := range results {
		s.log.Info("migration applied", "dialect", s.dialect.name, "version", r.Source.Version, "path", r.Source.Path)
	}
	return nil
}

// Ping checks that the database answers.
func (s *Store) Ping(ctx context.Context) error { return s.db.PingContext(ctx) }

// Close releases the database.
func (s *Store) Close() error { return s.db.Close() }

// tx runs fn in a transaction, committing when it returns nil. A
// transaction the database chose as a deadlock victim runs again (a few
// times): fn must only touch the database.
func (s *Store) tx(ctx context.Context, fn func(*sql.Tx) error) error {
	for attempt := 1; ; attempt++ {
		err := s.tx1(ctx, fn)
		if err == nil || s.dialect.retryable == nil || !s.dialect.retryable(err) || attempt == 3 {
			return err
		}
		s.log.Warn("transaction lost a deadlock; retrying", "attempt", attempt, "error", err)
	}
}

func (s *Store) tx1(ctx context.Context, fn func(*sql.Tx) error) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		tx.Rollback()
		return err
	}
	return tx.Commit()
}

// querier is what *sql.DB and *sql.Tx share.
type querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// count runs a SELECT COUNT(*) query.
func count(ctx context.Context, q querier, query string, args ...any) (int, error) {
	var n int
	err := q.QueryRowContext(ctx, query, args...).Scan(&n)
	return n, err
}

// mustAffect turns "no row changed" into ErrNotFound.
func mustAffect(res sql.Result, err error) error {
	if err != nil {
		return err
	}
	n, err := res.RowsAffected()
	if err != nil {
		return err
	}
	if n == 0 {
		return store.ErrNotFound
	}
	return nil
}

// notFound maps sql.ErrNoRows to store.ErrNotFound.
func notFound(err error) error {
	if errors.Is(err, sql.ErrNoRows) {
		return store.ErrNotFound
	}
	return err
}

// insertErr maps unique violations to store.ErrExists.
func (s *Store) insertErr(err error) error {
	if err != nil && s.dialect.isUnique(err) {
		return store.ErrExists
	}
	return err
}
