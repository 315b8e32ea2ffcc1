// Package testenv starts real fleetsyncd processes for black-box tests and
// gives them real AWS SDK for Go v1 clients. It is imported only by tests.
package testenv

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go/aws"
	"github.com/aws/aws-sdk-go/aws/corehandlers"
	"github.com/aws/aws-sdk-go/aws/credentials"
	"github.com/aws/aws-sdk-go/aws/session"
	"github.com/aws/aws-sdk-go/service/robomaker"

	"github.com/fleetsync/fleetsync/internal/pgtest"
)

// EnvBackend names the variable choosing the database of test servers:
// "sqlite" (the default: a file in the server's data directory) or
// "postgres" (a fresh database per server on FLEETSYNC_TEST_PG_DSN).
const EnvBackend = "FLEETSYNC_TEST_BACKEND"

// Postgres reports whether test servers run on PostgreSQL.
func Postgres() bool { return os.Getenv(EnvBackend) == "postgres" }

// Bootstrap credential every test server starts with.
const (
	KeyID   = "AKFSTESTBOOTSTRAP001"
	Secret  = "test-secret-access-key-0123456789"
	Account = "123456789012"
	Region  = "us-east-1"
)

var (
	buildOnce sync.Once
	buildDir  string
	buildErr  error
)

// repoRoot finds the module root from this source file's location.
func repoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

// EnvBinDir names a directory of already built ./cmd binaries that Binary
// uses instead of building (a test binary's second pass, started by its
// TestMain, reuses the first pass's build).
const EnvBinDir = "FLEETSYNC_TEST_BIN_DIR"

// Binary builds ./cmd/NAME once per test process and returns its path.
func Binary(t testing.TB, name string) string {
	t.Helper()
	dir, err := BuildBinaries()
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Join(dir, name)
}

// BuildBinaries builds every ./cmd binary once per test process (or takes
// them from EnvBinDir) and returns their directory.
func BuildBinaries() (string, error) {
	buildOnce.Do(func() {
		if dir := os.Getenv(EnvBinDir); dir != "" {
			buildDir = dir
			return
		}
		sweepStaleBuilds()
		buildDir = filepath.Join(os.TempDir(), fmt.Sprintf("fleetsync-bin-%d", os.Getpid()))
		if buildErr = os.MkdirAll(buildDir, 0o755); buildErr != nil {
			return
		}
		args := []string{"build", "-o", buildDir + string(os.PathSeparator)}
		// Opt-in: the processes under test with the race detector (slower).
		if os.Getenv("FLEETSYNC_TEST_RACE_BINARIES") != "" {
			args = append(args, "-race")
		}
		cmd := exec.Command("go", append(args, "./cmd/...")...)
		cmd.Dir = repoRoot()
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	return buildDir, buildErr
}

// sweepStaleBuilds removes binary folders of test processes that have ended
// (a package's tests cannot clean up after their last test).
func sweepStaleBuilds() {
	dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), "fleetsync-bin-*"))
	for _, d := range dirs {
		var pid int
		if _, err := fmt.Sscanf(filepath.Base(d), "fleetsync-bin-%d", &pid); err != nil {
			continue
		}
		if p, err := os.FindProcess(pid); err == nil && p.Signal(syscall.Signal(0)) == nil {
			continue // still running
		}
		os.RemoveAll(d)
	}
}

// Server is a running fleetsyncd process.
type Server struct {
	URL     string
	Addr    string
	DataDir string
	// Database is the PostgreSQL URL the server runs on; "" for SQLite.
	Database string
	// BundleDir is the root of the server's file bundle store.
	BundleDir string
	// Env is the extra environment the process was started with.
	Env  []string
	Args []string
	// TLS is Options.TLS.
	TLS *TLS

	t    testing.TB
	proc *Process
	// inproc is set for a server StartInProcess built in the test process.
	inproc *inProcess
}

