package storetest

import (
	"reflect"
	"slices"
	"testing"

	"github.com/fleetsync/fleetsync/internal/fleet"
	"github.com/fleetsync/fleetsync/internal/store"
)

// revisionView is what a reader of JobRobotsSince keeps: the rows read so
// far, each replaced by its latest read, and the next to pass.
type revisionView struct {
	job  string
	next int64
	rows map[string]fleet.RobotDeployment
}

// catchUp reads what changed since the view's last read, merges it and
// checks the view against a whole read of the job.
func (v *revisionView) catchUp(t *testing.T, s store.Store, after string) {
	t.Helper()
	changed, next, err := s.JobRobotsSince(t.Context(), v.job, v.next)
	must(t, err)
	if next < v.next {
		t.Fatalf("after %s: next went back from %d to %d", after, v.next, next)
	}
	if !slices.IsSortedFunc(changed, func(a, b fleet.RobotDeployment) int { return a.Seq - b.Seq }) {
		t.Errorf("after %s: changed rows are not in start order: %+v", after, changed)
	}
	for _, r := range changed {
		if r.Job != v.job {
			t.Errorf("after %s: a row of job %q", after, r.Job)
		}
		v.rows[r.Robot] = r
	}
	v.next = next
	all, err := s.JobRobots(t.Context(), v.job)
	must(t, err)
	if len(all) != len(v.rows) {
		t.Fatalf("after %s: the view holds %d rows, the job %d", after, len(v.rows), len(all))
	}
	for _, want := range all {
		if got := v.rows[want.Robot]; !reflect.DeepEqual(got, want) {
			t.Errorf("after %s: the view's row %+v, the store's %+v", after, got, want)
		}
	}
	// A store may read a job's rows for Describe otherwise than the rows
	// of a summary (sqlstore reads them from the driver): both say the same.
	listed, err := s.Rows(t.Context(), v.job, "", len(all)+1)
	must(t, err)
	if !reflect.DeepEqual(listed, all) {
		t.Errorf("after %s: JobRobots %+v, Rows %+v", after, all, listed)
	}
}

// testRowRevisions walks a job through every write that changes what a
// Describe shows of a row, catching up a view after each: a change
// JobRobotsSince missed leaves the view stale.
func testRowRevisions(t *testing.T, s store.Store) {
	ctx := t.Context()
	fx := newJobFixture(t, s)
	const job = "arn:rev"
	v := &revisionView{job: job, rows: map[string]fleet.RobotDeployment{}}
	must(t, s.CreateJob(ctx, fx.job(job, 100, fleet.OpCreateDeploymentJob), 10))
	v.catchUp(t, s, "create (no rows)")
	must(t, s.StartPreparing(ctx, job))
	var rows []fleet.RobotDeployment
	for i, r := range fx.robots {
		rows = append(rows, fleet.RobotDeployment{Robot: r.ARN, Seq: i, Status: fleet.RobotPendingNewDeployment})
	}
	must(t, s.Prepare(ctx, job, rows, store.JobOutcome{}, 200))
	v.catchUp(t, s, "prepare")
	v.catchUp(t, s, "nothing")
	r0, r1, r2 := fx.robots[0].ARN, fx.robots[1].ARN, fx.robots[2].ARN
	must(t, s.Apply(ctx, job, store.Step{Start: []string{r0, r1}}, 300))
	v.catchUp(t, s, "start")
	pct, eta := 10.0, int64(30)
	if _, err := s.RecordProgress(ctx, job, r0, "DownloadingExtracting", &pct, &eta); err != nil {
		t.Fatal(err)
	}
	must(t, s.FlushProgress(ctx))
	v.catchUp(t, s, "progress flush")
	if _, err := s.RecordProgress(ctx, job, r1, "Launching", nil, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := s.RecordResult(ctx, job, r1, store.Result{Code: "PostLaunchFileFailure", Reason: "exit 3", Step: "PostLaunch", NowMs: 350}); err != nil {
		t.Fatal(err)
	}
	v.catchUp(t, s, "failure with its step")
	if ok, err := s.DeferRetry(ctx, job, r0, 5000); !ok || err != nil {
		t.Fatalf("DeferRetry = %v, %v", ok, err)
	}
	v.catchUp(t, s, "retry deferred")
	must(t, s.Apply(ctx, job, store.Step{NoResponse: []store.RobotOutcome{{Robot: r0, Code: "RobotDeploymentNoResponse"}}}, 400))
	v.catchUp(t, s, "no response")
	if _, err := s.RecordResult(ctx, job, r0, store.Result{Success: true, NowMs: 450}); err != nil {
		t.Fatal(err)
	}
	v.catchUp(t, s, "success after no response")
	must(t, s.Apply(ctx, job, store.Step{Start: []string{r2}}, 500))
	if _, err := s.RecordProgress(ctx, job, r2, "Validating", nil, nil); err != nil {
		t.Fatal(err)
	}
	must(t, s.CancelJob(ctx, acct, job, "RobotDeploymentAborted", "canceled", 600))
	v.catchUp(t, s, "cancel")
	if v.rows[r2].Status != fleet.RobotFailed || v.rows[r2].Step != "Validating" {
		t.Errorf("the aborted row in the view = %+v", v.rows[r2])
	}
	// A second reader from the start sees the same.
	fresh := &revisionView{job: job, rows: map[string]fleet.RobotDeployment{}}
	fresh.catchUp(t, s, "a first read")
	// A job with no rows, and one that does not exist, read as empty.
	if got, _, err := s.JobRobotsSince(ctx, "arn:no-such-job", 0); err != nil || len(got) != 0 {
		t.Errorf("JobRobotsSince(no such job) = %+v, %v", got, err)
	}
}
