// Package server is fleetsyncd's composition root: it opens the store, the
// bundle store and the keyring, bootstraps credentials, builds the API and
// serves HTTP until its context ends, then drains in-flight requests.
package server

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"github.com/fleetsync/fleetsync/internal/store"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"time"

	"github.com/fleetsync/fleetsync/internal/agentapi"
	"github.com/fleetsync/fleetsync/internal/authguard"
	"github.com/fleetsync/fleetsync/internal/awsapi"
	"github.com/fleetsync/fleetsync/internal/blob"
	"github.com/fleetsync/fleetsync/internal/blob/fsblob"
	"github.com/fleetsync/fleetsync/internal/blob/s3blob"
	"github.com/fleetsync/fleetsync/internal/config"
	"github.com/fleetsync/fleetsync/internal/console"
	"github.com/fleetsync/fleetsync/internal/credential"
	"github.com/fleetsync/fleetsync/internal/deploy"
	"github.com/fleetsync/fleetsync/internal/fleet"
	"github.com/fleetsync/fleetsync/internal/metrics"
	"github.com/fleetsync/fleetsync/internal/pgbus"
	"github.com/fleetsync/fleetsync/internal/registry"
	"github.com/fleetsync/fleetsync/internal/store/sqlstore"
	"github.com/fleetsync/fleetsync/internal/tenancy"
)

// Deps are the opened resources a server runs on.
type Deps struct {
	Store       *sqlstore.Store
	Keys        *credential.Keyring
	Credentials *credential.Service
	// NodeID names this replica in job leases; kept in the data directory
	// so a restarted process resumes its own jobs at once.
	NodeID string
}

// loadNodeID reads <data-dir>/node.id, creating a random one on first start.
func loadNodeID(dataDir string) (string, error) {
	path := filepath.Join(dataDir, "node.id")
	b, err := os.ReadFile(path)
	if err == nil && len(bytes.TrimSpace(b)) > 0 {
		return string(bytes.TrimSpace(b)), nil
	}
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return "", err
	}
	raw := make([]byte, 8)
	rand.Read(raw)
	id := hex.EncodeToString(raw)
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(id+"\n"), 0o600); err != nil {
		return "", err
	}
	return id, os.Rename(tmp, path)
}

// Open opens the data directory's keyring and the database.
func Open(ctx context.Context, cfg config.Config, log *slog.Logger) (*Deps, error) {
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("data dir: %w", err)
	}
	// Looked at before LoadKeyring creates the key on a first start.
	setUp := databaseSetUp(cfg)
	keys, err := credential.LoadKeyring(cfg.DataDir)
	if err != nil {
		return nil, err
	}
	var st *sqlstore.Store
	if cfg.Postgres() {
		st, err = sqlstore.OpenPostgres(ctx, cfg.Database, sqlstore.PostgresOptions{MaxConns: cfg.DBMaxConns, StatementTimeout: cfg.DBStatementTimeout}, log)
	} else {
		var path string
		if path, err = cfg.SQLitePath(); err != nil {
			return nil, err
		}
		st, err = sqlstore.OpenSQLiteWith(ctx, path, sqlstore.SQLiteOptions{MustExist: setUp(path), CheckEvery: cfg.Limits.DBCheckInterval}, log)
	}
	if err != nil {
		return nil, err
	}
	// Replicas must share the master key (secrets sealed by one are opened
	// by another): the first process on a database records a check of it.
	check := hex.EncodeToString(keys.Derive("master-key-check")[:8])
	if stored, err := st.EnsureSetting(ctx, "master-key-check", check); err != nil {
		st.Close()
		return nil, err
	} else if stored != check {
		st.Close()
		return nil, fmt.Errorf("%s/master.key is not the master key this database was set up with: every replica needs the same master.key (copy it from another replica's data directory)", cfg.DataDir)
	}
	nodeID, err := loadNodeID(cfg.DataDir)
	if err != nil {
		st.Close()
		return nil, err
	}
	return &Deps{Store: st, Keys: keys, Credentials: &credential.Service{Store: st, Keys: keys}, NodeID: nodeID}, nil
}

