// Bounded retries and quarantine (issue 16) over a real fleetsyncd with
// simulated robots speaking the agent protocol: a transient failure is
// retried within the job with backoff up to the bound; a robot that fails
// the same deployment three times is quarantined, and a fleet with
// continuous sync does not redeploy it until an operator releases it.
package e2e

//lint:file-ignore SA1019 aws-sdk-go v1 (deprecated) is the reference client fleetsync serves.

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go/aws"
	"github.com/aws/aws-sdk-go/service/robomaker"

	"github.com/fleetsync/fleetsync/internal/proto"
	"github.com/fleetsync/fleetsync/internal/sim"
)

func TestTransientFailureRetriedWithinJob(t *testing.T) {
	t.Parallel()
	s := startEngine(t, "--retry-backoff", "1s", "--deploy-attempts", "3")
	r := newRollout(t, s, 2)
	flaky, broken := r.robots[0], r.robots[1]
	transient := sim.Behavior{FailAt: proto.StepDownloadingExtracting, FailCode: proto.FailureDownload}
	flaky.SetBehavior(transient)
	broken.SetBehavior(transient)
	began := time.Now()
	job := r.create(jobConfig{concurrent: 100, threshold: 100})
	eventually(t, 20*time.Second, "the flaky robot's first failure", func() bool { return len(flaky.Failed()) == 1 })
	flaky.SetBehavior(sim.Behavior{}) // the network is back
	d, _ := r.wait(job, time.Minute)
	byRobot := rows(d)
	if row := byRobot[flaky.ARN]; aws.StringValue(row.Status) != "InSync" || count(flaky.Started(), job) != 2 {
		t.Errorf("flaky robot: row %v after %d attempts, want InSync on the second", row, count(flaky.Started(), job))
	}
	row := byRobot[broken.ARN]
	if aws.StringValue(row.Status) != "Failed" || aws.StringValue(row.FailureCode) != proto.FailureDownload || count(broken.Started(), job) != 3 {
		t.Errorf("always failing robot: row %v after %d attempts, want Failed %s after 3", row, count(broken.Started(), job), proto.FailureDownload)
	}
	// Backoff 1 s then 2 s between the three attempts.
	if took := time.Since(began); took < 3*time.Second {
		t.Errorf("three attempts took %v, less than the 1 s + 2 s backoff", took)
	}
	if m := scrape(t, s); m["fleetsync_robot_retries_total"] != 3 {
		t.Errorf("fleetsync_robot_retries_total = %v, want 3 (1 flaky + 2 broken)", m["fleetsync_robot_retries_total"])
	}
}

// quarantineList is GET /fleetsync/v1/quarantine.
type quarantineList struct {
	Robots []struct {
		ARN               string  `json:"arn"`
		Failures          int     `json:"failures"`
		LastFailureCode   string  `json:"lastFailureCode"`
		LastDeploymentJob string  `json:"lastDeploymentJob"`
		QuarantinedAt     float64 `json:"quarantinedAt"`
	} `json:"robots"`
}

func (r *rollout) quarantined() quarantineList {
	r.t.Helper()
	resp := signedDo(r.t, r.s, http.MethodGet, "/fleetsync/v1/quarantine?fleet="+escapeARN(r.fleet), nil)
	if resp.Status != http.StatusOK {
		r.t.Fatalf("quarantine list = HTTP %d %s", resp.Status, resp.Body)
	}
	var q quarantineList
	must(r.t, json.Unmarshal(resp.Body, &q))
	return q
}

