// Package testskip skips tests whose outside dependency (a PostgreSQL
// server, versitygw, Chromium, the AWS CLI, curl) is missing, and says so
// where plain `go test ./...` shows it. go test prints a passing package's
// output only with -v, so a t.Skip message alone is invisible in the quick
// inner loop: the first skip of each suite in a test binary is also written
// to the terminal (/dev/tty) when there is one, naming the suite, why it was
// skipped and the environment variable or command that enables it
// (scripts/test sets up every one of them).
package testskip

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

var (
	mu     sync.Mutex
	told   = map[string]bool{}
	tty    *os.File
	ttyErr error
	once   sync.Once
)

// Missing skips t because suite's dependency is missing (reason), telling
// how to enable it; under CI (CI set) it fails t instead, so that CI can
// never pass without the suite having run.
func Missing(t testing.TB, suite, reason, enable string) {
	t.Helper()
	if os.Getenv("CI") != "" {
		t.Fatalf("%s: %s; CI must run it (%s)", suite, reason, enable)
	}
	Skip(t, suite, reason, enable)
}

// Skip skips t, saying why and what enables it, and tells the terminal the
// first time suite is skipped in this test binary.
func Skip(t testing.TB, suite, reason, enable string) {
	t.Helper()
	msg := fmt.Sprintf("%s skipped: %s; to run: %s", suite, reason, enable)
	notice(suite, msg)
	t.Skip(msg)
}

// notice writes msg once per suite to the controlling terminal, prefixed
// with the test binary's package name. Without a terminal (CI, an editor)
// nothing is written: the t.Skip message is then in the -v and -json output.
func notice(suite, msg string) {
	mu.Lock()
	defer mu.Unlock()
	if told[suite] {
		return
	}
	told[suite] = true
	once.Do(func() { tty, ttyErr = os.OpenFile("/dev/tty", os.O_WRONLY, 0) })
	if ttyErr != nil {
		return
	}
	pkg := strings.TrimSuffix(filepath.Base(os.Args[0]), ".test")
	fmt.Fprintf(tty, "go test: %s: %s\n", pkg, msg)
}

// Notice reports a suite skipped outside any test (a TestMain's optional
// second pass): on stdout, shown with -v, and once on the terminal.
func Notice(suite, reason, enable string) {
	msg := fmt.Sprintf("%s skipped: %s; to run: %s", suite, reason, enable)
	fmt.Println("--- SKIP:", msg)
	notice(suite, msg)
}