// Bootstrap creates the configured bootstrap credential if absent; with no
// credential at all, it creates one and prints it once to out.
func Bootstrap(ctx context.Context, cfg config.Config, d *Deps, out io.Writer, log *slog.Logger) error {
	if cfg.BootstrapKeyID != "" {
		created, err := d.Credentials.Ensure(ctx, cfg.BootstrapKeyID, cfg.BootstrapSecret, cfg.BootstrapAccount)
		if err != nil {
			return fmt.Errorf("bootstrap credential: %w", err)
		}
		if created {
			log.Info("bootstrap credential created", "access_key_id", cfg.BootstrapKeyID, "account", cfg.BootstrapAccount)
		}
		return nil
	}
	existing, err := d.Credentials.List(ctx)
	if err != nil {
		return err
	}
	if len(existing) > 0 {
		return nil
	}
	keyID, secret, err := d.Credentials.Create(ctx, cfg.BootstrapAccount)
	if err != nil {
		return err
	}
	log.Info("first start: credential created and printed once on stdout", "access_key_id", keyID, "account", cfg.BootstrapAccount)
	fmt.Fprintf(out, "# fleetsync credential for account %s (shown once; keep it):\nexport AWS_ACCESS_KEY_ID=%s AWS_SECRET_ACCESS_KEY=%s\n", cfg.BootstrapAccount, keyID, secret)
	return nil
}

// openBundles opens the bundle store --bundles names, and its presigner when
// robots are to download from the store directly.
func openBundles(ctx context.Context, cfg config.Config, log *slog.Logger) (blob.Store, blob.Presigner, func(), error) {
	dir, file, err := cfg.BundleDir()
	if err != nil {
		return nil, nil, nil, err
	}
	if file {
		fs, err := fsblob.OpenFileStore(dir)
		if err != nil {
			return nil, nil, nil, err
		}
		log.Info("bundle store", "kind", "file", "dir", dir)
		return fs, nil, func() { fs.Close() }, nil
	}
	o, err := cfg.BundleS3()
	if err != nil {
		return nil, nil, nil, err
	}
	st, err := s3blob.New(ctx, o)
	if err != nil {
		return nil, nil, nil, err
	}
	checkCtx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	missing, err := st.Check(checkCtx)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("--bundles %q: the S3 store does not answer: %w", cfg.Bundles, err)
	}
	if len(missing) > 0 {
		log.Warn("configured bundle buckets do not exist (yet)", "buckets", missing)
	}
	log.Info("bundle store", "kind", "s3", "endpoint", o.Endpoint, "buckets", o.Buckets, "presign", st.Presigns())
	if st.Presigns() {
		return st, st, func() {}, nil
	}
	return st, nil, func() {}, nil
}

// presenceFlush is how often agent liveness reaches the database: a poll
// interval, at most 5 s, well inside the 3-interval silence that makes a
// robot NoResponse.
func presenceFlush(poll time.Duration) time.Duration {
	return min(poll, 5*time.Second)
}

// Options are what an embedding caller supplies beyond the configuration:
// fleetsyncd's main passes none of them; a test process builds the whole
// server with its own listener and clock.
type Options struct {
	// Now is every component's clock; nil means time.Now.
	Now func() time.Time
	// Listener is served on; nil listens on cfg.Listen (port 0 picks one:
	// read it back with Addr).
	Listener net.Listener
	// Stdout receives the first-start credential; nil means os.Stdout.
	Stdout io.Writer
	// Log is the server's logger; nil discards.
	Log *slog.Logger
	// Reload delivers the process's SIGHUPs (fleetsyncd's main subscribes
	// to them): each re-reads the TLS certificate at once. nil reloads on
	// the periodic file check only; the server never installs signal
	// handlers itself, so an in-process test server (in a synctest bubble)
	// does not touch the process's signals.
	Reload <-chan os.Signal
	// LocalWakeups keeps wake-ups inside the process even on PostgreSQL:
	// for a server that is known to be the only replica (an in-process test
	// server, whose pgbus LISTEN connection would never let a synctest
	// bubble go idle).
	LocalWakeups bool
}

// Server is a fleetsyncd built and ready to serve: its store, bundle store,
// HTTP handler, listener and background loops.
type Server struct {
	cfg     config.Config
	log     *slog.Logger
	deps    *Deps
	handler http.Handler
	srv     *http.Server
	ln      net.Listener
	// tls is the HTTPS configuration (certificate reloader); nil serves
	// plain HTTP.
	tls *tls.Config
	// background are the engine, auto-sync, presence and bus loops, run by
	// Serve until it returns.
	background []func(context.Context)
	// closers release what New opened, last opened first.
	closers []func()
}

