package launch

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// escaper is an application like roslaunch: it starts, in sessions of
// their own (setsid), a child that ignores SIGTERM and a double-forked
// grandchild whose parent exits at once, records every pid, then runs on.
const escaper = `
setsid "$DIR/stubborn.sh" &
setsid sh -c '"$DIR/orphan.sh" & exit 0' &
echo $$ > "$DIR/app"
while :; do sleep 0.05; done
`

// escaperApp is app() with the escaper and its helper scripts.
func escaperApp(t *testing.T) (*Supervisor, Spec, *crashes) {
	s, spec, c := app(t, escaper)
	writeFile(t, filepath.Join(spec.BundleRoot, "stubborn.sh"), "#!/bin/sh\ntrap '' TERM\necho $$ > \"$DIR/stubborn\"\nwhile :; do sleep 0.05; done\n", true)
	// SIGTERM stays ignored across exec.
	writeFile(t, filepath.Join(spec.BundleRoot, "orphan.sh"), "#!/bin/sh\ntrap '' TERM\necho $$ > \"$DIR/orphan\"\nexec sleep 1000\n", true)
	return s, spec, c
}

// treePids waits for the pids the escaper records.
func treePids(t *testing.T, root string) (app, stubborn, orphan int) {
	t.Helper()
	return readPid(t, filepath.Join(root, "app")), readPid(t, filepath.Join(root, "stubborn")), readPid(t, filepath.Join(root, "orphan"))
}

func sessionOf(t *testing.T, pid int) int {
	t.Helper()
	sid, _, e := syscall.RawSyscall(syscall.SYS_GETSID, uintptr(pid), 0, 0)
	if e != 0 {
		t.Fatalf("getsid(%d): %v", pid, e)
	}
	return int(sid)
}

// TestSupervisorStopEndsWholeTree: Stop ends processes that left the
// launcher's session and process group, one that ignores SIGTERM (after
// the grace period) and an orphan of a double fork.
func TestSupervisorStopEndsWholeTree(t *testing.T) {
	if err := BecomeSubreaper(); err != nil {
		t.Fatalf("BecomeSubreaper: %v", err)
	}
	for _, mode := range []string{"tree", "cgroup"} {
		t.Run(mode, func(t *testing.T) {
			s, spec, _ := escaperApp(t)
			s.Grace = 500 * time.Millisecond
			if mode == "cgroup" {
				s.Cgroup = testCgroup(t)
			}
			if err := s.Start(spec); err != nil {
				t.Fatal(err)
			}
			app, stubborn, orphan := treePids(t, spec.BundleRoot)
			for _, pid := range []int{stubborn, orphan} {
				if sessionOf(t, pid) == sessionOf(t, app) {
					t.Fatalf("process %d did not leave the launcher's session", pid)
				}
			}
			if mode == "cgroup" {
				cgs, _ := filepath.Glob(filepath.Join(s.Cgroup, "app-*"))
				if len(cgs) != 1 {
					t.Fatalf("cgroups under %s: %v", s.Cgroup, cgs)
				}
				procs := readFile(t, filepath.Join(cgs[0], "cgroup.procs"))
				for _, pid := range []int{app, stubborn, orphan} {
					if !strings.Contains("\n"+procs, fmt.Sprintf("\n%d\n", pid)) {
						t.Errorf("process %d is not in the launch's cgroup:\n%s", pid, procs)
					}
				}
			}
			start := time.Now()
			if err := s.Stop(context.Background()); err != nil {
				t.Fatal(err)
			}
			t.Logf("Stop took %v (grace %v)", time.Since(start), s.Grace)
			for name, pid := range map[string]int{"app": app, "stubborn": stubborn, "orphan": orphan} {
				if alive(pid) {
					t.Errorf("%s (%d) alive after Stop", name, pid)
				}
			}
			if mode == "cgroup" {
				if cgs, _ := filepath.Glob(filepath.Join(s.Cgroup, "app-*")); len(cgs) != 0 {
					t.Errorf("launch cgroups left after Stop: %v", cgs)
				}
			}
		})
	}
}

