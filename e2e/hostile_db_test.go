package e2e

import (
	"crypto/rand"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go/aws"
	"github.com/aws/aws-sdk-go/service/robomaker"

	"github.com/fleetsync/fleetsync/internal/testenv"
)

// realDatabase runs a real fleetsyncd on SQLite, fills it with robots,
// stops it gracefully and returns its data directory (the pristine copy).
func realDatabase(t *testing.T) (dir string, robots int) {
	t.Helper()
	if testenv.Postgres() {
		t.Skip("SQLite file integrity: the PostgreSQL run has no file")
	}
	s := testenv.Start(t, testenv.Options{Args: []string{"--rate-limit", "100000", "--rate-burst", "100000"}})
	c := quiet(s.Client())
	const n = 400
	for i := range n {
		_, err := c.CreateRobot(&robomaker.CreateRobotInput{Name: aws.String(fmt.Sprintf("robot-%03d-%s", i, strings.Repeat("x", 200))),
			Architecture: aws.String("X86_64"), GreengrassGroupId: aws.String(fmt.Sprintf("agent-%03d", i))})
		must(t, err)
	}
	must(t, s.Terminate(20*time.Second))
	return s.DataDir, n
}

// copyDataDir copies the files of a data directory (not the bundles).
func copyDataDir(t *testing.T, from string) string {
	t.Helper()
	to := t.TempDir()
	entries, err := os.ReadDir(from)
	must(t, err)
	for _, e := range entries {
		if !e.Type().IsRegular() {
			continue
		}
		b, err := os.ReadFile(filepath.Join(from, e.Name()))
		must(t, err)
		must(t, os.WriteFile(filepath.Join(to, e.Name()), b, 0o600))
	}
	return to
}

// overwriteTail writes n random bytes over the end of the file.
func overwriteTail(t *testing.T, path string, n int64) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	must(t, err)
	defer f.Close()
	fi, err := f.Stat()
	must(t, err)
	_, err = io.CopyN(io.NewOffsetWriter(f, fi.Size()-n), rand.Reader, n)
	must(t, err)
}

// TestDamagedDatabaseRefusesToStart: on copies of a real database, a
// missing, emptied, tail-overwritten or header-overwritten fleetsync.db
// next to the data directory's master.key stops fleetsyncd (and its
// credentials command) at start with a message naming the file and saying
// to restore it. Before, an empty file started silently on a fresh empty
// database, and a corrupt one started ready and answered 500 per request.
func TestDamagedDatabaseRefusesToStart(t *testing.T) {
	pristine, n := realDatabase(t)
	for _, tc := range []struct {
		name   string
		damage func(db string)
		want   string
	}{
		{"missing", func(db string) { must(t, os.Remove(db)) }, "does not exist"},
		{"emptied", func(db string) {
			must(t, os.Truncate(db, 0))
			must(t, os.WriteFile(db+"-wal", nil, 0o600)) // the WAL still there, as the issue found it
		}, "is empty"},
		{"tail overwritten", func(db string) { overwriteTail(t, db, 4096) }, "corrupt"},
		{"header overwritten", func(db string) {
			f, err := os.OpenFile(db, os.O_WRONLY, 0)
			must(t, err)
			_, err = f.WriteAt([]byte("not a database!!"), 0)
			must(t, err)
			f.Close()
		}, "not a SQLite database"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := copyDataDir(t, pristine)
			db := filepath.Join(dir, "fleetsync.db")
			tc.damage(db)
			for _, args := range [][]string{
				{"--listen", "127.0.0.1:0", "--data-dir", dir},
				{"credentials", "list", "--data-dir", dir},
			} {
				out, stderr, exit := opRunFleetsyncd(t, opBootstrapEnv(), args...)
				if exit == 0 || !strings.Contains(stderr, db) || !strings.Contains(stderr, tc.want) || !strings.Contains(stderr, "restore") {
					t.Errorf("fleetsyncd %s on a %s database: exit %d, stderr %q (stdout %q); want a refusal naming %s, %q and what to do",
						args[0], tc.name, exit, tail(stderr, 600), out, db, tc.want)
				}
			}
		})
	}
	t.Run("intact copy", func(t *testing.T) {
		s := testenv.Start(t, testenv.Options{DataDir: copyDataDir(t, pristine)})
		out, err := quiet(s.Client()).ListRobots(&robomaker.ListRobotsInput{})
		must(t, err)
		if len(out.Robots) != min(n, 200) {
			t.Errorf("ListRobots on the intact copy: %d robots, want %d", len(out.Robots), min(n, 200))
		}
	})
}

// TestReadyzReportsCorruption: a database damaged under a running server
// makes /readyz answer 503 (it used to stay ready while requests failed
// with "database disk image is malformed").
func TestReadyzReportsCorruption(t *testing.T) {
	pristine, _ := realDatabase(t)
	s := testenv.Start(t, testenv.Options{DataDir: copyDataDir(t, pristine), Args: []string{"--db-check-interval", "200ms"}})
	overwriteTail(t, filepath.Join(s.DataDir, "fleetsync.db"), 16<<10)
	probe := &http.Client{Timeout: 5 * time.Second}
	opWaitFor(t, 30*time.Second, "/readyz to answer 503 on a corrupt database", func() bool {
		resp, err := probe.Get(s.URL + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusServiceUnavailable
	})
	if resp, err := probe.Get(s.URL + "/healthz"); err != nil || resp.StatusCode != 200 {
		t.Errorf("/healthz on a corrupt database: %v %v; the process is alive", resp, err)
	}
}
