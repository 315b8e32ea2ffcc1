package deploy_test

import (
	"context"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fleetsync/fleetsync/internal/blob"
	"github.com/fleetsync/fleetsync/internal/blob/fsblob"
	"github.com/fleetsync/fleetsync/internal/deploy"
	"github.com/fleetsync/fleetsync/internal/fleet"
	"github.com/fleetsync/fleetsync/internal/registry"
	"github.com/fleetsync/fleetsync/internal/store"
	"github.com/fleetsync/fleetsync/internal/store/sqlstore"
	"github.com/fleetsync/fleetsync/internal/tenancy"
)

// wakes records the wake-ups the domain sends, as the hub would get them.
type wakes struct {
	mu     sync.Mutex
	robots []string
	engine int
}

func (w *wakes) WakeRobot(arn string) { w.mu.Lock(); w.robots = append(w.robots, arn); w.mu.Unlock() }
func (w *wakes) WakeEngine()          { w.mu.Lock(); w.engine++; w.mu.Unlock() }

func (w *wakes) engineWakes() int { w.mu.Lock(); defer w.mu.Unlock(); return w.engine }

func (w *wakes) robotWoken(arn string) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Contains(w.robots, arn)
}

// robotSide is a real SQLite store and a real file bundle store with the
// registry, job service, engine and robot service wired as fleetsyncd
// wires them, on a clock the test moves.
type robotSide struct {
	t       *testing.T
	dir     string
	st      *sqlstore.Store
	reg     *registry.Service
	jobs    *deploy.Service
	engine  *deploy.Engine
	robots  *deploy.Robots
	wakes   *wakes
	nowMs   int64
	fleet   fleet.Fleet
	app     fleet.Application
	version string
	// storeDown makes the bundle store fail every Stat, as one that cannot
	// be reached.
	storeDown atomic.Bool
}

// outageStore is a bundle store whose Stat fails while down is set.
type outageStore struct {
	blob.Store
	down *atomic.Bool
}

func (o outageStore) Stat(ctx context.Context, bucket, key string) (blob.Object, error) {
	if o.down.Load() {
		return blob.Object{}, errors.New("bundle store unreachable")
	}
	return o.Store.Stat(ctx, bucket, key)
}

func (s *robotSide) now() time.Time { return time.UnixMilli(s.nowMs) }

// put writes s3://bundles/key into the file bundle store.
func (s *robotSide) put(key string, content []byte) {
	s.t.Helper()
	p := filepath.Join(s.dir, "bundles", "bundles", key)
	must(s.t, os.MkdirAll(filepath.Dir(p), 0o755))
	must(s.t, os.WriteFile(p, content, 0o644))
}

func (s *robotSide) remove(key string) {
	s.t.Helper()
	must(s.t, os.Remove(filepath.Join(s.dir, "bundles", "bundles", key)))
}

func etagOf(b []byte) string   { sum := md5.Sum(b); return `"` + hex.EncodeToString(sum[:]) + `"` }
func sha256Of(b []byte) string { sum := sha256.Sum256(b); return hex.EncodeToString(sum[:]) }

var (
	x86Bundle = []byte("the x86_64 bundle")
	armBundle = []byte("the arm64 bundle, a little longer")
)

