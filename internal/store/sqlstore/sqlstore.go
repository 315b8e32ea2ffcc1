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
	"strings"
	"sync"
	"time"

	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
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
	lockAccount func(ctx context.Context, tx wtx, account string) error
	// forUpdate is appended to a SELECT whose row the transaction will change.
	forUpdate string
	// rowRev is the SQL value of a job row's rev in a write, given the SQL
	// of the row's job ARN; rowWatermark the query (and its arguments) of
	// the next to return from JobRobotsSince: every row written later, and
	// every row whose writer had not committed, has a rev at least that.
	// SQLite's writers are serialised, so one more than the job's largest
	// rev is both. PostgreSQL's commit out of order: the writer's
	// transaction id, and the oldest transaction still running.
	rowRev       func(jobARN string) string
	rowWatermark func(jobARN string) (string, []any)
	// revSet is "rev = rowRev" for an UPDATE of job_robots, made once.
	revSet string
	// retryable reports whether a transaction failed only because of a
	// concurrent one (deadlock victim) and can run again; nil: never.
	retryable func(error) bool
	// isBusy reports whether err is the database refusing a write because
	// another holds its lock (SQLITE_BUSY from another process past the
	// busy timeout); such a write is returned as store.ErrBusy.
	isBusy func(error) bool
	// migrationLock, when set, makes the migrations of processes opening
	// one database together run one process at a time (nil: the database
	// serialises writers by itself, as SQLite does).
	migrationLock func() (lock.SessionLocker, error)
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
	lockAccount: func(context.Context, wtx, string) error { return nil },
	rowRev:      sqliteNextRev,
	rowWatermark: func(jobARN string) (string, []any) {
		return `SELECT ` + sqliteNextRev("$1"), []any{jobARN}
	},
	isBusy: func(err error) bool {
		var se *sqlite.Error
		return errors.As(err, &se) && se.Code()&0xff == sqlite3.SQLITE_BUSY
	},
}

// WriteWait bounds how long a write waits for SQLite's one writer before it
// fails with store.ErrBusy (ThrottlingException, or 503 to an agent, which
// retries). A 10,000-robot rollout on a 2-core machine at load average 20
// queued agent reports past 10 s, hence 30 s; an agent gives a report 60 s.
const WriteWait = 30 * time.Second

// sqliteNextRev is one more than the largest rev of the job given as SQL:
// on SQLite both a new write's revision and the next of a read.
func sqliteNextRev(jobARN string) string {
	return `(SELECT COALESCE(MAX(v.rev), 0) + 1 FROM job_robots v WHERE v.job_arn = ` + jobARN + `)`
}

func init() {
	for _, d := range []*dialect{&sqliteDialect, &postgresDialect} {
		d.revSet = `rev = ` + d.rowRev("job_robots.job_arn")
	}
}

// Store is the SQL implementation of store.Store.
type Store struct {
	db *sql.DB
	// rdb serves the queries that only read. On SQLite it is a pool of its
	// own: in WAL mode readers never wait for the writer, so a Describe
	// does not queue behind thousands of agent reports for the one write
	// lock. On PostgreSQL it is db.
	rdb *sql.DB
	// ardb serves the agents' reads (forAgents): on SQLite a pool of its
	// own beside rdb, on PostgreSQL db.
	ardb *sql.DB
	// reads caches the prepared statements of rdb's queries (*sql.Stmt by
	// query text): SQLite would otherwise parse and plan every query anew,
	// which was a fifth of the server's CPU under agent load.
	reads sync.Map
	// parseEachTime turns the cache off, for the benchmark that measures it.
	parseEachTime bool
	// writer, on SQLite, is this process's turn at the write lock: one
	// caller at a time holds it and commits the group of writes at the head
	// of commits (SQLite has one write lock; connections contending for it
	// spin in the busy handler and fail with "database is locked" past the
	// busy timeout); the others wait in line up to writeWait. nil on
	// PostgreSQL, whose writers do not exclude each other.
	writer    chan struct{}
	writeWait time.Duration
	// commits is the line of write transactions waiting for the writer on
	// SQLite, committed in groups (groupcommit.go).
	commits commitQueue
	// progress holds agents' progress reports until the next flush.
	progress progressBuffer
	// deep runs the agents' hottest statements and the write groups on
	// goroutines with grown stacks (deep.go); nil on PostgreSQL.
	deep    *deepStacks
	dialect dialect
	log     *slog.Logger
	// integrity is the SQLite file's integrity state for Ready (nil on
	// PostgreSQL, which checks its own pages).
	integrity *integrity
}

