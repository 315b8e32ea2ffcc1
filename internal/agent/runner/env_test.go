package runner_test

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
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

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// TestEnvWithNULFailsDeployment: an environment value with a NUL (which the
// API now refuses, but a job from an older server or another client may
// still carry) used to be dropped by the agent, which reported Finished.
// The real agent, against the real agent endpoint in this process, fails
// the deployment at Validating with EnvironmentSetupError naming the
// variable, and never launches the application.
func TestEnvWithNULFailsDeployment(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	dir := t.TempDir()
	log := slog.New(slog.DiscardHandler)
	st, err := sqlstore.OpenSQLite(ctx, filepath.Join(dir, "fleetsync.db"), log)
	must(t, err)
	defer st.Close()
	marker := filepath.Join(dir, "launched")
	var tb bytes.Buffer
	tw := tar.NewWriter(&tb)
	script := "#!/bin/sh\ntouch " + marker + "\nexec sleep 60\n"
	must(t, tw.WriteHeader(&tar.Header{Name: "p/run.sh", Mode: 0o755, Size: int64(len(script)), Typeflag: tar.TypeReg}))
	_, err = tw.Write([]byte(script))
	must(t, err)
	must(t, tw.Close())
	must(t, os.MkdirAll(filepath.Join(dir, "bundles", "b"), 0o755))
	must(t, os.WriteFile(filepath.Join(dir, "bundles", "b", "app.tar"), tb.Bytes(), 0o644))
	bundles, err := fsblob.OpenFileStore(filepath.Join(dir, "bundles"))
	must(t, err)
	defer bundles.Close()
	const acct = "123456789012"
	// The first account's credential grants it every bucket (package tenancy).
	must(t, st.CreateCredential(ctx, store.Credential{AccessKeyID: "AKTEST", Account: acct, SecretSealed: []byte{1}}))
	granted := &tenancy.Bundles{Store: bundles, Grants: st}
	hub := &agentapi.Hub{}
	reg := &registry.Service{Store: st, Bundles: granted, Region: "us-east-1", Limits: registry.DefaultLimits()}
	jobs := &deploy.Service{Store: st, Region: "us-east-1", MaxActiveJobs: 10, Wake: hub}
	engine := &deploy.Engine{Store: st, Bundles: granted, Presence: &deploy.Presence{}, Wake: hub,
		Limits: deploy.Limits{FleetTimeoutMs: (24 * time.Hour).Milliseconds()}, Tick: 100 * time.Millisecond, LeaseTTL: time.Minute, Log: log}
	hub.Engine = engine
	robots := &deploy.Robots{Store: st, Bundles: granted, Presence: &deploy.Presence{}, Wake: hub, Log: log}
	srv := httptest.NewServer(agentapi.New(agentapi.Config{Robots: robots, Bundles: granted, Hub: hub, URLKey: []byte("k"),
		URLTTL: time.Minute, PollInterval: time.Second, MaxWait: time.Second, Log: log}))
	defer srv.Close()

	_, key, err := ed25519.GenerateKey(rand.Reader)
	must(t, err)
	f, err := reg.CreateFleet(ctx, acct, "f", nil)
	must(t, err)
	r, err := reg.CreateRobot(ctx, acct, "r", fleet.X86_64, proto.BoundAgentID(acct, key.Public().(ed25519.PublicKey)), nil)
	must(t, err)
	must(t, reg.RegisterRobot(ctx, acct, f.ARN, r.ARN))
	app, err := reg.CreateApplication(ctx, acct, "app", []fleet.Source{{Bucket: "b", Key: "app.tar", Architecture: fleet.X86_64}}, fleet.SoftwareSuite{Name: "General"}, nil)
	must(t, err)
	v, err := reg.CreateApplicationVersion(ctx, acct, app.ARN, nil, nil)
	must(t, err)
	j, err := jobs.Create(ctx, acct, "t", f.ARN, []fleet.AppConfig{{Application: app.ARN, ApplicationVersion: v.Version,
		LaunchConfig: fleet.LaunchConfig{PackageName: "p", LaunchFile: "run.sh",
			EnvironmentVariables: map[string]string{"GOOD": "1", "BAD_VAR": "a\x00b"}}}}, nil, nil)
	must(t, err)
	go engine.Run(ctx)

	agent, err := runner.New(runner.Config{Client: &client.Client{Server: srv.URL, Key: key, Account: acct}, StateDir: filepath.Join(dir, "agent"),
		PollWait: time.Second, Settle: -1, RetryBase: 100 * time.Millisecond, Log: log})
	must(t, err)
	done := make(chan error, 1)
	go func() { done <- agent.Run(ctx) }()
	defer func() { cancel(); <-done }()

	for {
		_, rows, _, err := jobs.Describe(ctx, acct, j.ARN, 0)
		must(t, err)
		if len(rows) == 1 && (rows[0].Status == fleet.RobotFailed || rows[0].Status == fleet.RobotInSync) {
			row := rows[0]
			if row.Status != fleet.RobotFailed || row.FailureCode != proto.FailureEnvironmentSetup || !strings.Contains(row.FailureReason, "BAD_VAR") {
				t.Fatalf("robot row %+v, want Failed with EnvironmentSetupError naming BAD_VAR", row)
			}
			break
		}
		select {
		case <-ctx.Done():
			t.Fatalf("the robot did not finish: %+v", rows)
		case <-time.After(50 * time.Millisecond):
		}
	}
	if _, err := os.Stat(marker); err == nil {
		t.Fatal("the application was launched without its variable")
	}
}
