package storetest

import (
	"testing"

	"github.com/fleetsync/fleetsync/internal/fleet"
	"github.com/fleetsync/fleetsync/internal/store"
)

// testFleetDeletedMidDeployment: a robot whose fleet is deleted (or that is
// deregistered) while a job deploys to it ends Available, in no fleet,
// whatever the job then records for it (issue 14: it ended InSync with no
// fleet). A robot deregistered before the job started it, and the job then
// stopped, is not given back its prior Registered either. The job's row
// still tells what happened.
func testFleetDeletedMidDeployment(t *testing.T, s store.Store) {
	ctx := t.Context()
	fx := newJobFixture(t, s)
	must(t, s.CreateJob(ctx, fx.job("arn:gone", 100, fleet.OpCreateDeploymentJob), 10))
	must(t, s.StartPreparing(ctx, "arn:gone"))
	var rows []fleet.RobotDeployment
	for i, r := range fx.robots {
		rows = append(rows, fleet.RobotDeployment{Job: "arn:gone", Robot: r.ARN, Seq: i, Status: fleet.RobotPendingNewDeployment})
	}
	must(t, s.Prepare(ctx, "arn:gone", rows, store.JobOutcome{}, 200))
	must(t, s.Apply(ctx, "arn:gone", store.Step{Start: []string{fx.robots[0].ARN}}, 300))
	// Robot 2 leaves the fleet while it waits; then the fleet is deleted
	// while robot 0 deploys; robot 1 is started after the deletion.
	must(t, s.DeregisterRobot(ctx, acct, fx.fleet.ARN, fx.robots[2].ARN))
	must(t, s.DeleteFleet(ctx, acct, fx.fleet.ARN))
	must(t, s.Apply(ctx, "arn:gone", store.Step{Start: []string{fx.robots[1].ARN}}, 350))
	if _, err := s.RecordResult(ctx, "arn:gone", fx.robots[0].ARN, store.Result{Success: true, NowMs: 400}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.RecordResult(ctx, "arn:gone", fx.robots[1].ARN, store.Result{Code: "EtagMismatch", Reason: "changed", NowMs: 400}); err != nil {
		t.Fatal(err)
	}
	must(t, s.Apply(ctx, "arn:gone", store.Step{Finish: store.JobOutcome{Status: fleet.JobFailed, Code: "FailureThresholdBreached"}}, 500))
	for i, r := range fx.robots {
		got, err := s.GetRobot(ctx, acct, r.ARN)
		must(t, err)
		if got.Status != fleet.RobotAvailable || got.FleetARN != "" {
			t.Errorf("robot %d after its fleet was deleted mid-deployment: status %s, fleet %q; want Available in no fleet", i, got.Status, got.FleetARN)
		}
	}
	jrows, err := s.JobRobots(ctx, "arn:gone")
	must(t, err)
	if len(jrows) != 3 || jrows[0].Status != fleet.RobotInSync || jrows[1].Status != fleet.RobotFailed {
		t.Errorf("job rows %+v, want robot 0's row InSync and robot 1's Failed", jrows)
	}
}
