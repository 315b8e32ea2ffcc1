// The rollout controls of the web console (issue 16) in a real headless
// Chromium against a real fleetsyncd with simulated robots: the sync plan
// panel above the Sync button, the quarantine list and its Release button,
// and a job's Pause and Resume buttons; screenshots saved.
package e2e

//lint:file-ignore SA1019 aws-sdk-go v1 (deprecated) is the reference client fleetsync serves.

import (
	"context"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go/aws"
	"github.com/aws/aws-sdk-go/service/robomaker"
	"github.com/chromedp/chromedp"

	"github.com/fleetsync/fleetsync/internal/proto"
	"github.com/fleetsync/fleetsync/internal/sim"
	"github.com/fleetsync/fleetsync/internal/testenv"
)

// signIn signs the browser in with the bootstrap credential.
func signIn(t *testing.T, ctx context.Context, s *testenv.Server) {
	t.Helper()
	browse(t, ctx, "sign-in",
		chromedp.Navigate(s.URL+"/console/"),
		chromedp.WaitVisible("#access_key_id", chromedp.ByID),
		chromedp.SendKeys("#access_key_id", testenv.KeyID, chromedp.ByID),
		chromedp.SendKeys("#secret_access_key", testenv.Secret, chromedp.ByID),
		chromedp.Click("#signin", chromedp.ByID),
		chromedp.WaitVisible("#fleets", chromedp.ByID),
	)
}

