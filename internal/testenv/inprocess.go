package testenv

import (
	"context"
	"flag"
	"io"
	"log/slog"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/fleetsync/fleetsync/internal/config"
	"github.com/fleetsync/fleetsync/internal/pgtest"
	"github.com/fleetsync/fleetsync/internal/server"
	"github.com/fleetsync/fleetsync/internal/syncbuf"
)

// inProcess is a server built in the test process (server.New) and served
// on an in-memory network.
type inProcess struct {
	ln        *memListener
	transport *http.Transport
	stop      context.CancelFunc
	done      chan error
	log       *syncbuf.Buffer
}

// StartInProcess builds the whole fleetsyncd (API, agent endpoint, console,
// engine) in the test process, as Start would run it, and serves it on an
// in-memory network: clients must use s.HTTPClient (Client and Session do).
// Call it inside a testing/synctest bubble (synctest.Test): the clock is the
// bubble's fake one, so engine ticks, timeouts and long polls take no real
// time, and everything is stopped before the bubble ends. Options.Env
// entries FLEETSYNC_<FLAG>=V are taken as --<flag> V (the process's
// environment is not changed); the server runs on PostgreSQL when the
// environment says so, with wake-ups kept in the process (it is the only
// replica).
func StartInProcess(t *testing.T, o Options) *Server {
	t.Helper()
	if o.DataDir == "" {
		o.DataDir = t.TempDir()
	}
	if o.Database == "" && Postgres() {
		o.Database = pgtest.NewDatabase(t)
	}
	s := &Server{DataDir: o.DataDir, Database: o.Database, BundleDir: o.BundleDir, t: t, Args: o.Args, Env: o.Env}
	cfg := config.Default()
	fs := flag.NewFlagSet("fleetsyncd", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	cfg.Register(fs)
	args := []string{"--data-dir", s.DataDir, "--region", Region, "--log-level", "debug"}
	if s.BundleDir == "" {
		s.BundleDir = filepath.Join(o.DataDir, "bundles")
	} else {
		args = append(args, "--bundles", "file://"+s.BundleDir)
	}
	if s.Database != "" {
		args = append(args, "--database", s.Database, "--db-max-conns", "6")
	}
	for _, e := range o.Env {
		k, v, _ := strings.Cut(e, "=")
		if name, ok := strings.CutPrefix(k, "FLEETSYNC_"); ok && fs.Lookup(strings.ToLower(strings.ReplaceAll(name, "_", "-"))) != nil {
			args = append(args, "--"+strings.ToLower(strings.ReplaceAll(name, "_", "-")), v)
		}
	}
	if err := fs.Parse(append(args, o.Args...)); err != nil {
		t.Fatal(err)
	}
	if !o.NoBootstrap {
		cfg.BootstrapKeyID, cfg.BootstrapSecret, cfg.BootstrapAccount = KeyID, Secret, Account
	}
	ip := &inProcess{ln: newMemListener(), done: make(chan error, 1), log: &syncbuf.Buffer{}}
	ip.transport = ip.ln.transport()
	log := slog.New(slog.NewTextHandler(ip.log, &slog.HandlerOptions{Level: slog.LevelDebug}))
	ctx, stop := context.WithCancel(context.Background())
	ip.stop = stop
	srv, err := server.New(ctx, cfg, server.Options{Listener: ip.ln, Stdout: io.Discard, Log: log, LocalWakeups: true})
	if err != nil {
		stop()
		t.Fatal(err)
	}
	go func() { ip.done <- srv.Serve(ctx) }()
	s.inproc, s.Addr, s.URL = ip, memAddr{}.String(), "http://"+memAddr{}.String()
	t.Cleanup(func() {
		ip.stop()
		select {
		case err := <-ip.done:
			if err != nil {
				t.Errorf("in-process fleetsyncd: Serve: %v", err)
			}
		case <-time.After(time.Minute): // the bubble's clock: no real wait
			t.Error("in-process fleetsyncd did not stop")
		}
		ip.transport.CloseIdleConnections()
		if t.Failed() {
			t.Logf("fleetsyncd log:\n%s", ip.log.String())
		}
	})
	return s
}

// HTTPClient returns an HTTP client that reaches the server: over the
// in-memory network for an in-process server, else a plain one.
func (s *Server) HTTPClient() *http.Client {
	if s.inproc != nil {
		return &http.Client{Transport: s.inproc.transport, Timeout: 60 * time.Second}
	}
	if s.TLS != nil {
		return s.TLS.CA.HTTPClient(s.t)
	}
	return &http.Client{Timeout: 60 * time.Second}
}

// InProcess reports whether the server was built in the test process.
func (s *Server) InProcess() bool { return s.inproc != nil }

// Bubble runs f in a testing/synctest bubble (synctest.Test): a fake clock
// that advances only when every goroutine of the test (in-process server,
// engine, simulated robots, the test itself) is blocked, so waits take no
// real time. A skip inside the bubble skips the test (synctest.Test alone
// would report it as passed).
func Bubble(t *testing.T, f func(t *testing.T)) {
	t.Helper()
	var skipped bool
	synctest.Test(t, func(t *testing.T) {
		defer func() { skipped = t.Skipped() }()
		f(t)
	})
	if skipped {
		t.SkipNow()
	}
}