// newRobotSide creates a fleet and an application with an X86_64 and an
// ARM64 source, and snapshots version 1 of it through the registry.
func newRobotSide(t *testing.T) *robotSide {
	t.Helper()
	ctx := t.Context()
	dir := t.TempDir()
	log := slog.New(slog.DiscardHandler)
	st, err := sqlstore.OpenSQLite(ctx, filepath.Join(dir, "fleetsync.db"), log)
	must(t, err)
	t.Cleanup(func() { st.Close() })
	must(t, os.MkdirAll(filepath.Join(dir, "bundles", "bundles"), 0o755))
	bundles, err := fsblob.OpenFileStore(filepath.Join(dir, "bundles"))
	must(t, err)
	t.Cleanup(func() { bundles.Close() })
	// The test account is the install's first: every bucket is its.
	must(t, st.CreateCredential(ctx, store.Credential{AccessKeyID: "AKTEST", Account: acct, SecretSealed: []byte{1}}))
	s := &robotSide{t: t, dir: dir, st: st, wakes: &wakes{}, nowMs: 1_700_000_000_000}
	granted := &tenancy.Bundles{Store: outageStore{bundles, &s.storeDown}, Grants: st}
	s.reg = &registry.Service{Store: st, Bundles: granted, Region: "us-east-1", Limits: registry.DefaultLimits(), Now: s.now}
	s.jobs = &deploy.Service{Store: st, Region: "us-east-1", MaxActiveJobs: 10, Wake: s.wakes, Now: s.now}
	s.engine = &deploy.Engine{Store: st, Bundles: granted, Presence: &deploy.Presence{}, Wake: s.wakes,
		Limits: deploy.Limits{FleetTimeoutMs: (30 * 24 * time.Hour).Milliseconds()},
		Tick:   time.Second, LeaseTTL: time.Minute, Log: log, Now: s.now, Owner: "test"}
	s.robots = &deploy.Robots{Store: st, Bundles: granted, Presence: &deploy.Presence{}, Wake: s.wakes, Log: log, Now: s.now}

	s.put("app/x86.tar", x86Bundle)
	s.put("app/arm.tar", armBundle)
	s.fleet, err = s.reg.CreateFleet(ctx, acct, "f", nil)
	must(t, err)
	s.app, err = s.reg.CreateApplication(ctx, acct, "app", []fleet.Source{
		{Bucket: "bundles", Key: "app/x86.tar", Architecture: fleet.X86_64},
		{Bucket: "bundles", Key: "app/arm.tar", Architecture: fleet.ARM64},
	}, fleet.SoftwareSuite{Name: "General"}, nil)
	must(t, err)
	v, err := s.reg.CreateApplicationVersion(ctx, acct, s.app.ARN, nil, nil)
	must(t, err)
	s.version = v.Version
	return s
}

// robot creates and registers a robot of an architecture.
func (s *robotSide) robot(name string, arch fleet.Architecture, tags fleet.Tags) fleet.Robot {
	s.t.Helper()
	s.nowMs++
	r, err := s.reg.CreateRobot(s.t.Context(), acct, name, arch, "agent-"+name, tags)
	must(s.t, err)
	must(s.t, s.reg.RegisterRobot(s.t.Context(), acct, s.fleet.ARN, r.ARN))
	r, err = s.robots.ByAgent(s.t.Context(), acct, "agent-"+name)
	must(s.t, err)
	return r
}

// deploy creates a job of version 1 to the fleet and lets the engine
// prepare it and start every robot it may.
func (s *robotSide) deploy(cfg *deploy.ConfigInput, tags fleet.Tags) fleet.Job {
	s.t.Helper()
	s.nowMs++
	j, err := s.jobs.Create(s.t.Context(), acct, "token-"+time.UnixMilli(s.nowMs).String(), s.fleet.ARN,
		[]fleet.AppConfig{{Application: s.app.ARN, ApplicationVersion: s.version, LaunchConfig: fleet.LaunchConfig{PackageName: "p", LaunchFile: "run.sh"}}},
		cfg, tags)
	must(s.t, err)
	s.settle()
	return j
}

// settle runs the engine until it has nothing more to do now.
func (s *robotSide) settle() {
	for range 5 {
		s.nowMs++
		s.engine.RunOnce(s.t.Context())
	}
}

func (s *robotSide) row(jobARN, robotARN string) fleet.RobotDeployment {
	s.t.Helper()
	_, rows, _, err := s.jobs.Describe(s.t.Context(), acct, jobARN, 0)
	must(s.t, err)
	for _, r := range rows {
		if r.Robot == robotARN {
			return r
		}
	}
	s.t.Fatalf("job %s has no row for %s", jobARN, robotARN)
	return fleet.RobotDeployment{}
}

func (s *robotSide) job(jobARN string) fleet.Job {
	s.t.Helper()
	j, _, _, err := s.jobs.Describe(s.t.Context(), acct, jobARN, 0)
	must(s.t, err)
	return j
}

