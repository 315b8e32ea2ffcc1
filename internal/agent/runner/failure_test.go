package runner

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fleetsync/fleetsync/internal/agent/launch"
	"github.com/fleetsync/fleetsync/internal/proto"
)

// TestDescribe checks the one-line reasons and the output the agent sends
// with a failed result, per cause.
func TestDescribe(t *testing.T) {
	dir := t.TempDir()
	for _, d := range []string{logsDir, downloadsDir} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	a := &Agent{cfg: Config{StateDir: dir}}
	asg := &proto.Assignment{LaunchConfig: proto.LaunchConfig{PackageName: "app", LaunchFile: "run.sh"}, TimeoutSeconds: 60,
		Bundle: proto.Object{SHA256: strings.Repeat("ab", 32)}}
	dep := &deployment{a: asg}
	// The application log holds the previous application's lines, then the new one's.
	logPath := filepath.Join(dir, logsDir, launch.LogName)
	if err := os.WriteFile(logPath, []byte("old app line\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	dep.logStart = a.appLogSize()
	f, _ := os.OpenFile(logPath, os.O_APPEND|os.O_WRONLY, 0o600)
	fmt.Fprint(f, "[fleetsync 2026-01-01T00:00:00Z] started process 1\nconfig /etc/x missing\n[fleetsync 2026-01-01T00:00:01Z] process 1 exited with status 2 after 10ms\n")
	f.Close()
	if err := os.WriteFile(filepath.Join(dir, downloadsDir, downloadName(asg.Bundle)), []byte("<html>nope</html>"), 0o600); err != nil {
		t.Fatal(err)
	}
	script := &launch.ScriptError{Path: "app/pre.sh", ExitCode: 3, Tail: "checking\nno lidar\n"}
	for _, tc := range []struct {
		step     proto.Step
		err      error
		timedOut bool
		cause    proto.Cause
		reason   string
		output   string
	}{
		{proto.StepExecutingPreLaunch, fmt.Errorf("pre-launch file: %w", script), false, proto.CausePreLaunch,
			"pre-launch app/pre.sh exited 3: no lidar", "checking\nno lidar\n"},
		{proto.StepExecutingPreLaunch, &launch.ScriptError{Path: "app/x.sh", ExitCode: -1, Err: fmt.Errorf("x: %w", launch.ErrNotInBundle)}, false,
			proto.CausePreLaunch, "pre-launch app/x.sh not found in the bundle", ""},
		{proto.StepExecutingPostLaunch, &launch.ScriptError{Path: "app/post.sh", ExitCode: 137, Err: context.DeadlineExceeded, Tail: "waiting\n"}, true,
			proto.CauseRobotTimeout, "robot deployment timeout (60s) reached in ExecutingPostLaunch: post-launch app/post.sh stopped (status 137): waiting", "waiting\n"},
		{proto.StepLaunching, fmt.Errorf("launch file app/run.sh %w (looked for …)", launch.ErrNotInBundle), false, proto.CauseLaunch,
			"launch file app/run.sh not found in the bundle", "launch file app/run.sh not found in the bundle (looked for …)"},
		{proto.StepLaunching, fmt.Errorf("the application exited (status 2) within 2s of its launch"), false, proto.CauseLaunch,
			"the application exited (status 2) within 2s of its launch: config /etc/x missing", "[fleetsync 2026-01-01T00:00:00Z] started process 1\nconfig /etc/x missing\n"},
		{proto.StepDownloadingExtracting, fmt.Errorf("invalid bundle: corrupt archive"), false, proto.CauseBadBundle,
			"invalid bundle: corrupt archive", `the bundle file (17 bytes) begins with "<html>nope</html>"`},
		{proto.StepExecutingPreLaunch, fmt.Errorf("line one\nline two %s", strings.Repeat("x", 2000)), false, proto.CausePreLaunch, "line one line two xxx", ""},
	} {
		f := a.describe(dep, tc.step, tc.err, tc.timedOut)
		if f.cause != tc.cause || !strings.HasPrefix(f.reason, tc.reason) || !strings.HasPrefix(f.output, tc.output) {
			t.Errorf("describe(%s, %v) = %+v;\nwant %s %q %q", tc.step, tc.err, f, tc.cause, tc.reason, tc.output)
		}
		if len(f.reason) > maxReason || strings.ContainsAny(f.reason, "\n\r") {
			t.Errorf("reason is not one line within %d bytes: %q", maxReason, f.reason)
		}
		if strings.Contains(f.output, "old app line") {
			t.Errorf("the output holds the previous application's log: %q", f.output)
		}
	}
}
