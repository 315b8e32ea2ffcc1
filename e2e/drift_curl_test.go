// The drift report read with Debian's real curl and its --aws-sigv4 signer
// (curl 7.88 signs the path as sent, once encoded; the AWS SDKs encode it
// twice): the one fleetsync-only API is callable with the standard
// command-line tool, and curl's signature is still checked.
package e2e

//lint:file-ignore SA1019 aws-sdk-go v1 (deprecated) is the reference client fleetsync serves.

import (
	"encoding/json"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go/aws"
	"github.com/aws/aws-sdk-go/service/robomaker"

	"github.com/fleetsync/fleetsync/internal/sim"
	"github.com/fleetsync/fleetsync/internal/testenv"
	"github.com/fleetsync/fleetsync/internal/testskip"
)

// curlSigV4 returns the curl binary when it has --aws-sigv4 (curl ≥ 7.75);
// without one the test is skipped locally and fails under CI=true.
func curlSigV4(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("curl")
	if err == nil {
		if out, err := exec.Command(p, "--help", "all").Output(); err == nil && strings.Contains(string(out), "--aws-sigv4") {
			return p
		}
	}
	testskip.Missing(t, "curl --aws-sigv4 tests", "no curl with --aws-sigv4 (curl 7.75 or later) on PATH", "scripts/test, or apt-get install curl")
	return ""
}

// curlDrift runs curl --aws-sigv4 against the drift endpoint with the given
// credentials and returns the HTTP status and body.
func curlDrift(t *testing.T, curl string, s *testenv.Server, fleetARN, keyID, secret string) (int, string) {
	t.Helper()
	cmd := exec.Command(curl, "--silent", "--show-error", "--max-time", "30",
		"--aws-sigv4", "aws:amz:us-east-1:robomaker", "--user", keyID+":"+secret,
		"--write-out", "\n%{http_code}", s.URL+driftPath(fleetARN))
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("curl: %v\n%s", err, out)
	}
	text := strings.TrimRight(string(out), "\n")
	i := strings.LastIndexByte(text, '\n')
	if i < 0 {
		t.Fatalf("curl output without a status line: %q", out)
	}
	var code int
	for _, c := range text[i+1:] {
		code = code*10 + int(c-'0')
	}
	return code, text[:i]
}

func TestDriftReportWithCurlSigV4(t *testing.T) {
	t.Parallel()
	curl := curlSigV4(t)
	s := startEngine(t)
	r := newRollout(t, s, 1)
	// 50 %: the Sync below copies it, and of its 2 targets starts 1 at a time.
	if d, _ := r.wait(r.create(jobConfig{concurrent: 50}), time.Minute); aws.StringValue(d.Status) != "Succeeded" {
		t.Fatalf("first job = %v", d)
	}
	// Two newcomers: the first the Sync starts hangs Deploying, the other
	// waits its turn PendingNewDeployment.
	hanging, waiting := r.addRobot("X86_64"), r.addRobot("X86_64")
	hanging.SetBehavior(sim.Behavior{Hang: true})
	waiting.SetBehavior(sim.Behavior{Hang: true})
	out, err := r.c.SyncDeploymentJob(&robomaker.SyncDeploymentJobInput{Fleet: aws.String(r.fleet)})
	must(t, err)
	var first, second *simRobot
	eventually(t, time.Minute, "one newcomer Deploying", func() bool {
		a, b := r.robotStatus(hanging.ARN), r.robotStatus(waiting.ARN)
		switch {
		case a == "Deploying" && b == "PendingNewDeployment":
			first, second = hanging, waiting
		case b == "Deploying" && a == "PendingNewDeployment":
			first, second = waiting, hanging
		}
		return first != nil
	})

	code, body := curlDrift(t, curl, s, r.fleet, testenv.KeyID, testenv.Secret)
	if code != 200 {
		t.Fatalf("curl --aws-sigv4 drift = HTTP %d %s", code, body)
	}
	var d driftReport
	must(t, json.Unmarshal([]byte(body), &d))
	reasons := map[string]string{}
	for _, rb := range d.Robots {
		reasons[rb.ARN] = rb.Reason
	}
	if d.Fleet != r.fleet || d.LatestDeploymentJob != aws.StringValue(out.Arn) || d.LatestDeploymentStatus != "InProgress" {
		t.Errorf("drift header = %+v, want fleet %s, latest job %s InProgress", d, r.fleet, aws.StringValue(out.Arn))
	}
	if len(reasons) != 2 || reasons[first.ARN] != "Deploying" || reasons[second.ARN] != "PendingNewDeployment" {
		t.Errorf("drift reasons = %v, want %s Deploying and %s PendingNewDeployment (the robot in sync not listed)", reasons, first.ARN, second.ARN)
	}

	// curl's signature is checked, not waved through: a wrong secret and an
	// unknown key are refused with the AWS codes.
	code, body = curlDrift(t, curl, s, r.fleet, testenv.KeyID, testenv.Secret+"x")
	if code != 403 || !strings.Contains(body, "InvalidSignatureException") {
		t.Errorf("curl with a wrong secret = HTTP %d %s, want 403 InvalidSignatureException", code, body)
	}
	code, body = curlDrift(t, curl, s, r.fleet, "AKIDNOTKNOWN0000000", testenv.Secret)
	if code != 403 || !strings.Contains(body, "UnrecognizedClientException") {
		t.Errorf("curl with an unknown key = HTTP %d %s, want 403 UnrecognizedClientException", code, body)
	}

	hanging.SetBehavior(sim.Behavior{})
	waiting.SetBehavior(sim.Behavior{})
	if d, _ := r.wait(aws.StringValue(out.Arn), time.Minute); aws.StringValue(d.Status) != "Succeeded" {
		t.Fatalf("sync = %v", d)
	}
	code, body = curlDrift(t, curl, s, r.fleet, testenv.KeyID, testenv.Secret)
	if code != 200 || !strings.Contains(body, `"robots":[]`) {
		t.Errorf("drift after the sync = HTTP %d %s, want no robot off the latest deployment", code, body)
	}
}