func TestRobotsPollHandsTheSourceOfTheRobotsArchitecture(t *testing.T) {
	s := newRobotSide(t)
	ctx := t.Context()
	arm := s.robot("arm", fleet.ARM64, fleet.Tags{"team": "blue", "env": "robot"})
	x86 := s.robot("x86", fleet.X86_64, nil)
	j := s.deploy(&deploy.ConfigInput{ConcurrentPercent: new(100)}, fleet.Tags{"env": "job"})
	if !s.wakes.robotWoken(arm.ARN) || !s.wakes.robotWoken(x86.ARN) {
		t.Fatalf("the engine woke %v, want both robots' long polls", s.wakes.robots)
	}

	w, err := s.robots.Poll(ctx, arm, nil)
	must(t, err)
	as := w.Assignment
	if as == nil || w.Abort != "" {
		t.Fatalf("Poll = %+v, want an assignment and no abort", w)
	}
	if as.Job.ARN != j.ARN || as.App.ApplicationVersion != s.version || as.SoftwareSuite != "General" {
		t.Fatalf("assignment of job %s version %s suite %q, want %s version %s General", as.Job.ARN, as.App.ApplicationVersion, as.SoftwareSuite, j.ARN, s.version)
	}
	if as.Bundle.Key != "app/arm.tar" || as.Bundle.ETag != etagOf(armBundle) || as.Bundle.SHA256 != sha256Of(armBundle) || as.Bundle.Size != int64(len(armBundle)) {
		t.Fatalf("ARM64 robot got bundle %+v, want app/arm.tar with its ETag, SHA-256 and size", as.Bundle)
	}
	// The job's tags overlay the robot's.
	if want := (fleet.Tags{"team": "blue", "env": "job"}); !maps.Equal(as.Tags, want) {
		t.Fatalf("tags %v, want %v", as.Tags, want)
	}
	if as.DownloadCondition != nil {
		t.Fatalf("download condition %+v for a job without one", as.DownloadCondition)
	}
	w, err = s.robots.Poll(ctx, x86, nil)
	must(t, err)
	if w.Assignment == nil || w.Assignment.Bundle.Key != "app/x86.tar" || w.Assignment.Bundle.SHA256 != sha256Of(x86Bundle) {
		t.Fatalf("X86_64 robot got %+v, want app/x86.tar", w.Assignment)
	}
	// A robot already on the job is left to it.
	w, err = s.robots.Work(ctx, arm, &deploy.Current{DeploymentJob: j.ARN})
	must(t, err)
	if w.Assignment != nil || w.Abort != "" {
		t.Fatalf("Work for a robot running its assignment = %+v, want nothing new", w)
	}
}

func TestRobotsReportProgressAndResult(t *testing.T) {
	s := newRobotSide(t)
	ctx := t.Context()
	r := s.robot("r", fleet.X86_64, nil)
	j := s.deploy(nil, nil)
	pct := 42.5
	abort, err := s.robots.Report(ctx, r, deploy.Report{DeploymentJob: j.ARN, Step: "DownloadingExtracting", PercentDone: &pct})
	must(t, err)
	if abort {
		t.Fatal("progress of a deploying robot answered abort")
	}
	must(t, s.st.FlushProgress(ctx)) // progress is written in batches
	if row := s.row(j.ARN, r.ARN); row.Step != "DownloadingExtracting" || row.PercentDone == nil || *row.PercentDone != pct {
		t.Fatalf("row after progress = %+v", row)
	}
	before := s.wakes.engineWakes()
	abort, err = s.robots.Report(ctx, r, deploy.Report{DeploymentJob: j.ARN, Step: "Finished", Done: true, Succeeded: true})
	must(t, err)
	if abort {
		t.Fatal("the result of a deploying robot answered abort")
	}
	if s.wakes.engineWakes() == before {
		t.Fatal("a robot's result did not wake the engine")
	}
	if row := s.row(j.ARN, r.ARN); row.Status != fleet.RobotInSync {
		t.Fatalf("row after success is %s, want InSync", row.Status)
	}
	s.settle()
	if got := s.job(j.ARN).Status; got != fleet.JobSucceeded {
		t.Fatalf("job is %s after its only robot succeeded, want Succeeded", got)
	}
	// Progress on a finished deployment tells the robot to stop.
	abort, err = s.robots.Report(ctx, r, deploy.Report{DeploymentJob: j.ARN, Step: "Launching"})
	must(t, err)
	if !abort {
		t.Fatal("progress after the row finished did not answer abort")
	}
	// A robot still running a job the server no longer assigns it aborts.
	w, err := s.robots.Poll(ctx, r, &deploy.Current{DeploymentJob: "arn:aws:robomaker:us-east-1:" + acct + ":deployment-job/deployment-gone00000000"})
	must(t, err)
	if w.Abort == "" || w.Assignment != nil {
		t.Fatalf("Poll of a robot running an unassigned job = %+v, want an abort", w)
	}
}

