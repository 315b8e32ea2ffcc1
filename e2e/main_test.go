package e2e

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/fleetsync/fleetsync/internal/pgtest"
	"github.com/fleetsync/fleetsync/internal/testenv"
	"github.com/fleetsync/fleetsync/internal/testskip"
)

// postgresSuites are the black-box suites run a second time with every test
// server on its own PostgreSQL database. The operator tests manage their own
// processes and SQLite files, the replica tests are on PostgreSQL already,
// and the agent, console and bundle tests exercise nothing the store changes.
const postgresSuites = "^(TestAPI|TestEngine|TestSync|TestCreateDeploymentJob|TestSmoke)"

// TestMain runs the package on SQLite test servers, then, when a PostgreSQL
// server is configured (FLEETSYNC_TEST_PG_DSN, set by scripts/test), runs the API
// conformance and engine suites again with every server on PostgreSQL, so
// that the one test command covers both backends. A -run pattern given on the
// command line replaces postgresSuites in that second pass. The second pass
// runs after the first, not beside it: the first pass's serial tests (a
// 500-robot failover, graceful shutdown) assert timings that a second test
// binary competing for the CPU would upset.
func TestMain(m *testing.M) {
	code := m.Run()
	if code == 0 && os.Getenv(testenv.EnvBackend) == "" && !pgtest.Available() {
		testskip.Notice("the API and engine suites' PostgreSQL pass", pgtest.EnvDSN+" is not set",
			"scripts/test (starts PostgreSQL 15 and sets it), or export "+pgtest.EnvDSN)
	}
	if code != 0 || os.Getenv(testenv.EnvBackend) != "" || !pgtest.Available() {
		os.Exit(code)
	}
	pattern := postgresSuites
	if f := flag.Lookup("test.run"); f != nil && f.Value.String() != "" {
		pattern = f.Value.String()
	}
	if f := flag.Lookup("test.list"); f != nil && f.Value.String() != "" {
		os.Exit(code) // listing, not running
	}
	args := []string{"-test.run=" + pattern}
	for _, a := range os.Args[1:] {
		if !strings.HasPrefix(a, "-test.run") && !strings.HasPrefix(a, "-test.list") {
			args = append(args, a)
		}
	}
	// The second pass runs the binaries the first one built.
	bin, err := testenv.BuildBinaries()
	if err != nil {
		fmt.Fprintf(os.Stderr, "e2e: %v\n", err)
		os.Exit(1)
	}
	fmt.Printf("=== e2e: %s again with every test server on PostgreSQL\n", pattern)
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), testenv.EnvBackend+"=postgres", testenv.EnvBinDir+"="+bin)
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	if err := cmd.Run(); err != nil {
		fmt.Fprintf(os.Stderr, "e2e on PostgreSQL: %v\n", err)
		os.Exit(1)
	}
	os.Exit(0)
}
