package sqlstore

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"io/fs"
	"log/slog"
	"path/filepath"
	"testing"

	"github.com/pressly/goose/v3"

	"github.com/fleetsync/fleetsync/internal/fleet"
	"github.com/fleetsync/fleetsync/internal/pgtest"
)

// TestFingerprintMigrationSQLite and …Postgres: a database written by a
// release before versioned fingerprints (schema version 3, bare-hex
// fingerprints of json.Marshal of the applications) is upgraded; a robot
// that was InSync with its fleet's deployment stays out of the next Sync's
// targets, and a robot that ran something else stays in them.
func TestFingerprintMigrationSQLite(t *testing.T) {
	path := filepath.Join(t.TempDir(), "old.db")
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	testFingerprintMigration(t, db, sqliteDialect, func(ctx context.Context) (*Store, error) {
		return OpenSQLite(ctx, path, slog.New(slog.DiscardHandler))
	})
}

func TestFingerprintMigrationPostgres(t *testing.T) {
	url := pgtest.NewDatabase(t)
	db, err := sql.Open("pgx", url)
	if err != nil {
		t.Fatal(err)
	}
	testFingerprintMigration(t, db, postgresDialect, func(ctx context.Context) (*Store, error) {
		return OpenPostgres(ctx, url, PostgresOptions{MaxConns: 2}, slog.New(slog.DiscardHandler))
	})
}

func testFingerprintMigration(t *testing.T, db *sql.DB, d dialect, open func(context.Context) (*Store, error)) {
	ctx := t.Context()
	defer db.Close()
	sub, err := fs.Sub(migrations, d.migrationsDir)
	if err != nil {
		t.Fatal(err)
	}
	p, err := goose.NewProvider(d.goose, db, sub)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.UpTo(ctx, 3); err != nil {
		t.Fatal(err)
	}
	spec := fleet.JobSpec{Apps: []fleet.AppConfig{{Application: "arn:aws:robomaker:us-east-1:123456789012:robot-application/app/1", ApplicationVersion: "3",
		LaunchConfig: fleet.LaunchConfig{PackageName: "app", LaunchFile: "run.sh", EnvironmentVariables: map[string]string{"A": "<1>"}}}}}
	other := fleet.JobSpec{Apps: []fleet.AppConfig{{Application: spec.Apps[0].Application, ApplicationVersion: "2",
		LaunchConfig: spec.Apps[0].LaunchConfig}}}
	// The fingerprint as releases before fp1 computed and stored it.
	legacy := func(s fleet.JobSpec) string {
		b, _ := json.Marshal(s.Apps)
		sum := sha256.Sum256(b)
		return hex.EncodeToString(sum[:16])
	}
	specJSON, _ := json.Marshal(spec)
	const fleetARN = "arn:aws:robomaker:us-east-1:123456789012:deployment-fleet/f/1"
	exec := func(q string, args ...any) {
		t.Helper()
		if _, err := db.ExecContext(ctx, q, args...); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	exec(`INSERT INTO fleets (arn, account, name, created_ms) VALUES ($1, '123456789012', 'f', 1)`, fleetARN)
	exec(`INSERT INTO deployment_jobs (arn, account, fleet_arn, fleet_name, status, spec, fingerprint, created_ms, operation, client_token, params_hash)
		VALUES ('arn:job', '123456789012', $1, 'f', 'Succeeded', $2, $3, 2, 'CreateDeploymentJob', 't', 'h')`, fleetARN, string(specJSON), legacy(spec))
	for i, fp := range []string{legacy(spec), legacy(other)} {
		exec(`INSERT INTO robots (arn, account, name, architecture, agent_id, fleet_arn, status, created_ms, last_job_arn, deployed_fingerprint)
			VALUES ($1, '123456789012', $2, 'X86_64', $3, $4, 'InSync', 3, 'arn:job', $5)`,
			"arn:robot/"+string(rune('a'+i)), "r"+string(rune('a'+i)), "agent-"+string(rune('a'+i)), fleetARN, fp)
	}
	db.Close()

	s, err := open(ctx) // applies 00004
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	targets, err := s.SyncTargets(ctx, "123456789012", fleetARN, spec.Fingerprint())
	if err != nil {
		t.Fatal(err)
	}
	if len(targets) != 1 || targets[0].ARN != "arn:robot/b" {
		t.Errorf("Sync targets after the upgrade = %+v, want only arn:robot/b (the robot InSync with the spec must not be redeployed)", targets)
	}
	var jobFP string
	if err := s.db.QueryRowContext(ctx, `SELECT fingerprint FROM deployment_jobs WHERE arn = 'arn:job'`).Scan(&jobFP); err != nil {
		t.Fatal(err)
	}
	if jobFP != spec.Fingerprint() {
		t.Errorf("stored job fingerprint %q, want %q", jobFP, spec.Fingerprint())
	}
}
