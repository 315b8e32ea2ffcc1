package storetest

import (
	"fmt"
	"testing"

	"github.com/fleetsync/fleetsync/internal/fleet"
	"github.com/fleetsync/fleetsync/internal/store"
)

// testReports checks the read-only views: last rows, auto-sync candidates
// and the status counts.
func testReports(t *testing.T, s store.Store) {
	ctx := t.Context()
	fx := newJobFixture(t, s)
	// A robot of the fixture's account in no fleet, and a fleet of another
	// account, tagged, with a registered robot.
	loose := newRobot(acct, "loose", 50)
	must(t, s.CreateRobot(ctx, loose, 10))
	of := newFleet(other, "auto", 60)
	must(t, s.CreateFleet(ctx, of, 10))
	or := newRobot(other, "r", 61)
	must(t, s.CreateRobot(ctx, or, 10))
	must(t, s.RegisterRobot(ctx, other, of.ARN, or.ARN, 10))
	must(t, s.TagResource(ctx, of.ARN, fleet.Tags{"fleetsync:autoSync": "TRUE"}, 50))
	must(t, s.TagResource(ctx, fx.fleet.ARN, fleet.Tags{"fleetsync:autoSync": "true"}, 50))

	cands, err := s.AutoSyncCandidates(ctx, "fleetsync:autoSync")
	must(t, err)
	if len(cands) != 2 || cands[0] != (fleet.TaggedFleet{Account: acct, ARN: fx.fleet.ARN, TagValue: "true", Registered: 3}) ||
		cands[1] != (fleet.TaggedFleet{Account: other, ARN: of.ARN, TagValue: "TRUE", Registered: 1}) {
		t.Errorf("AutoSyncCandidates = %+v, want both tagged fleets in creation order", cands)
	}
	if rows, err := s.LastRows(ctx, acct, fx.fleet.ARN); err != nil || len(rows) != 0 {
		t.Errorf("LastRows before any job = %v, %v", rows, err)
	}

	// A job deploys the fixture's robots: 0 succeeds, 1 fails, 2 is never started.
	must(t, s.CreateJob(ctx, fx.job("arn:rep", 100, fleet.OpCreateDeploymentJob), 10))
	must(t, s.StartPreparing(ctx, "arn:rep"))
	var rows []fleet.RobotDeployment
	for i, r := range fx.robots {
		rows = append(rows, fleet.RobotDeployment{Job: "arn:rep", Robot: r.ARN, Seq: i, Status: fleet.RobotPendingNewDeployment})
	}
	must(t, s.Prepare(ctx, "arn:rep", rows, store.JobOutcome{}, 200))
	must(t, s.Apply(ctx, "arn:rep", store.Step{Start: []string{fx.robots[0].ARN, fx.robots[1].ARN}}, 300))
	_, err = s.RecordResult(ctx, "arn:rep", fx.robots[0].ARN, store.Result{Success: true, NowMs: 400})
	must(t, err)
	_, err = s.RecordResult(ctx, "arn:rep", fx.robots[1].ARN, store.Result{Code: "EtagMismatch", Reason: "changed", NowMs: 400})
	must(t, err)
	must(t, s.Apply(ctx, "arn:rep", store.Step{Finish: store.JobOutcome{Status: fleet.JobFailed, Code: "FailureThresholdBreached"}}, 500))

	last, err := s.LastRows(ctx, acct, fx.fleet.ARN)
	must(t, err)
	if len(last) != 3 || last[0].Status != fleet.RobotInSync || last[1].Status != fleet.RobotFailed || last[1].FailureCode != "EtagMismatch" ||
		last[2].Status != fleet.RobotPendingNewDeployment || last[2].Robot != fx.robots[2].ARN {
		t.Errorf("LastRows = %+v", last)
	}
	// Robot 2 is Registered again (never reached): the fixture's fleet stays a candidate.
	cands, err = s.AutoSyncCandidates(ctx, "fleetsync:autoSync")
	must(t, err)
	if len(cands) != 2 || cands[0].Registered != 1 {
		t.Errorf("AutoSyncCandidates after the job = %+v, want both fleets, the fixture's with one Registered robot", cands)
	}
	must(t, s.DeregisterRobot(ctx, acct, fx.fleet.ARN, fx.robots[2].ARN))
	cands, err = s.AutoSyncCandidates(ctx, "fleetsync:autoSync")
	must(t, err)
	if len(cands) != 1 || cands[0].ARN != of.ARN {
		t.Errorf("AutoSyncCandidates without a Registered robot = %+v, want the other account's fleet only", cands)
	}

	counts, err := s.RobotStatusCounts(ctx)
	must(t, err)
	want := map[fleet.RobotStatus]int{fleet.RobotInSync: 1, fleet.RobotFailed: 1, fleet.RobotAvailable: 2, fleet.RobotRegistered: 1}
	for st, n := range want {
		if counts[st] != n {
			t.Errorf("RobotStatusCounts[%s] = %d, want %d (all: %v)", st, counts[st], n, counts)
		}
	}
	per, err := s.FleetStatusCounts(ctx, acct)
	must(t, err)
	if len(per) != 1 || per[fx.fleet.ARN][fleet.RobotInSync] != 1 || per[fx.fleet.ARN][fleet.RobotFailed] != 1 || len(per[fx.fleet.ARN]) != 2 {
		t.Errorf("FleetStatusCounts = %v", per)
	}

	// What each robot runs: its latest InSync row, through later jobs that
	// succeed (rep2) and fail (rep3) on it.
	installed := func(want ...string) {
		t.Helper()
		rows, err := s.InstalledRows(ctx, acct, fx.fleet.ARN)
		must(t, err)
		var got []string
		for _, r := range rows {
			if r.Status != fleet.RobotInSync {
				t.Errorf("InstalledRows has a %s row: %+v", r.Status, r)
			}
			got = append(got, r.Robot+"@"+r.Job)
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("InstalledRows = %v, want %v", got, want)
		}
	}
	installed(fx.robots[0].ARN + "@arn:rep")
	for i, outcome := range []bool{true, false} {
		arn := fmt.Sprintf("arn:rep%d", i+2)
		must(t, s.CreateJob(ctx, fx.job(arn, int64(600+100*i), fleet.OpCreateDeploymentJob), 10))
		must(t, s.StartPreparing(ctx, arn))
		must(t, s.Prepare(ctx, arn, []fleet.RobotDeployment{{Job: arn, Robot: fx.robots[0].ARN, Status: fleet.RobotPendingNewDeployment}}, store.JobOutcome{}, int64(610+100*i)))
		must(t, s.Apply(ctx, arn, store.Step{Start: []string{fx.robots[0].ARN}}, int64(620+100*i)))
		if !outcome {
			installed(fx.robots[0].ARN + "@arn:rep2") // deploying: still what it ran
		}
		_, err = s.RecordResult(ctx, arn, fx.robots[0].ARN, store.Result{Success: outcome, NowMs: int64(630 + 100*i)})
		must(t, err)
		must(t, s.Apply(ctx, arn, store.Step{Finish: store.JobOutcome{Status: fleet.JobSucceeded}}, int64(640+100*i)))
		installed(fx.robots[0].ARN + "@arn:rep2")
	}
	if rows, err := s.InstalledRows(ctx, other, fx.fleet.ARN); err != nil || len(rows) != 0 {
		t.Errorf("InstalledRows of another account = %v, %v", rows, err)
	}
}
