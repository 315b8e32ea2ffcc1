package agentapi_test

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

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

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// endpoint is the agent endpoint served in this process over a real SQLite
// store and file bundle store, with the domain wired as fleetsyncd wires it.
type endpoint struct {
	t      testing.TB
	srv    *httptest.Server
	reg    *registry.Service
	jobs   *deploy.Service
	engine *deploy.Engine
	api    *agentapi.API
	hub    *agentapi.Hub
	ev     *deploy.Evidence
	bundle []byte
	// presence is where the robots' liveness is kept.
	presence *deploy.Presence
}

// newEndpoint builds the endpoint; opts change its configuration.
func newEndpoint(t testing.TB, opts ...func(*agentapi.Config)) *endpoint {
	ctx := t.Context()
	dir := t.TempDir()
	log := slog.New(slog.DiscardHandler)
	st, err := sqlstore.OpenSQLite(ctx, filepath.Join(dir, "fleetsync.db"), log)
	must(t, err)
	t.Cleanup(func() { st.Close() })
	must(t, os.MkdirAll(filepath.Join(dir, "bundles", "b"), 0o755))
	e := &endpoint{t: t, bundle: bytes.Repeat([]byte("0123456789"), 1000)}
	must(t, os.WriteFile(filepath.Join(dir, "bundles", "b", "app.tar"), e.bundle, 0o644))
	bundles, err := fsblob.OpenFileStore(filepath.Join(dir, "bundles"))
	must(t, err)
	t.Cleanup(func() { bundles.Close() })
	// The test account is the install's first: every bucket is its.
	must(t, st.CreateCredential(ctx, store.Credential{AccessKeyID: "AKTEST", Account: acct, SecretSealed: []byte{1}}))
	granted := &tenancy.Bundles{Store: bundles, Grants: st}
	hub := &agentapi.Hub{}
	// One presence, the engine's and the robots', as fleetsyncd wires it.
	e.presence = &deploy.Presence{}
	e.reg = &registry.Service{Store: st, Bundles: granted, Region: "us-east-1", Limits: registry.DefaultLimits()}
	e.jobs = &deploy.Service{Store: st, Region: "us-east-1", MaxActiveJobs: 10, Wake: hub}
	e.engine = &deploy.Engine{Store: st, Bundles: granted, Presence: e.presence, Wake: hub,
		Limits: deploy.Limits{FleetTimeoutMs: (30 * 24 * time.Hour).Milliseconds()}, Tick: time.Second, LeaseTTL: time.Minute, Log: log}
	hub.Engine = e.engine
	e.ev = &deploy.Evidence{Store: st, Wake: hub}
	robots := &deploy.Robots{Store: st, Bundles: granted, Presence: e.presence, Wake: hub, Log: log}
	e.reg.Forget = deploy.Forgetters{robots, hub} // as fleetsyncd wires them
	cfg := agentapi.Config{Robots: robots, Bundles: granted, Hub: hub, URLKey: []byte("test-url-key"),
		URLTTL: time.Minute, PollInterval: 5 * time.Second, MaxWait: 30 * time.Second, Log: log}
	for _, o := range opts {
		o(&cfg)
	}
	e.api, e.hub = agentapi.New(cfg), hub
	e.srv = httptest.NewServer(e.api)
	t.Cleanup(e.srv.Close)
	return e
}

// agent is a robot's key pair.
func newAgent(t testing.TB) ed25519.PrivateKey {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	must(t, err)
	return priv
}

// registeredRobot creates fleet "f" and robot "r" of priv's agent id,
// registered to it.
func (e *endpoint) registeredRobot(priv ed25519.PrivateKey) (fleet.Fleet, fleet.Robot) {
	e.t.Helper()
	ctx := e.t.Context()
	f, err := e.reg.CreateFleet(ctx, acct, "f", nil)
	must(e.t, err)
	r, err := e.reg.CreateRobot(ctx, acct, "r", fleet.X86_64, agentID(priv), nil)
	must(e.t, err)
	must(e.t, e.reg.RegisterRobot(ctx, acct, f.ARN, r.ARN))
	return f, r
}

