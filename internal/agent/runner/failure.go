package runner

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"

	"github.com/fleetsync/fleetsync/internal/agent/client"
	"github.com/fleetsync/fleetsync/internal/agent/launch"
	"github.com/fleetsync/fleetsync/internal/proto"
)

// Bounds of what a failed result carries (the server keeps no more).
const (
	// maxReason is the AWS model's limit of failureReason.
	maxReason = 1024
	// failureOutputBytes is how much of the failing output is sent.
	failureOutputBytes = 8 << 10
)

// failure is why a deployment failed, as the agent reports it: the cause
// (whose code and step come from proto.Outcomes), a one-line reason that
// names the file or command, and the last lines of the failing script's or
// application's output. Nothing is added to the output but what the
// script or application printed itself (the agent echoes no environment).
type failure struct {
	cause  proto.Cause
	reason string
	output string
}

// describe explains the error that ended step. timedOut is true when the
// deployment's own deadline (the robot deployment timeout) stopped it.
func (a *Agent) describe(d *deployment, step proto.Step, err error, timedOut bool) failure {
	f := failure{cause: failureCause(step, err), reason: err.Error()}
	var se *launch.ScriptError
	switch {
	case errors.As(err, &se):
		what := map[proto.Step]string{proto.StepExecutingPreLaunch: "pre-launch", proto.StepExecutingPostLaunch: "post-launch",
			proto.StepExecutingDownloadCondition: "download condition"}[step]
		path := se.Path
		if step == proto.StepExecutingDownloadCondition {
			path = "file"
		}
		switch {
		case errors.Is(se.Err, launch.ErrNotInBundle):
			f.reason = fmt.Sprintf("%s %s not found in the bundle", what, path)
		case se.ExitCode < 0:
			f.reason = fmt.Sprintf("%s %s could not be run: %v", what, path, se.Err)
		case se.Err != nil:
			f.reason = fmt.Sprintf("%s %s stopped (status %d)", what, path, se.ExitCode)
		default:
			f.reason = fmt.Sprintf("%s %s exited %d", what, path, se.ExitCode)
		}
		if last := lastLine(se.Tail); last != "" {
			f.reason += ": " + last
		}
		f.output = se.Tail
	case errors.Is(err, launch.ErrNotInBundle) && step == proto.StepLaunching:
		f.reason = fmt.Sprintf("launch file %s/%s not found in the bundle", d.a.LaunchConfig.PackageName, d.a.LaunchConfig.LaunchFile)
		f.output = err.Error() // where it was looked for
	case step == proto.StepLaunching:
		f.output = a.appLogSince(d.logStart, failureOutputBytes)
		if last := lastAppLine(f.output); last != "" {
			f.reason += ": " + last
		}
	case f.cause == proto.CauseBadBundle:
		f.output = bundleHead(filepath.Join(a.cfg.StateDir, downloadsDir, downloadName(d.a.Bundle)))
	}
	if timedOut {
		f.cause = proto.CauseRobotTimeout
		f.reason = fmt.Sprintf("robot deployment timeout (%ds) reached in %s: %s", d.a.TimeoutSeconds, step, f.reason)
	}
	f.reason = oneLine(f.reason, maxReason)
	f.output = tailBytes(f.output, failureOutputBytes)
	return f
}

// failureCause maps the error that ended a step to its cause. Within
// DownloadingExtracting, content that is not the recorded object is an
// ETag mismatch, an object the store no longer has a missing object, a
// download that kept failing a download failure and everything else (a
// corrupt or hostile archive, a full disk) a bad bundle. A download
// condition that cannot be fetched fails as the condition itself would.
//
// A failed health gate is a launch failure whatever the step it ran after:
// the application did not stay up (EnvironmentSetupError, as for the launch
// settle check).
func failureCause(step proto.Step, err error) proto.Cause {
	if isHealthGate(err) {
		return proto.CauseLaunch
	}
	if step == proto.StepDownloadingExtracting {
		var de *downloadError
		if errors.As(err, &de) {
			if _, ok := errors.AsType[*client.IntegrityError](err); ok {
				return proto.CauseEtagMismatch
			}
			if he, ok := errors.AsType[*client.HTTPError](err); ok && he.Status == http.StatusNotFound {
				return proto.CauseObjectMissing
			}
			return proto.CauseDownload
		}
		return proto.CauseBadBundle
	}
	if c, ok := stepCause[step]; ok {
		return c
	}
	return proto.CauseInternal
}