func TestConsoleRolloutControlsInBrowser(t *testing.T) {
	t.Parallel()
	ctx := browser(t)
	s := startEngine(t, "--quarantine-after", "1", "--deploy-attempts", "1")
	r := newRollout(t, s, 3)
	if d, _ := r.wait(r.create(jobConfig{concurrent: 100, threshold: 100}), time.Minute); aws.StringValue(d.Status) != "Succeeded" {
		t.Fatalf("first job = %v", d)
	}
	// q fails the fleet's deployment once: with --quarantine-after 1 it is
	// quarantined. n joins afterwards and was never deployed.
	q := r.addRobots(1)[0]
	q.SetBehavior(sim.Behavior{FailAt: proto.StepLaunching, FailCode: proto.FailureEnvironmentSetup})
	if d, _ := r.wait(r.sync(), time.Minute); aws.StringValue(rows(d)[q.ARN].Status) != "Failed" {
		t.Fatalf("q's sync = %v", d)
	}
	n := r.addRobots(1)[0]
	signIn(t, ctx, s)

	var planSummary, reason, wave, download, excluded, quarantined string
	nRow := `tr[data-robot="` + n.ARN + `"]`
	browse(t, ctx, "the fleet page's plan and quarantine",
		chromedp.Navigate(s.URL+fleetPath(r.fleet)),
		chromedp.WaitVisible("#plan", chromedp.ByID),
		chromedp.Text("#plan-summary", &planSummary, chromedp.ByID),
		chromedp.Text("#plan-targets "+nRow+" td.reason", &reason, chromedp.ByQuery),
		chromedp.Text("#plan-targets "+nRow+" td.batch", &wave, chromedp.ByQuery),
		chromedp.Text("#plan-targets "+nRow+" td.bytes", &download, chromedp.ByQuery),
		chromedp.Text("#plan-excluded", &excluded, chromedp.ByID),
		chromedp.Text(`#quarantine tr[data-robot="`+q.ARN+`"] td.failures`, &quarantined, chromedp.ByQuery),
	)
	if !strings.Contains(planSummary, "1 robot(s)") || reason != "NeverDeployed" || wave != "1" || download == "" {
		t.Errorf("plan panel: %q; newcomer row reason %q wave %q download %q", planSummary, reason, wave, download)
	}
	if !strings.Contains(excluded, q.Name+" (Quarantined)") || quarantined != "1" {
		t.Errorf("plan leaves out %q; quarantine list shows %q failures, want q Quarantined with 1", excluded, quarantined)
	}
	screenshot(t, ctx, "console-fleet-plan-quarantine.png")

	// Release: the quarantine list empties and the plan takes q in.
	var qReason string
	browse(t, ctx, "release q",
		chromedp.Click(`#quarantine tr[data-robot="`+q.ARN+`"] button.release`, chromedp.ByQuery),
		chromedp.WaitVisible("#quarantine-empty", chromedp.ByID),
		chromedp.Text(`#plan-targets tr[data-robot="`+q.ARN+`"] td.reason`, &qReason, chromedp.ByQuery),
		chromedp.Text("#plan-summary", &planSummary, chromedp.ByID),
	)
	if qReason != "Failed:EnvironmentSetupError" || !strings.Contains(planSummary, "2 robot(s)") {
		t.Errorf("after release the plan shows q as %q, summary %q", qReason, planSummary)
	}
	screenshot(t, ctx, "console-fleet-released.png")

	// Pause and resume a job of the five robots, one at a time (window 1),
	// each held until released.
	for _, rb := range r.robots {
		rb.SetBehavior(sim.Behavior{Hang: true})
	}
	q.SetBehavior(sim.Behavior{Hang: true})
	job := r.create(jobConfig{concurrent: 1, threshold: 100})
	status := func(rb *simRobot) string { return "#job-robots tr[data-robot=\"" + rb.ARN + "\"] td.status" }
	first := r.robots[0]
	browse(t, ctx, "pause the job",
		chromedp.Navigate(s.URL+"/console/jobs/"+url.PathEscape(job)),
		chromedp.Poll(`(document.querySelector('`+status(first)+`') || {}).textContent === "Deploying"`, nil, chromedp.WithPollingTimeout(time.Minute)),
		chromedp.Click("#pause", chromedp.ByID),
		chromedp.WaitVisible("#resume", chromedp.ByID),
		chromedp.WaitVisible("#job-paused", chromedp.ByID),
	)
	// The robot deploying finishes; nobody else starts while paused.
	first.SetBehavior(sim.Behavior{})
	browse(t, ctx, "the deploying robot finishes while paused",
		chromedp.Poll(`(document.querySelector('`+status(first)+`') || {}).textContent === "InSync"`, nil, chromedp.WithPollingTimeout(time.Minute)),
	)
	time.Sleep(1500 * time.Millisecond)
	var jobStatus, paused string
	browse(t, ctx, "the paused job",
		chromedp.Text("#job-status", &jobStatus, chromedp.ByID),
		chromedp.Text("#job-paused", &paused, chromedp.ByID),
	)
	d, err := r.c.DescribeDeploymentJob(&robomaker.DescribeDeploymentJobInput{Job: aws.String(job)})
	must(t, err)
	if jobStatus != "InProgress" || paused != "paused" || countStatus(d, "Deploying") != 0 || countStatus(d, "PendingNewDeployment") != 4 {
		t.Errorf("paused job page says %q %q; rows %v", jobStatus, paused, summary(d))
	}
	screenshot(t, ctx, "console-job-paused.png")
	// Resumed (robots still held): the next robot starts, the badge goes.
	second := r.robots[1]
	browse(t, ctx, "resume the job",
		chromedp.Click("#resume", chromedp.ByID),
		chromedp.WaitVisible("#pause", chromedp.ByID),
		chromedp.Poll(`(document.querySelector('`+status(second)+`') || {}).textContent === "Deploying"`, nil, chromedp.WithPollingTimeout(time.Minute)),
		chromedp.Poll(`document.getElementById("job-paused").hidden`, nil, chromedp.WithPollingTimeout(time.Minute)),
	)
	screenshot(t, ctx, "console-job-resumed.png")
	for _, rb := range append(r.robots[1:], q) {
		rb.SetBehavior(sim.Behavior{})
	}
	browse(t, ctx, "the resumed job completes",
		chromedp.Poll(`document.getElementById("job-status").textContent === "Succeeded"`, nil, chromedp.WithPollingTimeout(time.Minute)),
	)
	screenshot(t, ctx, "console-job-resumed-done.png")
}
