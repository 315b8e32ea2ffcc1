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

func TestImportBoundaries(t *testing.T) {
	rules := []struct {
		pkg       string
		forbidden []string
	}{
		{"internal/fleet", []string{"net/http", "database/sql", module + "/internal/store"}},
		{"internal/registry", []string{"net/http", "database/sql", module + "/internal/store/sqlstore", module + "/internal/awsapi"}},
		{"internal/awsapi", []string{"database/sql", module + "/internal/store/sqlstore", "modernc.org/sqlite"}},
		{"internal/store", []string{"net/http", "database/sql"}},
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
