package agentapi_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/fleetsync/fleetsync/internal/deploy"
	"github.com/fleetsync/fleetsync/internal/fleet"
	"github.com/fleetsync/fleetsync/internal/proto"
)

// TestAgentEndpointFailureEvidenceAndLogs: a failed result's code must be
// one the cause table has, its step is the table's, its reason one bounded
// line and its output kept; an operator's log request reaches the robot's
// next poll and its answer is kept once.
func TestAgentEndpointFailureEvidenceAndLogs(t *testing.T) {
	e := newEndpoint(t)
	ctx := t.Context()
	priv := newAgent(t)
	f, r := e.registeredRobot(priv)
	app, err := e.reg.CreateApplication(ctx, acct, "app", []fleet.Source{{Bucket: "b", Key: "app.tar", Architecture: fleet.X86_64}}, fleet.SoftwareSuite{Name: "General"}, nil)
	must(t, err)
	v, err := e.reg.CreateApplicationVersion(ctx, acct, app.ARN, nil, nil)
	must(t, err)
	j, err := e.jobs.Create(ctx, acct, "t", f.ARN, []fleet.AppConfig{{Application: app.ARN, ApplicationVersion: v.Version,
		LaunchConfig: fleet.LaunchConfig{PackageName: "p", LaunchFile: "run.sh", PreLaunchFile: "p/pre.sh"}}}, nil, nil)
	must(t, err)
	e.engine.RunOnce(ctx)
	var resp proto.PollResponse
	if st := e.call(priv, proto.PathPoll, proto.PollRequest{}, &resp); st != http.StatusOK || resp.Assignment == nil {
		t.Fatalf("poll: %d %+v", st, resp)
	}
	// The robot's last progress report said Validating.
	if st := e.call(priv, proto.PathReport, proto.Report{DeploymentJob: j.ARN, Step: proto.StepValidating}, nil); st != http.StatusOK {
		t.Fatalf("progress: %d", st)
	}
	if st := e.call(priv, proto.PathReport, proto.Report{DeploymentJob: j.ARN, Step: proto.StepExecutingPreLaunch, Result: proto.ResultFailed,
		FailureCode: "MadeUpFailure"}, nil); st != http.StatusBadRequest {
		t.Fatalf("a failure code no cause has: %d, want 400", st)
	}
	output := strings.Repeat("noise\n", 5000) + "the last line\n"
	if st := e.call(priv, proto.PathReport, proto.Report{DeploymentJob: j.ARN, Step: proto.StepValidating, Result: proto.ResultFailed,
		FailureCode: proto.FailurePreLaunchFile, FailureReason: "pre-launch p/pre.sh exited 3:\n" + strings.Repeat("x", 900), // ≤ 1,024: longer is a 400 (hostile_test.go)
		FailureOutput: output}, nil); st != http.StatusOK {
		t.Fatalf("failed result: %d", st)
	}
	_, fails, next, err := e.ev.JobFailures(ctx, acct, j.ARN, 0, deploy.MaxFailuresPage)
	must(t, err)
	if len(fails) != 1 || next != -1 {
		t.Fatalf("JobFailures = %+v, next %d", fails, next)
	}
	got := fails[0]
	if got.Status != fleet.RobotFailed || got.FailureCode != proto.FailurePreLaunchFile || got.Step != string(proto.StepExecutingPreLaunch) ||
		len(got.FailureReason) > 1024 || strings.Contains(got.FailureReason, "\n") || !strings.HasPrefix(got.FailureReason, "pre-launch p/pre.sh exited 3: x") {
		t.Errorf("row = %s %s %s %q", got.Status, got.FailureCode, got.Step, got.FailureReason[:40])
	}
	if len(got.Output) > deploy.MaxFailureOutput || !strings.HasSuffix(got.Output, "the last line\n") || !strings.HasPrefix(got.Output, "noise\n") {
		t.Errorf("output: %d bytes, ends %q", len(got.Output), got.Output[len(got.Output)-20:])
	}
	if outs, err := e.ev.FailureOutputs(ctx, acct, j.ARN, []string{r.ARN}); err != nil || outs[r.ARN] != got.Output {
		t.Errorf("FailureOutputs of the failed robot: %d bytes, %v", len(outs[r.ARN]), err)
	}
	if _, _, _, err := e.ev.JobFailures(ctx, "999999999999", j.ARN, 0, 10); fleet.CodeOf(err) != fleet.NotFound {
		t.Errorf("another account's job failures: %v, want NotFound", err)
	}
	if outs, err := e.ev.FailureOutputs(ctx, "999999999999", j.ARN, []string{r.ARN}); fleet.CodeOf(err) != fleet.NotFound || len(outs) != 0 {
		t.Errorf("another account's failure outputs: %v, %v, want NotFound", outs, err)
	}
	for _, page := range [][2]int{{0, 0}, {0, deploy.MaxFailuresPage + 1}, {-1, 10}} {
		if _, _, _, err := e.ev.JobFailures(ctx, acct, j.ARN, page[0], page[1]); fleet.CodeOf(err) != fleet.Invalid {
			t.Errorf("JobFailures from %d, %d a page: %v, want Invalid", page[0], page[1], err)
		}
	}

	// Robot logs on demand.
	if _, err := e.ev.RobotLog(ctx, acct, r.ARN); fleet.CodeOf(err) != fleet.NotFound {
		t.Errorf("log before a request: %v", err)
	}
	if _, err := e.ev.RequestLog(ctx, acct, r.ARN, deploy.MaxRobotLogKB+1); fleet.CodeOf(err) != fleet.Invalid {
		t.Errorf("request over the bound: %v, want Invalid", err)
	}
	if _, err := e.ev.RequestLog(ctx, "999999999999", r.ARN, 4); fleet.CodeOf(err) != fleet.NotFound {
		t.Errorf("request for another account's robot: %v, want NotFound", err)
	}
	req, err := e.ev.RequestLog(ctx, acct, r.ARN, 4)
	must(t, err)
	if _, err := e.ev.RequestLog(ctx, acct, r.ARN, 4); fleet.CodeOf(err) != fleet.Throttled {
		t.Errorf("a second request at once: %v, want Throttled", err)
	}
	resp = proto.PollResponse{}
	if st := e.call(priv, proto.PathPoll, proto.PollRequest{WaitSeconds: 30}, &resp); st != http.StatusOK || resp.LogRequest == nil ||
		resp.LogRequest.RequestedMs != req.RequestedMs || resp.LogRequest.MaxBytes != 4096 {
		t.Fatalf("poll after a log request: %d %+v", st, resp.LogRequest)
	}
	if st := e.call(priv, proto.PathLog, proto.LogUpload{RequestedMs: req.RequestedMs, Content: "app says hi\n"}, nil); st != http.StatusNoContent {
		t.Fatalf("log upload: %d", st)
	}
	if st := e.call(priv, proto.PathLog, proto.LogUpload{RequestedMs: req.RequestedMs, Content: "again"}, nil); st != http.StatusConflict {
		t.Fatalf("a second upload: %d, want 409", st)
	}
	l, err := e.ev.RobotLog(ctx, acct, r.ARN)
	must(t, err)
	if l.Content != "app says hi\n" || l.TakenMs < l.RequestedMs {
		t.Errorf("RobotLog = %+v", l)
	}
}
