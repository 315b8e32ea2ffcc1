package storetest

import (
	"errors"
	"testing"

	"github.com/fleetsync/fleetsync/internal/fleet"
	"github.com/fleetsync/fleetsync/internal/store"
)

// testFailureEvidence checks that a failed result keeps its status, step
// and output, that a timed-out row stays NoResponse when the agent's own
// deadline reports the same, and that the output goes with the job.
func testFailureEvidence(t *testing.T, s store.Store) {
	ctx := t.Context()
	fx := newJobFixture(t, s)
	must(t, s.CreateJob(ctx, fx.job("arn:ev", 100, fleet.OpCreateDeploymentJob), 10))
	must(t, s.StartPreparing(ctx, "arn:ev"))
	var rows []fleet.RobotDeployment
	for i, r := range fx.robots {
		rows = append(rows, fleet.RobotDeployment{Job: "arn:ev", Robot: r.ARN, Seq: i, Status: fleet.RobotPendingNewDeployment})
	}
	must(t, s.Prepare(ctx, "arn:ev", rows, store.JobOutcome{}, 200))
	must(t, s.Apply(ctx, "arn:ev", store.Step{Start: []string{fx.robots[0].ARN, fx.robots[1].ARN, fx.robots[2].ARN}}, 300))
	// Robot 0's last progress said Validating; its failure was in pre-launch.
	_, err := s.RecordProgress(ctx, "arn:ev", fx.robots[0].ARN, "Validating", nil, nil)
	must(t, err)
	_, err = s.RecordResult(ctx, "arn:ev", fx.robots[0].ARN, store.Result{Status: fleet.RobotFailed, Code: "PreLaunchFileFailure",
		Reason: "pre-launch app/pre.sh exited 3: boom", Step: "ExecutingPreLaunch", Output: "line 1\nboom\n", NowMs: 400})
	must(t, err)
	// Robot 1 times out at the engine, then its agent's deadline reports it.
	_, err = s.RecordProgress(ctx, "arn:ev", fx.robots[1].ARN, "ExecutingPreLaunch", nil, nil)
	must(t, err)
	must(t, s.Apply(ctx, "arn:ev", store.Step{NoResponse: []store.RobotOutcome{{Robot: fx.robots[1].ARN, Code: "RobotDeploymentNoResponse", Reason: "timeout"}}}, 500))
	abort, err := s.RecordResult(ctx, "arn:ev", fx.robots[1].ARN, store.Result{Status: fleet.RobotNoResponse, Code: "RobotDeploymentNoResponse",
		Reason: "agent deadline", Step: "ExecutingPreLaunch", Output: "sleeping\n", NowMs: 510})
	must(t, err)
	if abort {
		t.Error("the agent's own timeout report after the engine's was answered abort")
	}
	// Robot 2, still deploying, is not a failure yet.
	if fails, err := s.Failures(ctx, "arn:ev", 0, 10); err != nil || len(fails) != 2 || fails[1].Robot != fx.robots[1].ARN {
		t.Errorf("Failures while robot 2 deploys = %+v, %v", fails, err)
	}
	// Robot 2's agent reports its deadline first.
	_, err = s.RecordResult(ctx, "arn:ev", fx.robots[2].ARN, store.Result{Status: fleet.RobotNoResponse, Code: "RobotDeploymentNoResponse",
		Reason: "agent deadline", Step: "Launching", NowMs: 520})
	must(t, err)

	// Neither timed-out robot whose agent gave up is sent the job again.
	for _, r := range fx.robots[1:] {
		if _, err := s.CurrentAssignment(ctx, r.ARN); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("CurrentAssignment of a robot whose agent gave up: %v, want ErrNotFound", err)
		}
	}
	got, err := s.JobRobots(ctx, "arn:ev")
	must(t, err)
	want := []struct {
		status     fleet.RobotStatus
		code, step string
		reason     string
	}{
		{fleet.RobotFailed, "PreLaunchFileFailure", "ExecutingPreLaunch", "pre-launch app/pre.sh exited 3: boom"},
		{fleet.RobotNoResponse, "RobotDeploymentNoResponse", "ExecutingPreLaunch", "timeout"},
		{fleet.RobotNoResponse, "RobotDeploymentNoResponse", "Launching", "agent deadline"},
	}
	for i, w := range want {
		r := got[i]
		if r.Status != w.status || r.FailureCode != w.code || r.Step != w.step || r.FailureReason != w.reason {
			t.Errorf("row %d = %s %s %s %q; want %+v", i, r.Status, r.FailureCode, r.Step, r.FailureReason, w)
		}
	}
	all := []string{fx.robots[0].ARN, fx.robots[1].ARN, fx.robots[2].ARN}
	outs, err := s.FailureOutputs(ctx, "arn:ev", all)
	must(t, err)
	if len(outs) != 2 || outs[fx.robots[0].ARN] != "line 1\nboom\n" || outs[fx.robots[1].ARN] != "sleeping\n" {
		t.Errorf("FailureOutputs = %q", outs)
	}
	if outs, err := s.FailureOutputs(ctx, "arn:ev", all[1:2]); err != nil || len(outs) != 1 || outs[fx.robots[1].ARN] != "sleeping\n" {
		t.Errorf("FailureOutputs of one robot = %q, %v", outs, err)
	}
	// Failures pages through the rows that did not succeed, in start
	// order, with their outputs.
	var paged []store.Failure
	for from := 0; ; {
		page, err := s.Failures(ctx, "arn:ev", from, 2)
		must(t, err)
		paged = append(paged, page...)
		if len(page) < 2 {
			break
		}
		from = page[len(page)-1].Seq + 1
	}
	if len(paged) != 3 || paged[0].Robot != all[0] || paged[0].Output != "line 1\nboom\n" || paged[0].Step != "ExecutingPreLaunch" ||
		paged[1].Robot != all[1] || paged[1].Output != "sleeping\n" || paged[2].Robot != all[2] || paged[2].Output != "" || paged[2].Status != fleet.RobotNoResponse {
		t.Errorf("Failures, two a page = %+v", paged)
	}
	if rest, err := s.Failures(ctx, "arn:ev", paged[2].Seq+1, 10); err != nil || len(rest) != 0 {
		t.Errorf("Failures after the last = %+v, %v", rest, err)
	}
	// The output goes when the job does.
	must(t, s.Apply(ctx, "arn:ev", store.Step{Finish: store.JobOutcome{Status: fleet.JobFailed, Code: "FailureThresholdBreached"}}, 600))
	if _, err := s.DeleteJobsFinishedBefore(ctx, 700); err != nil {
		t.Fatal(err)
	}
	if outs, err := s.FailureOutputs(ctx, "arn:ev", all); err != nil || len(outs) != 0 {
		t.Errorf("FailureOutputs after the job was deleted = %q, %v", outs, err)
	}
}