var _ store.Store = (*Store)(nil)

// OpenSQLite opens (creating if needed) the SQLite database file at path in
// WAL mode and applies pending migrations.
func OpenSQLite(ctx context.Context, path string, logger *slog.Logger) (*Store, error) {
	return OpenSQLiteWith(ctx, path, SQLiteOptions{}, logger)
}

// sqliteURI is the file: URI of the database at path with query: the
// path escaped, so that a '?', '#' or '%' in a directory name is part of
// the name and not the start of the query.
func sqliteURI(path, query string) string {
	return "file:" + strings.NewReplacer("%", "%25", "?", "%3f", "#", "%23").Replace(path) + "?" + query
}

// OpenSQLiteWith is OpenSQLite that first refuses a damaged file (see
// SQLiteOptions and ErrDamaged): not a SQLite file, missing or empty where
// one must exist, or failing PRAGMA quick_check.
func OpenSQLiteWith(ctx context.Context, path string, o SQLiteOptions, logger *slog.Logger) (*Store, error) {
	if err := checkSQLiteFile(path, o.MustExist); err != nil {
		return nil, err
	}
	if o.CheckEvery <= 0 {
		o.CheckEvery = time.Minute
	}
	const pragmas = "_pragma=journal_mode(WAL)&_pragma=busy_timeout(10000)&_pragma=synchronous(NORMAL)"
	// The write pool keeps its temporary files in memory: each transaction
	// of a group (groupcommit.go) is a savepoint, whose journal of the pages
	// it changed SQLite otherwise spills to a file past 64 KiB, 18 KB
	// written per rollout result (BenchmarkRecordResultConcurrent).
	db, err := sql.Open("sqlite", sqliteURI(path, pragmas+"&_pragma=temp_store(MEMORY)&_txlock=immediate"))
	if err != nil {
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	// SQLite has one writer: writes queue for it in s.writer; the other
	// connections serve reads made on db. Idle connections are kept (Go's
	// default keeps 2): reopening one re-applies the pragmas, which was a
	// tenth of an agent poll's CPU.
	db.SetMaxOpenConns(8)
	db.SetMaxIdleConns(8)
	db.SetConnMaxIdleTime(0)
	s := &Store{db: db, rdb: db, ardb: db, dialect: sqliteDialect, log: logger, writer: make(chan struct{}, 1), writeWait: WriteWait,
		commits: commitQueue{limit: maxGroup}}
	if err := quickCheck(ctx, db, path); err != nil {
		db.Close()
		return nil, err
	}
	s.integrity = &integrity{path: path, every: o.CheckEvery, at: time.Now()}
	if err := s.migrate(ctx); err != nil {
		db.Close()
		return nil, err
	}
	rdb, err := sql.Open("sqlite", sqliteURI(path, pragmas+"&_pragma=query_only(1)"))
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	rdb.SetMaxOpenConns(8)
	rdb.SetMaxIdleConns(8)
	s.rdb = rdb
	ardb, err := sql.Open("sqlite", sqliteURI(path, pragmas+"&_pragma=query_only(1)"))
	if err != nil {
		db.Close()
		rdb.Close()
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	ardb.SetMaxOpenConns(8)
	ardb.SetMaxIdleConns(8)
	s.ardb = ardb
	s.deep = newDeepStacks(deepWorkers, logger)
	s.startProgress()
	return s, nil
}

func (s *Store) migrate(ctx context.Context) error {
	sub, err := fs.Sub(migrations, s.dialect.migrationsDir)
	if err != nil {
		return err
	}
	var opts []goose.ProviderOption
	if s.dialect.migrationLock != nil {
		l, err := s.dialect.migrationLock()
		if err != nil {
			return fmt.Errorf("migrations lock: %w", err)
		}
		opts = append(opts, goose.WithSessionLocker(l))
	}
	p, err := goose.NewProvider(s.dialect.goose, s.db, sub, opts...)
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

// readStmt returns the prepared statement of a read-only query on rdb. It is
// never used inside a transaction: a statement of the pool prepares itself
// on whichever connection runs it.
func (s *Store) readStmt(ctx context.Context, query string) (*sql.Stmt, error) {
	if s.parseEachTime {
		return nil, errNoCache
	}
	return s.poolStmt(ctx, s.readPool(ctx), query)
}

// poolStmt returns pool's prepared statement of query, preparing it the
// first time (s.reads caches the statements of every pool, by pool and
// query).
func (s *Store) poolStmt(ctx context.Context, pool *sql.DB, query string) (*sql.Stmt, error) {
	key := stmtKey{pool, query}
	if st, ok := s.reads.Load(key); ok {
		return st.(*sql.Stmt), nil
	}
	st, err := pool.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	if prev, loaded := s.reads.LoadOrStore(key, st); loaded {
		st.Close()
		return prev.(*sql.Stmt), nil
	}
	return st, nil
}

// stmtKey names a cached statement: its pool and its query.
type stmtKey struct {
	pool  *sql.DB
	query string
}

// agentReads marks a context whose reads serve an agent request.
type agentReads struct{}

// forAgents routes the reads made with ctx to the agents' read pool.
func forAgents(ctx context.Context) context.Context {
	return context.WithValue(ctx, agentReads{}, true)
}

// readPool is the pool for ctx's reads: agents' requests (thousands at once
// during a rollout) read from a pool of their own, so an API call such as
// DescribeDeploymentJob never waits for a connection behind them
// (database/sql hands a freed connection to a random waiter, so a waiter
// in a crowd may wait for seconds).
func (s *Store) readPool(ctx context.Context) *sql.DB {
	if ctx.Value(agentReads{}) != nil {
		return s.ardb
	}
	return s.rdb
}

// rowsQuerier is what queryAll needs: a *sql.DB, a *sql.Tx or a reader.
type rowsQuerier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

var errNoCache = errors.New("statement cache off")

// reader runs read-only queries through readStmt.
type reader struct{ s *Store }

// QueryContext implements rowsQuerier.
func (r reader) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	st, err := r.s.readStmt(ctx, query)
	if errors.Is(err, errNoCache) {
		return r.s.readPool(ctx).QueryContext(ctx, query, args...)
	}
	if err != nil {
		return nil, err
	}
	return st.QueryContext(ctx, args...)
}

// readRow runs a read-only single-row query through readStmt.
func (s *Store) readRow(ctx context.Context, query string, args ...any) *sql.Row {
	st, err := s.readStmt(ctx, query)
	if err != nil {
		// The error surfaces from Scan, like any other query error.
		return s.readPool(ctx).QueryRowContext(ctx, query, args...)
	}
	return st.QueryRowContext(ctx, args...)
}

// Ping checks that the database answers.
func (s *Store) Ping(ctx context.Context) error { return s.db.PingContext(ctx) }

// Close writes the progress it holds and releases the database.
func (s *Store) Close() error {
	flushErr := s.stopProgress()
	s.deep.stop()
	s.reads.Range(func(_, st any) bool {
		st.(*sql.Stmt).Close()
		return true
	})
	err := errors.Join(flushErr, s.db.Close())
	if s.ardb != s.db {
		err = errors.Join(err, s.ardb.Close())
	}
	if s.rdb != s.db {
		err = errors.Join(err, s.rdb.Close())
	}
	return err
}

// tx runs fn in a transaction, committing when it returns nil. A
// transaction the database chose as a deadlock victim runs again (a few
// times): fn must only touch the database.
func (s *Store) tx(ctx context.Context, fn func(wtx) error) error {
	for attempt := 1; ; attempt++ {
		err := s.tx1(ctx, fn)
		if err == nil || s.dialect.retryable == nil || !s.dialect.retryable(err) || attempt == 3 {
			return err
		}
		s.log.Warn("transaction lost a deadlock; retrying", "attempt", attempt, "error", err)
	}
}

func (s *Store) tx1(ctx context.Context, fn func(wtx) error) error {
	if s.writer != nil {
		return s.groupTx(ctx, fn)
	}
	tx, err := s.begin(ctx)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		tx.Rollback()
		return s.busy(err)
	}
	return s.busy(tx.Commit())
}

// begin starts a write transaction on db. On SQLite its caller holds the
// writer.
func (s *Store) begin(ctx context.Context) (wtx, error) {
	sqltx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return wtx{}, s.busy(err)
	}
	return wtx{Tx: sqltx, s: s}, nil
}