// stepCause is the cause of a step that failed for a reason without a more
// precise cause of its own.
var stepCause = map[proto.Step]proto.Cause{
	proto.StepValidating:                 proto.CauseInvalid,
	proto.StepExecutingDownloadCondition: proto.CauseDownloadCondition,
	proto.StepDownloadingExtracting:      proto.CauseBadBundle,
	proto.StepExecutingPreLaunch:         proto.CausePreLaunch,
	proto.StepLaunching:                  proto.CauseLaunch,
	proto.StepExecutingPostLaunch:        proto.CausePostLaunch,
}

// FailureCode maps the error that ended a step to the failure code
// reported to the server: the code of its cause in proto.Outcomes.
func FailureCode(step proto.Step, err error) string {
	return proto.Outcomes[failureCause(step, err)].Code
}

// appLogTail returns the last n bytes of the application's log (with the
// rotated file before it when the current one is shorter).
func (a *Agent) appLogTail(n int) string {
	base := filepath.Join(a.cfg.StateDir, logsDir, launch.LogName)
	s, _ := readTail(base, n)
	if len(s) < n {
		prev, _ := readTail(base+".1", n-len(s))
		s = prev + s
	}
	return s
}

// appLogSince returns at most the last n bytes the application's log got
// after offset (where it ended when the new application was launched): the
// new application's output, not its predecessor's.
func (a *Agent) appLogSince(offset int64, n int) string {
	path := filepath.Join(a.cfg.StateDir, logsDir, launch.LogName)
	st, err := os.Stat(path)
	if err != nil || st.Size() < offset {
		return a.appLogTail(n) // rotated meanwhile
	}
	s, _ := readTail(path, int(min(st.Size()-offset, int64(n))))
	return s
}

// appLogSize is the application log's size now.
func (a *Agent) appLogSize() int64 {
	st, err := os.Stat(filepath.Join(a.cfg.StateDir, logsDir, launch.LogName))
	if err != nil {
		return 0
	}
	return st.Size()
}

// lastAppLine is the last line of the application's own output in a log
// tail (the supervisor's "[fleetsync …]" lines skipped).
func lastAppLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		if l := strings.TrimSpace(lines[i]); l != "" && !strings.HasPrefix(l, "[fleetsync ") {
			return l
		}
	}
	return ""
}

// readTail reads the last n bytes of a file.
func readTail(path string, n int) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return "", err
	}
	off := max(st.Size()-int64(n), 0)
	b, err := io.ReadAll(io.NewSectionReader(f, off, st.Size()-off))
	return string(b), err
}

// bundleHead describes the start of a bundle that could not be extracted,
// so the operator sees what was uploaded in its place (an HTML error page,
// a zip file).
func bundleHead(path string) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	b := make([]byte, 64)
	n, _ := io.ReadFull(f, b)
	if n == 0 {
		return "the bundle file is empty"
	}
	st, _ := f.Stat()
	return fmt.Sprintf("the bundle file (%d bytes) begins with %q", st.Size(), b[:n])
}

// lastLine returns the last non-empty line of s, trimmed.
func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.TrimSpace(lines[len(lines)-1])
}

// oneLine makes s one line of at most n bytes of valid UTF-8.
func oneLine(s string, n int) string {
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, s)
	return truncate(s, n-len("…"))
}

// tailBytes keeps the last n bytes of s from a line boundary.
func tailBytes(s string, n int) string {
	if len(s) <= n {
		return s
	}
	s = s[len(s)-n:]
	if i := strings.IndexByte(s, '\n'); i >= 0 && i < len(s)-1 {
		s = s[i+1:]
	}
	return strings.ToValidUTF8(s, "")
}

// timedOut reports whether d's own deadline, not the agent's shutdown or an
// abort, ended the step.
func timedOut(parent context.Context, d *deployment) bool {
	return parent.Err() == nil && errors.Is(d.ctx.Err(), context.DeadlineExceeded)
}
