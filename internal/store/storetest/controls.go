package storetest

import (
	"errors"
	"testing"

	"github.com/fleetsync/fleetsync/internal/fleet"
	"github.com/fleetsync/fleetsync/internal/store"
)

// testJobPause: a pause is stored on the job, idempotent both ways, adds
// its length to the paused total on resume, makes Apply start nobody
// whatever the step says (the planner may have looked before the pause),
// is refused on a finished job and is invisible to another account.
func testJobPause(t *testing.T, s store.Store) {
	ctx := t.Context()
	fx := newJobFixture(t, s)
	must(t, s.CreateJob(ctx, fx.job("arn:p", 100, fleet.OpCreateDeploymentJob), 10))
	must(t, s.StartPreparing(ctx, "arn:p"))
	var rows []fleet.RobotDeployment
	for i, r := range fx.robots {
		rows = append(rows, fleet.RobotDeployment{Robot: r.ARN, Seq: i, Status: fleet.RobotPendingNewDeployment})
	}
	must(t, s.Prepare(ctx, "arn:p", rows, store.JobOutcome{}, 200))
	must(t, s.Apply(ctx, "arn:p", store.Step{Start: []string{fx.robots[0].ARN}}, 300))

	j, err := s.SetPaused(ctx, acct, "arn:p", true, 1000)
	must(t, err)
	if !j.Paused() || j.PausedMs != 1000 || j.PausedTotalMs != 0 || j.Status != fleet.JobInProgress {
		t.Fatalf("paused job = %+v", j)
	}
	if j, _ = s.SetPaused(ctx, acct, "arn:p", true, 1500); j.PausedMs != 1000 {
		t.Errorf("second pause moved the pause start to %d", j.PausedMs)
	}
	must(t, s.Apply(ctx, "arn:p", store.Step{Start: []string{fx.robots[1].ARN}}, 1600))
	if c, _ := s.Counts(ctx, "arn:p"); c[fleet.RobotDeploying] != 1 || c[fleet.RobotPendingNewDeployment] != 2 {
		t.Errorf("a paused job started a robot: counts %v", c)
	}
	// Deploying robots finish while paused.
	if _, err := s.RecordResult(ctx, "arn:p", fx.robots[0].ARN, store.Result{Success: true, NowMs: 1700}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.SetPaused(ctx, other, "arn:p", false, 2000); err != store.ErrNotFound {
		t.Errorf("resume from another account = %v, want ErrNotFound", err)
	}
	j, err = s.SetPaused(ctx, acct, "arn:p", false, 3000)
	must(t, err)
	if j.Paused() || j.PausedTotalMs != 2000 {
		t.Errorf("resumed job = %+v, want paused total 2000", j)
	}
	if j, _ = s.SetPaused(ctx, acct, "arn:p", false, 3500); j.PausedTotalMs != 2000 {
		t.Errorf("second resume changed the paused total to %d", j.PausedTotalMs)
	}
	must(t, s.Apply(ctx, "arn:p", store.Step{Start: []string{fx.robots[1].ARN}}, 3600))
	if c, _ := s.Counts(ctx, "arn:p"); c[fleet.RobotDeploying] != 1 || c[fleet.RobotInSync] != 1 {
		t.Errorf("after resume counts %v, want one deploying and one InSync", c)
	}
	// A second pause adds to the total.
	_, err = s.SetPaused(ctx, acct, "arn:p", true, 4000)
	must(t, err)
	if j, _ = s.SetPaused(ctx, acct, "arn:p", false, 4250); j.PausedTotalMs != 2250 {
		t.Errorf("paused total after two pauses = %d, want 2250", j.PausedTotalMs)
	}
	must(t, s.CancelJob(ctx, acct, "arn:p", "RobotDeploymentAborted", "canceled", 5000))
	if _, err := s.SetPaused(ctx, acct, "arn:p", true, 5100); err != store.ErrConflict {
		t.Errorf("pause of a finished job = %v, want ErrConflict", err)
	}
	if _, err := s.SetPaused(ctx, acct, "arn:nope", true, 5100); err != store.ErrNotFound {
		t.Errorf("pause of a missing job = %v, want ErrNotFound", err)
	}
}

// testCountsBefore: the canary's counts cover the rows below a Seq only.
func testCountsBefore(t *testing.T, s store.Store) {
	ctx := t.Context()
	fx := newJobFixture(t, s)
	must(t, s.CreateJob(ctx, fx.job("arn:cb", 100, fleet.OpCreateDeploymentJob), 10))
	must(t, s.StartPreparing(ctx, "arn:cb"))
	rows := []fleet.RobotDeployment{
		{Robot: fx.robots[0].ARN, Seq: 0, Status: fleet.RobotPendingNewDeployment},
		{Robot: fx.robots[1].ARN, Seq: 1, Status: fleet.RobotFailed, FailureCode: "MissingRobotApplicationArchitecture"},
		{Robot: fx.robots[2].ARN, Seq: 2, Status: fleet.RobotPendingNewDeployment},
	}
	must(t, s.Prepare(ctx, "arn:cb", rows, store.JobOutcome{}, 200))
	must(t, s.Apply(ctx, "arn:cb", store.Step{Start: []string{fx.robots[0].ARN}}, 300))
	for _, c := range []struct {
		seq  int
		want store.JobCounts
	}{
		{0, store.JobCounts{}},
		{1, store.JobCounts{fleet.RobotDeploying: 1}},
		{2, store.JobCounts{fleet.RobotDeploying: 1, fleet.RobotFailed: 1}},
		{9, store.JobCounts{fleet.RobotDeploying: 1, fleet.RobotFailed: 1, fleet.RobotPendingNewDeployment: 1}},
	} {
		got, err := s.CountsBefore(ctx, "arn:cb", c.seq)
		must(t, err)
		if len(got) != len(c.want) {
			t.Errorf("CountsBefore(%d) = %v, want %v", c.seq, got, c.want)
			continue
		}
		for k, v := range c.want {
			if got[k] != v {
				t.Errorf("CountsBefore(%d) = %v, want %v", c.seq, got, c.want)
			}
		}
	}
}

// testRetries: handouts are counted with compare-and-swap, a deferred
// retry keeps a Deploying row deploying with its retry time, and only a
// Deploying row can be deferred.
func testRetries(t *testing.T, s store.Store) {
	ctx := t.Context()
	fx := newJobFixture(t, s)
	must(t, s.CreateJob(ctx, fx.job("arn:rt", 100, fleet.OpCreateDeploymentJob), 10))
	must(t, s.StartPreparing(ctx, "arn:rt"))
	var rows []fleet.RobotDeployment
	for i, r := range fx.robots {
		rows = append(rows, fleet.RobotDeployment{Robot: r.ARN, Seq: i, Status: fleet.RobotPendingNewDeployment})
	}
	must(t, s.Prepare(ctx, "arn:rt", rows, store.JobOutcome{}, 200))
	must(t, s.Apply(ctx, "arn:rt", store.Step{Start: []string{fx.robots[0].ARN}}, 300))
	r0 := fx.robots[0].ARN
	if n, at, err := s.RowAttempts(ctx, "arn:rt", r0); err != nil || n != 0 || at != 0 {
		t.Fatalf("fresh row attempts = %d, %d, %v", n, at, err)
	}
	if ok, err := s.CountAttempt(ctx, "arn:rt", r0, 0); !ok || err != nil {
		t.Fatalf("first count = %v, %v", ok, err)
	}
	if ok, _ := s.CountAttempt(ctx, "arn:rt", r0, 0); ok {
		t.Error("a stale count (expect 0 after 1) succeeded")
	}
	if ok, err := s.DeferRetry(ctx, "arn:rt", r0, 5000); !ok || err != nil {
		t.Fatalf("defer = %v, %v", ok, err)
	}
	if n, at, _ := s.RowAttempts(ctx, "arn:rt", r0); n != 1 || at != 5000 {
		t.Errorf("after defer attempts = %d retry at %d, want 1 and 5000", n, at)
	}
	if as, err := s.CurrentAssignment(ctx, r0); err != nil || as.Row.Status != fleet.RobotDeploying {
		t.Errorf("deferred row's assignment = %+v, %v; want still Deploying", as.Row, err)
	}
	if ok, _ := s.DeferRetry(ctx, "arn:rt", fx.robots[1].ARN, 5000); ok {
		t.Error("a pending row was deferred")
	}
	if _, _, err := s.RowAttempts(ctx, "arn:rt", "arn:nope"); err != store.ErrNotFound {
		t.Errorf("attempts of a missing row = %v, want ErrNotFound", err)
	}
}

// testQuarantine: failures count per robot and deployment, the robot is
// quarantined at the setting, listed per account and fleet, and released.
func testQuarantine(t *testing.T, s store.Store) {
	ctx := t.Context()
	fx := newJobFixture(t, s)
	r0, r1 := fx.robots[0].ARN, fx.robots[1].ARN
	fail := func(robot, fp string) store.RobotFailures {
		t.Helper()
		f, err := s.RecordRobotFailure(ctx, store.RobotFailures{Account: acct, Robot: robot, Fingerprint: fp, LastJob: "arn:j",
			LastCode: "PreLaunchFileFailure", LastReason: "exit 1"}, 3, 1000)
		must(t, err)
		return f
	}
	if f := fail(r0, "A"); f.Failures != 1 || f.QuarantinedMs != 0 {
		t.Errorf("first failure = %+v", f)
	}
	fail(r0, "B") // another deployment counts apart
	fail(r0, "A")
	if q, _ := s.QuarantinedRobots(ctx, acct, ""); len(q) != 0 {
		t.Errorf("quarantined after 2 failures: %+v", q)
	}
	if f := fail(r0, "A"); f.Failures != 3 || f.QuarantinedMs != 1000 {
		t.Errorf("third failure = %+v, want quarantined at 1000", f)
	}
	fail(r1, "A")
	q, err := s.QuarantinedRobots(ctx, acct, fx.fleet.ARN)
	must(t, err)
	if len(q) != 1 || q[0].Robot != r0 || q[0].Fingerprint != "A" || q[0].LastCode != "PreLaunchFileFailure" {
		t.Errorf("fleet's quarantine = %+v", q)
	}
	if q, _ := s.QuarantinedRobots(ctx, other, ""); len(q) != 0 {
		t.Errorf("another account sees %+v", q)
	}
	if q, _ := s.QuarantinedRobots(ctx, acct, "arn:other-fleet"); len(q) != 0 {
		t.Errorf("another fleet lists %+v", q)
	}
	if c, err := s.ControlCounts(ctx); err != nil || c.QuarantinedRobots != 1 {
		t.Errorf("control counts = %+v, %v", c, err)
	}
	if was, _ := s.ReleaseRobot(ctx, other, r0); was {
		t.Error("another account released the robot")
	}
	if was, err := s.ReleaseRobot(ctx, acct, r0); !was || err != nil {
		t.Errorf("release = %v, %v", was, err)
	}
	if q, _ := s.QuarantinedRobots(ctx, acct, ""); len(q) != 0 {
		t.Errorf("after release: %+v", q)
	}
	if f := fail(r0, "A"); f.Failures != 1 {
		t.Errorf("after release the count starts over: %+v", f)
	}
}

// testDryRuns: robots' overlays replace what was stored and are listed per
// fleet; recent durations are the fleet's InSync rows, newest first.
func testDryRuns(t *testing.T, s store.Store) {
	ctx := t.Context()
	fx := newJobFixture(t, s)
	r0, r1 := fx.robots[0].ARN, fx.robots[1].ARN
	must(t, s.RecordOverlays(ctx, r0, []string{"a", "b"}, 10))
	must(t, s.RecordOverlays(ctx, r0, []string{"c"}, 20))
	must(t, s.RecordOverlays(ctx, r1, []string{}, 20))
	got, err := s.FleetOverlays(ctx, acct, fx.fleet.ARN)
	must(t, err)
	if len(got) != 2 || len(got[r0]) != 1 || got[r0][0] != "c" || len(got[r1]) != 0 {
		t.Errorf("fleet overlays = %v", got)
	}
	if o, _ := s.FleetOverlays(ctx, other, fx.fleet.ARN); len(o) != 0 {
		t.Errorf("another account sees %v", o)
	}
	must(t, s.CreateJob(ctx, fx.job("arn:dr", 100, fleet.OpCreateDeploymentJob), 10))
	must(t, s.StartPreparing(ctx, "arn:dr"))
	var rows []fleet.RobotDeployment
	for i, r := range fx.robots {
		rows = append(rows, fleet.RobotDeployment{Robot: r.ARN, Seq: i, Status: fleet.RobotPendingNewDeployment})
	}
	must(t, s.Prepare(ctx, "arn:dr", rows, store.JobOutcome{}, 200))
	must(t, s.Apply(ctx, "arn:dr", store.Step{Start: []string{r0, r1, fx.robots[2].ARN}}, 1000))
	if _, err := s.RecordResult(ctx, "arn:dr", r0, store.Result{Success: true, NowMs: 4000}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.RecordResult(ctx, "arn:dr", r1, store.Result{Success: true, NowMs: 2500}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.RecordResult(ctx, "arn:dr", fx.robots[2].ARN, store.Result{Code: "X", Reason: "x", NowMs: 3000}); err != nil {
		t.Fatal(err)
	}
	d, err := s.RecentDurations(ctx, acct, fx.fleet.ARN, 10)
	must(t, err)
	if len(d) != 2 || d[0] != 3000 || d[1] != 1500 {
		t.Errorf("recent durations = %v, want [3000 1500] (InSync only, newest first)", d)
	}
	if d, _ := s.RecentDurations(ctx, acct, fx.fleet.ARN, 1); len(d) != 1 {
		t.Errorf("limit 1 gave %v", d)
	}
}

// testRobotPoll: a poll's one read agrees with what CurrentAssignment,
// RowAttempts and PendingRobotLog say of the same robot, before any
// deployment, while it deploys (with the job's tags and the row's
// attempts), once it finished, and with a log request pending or answered.
func testRobotPoll(t *testing.T, s store.Store) {
	ctx := t.Context()
	fx := newJobFixture(t, s)
	r0, r1 := fx.robots[0].ARN, fx.robots[1].ARN
	poll := func(robot string) store.RobotPoll {
		t.Helper()
		p, err := s.RobotPoll(ctx, robot)
		must(t, err)
		return p
	}
	if p := poll(r0); p.Latest.Job != "" || p.Assignment != nil || p.Log != nil {
		t.Errorf("RobotPoll before any deployment = %+v", p)
	}
	if p, err := s.RobotPoll(ctx, "arn:nope"); err != nil || p.Latest.Job != "" || p.Assignment != nil || p.Log != nil {
		t.Errorf("RobotPoll of an unknown robot = %+v, %v; want nothing", p, err)
	}
	must(t, s.RequestRobotLog(ctx, r1, 2048, 1000, 5000))
	if p := poll(r1); p.Log == nil || p.Log.RequestedMs != 1000 || p.Log.MaxBytes != 2048 || p.Assignment != nil {
		t.Errorf("RobotPoll of a never-deployed robot with a log request = %+v", p)
	}

	nj := fx.job("arn:rp", 100, fleet.OpCreateDeploymentJob)
	nj.Job.Tags = fleet.Tags{"wave": "1"}
	must(t, s.CreateJob(ctx, nj, 10))
	must(t, s.StartPreparing(ctx, "arn:rp"))
	var rows []fleet.RobotDeployment
	for i, r := range fx.robots {
		rows = append(rows, fleet.RobotDeployment{Robot: r.ARN, Seq: i, Status: fleet.RobotPendingNewDeployment})
	}
	must(t, s.Prepare(ctx, "arn:rp", rows, store.JobOutcome{}, 200))
	if p := poll(r0); p.Latest.Job != "arn:rp" || p.Latest.Status != fleet.RobotPendingNewDeployment || p.Assignment != nil {
		t.Errorf("RobotPoll of a pending row = %+v; want the row and no assignment", p)
	}
	must(t, s.Apply(ctx, "arn:rp", store.Step{Start: []string{r0, r1}}, 300))
	if ok, err := s.CountAttempt(ctx, "arn:rp", r0, 0); !ok || err != nil {
		t.Fatalf("CountAttempt = %v, %v", ok, err)
	}
	if ok, err := s.DeferRetry(ctx, "arn:rp", r0, 7000); !ok || err != nil {
		t.Fatalf("DeferRetry = %v, %v", ok, err)
	}
	p := poll(r0)
	as, err := s.CurrentAssignment(ctx, r0)
	must(t, err)
	switch {
	case p.Assignment == nil:
		t.Fatalf("RobotPoll of a deploying row has no assignment: %+v", p)
	case p.Assignment.Job.ARN != "arn:rp" || p.Assignment.Job.Tags["wave"] != "1" || len(p.Assignment.Job.Spec.Apps) != 1:
		t.Errorf("RobotPoll's job = %+v; want arn:rp with its tags and spec", p.Assignment.Job)
	case p.Assignment.Attempts != 1 || p.Assignment.RetryAtMs != 7000:
		t.Errorf("RobotPoll's attempts = %d, retry at %d; want 1 and 7000", p.Assignment.Attempts, p.Assignment.RetryAtMs)
	case p.Latest.Status != fleet.RobotDeploying || p.Assignment.Row != p.Latest:
		t.Errorf("RobotPoll's row = %+v, assignment row %+v; want the Deploying row in both", p.Latest, p.Assignment.Row)
	case as.Job.ARN != p.Assignment.Job.ARN || as.Attempts != 1 || as.RetryAtMs != 7000 || as.Row != p.Assignment.Row:
		t.Errorf("CurrentAssignment = %+v; want RobotPoll's %+v", as, *p.Assignment)
	}
	if p := poll(r1); p.Assignment == nil || p.Log == nil || p.Log.RequestedMs != 1000 {
		t.Errorf("RobotPoll of a deploying robot with a log request = %+v", p)
	}
	must(t, s.PutRobotLog(ctx, store.RobotLog{Robot: r1, RequestedMs: 1000, TakenMs: 1500, Content: "x"}))
	if p := poll(r1); p.Log != nil {
		t.Errorf("RobotPoll after the log was answered = %+v; want no log request", p.Log)
	}

	if _, err := s.RecordResult(ctx, "arn:rp", r1, store.Result{Success: true, NowMs: 400}); err != nil {
		t.Fatal(err)
	}
	if p := poll(r1); p.Latest.Job != "arn:rp" || p.Latest.Status != fleet.RobotInSync || p.Assignment != nil {
		t.Errorf("RobotPoll of a finished row = %+v; want the InSync row and no assignment", p)
	}
	if _, err := s.CurrentAssignment(ctx, r1); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("CurrentAssignment of a finished row: %v, want ErrNotFound", err)
	}
}

// testCountsFollowRows: a job's Counts agree with its rows after every kind
// of write that changes them: preparation, starts, results, a silent
// robot, a cancel, and retention deleting the finished jobs, after which a
// job has no counts.
func testCountsFollowRows(t *testing.T, s store.Store) {
	ctx := t.Context()
	fx := newJobFixture(t, s)
	check := func(job, when string) {
		t.Helper()
		rows, _, err := s.JobRobotsSince(ctx, job, 0)
		must(t, err)
		want := store.JobCounts{}
		for _, r := range rows {
			want[r.Status]++
		}
		got, err := s.Counts(ctx, job)
		must(t, err)
		some, err := s.Counts(ctx, job, fleet.RobotDeploying, fleet.RobotFailed)
		must(t, err)
		for st, n := range some {
			if (st != fleet.RobotDeploying && st != fleet.RobotFailed) || n != want[st] {
				t.Errorf("%s: Counts(%s, Deploying, Failed) = %v, rows say %v", when, job, some, want)
				break
			}
		}
		if len(some) < min(want[fleet.RobotDeploying], 1)+min(want[fleet.RobotFailed], 1) {
			t.Errorf("%s: Counts(%s, Deploying, Failed) = %v, rows say %v", when, job, some, want)
		}
		for st, n := range want {
			if got[st] != n {
				t.Errorf("%s: Counts(%s) = %v, rows say %v", when, job, got, want)
				return
			}
		}
		for st, n := range got {
			if n != want[st] {
				t.Errorf("%s: Counts(%s) = %v, rows say %v", when, job, got, want)
				return
			}
		}
	}
	prepare := func(job string, ms int64) {
		must(t, s.CreateJob(ctx, fx.job(job, ms, fleet.OpCreateDeploymentJob), 10))
		check(job, "created")
		must(t, s.StartPreparing(ctx, job))
		var rows []fleet.RobotDeployment
		for i, r := range fx.robots {
			rows = append(rows, fleet.RobotDeployment{Robot: r.ARN, Seq: i, Status: fleet.RobotPendingNewDeployment})
		}
		must(t, s.Prepare(ctx, job, rows, store.JobOutcome{}, ms+1))
		check(job, "prepared")
	}
	prepare("arn:cf1", 100)
	r0, r1, r2 := fx.robots[0].ARN, fx.robots[1].ARN, fx.robots[2].ARN
	must(t, s.Apply(ctx, "arn:cf1", store.Step{Start: []string{r0, r1}}, 200))
	check("arn:cf1", "two started")
	if _, err := s.RecordResult(ctx, "arn:cf1", r0, store.Result{Success: true, NowMs: 300}); err != nil {
		t.Fatal(err)
	}
	check("arn:cf1", "one InSync")
	// The same result again changes nothing.
	if _, err := s.RecordResult(ctx, "arn:cf1", r0, store.Result{Success: true, NowMs: 310}); err != nil {
		t.Fatal(err)
	}
	check("arn:cf1", "a repeated result")
	must(t, s.Apply(ctx, "arn:cf1", store.Step{Start: []string{r2},
		NoResponse: []store.RobotOutcome{{Robot: r1, Code: "RobotAgentConnectionTimeout", Reason: "silent"}}}, 400))
	check("arn:cf1", "one silent, the last started")
	if _, err := s.RecordResult(ctx, "arn:cf1", r2, store.Result{Status: fleet.RobotFailed, Code: "PreLaunchFileFailure", Reason: "x", NowMs: 500}); err != nil {
		t.Fatal(err)
	}
	must(t, s.Apply(ctx, "arn:cf1", store.Step{Finish: store.JobOutcome{Status: fleet.JobFailed, Code: "x", Reason: "y"}}, 600))
	check("arn:cf1", "finished")

	prepare("arn:cf2", 700)
	must(t, s.Apply(ctx, "arn:cf2", store.Step{Start: []string{r0}}, 800))
	must(t, s.CancelJob(ctx, acct, "arn:cf2", "DeploymentJobCanceled", "canceled", 900))
	check("arn:cf2", "canceled")

	if _, err := s.DeleteJobsFinishedBefore(ctx, 1000); err != nil {
		t.Fatal(err)
	}
	for _, job := range []string{"arn:cf1", "arn:cf2"} {
		if c, err := s.Counts(ctx, job); err != nil || len(c) != 0 {
			t.Errorf("Counts(%s) after retention = %v, %v; want none", job, c, err)
		}
	}
}
