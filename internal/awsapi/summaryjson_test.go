package awsapi

import (
	"bytes"
	"encoding/json"
	"math"
	"testing"
)

// checkAppendRobotDeploy fails t unless appendRobotDeploy writes d as
// json.Marshal does, or declines a row json.Marshal refuses.
func checkAppendRobotDeploy(t *testing.T, d wireRobotDeploy) (fast bool) {
	t.Helper()
	want, err := json.Marshal(d)
	got, ok := appendRobotDeploy([]byte("prefix"), d)
	if !bytes.HasPrefix(got, []byte("prefix")) {
		t.Fatalf("%+v: appendRobotDeploy lost what it appended to: %q", d, got)
	}
	got = got[len("prefix"):]
	switch {
	case err != nil && ok:
		t.Fatalf("%+v: json.Marshal refuses it (%v) but appendRobotDeploy wrote %s", d, err, got)
	case ok && !bytes.Equal(got, want):
		t.Fatalf("%+v:\nappendRobotDeploy %s\njson.Marshal      %s", d, got, want)
	case !ok && len(got) != 0:
		t.Fatalf("%+v: declined but appended %q", d, got)
	}
	return ok
}

// TestAppendRobotDeployEqualsMarshal: the summary rows of a Describe are
// the bytes json.Marshal would write, for the rows appendRobotDeploy takes
// (plain ASCII, plain numbers) and by json.Marshal itself for the others.
func TestAppendRobotDeployEqualsMarshal(t *testing.T) {
	pct := func(f float64) *float64 { return &f }
	eta := func(n int64) *int64 { return &n }
	arn := "arn:aws:robomaker:us-east-1:123456789012:robot/r1/1700000000000"
	job := "arn:aws:robomaker:us-east-1:123456789012:deployment-job/j/1700000000001"
	for _, c := range []struct {
		name string
		d    wireRobotDeploy
		fast bool
	}{
		{"pending", wireRobotDeploy{ARN: arn, Status: "Pending"}, true},
		{"deploying", wireRobotDeploy{ARN: arn, DeploymentStartTime: epochPtr(1700000000123), Status: "Deploying",
			ProgressDetail: wireProgress{CurrentProgress: "DownloadingExtracting", PercentDone: pct(42.5), EstimatedTimeRemainingSeconds: eta(17), TargetResource: job}}, true},
		{"whole seconds, zero percent", wireRobotDeploy{ARN: arn, DeploymentStartTime: epochPtr(1700000000000), Status: "Deploying",
			ProgressDetail: wireProgress{CurrentProgress: "Launching", PercentDone: pct(0), EstimatedTimeRemainingSeconds: eta(0), TargetResource: job}}, true},
		{"failed", wireRobotDeploy{ARN: arn, DeploymentStartTime: epochPtr(1700000000001), DeploymentFinishTime: epochPtr(1700000009010), Status: "Failed",
			FailureReason: "The launch file exited with code 3.", FailureCode: "PostLaunchFileFailure"}, true},
		{"the smallest percent without an exponent", wireRobotDeploy{ARN: arn, ProgressDetail: wireProgress{PercentDone: pct(1e-6)}}, true},
		{"negative percent", wireRobotDeploy{ARN: arn, ProgressDetail: wireProgress{PercentDone: pct(-3.25)}}, true},
		{"percent written with an exponent", wireRobotDeploy{ARN: arn, ProgressDetail: wireProgress{PercentDone: pct(1e-7)}}, false},
		{"huge percent", wireRobotDeploy{ARN: arn, ProgressDetail: wireProgress{PercentDone: pct(1e21)}}, false},
		{"NaN percent", wireRobotDeploy{ARN: arn, ProgressDetail: wireProgress{PercentDone: pct(math.NaN())}}, false},
		{"a quote in the reason", wireRobotDeploy{ARN: arn, Status: "Failed", FailureReason: `exit "3"`}, false},
		{"HTML in the step", wireRobotDeploy{ARN: arn, ProgressDetail: wireProgress{CurrentProgress: "<b>&</b>"}}, false},
		{"a newline", wireRobotDeploy{ARN: arn, FailureReason: "line\nnext"}, false},
		{"not ASCII", wireRobotDeploy{ARN: arn, FailureReason: "échec \u2028"}, false},
		{"invalid UTF-8", wireRobotDeploy{ARN: arn, FailureCode: "\xff"}, false},
		{"a time before 1970", wireRobotDeploy{ARN: arn, DeploymentStartTime: epochPtr(-1500)}, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			if fast := checkAppendRobotDeploy(t, c.d); fast != c.fast {
				t.Errorf("taken by appendRobotDeploy: %v, want %v", fast, c.fast)
			}
		})
	}
	// Each character json.Marshal escapes, alone in each string field.
	for _, ch := range []string{`"`, `\`, "<", ">", "&", "\x00", "\x1f", "\x7f", "\x80", "\u2028"} {
		for _, edit := range []func(*wireRobotDeploy, string){
			func(d *wireRobotDeploy, s string) { d.ARN = s },
			func(d *wireRobotDeploy, s string) { d.Status = s },
			func(d *wireRobotDeploy, s string) { d.ProgressDetail.CurrentProgress = s },
			func(d *wireRobotDeploy, s string) { d.ProgressDetail.TargetResource = s },
			func(d *wireRobotDeploy, s string) { d.FailureReason = s },
			func(d *wireRobotDeploy, s string) { d.FailureCode = s },
		} {
			d := wireRobotDeploy{ARN: arn, Status: "Failed"}
			edit(&d, "a"+ch+"b")
			if checkAppendRobotDeploy(t, d) {
				t.Errorf("%+v: taken by appendRobotDeploy, want it left to json.Marshal (%q is escaped)", d, ch)
			}
		}
	}
}

// FuzzAppendRobotDeploy: for any row, appendRobotDeploy writes what
// json.Marshal writes, or leaves the row to it.
func FuzzAppendRobotDeploy(f *testing.F) {
	f.Add("arn:r", "Deploying", "Launching", "arn:j", "", "", int64(1700000000123), int64(0), 42.5, int64(3), true, true)
	f.Add("a\"b", "<", "\u2028", "\xff", "x\ny", "&", int64(-1), int64(1), math.Inf(1), int64(-5), true, false)
	f.Fuzz(func(t *testing.T, arn, status, step, target, reason, code string, start, finish int64, pct float64, eta int64, hasPct, hasETA bool) {
		d := wireRobotDeploy{ARN: arn, DeploymentStartTime: epochPtr(start), DeploymentFinishTime: epochPtr(finish), Status: status,
			ProgressDetail: wireProgress{CurrentProgress: step, TargetResource: target}, FailureReason: reason, FailureCode: code}
		if hasPct {
			d.ProgressDetail.PercentDone = &pct
		}
		if hasETA {
			d.ProgressDetail.EstimatedTimeRemainingSeconds = &eta
		}
		checkAppendRobotDeploy(t, d)
	})
}