// testRobotLogs checks the log request cycle: request, rate limit,
// pending, answer (once), read back, and a new request replacing it.
func testRobotLogs(t *testing.T, s store.Store) {
	ctx := t.Context()
	fx := newJobFixture(t, s)
	r := fx.robots[0].ARN
	if _, err := s.GetRobotLog(ctx, r); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetRobotLog before any request: %v", err)
	}
	if _, err := s.PendingRobotLog(ctx, r); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("PendingRobotLog before any request: %v", err)
	}
	must(t, s.RequestRobotLog(ctx, r, 4096, 1000, 5000))
	if err := s.RequestRobotLog(ctx, r, 4096, 3000, 5000); !errors.Is(err, store.ErrConflict) {
		t.Errorf("a second request within the gap: %v, want ErrConflict", err)
	}
	p, err := s.PendingRobotLog(ctx, r)
	must(t, err)
	if p.RequestedMs != 1000 || p.MaxBytes != 4096 {
		t.Errorf("PendingRobotLog = %+v", p)
	}
	if err := s.PutRobotLog(ctx, store.RobotLog{Robot: r, RequestedMs: 999, TakenMs: 1500, Content: "x"}); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("an answer to another request: %v, want ErrNotFound", err)
	}
	must(t, s.PutRobotLog(ctx, store.RobotLog{Robot: r, RequestedMs: 1000, TakenMs: 1500, Content: "hello\n"}))
	if err := s.PutRobotLog(ctx, store.RobotLog{Robot: r, RequestedMs: 1000, TakenMs: 1600, Content: "again"}); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("a second answer: %v, want ErrNotFound", err)
	}
	if _, err := s.PendingRobotLog(ctx, r); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("PendingRobotLog after the answer: %v", err)
	}
	l, err := s.GetRobotLog(ctx, r)
	must(t, err)
	if l != (store.RobotLog{Robot: r, RequestedMs: 1000, MaxBytes: 4096, TakenMs: 1500, Content: "hello\n"}) {
		t.Errorf("GetRobotLog = %+v", l)
	}
	must(t, s.RequestRobotLog(ctx, r, 1024, 7000, 5000))
	if l, err := s.GetRobotLog(ctx, r); err != nil || l.TakenMs != 0 || l.Content != "" || l.MaxBytes != 1024 {
		t.Errorf("GetRobotLog after a new request = %+v, %v", l, err)
	}
	if _, err := s.GetRobotLog(ctx, fx.robots[1].ARN); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("another robot's log: %v", err)
	}
}
