package agentapi_test

import (
	"crypto/ed25519"
	"encoding/json"
	"net/http"
	"runtime"
	"strings"
	"testing"

	"github.com/fleetsync/fleetsync/internal/fleet"
	"github.com/fleetsync/fleetsync/internal/proto"
)

// deployed returns an endpoint with one robot (key priv) that has been
// handed the assignment of job.
func deployed(t *testing.T) (e *endpoint, priv ed25519.PrivateKey, job string) {
	e = newEndpoint(t)
	priv = newAgent(t)
	f, _ := e.registeredRobot(priv)
	j := e.deployTo(f.ARN)
	var resp proto.PollResponse
	if st := e.call(priv, proto.PathPoll, proto.PollRequest{}, &resp); st != http.StatusOK || resp.Assignment == nil {
		t.Fatalf("poll: %d %+v, want the assignment", st, resp)
	}
	return e, priv, j.ARN
}

// TestHostileReportsRefused: an agent's report is checked as API input is
// (issue 14: a 200 KB step, percentDone 1e308, etaSeconds −99, a made-up
// failureCode and a 1 MB failureReason were stored verbatim); each is a 400
// naming the member, and nothing of it reaches DescribeDeploymentJob.
func TestHostileReportsRefused(t *testing.T) {
	e, priv, job := deployed(t)
	pct := func(f float64) *float64 { return &f }
	eta := func(i int64) *int64 { return &i }
	for _, c := range []struct {
		name, member string
		rep          proto.Report
	}{
		{"huge step", "step", proto.Report{DeploymentJob: job, Step: proto.Step(strings.Repeat("S", 200<<10))}},
		{"unknown step", "step", proto.Report{DeploymentJob: job, Step: "Sleeping"}},
		{"no step", "step", proto.Report{DeploymentJob: job}},
		{"percent 1e308", "percentDone", proto.Report{DeploymentJob: job, Step: proto.StepDownloadingExtracting, PercentDone: pct(1e308)}},
		{"percent -1", "percentDone", proto.Report{DeploymentJob: job, Step: proto.StepDownloadingExtracting, PercentDone: pct(-1)}},
		{"percent 100.5", "percentDone", proto.Report{DeploymentJob: job, Step: proto.StepDownloadingExtracting, PercentDone: pct(100.5)}},
		{"eta -99", "etaSeconds", proto.Report{DeploymentJob: job, Step: proto.StepDownloadingExtracting, PercentDone: pct(5), ETASeconds: eta(-99)}},
		{"made-up code", "failureCode", proto.Report{DeploymentJob: job, Step: proto.StepLaunching, Result: proto.ResultFailed, FailureCode: "NotARealCode<b>"}},
		{"failed without code", "failureCode", proto.Report{DeploymentJob: job, Step: proto.StepLaunching, Result: proto.ResultFailed}},
		{"code on success", "failureCode", proto.Report{DeploymentJob: job, Step: proto.StepFinished, Result: proto.ResultSucceeded, FailureCode: "EtagMismatch"}},
		{"600 KB reason", "failureReason", proto.Report{DeploymentJob: job, Step: proto.StepLaunching, Result: proto.ResultFailed,
			FailureCode: proto.FailurePreLaunchFile, FailureReason: strings.Repeat("r", 600<<10)}},
		{"1025-character reason", "failureReason", proto.Report{DeploymentJob: job, Step: proto.StepLaunching, Result: proto.ResultFailed,
			FailureCode: proto.FailurePreLaunchFile, FailureReason: strings.Repeat("é", 1025)}},
		{"NUL in reason", "failureReason", proto.Report{DeploymentJob: job, Step: proto.StepLaunching, Result: proto.ResultFailed,
			FailureCode: proto.FailurePreLaunchFile, FailureReason: "a\x00b"}},
		{"unknown result", "result", proto.Report{DeploymentJob: job, Step: proto.StepFinished, Result: "Maybe"}},
		{"NUL in job", "deploymentJob", proto.Report{DeploymentJob: job + "\x00", Step: proto.StepLaunching}},
		{"600 KB job", "deploymentJob", proto.Report{DeploymentJob: strings.Repeat("j", 600<<10), Step: proto.StepLaunching}},
	} {
		body, err := json.Marshal(c.rep)
		must(t, err)
		st, out := send(t, e.signed(priv, http.MethodPost, e.srv.URL+proto.PathReport, body), body)
		var perr proto.Error
		if st != http.StatusBadRequest || json.Unmarshal(out, &perr) != nil || perr.Code != "BadRequest" ||
			!strings.Contains(perr.Message, "at '"+c.member+"'") || len(out) > 2048 {
			t.Errorf("%s: %d %.300s, want a short 400 BadRequest naming '%s'", c.name, st, out, c.member)
		}
	}
	// A body over the limit is refused as such, not as a bad signature.
	big, err := json.Marshal(proto.Report{DeploymentJob: job, Step: proto.StepLaunching, FailureReason: strings.Repeat("r", 1<<20)})
	must(t, err)
	if st, out := send(t, e.signed(priv, http.MethodPost, e.srv.URL+proto.PathReport, big), big); st != http.StatusRequestEntityTooLarge {
		t.Errorf("1 MiB report: %d %.200s, want 413", st, out)
	}
	_, rows, _, err := e.jobs.Describe(t.Context(), acct, job, 0)
	must(t, err)
	if len(rows) != 1 || rows[0].Status != fleet.RobotDeploying || rows[0].FailureCode != "" || rows[0].FailureReason != "" {
		t.Fatalf("row after refused reports: %+v, want still Deploying with no failure", rows)
	}

	// The limits themselves are accepted: 100 %, an ETA of 0, and a
	// failure of 1,024 characters.
	if st := e.call(priv, proto.PathReport, proto.Report{DeploymentJob: job, Step: proto.StepDownloadingExtracting, PercentDone: pct(100), ETASeconds: eta(0)}, nil); st != http.StatusOK {
		t.Fatalf("report at 100%%: %d, want 200", st)
	}
	reason := strings.Repeat("é", 1024)
	if st := e.call(priv, proto.PathReport, proto.Report{DeploymentJob: job, Step: proto.StepLaunching, Result: proto.ResultFailed,
		FailureCode: proto.FailurePreLaunchFile, FailureReason: reason}, nil); st != http.StatusOK {
		t.Fatalf("failure with a 1,024-character reason: %d, want 200", st)
	}
	_, rows, _, err = e.jobs.Describe(t.Context(), acct, job, 0)
	must(t, err)
	if rows[0].Status != fleet.RobotFailed || rows[0].FailureCode != proto.FailurePreLaunchFile || rows[0].FailureReason != reason {
		t.Fatalf("row after the failure: %+v", rows[0])
	}
}

