// Package pgtest gives tests a fresh PostgreSQL database on the server named
// by FLEETSYNC_TEST_PG_DSN (scripts/test starts one and sets it). Without it the
// test is skipped locally and fails under CI=true, so CI can never pass
// without PostgreSQL having been exercised.
package pgtest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"os"
	"testing"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" database/sql driver

	"github.com/fleetsync/fleetsync/internal/testskip"
)

// EnvDSN names the variable holding an admin connection URL.
const EnvDSN = "FLEETSYNC_TEST_PG_DSN"

// Available reports whether a PostgreSQL server is configured.
func Available() bool { return os.Getenv(EnvDSN) != "" }

// Require skips (or, under CI, fails) a test when PostgreSQL is not configured.
func Require(t testing.TB) string {
	t.Helper()
	dsn := os.Getenv(EnvDSN)
	if dsn == "" {
		testskip.Missing(t, "PostgreSQL tests", EnvDSN+" is not set",
			"scripts/test (starts PostgreSQL 15 and sets it), or start one and export "+EnvDSN+"=postgres://USER:PASSWORD@HOST:5432/postgres?sslmode=disable")
	}
	return dsn
}

// NewDatabase creates an empty database for one test and returns its URL;
// it is dropped when the test ends.
func NewDatabase(t testing.TB) string {
	t.Helper()
	admin := Require(t)
	b := make([]byte, 6)
	rand.Read(b)
	name := "fleetsync_test_" + hex.EncodeToString(b)
	db, err := sql.Open("pgx", admin)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := db.ExecContext(ctx, "CREATE DATABASE "+name); err != nil {
		db.Close()
		t.Fatalf("create test database: %v", err)
	}
	t.Cleanup(func() {
		db.ExecContext(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
		db.Close()
	})
	u, err := url.Parse(admin)
	if err != nil {
		t.Fatal(err)
	}
	u.Path = "/" + name
	return u.String()
}
