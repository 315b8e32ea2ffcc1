package storetest

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/fleetsync/fleetsync/internal/fleet"
	"github.com/fleetsync/fleetsync/internal/store"
)

// jobFixture is a fleet with three robots and a job spec.
type jobFixture struct {
	fleet  fleet.Fleet
	robots []fleet.Robot
	spec   fleet.JobSpec
}

func newJobFixture(t *testing.T, s store.Store) jobFixture {
	ctx := t.Context()
	fx := jobFixture{fleet: newFleet(acct, "jobs", 1)}
	must(t, s.CreateFleet(ctx, fx.fleet, 10))
	for i := range 3 {
		r := newRobot(acct, fmt.Sprintf("jr%d", i), int64(10+i))
		must(t, s.CreateRobot(ctx, r, 10))
		must(t, s.RegisterRobot(ctx, acct, fx.fleet.ARN, r.ARN, 10))
		fx.robots = append(fx.robots, r)
	}
	fx.spec = fleet.JobSpec{
		Apps:   []fleet.AppConfig{{Application: "arn:app", ApplicationVersion: "1", LaunchConfig: fleet.LaunchConfig{PackageName: "p", LaunchFile: "l"}}},
		Config: fleet.DeploymentConfig{ConcurrentPercent: 50, FailureThresholdPercent: 50, RobotTimeoutSeconds: 60},
	}
	return fx
}

func (fx jobFixture) job(arn string, ms int64, op string) store.NewJob {
	return store.NewJob{
		Job:       fleet.Job{ARN: arn, Account: acct, Fleet: fx.fleet.ARN, Status: fleet.JobPending, Spec: fx.spec, CreatedMs: ms, Operation: op, Tags: fleet.Tags{}},
		Operation: op, ClientToken: "tok-" + arn, ParamsHash: "h",
	}
}