// deployTo creates application "app" (s3://b/app.tar), its version 1 and a
// deployment job of it to the fleet, which the engine prepares and starts.
func (e *endpoint) deployTo(fleetARN string) fleet.Job {
	e.t.Helper()
	return e.deployWith(fleetARN, nil)
}

// deployWith is deployTo with the job's deployment config.
func (e *endpoint) deployWith(fleetARN string, cfg *deploy.ConfigInput) fleet.Job {
	e.t.Helper()
	ctx := e.t.Context()
	app, err := e.reg.CreateApplication(ctx, acct, "app", []fleet.Source{{Bucket: "b", Key: "app.tar", Architecture: fleet.X86_64}}, fleet.SoftwareSuite{Name: "General"}, nil)
	must(e.t, err)
	v, err := e.reg.CreateApplicationVersion(ctx, acct, app.ARN, nil, nil)
	must(e.t, err)
	j, err := e.jobs.Create(ctx, acct, "t", fleetARN, []fleet.AppConfig{{Application: app.ARN, ApplicationVersion: v.Version,
		LaunchConfig: fleet.LaunchConfig{PackageName: "p", LaunchFile: "run.sh"}}}, cfg, nil)
	must(e.t, err)
	e.engine.RunOnce(ctx)
	return j
}

func agentID(priv ed25519.PrivateKey) string {
	return proto.BoundAgentID(acct, priv.Public().(ed25519.PublicKey))
}

// signed builds a request signed by priv.
func (e *endpoint) signed(priv ed25519.PrivateKey, method, url string, body []byte) *http.Request {
	e.t.Helper()
	r, err := http.NewRequest(method, url, bytes.NewReader(body))
	must(e.t, err)
	proto.SignAs(r, acct, priv, body, time.Now())
	return r
}

// send sends a request (again, when it was sent before) and returns the
// status and body.
func send(t testing.TB, r *http.Request, body []byte) (int, []byte) {
	t.Helper()
	r.Body = io.NopCloser(bytes.NewReader(body))
	resp, err := http.DefaultClient.Do(r)
	must(t, err)
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	must(t, err)
	return resp.StatusCode, out
}

func (e *endpoint) call(priv ed25519.PrivateKey, path string, in, out any) int {
	e.t.Helper()
	body, err := json.Marshal(in)
	must(e.t, err)
	status, resp := send(e.t, e.signed(priv, http.MethodPost, e.srv.URL+path, body), body)
	if status == http.StatusOK && out != nil {
		must(e.t, json.Unmarshal(resp, out))
	}
	return status
}

