package sqlstore

import (
	"log/slog"
	"path/filepath"
	"testing"

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