func TestRobotsPollRecordsADeploymentFinishedOffline(t *testing.T) {
	s := newRobotSide(t)
	ctx := t.Context()
	r := s.robot("r", fleet.X86_64, nil)
	j := s.deploy(nil, nil)
	// The robot finished while the server did not hear it; its next poll says so.
	w, err := s.robots.Poll(ctx, r, &deploy.Current{DeploymentJob: j.ARN, Finished: true})
	must(t, err)
	if w.Assignment != nil || w.Abort != "" {
		t.Fatalf("Poll = %+v, want nothing to do", w)
	}
	if row := s.row(j.ARN, r.ARN); row.Status != fleet.RobotInSync {
		t.Fatalf("row is %s, want InSync from the robot's own account", row.Status)
	}
	// Every later poll says the same: answered from the poll's read, with
	// no write (the row's revision stays) and no engine pass.
	_, rev, err := s.st.JobRobotsSince(ctx, j.ARN, 0)
	must(t, err)
	wakes := s.wakes.engineWakes()
	for range 3 {
		w, err := s.robots.Poll(ctx, r, &deploy.Current{DeploymentJob: j.ARN, Finished: true})
		must(t, err)
		if w.Assignment != nil || w.Abort != "" {
			t.Fatalf("a repeated Poll = %+v, want nothing to do", w)
		}
	}
	if _, after, err := s.st.JobRobotsSince(ctx, j.ARN, 0); err != nil || after != rev {
		t.Errorf("rows' revision after repeated polls = %d, %v; want %d (nothing written)", after, err, rev)
	}
	if n := s.wakes.engineWakes(); n != wakes {
		t.Errorf("repeated polls woke the engine %d times", n-wakes)
	}
}

// TestRobotsPollNamingThePreviousJobGetsTheNext: a robot that still names
// the deployment it finished gets the fleet's next one, which that
// finished job's result (a no-op) leaves as it was.
func TestRobotsPollNamingThePreviousJobGetsTheNext(t *testing.T) {
	s := newRobotSide(t)
	ctx := t.Context()
	r := s.robot("r", fleet.X86_64, nil)
	j1 := s.deploy(nil, nil)
	if _, err := s.robots.Poll(ctx, r, &deploy.Current{DeploymentJob: j1.ARN, Finished: true}); err != nil {
		t.Fatal(err)
	}
	s.settle()
	j2 := s.deploy(nil, nil)
	w, err := s.robots.Poll(ctx, r, &deploy.Current{DeploymentJob: j1.ARN, Finished: true})
	must(t, err)
	if w.Assignment == nil || w.Assignment.Job.ARN != j2.ARN || w.Abort != "" {
		t.Fatalf("Poll naming the finished %s = %+v; want the assignment of %s", j1.ARN, w, j2.ARN)
	}
	if row := s.row(j1.ARN, r.ARN); row.Status != fleet.RobotInSync {
		t.Errorf("the first job's row is %s, want InSync", row.Status)
	}
	if row := s.row(j2.ARN, r.ARN); row.Status != fleet.RobotDeploying {
		t.Errorf("the second job's row is %s, want Deploying", row.Status)
	}
}

