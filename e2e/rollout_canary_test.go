// Canary (issue 16) with real fleetsync-agent processes: a job tagged
// fleetsync:canary=1 deploys one robot first; when its application fails
// the health gate the job stops before any other robot starts, and when it
// passes the rest start only after it.
package e2e

//lint:file-ignore SA1019 aws-sdk-go v1 (deprecated) is the reference client fleetsync serves.

import (
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go/aws"
)

func TestCanaryFailureStopsJobBeforeOthersStart(t *testing.T) {
	t.Parallel()
	s := startEngine(t)
	f := newAgentFleet(t, s, "General")
	names := []string{"c0", "c1", "c2"} // created in this order: c0 is the job's first row
	for _, n := range names {
		f.addAgent(n, s.URL, nil)
	}
	r := &rollout{t: t, s: s, c: f.c}
	v1 := f.version(tarGz(t, map[string]bundleFile{"app/run.sh": {appScript("v1"), 0o755}}))
	if d := f.wait(f.deploy(v1, deployOpts{})); aws.StringValue(d.Status) != "Succeeded" {
		t.Fatalf("v1: %v", d)
	}
	pids := map[string]int{}
	for _, n := range names {
		pids[n] = f.pid(n)
	}

	// v2 dies 3 s after launch; the canary's 6 s health gate catches it.
	v2 := f.version(tarGz(t, map[string]bundleFile{"app/run.sh": {dyingApp("v2", "3"), 0o755}}))
	job := f.deploy(v2, deployOpts{tags: map[string]string{"fleetsync:canary": "1", "fleetsync:healthSeconds": "6"}})
	d := f.wait(job)
	if aws.StringValue(d.Status) != "Failed" || aws.StringValue(d.FailureCode) != "FailureThresholdBreached" ||
		!strings.Contains(aws.StringValue(d.FailureReason), "canary") {
		t.Fatalf("job with a failing canary = %s/%s %q, want Failed/FailureThresholdBreached naming the canary",
			aws.StringValue(d.Status), aws.StringValue(d.FailureCode), aws.StringValue(d.FailureReason))
	}
	byRobot := rows(d)
	if row := byRobot[f.arns["c0"]]; aws.StringValue(row.Status) != "Failed" || !strings.Contains(aws.StringValue(row.FailureReason), "health gate failed") {
		t.Errorf("canary row = %v, want Failed by the health gate", row)
	}
	for _, n := range names[1:] {
		row := byRobot[f.arns[n]]
		if aws.StringValue(row.Status) != "PendingNewDeployment" || row.DeploymentStartTime != nil {
			t.Errorf("robot %s after the canary failed: %v, want never started", n, row)
		}
		if got := r.robotStatus(f.arns[n]); got != "InSync" {
			t.Errorf("robot %s status = %s, want its prior InSync", n, got)
		}
		if f.pid(n) != pids[n] || !processAlive(pids[n]) || strings.Contains(f.read(n, "runs"), "v2") {
			t.Errorf("robot %s: application touched (pid %d → %d, runs %q)", n, pids[n], f.pid(n), f.read(n, "runs"))
		}
	}
	if c := r.control(job, ""); c.Canary == nil || *c.Canary != 1 || c.CanaryState != "failed" {
		t.Errorf("job view = %+v, want canary 1 failed", c)
	}
	eventually(t, 10*time.Second, "the canary's previous application restored", func() bool {
		return f.read("c0", "version") == "v1" && processAlive(f.pid("c0"))
	})

	t.Run("a passing canary opens the window after it", func(t *testing.T) {
		v3 := f.version(tarGz(t, map[string]bundleFile{"app/run.sh": {appScript("v3"), 0o755}}))
		job := f.deploy(v3, deployOpts{tags: map[string]string{"fleetsync:canary": "1", "fleetsync:healthSeconds": "2"}})
		d := f.wait(job)
		if aws.StringValue(d.Status) != "Succeeded" {
			t.Fatalf("job = %v", d)
		}
		byRobot := rows(d)
		canaryDone := aws.TimeValue(byRobot[f.arns["c0"]].DeploymentFinishTime)
		for _, n := range names[1:] {
			row := byRobot[f.arns[n]]
			if aws.StringValue(row.Status) != "InSync" || aws.TimeValue(row.DeploymentStartTime).Before(canaryDone) {
				t.Errorf("robot %s: %v; started before the canary finished at %v", n, row, canaryDone)
			}
		}
		if c := r.control(job, ""); c.CanaryState != "passed" {
			t.Errorf("job view = %+v, want canary passed", c)
		}
	})
}