func testJobLifecycle(t *testing.T, s store.Store) {
	ctx := t.Context()
	fx := newJobFixture(t, s)
	nj := fx.job("arn:job1", 100, fleet.OpCreateDeploymentJob)
	must(t, s.CreateJob(ctx, nj, 10))
	wantErr(t, "same token", s.CreateJob(ctx, nj, 10), store.ErrExists)
	wantErr(t, "second active job", s.CreateJob(ctx, fx.job("arn:job2", 101, fleet.OpCreateDeploymentJob), 10), store.ErrConflict)
	got, hash, err := s.JobByToken(ctx, acct, fleet.OpCreateDeploymentJob, nj.ClientToken)
	must(t, err)
	if got.ARN != "arn:job1" || hash != "h" || got.Status != fleet.JobPending || got.Spec.Config.ConcurrentPercent != 50 {
		t.Fatalf("JobByToken = %+v, %q", got, hash)
	}
	_, _, err = s.JobByToken(ctx, acct, fleet.OpSyncDeploymentJob, nj.ClientToken)
	wantErr(t, "token of another operation", err, store.ErrNotFound)
	f, _ := s.GetFleet(ctx, acct, fx.fleet.ARN)
	if f.LastDeploymentJob != "arn:job1" || f.LastDeploymentStatus != fleet.JobPending {
		t.Errorf("fleet after create = %+v", f)
	}

	must(t, s.StartPreparing(ctx, "arn:job1"))
	rows := []fleet.RobotDeployment{
		{Robot: fx.robots[0].ARN, Seq: 0, Status: fleet.RobotPendingNewDeployment},
		{Robot: fx.robots[1].ARN, Seq: 1, Status: fleet.RobotPendingNewDeployment},
		{Robot: fx.robots[2].ARN, Seq: 2, Status: fleet.RobotFailed, FailureCode: "MissingRobotApplicationArchitecture"},
	}
	must(t, s.Prepare(ctx, "arn:job1", rows, store.JobOutcome{}, 200))
	wantErr(t, "prepare twice", s.Prepare(ctx, "arn:job1", rows, store.JobOutcome{}, 200), store.ErrConflict)
	j, err := s.GetJob(ctx, acct, "arn:job1")
	must(t, err)
	if j.Status != fleet.JobInProgress || j.Targets != 3 {
		t.Fatalf("prepared job = %+v", j)
	}
	counts, err := s.Counts(ctx, "arn:job1")
	must(t, err)
	if counts[fleet.RobotPendingNewDeployment] != 2 || counts[fleet.RobotFailed] != 1 {
		t.Errorf("counts = %v", counts)
	}
	_, err = s.CurrentAssignment(ctx, fx.robots[0].ARN)
	wantErr(t, "assignment before start", err, store.ErrNotFound)

	must(t, s.Apply(ctx, "arn:job1", store.Step{Start: []string{fx.robots[0].ARN, fx.robots[1].ARN}}, 300))
	as, err := s.CurrentAssignment(ctx, fx.robots[0].ARN)
	must(t, err)
	if as.Job.ARN != "arn:job1" || as.Row.Status != fleet.RobotDeploying || as.Row.StartedMs != 300 {
		t.Fatalf("assignment = %+v", as)
	}
	r0, _ := s.GetRobot(ctx, acct, fx.robots[0].ARN)
	if r0.Status != fleet.RobotDeploying || r0.LastDeploymentJob != "arn:job1" {
		t.Errorf("robot while deploying = %+v", r0)
	}
	pct := 42.0
	abort, err := s.RecordProgress(ctx, "arn:job1", fx.robots[0].ARN, "DownloadingExtracting", &pct, nil)
	must(t, err)
	if abort {
		t.Error("progress of a deploying robot answered abort")
	}
	// Progress may be batched: after a flush it is there.
	must(t, s.FlushProgress(ctx))
	if rows, err := s.Rows(ctx, "arn:job1", fleet.RobotDeploying, 10); err != nil || len(rows) != 2 || rows[0].Step != "DownloadingExtracting" || rows[0].PercentDone == nil || *rows[0].PercentDone != 42 {
		t.Errorf("rows after progress and flush = %+v, %v", rows, err)
	}
	abort, err = s.RecordResult(ctx, "arn:job1", fx.robots[0].ARN, store.Result{Success: true, NowMs: 400})
	must(t, err)
	if abort {
		t.Error("result of a deploying robot answered abort")
	}
	// A repeated result is idempotent.
	if abort, err = s.RecordResult(ctx, "arn:job1", fx.robots[0].ARN, store.Result{Success: true, NowMs: 401}); err != nil || abort {
		t.Errorf("repeated result = %v, %v", abort, err)
	}
	// A different outcome for a finished row changes nothing and answers
	// abort; so does a result for a row that does not exist.
	if abort, err = s.RecordResult(ctx, "arn:job1", fx.robots[0].ARN, store.Result{Code: "PreLaunchFileFailure", Reason: "late", NowMs: 402}); err != nil || !abort {
		t.Errorf("contrary result of a finished row = %v, %v, want abort", abort, err)
	}
	if abort, err = s.RecordResult(ctx, "arn:no-such-job", fx.robots[0].ARN, store.Result{Success: true, NowMs: 403}); err != nil || !abort {
		t.Errorf("result of no row = %v, %v, want abort", abort, err)
	}
	if r0, _ := s.GetRobot(ctx, acct, fx.robots[0].ARN); r0.Status != fleet.RobotInSync {
		t.Errorf("robot after a contrary late result = %s, want InSync", r0.Status)
	}
	// Robot 1 times out, then comes back and finishes: NoResponse → InSync.
	must(t, s.Apply(ctx, "arn:job1", store.Step{NoResponse: []store.RobotOutcome{{Robot: fx.robots[1].ARN, Code: "RobotDeploymentNoResponse"}}}, 500))
	as, err = s.CurrentAssignment(ctx, fx.robots[1].ARN)
	must(t, err)
	if as.Row.Status != fleet.RobotNoResponse {
		t.Errorf("timed-out robot's assignment = %+v", as.Row)
	}
	must(t, s.Apply(ctx, "arn:job1", store.Step{Finish: store.JobOutcome{Status: fleet.JobSucceeded}}, 600))
	f, _ = s.GetFleet(ctx, acct, fx.fleet.ARN)
	if f.LastDeploymentStatus != fleet.JobSucceeded {
		t.Errorf("fleet status after finish = %s", f.LastDeploymentStatus)
	}
	if _, err := s.RecordResult(ctx, "arn:job1", fx.robots[1].ARN, store.Result{Success: true, NowMs: 700}); err != nil {
		t.Fatal(err)
	}
	r1, _ := s.GetRobot(ctx, acct, fx.robots[1].ARN)
	if r1.Status != fleet.RobotInSync {
		t.Errorf("robot back from NoResponse = %s, want InSync", r1.Status)
	}

	// Sync targets: robot 2 failed; robots 0 and 1 run the spec.
	targets, err := s.SyncTargets(ctx, acct, fx.fleet.ARN, fx.spec.Fingerprint())
	must(t, err)
	if len(targets) != 1 || targets[0].ARN != fx.robots[2].ARN {
		t.Errorf("SyncTargets = %+v, want robot 2 only", targets)
	}
	other := fx.spec
	other.Apps = []fleet.AppConfig{{Application: "arn:app", ApplicationVersion: "2"}}
	targets, _ = s.SyncTargets(ctx, acct, fx.fleet.ARN, other.Fingerprint())
	if len(targets) != 3 {
		t.Errorf("SyncTargets for another spec = %d robots, want 3", len(targets))
	}
	src, err := s.SourceJob(ctx, acct, fx.fleet.ARN)
	must(t, err)
	if src.ARN != "arn:job1" {
		t.Errorf("SourceJob = %s", src.ARN)
	}
	wantErr(t, "cancel finished job", s.CancelJob(ctx, acct, "arn:job1", "RobotDeploymentAborted", "", 800), store.ErrConflict)
}

