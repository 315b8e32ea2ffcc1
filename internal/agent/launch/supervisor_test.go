package launch

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// helperEnv, when set, makes the test binary act as a minimal agent (see
// TestPdeathsig): it supervises the General application whose bundle root
// is the variable's value, then sleeps until killed.
const helperEnv = "FLEETSYNC_LAUNCH_TEST_AGENT"

func TestMain(m *testing.M) {
	if root := os.Getenv(helperEnv); root != "" {
		s := &Supervisor{LogDir: filepath.Join(root, "log")}
		if err := s.Start(Spec{BundleRoot: root, SoftwareSuite: SuiteGeneral, PackageName: "pkg", LaunchFile: "app.sh"}); err != nil {
			fmt.Println(err)
			os.Exit(1)
		}
		time.Sleep(time.Hour)
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// waitFor polls cond until it holds, failing the test after timeout.
func waitFor(t *testing.T, timeout time.Duration, cond func() bool, what string) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// alive reports whether process pid exists and is not a zombie (PID 1 of a
// container may never reap the orphans it inherits).
func alive(pid int) bool {
	if runtime.GOOS == "linux" {
		b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
		if err != nil {
			return false
		}
		// "pid (comm) state …"; comm may hold spaces and parentheses.
		f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
		return len(f) > 0 && f[0] != "Z" && f[0] != "X"
	}
	return syscall.Kill(pid, 0) == nil
}

// readPid waits for a file holding a pid written by a test application.
func readPid(t *testing.T, path string) int {
	t.Helper()
	var pid int
	waitFor(t, 5*time.Second, func() bool {
		b, err := os.ReadFile(path)
		if err != nil || !strings.HasSuffix(string(b), "\n") {
			return false
		}
		lines := strings.Fields(string(b))
		pid, err = strconv.Atoi(lines[len(lines)-1])
		return err == nil
	}, path)
	return pid
}

// crashes records OnCrash calls.
type crashes struct {
	mu    sync.Mutex
	calls []crash
}

type crash struct {
	code, restarts int
	at             time.Time
}

func (c *crashes) onCrash(code, restarts int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.calls = append(c.calls, crash{code, restarts, time.Now()})
}

func (c *crashes) get() []crash {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]crash(nil), c.calls...)
}

// app writes a General application script into a new bundle root and
// returns a Supervisor for it (stopped at the end of the test) and its spec.
func app(t *testing.T, body string) (*Supervisor, Spec, *crashes) {
	t.Helper()
	root := tempDir(t)
	writeFile(t, filepath.Join(root, "pkg", "app.sh"), "#!/bin/sh\n"+body, true)
	c := &crashes{}
	s := &Supervisor{
		LogDir:     filepath.Join(root, "log"),
		Grace:      5 * time.Second,
		BackoffMin: 20 * time.Millisecond,
		BackoffMax: 200 * time.Millisecond,
		OnCrash:    c.onCrash,
	}
	t.Cleanup(func() {
		if err := s.Stop(context.Background()); err != nil {
			t.Error(err)
		}
	})
	return s, Spec{BundleRoot: root, SoftwareSuite: SuiteGeneral, PackageName: "pkg", LaunchFile: "app.sh",
		Env: map[string]string{"DIR": root}}, c
}

func running(t *testing.T, s *Supervisor) (pid, restarts int) {
	t.Helper()
	pid, started, restarts, ok := s.Running()
	if !ok || pid <= 0 || started.IsZero() {
		t.Fatalf("Running() = %d, %v, %d, %v", pid, started, restarts, ok)
	}
	return pid, restarts
}