func TestRobotsFailAtAssignmentWhenTheObjectChangedOrWentAway(t *testing.T) {
	for _, c := range []struct {
		name   string
		change func(s *robotSide)
		code   string
	}{
		{"overwritten", func(s *robotSide) { s.put("app/x86.tar", []byte("someone else's bundle, of another size")) }, deploy.CodeEtagMismatch},
		{"deleted", func(s *robotSide) { s.remove("app/x86.tar") }, deploy.CodeResourceNotFound},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := newRobotSide(t)
			ctx := t.Context()
			r := s.robot("r", fleet.X86_64, nil)
			j := s.deploy(nil, nil)
			if row := s.row(j.ARN, r.ARN); row.Status != fleet.RobotDeploying {
				t.Fatalf("row is %s before the change, want Deploying", row.Status)
			}
			c.change(s)
			before := s.wakes.engineWakes()
			w, err := s.robots.Poll(ctx, r, nil)
			must(t, err)
			if w.Assignment != nil {
				t.Fatalf("robot was sent to download a bundle that is not the version's: %+v", w.Assignment.Bundle)
			}
			row := s.row(j.ARN, r.ARN)
			if row.Status != fleet.RobotFailed || row.FailureCode != c.code {
				t.Fatalf("row = %s %s, want Failed %s", row.Status, row.FailureCode, c.code)
			}
			if s.wakes.engineWakes() == before {
				t.Fatal("failing a robot at assignment did not wake the engine")
			}
			s.settle()
			if got := s.job(j.ARN); got.Status != fleet.JobFailed || got.FailureCode != deploy.CodeThresholdBreached {
				t.Fatalf("job = %s %s, want Failed %s (1 of 1 failed)", got.Status, got.FailureCode, deploy.CodeThresholdBreached)
			}
		})
	}
}

// TestRobotsHandoutCheckedOncePerSecond: the robots of a job are handed
// one bundle check per architecture per second, not one each; a change is
// seen by the first hand-out after that second (and the agent's download,
// with If-Match and SHA-256, refuses the object meanwhile).
func TestRobotsHandoutCheckedOncePerSecond(t *testing.T) {
	s := newRobotSide(t)
	ctx := t.Context()
	a := s.robot("a", fleet.X86_64, nil)
	b := s.robot("b", fleet.X86_64, nil)
	c := s.robot("c", fleet.X86_64, nil)
	j := s.deploy(&deploy.ConfigInput{ConcurrentPercent: new(100), FailureThresholdPercent: new(100)}, nil)
	w, err := s.robots.Poll(ctx, a, nil)
	must(t, err)
	if w.Assignment == nil {
		t.Fatal("no assignment for the first robot")
	}
	s.put("app/x86.tar", []byte("someone else's bundle, of another size"))
	s.nowMs += 500
	if w, err := s.robots.Poll(ctx, b, nil); err != nil || w.Assignment == nil {
		t.Fatalf("second robot within the second: %+v, %v; want the checked hand-out", w, err)
	} else if w.Assignment.Bundle.ETag != etagOf(x86Bundle) {
		t.Fatalf("second robot handed ETag %s, want the version's %s", w.Assignment.Bundle.ETag, etagOf(x86Bundle))
	}
	s.nowMs += 600
	w, err = s.robots.Poll(ctx, c, nil)
	must(t, err)
	if w.Assignment != nil {
		t.Fatalf("a robot after the second was sent to download a changed bundle: %+v", w.Assignment.Bundle)
	}
	if row := s.row(j.ARN, c.ARN); row.Status != fleet.RobotFailed || row.FailureCode != deploy.CodeEtagMismatch {
		t.Fatalf("row = %s %s, want Failed %s", row.Status, row.FailureCode, deploy.CodeEtagMismatch)
	}
}

func TestRobotsDownloadCondition(t *testing.T) {
	s := newRobotSide(t)
	ctx := t.Context()
	cond := []byte("#!/bin/sh\nexit 0\n")
	s.put("cond.sh", cond)
	r := s.robot("r", fleet.X86_64, nil)
	s.deploy(&deploy.ConfigInput{DownloadCondition: &fleet.S3Path{Bucket: "bundles", Key: "cond.sh"}}, nil)
	w, err := s.robots.Poll(ctx, r, nil)
	must(t, err)
	dc := w.Assignment.DownloadCondition
	if dc == nil || dc.Key != "cond.sh" || dc.ETag != etagOf(cond) || dc.SHA256 != sha256Of(cond) {
		t.Fatalf("download condition %+v, want cond.sh with its ETag and SHA-256", dc)
	}
}

