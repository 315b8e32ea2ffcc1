package deploy_test

import (
	"testing"

	"github.com/fleetsync/fleetsync/internal/fleet"
	"github.com/fleetsync/fleetsync/internal/store"
)

// TestProgressFlushKeepsAnAgentsNoResponse: a replica that batched a
// robot's progress flushes it after another replica recorded the robot's
// agent giving up at its own deadline: the row keeps the step the agent
// gave up in, not the older progress.
func TestProgressFlushKeepsAnAgentsNoResponse(t *testing.T) {
	for name, open := range map[string]opener{"SQLite": sqliteReplicas, "PostgreSQL": postgresReplicas} {
		t.Run(name, func(t *testing.T) {
			a, b := open(t)
			ctx := t.Context()
			w := newWorld(t, a)
			slow := w.addRobot("slow")
			j, err := w.svc.Create(ctx, acct, "second", w.fleet, w.apps, nil, nil)
			must(t, err)
			w.prepare(j.ARN)
			must(t, a.Apply(ctx, j.ARN, store.Step{Start: []string{slow}}, w.tick()))
			if _, err := a.RecordProgress(ctx, j.ARN, slow, "Launching", nil, nil); err != nil {
				t.Fatal(err)
			}
			if _, err := b.RecordResult(ctx, j.ARN, slow, store.Result{Status: fleet.RobotNoResponse, Code: "RobotDeploymentNoResponse",
				Reason: "robot deployment timeout reached", Step: "ExecutingPostLaunch", NowMs: w.tick()}); err != nil {
				t.Fatal(err)
			}
			must(t, a.FlushProgress(ctx))
			rows, err := a.JobRobots(ctx, j.ARN)
			must(t, err)
			for _, r := range rows {
				if r.Robot == slow && (r.Status != fleet.RobotNoResponse || r.Step != "ExecutingPostLaunch") {
					t.Errorf("row after the flush = %s at %s, want NoResponse at ExecutingPostLaunch", r.Status, r.Step)
				}
			}
		})
	}
}