func TestSupervisorRestartsKilledApp(t *testing.T) {
	t.Parallel()
	s, spec, c := app(t, `echo $$ >> "$DIR/pids"; exec sleep 1000`+"\n")
	var mu sync.Mutex
	var restarted []int // OnRestart's pids
	s.OnRestart = func(pid int) {
		mu.Lock()
		defer mu.Unlock()
		restarted = append(restarted, pid)
	}
	if err := s.Start(spec); err != nil {
		t.Fatal(err)
	}
	if err := s.Start(spec); !errors.Is(err, ErrRunning) {
		t.Fatalf("second Start: %v", err)
	}
	pid, restarts := running(t, s)
	if restarts != 0 || readPid(t, filepath.Join(spec.BundleRoot, "pids")) != pid {
		t.Fatalf("restarts %d", restarts)
	}
	// It keeps running (longer than the largest backoff).
	time.Sleep(300 * time.Millisecond)
	if p, _ := running(t, s); p != pid || !alive(pid) || len(c.get()) != 0 {
		t.Fatalf("app did not keep running: pid %d → %d, crashes %v", pid, p, c.get())
	}

	for i := 1; i <= 3; i++ {
		if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		old := pid
		waitFor(t, 5*time.Second, func() bool {
			p, _, n, ok := s.Running()
			pid = p
			return ok && p != old && n == i
		}, fmt.Sprintf("restart %d", i))
		calls := c.get()
		if len(calls) != i || calls[i-1] != (crash{137, i, calls[i-1].at}) {
			t.Fatalf("OnCrash calls %v", calls)
		}
		_, started, _, _ := s.Running()
		if gap := started.Sub(calls[i-1].at); gap < s.BackoffMin {
			t.Errorf("restart %d after %v, less than the backoff", i, gap)
		}
		waitFor(t, 5*time.Second, func() bool {
			return readPid(t, filepath.Join(spec.BundleRoot, "pids")) == pid
		}, fmt.Sprintf("pid %d of Running to write its pid", pid))
		var got []int
		waitFor(t, 5*time.Second, func() bool {
			mu.Lock()
			defer mu.Unlock()
			got = append([]int(nil), restarted...)
			return len(got) >= i
		}, fmt.Sprintf("OnRestart of restart %d", i))
		if len(got) != i || got[i-1] != pid {
			t.Fatalf("OnRestart pids %v after restart %d, want the last to be %d (none after the first launch)", got, i, pid)
		}
	}
}

func TestSupervisorCrashLoopBackoff(t *testing.T) {
	t.Parallel()
	s, spec, c := app(t, "exit 3\n")
	s.BackoffMax = 160 * time.Millisecond
	if err := s.Start(spec); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, func() bool { return len(c.get()) >= 6 }, "6 crashes")
	calls := c.get()
	delays := []time.Duration{20, 40, 80, 160, 160} // ms, before restarts 1…5
	for i, call := range calls[:6] {
		if call.code != 3 || call.restarts != i+1 {
			t.Errorf("call %d: %+v", i, call)
		}
		if i > 0 {
			if gap := call.at.Sub(calls[i-1].at); gap < delays[i-1]*time.Millisecond {
				t.Errorf("crash %d came %v after the previous one, before the %v backoff", i+1, gap, delays[i-1]*time.Millisecond)
			}
		}
	}
	// Stop during a backoff wait returns at once.
	start := time.Now()
	if err := s.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("Stop took %v", d)
	}
	n := len(c.get())
	time.Sleep(200 * time.Millisecond)
	if _, _, _, ok := s.Running(); ok || len(c.get()) != n {
		t.Error("restarted after Stop")
	}
	log := readFile(t, filepath.Join(s.LogDir, LogName))
	if !strings.Contains(log, "exited with status 3") || !strings.Contains(log, "restart 6 in 160ms") {
		t.Errorf("log:\n%s", log)
	}
}

func TestBackoff(t *testing.T) {
	t.Parallel()
	ms := time.Millisecond
	b := backoff{min: 10 * ms, max: 100 * ms}
	for i, c := range []struct{ ran, want time.Duration }{
		{0, 10 * ms}, {5 * ms, 20 * ms}, {99 * ms, 40 * ms}, {0, 80 * ms}, {0, 100 * ms}, {0, 100 * ms},
		{100 * ms, 10 * ms}, // ran BackoffMax: reset
		{0, 20 * ms}, {time.Hour, 10 * ms},
	} {
		if got := b.next(c.ran); got != c.want {
			t.Errorf("step %d: next(%v) = %v, want %v", i, c.ran, got, c.want)
		}
	}
}

