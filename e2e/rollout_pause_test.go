// Pause and resume of a running job (issue 16) over a real fleetsyncd with
// simulated robots speaking the agent protocol: the pause holds across a
// SIGKILL of fleetsyncd, robots deploying at the pause finish, nobody else
// starts until resume, and then the job completes.
package e2e

//lint:file-ignore SA1019 aws-sdk-go v1 (deprecated) is the reference client fleetsync serves.

import (
	"encoding/json"
	"net/http"
	"sort"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go/aws"
	"github.com/aws/aws-sdk-go/service/robomaker"

	"github.com/fleetsync/fleetsync/internal/sim"
)

// jobControls is the fleetsync view of a job (GET /fleetsync/v1/jobs/{jobArn}).
type jobControls struct {
	ARN           string   `json:"arn"`
	Status        string   `json:"status"`
	State         string   `json:"state"`
	PausedAt      *float64 `json:"pausedAt"`
	PausedSeconds float64  `json:"pausedSeconds"`
	HealthSeconds *int64   `json:"healthSeconds"`
	HealthFrom    string   `json:"healthSecondsFrom"`
	Canary        *int     `json:"canary"`
	CanaryState   string   `json:"canaryState"`
}

func jobPath(job string) string { return "/fleetsync/v1/jobs/" + escapeARN(job) }

// control calls a signed job endpoint ("" is the job's view, else "pause"
// or "resume") and decodes the answer, failing on anything but 200.
func (r *rollout) control(job, action string) jobControls {
	r.t.Helper()
	method, path := http.MethodGet, jobPath(job)
	if action != "" {
		method, path = http.MethodPost, path+"/"+action
	}
	resp := signedDo(r.t, r.s, method, path, nil)
	if resp.Status != http.StatusOK {
		r.t.Fatalf("%s %s = HTTP %d %s", method, path, resp.Status, resp.Body)
	}
	var c jobControls
	must(r.t, json.Unmarshal(resp.Body, &c))
	return c
}

// started returns the names of the robots that ever started job, sorted.
func (r *rollout) started(job string) []string {
	var out []string
	for _, sr := range r.robots {
		if count(sr.Started(), job) > 0 {
			out = append(out, sr.Name)
		}
	}
	sort.Strings(out)
	return out
}

func TestPauseResumeAcrossSIGKILL(t *testing.T) {
	t.Parallel()
	s := startEngine(t)
	r := newRollout(t, s, 6)
	for _, sr := range r.robots {
		sr.SetBehavior(sim.Behavior{Delay: 2 * time.Second})
	}
	job := r.create(jobConfig{concurrent: 33, threshold: 100}) // window 2 of 6

	// Pause as soon as the first two deploy.
	deadline := time.Now().Add(30 * time.Second)
	for len(r.started(job)) < 2 {
		if time.Now().After(deadline) {
			t.Fatalf("robots started: %v", r.started(job))
		}
		time.Sleep(5 * time.Millisecond)
	}
	c := r.control(job, "pause")
	if c.State != "paused" || c.Status != "InProgress" || c.PausedAt == nil {
		t.Fatalf("pause answered %+v", c)
	}
	first := r.started(job)
	if len(first) != 2 {
		t.Fatalf("robots started before the pause: %v, want the window of 2", first)
	}

	// The two finish while paused; the AWS API still says InProgress.
	d, _ := waitRows(r, job, func(d *robomaker.DescribeDeploymentJobOutput) bool {
		return countStatus(d, "InSync") == 2
	})
	if st := aws.StringValue(d.Status); st != "InProgress" {
		t.Fatalf("paused job on the AWS API = %s, want InProgress", st)
	}

	// Killed while paused, restarted on the same database: still paused.
	s.Kill()
	s.Restart()
	if c := r.control(job, ""); c.State != "paused" {
		t.Fatalf("after SIGKILL and restart the job is %+v, want paused", c)
	}
	// Long enough for the engine (50 ms ticks) and robots (1 s polls) to
	// have started someone if the pause did not hold.
	time.Sleep(3 * time.Second)
	if got := r.started(job); len(got) != 2 || got[0] != first[0] || got[1] != first[1] {
		t.Fatalf("robots started while paused: %v, want only %v", got, first)
	}
	d, err := r.c.DescribeDeploymentJob(&robomaker.DescribeDeploymentJobInput{Job: aws.String(job)})
	must(t, err)
	if st := aws.StringValue(d.Status); st != "InProgress" || countStatus(d, "Deploying") != 0 || countStatus(d, "PendingNewDeployment") != 4 {
		t.Fatalf("paused job = %s, rows %v", st, summary(d))
	}
	if m := scrape(t, s); m["fleetsync_paused_deployment_jobs"] != 1 {
		t.Errorf("fleetsync_paused_deployment_jobs = %v while paused, want 1", m["fleetsync_paused_deployment_jobs"])
	}
	// Another job on the fleet is still refused: a paused job is active.
	_, err = r.c.SyncDeploymentJob(&robomaker.SyncDeploymentJobInput{Fleet: aws.String(r.fleet)})
	if errCode(err) != "ConcurrentDeploymentException" {
		t.Fatalf("Sync beside a paused job = %v, want ConcurrentDeploymentException", err)
	}

	c = r.control(job, "resume")
	if c.State != "running" || c.PausedAt != nil || c.PausedSeconds < 3 {
		t.Fatalf("resume answered %+v", c)
	}
	if m := scrape(t, s); m["fleetsync_paused_deployment_jobs"] != 0 {
		t.Errorf("fleetsync_paused_deployment_jobs = %v after resume, want 0", m["fleetsync_paused_deployment_jobs"])
	}
	d, peak := r.wait(job, time.Minute)
	if aws.StringValue(d.Status) != "Succeeded" {
		t.Fatalf("job after resume = %s/%s", aws.StringValue(d.Status), aws.StringValue(d.FailureCode))
	}
	if peak > 2 {
		t.Errorf("%d robots deployed at once, window is 2", peak)
	}
	r.deployedExactlyOnce(job, d, 6)
	if c := r.control(job, ""); c.State != "finished" {
		t.Errorf("finished job's state = %q", c.State)
	}
	resp := signedDo(t, s, http.MethodPost, jobPath(job)+"/pause", nil)
	if resp.Status != http.StatusBadRequest || resp.Header.Get("x-amzn-ErrorType") != "InvalidParameterException" {
		t.Errorf("pause of a finished job = HTTP %d %s", resp.Status, resp.Body)
	}
}

