package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
)

var postgresDialect = dialect{
	name:          "postgres",
	goose:         goose.DialectPostgres,
	migrationsDir: "migrations/postgres",
	isUnique: func(err error) bool {
		var pe *pgconn.PgError
		return errors.As(err, &pe) && pe.Code == "23505"
	},
	// Quota checks count rows then insert; under READ COMMITTED two
	// transactions could both pass the count, so they serialise on a
	// per-account advisory lock held until commit.
	lockAccount: func(ctx context.Context, tx wtx, account string) error {
		_, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock(hashtext($1))`, account)
		return err
	},
	forUpdate: " FOR UPDATE",
	// The same as the trigger of migration 00013 sets for every writer.
	rowRev: func(string) string { return `pg_current_xact_id()::text::bigint` },
	// A transaction id below the snapshot's xmin has ended, and one that
	// starts later has a larger id, so rows at least xmin hold every write
	// this read may not have seen.
	rowWatermark: func(string) (string, []any) {
		return `SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint`, nil
	},
	// Replicas starting together on a fresh database would otherwise all
	// run the first migration at once (and all but one fail). goose's
	// Provider locks only with a session locker: a session-level advisory
	// lock (per database), held on one connection while the migrations run;
	// a waiting replica tries again every second, for up to 5 minutes.
	migrationLock: func() (lock.SessionLocker, error) {
		return lock.NewPostgresSessionLocker(lock.WithLockTimeout(1, 300), lock.WithUnlockTimeout(1, 60))
	},
	retryable: func(err error) bool {
		var pe *pgconn.PgError
		return errors.As(err, &pe) && (pe.Code == "40P01" || pe.Code == "40001") // deadlock_detected, serialization_failure
	},
}

// PostgresOptions tune the connection pool.
type PostgresOptions struct {
	MaxConns         int
	StatementTimeout time.Duration
}

// OpenPostgres connects to a PostgreSQL database URL and applies pending
// migrations under a session-level advisory lock, so that replicas starting
// together on a fresh database apply them once (TestPostgresMigrationsRace).
func OpenPostgres(ctx context.Context, url string, o PostgresOptions, logger *slog.Logger) (*Store, error) {
	cfg, err := pgx.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("--database: %w", err)
	}
	if o.StatementTimeout > 0 {
		cfg.RuntimeParams["statement_timeout"] = fmt.Sprint(o.StatementTimeout.Milliseconds())
	}
	db := stdlib.OpenDB(*cfg)
	if o.MaxConns > 0 {
		db.SetMaxOpenConns(o.MaxConns)
		db.SetMaxIdleConns(o.MaxConns)
	}
	pingCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := db.PingContext(pingCtx); err != nil {
		db.Close()
		return nil, fmt.Errorf("--database: connect to PostgreSQL: %w", err)
	}
	s := &Store{db: db, rdb: db, ardb: db, dialect: postgresDialect, log: logger}
	if err := s.migrate(ctx); err != nil {
		db.Close()
		return nil, err
	}
	s.startProgress()
	return s, nil
}