func TestSupervisorStopKillsGroup(t *testing.T) {
	t.Parallel()
	s, spec, c := app(t, `sleep 1000 &
echo $! > "$DIR/child"
echo $$ > "$DIR/app"
wait
`)
	if err := s.Start(spec); err != nil {
		t.Fatal(err)
	}
	app, child := readPid(t, filepath.Join(spec.BundleRoot, "app")), readPid(t, filepath.Join(spec.BundleRoot, "child"))
	if pid, _ := running(t, s); pid != app {
		t.Fatalf("Running pid %d, app %d", pid, app)
	}
	if pgid, _ := syscall.Getpgid(child); pgid != app {
		t.Fatalf("child's process group %d, want %d", pgid, app)
	}
	start := time.Now()
	if err := s.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d >= s.Grace {
		t.Errorf("Stop took %v: SIGTERM was not enough?", d)
	}
	if alive(app) || alive(child) || groupAlive(app) {
		t.Errorf("alive after Stop: app %v, child %v, group %v", alive(app), alive(child), groupAlive(app))
	}
	if pid, started, restarts, ok := s.Running(); ok || pid != 0 || !started.IsZero() || restarts != 0 {
		t.Errorf("Running() after Stop = %d, %v, %d, %v", pid, started, restarts, ok)
	}
	if len(c.get()) != 0 {
		t.Errorf("OnCrash called on Stop: %v", c.get())
	}
	if err := s.Stop(context.Background()); err != nil {
		t.Errorf("second Stop: %v", err)
	}
}

func TestSupervisorStopEscalatesToKill(t *testing.T) {
	t.Parallel()
	s, spec, _ := app(t, `trap 'echo got TERM' TERM
echo $$ > "$DIR/app"
while :; do sleep 0.05; done
`)
	s.Grace = 300 * time.Millisecond
	if err := s.Start(spec); err != nil {
		t.Fatal(err)
	}
	pid := readPid(t, filepath.Join(spec.BundleRoot, "app")) // the trap is set
	start := time.Now()
	if err := s.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	d := time.Since(start)
	if d < s.Grace || d > s.Grace+3*time.Second {
		t.Errorf("Stop took %v with a grace of %v", d, s.Grace)
	}
	if alive(pid) || groupAlive(pid) {
		t.Error("app alive after Stop")
	}
	log := readFile(t, filepath.Join(s.LogDir, LogName))
	if !strings.Contains(log, "got TERM") || !strings.Contains(log, fmt.Sprintf("process %d exited with status 137", pid)) {
		t.Errorf("log:\n%s", log)
	}
}

func TestSupervisorStopContext(t *testing.T) {
	t.Parallel()
	s, spec, _ := app(t, `trap '' TERM
echo $$ > "$DIR/app"
while :; do sleep 0.05; done
`)
	s.Grace = time.Hour
	if err := s.Start(spec); err != nil {
		t.Fatal(err)
	}
	pid := readPid(t, filepath.Join(spec.BundleRoot, "app"))
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	// The context ends long before the grace period: SIGKILL at once, and
	// the application is gone in time for Stop to report success.
	if err := s.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("Stop took %v", d)
	}
	if alive(pid) {
		t.Error("app alive after Stop")
	}
}