// Options tune a test server.
type Options struct {
	// DataDir to reuse (a restart); "" makes a fresh one.
	DataDir string
	// Env adds or overrides environment variables.
	Env []string
	// Args adds flags.
	Args []string
	// NoBootstrap starts without the bootstrap credential.
	NoBootstrap bool
	// Database is a PostgreSQL URL to run on; "" follows EnvBackend.
	Database string
	// BundleDir is the file bundle store's root; "" is <data dir>/bundles.
	BundleDir string
	// TLS, if set, serves HTTPS with this certificate (URL is https://).
	TLS *TLS
}

// Start runs fleetsyncd and waits until /readyz answers; the process is
// killed when the test ends.
func Start(t testing.TB, o Options) *Server {
	t.Helper()
	s := prepare(t, o)
	s.start()
	return s
}

// prepare is Start without starting the process.
func prepare(t testing.TB, o Options) *Server {
	t.Helper()
	if o.DataDir == "" {
		o.DataDir = t.TempDir()
	}
	if o.Database == "" && Postgres() {
		o.Database = pgtest.NewDatabase(t)
	}
	s := &Server{DataDir: o.DataDir, Database: o.Database, BundleDir: o.BundleDir, t: t, Args: o.Args, TLS: o.TLS}
	if o.TLS != nil {
		s.Args = append([]string{"--tls-cert", o.TLS.CertFile, "--tls-key", o.TLS.KeyFile}, s.Args...)
	}
	if s.BundleDir == "" {
		s.BundleDir = filepath.Join(o.DataDir, "bundles")
	} else {
		s.Args = append([]string{"--bundles", "file://" + s.BundleDir}, s.Args...)
	}
	if s.Database != "" {
		// Small pools: many servers share one PostgreSQL in a test run.
		s.Args = append([]string{"--database", s.Database, "--db-max-conns", "6"}, s.Args...)
	}
	s.Env = append([]string{"FLEETSYNC_LOG_LEVEL=debug"}, o.Env...)
	if !o.NoBootstrap {
		s.Env = append(s.Env, "FLEETSYNC_BOOTSTRAP_ACCESS_KEY_ID="+KeyID, "FLEETSYNC_BOOTSTRAP_SECRET_ACCESS_KEY="+Secret,
			"FLEETSYNC_BOOTSTRAP_ACCOUNT="+Account)
	}
	return s
}

func (s *Server) start() {
	s.t.Helper()
	if err := s.launch(); err != nil {
		s.t.Fatal(err)
	}
}

// launch starts the process (safe from any goroutine) and registers its
// kill at the end of the test.
func (s *Server) launch() error {
	t := s.t
	lo := LaunchOptions{Binary: Binary(t, "fleetsyncd"), Listen: s.Addr,
		Args: append([]string{"--data-dir", s.DataDir, "--region", Region}, s.Args...), Env: append(os.Environ(), s.Env...)}
	if s.TLS != nil {
		lo.HTTPS, lo.Probe = true, s.TLS.CA.HTTPClient(t)
	}
	// A restart keeps its address, so clients and agents find it again.
	p, err := Launch(lo)
	if err != nil {
		return err
	}
	s.proc, s.Addr, s.URL = p, p.Addr, p.URL
	t.Cleanup(func() {
		p.Kill()
		if t.Failed() {
			t.Logf("fleetsyncd stderr:\n%s", p.Stderr())
		}
	})
	return nil
}