func TestQuarantineStopsContinuousSyncUntilReleased(t *testing.T) {
	t.Parallel()
	s := startEngine(t, "--quarantine-after", "3", "--deploy-attempts", "1")
	r := newRollout(t, s, 1)
	if d, _ := r.wait(r.create(jobConfig{concurrent: 100, threshold: 100}), time.Minute); aws.StringValue(d.Status) != "Succeeded" {
		t.Fatalf("first job: %v", d)
	}
	_, err := r.c.TagResource(&robomaker.TagResourceInput{ResourceArn: aws.String(r.fleet), Tags: map[string]*string{"fleetsync:autoSync": aws.String("true")}})
	must(t, err)
	q := r.addRobots(1)[0]
	q.SetBehavior(sim.Behavior{FailAt: proto.StepLaunching, FailCode: proto.FailureEnvironmentSetup})
	rejoin := func() {
		t.Helper()
		_, err := r.c.DeregisterRobot(&robomaker.DeregisterRobotInput{Fleet: aws.String(r.fleet), Robot: aws.String(q.ARN)})
		must(t, err)
		_, err = r.c.RegisterRobot(&robomaker.RegisterRobotInput{Fleet: aws.String(r.fleet), Robot: aws.String(q.ARN)})
		must(t, err)
	}
	// Continuous sync deploys the newcomer; it fails; rejoining makes it a
	// newcomer again, three times in all: the same deployment each time.
	for i := 1; i <= 3; i++ {
		if i > 1 {
			rejoin()
		}
		eventually(t, 30*time.Second, "failure "+string(rune('0'+i)), func() bool {
			return len(q.Failed()) == i && r.robotStatus(q.ARN) == "Failed"
		})
	}
	list := r.quarantined()
	if len(list.Robots) != 1 || list.Robots[0].ARN != q.ARN || list.Robots[0].Failures != 3 || list.Robots[0].LastFailureCode != "EnvironmentSetupError" {
		t.Fatalf("quarantine list = %+v, want the robot with 3 failures", list)
	}
	if m := scrape(t, s); m["fleetsync_quarantined_robots"] != 1 || m["fleetsync_robots_quarantined_total"] != 1 {
		t.Errorf("quarantine metrics = %v, %v, want 1, 1", m["fleetsync_quarantined_robots"], m["fleetsync_robots_quarantined_total"])
	}

	// Rejoined once more: continuous sync leaves it alone, drift says why.
	rejoin()
	jobsBefore := len(listJobs(t, r))
	time.Sleep(3 * time.Second) // many engine and auto-sync ticks (50 ms)
	if n := len(q.Started()); n != 3 {
		t.Fatalf("quarantined robot deployed again: %d starts", n)
	}
	if n := len(listJobs(t, r)); n != jobsBefore {
		t.Errorf("continuous sync started %d jobs for a quarantined robot", n-jobsBefore)
	}
	report, reasons := r.drift()
	if _, listed := reasons[q.ARN]; listed {
		t.Errorf("drift lists the quarantined robot as a Sync target: %+v", report)
	}
	if ex := r.excluded(); ex[q.ARN] != "Quarantined" {
		t.Errorf("drift's excluded robots = %v, want the robot as Quarantined", ex)
	}
	// A manual Sync leaves it out too (and has no other target).
	sync := r.sync()
	if d, _ := r.wait(sync, time.Minute); len(d.RobotDeploymentSummary) != 0 || aws.StringValue(d.Status) != "Succeeded" {
		t.Errorf("manual Sync beside a quarantined robot = %s with %d rows", aws.StringValue(d.Status), len(d.RobotDeploymentSummary))
	}

	// Released: continuous sync deploys it at once (it is a newcomer).
	q.SetBehavior(sim.Behavior{})
	resp := signedDo(t, s, http.MethodPost, "/fleetsync/v1/quarantine/"+escapeARN(q.ARN)+"/release", nil)
	if resp.Status != http.StatusOK {
		t.Fatalf("release = HTTP %d %s", resp.Status, resp.Body)
	}
	r.waitRobot(q.ARN, "InSync", 30*time.Second)
	if len(r.quarantined().Robots) != 0 {
		t.Error("robot still listed after release")
	}
	resp = signedDo(t, s, http.MethodPost, "/fleetsync/v1/quarantine/"+escapeARN(q.ARN)+"/release", nil)
	if resp.Status != http.StatusBadRequest || resp.Header.Get("x-amzn-ErrorType") != "InvalidParameterException" {
		t.Errorf("second release = HTTP %d %s, want InvalidParameterException", resp.Status, resp.Body)
	}
	if m := scrape(t, s); m["fleetsync_quarantined_robots"] != 0 {
		t.Errorf("fleetsync_quarantined_robots after release = %v", m["fleetsync_quarantined_robots"])
	}
}

// excluded returns the drift report's excluded robots with their reasons.
func (r *rollout) excluded() map[string]string {
	r.t.Helper()
	resp := signedDo(r.t, r.s, http.MethodGet, driftPath(r.fleet), nil)
	var d struct {
		Excluded []struct {
			ARN    string `json:"arn"`
			Reason string `json:"reason"`
		} `json:"excluded"`
	}
	must(r.t, json.Unmarshal(resp.Body, &d))
	out := map[string]string{}
	for _, x := range d.Excluded {
		out[x.ARN] = x.Reason
	}
	return out
}

// TestAgentRestartMidStepRetriedThenBounded: a real agent SIGKILLed during
// its pre-launch script is handed the deployment again when it comes back
// and finishes it; with the attempts used up, the next restart fails the
// robot instead of starting it over forever.
func TestAgentRestartMidStepRetriedThenBounded(t *testing.T) {
	t.Parallel()
	s := startEngine(t, "--deploy-attempts", "2", "--retry-backoff", "200ms")
	f := newAgentFleet(t, s, "General")
	a := f.addAgent("r1", s.URL, nil)
	pre := "#!/bin/sh\necho run >> \"$OUT/pre.runs\"\nsleep 2\n"
	v1 := f.version(tarGz(t, map[string]bundleFile{"app/run.sh": {appScript("v1"), 0o755}, "pre.sh": {pre, 0o755}}))
	preRuns := func() int { return len(strings.Fields(f.read("pre", "runs"))) }

	job := f.deploy(v1, deployOpts{pre: "pre.sh"})
	eventually(t, 30*time.Second, "pre-launch started", func() bool { return preRuns() == 1 })
	a.Kill()
	a.Start()
	d := f.wait(job)
	if row := rows(d)[f.arns["r1"]]; aws.StringValue(row.Status) != "InSync" || preRuns() != 2 {
		t.Fatalf("after one restart mid-step: row %v, pre-launch ran %d times; want InSync on the second attempt", row, preRuns())
	}

	job = f.deploy(v1, deployOpts{pre: "pre.sh", env: map[string]string{"AGAIN": "1"}})
	for i := 3; i <= 4; i++ {
		eventually(t, 30*time.Second, "pre-launch started again", func() bool { return preRuns() == i })
		a.Kill()
		a.Start()
	}
	d = f.wait(job)
	row := rows(d)[f.arns["r1"]]
	if aws.StringValue(row.Status) != "Failed" || aws.StringValue(row.FailureCode) != "InternalServerError" ||
		!strings.Contains(aws.StringValue(row.FailureReason), "handed out 2 times") {
		t.Fatalf("after the attempts ran out: row %v", row)
	}
	if preRuns() != 4 {
		t.Errorf("pre-launch ran %d times, want 4 (2 per job)", preRuns())
	}
}