// TestHostilePollsRefused: a poll's waits and what it says it runs are
// checked: a negative wait (which once panicked the handler and kept its
// work slot, so that a few such polls stalled every agent) and a job name
// of a megabyte (kept with a held poll) are 400s naming the field, and
// the endpoint still serves the robot after more of them than it has
// slots.
func TestHostilePollsRefused(t *testing.T) {
	e, priv, job := deployed(t)
	for _, c := range []struct {
		name, want string
		req        proto.PollRequest
	}{
		{"negative waits", "waitSeconds", proto.PollRequest{WaitSeconds: -1000, IdleWaitSeconds: -100}},
		{"negative idle wait", "idleWaitSeconds", proto.PollRequest{IdleWaitSeconds: -1}},
		{"huge job", "current.deploymentJob", proto.PollRequest{Current: &proto.Current{DeploymentJob: strings.Repeat("j", 600<<10)}}},
		{"NUL in job", "current.deploymentJob", proto.PollRequest{Current: &proto.Current{DeploymentJob: job + "\x00"}}},
	} {
		// Twice the work slots (4 per core) of the machine this runs on.
		for range 8*runtime.GOMAXPROCS(0) + 1 {
			body, err := json.Marshal(c.req)
			must(t, err)
			st, out := send(t, e.signed(priv, http.MethodPost, e.srv.URL+proto.PathPoll, body), body)
			var perr proto.Error
			if st != http.StatusBadRequest || json.Unmarshal(out, &perr) != nil || perr.Code != "BadRequest" || !strings.Contains(perr.Message, c.want) || len(out) > 2048 {
				t.Fatalf("%s: %d %.300s, want a short 400 naming %s", c.name, st, out, c.want)
			}
		}
	}
	var rr proto.ReportResponse
	if st := e.call(priv, proto.PathReport, proto.Report{DeploymentJob: job, Step: proto.StepLaunching}, &rr); st != http.StatusOK || rr.Abort {
		t.Fatalf("report after the hostile polls: %d %+v, want 200 and no abort", st, rr)
	}
}