func TestPrepareFailsAJobWhoseEveryTargetFailed(t *testing.T) {
	s := newRobotSide(t)
	r := s.robot("armhf", fleet.ARMHF, nil) // the application has no ARMHF source
	j := s.deploy(&deploy.ConfigInput{FailureThresholdPercent: new(100)}, nil)
	if row := s.row(j.ARN, r.ARN); row.Status != fleet.RobotFailed || row.FailureCode != deploy.CodeMissingArch {
		t.Fatalf("row = %s %s, want Failed %s", row.Status, row.FailureCode, deploy.CodeMissingArch)
	}
	if got := s.job(j.ARN); got.Status != fleet.JobFailed || got.FailureCode != deploy.CodeThresholdBreached {
		t.Fatalf("job = %s %s, want Failed %s", got.Status, got.FailureCode, deploy.CodeThresholdBreached)
	}
}

func TestPrepareChecksEveryBundleOnce(t *testing.T) {
	s := newRobotSide(t)
	x86 := s.robot("x86", fleet.X86_64, nil)
	arm := s.robot("arm", fleet.ARM64, nil)
	s.put("app/arm.tar", []byte("changed after the version, before the job"))
	j := s.deploy(&deploy.ConfigInput{ConcurrentPercent: new(100), FailureThresholdPercent: new(100)}, nil)
	if row := s.row(j.ARN, arm.ARN); row.Status != fleet.RobotFailed || row.FailureCode != deploy.CodeEtagMismatch {
		t.Fatalf("ARM64 row = %s %s, want Failed %s", row.Status, row.FailureCode, deploy.CodeEtagMismatch)
	}
	if row := s.row(j.ARN, x86.ARN); row.Status != fleet.RobotDeploying {
		t.Fatalf("X86_64 row = %s, want Deploying", row.Status)
	}
}

func TestRobotsByAgent(t *testing.T) {
	s := newRobotSide(t)
	s.reg.Forget = s.robots
	ctx := t.Context()
	r := s.robot("r", fleet.X86_64, fleet.Tags{"k": "v"})
	if r.Tags != nil || r.FleetARN != "" || r.ARN == "" || r.Architecture != fleet.X86_64 {
		t.Fatalf("ByAgent = %+v: want the robot's unchanging identity only", r)
	}
	// Tags are read when work is handed out, so a tag set after the robot
	// was remembered reaches its next assignment.
	must(t, s.reg.TagResource(ctx, acct, r.ARN, fleet.Tags{"later": "yes"}))
	j := s.deploy(&deploy.ConfigInput{ConcurrentPercent: new(100), FailureThresholdPercent: new(100)}, fleet.Tags{"job": "j"})
	w, err := s.robots.Work(ctx, r, nil)
	must(t, err)
	if w.Assignment == nil || w.Assignment.Job.ARN != j.ARN {
		t.Fatalf("Work = %+v, want the job's assignment", w)
	}
	if tags := w.Assignment.Tags; tags["k"] != "v" || tags["later"] != "yes" || tags["job"] != "j" {
		t.Fatalf("assignment tags = %v, want the robot's (both) and the job's", tags)
	}
	// A deleted robot is refused from the next request on, although it
	// was remembered a moment ago.
	must(t, s.reg.DeleteRobot(ctx, acct, r.ARN))
	if _, err := s.robots.ByAgent(ctx, acct, "agent-r"); fleet.CodeOf(err) != fleet.NotFound {
		t.Fatalf("ByAgent of a deleted robot = %v, want NotFound", err)
	}
	_, err = s.robots.ByAgent(ctx, acct, "agent-nobody")
	if fleet.CodeOf(err) != fleet.NotFound {
		t.Fatalf("ByAgent of an unknown agent = %v, want NotFound", err)
	}
}