// wtx is a write transaction whose statements are prepared once per
// connection of the write pool: SQLite would parse and plan each anew, a
// twentieth of the server's CPU in a rollout (pgx caches PostgreSQL's
// statements by itself).
type wtx struct {
	*sql.Tx
	s *Store
	// detached: the statements run whatever happens to the context they are
	// given (a transaction of a group, see groupcommit.go).
	detached bool
}

// stmtCtx is the context a statement of the transaction runs under.
func (t wtx) stmtCtx(ctx context.Context) context.Context {
	if t.detached {
		return context.WithoutCancel(ctx)
	}
	return ctx
}

// ExecContext runs a write statement of the transaction.
func (t wtx) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	ctx = t.stmtCtx(ctx)
	if st := t.s.writeStmt(ctx, query); st != nil {
		return t.Tx.StmtContext(ctx, st).ExecContext(ctx, args...)
	}
	return t.Tx.ExecContext(ctx, query, args...)
}

// QueryRowContext runs a single-row query of the transaction.
func (t wtx) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	ctx = t.stmtCtx(ctx)
	if st := t.s.writeStmt(ctx, query); st != nil {
		return t.Tx.StmtContext(ctx, st).QueryRowContext(ctx, args...)
	}
	return t.Tx.QueryRowContext(ctx, query, args...)
}

