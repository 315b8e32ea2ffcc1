package sqlstore

import (
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

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
