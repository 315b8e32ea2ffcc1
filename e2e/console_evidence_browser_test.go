package e2e

//lint:file-ignore SA1019 aws-sdk-go v1 (deprecated) is the reference client fleetsync serves.

import (
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go/aws"
	"github.com/aws/aws-sdk-go/service/robomaker"
	"github.com/chromedp/chromedp"

	"github.com/fleetsync/fleetsync/internal/testenv"
)

// TestConsoleFailureOutputAndRobotLogInBrowser drives the console in a real
// Chromium against a real fleetsyncd and a real fleetsync-agent: a robot
// whose agent never connected shows so in the job page instead of a bare
// Deploying; a robot whose pre-launch file fails shows its one-line cause
// and, unfolded, the script's output; from the fleet page, the robot's
// application log is asked for and shown with the time it was taken.
// Screenshots are saved.
func TestConsoleFailureOutputAndRobotLogInBrowser(t *testing.T) {
	t.Parallel()
	ctx := browser(t)
	s := startEngine(t)
	f := newAgentFleet(t, s, "General")
	f.addAgent("ev", s.URL, nil)
	chatty := "#!/bin/sh\necho \"robot ev online, arm calibrated\"\necho \"battery 87%\"\nexec sleep 600\n"
	v1 := f.version(tarGz(t, map[string]bundleFile{"app/run.sh": {chatty, 0o755}}))
	if d := f.wait(f.deploy(v1, deployOpts{})); aws.StringValue(d.Status) != "Succeeded" {
		t.Fatalf("v1: %v", d)
	}
	// A robot created and registered whose agent never runs.
	ghost, err := f.c.CreateRobot(&robomaker.CreateRobotInput{Name: aws.String(uniq("ghost")), Architecture: aws.String(archName()),
		GreengrassGroupId: aws.String(newAgent(t, s.URL).ID)})
	must(t, err)
	_, err = f.c.RegisterRobot(&robomaker.RegisterRobotInput{Fleet: aws.String(f.fleet), Robot: ghost.Arn})
	must(t, err)

	browse(t, ctx, "sign in",
		chromedp.Navigate(s.URL+"/console/"),
		chromedp.WaitVisible("#access_key_id", chromedp.ByID),
		chromedp.SendKeys("#access_key_id", testenv.KeyID, chromedp.ByID),
		chromedp.SendKeys("#secret_access_key", testenv.Secret, chromedp.ByID),
		chromedp.Click("#signin", chromedp.ByID),
		chromedp.WaitVisible("#fleets", chromedp.ByID),
	)

	// The Sync targets the ghost, whose agent never connects.
	sync, err := f.c.SyncDeploymentJob(&robomaker.SyncDeploymentJobInput{Fleet: aws.String(f.fleet)})
	must(t, err)
	ghostStep := `#job-robots tr[data-robot="` + aws.StringValue(ghost.Arn) + `"] td.step`
	var agentState string
	browse(t, ctx, "the job page of a robot whose agent never connected",
		chromedp.Navigate(s.URL+"/console/jobs/"+url.PathEscape(aws.StringValue(sync.Arn))),
		chromedp.Poll(`(document.querySelector('`+ghostStep+`') || {}).textContent === "agent never connected to this server"`, nil,
			chromedp.WithPollingTimeout(30*time.Second)),
		chromedp.Text(ghostStep, &agentState, chromedp.ByQuery),
	)
	screenshot(t, ctx, "console-job-agent-never-connected.png")
	_, err = f.c.CancelDeploymentJob(&robomaker.CancelDeploymentJobInput{Job: aws.String(aws.StringValue(sync.Arn))})
	must(t, err)
	f.wait(aws.StringValue(sync.Arn))
	_, err = f.c.DeregisterRobot(&robomaker.DeregisterRobotInput{Fleet: aws.String(f.fleet), Robot: ghost.Arn})
	must(t, err)

	// A failing pre-launch file: the row shows the cause, the output unfolds.
	v2 := f.version(tarGz(t, map[string]bundleFile{"app/run.sh": {appScript("v2"), 0o755},
		"app/pre.sh": {"#!/bin/sh\necho 'checking /dev/ttyUSB0'\necho 'lidar not found on /dev/ttyUSB0' >&2\nexit 3\n", 0o755}}))
	job := f.deploy(v2, deployOpts{pre: "app/pre.sh"})
	row := `#job-robots tr[data-robot="` + f.arns["ev"] + `"]`
	var reason, output string
	browse(t, ctx, "a failed robot's cause and output",
		chromedp.Navigate(s.URL+"/console/jobs/"+url.PathEscape(job)),
		chromedp.Poll(`document.getElementById("job-status").textContent === "Failed"`, nil, chromedp.WithPollingTimeout(time.Minute)),
		chromedp.WaitVisible(row+" details.output summary", chromedp.ByQuery),
		chromedp.Click(row+" details.output summary", chromedp.ByQuery),
		chromedp.WaitVisible(row+" details.output pre", chromedp.ByQuery),
		chromedp.Text(row+" td.failure span.reason", &reason, chromedp.ByQuery),
		chromedp.Text(row+" details.output pre", &output, chromedp.ByQuery),
	)
	if reason != "PreLaunchFileFailure: pre-launch app/pre.sh exited 3: lidar not found on /dev/ttyUSB0" {
		t.Errorf("failed robot's reason = %q", reason)
	}
	if !strings.Contains(output, "checking /dev/ttyUSB0\nlidar not found on /dev/ttyUSB0") {
		t.Errorf("failed robot's output = %q", output)
	}
	screenshot(t, ctx, "console-job-failure-output.png")

	// The robot log, asked for from the fleet page.
	var taken, content string
	browse(t, ctx, "the robot's log on demand",
		chromedp.Navigate(s.URL+fleetPath(f.fleet)),
		chromedp.Click(`#robots tr[data-robot="`+f.arns["ev"]+`"] a.robot-log`, chromedp.ByQuery),
		chromedp.WaitVisible("#request-log", chromedp.ByID),
		chromedp.Click("#request-log", chromedp.ByID),
		chromedp.WaitVisible("#robot-log", chromedp.ByID),
		chromedp.Text("#log-taken", &taken, chromedp.ByID),
		chromedp.Text("#robot-log", &content, chromedp.ByID),
	)
	if !strings.Contains(content, "robot ev online, arm calibrated\nbattery 87%") {
		t.Errorf("robot log shown = %q", content)
	}
	if !strings.HasPrefix(taken, "Taken "+time.Now().UTC().Format("2006-01-02")) {
		t.Errorf("robot log's time = %q", taken)
	}
	screenshot(t, ctx, "console-robot-log.png")
}
