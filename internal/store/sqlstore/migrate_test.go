package sqlstore

import (
	"log/slog"
	"sync"
	"testing"

	"github.com/fleetsync/fleetsync/internal/pgtest"
)

// TestPostgresMigrationsRace opens the store from several goroutines at
// once on one fresh database, as replicas deployed together do: every open
// must succeed (the migrations run once, under goose's session lock, and the
// others find them applied), and the schema must be whole afterwards.
func TestPostgresMigrationsRace(t *testing.T) {
	const replicas = 6
	for round := range 1 { // one fresh database was enough to fail every time without the lock
		url := pgtest.NewDatabase(t)
		var wg sync.WaitGroup
		errs := make([]error, replicas)
		stores := make([]*Store, replicas)
		start := make(chan struct{})
		for i := range replicas {
			wg.Go(func() {
				<-start
				stores[i], errs[i] = OpenPostgres(t.Context(), url, PostgresOptions{MaxConns: 2}, slog.New(slog.DiscardHandler))
			})
		}
		close(start)
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Errorf("round %d: replica %d: OpenPostgres: %v", round, i, err)
				continue
			}
			defer stores[i].Close()
		}
		if t.Failed() {
			return
		}
		var applied int
		if err := stores[0].db.QueryRowContext(t.Context(), `SELECT count(*) FROM goose_db_version WHERE version_id > 0`).Scan(&applied); err != nil {
			t.Fatal(err)
		}
		want := countMigrations(t, postgresDialect)
		if applied != want {
			t.Errorf("round %d: goose_db_version has %d applied migrations, want %d (each exactly once)", round, applied, want)
		}
		if err := stores[0].Ping(t.Context()); err != nil {
			t.Fatal(err)
		}
	}
}

// countMigrations counts a dialect's migration files.
func countMigrations(t *testing.T, d dialect) int {
	t.Helper()
	entries, err := migrations.ReadDir(d.migrationsDir)
	if err != nil {
		t.Fatal(err)
	}
	return len(entries)
}
