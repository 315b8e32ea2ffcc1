package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"io/fs"
	"log/slog"
	"path/filepath"
	"slices"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"

	"github.com/fleetsync/fleetsync/internal/fleet"
	"github.com/fleetsync/fleetsync/internal/pgtest"
	"github.com/fleetsync/fleetsync/internal/store"
)

// upgradeCase is an install as 00010 (the last before tenancy) left it, and the grants 00011 must
// give it.
type upgradeCase struct {
	name string
	// rows are inserted into the 00010 schema.
	rows []string
	want []store.BucketGrant
	// firstRuleSpent: a credential created after the upgrade gets nothing.
	firstRuleSpent bool
}

var upgradeCases = []upgradeCase{
	{name: "Fresh", want: nil},
	{name: "OneAccountKeepsEveryBucket", rows: []string{
		`INSERT INTO credentials (access_key_id, account, secret_sealed, created_ms) VALUES ('AK1', '111111111111', 'x', 1)`,
		`INSERT INTO applications (arn, account, name, created_ms, suite_name, revision_id, last_updated_ms, sources) VALUES ('app1', '111111111111', 'a', 1, 'General', 'r', 1, '[{"bucket":"b1","key":"k","architecture":"X86_64"}]')`,
		// A robot with every column set survives the rebuild of robots.
		`INSERT INTO robots (arn, account, name, architecture, agent_id, fleet_arn, status, created_ms, last_job_arn, last_job_ms, deployed_fingerprint) VALUES ('rold', '111111111111', 'old', 'ARM64', 'fsa1-old', 'fold', 'InSync', 3, 'jold', 4, 'fp1:x')`,
	}, want: []store.BucketGrant{{Account: "111111111111", Bucket: "*"}}, firstRuleSpent: true},
	{name: "SeveralAccountsKeepWhatTheyUse", rows: []string{
		`INSERT INTO credentials (access_key_id, account, secret_sealed, created_ms) VALUES ('AK1', '111111111111', 'x', 1)`,
		`INSERT INTO credentials (access_key_id, account, secret_sealed, created_ms) VALUES ('AK2', '222222222222', 'x', 2)`,
		`INSERT INTO applications (arn, account, name, created_ms, suite_name, revision_id, last_updated_ms, sources) VALUES ('app1', '111111111111', 'a', 1, 'General', 'r', 1, '[{"bucket":"b1","key":"k","architecture":"X86_64"},{"bucket":"b2","key":"k","architecture":"ARM64"}]')`,
		`INSERT INTO application_versions (app_arn, version, suite_name, revision_id, sources, created_ms) VALUES ('app1', 1, 'General', 'r', '[{"bucket":"b0","key":"k","architecture":"X86_64"}]', 1)`,
		`INSERT INTO applications (arn, account, name, created_ms, suite_name, revision_id, last_updated_ms, sources) VALUES ('app2', '222222222222', 'a', 1, 'General', 'r', 1, '[{"bucket":"b3","key":"k","architecture":"X86_64"}]')`,
		`INSERT INTO deployment_jobs (arn, account, fleet_arn, fleet_name, status, spec, fingerprint, created_ms, operation, client_token, params_hash) VALUES ('j1', '222222222222', 'f', 'f', 'Succeeded', '{"apps":[],"config":{"downloadConditionFile":{"bucket":"cond","key":"c"}}}', 'x', 1, 'CreateDeploymentJob', 't', 'h')`,
	}, want: []store.BucketGrant{
		{Account: "111111111111", Bucket: "b0"}, {Account: "111111111111", Bucket: "b1"}, {Account: "111111111111", Bucket: "b2"},
		{Account: "222222222222", Bucket: "b3"}, {Account: "222222222222", Bucket: "cond"},
	}, firstRuleSpent: true},
}

// runUpgrade applies migrations up to 00010 on db, inserts the case's rows,
// then has open apply the rest and checks the grants.
func runUpgrade(t *testing.T, d dialect, db *sql.DB, c upgradeCase, open func() *Store) {
	sub, err := fs.Sub(migrations, d.migrationsDir)
	if err != nil {
		t.Fatal(err)
	}
	p, err := goose.NewProvider(d.goose, db, sub)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.UpTo(t.Context(), 10); err != nil {
		t.Fatal(err)
	}
	for _, q := range c.rows {
		if _, err := db.ExecContext(t.Context(), q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	robotRows := func(db *sql.DB) string {
		t.Helper()
		var out string
		rows, err := db.QueryContext(t.Context(), `SELECT arn, account, name, architecture, agent_id, fleet_arn, status, created_ms, last_job_arn, last_job_ms, deployed_fingerprint FROM robots ORDER BY arn`)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		for rows.Next() {
			var v [11]string
			if err := rows.Scan(&v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &v[6], &v[7], &v[8], &v[9], &v[10]); err != nil {
				t.Fatal(err)
			}
			out += fmt.Sprint(v) + "\n"
		}
		return out
	}
	before := robotRows(db)
	db.Close()
	s := open()
	defer s.Close()
	if after := robotRows(s.db); after != before {
		t.Errorf("robots after the upgrade:\n%s\nwant\n%s", after, before)
	}
	got, err := s.ListBucketGrants(t.Context(), "")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, c.want) {
		t.Errorf("grants after the upgrade = %+v, want %+v", got, c.want)
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(s.CreateCredential(t.Context(), store.Credential{AccessKeyID: "AKNEW", Account: "999999999999", SecretSealed: []byte("x"), CreatedMs: 9}))
	ok, err := s.BucketGranted(t.Context(), "999999999999", "anything")
	must(err)
	if ok == c.firstRuleSpent {
		t.Errorf("a credential created after the upgrade: granted every bucket = %v, want %v", ok, !c.firstRuleSpent)
	}
	// Agent ids are per account after the upgrade.
	must(s.CreateRobot(context.Background(), robotWith("111111111111", "r1", "fsa2-x"), 10))
	must(s.CreateRobot(context.Background(), robotWith("222222222222", "r1", "fsa2-x"), 10))
}

func TestSQLiteUpgradeGrants(t *testing.T) {
	for _, c := range upgradeCases {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "old.db")
			db, err := sql.Open("sqlite", "file:"+path)
			if err != nil {
				t.Fatal(err)
			}
			runUpgrade(t, sqliteDialect, db, c, func() *Store {
				s, err := OpenSQLite(t.Context(), path, slog.New(slog.DiscardHandler))
				if err != nil {
					t.Fatal(err)
				}
				return s
			})
		})
	}
}

func TestPostgresUpgradeGrants(t *testing.T) {
	for _, c := range upgradeCases {
		t.Run(c.name, func(t *testing.T) {
			url := pgtest.NewDatabase(t)
			cfg, err := pgx.ParseConfig(url)
			if err != nil {
				t.Fatal(err)
			}
			runUpgrade(t, postgresDialect, stdlib.OpenDB(*cfg), c, func() *Store {
				s, err := OpenPostgres(t.Context(), url, PostgresOptions{MaxConns: 4}, slog.New(slog.DiscardHandler))
				if err != nil {
					t.Fatal(err)
				}
				return s
			})
		})
	}
}

func robotWith(account, name, agentID string) fleet.Robot {
	return fleet.Robot{ARN: fleet.ARN{Region: "us-east-1", Account: account, Type: fleet.TypeRobot, Name: name, CreatedMs: 1}.String(),
		Account: account, Name: name, Architecture: fleet.ARM64, AgentID: agentID, Status: fleet.RobotAvailable, CreatedMs: 1, Tags: fleet.Tags{}}
}