func testJobCancel(t *testing.T, s store.Store) {
	ctx := t.Context()
	fx := newJobFixture(t, s)
	must(t, s.CreateJob(ctx, fx.job("arn:c", 100, fleet.OpCreateDeploymentJob), 10))
	must(t, s.StartPreparing(ctx, "arn:c"))
	var rows []fleet.RobotDeployment
	for i, r := range fx.robots {
		rows = append(rows, fleet.RobotDeployment{Robot: r.ARN, Seq: i, Status: fleet.RobotPendingNewDeployment})
	}
	must(t, s.Prepare(ctx, "arn:c", rows, store.JobOutcome{}, 200))
	must(t, s.Apply(ctx, "arn:c", store.Step{Start: []string{fx.robots[0].ARN}}, 300))
	// Progress recorded before the cancel (perhaps still pending in a
	// batch) stays on the aborted row: the step it stopped in.
	if abort, err := s.RecordProgress(ctx, "arn:c", fx.robots[0].ARN, "Launching", nil, nil); err != nil || abort {
		t.Fatalf("progress before the cancel = %v, %v", abort, err)
	}
	// Robot 1's row was never started: its result is not the robot's to
	// send (abort), and the row stays as it was.
	for _, res := range []store.Result{{Success: true, NowMs: 350}, {Code: "PreLaunchFileFailure", Reason: "early", NowMs: 350}, {Status: fleet.RobotNoResponse, Code: "RobotDeploymentNoResponse", NowMs: 350}} {
		if abort, err := s.RecordResult(ctx, "arn:c", fx.robots[1].ARN, res); err != nil || !abort {
			t.Errorf("result %+v of a row not started = %v, %v; want abort", res, abort, err)
		}
	}
	if rows, _ := s.JobRobots(ctx, "arn:c"); rows[1].Status != fleet.RobotPendingNewDeployment {
		t.Errorf("a row not started after its robot's results = %+v", rows[1])
	}
	must(t, s.CancelJob(ctx, acct, "arn:c", "RobotDeploymentAborted", "canceled", 400))
	must(t, s.FlushProgress(ctx))
	j, _ := s.GetJob(ctx, acct, "arn:c")
	if j.Status != fleet.JobCanceled || j.FinishedMs != 400 {
		t.Errorf("canceled job = %+v", j)
	}
	all, _ := s.JobRobots(ctx, "arn:c")
	// Rows of any status ("") are the first in start order, up to the limit.
	if first, err := s.Rows(ctx, "arn:c", "", 1); err != nil || len(first) != 1 || len(all) < 2 || first[0].Robot != all[0].Robot {
		t.Errorf("Rows(any status, 1) = %+v, %v; want the first of %+v", first, err, all)
	}
	if both, err := s.Rows(ctx, "arn:c", "", 10); err != nil || len(both) != len(all) || both[1].Status != all[1].Status {
		t.Errorf("Rows(any status, 10) = %+v, %v; want every row of different statuses %+v", both, err, all)
	}
	if all[0].Status != fleet.RobotFailed || all[0].FailureCode != "RobotDeploymentAborted" || all[0].Step != "Launching" || all[1].Status != fleet.RobotPendingNewDeployment {
		t.Errorf("rows after cancel = %+v", all)
	}
	r1, _ := s.GetRobot(ctx, acct, fx.robots[1].ARN)
	if r1.Status != fleet.RobotRegistered {
		t.Errorf("never-started robot after cancel = %s, want its prior Registered", r1.Status)
	}
	if abort, _ := s.RecordProgress(ctx, "arn:c", fx.robots[0].ARN, "Launching", nil, nil); !abort {
		t.Error("progress of an aborted robot did not answer abort")
	}
	_, err := s.SourceJob(ctx, acct, fx.fleet.ARN)
	wantErr(t, "source job skips canceled", err, store.ErrNotFound)
	n, err := s.DeleteJobsFinishedBefore(ctx, 401)
	must(t, err)
	if n != 1 {
		t.Errorf("retention deleted %d jobs, want 1", n)
	}
	_, err = s.GetJob(ctx, acct, "arn:c")
	wantErr(t, "expired job", err, store.ErrNotFound)
}

