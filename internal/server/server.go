// Package server is fleetsyncd's composition root: it opens the store, the
// bundle store and the keyring, bootstraps credentials, builds the API and
// serves HTTP until its context ends, then drains in-flight requests.
package server

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"github.com/fleetsync/fleetsync/internal/blob/fsblob"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/fleetsync/fleetsync/internal/agentapi"
	"github.com/fleetsync/fleetsync/internal/authguard"
	"github.com/fleetsync/fleetsync/internal/awsapi"
	"github.com/fleetsync/fleetsync/internal/blob"
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

// Run serves until ctx ends, then shuts down gracefully: the listener closes
// and in-flight requests get up to 30 seconds to finish.
func Run(ctx context.Context, cfg config.Config, stdout io.Writer, log *slog.Logger) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	d, err := Open(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer d.Store.Close()
	if err := Bootstrap(ctx, cfg, d, stdout, log); err != nil {
		return err
	}
	bundles, presign, closeBundles, err := openBundles(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer closeBundles()

	mets := metrics.New(d.Store, log.With("component", "metrics"))
	// Every bucket and object is reached through the bucket grants.
	granted := &tenancy.Bundles{Store: bundles, Grants: d.Store}
	reg := &registry.Service{Store: d.Store, Bundles: granted, Region: cfg.Region, Limits: registry.DefaultLimits()}
	hub := &agentapi.Hub{}
	presence := &deploy.Presence{}
	maxWait := cfg.AgentMaxWait
	engine := &deploy.Engine{
		Store: d.Store, Bundles: granted, Presence: presence,
		Limits: deploy.Limits{FleetTimeoutMs: (30 * 24 * time.Hour).Milliseconds(), AgentSilenceMs: (3*cfg.AgentPollInterval + maxWait).Milliseconds()},
		Tick:   cfg.EngineTick, LeaseTTL: cfg.JobLeaseTTL, Retention: 90 * 24 * time.Hour,
		Log: log.With("component", "engine"), Owner: d.NodeID, OnTick: mets.ObserveTick,
	}
	// Wake-ups stay in this process on SQLite (one replica); on PostgreSQL
	// they also reach the other replicas.
	hub.Engine = engine
	var wake deploy.Waker = hub
	var nonces agentapi.Nonces
	var bus *pgbus.Bus
	if cfg.Postgres() {
		if bus, err = pgbus.New(cfg.Database, d.NodeID, log.With("component", "pgbus")); err != nil {
			return err
		}
		wake = deploy.Wakers{hub, bus}
		nonces = &agentapi.StoreNonces{Store: d.Store, Log: log.With("component", "agentapi")}
	}
	engine.Wake = wake
	jobs := &deploy.Service{Store: d.Store, Region: cfg.Region, MaxActiveJobs: 100, Wake: wake}
	autoSync := &deploy.AutoSync{Jobs: jobs, Tick: cfg.EngineTick, Log: log.With("component", "autosync"),
		OnStart: func(fleet.Job) { mets.AutoSyncStarted() }}
	robots := &deploy.Robots{Store: d.Store, Bundles: granted, Presence: presence, Wake: wake, Log: log.With("component", "robots")}
	// One set of failed-authentication budgets for every door.
	authGuard := authguard.New(authguard.DefaultLimits(), nil)
	agents := agentapi.New(agentapi.Config{
		Robots: robots, Bundles: granted, Presign: presign, Hub: hub, Nonces: nonces,
		URLKey: d.Keys.Derive("bundle-url"), URLTTL: cfg.BundleURLTTL, PollInterval: cfg.AgentPollInterval, MaxWait: maxWait,
		Log: log.With("component", "agentapi"), Guard: authGuard,
	})
	api := awsapi.New(awsapi.Config{
		Registry: reg, Deploy: jobs, Credentials: d.Credentials.Lookup, Region: cfg.Region,
		TokenKey: d.Keys.Derive("pagination-token"), RatePerSecond: cfg.RatePerSecond, Burst: cfg.Burst,
		Logger: log.With("component", "awsapi"), Observe: mets.ObserveAPI, Guard: authGuard,
	})

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
		Sessions: &credential.Sessions{Store: d.Store, Log: log.With("component", "console")}, Presence: presence,
		Key: d.Keys.Derive("console-session"), Log: log.With("component", "console"), Guard: authGuard,
		MaxStreamsPerSession: cfg.Limits.MaxStreamsPerSession,
	})
	mux.Handle("/console/", cons)
	mux.Handle("GET /console", http.RedirectHandler("/console/", http.StatusSeeOther))
	mux.Handle("/agent/", mets.Agents(agents))
	mux.Handle("/", console.RootRedirect(api))

	if cfg.DebugListen != "" {
		dbg := http.NewServeMux()
		dbg.HandleFunc("/debug/pprof/", pprof.Index)
		dbg.HandleFunc("/debug/pprof/profile", pprof.Profile)
		dbg.HandleFunc("/debug/pprof/trace", pprof.Trace)
		go func() {
			if err := http.ListenAndServe(cfg.DebugListen, dbg); err != nil {
				log.Error("debug listener failed", "error", err)
			}
		}()
	}
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: mux}
	ln = guard(srv, ln, cfg.Limits, log) // timeouts, size and connection limits (limits.go)
	// HTTP/2 without TLS (prior knowledge) lets thousands of agents behind
	// one client share a few connections; HTTP/1.1 stays for everyone else.
	srv.Protocols = new(http.Protocols)
	srv.Protocols.SetHTTP1(true)
	srv.Protocols.SetUnencryptedHTTP2(true)
	srv.RegisterOnShutdown(cons.Close)
	log.Info("fleetsyncd listening", "addr", ln.Addr().String(), "data_dir", cfg.DataDir, "region", cfg.Region)
	engineCtx, stopEngine := context.WithCancel(context.Background())
	var background sync.WaitGroup
	background.Go(func() { engine.Run(engineCtx) })
	background.Go(func() { autoSync.Run(engineCtx) })
	background.Go(func() {
		presence.Run(engineCtx, d.Store, presenceFlush(cfg.AgentPollInterval), log.With("component", "presence"))
	})
	if bus != nil {
		background.Go(func() {
			bus.Run(engineCtx, hub, nil)
		})
	}
	defer func() { stopEngine(); background.Wait() }()
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down: draining in-flight requests")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return err
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	log.Info("stopped")
	return nil
}