func TestSupervisorKillsLeftoversBeforeRestart(t *testing.T) {
	t.Parallel()
	s, spec, c := app(t, `sleep 1000 &
echo $! >> "$DIR/children"
exit 1
`)
	s.BackoffMin = 50 * time.Millisecond
	if err := s.Start(spec); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, func() bool { return len(c.get()) >= 2 }, "2 crashes")
	children := filepath.Join(spec.BundleRoot, "children")
	readPid(t, children)
	pids := strings.Fields(readFile(t, children))
	// Every child but possibly the newest (whose parent may have just
	// exited) is gone.
	for _, p := range pids[:len(pids)-1] {
		pid, _ := strconv.Atoi(p)
		if alive(pid) {
			t.Errorf("leftover %d of a crashed run still alive", pid)
		}
	}
	if c.get()[0].code != 1 {
		t.Errorf("crashes %v", c.get())
	}
}

func TestSupervisorLogRotation(t *testing.T) {
	t.Parallel()
	s, spec, _ := app(t, `i=0
while [ $i -lt 3000 ]; do
	echo "line $i 0123456789abcdefghijklmnopqrstuvwxyz"
	i=$((i+1))
done
exec sleep 1000
`)
	s.MaxLogBytes, s.LogKeep = 8192, 3
	if err := s.Start(spec); err != nil {
		t.Fatal(err)
	}
	logf := filepath.Join(s.LogDir, LogName)
	read := func(name string) string {
		b, _ := os.ReadFile(filepath.Join(s.LogDir, name))
		return string(b)
	}
	waitFor(t, 10*time.Second, func() bool {
		return strings.Contains(read(LogName+".1")+read(LogName), "line 2999 ")
	}, "the whole output")
	if err := s.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= 3; i++ {
		fi, err := os.Stat(fmt.Sprintf("%s.%d", logf, i))
		if err != nil || fi.Size() != 8192 {
			t.Errorf("%s.%d: %v %v", LogName, i, fi, err)
		}
	}
	if fi, err := os.Stat(logf); err != nil || fi.Size() > 8192 {
		t.Errorf("%s: %v %v", LogName, fi, err)
	}
	if _, err := os.Stat(logf + ".4"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("%s.4 kept: %v", LogName, err)
	}
	// The files are the end of the output, in order, with nothing lost.
	all := read(LogName+".3") + read(LogName+".2") + read(LogName+".1") + read(LogName)
	sc := bufio.NewScanner(strings.NewReader(all))
	sc.Scan() // possibly a partial line
	next := -1
	for sc.Scan() {
		var n int
		if _, err := fmt.Sscanf(sc.Text(), "line %d ", &n); err != nil {
			continue // the Supervisor's lines
		}
		if next >= 0 && n != next {
			t.Fatalf("line %d follows line %d", n, next-1)
		}
		next = n + 1
	}
	if next != 3000 {
		t.Errorf("last line %d", next-1)
	}
}

func TestSupervisorStartErrors(t *testing.T) {
	t.Parallel()
	s, spec, _ := app(t, "exec sleep 1000\n")
	bad := spec
	bad.SoftwareSuite = "ROS3"
	if err := s.Start(bad); err == nil {
		t.Error("Start with an unknown suite")
	}
	bad = spec
	bad.BundleRoot = filepath.Join(spec.BundleRoot, "missing")
	if err := s.Start(bad); err == nil {
		t.Error("Start in a missing bundle root")
	}
	if _, _, _, ok := s.Running(); ok {
		t.Error("running after failed Starts")
	}
	noLog := &Supervisor{}
	if err := noLog.Start(spec); err == nil {
		t.Error("Start without LogDir")
	}
	// The failed Starts left the Supervisor usable.
	if err := s.Start(spec); err != nil {
		t.Fatal(err)
	}
	running(t, s)
}

func TestSupervisorMissingLauncher(t *testing.T) {
	t.Parallel()
	s, spec, c := app(t, "")
	spec.SoftwareSuite = SuiteROS
	spec.Env["PATH"] = "/nonexistent"
	if err := s.Start(spec); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, func() bool { return len(c.get()) >= 2 }, "crashes")
	if calls := c.get(); calls[0].code != 127 || calls[0].restarts != 1 || calls[1].restarts != 2 {
		t.Errorf("crashes %v", calls)
	}
	if err := s.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	if log := readFile(t, filepath.Join(s.LogDir, LogName)); !strings.Contains(log, "roslaunch: not found") {
		t.Errorf("log:\n%s", log)
	}
}