// TestPauseEndpointsRefuseStrangers: another account's job answers as if it
// did not exist, an unsigned call is refused, a malformed ARN is a 400.
func TestPauseEndpointsRefuseStrangers(t *testing.T) {
	t.Parallel()
	s := startEngine(t)
	r := newRollout(t, s, 1)
	r.robots[0].SetBehavior(sim.Behavior{Hang: true})
	job := r.create(jobConfig{})
	keyID, secret := newAccount(t, s, "210987654321")
	req := rawRequest(t, s, http.MethodPost, jobPath(job)+"/pause", nil)
	signRaw(t, req, nil, keyID, secret, "us-east-1", time.Now())
	if resp := do(t, req); resp.Status != http.StatusBadRequest || resp.Header.Get("x-amzn-ErrorType") != "ResourceNotFoundException" {
		t.Errorf("other account's pause = HTTP %d %s", resp.Status, resp.Body)
	}
	if resp := do(t, rawRequest(t, s, http.MethodPost, jobPath(job)+"/pause", nil)); resp.Status != http.StatusForbidden {
		t.Errorf("unsigned pause = HTTP %d %s", resp.Status, resp.Body)
	}
	if resp := signedDo(t, s, http.MethodPost, "/fleetsync/v1/jobs/not-an-arn/pause", nil); resp.Status != http.StatusBadRequest ||
		resp.Header.Get("x-amzn-ErrorType") != "InvalidParameterException" {
		t.Errorf("malformed ARN = HTTP %d %s", resp.Status, resp.Body)
	}
	if c := r.control(job, ""); c.State != "running" {
		t.Errorf("job after refused pauses = %+v", c)
	}
}

// waitRows polls the job's description until ok holds.
func waitRows(r *rollout, job string, ok func(*robomaker.DescribeDeploymentJobOutput) bool) (*robomaker.DescribeDeploymentJobOutput, bool) {
	r.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		d, err := r.c.DescribeDeploymentJob(&robomaker.DescribeDeploymentJobInput{Job: aws.String(job)})
		must(r.t, err)
		if ok(d) {
			return d, true
		}
		if time.Now().After(deadline) {
			r.t.Fatalf("job %s never reached the wanted state: %s %v", job, aws.StringValue(d.Status), summary(d))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func countStatus(d *robomaker.DescribeDeploymentJobOutput, status string) int {
	n := 0
	for _, rd := range d.RobotDeploymentSummary {
		if aws.StringValue(rd.Status) == status {
			n++
		}
	}
	return n
}

// summary counts a description's rows by status.
func summary(d *robomaker.DescribeDeploymentJobOutput) map[string]int {
	m := map[string]int{}
	for _, rd := range d.RobotDeploymentSummary {
		m[aws.StringValue(rd.Status)]++
	}
	return m
}
