package sqlstore

import (
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fleetsync/fleetsync/internal/fleet"
	"github.com/fleetsync/fleetsync/internal/pgtest"
	"github.com/fleetsync/fleetsync/internal/store"
	"github.com/fleetsync/fleetsync/internal/store/storetest"
)

func TestSQLiteConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		s, err := OpenSQLite(t.Context(), filepath.Join(t.TempDir(), "test.db"), slog.New(slog.DiscardHandler))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	})
}

func TestSQLiteReopenKeepsDataAndSchema(t *testing.T) {
	path := filepath.Join(t.TempDir(), "test.db")
	log := slog.New(slog.DiscardHandler)
	s, err := OpenSQLite(t.Context(), path, log)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.CreateCredential(t.Context(), store.Credential{AccessKeyID: "AK", Account: "1", SecretSealed: []byte("x")}); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s, err = OpenSQLite(t.Context(), path, log) // migrations already applied: a no-op
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.GetCredential(t.Context(), "AK"); err != nil {
		t.Errorf("after reopen: %v", err)
	}
}

func TestPostgresConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		s, err := OpenPostgres(t.Context(), pgtest.NewDatabase(t), PostgresOptions{MaxConns: 8}, slog.New(slog.DiscardHandler))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	})
}

func TestPostgresPoolOptions(t *testing.T) {
	s, err := OpenPostgres(t.Context(), pgtest.NewDatabase(t), PostgresOptions{MaxConns: 3, StatementTimeout: 1234 * time.Millisecond}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var timeout string
	if err := s.db.QueryRowContext(t.Context(), `SHOW statement_timeout`).Scan(&timeout); err != nil {
		t.Fatal(err)
	}
	if timeout != "1234ms" {
		t.Errorf("statement_timeout = %q, want 1234ms", timeout)
	}
	if got := s.db.Stats().MaxOpenConnections; got != 3 {
		t.Errorf("pool size = %d, want 3", got)
	}
	// A statement over the timeout is canceled by the server.
	if _, err := s.db.ExecContext(t.Context(), `SELECT pg_sleep(3)`); err == nil || !strings.Contains(err.Error(), "statement timeout") {
		t.Errorf("a 3 s statement with a 1.234 s timeout: %v, want canceled by statement timeout", err)
	}
}

// TestSQLiteWritesQueueInsteadOfLocking runs many writers at once (robot
// creation, progress, nonces) on one SQLite file: they wait in line for the
// one writer, and no client sees "database is locked".
func TestSQLiteWritesQueueInsteadOfLocking(t *testing.T) {
	s, err := OpenSQLite(t.Context(), filepath.Join(t.TempDir(), "test.db"), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	const acct = "123456789012"
	var wg sync.WaitGroup
	errs := make(chan error, 1000)
	for w := range 32 {
		wg.Go(func() {
			for i := range 20 {
				name := fmt.Sprintf("r-%02d-%02d", w, i)
				r := fleet.Robot{ARN: "arn:aws:robomaker:us-east-1:" + acct + ":robot/" + name + "/1", Account: acct, Name: name,
					Architecture: fleet.X86_64, AgentID: "agent-" + name, Status: fleet.RobotAvailable, CreatedMs: 1}
				if err := s.CreateRobot(t.Context(), r, 100000); err != nil {
					errs <- err
				}
				if _, err := s.UpdateReplayWindow(t.Context(), name, func([]byte) ([]byte, int64, bool) { return []byte{1}, 1, true }); err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("concurrent write: %v", err)
	}
}

// TestSQLiteWriteWaitIsBounded: a write that cannot get the writer within
// the bound fails with store.ErrBusy (ThrottlingException on the wire) and
// changes nothing.
func TestSQLiteWriteWaitIsBounded(t *testing.T) {
	s, err := OpenSQLite(t.Context(), filepath.Join(t.TempDir(), "test.db"), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	s.writeWait = 50 * time.Millisecond
	release := holdWriter(s)
	err = s.CreateCredential(t.Context(), store.Credential{AccessKeyID: "AK", Account: "1", SecretSealed: []byte("x")})
	if !errors.Is(err, store.ErrBusy) || fleet.CodeOf(err) != fleet.Throttled {
		t.Fatalf("write past the bound: %v, want store.ErrBusy (Throttled)", err)
	}
	release()
	if _, err := s.GetCredential(t.Context(), "AK"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("the refused write changed the database: %v", err)
	}
	if err := s.CreateCredential(t.Context(), store.Credential{AccessKeyID: "AK", Account: "1", SecretSealed: []byte("x")}); err != nil {
		t.Errorf("write once the writer is free: %v", err)
	}
}

// TestPostgresRevisionsOfOlderWriters: a write that does not set rev, as a
// replica of the version before row revisions makes during a rolling
// upgrade, still reaches JobRobotsSince (the trigger of migration 00013).
func TestPostgresRevisionsOfOlderWriters(t *testing.T) {
	s, err := OpenPostgres(t.Context(), pgtest.NewDatabase(t), PostgresOptions{MaxConns: 4}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := t.Context()
	job, arns := deployingFixture(t, s, 3)
	_, next, err := s.JobRobotsSince(ctx, job, 0)
	if err != nil {
		t.Fatal(err)
	}
	// The older version's statements, word for word: no rev.
	if _, err := s.db.ExecContext(ctx, `UPDATE job_robots SET step = $1, percent_done = $2, eta_seconds = $3
		WHERE job_arn = $4 AND robot_arn = $5 AND status IN ($6, $7)`, "Launching", 50.0, nil, job, arns[1], fleet.RobotDeploying, fleet.RobotNoResponse); err != nil {
		t.Fatal(err)
	}
	if _, err := s.db.ExecContext(ctx, `UPDATE job_robots SET attempts = attempts + 1 WHERE job_arn = $1 AND robot_arn = $2`, job, arns[2]); err != nil {
		t.Fatal(err)
	}
	rows, _, err := s.JobRobotsSince(ctx, job, next)
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 1 || rows[0].Robot != arns[1] || rows[0].Step != "Launching" {
		t.Errorf("rows changed since = %+v, want the one an older writer changed (and not the one whose attempts alone changed)", rows)
	}
}
