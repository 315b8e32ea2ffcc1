package sqlstore

import (
	"context"
	"log/slog"
	"path/filepath"
	"testing"

	"github.com/fleetsync/fleetsync/internal/fleet"
	"github.com/fleetsync/fleetsync/internal/store"
)

// BenchmarkAgentPollReads measures the store reads behind one agent poll
// of a robot that is deploying: who signed (RobotByAgent) and what it must
// do (CurrentAssignment). Run: go test -run '^$' -bench AgentPollReads ./internal/store/sqlstore/
func BenchmarkAgentPollReads(b *testing.B) {
	ctx := context.Background()
	s, err := OpenSQLite(ctx, filepath.Join(b.TempDir(), "bench.db"), slog.New(slog.DiscardHandler))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	const acct = "123456789012"
	f := fleet.Fleet{ARN: "arn:aws:robomaker:us-east-1:" + acct + ":fleet/f/1", Account: acct, Name: "f", CreatedMs: 1, Tags: fleet.Tags{}}
	r := fleet.Robot{ARN: "arn:aws:robomaker:us-east-1:" + acct + ":robot/r/1", Account: acct, Name: "r", Architecture: fleet.ARM64,
		AgentID: "fsa1-bench", Status: fleet.RobotAvailable, CreatedMs: 1, Tags: fleet.Tags{"team": "blue"}}
	must := func(err error) {
		if err != nil {
			b.Fatal(err)
		}
	}
	must(s.CreateFleet(ctx, f, 10))
	must(s.CreateRobot(ctx, r, 10))
	must(s.RegisterRobot(ctx, acct, f.ARN, r.ARN, 10))
	spec := fleet.JobSpec{
		Apps:   []fleet.AppConfig{{Application: "arn:app", ApplicationVersion: "1", LaunchConfig: fleet.LaunchConfig{PackageName: "p", LaunchFile: "l"}}},
		Config: fleet.DeploymentConfig{ConcurrentPercent: 100, FailureThresholdPercent: 50, RobotTimeoutSeconds: 60},
	}
	job := "arn:aws:robomaker:us-east-1:" + acct + ":deployment-job/j"
	must(s.CreateJob(ctx, store.NewJob{Job: fleet.Job{ARN: job, Account: acct, Fleet: f.ARN, Status: fleet.JobPending, Spec: spec,
		CreatedMs: 2, Operation: fleet.OpCreateDeploymentJob, Tags: fleet.Tags{}}, Operation: fleet.OpCreateDeploymentJob, ClientToken: "t", ParamsHash: "h"}, 10))
	must(s.StartPreparing(ctx, job))
	must(s.Prepare(ctx, job, []fleet.RobotDeployment{{Robot: r.ARN, Seq: 0, Status: fleet.RobotPendingNewDeployment}}, store.JobOutcome{}, 3))
	must(s.Apply(ctx, job, store.Step{Start: []string{r.ARN}}, 4))

	for _, mode := range []struct {
		name          string
		parseEachTime bool
	}{{"parsed each time", true}, {"prepared once", false}} {
		b.Run(mode.name, func(b *testing.B) {
			s.parseEachTime = mode.parseEachTime
			b.ReportAllocs()
			for b.Loop() {
				got, err := s.RobotByAgent(ctx, "", "fsa1-bench")
				if err != nil || got.Tags["team"] != "blue" {
					b.Fatalf("RobotByAgent = %+v, %v", got, err)
				}
				as, err := s.CurrentAssignment(ctx, r.ARN)
				if err != nil || as.Job.ARN != job {
					b.Fatalf("CurrentAssignment = %+v, %v", as, err)
				}
			}
		})
	}
}