// Run builds the server and serves until ctx ends (see New and Serve).
func Run(ctx context.Context, cfg config.Config, stdout io.Writer, log *slog.Logger) error {
	s, err := New(ctx, cfg, Options{Stdout: stdout, Log: log})
	if err != nil {
		return err
	}
	return s.Serve(ctx)
}

// New opens everything the configuration names, bootstraps credentials and
// builds the API, agent endpoint, console and engine, and listens; nothing
// is served until Serve. On error, whatever was opened is closed again.
func New(ctx context.Context, cfg config.Config, o Options) (_ *Server, err error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	log := o.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	stdout := o.Stdout
	if stdout == nil {
		stdout = os.Stdout
	}
	s := &Server{cfg: cfg, log: log}
	defer func() {
		if err != nil {
			s.close()
		}
	}()
	d, err := Open(ctx, cfg, log)
	if err != nil {
		return nil, err
	}
	s.deps = d
	s.closers = append(s.closers, func() { d.Store.Close() })
	if err := Bootstrap(ctx, cfg, d, stdout, log); err != nil {
		return nil, err
	}
	bundles, presign, closeBundles, err := openBundles(ctx, cfg, log)
	if err != nil {
		return nil, err
	}
	s.closers = append(s.closers, closeBundles)

	mets := metrics.New(d.Store, log.With("component", "metrics"))
	versions := &agentVersions{}
	opsMetrics(mets, versions)
	if !cfg.Postgres() {
		mets.WriteCommits(d.Store.WriteCommits)
	}
	// Every bucket and object is reached through the bucket grants.
	granted := &tenancy.Bundles{Store: bundles, Grants: d.Store}
	reg := &registry.Service{Store: d.Store, Bundles: granted, Region: cfg.Region, Limits: registryLimits(cfg)}
	forget := deploy.Forgetters{}
	hub := &agentapi.Hub{}
	mets.HeldPolls(hub.Held)
	maxWait := cfg.AgentMaxWait
	silence := 3*cfg.AgentPollInterval + maxWait
	// The stored stamps the other replicas' engines judge silence by are at
	// most a tenth of the limit (6 s at the defaults: a robot heard all
	// along is written at every other 5 s flush) and a flush behind: a
	// robot they fail was silent for 49 s at least, longer than the long
	// poll (30 s) a deploying agent renews. A robot waiting here is
	// stamped again once its stored stamp is a third of the limit old.
	presence := &deploy.Presence{WriteEveryMs: (silence / 10).Milliseconds(), KeepAliveMs: (silence / 3).Milliseconds(), Now: o.Now}
	engine := &deploy.Engine{
		Store: d.Store, Bundles: granted, Presence: presence,
		Limits: deploy.Limits{FleetTimeoutMs: cfg.FleetTimeout.Milliseconds(), AgentSilenceMs: silence.Milliseconds()},
		Tick:   cfg.EngineTick, LeaseTTL: cfg.JobLeaseTTL, Retention: cfg.JobRetention,
		Log: log.With("component", "engine"), Owner: d.NodeID, OnTick: mets.ObserveTick,
	}
	// Wake-ups stay in this process on SQLite (one replica); on PostgreSQL
	// they also reach the other replicas.
	hub.Engine = engine
	var wake deploy.Waker = hub
	var nonces agentapi.Nonces
	var bus *pgbus.Bus
	if cfg.Postgres() && !o.LocalWakeups {
		if bus, err = pgbus.New(cfg.Database, d.NodeID, log.With("component", "pgbus")); err != nil {
			return nil, err
		}
		wake = deploy.Wakers{hub, bus}
		forget = append(forget, bus)
	}
	if cfg.Postgres() {
		nonces = &agentapi.StoreNonces{Store: d.Store, Log: log.With("component", "agentapi")}
	}
	engine.Wake = wake
	jobs := &deploy.Service{Store: d.Store, Region: cfg.Region, MaxActiveJobs: cfg.MaxActiveJobs, Wake: wake,
		Log: log.With("component", "deploy"), Bundles: granted, Limits: engine.Limits}
	autoSync := &deploy.AutoSync{Jobs: jobs, Tick: cfg.EngineTick, Log: log.With("component", "autosync"),
		OnStart: func(fleet.Job) { mets.AutoSyncStarted() }}
	robots := &deploy.Robots{Store: d.Store, Bundles: granted, Presence: presence, Wake: wake, Log: log.With("component", "robots"),
		OnHealthGate: mets.Controls(storeControls{d.Store}, log.With("component", "metrics")), Retry: d.Store, Policy: retryPolicy(cfg.Rollout),
		OnRetry: mets.RobotRetried, OnQuarantine: mets.RobotQuarantined, Cache: d.Store}
	// The identity cache first: the hub's woken polls then look it up.
	reg.Forget = append(forget, robots, hub)
	// One set of failed-authentication budgets for every door.
	authGuard := authguard.New(authguard.DefaultLimits(), o.Now)
	// Parked polls' connections come back to the listener (limits.go).
	back := newReturnedConns()
	agents := agentapi.New(agentapi.Config{
		Robots: robots, Bundles: granted, Presign: presign, Hub: hub, Nonces: nonces,
		RatePerSecond: cfg.Limits.AgentRatePerSecond, Burst: cfg.Limits.AgentBurst,
		URLKey: d.Keys.Derive("bundle-url"), URLTTL: cfg.BundleURLTTL, PollInterval: cfg.AgentPollInterval, MaxWait: maxWait, IdleWait: cfg.AgentIdleWait,
		Log: log.With("component", "agentapi"), Guard: authGuard, GiveBack: back.give,
		Now: o.Now,
	})
	// Robots start as fast as this process serves their agents.
	engine.AgentBacklog = agents.Backlog
	evidence := &deploy.Evidence{Store: d.Store, Wake: wake}
	api := awsapi.New(awsapi.Config{
		Registry: reg, Deploy: jobs, Evidence: evidence, Credentials: d.Credentials.Lookup, Region: cfg.Region,
		TokenKey: d.Keys.Derive("pagination-token"), RatePerSecond: cfg.RatePerSecond, Burst: cfg.Burst,
		Logger: log.With("component", "awsapi"), Observe: mets.ObserveAPI, Guard: authGuard,
		Now: o.Now,
	})
	// One clock for every component (the constructors above default theirs).
	reg.Now, engine.Now, jobs.Now, robots.Now, d.Credentials.Now = o.Now, o.Now, o.Now, o.Now, o.Now

	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok\n") })
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		if err := d.Store.Ready(ctx); err != nil {
			log.Warn("not ready", "error", err)
			http.Error(w, "database unreachable or damaged", http.StatusServiceUnavailable)
			return
		}
		io.WriteString(w, "ready\n")
	})
	mux.Handle("GET /metrics", mets.Handler())
	cons := console.New(console.Config{
		Registry: reg, Deploy: jobs, Reports: &deploy.Reports{Store: d.Store}, Credentials: d.Credentials.Lookup,
		Sessions: &credential.Sessions{Store: d.Store, Log: log.With("component", "console"), Now: o.Now}, Presence: presence,
		Evidence: evidence, AgentVersion: versions.Version, Key: d.Keys.Derive("console-session"), Log: log.With("component", "console"), Guard: authGuard,
		MaxStreamsPerSession: cfg.Limits.MaxStreamsPerSession,
		Now:                  o.Now,
	})
	mux.Handle("/console/", cons)
	mux.Handle("GET /console", http.RedirectHandler("/console/", http.StatusSeeOther))
	mux.Handle("/agent/", mets.Agents(agents))
	mux.Handle("/", console.RootRedirect(api))
	if s.handler, err = opsHandler(cfg, log, versions, mux); err != nil {
		return nil, err
	}
	// The protocols (HTTP/1.1, h2c or h2 over TLS) are set by serve (ops.go).
	s.srv = &http.Server{Handler: s.handler}
	s.srv.RegisterOnShutdown(cons.Close)
	// Parked polls' connections are the hub's, not the server's: closed
	// with it.
	s.srv.RegisterOnShutdown(hub.CloseParked)
	// The certificate watcher lives as long as the server (until close).
	tlsCtx, stopTLS := context.WithCancel(context.Background())
	s.closers = append(s.closers, stopTLS)
	if s.tls, err = setupTLS(tlsCtx, cfg.TLSCert, cfg.TLSKey, cfg.TLSReloadInterval, o.Reload, log); err != nil {
		return nil, err
	}
	s.tls = serverTLS(s.tls)

	s.background = append(s.background,
		engine.Run,
		autoSync.Run,
		func(ctx context.Context) {
			presence.Run(ctx, d.Store, presenceFlush(cfg.AgentPollInterval), log.With("component", "presence"))
		})
	if bus != nil {
		s.background = append(s.background, func(ctx context.Context) { bus.Run(ctx, busLocal{hub, robots}, nil) })
	}

	s.ln = o.Listener
	if s.ln == nil {
		if s.ln, err = net.Listen("tcp", cfg.Listen); err != nil {
			return nil, err
		}
	}
	s.closers = append(s.closers, func() { s.ln.Close() })
	// TLS is made in the listener, beneath where parked polls' connections
	// come back (served again as they are: their handshake is done).
	s.ln = guard(s.srv, s.ln, cfg.Limits, back, s.tls, log) // timeouts, size and connection limits (limits.go)
	return s, nil
}