// TestAgentEndpointInProcess walks one robot through a deployment over the
// real protocol: authentication, assignment, signed download with Range,
// report, and the refusals of strangers, replays and other robots.
func TestAgentEndpointInProcess(t *testing.T) {
	e := newEndpoint(t)
	ctx := t.Context()
	priv, other := newAgent(t), newAgent(t)

	if st := e.call(priv, proto.PathPoll, proto.PollRequest{}, nil); st != http.StatusUnauthorized {
		t.Fatalf("poll of an agent no robot has: %d, want 401", st)
	}
	f, err := e.reg.CreateFleet(ctx, acct, "f", nil)
	must(t, err)
	for i, p := range []ed25519.PrivateKey{priv, other} {
		r, err := e.reg.CreateRobot(ctx, acct, []string{"r", "other"}[i], fleet.X86_64, agentID(p), fleet.Tags{"team": "blue"})
		must(t, err)
		if i == 0 {
			must(t, e.reg.RegisterRobot(ctx, acct, f.ARN, r.ARN))
		}
	}
	j := e.deployTo(f.ARN)

	var resp proto.PollResponse
	if st := e.call(priv, proto.PathPoll, proto.PollRequest{}, &resp); st != http.StatusOK {
		t.Fatalf("poll: %d", st)
	}
	as := resp.Assignment
	if as == nil || as.DeploymentJob != j.ARN || as.Bundle.Size != int64(len(e.bundle)) || as.Tags["team"] != "blue" || resp.PollIntervalSeconds != 5 {
		t.Fatalf("poll answer %+v, want the job's assignment with the bundle and robot tags", resp)
	}

	// The download URL serves the bundle to this robot, with Range.
	get := e.signed(priv, http.MethodGet, as.Bundle.URL, nil)
	get.Header.Set("Range", "bytes=9990-")
	if st, body := send(t, get, nil); st != http.StatusPartialContent || !bytes.Equal(body, e.bundle[9990:]) {
		t.Fatalf("ranged download: %d %q, want 206 and the last 10 bytes", st, body)
	}
	// The same signed request again is a replay.
	if st, _ := send(t, get, nil); st != http.StatusUnauthorized {
		t.Fatalf("replayed download: %d, want 401", st)
	}
	// Another robot's signature does not open this robot's URL.
	if st, _ := send(t, e.signed(other, http.MethodGet, as.Bundle.URL, nil), nil); st != http.StatusForbidden {
		t.Fatalf("download with another robot's key: %d, want 403", st)
	}
	// A URL not issued by this server is refused.
	if st, _ := send(t, e.signed(priv, http.MethodGet, e.srv.URL+proto.PathBundle+"forged.token", nil), nil); st != http.StatusForbidden {
		t.Fatalf("forged URL: %d, want 403", st)
	}

	var rr proto.ReportResponse
	if st := e.call(priv, proto.PathReport, proto.Report{DeploymentJob: j.ARN, Step: proto.StepFinished, Result: proto.ResultSucceeded}, &rr); st != http.StatusOK || rr.Abort {
		t.Fatalf("report: %d abort=%v, want 200 and no abort", st, rr.Abort)
	}
	_, rows, _, err := e.jobs.Describe(ctx, acct, j.ARN, 0)
	must(t, err)
	if len(rows) != 1 || rows[0].Status != fleet.RobotInSync {
		t.Fatalf("rows after the report: %+v, want one InSync", rows)
	}
	// A body that is not the protocol's JSON is a 400, after authentication.
	bad := []byte("{not json")
	if st, _ := send(t, e.signed(priv, http.MethodPost, e.srv.URL+proto.PathReport, bad), bad); st != http.StatusBadRequest {
		t.Fatalf("bad JSON: %d, want 400", st)
	}
}

// BenchmarkPollAssignment is one agent poll answered in full over HTTP in
// this process: signature, nonce, robot lookup, current assignment, its
// version, the bundle's ETag check and a signed download URL.
// Run: go test -run '^$' -bench PollAssignment ./internal/agentapi/
func BenchmarkPollAssignment(b *testing.B) {
	e := newEndpoint(b)
	ctx := b.Context()
	priv := newAgent(b)
	f, _ := e.registeredRobot(priv)
	app, err := e.reg.CreateApplication(ctx, acct, "app", []fleet.Source{{Bucket: "b", Key: "app.tar", Architecture: fleet.X86_64}}, fleet.SoftwareSuite{Name: "General"}, nil)
	must(b, err)
	v, err := e.reg.CreateApplicationVersion(ctx, acct, app.ARN, nil, nil)
	must(b, err)
	_, err = e.jobs.Create(ctx, acct, "t", f.ARN, []fleet.AppConfig{{Application: app.ARN, ApplicationVersion: v.Version,
		LaunchConfig: fleet.LaunchConfig{PackageName: "p", LaunchFile: "run.sh"}}}, nil, nil)
	must(b, err)
	e.engine.RunOnce(ctx)
	body, _ := json.Marshal(proto.PollRequest{})
	b.ReportAllocs()
	for b.Loop() {
		var resp proto.PollResponse
		st, out := send(b, e.signed(priv, http.MethodPost, e.srv.URL+proto.PathPoll, body), body)
		if st != http.StatusOK || json.Unmarshal(out, &resp) != nil || resp.Assignment == nil {
			b.Fatalf("poll: %d %s", st, out)
		}
	}
}