// testConcurrentJobs races creates on one fleet: one job, the rest conflict
// (different tokens) or find the winner's token (same token).
func testConcurrentJobs(t *testing.T, s store.Store) {
	ctx := t.Context()
	fx := newJobFixture(t, s)
	const n = 20
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			errs[i] = s.CreateJob(ctx, fx.job(fmt.Sprintf("arn:race%d", i), 100, fleet.OpSyncDeploymentJob), 100)
		})
	}
	wg.Wait()
	won := 0
	for _, err := range errs {
		switch {
		case err == nil:
			won++
		case !errors.Is(err, store.ErrConflict):
			t.Errorf("racing job create: %v", err)
		}
	}
	if won != 1 {
		t.Errorf("%d of %d racing job creates succeeded, want 1", won, n)
	}
	active, err := s.ActiveJobs(ctx)
	must(t, err)
	if len(active) != 1 {
		t.Fatalf("ActiveJobs = %v, want the one winner", active)
	}
	ok1, err := s.AcquireLease(ctx, active[0], "a", 1000, 2000)
	must(t, err)
	ok2, _ := s.AcquireLease(ctx, active[0], "b", 1500, 2500)
	ok3, _ := s.AcquireLease(ctx, active[0], "b", 2001, 3000)
	if !ok1 || ok2 || !ok3 {
		t.Errorf("leases: a=%v, b before expiry=%v, b after=%v; want true, false, true", ok1, ok2, ok3)
	}
}

// testJobCancelEarly cancels jobs before they run: from Pending and from
// Preparing; neither writes rows or touches robots.
func testJobCancelEarly(t *testing.T, s store.Store) {
	ctx := t.Context()
	fx := newJobFixture(t, s)
	must(t, s.CreateJob(ctx, fx.job("arn:p", 100, fleet.OpCreateDeploymentJob), 10))
	must(t, s.CancelJob(ctx, acct, "arn:p", "RobotDeploymentAborted", "", 150))
	must(t, s.CreateJob(ctx, fx.job("arn:q", 200, fleet.OpCreateDeploymentJob), 10))
	must(t, s.StartPreparing(ctx, "arn:q"))
	must(t, s.CancelJob(ctx, acct, "arn:q", "RobotDeploymentAborted", "", 250))
	wantErr(t, "prepare after cancel", s.Prepare(ctx, "arn:q", nil, store.JobOutcome{}, 260), store.ErrConflict)
	for _, arn := range []string{"arn:p", "arn:q"} {
		j, err := s.GetJob(ctx, acct, arn)
		must(t, err)
		if j.Status != fleet.JobCanceled {
			t.Errorf("%s = %s, want Canceled", arn, j.Status)
		}
	}
	for _, r := range fx.robots {
		got, _ := s.GetRobot(ctx, acct, r.ARN)
		if got.Status != fleet.RobotRegistered {
			t.Errorf("robot after early cancels = %s, want Registered", got.Status)
		}
	}
	wantErr(t, "cancel other account", s.CancelJob(ctx, other, "arn:q", "x", "", 300), store.ErrNotFound)
}