// StartReplicas runs n fleetsyncd processes on one fresh PostgreSQL
// database (o.Database, or a new one), as replicas are deployed: each has its
// own data directory (so its own node id) holding the same master key, and
// they share one bundle directory. They start all at once, so every replica
// test also checks that replicas starting together on a fresh database
// (migrations, bootstrap credential, master-key check) all come up. It needs
// PostgreSQL (see pgtest).
func StartReplicas(t testing.TB, n int, o Options) []*Server {
	t.Helper()
	if o.Database == "" {
		o.Database = pgtest.NewDatabase(t)
	}
	if o.BundleDir == "" {
		o.BundleDir = t.TempDir()
	}
	key := make([]byte, 32)
	rand.Read(key)
	var out []*Server
	for range n {
		ro := o
		ro.DataDir = t.TempDir()
		if err := os.WriteFile(filepath.Join(ro.DataDir, "master.key"), key, 0o600); err != nil {
			t.Fatal(err)
		}
		out = append(out, prepare(t, ro))
	}
	Binary(t, "fleetsyncd") // built once, before the goroutines
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i, s := range out {
		wg.Go(func() { errs[i] = s.launch() })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("replica %d of %d started together: %v", i, n, err)
		}
	}
	if t.Failed() {
		t.FailNow()
	}
	return out
}

// DatabaseArgs are the flags that put another fleetsyncd command (such as
// `credentials`) on the server's database.
func (s *Server) DatabaseArgs() []string {
	if s.Database == "" {
		return nil
	}
	return []string{"--database", s.Database}
}

// mustProcess fails the test when s is an in-process server: what it is
// asked needs a real process.
func (s *Server) mustProcess(what string) {
	if s.inproc != nil {
		s.t.Helper()
		s.t.Fatalf("testenv: %s needs a fleetsyncd process (testenv.Start), not an in-process server", what)
	}
}

// Stdout returns what the current process printed on stdout so far.
func (s *Server) Stdout() string { s.mustProcess("Stdout"); return s.proc.Stdout() }

// Stderr returns the current process's log so far (an in-process server's log).
func (s *Server) Stderr() string {
	if s.inproc != nil {
		return s.inproc.log.String()
	}
	return s.proc.Stderr()
}

// Kill sends SIGKILL and waits for the process to end.
func (s *Server) Kill() { s.mustProcess("Kill"); s.proc.Kill() }

// Terminate sends SIGTERM and waits up to timeout for a clean exit; it
// returns the process's exit error (nil for status 0).
func (s *Server) Terminate(timeout time.Duration) error {
	s.mustProcess("Terminate")
	return s.proc.Terminate(timeout)
}

// Restart starts a new process on the same address, data directory and flags.
func (s *Server) Restart() {
	s.t.Helper()
	s.mustProcess("Restart")
	select {
	case <-s.proc.Done():
	default:
		s.t.Fatal("Restart: the previous process is still running")
	}
	s.start()
}

// Session returns an AWS SDK session for the server with a credential.
func (s *Server) Session(keyID, secret string) *session.Session {
	o := session.Options{Config: aws.Config{
		Endpoint:    aws.String(s.URL),
		Region:      aws.String(Region),
		Credentials: credentials.NewStaticCredentials(keyID, secret, ""),
		MaxRetries:  aws.Int(0),
		HTTPClient:  s.HTTPClient(),
	}}
	if s.TLS != nil {
		// The SDK's own way to trust a CA (it would otherwise apply an
		// AWS_CA_BUNDLE from the environment over the client's roots).
		pem, err := os.ReadFile(s.TLS.CA.CertFile)
		if err != nil {
			s.t.Fatal(err)
		}
		o.CustomCABundle = bytes.NewReader(pem)
	}
	return session.Must(session.NewSessionWithOptions(o))
}

// Client returns a RoboMaker client with the bootstrap credential.
func (s *Server) Client() *robomaker.RoboMaker { return s.ClientFor(KeyID, Secret) }

// ClientFor returns a RoboMaker client with the SDK's client-side parameter
// validation removed, so every constraint reaches the server and the test
// observes the server's own answer.
func (s *Server) ClientFor(keyID, secret string) *robomaker.RoboMaker {
	c := robomaker.New(s.Session(keyID, secret))
	c.Handlers.Validate.Remove(corehandlers.ValidateParametersHandler)
	return c
}

// Context returns a context bounded by the test's deadline.
func Context(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}