func TestCheckSource(t *testing.T) {
	s := newRobotSide(t)
	ctx := context.Background()
	bundles := s.robots.Bundles.For(acct)
	obj, err := deploy.CheckSource(ctx, bundles, "bundles", "app/x86.tar", etagOf(x86Bundle), true)
	must(t, err)
	if obj.ETag != etagOf(x86Bundle) || obj.SHA256 != sha256Of(x86Bundle) {
		t.Fatalf("CheckSource = %+v", obj)
	}
	if _, err := deploy.CheckSource(ctx, bundles, "bundles", "app/x86.tar", `"0123"`, false); !isSource(err, deploy.CodeEtagMismatch) {
		t.Fatalf("wrong ETag: %v, want %s", err, deploy.CodeEtagMismatch)
	}
	if _, err := deploy.CheckSource(ctx, bundles, "bundles", "nope.tar", "", false); !isSource(err, deploy.CodeResourceNotFound) {
		t.Fatalf("missing object: %v, want %s", err, deploy.CodeResourceNotFound)
	}
	// Another account, granted nothing, finds nothing: the very answer of
	// a missing object, with no ETag.
	stranger := s.robots.Bundles.For("210987654321")
	_, e1 := deploy.CheckSource(ctx, stranger, "bundles", "app/x86.tar", "", true)
	_, e2 := deploy.CheckSource(ctx, stranger, "bundles", "nope.tar", "", true)
	if !isSource(e1, deploy.CodeResourceNotFound) || strings.ReplaceAll(e1.Error(), "app/x86.tar", "nope.tar") != e2.Error() {
		t.Fatalf("another account's check of an existing object: %v; of a missing one: %v", e1, e2)
	}
	// The registry records ETag and digest through the same check.
	v, err := s.reg.DescribeApplication(ctx, acct, s.app.ARN, s.version)
	must(t, err)
	for _, src := range v.Sources {
		want := x86Bundle
		if src.Architecture == fleet.ARM64 {
			want = armBundle
		}
		if src.ETag != etagOf(want) || src.SHA256 != sha256Of(want) {
			t.Fatalf("version source %+v, want ETag %s SHA-256 %s", src, etagOf(want), sha256Of(want))
		}
	}
}

func isSource(err error, code string) bool {
	var se *deploy.SourceError
	return errors.As(err, &se) && se.Code == code
}

// TestEngineStartsRobotsAsFastAsTheNodeServesThem: with 100 % concurrency
// a pass starts only as many robots as the agent backlog leaves room for,
// and a node whose backlog stays full still starts MinStarts a second.
func TestEngineStartsRobotsAsFastAsTheNodeServesThem(t *testing.T) {
	s := newRobotSide(t)
	const n = 2*deploy.MinStarts + 30
	for i := range n {
		s.robot(fmt.Sprintf("r%03d", i), fleet.X86_64, nil)
	}
	var backlog atomic.Int64
	s.engine.AgentBacklog = func() int { return int(backlog.Load()) }
	deploying := func(j fleet.Job) int {
		t.Helper()
		c, err := s.st.Counts(t.Context(), j.ARN)
		must(t, err)
		return c[fleet.RobotDeploying]
	}

	backlog.Store(deploy.StartBacklog + 500) // the node is behind
	j := s.deploy(&deploy.ConfigInput{ConcurrentPercent: new(100), FailureThresholdPercent: new(100)}, nil)
	if got := deploying(j); got != deploy.MinStarts {
		t.Fatalf("%d robots deploying with the backlog full, want MinStarts = %d a second", got, deploy.MinStarts)
	}
	backlog.Store(deploy.StartBacklog - 3) // room for three
	s.settle()
	if got := deploying(j); got != deploy.MinStarts+3*5 {
		t.Fatalf("%d robots deploying after five passes with room for three each, want %d", got, deploy.MinStarts+15)
	}
	backlog.Store(deploy.StartBacklog)
	s.settle()
	if got := deploying(j); got != deploy.MinStarts+15 {
		t.Fatalf("%d robots deploying after passes within a second of a full backlog, want %d", got, deploy.MinStarts+15)
	}
	s.nowMs += time.Second.Milliseconds()
	s.settle()
	if got := deploying(j); got != 2*deploy.MinStarts+15 {
		t.Fatalf("%d robots deploying a second later, want %d", got, 2*deploy.MinStarts+15)
	}
	backlog.Store(0)
	s.settle()
	if got := deploying(j); got != n {
		t.Fatalf("%d robots deploying with the node idle, want all %d", got, n)
	}
}