// Addr is the address the server listens on (the port chosen, for :0).
func (s *Server) Addr() net.Addr { return s.ln.Addr() }

// Handler is the server's whole HTTP surface (API, agent endpoint, console,
// health and metrics), for callers that serve it themselves.
func (s *Server) Handler() http.Handler { return s.handler }

// close releases what New opened, last opened first.
func (s *Server) close() {
	for i := len(s.closers) - 1; i >= 0; i-- {
		s.closers[i]()
	}
	s.closers = nil
}

// Serve runs the background loops and serves HTTP until ctx ends, then
// shuts down gracefully: the listener closes, in-flight requests get up to
// 30 seconds to finish, the loops stop and the stores close.
func (s *Server) Serve(ctx context.Context) error {
	defer s.close()
	cfg, log := s.cfg, s.log
	if cfg.DebugListen != "" {
		dbg := http.NewServeMux()
		dbg.HandleFunc("/debug/pprof/", pprof.Index)
		dbg.HandleFunc("/debug/pprof/profile", pprof.Profile)
		dbg.HandleFunc("/debug/pprof/trace", pprof.Trace)
		// The goroutine count alone, for a benchmark to sample often: a
		// goroutine profile or a /metrics scrape costs far more at 100,000
		// robots.
		dbg.HandleFunc("/debug/goroutines", func(w http.ResponseWriter, _ *http.Request) {
			fmt.Fprintln(w, runtime.NumGoroutine())
		})
		go func() {
			if err := http.ListenAndServe(cfg.DebugListen, dbg); err != nil {
				log.Error("debug listener failed", "error", err)
			}
		}()
	}
	log.Info("fleetsyncd listening", "addr", s.ln.Addr().String(), "tls", s.tls != nil, "data_dir", cfg.DataDir, "region", cfg.Region)
	engineCtx, stopEngine := context.WithCancel(context.Background())
	var background sync.WaitGroup
	for _, loop := range s.background {
		background.Go(func() { loop(engineCtx) })
	}
	defer func() { stopEngine(); background.Wait() }()
	errc := make(chan error, 1)
	go func() { errc <- serve(s.srv, s.ln, s.tls, log) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down: draining in-flight requests")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := s.srv.Shutdown(shutdownCtx); err != nil {
		return err
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	log.Info("stopped")
	return nil
}

// retryPolicy is the deploy package's view of the retry and quarantine
// settings (quarantine 0 means never there as here).
func retryPolicy(r config.Rollout) deploy.RetryPolicy {
	p := deploy.RetryPolicy{MaxAttempts: r.MaxAttempts, Backoff: r.RetryBackoff, QuarantineAfter: r.QuarantineAfter}
	if r.QuarantineAfter == 0 {
		p.QuarantineAfter = -1
	}
	return p
}

// storeControls adapts the store's rollout-control counts to the metrics'
// ControlSource, which knows no store types.
type storeControls struct {
	s interface {
		ControlCounts(ctx context.Context) (store.ControlCounts, error)
	}
}

// ControlCounts implements metrics.ControlSource.
func (c storeControls) ControlCounts(ctx context.Context) (int, int, error) {
	n, err := c.s.ControlCounts(ctx)
	return n.PausedJobs, n.QuarantinedRobots, err
}

// busLocal is this replica's end of the bus: the hub's wake-ups, and the
// robots' identity cache and held polls told of robots deleted on other
// replicas.
type busLocal struct {
	*agentapi.Hub
	robots *deploy.Robots
}

// ForgetRobot implements pgbus.Local.
func (l busLocal) ForgetRobot(robotARN string) {
	l.robots.ForgetRobot(robotARN)
	l.Hub.ForgetRobot(robotARN)
}

// WakeAll implements pgbus.Local: after the bus lost messages, deletions
// may be among them.
func (l busLocal) WakeAll() {
	l.robots.ForgetAll()
	l.Hub.WakeAll()
}