// testPrepareLeavesOutRobotsGone checks that a robot deleted or
// deregistered between the targets' read and Prepare gets no row and
// keeps its status, and that the rows written are numbered without a gap
// (a canary of N waits for the rows numbered below N).
func testPrepareLeavesOutRobotsGone(t *testing.T, s store.Store) {
	ctx := t.Context()
	fx := newJobFixture(t, s)
	extra := newRobot(acct, "jr-gone", 20)
	must(t, s.CreateRobot(ctx, extra, 10))
	must(t, s.RegisterRobot(ctx, acct, fx.fleet.ARN, extra.ARN, 10))
	must(t, s.CreateJob(ctx, fx.job("arn:gone", 100, fleet.OpCreateDeploymentJob), 10))
	must(t, s.StartPreparing(ctx, "arn:gone"))
	targets := append(fx.robots[:3:3], extra)
	var rows []fleet.RobotDeployment
	for i, r := range targets {
		rows = append(rows, fleet.RobotDeployment{Robot: r.ARN, Seq: i, Status: fleet.RobotPendingNewDeployment})
	}
	// After the targets were read: robot 0 leaves the fleet, robot 1 is deleted.
	must(t, s.DeregisterRobot(ctx, acct, fx.fleet.ARN, fx.robots[0].ARN))
	must(t, s.DeleteRobot(ctx, acct, fx.robots[1].ARN))
	slices.Reverse(rows) // the order of Seq counts, not the order given
	must(t, s.Prepare(ctx, "arn:gone", rows, store.JobOutcome{}, 200))
	j, err := s.GetJob(ctx, acct, "arn:gone")
	must(t, err)
	got, err := s.JobRobots(ctx, "arn:gone")
	must(t, err)
	if j.Targets != 2 || len(got) != 2 || got[0].Robot != fx.robots[2].ARN || got[0].Seq != 0 || got[1].Robot != extra.ARN || got[1].Seq != 1 {
		t.Errorf("targets %d, rows %+v; want robot 2 and the extra robot numbered 0 and 1", j.Targets, got)
	}
	if r0, err := s.GetRobot(ctx, acct, fx.robots[0].ARN); err != nil || r0.Status != fleet.RobotAvailable || r0.LastDeploymentJob != "" {
		t.Errorf("the deregistered robot = %+v, %v; want Available and untouched", r0, err)
	}
}

// testFailJobOnlyWhilePreparing checks that a job-level failure found while
// preparing ends a job that is still Preparing, and is a conflict for one
// another replica prepared meanwhile (its rows would be left behind).
func testFailJobOnlyWhilePreparing(t *testing.T, s store.Store) {
	ctx := t.Context()
	fx := newJobFixture(t, s)
	must(t, s.CreateJob(ctx, fx.job("arn:fj0", 100, fleet.OpCreateDeploymentJob), 10))
	wantErr(t, "fail a Pending job", s.FailJob(ctx, "arn:fj0", "FleetDoesNotExist", "gone", 150), store.ErrConflict)
	must(t, s.StartPreparing(ctx, "arn:fj0"))
	must(t, s.FailJob(ctx, "arn:fj0", "FleetDoesNotExist", "gone", 160))
	if j, _ := s.GetJob(ctx, acct, "arn:fj0"); j.Status != fleet.JobFailed || j.FailureCode != "FleetDoesNotExist" {
		t.Errorf("a Preparing job after FailJob = %+v, want Failed FleetDoesNotExist", j)
	}
	must(t, s.CreateJob(ctx, fx.job("arn:fj", 200, fleet.OpCreateDeploymentJob), 10))
	must(t, s.StartPreparing(ctx, "arn:fj"))
	rows := []fleet.RobotDeployment{{Robot: fx.robots[0].ARN, Seq: 0, Status: fleet.RobotPendingNewDeployment}}
	must(t, s.Prepare(ctx, "arn:fj", rows, store.JobOutcome{}, 210))
	wantErr(t, "fail a prepared job", s.FailJob(ctx, "arn:fj", "FleetDoesNotExist", "gone", 250), store.ErrConflict)
	if j, _ := s.GetJob(ctx, acct, "arn:fj"); j.Status != fleet.JobInProgress {
		t.Errorf("a prepared job after a stale FailJob = %s, want InProgress", j.Status)
	}
}
