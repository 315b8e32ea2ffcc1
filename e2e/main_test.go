package e2e

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/fleetsync/fleetsync/internal/pgtest"
	"github.com/fleetsync/fleetsync/internal/testenv"
)

// postgresSuites are the black-box suites run a second time with every test
// server on its own PostgreSQL database. The operator tests manage their own
// processes and SQLite files, the replica tests are on PostgreSQL already,
// and the agent, console and bundle tests exercise nothing the store changes.
const postgresSuites = "^(TestAPI|TestEngine|TestSync|TestCreateDeploymentJob|TestSmoke)"

// TestMain runs the package on SQLite test servers and, when a PostgreSQL
// server is configured (FLEETSYNC_TEST_PG_DSN, set by scripts/test), the API
// conformance and engine suites again with every server on PostgreSQL, so
// that the one test command covers both backends. The PostgreSQL pass is a
// second run of this test binary started at the same time as the first (the
// two overlap their waits); its output is held and printed after the first
// pass's, so that the two never interleave. A -run pattern given on the
// command line replaces postgresSuites in that pass.
func TestMain(m *testing.M) {
	flag.Parse()
	pg := postgresPass()
	code := m.Run()
	if pg != nil {
		err := pg.cmd.Wait()
		os.Stdout.Write(pg.out.Bytes())
		if err != nil {
			fmt.Fprintf(os.Stderr, "e2e on PostgreSQL: %v\n", err)
			code = 1
		}
	}
	os.Exit(code)
}

// pgPass is the PostgreSQL pass running beside this one.
type pgPass struct {
	cmd *exec.Cmd
	out bytes.Buffer
}

// postgresPass starts the PostgreSQL pass, or returns nil when this run is
// that pass already, when no PostgreSQL is configured, or when only listing.
func postgresPass() *pgPass {
	if os.Getenv(testenv.EnvBackend) != "" || !pgtest.Available() {
		return nil
	}
	if f := flag.Lookup("test.list"); f != nil && f.Value.String() != "" {
		return nil // listing, not running
	}
	pattern := postgresSuites
	if f := flag.Lookup("test.run"); f != nil && f.Value.String() != "" {
		pattern = f.Value.String()
	}
	args := []string{"-test.run=" + pattern}
	for _, a := range os.Args[1:] {
		if !strings.HasPrefix(a, "-test.run") && !strings.HasPrefix(a, "-test.list") {
			args = append(args, a)
		}
	}
	// Both passes run the same fleetsyncd and agent binaries, built once.
	bin, err := testenv.BuildBinaries()
	if err != nil {
		fmt.Fprintf(os.Stderr, "e2e: %v\n", err)
		os.Exit(1)
	}
	p := &pgPass{cmd: exec.Command(os.Args[0], args...)}
	p.cmd.Env = append(os.Environ(), testenv.EnvBackend+"=postgres", testenv.EnvBinDir+"="+bin)
	fmt.Fprintf(&p.out, "=== e2e: %s again with every test server on PostgreSQL\n", pattern)
	p.cmd.Stdout, p.cmd.Stderr = &p.out, &p.out
	if err := p.cmd.Start(); err != nil {
		fmt.Fprintf(os.Stderr, "e2e on PostgreSQL: %v\n", err)
		os.Exit(1)
	}
	return p
}
