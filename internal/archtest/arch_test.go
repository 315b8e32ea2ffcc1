// Package archtest checks the import boundaries DEVELOPERS.md sets: the
// domain never imports transport or SQL drivers, the wire layer never
// imports storage implementations, and the agent imports no server code.
package archtest

import (
	"os/exec"
	"strings"
	"testing"
)

const module = "github.com/fleetsync/fleetsync"

// deps lists every package pkg depends on, transitively.
func deps(t *testing.T, pkg string) []string {
	t.Helper()
	out, err := exec.Command("go", "list", "-deps", module+"/"+pkg).Output()
	if err != nil {
		t.Fatalf("go list -deps %s: %v", pkg, err)
	}
	return strings.Fields(string(out))
}

// imports lists the packages pkg's own (non-test) files import.
func imports(t *testing.T, pkg string) []string {
	t.Helper()
	out, err := exec.Command("go", "list", "-f", `{{join .Imports "\n"}}`, module+"/"+pkg).Output()
	if err != nil {
		t.Fatalf("go list -f {{.Imports}} %s: %v", pkg, err)
	}
	return strings.Fields(string(out))
}

// TestStoreBehindTheDomain keeps the persistence contract out of the wire
// layer, the console and the agent endpoint: they speak to the domain
// services (registry, deploy), which alone declare what they need of the
// store. (They reach the store package transitively, through the domain's
// consumer interfaces; they may not name it.)
func TestStoreBehindTheDomain(t *testing.T) {
	for _, pkg := range []string{"internal/awsapi", "internal/console", "internal/agentapi"} {
		t.Run(strings.ReplaceAll(pkg, "/", "_"), func(t *testing.T) {
			for _, d := range imports(t, pkg) {
				if d == module+"/internal/store" || strings.HasPrefix(d, module+"/internal/store/") {
					t.Errorf("%s imports %s; go through the domain (internal/deploy, internal/registry) instead", pkg, d)
				}
			}
		})
	}
}

// serverSide is what agent-side packages must never depend on.
var serverSide = []string{
	module + "/internal/fleet", module + "/internal/store", module + "/internal/registry", module + "/internal/deploy",
	module + "/internal/awsapi", module + "/internal/agentapi", module + "/internal/server", module + "/internal/credential",
	module + "/internal/blob", "database/sql", "github.com/aws/aws-sdk-go", "github.com/aws/aws-sdk-go-v2",
	"modernc.org/sqlite", "github.com/jackc/pgx/v5",
}

func TestImportBoundaries(t *testing.T) {
	rules := []struct {
		pkg       string
		forbidden []string
	}{
		{"internal/fleet", []string{"net/http", "database/sql", module + "/internal/store"}},
		{"internal/registry", []string{"net/http", "database/sql", module + "/internal/store/sqlstore", module + "/internal/awsapi"}},
		{"internal/awsapi", []string{"database/sql", module + "/internal/store/sqlstore", "modernc.org/sqlite"}},
		{"internal/store", []string{"net/http", "database/sql"}},
		{"internal/deploy", []string{"net/http", "database/sql", "github.com/jackc/pgx/v5", "modernc.org/sqlite", module + "/internal/store/sqlstore", module + "/internal/proto", module + "/internal/agentapi"}},
		// Bucket grants are a domain rule over the blob and store contracts.
		{"internal/tenancy", []string{"net/http", "database/sql", module + "/internal/store/sqlstore", module + "/internal/blob/fsblob", module + "/internal/blob/s3blob"}},
		// Wake-ups between replicas are wired in the composition root; the
		// agent endpoint sees only its Hub and the domain (deploy.Robots).
		{"internal/agentapi", []string{"database/sql", "github.com/jackc/pgx/v5", module + "/internal/store/sqlstore", module + "/internal/pgbus"}},
		// The bus carries typed wake-ups and knows nothing of the domain.
		{"internal/pgbus", []string{module + "/internal/deploy", module + "/internal/store", module + "/internal/agentapi"}},
		// The console and metrics go through the domain and store contracts.
		{"internal/console", []string{"database/sql", module + "/internal/store/sqlstore", module + "/internal/awsapi"}},
		// (prometheus/collectors links database/sql for its DB stats collector.)
		{"internal/metrics", []string{module + "/internal/store/sqlstore", module + "/internal/deploy", module + "/internal/store"}},
		// The blob contract is what the domain sees of object storage: no
		// transport, no SDK, no implementation (those live in blob/fsblob and
		// blob/s3blob).
		{"internal/blob", []string{"net/http", "os", "github.com/aws", module + "/internal/blob/s3blob", module + "/internal/blob/fsblob"}},
		{"internal/blob/fsblob", []string{"net/http", "github.com/aws"}},
		// The agent side imports no server code.
		{"internal/proto", []string{module + "/internal/fleet", module + "/internal/store", "database/sql"}},
		{"internal/agent/client", serverSide},
		{"internal/agent/bundle", serverSide},
		{"internal/agent/launch", serverSide},
		{"internal/agent/state", serverSide},
		{"internal/agent/runner", serverSide},
		{"cmd/fleetsync-agent", serverSide},
		{"internal/sim", serverSide},
	}
	for _, r := range rules {
		t.Run(strings.ReplaceAll(r.pkg, "/", "_"), func(t *testing.T) {
			for _, d := range deps(t, r.pkg) {
				for _, f := range r.forbidden {
					if d == f || strings.HasPrefix(d, f+"/") {
						t.Errorf("%s depends on %s", r.pkg, d)
					}
				}
			}
		})
	}
}
