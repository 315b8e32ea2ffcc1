package launch

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

// scriptWaitDelay bounds how long RunScript waits, once the script has
// exited, for processes it left in the background to release its output.
const scriptWaitDelay = time.Second

// tailSize is how much of a script's output a ScriptError keeps.
const tailSize = 4 << 10

// ScriptError is the error of a pre- or post-launch script that did not
// exit with status 0.
type ScriptError struct {
	// Path is the script's path as given to RunScript.
	Path string
	// ExitCode is the script's exit status; 128+n when it was killed by
	// signal n; -1 when it could not be run.
	ExitCode int
	// Tail is the end (at most 4 KiB) of the script's combined output.
	Tail string
	// Err is the cause when the script could not be run or was stopped by
	// its context (ctx.Err()); nil when it simply exited non-zero.
	Err error
}

// Error describes the failure with the last lines of the output, short
// enough for a deployment's failure reason.
func (e *ScriptError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "launch: script %s", e.Path)
	switch {
	case e.Err != nil && e.ExitCode >= 0:
		fmt.Fprintf(&b, " stopped with status %d: %v", e.ExitCode, e.Err)
	case e.Err != nil:
		fmt.Fprintf(&b, ": %v", e.Err)
	default:
		fmt.Fprintf(&b, " exited with status %d", e.ExitCode)
	}
	if t := lastLines(e.Tail, 5, 512); t != "" {
		fmt.Fprintf(&b, "; output: %s", t)
	}
	return b.String()
}

// Unwrap returns Err.
func (e *ScriptError) Unwrap() error { return e.Err }

// RunScript runs a pre- or post-launch file and returns its exit status.
//
// A relative path is looked up like a path variable (ScriptFile): in the
// workspace overlay, then the other overlays in order, then the bundle root
// (for a plain bundle, the root alone), and must stay inside the directory
// it is found in; an absolute path is a file already on the robot. The file runs with the environment and
// the overlays of the application (see Command), with s.BundleRoot as its
// working directory and stdin from /dev/null. It is executed directly when
// it is executable and given to /bin/sh otherwise. Its combined stdout and
// stderr are copied to logw (which may be nil; its write errors are
// ignored so that they cannot block the script).
//
// The script runs in its own process group: when ctx is done the whole
// group is killed with SIGKILL. Processes the script leaves in the
// background are not killed when it exits (a post-launch script may start a
// helper), but RunScript waits at most a second for them to release its
// output.
//
// On exit status 0, RunScript returns (0, nil). Otherwise err is a
// *ScriptError carrying the output's tail and exitCode is its ExitCode:
// the status, 128+n for a script killed by signal n, or -1 when it could
// not be run (missing file, a directory, a path escaping the bundle).
func RunScript(ctx context.Context, s Spec, path string, logw io.Writer) (exitCode int, err error) {
	fail := func(err error) (int, error) {
		return -1, &ScriptError{Path: path, ExitCode: -1, Err: err}
	}
	if s.BundleRoot == "" {
		return fail(errors.New("no bundle root"))
	}
	if err := ctx.Err(); err != nil {
		return fail(err)
	}
	file, err := ScriptFile(s, path)
	if err != nil {
		return fail(err)
	}
	if filepath.IsAbs(path) {
		fi, err := os.Stat(file)
		if err != nil {
			return fail(err)
		}
		if fi.IsDir() {
			return fail(errors.New("is a directory"))
		}
	}

	var b strings.Builder
	prelude(&b, s)
	q := shellQuote(file)
	fmt.Fprintf(&b, "if [ -x %s ]; then exec %s; else exec %s %s; fi\n", q, q, Shell, q)

	tail := &tailBuffer{max: tailSize}
	out := io.Writer(tail)
	if logw != nil {
		out = io.MultiWriter(tail, ignoreErrors{logw})
	}
	cmd := exec.CommandContext(ctx, Shell, "-c", b.String(), shellName)
	cmd.Env = environment(s)
	cmd.Dir = s.BundleRoot
	cmd.Stdout, cmd.Stderr = out, out // one pipe: the order of the output is kept
	cmd.SysProcAttr = sysProcAttr()
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = scriptWaitDelay
	if _, err := startOwned(func() (int, error) {
		if err := cmd.Start(); err != nil {
			return 0, err
		}
		return cmd.Process.Pid, nil
	}); err != nil {
		return fail(err)
	}
	err = cmd.Wait()
	releaseOwned(cmd.Process.Pid)
	code := exitStatus(cmd.ProcessState)
	if ctxErr := ctx.Err(); ctxErr != nil && code != 0 {
		return code, &ScriptError{Path: path, ExitCode: code, Tail: tail.String(), Err: ctxErr}
	}
	if err != nil && !errors.Is(err, exec.ErrWaitDelay) {
		var ee *exec.ExitError
		if !errors.As(err, &ee) {
			return code, &ScriptError{Path: path, ExitCode: code, Tail: tail.String(), Err: err}
		}
	}
	if code != 0 {
		return code, &ScriptError{Path: path, ExitCode: code, Tail: tail.String()}
	}
	return 0, nil
}

// exitStatus is the exit status of a finished process: 128+n when it was
// killed by signal n (as shells report it), -1 when unknown.
func exitStatus(ps *os.ProcessState) int {
	if ps == nil {
		return -1
	}
	if ws, ok := ps.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return ps.ExitCode()
}

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	mu  sync.Mutex
	max int
	buf []byte
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	n := len(p)
	if len(p) >= t.max {
		t.buf = append(t.buf[:0], p[len(p)-t.max:]...)
		return n, nil
	}
	if over := len(t.buf) + len(p) - t.max; over > 0 {
		t.buf = append(t.buf[:0], t.buf[over:]...)
	}
	t.buf = append(t.buf, p...)
	return n, nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.buf)
}

// ignoreErrors is a writer that always succeeds, so that a failing log
// writer cannot stop the copy of a child's output (the child would then
// block on a full pipe).
type ignoreErrors struct{ w io.Writer }

func (w ignoreErrors) Write(p []byte) (int, error) {
	_, _ = w.w.Write(p)
	return len(p), nil
}

// lastLines returns at most n of the last non-empty lines of s, and at most
// max bytes of them, joined with " | ".
func lastLines(s string, n, max int) string {
	var lines []string
	for _, l := range strings.Split(strings.TrimSpace(s), "\n") {
		if l = strings.TrimSpace(l); l != "" {
			lines = append(lines, l)
		}
	}
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	t := strings.Join(lines, " | ")
	if len(t) > max {
		t = "…" + strings.ToValidUTF8(t[len(t)-max:], "")
	}
	return t
}
