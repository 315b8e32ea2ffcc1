package runner_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/fleetsync/fleetsync/internal/agent/client"
	"github.com/fleetsync/fleetsync/internal/agent/runner"
	"github.com/fleetsync/fleetsync/internal/agentapi"
	"github.com/fleetsync/fleetsync/internal/blob/fsblob"
	"github.com/fleetsync/fleetsync/internal/deploy"
	"github.com/fleetsync/fleetsync/internal/fleet"
	"github.com/fleetsync/fleetsync/internal/proto"
	"github.com/fleetsync/fleetsync/internal/registry"
	"github.com/fleetsync/fleetsync/internal/store"
	"github.com/fleetsync/fleetsync/internal/store/sqlstore"
	"github.com/fleetsync/fleetsync/internal/tenancy"
)

const acct = "123456789012"

// harness is the real server side in this process (SQLite file, file
// bundle store, engine, agent endpoint) with one robot in fleet f and
// application "app" (General, s3://b/app.tar), and the real agent of that
// robot running against it.
type harness struct {
	t     *testing.T
	ctx   context.Context
	dir   string
	reg   *registry.Service
	jobs  *deploy.Service
	fleet fleet.Fleet
	app   fleet.Application
}

// newHarness starts it; bundle is what s3://b/app.tar holds at first.
func newHarness(t *testing.T, bundle []byte) *harness {
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	t.Cleanup(cancel)
	dir := t.TempDir()
	log := slog.New(slog.DiscardHandler)
	st, err := sqlstore.OpenSQLite(ctx, filepath.Join(dir, "fleetsync.db"), log)
	must(t, err)
	t.Cleanup(func() { st.Close() })
	h := &harness{t: t, ctx: ctx, dir: dir}
	must(t, os.MkdirAll(filepath.Join(dir, "bundles", "b"), 0o755))
	h.putBundle(bundle)
	bundles, err := fsblob.OpenFileStore(filepath.Join(dir, "bundles"))
	must(t, err)
	t.Cleanup(func() { bundles.Close() })
	// The first account's credential grants it every bucket (package tenancy).
	must(t, st.CreateCredential(ctx, store.Credential{AccessKeyID: "AKTEST", Account: acct, SecretSealed: []byte{1}}))
	granted := &tenancy.Bundles{Store: bundles, Grants: st}
	hub := &agentapi.Hub{}
	h.reg = &registry.Service{Store: st, Bundles: granted, Region: "us-east-1", Limits: registry.DefaultLimits()}
	h.jobs = &deploy.Service{Store: st, Region: "us-east-1", MaxActiveJobs: 10, Wake: hub}
	engine := &deploy.Engine{Store: st, Bundles: granted, Presence: &deploy.Presence{}, Wake: hub,
		Limits: deploy.Limits{FleetTimeoutMs: (24 * time.Hour).Milliseconds()}, Tick: 100 * time.Millisecond, LeaseTTL: time.Minute, Log: log}
	hub.Engine = engine
	robots := &deploy.Robots{Store: st, Bundles: granted, Presence: &deploy.Presence{}, Wake: hub, Log: log}
	srv := httptest.NewServer(agentapi.New(agentapi.Config{Robots: robots, Bundles: granted, Hub: hub, URLKey: []byte("k"),
		URLTTL: time.Minute, PollInterval: time.Second, MaxWait: time.Second, Log: log}))
	t.Cleanup(srv.Close)

	_, key, err := ed25519.GenerateKey(rand.Reader)
	must(t, err)
	h.fleet, err = h.reg.CreateFleet(ctx, acct, "f", nil)
	must(t, err)
	r, err := h.reg.CreateRobot(ctx, acct, "r", fleet.X86_64, proto.BoundAgentID(acct, key.Public().(ed25519.PublicKey)), nil)
	must(t, err)
	must(t, h.reg.RegisterRobot(ctx, acct, h.fleet.ARN, r.ARN))
	h.app, err = h.reg.CreateApplication(ctx, acct, "app", []fleet.Source{{Bucket: "b", Key: "app.tar", Architecture: fleet.X86_64}}, fleet.SoftwareSuite{Name: "General"}, nil)
	must(t, err)
	go engine.Run(ctx)

	agent, err := runner.New(runner.Config{Client: &client.Client{Server: srv.URL, Key: key, Account: acct}, StateDir: filepath.Join(dir, "agent"),
		PollWait: time.Second, Settle: -1, RetryBase: 100 * time.Millisecond, Log: log})
	must(t, err)
	done := make(chan error, 1)
	go func() { done <- agent.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	return h
}

// bundlePath is the file behind s3://b/app.tar.
func (h *harness) bundlePath() string { return filepath.Join(h.dir, "bundles", "b", "app.tar") }

// putBundle makes s3://b/app.tar hold b.
func (h *harness) putBundle(b []byte) { must(h.t, os.WriteFile(h.bundlePath(), b, 0o644)) }

// deploy snapshots the application's current bundle as a version and
// deploys it, with env, to the fleet; it returns the job.
func (h *harness) deploy(env map[string]string) fleet.Job {
	h.t.Helper()
	v, err := h.reg.CreateApplicationVersion(h.ctx, acct, h.app.ARN, nil, nil)
	must(h.t, err)
	return h.deployVersion(v.Version, env)
}

// deployVersion deploys version v of the application to the fleet.
func (h *harness) deployVersion(v string, env map[string]string) fleet.Job {
	h.t.Helper()
	j, err := h.jobs.Create(h.ctx, acct, "t-"+v, h.fleet.ARN, []fleet.AppConfig{{Application: h.app.ARN, ApplicationVersion: v,
		LaunchConfig: fleet.LaunchConfig{PackageName: "p", LaunchFile: "run.sh", EnvironmentVariables: env}}}, nil, nil)
	must(h.t, err)
	return j
}

// finished waits for the robot's row of job j to be InSync or Failed.
func (h *harness) finished(j fleet.Job) fleet.RobotDeployment {
	h.t.Helper()
	for {
		_, rows, _, err := h.jobs.Describe(h.ctx, acct, j.ARN, 0)
		must(h.t, err)
		if len(rows) == 1 && (rows[0].Status == fleet.RobotFailed || rows[0].Status == fleet.RobotInSync) {
			return rows[0]
		}
		select {
		case <-h.ctx.Done():
			h.t.Fatalf("the robot did not finish job %s: %+v", j.ARN, rows)
		case <-time.After(50 * time.Millisecond):
		}
	}
}