// TestSupervisorRollback does what the agent does on a failed deployment:
// stop the old application, start the new one, then stop the new one and
// start the old one again.
func TestSupervisorRollback(t *testing.T) {
	t.Parallel()
	oldSup, oldSpec, _ := app(t, `echo $$ > "$DIR/pid"; exec sleep 1000`+"\n")
	newSup, newSpec, _ := app(t, `echo $$ > "$DIR/pid"; exec sleep 1000`+"\n")
	ctx := context.Background()
	pidOf := func(spec Spec) int { return readPid(t, filepath.Join(spec.BundleRoot, "pid")) }

	if err := oldSup.Start(oldSpec); err != nil {
		t.Fatal(err)
	}
	old1 := pidOf(oldSpec)
	if err := oldSup.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if err := newSup.Start(newSpec); err != nil {
		t.Fatal(err)
	}
	newPid := pidOf(newSpec)
	if alive(old1) || !alive(newPid) {
		t.Fatal("old still running or new not running")
	}
	// Post-launch failed: roll back.
	if err := newSup.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	os.Remove(filepath.Join(oldSpec.BundleRoot, "pid"))
	if err := oldSup.Start(oldSpec); err != nil {
		t.Fatal(err)
	}
	old2 := pidOf(oldSpec)
	if pid, restarts := running(t, oldSup); pid != old2 || restarts != 0 || alive(newPid) || old2 == old1 {
		t.Errorf("after rollback: running %d (restarts %d), app %d, new alive %v", pid, restarts, old2, alive(newPid))
	}
	// Both runs logged into the same file.
	if n := strings.Count(readFile(t, filepath.Join(oldSup.LogDir, LogName)), "started process"); n != 2 {
		t.Errorf("%d starts logged", n)
	}
}

// TestPdeathsig kills a process acting as the agent with SIGKILL and checks
// that its application does not survive it.
func TestPdeathsig(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("parent-death signal is Linux only")
	}
	t.Parallel()
	root := tempDir(t)
	pidFile := filepath.Join(root, "pid")
	writeFile(t, filepath.Join(root, "pkg", "app.sh"), "#!/bin/sh\necho $$ > "+shellQuote(pidFile)+"\nexec sleep 1000\n", true)
	agent := exec.Command(os.Args[0], "-test.run=^$")
	agent.Env = append(os.Environ(), helperEnv+"="+root)
	agent.Stdout, agent.Stderr = os.Stderr, os.Stderr
	if err := agent.Start(); err != nil {
		t.Fatal(err)
	}
	defer agent.Wait()
	defer agent.Process.Kill()
	pid := readPid(t, pidFile)
	if !alive(pid) {
		t.Fatal("app not running")
	}
	if err := agent.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, func() bool { return !alive(pid) }, "the application to die with its agent")
}

// TestOpenLogRotatesWhileWritten: a log opened with OpenLog (the agent's
// scripts.log) never grows past its bound, however much one writer writes.
func TestOpenLogRotatesWhileWritten(t *testing.T) {
	dir := t.TempDir()
	w, err := OpenLog(dir, "scripts.log", 100, 1)
	if err != nil {
		t.Fatal(err)
	}
	for range 50 {
		if _, err := w.Write([]byte("a line of a script that loops\n")); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	entries, _ := os.ReadDir(dir)
	var names []string
	for _, e := range entries {
		fi, _ := e.Info()
		names = append(names, e.Name())
		if fi.Size() > 100 {
			t.Errorf("%s is %d bytes, over the bound of 100", e.Name(), fi.Size())
		}
	}
	if len(names) != 2 || names[0] != "scripts.log" || names[1] != "scripts.log.1" {
		t.Errorf("log files %v, want scripts.log and scripts.log.1", names)
	}
}