// TestEnginePacingIsPerPass: two jobs advanced in one pass share its start
// budget, and a pass held back while the node had room asks for the next
// at once.
func TestEnginePacingIsPerPass(t *testing.T) {
	s := newRobotSide(t)
	ctx := t.Context()
	other, err := s.reg.CreateFleet(ctx, acct, "other", nil)
	must(t, err)
	const perFleet = 10
	for i := range perFleet {
		s.robot(fmt.Sprintf("a%02d", i), fleet.X86_64, nil)
		r, err := s.reg.CreateRobot(ctx, acct, fmt.Sprintf("b%02d", i), fleet.X86_64, fmt.Sprintf("agent-b%02d", i), nil)
		must(t, err)
		must(t, s.reg.RegisterRobot(ctx, acct, other.ARN, r.ARN))
	}
	var backlog atomic.Int64
	backlog.Store(deploy.StartBacklog - 3) // room for three
	s.engine.AgentBacklog = func() int { return int(backlog.Load()) }
	cfg := &deploy.ConfigInput{ConcurrentPercent: new(100), FailureThresholdPercent: new(100)}
	apps := []fleet.AppConfig{{Application: s.app.ARN, ApplicationVersion: s.version, LaunchConfig: fleet.LaunchConfig{PackageName: "p", LaunchFile: "run.sh"}}}
	var jobs []fleet.Job
	for i, f := range []string{s.fleet.ARN, other.ARN} {
		j, err := s.jobs.Create(ctx, acct, fmt.Sprintf("token-%d", i), f, apps, cfg, nil)
		must(t, err)
		jobs = append(jobs, j)
	}
	deploying := func() (n int) {
		t.Helper()
		for _, j := range jobs {
			c, err := s.st.Counts(ctx, j.ARN, fleet.RobotDeploying)
			must(t, err)
			n += c[fleet.RobotDeploying]
		}
		return n
	}
	// A job is prepared in one pass and advanced from the next, its
	// robots started then; whatever the passes do, together they start
	// three at most.
	before := 0
	for pass := 1; pass <= 4; pass++ {
		s.nowMs++
		s.engine.RunOnce(ctx)
		got := deploying()
		if got-before > 3 {
			t.Fatalf("pass %d started %d robots over the two jobs, want 3 at most: they share the pass's room", pass, got-before)
		}
		if got-before == 3 && !s.engine.TakeWake() {
			t.Fatalf("pass %d, held back by the node's room, did not ask for the next at once", pass)
		}
		before = got
	}
	if before < 6 {
		t.Fatalf("%d robots deploying after four passes with room for three each, want at least 6", before)
	}
	backlog.Store(deploy.StartBacklog) // full: the floor, more than the robots left
	s.nowMs++
	s.engine.RunOnce(ctx)
	if got := deploying(); got != 2*perFleet {
		t.Fatalf("%d robots deploying after the floor, want all %d", got, 2*perFleet)
	}
}

// TestRobotsHandoutErrorUsesNoAttempt: a poll that cannot build its
// assignment because the server cannot read (the bundle store is down)
// counts none of the robot's attempts. It used to count one per poll:
// three polls of an agent backing off used up the attempts and the robot
// failed, never having received the deployment.
func TestRobotsHandoutErrorUsesNoAttempt(t *testing.T) {
	s := newRobotSide(t)
	ctx := t.Context()
	s.robots.Retry = s.st // attempts counted, deploy.DefaultMaxAttempts of them
	r := s.robot("r", fleet.X86_64, nil)
	j := s.deploy(&deploy.ConfigInput{ConcurrentPercent: new(100)}, nil)
	s.storeDown.Store(true)
	for i := range deploy.DefaultMaxAttempts + 2 {
		s.nowMs += 2000 // past the hand-out cache's second
		if w, err := s.robots.Poll(ctx, r, nil); err == nil || w.Assignment != nil {
			t.Fatalf("poll %d with the bundle store down: %+v, %v; want an error", i, w, err)
		}
	}
	if attempts, _, err := s.st.RowAttempts(ctx, j.ARN, r.ARN); err != nil || attempts != 0 {
		t.Errorf("attempts after the outage = %d, %v; want 0", attempts, err)
	}
	s.storeDown.Store(false)
	s.nowMs += 2000
	w, err := s.robots.Poll(ctx, r, nil)
	must(t, err)
	if w.Assignment == nil {
		t.Fatalf("poll after the outage: %+v, want the assignment (row %+v)", w, s.row(j.ARN, r.ARN))
	}
	if attempts, _, err := s.st.RowAttempts(ctx, j.ARN, r.ARN); err != nil || attempts != 1 {
		t.Errorf("attempts once handed out = %d, %v; want 1", attempts, err)
	}
}