// TestSupervisorNeverTwoCopies kills the launcher with SIGKILL, as a crash
// would: its setsid'd children run on, and the Supervisor ends them (and
// only then restarts the application), so no two copies ever run.
func TestSupervisorNeverTwoCopies(t *testing.T) {
	if err := BecomeSubreaper(); err != nil {
		t.Fatalf("BecomeSubreaper: %v", err)
	}
	s, spec, c := escaperApp(t)
	s.Grace = 500 * time.Millisecond
	if err := s.Start(spec); err != nil {
		t.Fatal(err)
	}
	app, stubborn, orphan := treePids(t, spec.BundleRoot)
	for _, f := range []string{"app", "stubborn", "orphan"} {
		os.Remove(filepath.Join(spec.BundleRoot, f))
	}
	if err := syscall.Kill(app, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	// The restart records new pids; by then the first launch's are gone.
	waitFor(t, 10*time.Second, func() bool { return len(c.get()) == 1 }, "the crash to be reported")
	app2, stubborn2, orphan2 := treePids(t, spec.BundleRoot)
	for name, pid := range map[string]int{"stubborn": stubborn, "orphan": orphan} {
		if alive(pid) {
			t.Errorf("%s (%d) of the first launch runs beside the restart", name, pid)
		}
	}
	if app2 == app || stubborn2 == stubborn || orphan2 == orphan {
		t.Fatalf("no restart: %d %d %d", app2, stubborn2, orphan2)
	}
	log := readFile(t, filepath.Join(s.LogDir, LogName))
	// The restart is logged only after the first launch's processes ended.
	if i, j := strings.Index(log, fmt.Sprintf("process %d exited", app)), strings.Index(log, "restart 1"); i < 0 || j < i {
		t.Errorf("log:\n%s", log)
	}
}

// TestKillStray: processes an earlier agent left (marked with its unit
// prefix, re-parented away from it) are found and ended; other processes
// are not touched.
func TestKillStray(t *testing.T) {
	root := tempDir(t)
	prefix := "fstest" + randomID() + "-"
	writeFile(t, filepath.Join(root, "stray.sh"), "#!/bin/sh\ntrap '' TERM\necho $$ > \"$DIR/stray\"\nwhile :; do sleep 0.05; done\n", true)
	writeFile(t, filepath.Join(root, "other.sh"), "#!/bin/sh\necho $$ > \"$DIR/other\"\nwhile :; do sleep 0.05; done\n", true)
	start := func(script, unit string) {
		attr := &syscall.ProcAttr{Env: []string{"DIR=" + root, "PATH=" + os.Getenv("PATH"), UnitEnv + "=" + unit},
			Files: []uintptr{0, 1, 2}, Sys: &syscall.SysProcAttr{Setsid: true}}
		pid, err := syscall.ForkExec(filepath.Join(root, script), []string{script}, attr)
		if err != nil {
			t.Fatal(err)
		}
		go func() { var ws syscall.WaitStatus; syscall.Wait4(pid, &ws, 0, nil) }()
	}
	start("stray.sh", prefix+"abc")
	start("other.sh", "fsotheragent-abc")
	stray, other := readPid(t, filepath.Join(root, "stray")), readPid(t, filepath.Join(root, "other"))
	t.Cleanup(func() { syscall.Kill(other, syscall.SIGKILL) })
	if n := KillStray(prefix, "", 300*time.Millisecond); n < 1 {
		t.Errorf("KillStray found %d processes, want the stray script (and its sleep)", n)
	}
	waitFor(t, 5*time.Second, func() bool { return !alive(stray) }, "the stray process to end")
	if !alive(other) {
		t.Error("KillStray ended another agent's process")
	}
}

// testCgroup returns a fresh cgroup v2 directory the test may create
// cgroups in, removed at the end; the test is skipped where there is none
// (no cgroup v2 hierarchy, or not allowed to write it).
func testCgroup(t *testing.T) string {
	t.Helper()
	mnt := cgroup2Mount()
	if mnt == "" {
		t.Skip("no cgroup v2 hierarchy mounted: the cgroup mode cannot be tested here")
	}
	dir := filepath.Join(mnt, "fleetsync-test-"+randomID())
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Skipf("cannot create a cgroup in %s (%v): the cgroup mode cannot be tested here", mnt, err)
	}
	t.Cleanup(func() {
		subs, _ := filepath.Glob(filepath.Join(dir, "app-*"))
		for _, s := range subs {
			os.WriteFile(filepath.Join(s, "cgroup.kill"), []byte("1"), 0)
		}
		// cgroup.kill is asynchronous: the cgroups empty a moment later.
		var err error
		for end := time.Now().Add(5 * time.Second); time.Now().Before(end); time.Sleep(20 * time.Millisecond) {
			for _, s := range subs {
				syscall.Rmdir(s)
			}
			if err = syscall.Rmdir(dir); err == nil {
				return
			}
		}
		t.Errorf("remove test cgroup: %v", err)
	})
	if err := CheckCgroup(dir); err != nil {
		t.Skipf("cgroup %s unusable: %v", dir, err)
	}
	return dir
}