// QueryContext runs a query of the transaction.
func (t wtx) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	ctx = t.stmtCtx(ctx)
	if st := t.s.writeStmt(ctx, query); st != nil {
		return t.Tx.StmtContext(ctx, st).QueryContext(ctx, args...)
	}
	return t.Tx.QueryContext(ctx, query, args...)
}

// writeStmt returns the write pool's prepared statement of query on
// SQLite, nil on PostgreSQL, when the cache is off, or when the query does
// not prepare (running it unprepared reports why).
func (s *Store) writeStmt(ctx context.Context, query string) *sql.Stmt {
	if s.writer == nil || s.parseEachTime {
		return nil
	}
	st, err := s.poolStmt(ctx, s.db, query)
	if err != nil {
		return nil
	}
	return st
}

// releaseWriter ends this process's turn at the database's write lock
// (SQLite), taken by sending on s.writer.
func (s *Store) releaseWriter() { <-s.writer }

// exec runs one write statement on its own. On SQLite it is a transaction
// of the write queue like any other, committed with those waiting
// (groupcommit.go).
func (s *Store) exec(ctx context.Context, query string, args ...any) (sql.Result, error) {
	if s.writer != nil {
		var res sql.Result
		err := s.tx(ctx, func(tx wtx) error {
			var err error
			res, err = tx.ExecContext(ctx, query, args...)
			return err
		})
		return res, err
	}
	res, err := s.db.ExecContext(ctx, query, args...)
	return res, s.busy(err)
}

// busy turns the database's "locked" refusal into store.ErrBusy.
func (s *Store) busy(err error) error {
	if err != nil && s.dialect.isBusy != nil && s.dialect.isBusy(err) {
		return fmt.Errorf("%w (%v)", store.ErrBusy, err)
	}
	return err
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
