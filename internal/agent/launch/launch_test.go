package launch

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// writeFile writes an executable (mode 0755) or plain (0644) file, creating
// its directory.
func writeFile(t *testing.T, path, body string, executable bool) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	mode := os.FileMode(0o644)
	if executable {
		mode = 0o755
	}
	if err := os.WriteFile(path, []byte(body), mode); err != nil {
		t.Fatal(err)
	}
}

// tempDir is t.TempDir with symbolic links resolved, so that it compares
// equal to what `pwd` prints.
func tempDir(t *testing.T) string {
	t.Helper()
	d, err := filepath.EvalSymlinks(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestCommand(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		spec Spec
		want string // the script, argv[2]
	}{{
		name: "ROS with overlays in order, relative ones under the root",
		spec: Spec{BundleRoot: "/b", Overlays: []string{"/cache/aa", "ws/install"}, SoftwareSuite: SuiteROS, PackageName: "pkg", LaunchFile: "a.launch"},
		want: "cd '/b' || exit 1\n" +
			"BUNDLE_CURRENT_PREFIX='/cache/aa' COLCON_BUNDLE_PREFIX='/cache/aa' . '/cache/aa/setup.sh'\n" +
			"BUNDLE_CURRENT_PREFIX='/b/ws/install' COLCON_BUNDLE_PREFIX='/b/ws/install' . '/b/ws/install/setup.sh'\n" +
			"exec roslaunch 'pkg' 'a.launch'\n",
	}, {
		name: "ROS2 without overlays sources the root's setup.sh if present",
		spec: Spec{BundleRoot: "/b", SoftwareSuite: SuiteROS2, PackageName: "my_pkg", LaunchFile: "x.launch.py"},
		want: "cd '/b' || exit 1\n" +
			"if [ -f '/b/setup.sh' ]; then BUNDLE_CURRENT_PREFIX='/b' COLCON_BUNDLE_PREFIX='/b' . '/b/setup.sh'; fi\n" +
			"exec ros2 launch 'my_pkg' 'x.launch.py'\n",
	}, {
		name: "override replaces the launcher and gets P and F",
		spec: Spec{BundleRoot: "/b", Overlays: []string{"/o"}, SoftwareSuite: SuiteROS, PackageName: "pkg", LaunchFile: "a.launch", LauncherOverride: "/opt/run --verbose"},
		want: "cd '/b' || exit 1\n" +
			"BUNDLE_CURRENT_PREFIX='/o' COLCON_BUNDLE_PREFIX='/o' . '/o/setup.sh'\n" +
			"exec /opt/run --verbose 'pkg' 'a.launch'\n",
	}, {
		name: "override works for any suite",
		spec: Spec{BundleRoot: "/b", Overlays: []string{"/o"}, SoftwareSuite: "Other", PackageName: "pkg", LaunchFile: "a.launch", LauncherOverride: "mylauncher"},
		want: "cd '/b' || exit 1\n" +
			"BUNDLE_CURRENT_PREFIX='/o' COLCON_BUNDLE_PREFIX='/o' . '/o/setup.sh'\n" +
			"exec mylauncher 'pkg' 'a.launch'\n",
	}, {
		name: "unknown suite fails",
		spec: Spec{BundleRoot: "/b", Overlays: []string{"/o"}, SoftwareSuite: "ros", PackageName: "pkg", LaunchFile: "a.launch"},
		want: "cd '/b' || exit 1\n" +
			"BUNDLE_CURRENT_PREFIX='/o' COLCON_BUNDLE_PREFIX='/o' . '/o/setup.sh'\n" +
			"echo 'fleetsync-launch: unknown software suite \"ros\"' >&2\nexit 2\n",
	}, {
		name: "everything is quoted",
		spec: Spec{BundleRoot: "/my bundle/it's", Overlays: []string{"/o $(x)"}, SoftwareSuite: SuiteROS, PackageName: "p;rm -rf /", LaunchFile: "`x` 'y'"},
		want: `cd '/my bundle/it'\''s' || exit 1` + "\n" +
			`BUNDLE_CURRENT_PREFIX='/o $(x)' COLCON_BUNDLE_PREFIX='/o $(x)' . '/o $(x)/setup.sh'` + "\n" +
			`exec roslaunch 'p;rm -rf /' '` + "`x`" + ` '\''y'\'''` + "\n",
	}}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			argv, _ := Command(c.spec)
			if len(argv) != 4 || argv[0] != "/bin/sh" || argv[1] != "-c" || argv[3] != "fleetsync-launch" {
				t.Fatalf("argv = %q", argv)
			}
			if argv[2] != c.want {
				t.Errorf("script:\n%s\nwant:\n%s", argv[2], c.want)
			}
		})
	}
}

func TestCommandEnv(t *testing.T) {
	t.Parallel()
	spec := Spec{
		BundleRoot: "/b", SoftwareSuite: SuiteROS, PackageName: "p", LaunchFile: "f",
		BaseEnv: []string{"PATH=/usr/bin", "FOO=old", "HOME=/root", "AWS_ROBOMAKER_ROBOT_TAG_KEY_team=stale", "NOTIFY_SOCKET=/kept/when/explicit"},
		Env: map[string]string{
			"FOO": "new", "B_VAR": "two words", "A": "", // kept, A empty
			"": "no name", "X=Y": "bad name", "NUL": "a\x00b", "N\x00M": "bad", // skipped
			"AWS_ROBOMAKER_ROBOT_TAG_KEY_Zone_1": "from-env", // the tag wins
		},
		Tags: map[string]string{
			"team": "blue", "Zone_1": "eu", "lower_UPPER_09": "v=1", // kept
			"with-dash": "x", "sp ace": "x", "": "x", "ünï": "x", "dot.ted": "x", "nul": "a\x00", // skipped
		},
	}
	_, env := Command(spec)
	want := []string{
		"PATH=/usr/bin", "HOME=/root", "NOTIFY_SOCKET=/kept/when/explicit",
		"A=", "B_VAR=two words", "FOO=new",
		"AWS_ROBOMAKER_ROBOT_TAG_KEY_Zone_1=eu",
		"AWS_ROBOMAKER_ROBOT_TAG_KEY_lower_UPPER_09=v=1",
		"AWS_ROBOMAKER_ROBOT_TAG_KEY_team=blue",
	}
	if !slices.Equal(env, want) {
		t.Errorf("env:\n%q\nwant:\n%q", env, want)
	}
	// Deterministic.
	for range 5 {
		if _, again := Command(spec); !slices.Equal(again, env) {
			t.Fatalf("env not deterministic: %q", again)
		}
	}
}

// TestCommandInheritedEnv is not parallel: it sets the process environment.
func TestCommandInheritedEnv(t *testing.T) {
	t.Setenv("NOTIFY_SOCKET", "/run/systemd/notify")
	t.Setenv("LISTEN_FDS", "3")
	t.Setenv("FLEETSYNC_TEST_INHERITED", "yes")
	_, env := Command(Spec{BundleRoot: "/b", SoftwareSuite: SuiteROS, PackageName: "p", LaunchFile: "f", Env: map[string]string{"J": "1"}})
	for _, e := range env {
		if strings.HasPrefix(e, "NOTIFY_SOCKET=") || strings.HasPrefix(e, "LISTEN_FDS=") {
			t.Errorf("systemd variable inherited: %s", e)
		}
	}
	for _, w := range []string{"FLEETSYNC_TEST_INHERITED=yes", "J=1"} {
		if !slices.Contains(env, w) {
			t.Errorf("env lacks %s", w)
		}
	}
}

func TestValidate(t *testing.T) {
	t.Parallel()
	ok := Spec{BundleRoot: "/b", SoftwareSuite: SuiteGeneral, PackageName: "p", LaunchFile: "f"}
	if err := ok.Validate(); err != nil {
		t.Fatal(err)
	}
	for name, edit := range map[string]func(*Spec){
		"no root":       func(s *Spec) { s.BundleRoot = "" },
		"unknown suite": func(s *Spec) { s.SoftwareSuite = "ROS3" },
		"no suite":      func(s *Spec) { s.SoftwareSuite = "" },
		"no package":    func(s *Spec) { s.PackageName = "" },
		"no file":       func(s *Spec) { s.LaunchFile = "" },
		"NUL in env":    func(s *Spec) { s.Env = map[string]string{"OK": "1", "X": "a\x00b"} },
		"= in env name": func(s *Spec) { s.Env = map[string]string{"A=B": "1"} },
		"empty name":    func(s *Spec) { s.Env = map[string]string{"": "1"} },
		"NUL in tag":    func(s *Spec) { s.Tags = map[string]string{"team": "a\x00"} },
	} {
		s := ok
		edit(&s)
		if s.Validate() == nil {
			t.Errorf("%s: valid", name)
		}
	}
	s := ok
	s.SoftwareSuite, s.LauncherOverride = "Custom", "/opt/run"
	if err := s.Validate(); err != nil {
		t.Errorf("override with any suite: %v", err)
	}
}

// execEnv is a bundle with three overlays whose setup.sh scripts record
// their order and BUNDLE_CURRENT_PREFIX, and a bin directory of fake
// launchers that record their command line and environment in $RECORD.
type execEnv struct {
	root, bin, record string
	overlays          []string
}

const recorder = `#!/bin/sh
{
	echo "argv=$0 $*"
	echo "order=$OVERLAY_ORDER"
	echo "prefixes=$PREFIXES"
	echo "pwd=$(pwd)"
	echo "job=$JOB_VAR"
	echo "tag=$AWS_ROBOMAKER_ROBOT_TAG_KEY_team"
} > "$RECORD"
`

func newExecEnv(t *testing.T) execEnv {
	t.Helper()
	dir := tempDir(t)
	e := execEnv{
		root:   filepath.Join(dir, "bundle"),
		bin:    filepath.Join(dir, "bin"),
		record: filepath.Join(dir, "record"),
	}
	cache := filepath.Join(dir, "cache", "0123abcd") // an absolute overlay, as colcon v2's cache
	e.overlays = []string{cache, filepath.Join(e.root, "ws one"), filepath.Join(e.root, "ws2")}
	for i, o := range e.overlays {
		name := []string{"deps", "ws1", "ws2"}[i]
		// setup.sh files are sourced: no shebang, no exec bit needed.
		writeFile(t, filepath.Join(o, "setup.sh"),
			`OVERLAY_ORDER="${OVERLAY_ORDER}:`+name+`"
PREFIXES="${PREFIXES}:$BUNDLE_CURRENT_PREFIX"
export OVERLAY_ORDER PREFIXES
`, false)
	}
	writeFile(t, filepath.Join(e.bin, "roslaunch"), recorder, true)
	writeFile(t, filepath.Join(e.bin, "ros2"), recorder, true)
	writeFile(t, filepath.Join(e.bin, "mylauncher"), recorder, true)
	writeFile(t, filepath.Join(e.root, "pkg", "run.sh"), recorder, true)
	return e
}

func (e execEnv) spec(suite string) Spec {
	return Spec{
		BundleRoot:    e.root,
		Overlays:      e.overlays,
		SoftwareSuite: suite,
		PackageName:   "pkg",
		LaunchFile:    "run.sh",
		Env: map[string]string{
			"PATH":          e.bin + ":" + os.Getenv("PATH"),
			"RECORD":        e.record,
			"JOB_VAR":       "job value",
			"OVERLAY_ORDER": "start",
		},
		Tags: map[string]string{"team": "blue", "bad-key": "x"},
	}
}

// runCommand executes Command(spec) the way the Supervisor does.
func runCommand(t *testing.T, spec Spec) string {
	t.Helper()
	argv, env := Command(spec)
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env, cmd.Dir = env, spec.BundleRoot
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	return readFile(t, spec.Env["RECORD"])
}

func TestCommandExecution(t *testing.T) {
	t.Parallel()
	e := newExecEnv(t)
	sourced := "order=start:deps:ws1:ws2\nprefixes=:" + strings.Join(e.overlays, ":") + "\n"
	tail := "pwd=" + e.root + "\njob=job value\ntag=blue\n"
	for _, c := range []struct {
		suite, override, want string
	}{
		{SuiteROS, "", "argv=" + e.bin + "/roslaunch pkg run.sh\n"},
		{SuiteROS2, "", "argv=" + e.bin + "/ros2 launch pkg run.sh\n"},
		{SuiteGeneral, "", "argv=" + e.root + "/pkg/run.sh \n"},
		{SuiteROS, "mylauncher --flag", "argv=" + e.bin + "/mylauncher --flag pkg run.sh\n"},
	} {
		spec := e.spec(c.suite)
		spec.LauncherOverride = c.override
		if got, want := runCommand(t, spec), c.want+sourced+tail; got != want {
			t.Errorf("%s %q:\n%s\nwant:\n%s", c.suite, c.override, got, want)
		}
	}
}

func TestCommandExecutionRootSetup(t *testing.T) {
	t.Parallel()
	e := newExecEnv(t)
	spec := e.spec(SuiteROS)
	spec.Overlays = nil
	// No setup.sh at the root: nothing is sourced, the launcher still runs.
	if got, want := runCommand(t, spec), "argv="+e.bin+"/roslaunch pkg run.sh\norder=start\nprefixes=\n"; !strings.HasPrefix(got, want) {
		t.Errorf("without setup.sh:\n%s\nwant prefix:\n%s", got, want)
	}
	writeFile(t, filepath.Join(e.root, "setup.sh"), `OVERLAY_ORDER="$OVERLAY_ORDER:root"; PREFIXES="$BUNDLE_CURRENT_PREFIX"; export OVERLAY_ORDER PREFIXES`+"\n", false)
	if got, want := runCommand(t, spec), "argv="+e.bin+"/roslaunch pkg run.sh\norder=start:root\nprefixes="+e.root+"\n"; !strings.HasPrefix(got, want) {
		t.Errorf("with setup.sh:\n%s\nwant prefix:\n%s", got, want)
	}
}

func TestCommandExecutionNoInjection(t *testing.T) {
	t.Parallel()
	e := newExecEnv(t)
	spec := e.spec(SuiteROS)
	pwned := filepath.Join(e.root, "pwned")
	spec.PackageName = "$(touch " + pwned + ")"
	spec.LaunchFile = "a;touch " + pwned
	got := runCommand(t, spec)
	if want := "argv=" + e.bin + "/roslaunch " + spec.PackageName + " " + spec.LaunchFile + "\n"; !strings.HasPrefix(got, want) {
		t.Errorf("got:\n%s\nwant prefix:\n%s", got, want)
	}
	if _, err := os.Stat(pwned); err == nil {
		t.Error("a name was interpreted by the shell")
	}
}

func TestRunScript(t *testing.T) {
	t.Parallel()
	e := newExecEnv(t)
	spec := e.spec(SuiteROS)
	writeFile(t, filepath.Join(e.root, "scripts", "ok.sh"), recorder+"echo hello from pre-launch\n", true)
	writeFile(t, filepath.Join(e.root, "scripts", "fail.sh"), "#!/bin/sh\necho line one\necho line two >&2\nexit 3\n", true)
	writeFile(t, filepath.Join(e.root, "scripts", "noexec.sh"), "echo ran by sh; exit 0\n", false)

	var log bytes.Buffer
	code, err := RunScript(context.Background(), spec, "scripts/ok.sh", &log)
	if code != 0 || err != nil {
		t.Fatalf("ok.sh: %d, %v", code, err)
	}
	if log.String() != "hello from pre-launch\n" {
		t.Errorf("log = %q", log.String())
	}
	want := "argv=" + e.root + "/scripts/ok.sh \norder=start:deps:ws1:ws2\nprefixes=:" + strings.Join(e.overlays, ":") +
		"\npwd=" + e.root + "\njob=job value\ntag=blue\n"
	if got := readFile(t, e.record); got != want {
		t.Errorf("ok.sh recorded:\n%s\nwant:\n%s", got, want)
	}

	// An absolute path: a file already on the robot; cwd is still the root.
	abs := filepath.Join(tempDir(t), "onrobot.sh")
	writeFile(t, abs, recorder, true)
	if code, err := RunScript(context.Background(), spec, abs, nil); code != 0 || err != nil {
		t.Fatalf("absolute: %d, %v", code, err)
	}
	if got := readFile(t, e.record); !strings.Contains(got, "argv="+abs+" \n") || !strings.Contains(got, "pwd="+e.root+"\n") {
		t.Errorf("absolute recorded:\n%s", got)
	}

	log.Reset()
	code, err = RunScript(context.Background(), spec, "scripts/fail.sh", &log)
	var se *ScriptError
	if code != 3 || !errors.As(err, &se) || se.ExitCode != 3 || se.Err != nil {
		t.Fatalf("fail.sh: %d, %#v", code, err)
	}
	if se.Tail != "line one\nline two\n" || log.String() != se.Tail {
		t.Errorf("tail %q, log %q", se.Tail, log.String())
	}
	if msg := err.Error(); msg != "launch: script scripts/fail.sh exited with status 3; output: line one | line two" {
		t.Errorf("message %q", msg)
	}

	log.Reset()
	if code, err := RunScript(context.Background(), spec, "scripts/noexec.sh", &log); code != 0 || err != nil || log.String() != "ran by sh\n" {
		t.Errorf("not executable: %d, %v, %q", code, err, log.String())
	}

	for _, bad := range []string{"scripts/missing.sh", "scripts", "../outside.sh", "scripts/../../x"} {
		code, err := RunScript(context.Background(), spec, bad, nil)
		if code != -1 || !errors.As(err, &se) || se.ExitCode != -1 || se.Err == nil {
			t.Errorf("%s: %d, %v", bad, code, err)
		}
	}
}

func TestRunScriptCancel(t *testing.T) {
	t.Parallel()
	root := tempDir(t)
	child := filepath.Join(root, "child.pid")
	writeFile(t, filepath.Join(root, "hang.sh"), "#!/bin/sh\nsleep 1000 &\necho $! > "+shellQuote(child)+"\necho started\nwait\n", true)
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	code, err := RunScript(ctx, Spec{BundleRoot: root}, "hang.sh", nil)
	var se *ScriptError
	if code != 128+9 || !errors.As(err, &se) || !errors.Is(err, context.DeadlineExceeded) || se.Tail != "started\n" {
		t.Fatalf("%d, %v", code, err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("took %v", d)
	}
	pid := readPid(t, child)
	waitFor(t, 5*time.Second, func() bool { return !alive(pid) }, "the script's background child to be killed")
}

// TestGeneralLookup lays out a colcon bundle (a dependencies overlay, a
// workspace overlay holding an isolated colcon install space under
// opt/built_workspace, and a root holding only metadata) and checks where
// the General suite's program and the pre/post-launch files are found.
func TestGeneralLookup(t *testing.T) {
	t.Parallel()
	dir := tempDir(t)
	root := filepath.Join(dir, "bundle")
	deps := filepath.Join(dir, "cache", "deps")
	ws := filepath.Join(dir, "cache", "ws")
	record := filepath.Join(dir, "record")
	writeFile(t, filepath.Join(root, "overlays.json"), "{}", false)
	for _, o := range []string{deps, ws} {
		writeFile(t, filepath.Join(o, "setup.sh"), `SEEN="${SEEN}:$BUNDLE_CURRENT_PREFIX=$COLCON_BUNDLE_PREFIX"; export SEEN`+"\n", false)
	}
	prog := "#!/bin/sh\necho \"$0 $SEEN\" > \"$RECORD\"\n"
	writeFile(t, filepath.Join(ws, "opt/built_workspace/app/lib/app/run.sh"), prog, true)
	writeFile(t, filepath.Join(deps, "opt/built_workspace/app/lib/app/run.sh"), prog, true) // shadowed by the workspace
	writeFile(t, filepath.Join(deps, "tool/only-in-deps"), prog, true)
	writeFile(t, filepath.Join(ws, "opt/built_workspace/share/app/pre.sh"), "#!/bin/sh\nexit 0\n", true)
	writeFile(t, filepath.Join(deps, "share/dep/dep.sh"), "#!/bin/sh\nexit 0\n", true)
	// A link leading out of the overlay is never followed.
	outside := filepath.Join(dir, "outside.sh")
	writeFile(t, outside, prog, true)
	must(t, os.MkdirAll(filepath.Join(ws, "evil"), 0o755))
	must(t, os.Symlink(outside, filepath.Join(ws, "evil", "run.sh")))
	must(t, os.Symlink("../../../outside.sh", filepath.Join(ws, "evil", "rel.sh")))

	spec := Spec{BundleRoot: root, Overlays: []string{deps, ws}, SoftwareSuite: SuiteGeneral, PackageName: "app", LaunchFile: "run.sh",
		Env: map[string]string{"RECORD": record}}
	if got := spec.SearchDirs(); !slices.Equal(got, []string{ws, deps, root}) {
		t.Errorf("SearchDirs = %q, want workspace, dependencies, root", got)
	}
	want := filepath.Join(ws, "opt/built_workspace/app/lib/app/run.sh")
	if p, err := LaunchProgram(spec); err != nil || p != want {
		t.Errorf("LaunchProgram = %q, %v; want %q", p, err, want)
	}
	argv, env := Command(spec)
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env, cmd.Dir = env, root
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if got, wantRec := strings.TrimSpace(readFile(t, record)), want+" :"+deps+"="+deps+":"+ws+"="+ws; got != wantRec {
		t.Errorf("the program recorded %q, want %q (both prefix variables set per overlay)", got, wantRec)
	}

	spec.PackageName, spec.LaunchFile = "tool", "only-in-deps"
	if p, err := LaunchProgram(spec); err != nil || p != filepath.Join(deps, "tool/only-in-deps") {
		t.Errorf("LaunchProgram in the dependencies overlay = %q, %v", p, err)
	}
	for _, f := range []string{"run.sh", "rel.sh"} {
		spec.PackageName, spec.LaunchFile = "evil", f
		if p, err := LaunchProgram(spec); !errors.Is(err, ErrNotInBundle) {
			t.Errorf("LaunchProgram through a link out of the overlay = %q, %v; want ErrNotInBundle", p, err)
		}
	}
	spec.PackageName, spec.LaunchFile = "app", "missing.sh"
	argv, env = Command(spec)
	cmd = exec.Command(argv[0], argv[1:]...)
	cmd.Env, cmd.Dir = env, root
	out, err := cmd.CombinedOutput()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 127 || !strings.Contains(string(out), "launch file app/missing.sh not found in the bundle") {
		t.Errorf("missing program: %v, %s", err, out)
	}

	for path, want := range map[string]string{
		"opt/built_workspace/share/app/pre.sh": filepath.Join(ws, "opt/built_workspace/share/app/pre.sh"),
		"share/dep/dep.sh":                     filepath.Join(deps, "share/dep/dep.sh"),
		"overlays.json":                        filepath.Join(root, "overlays.json"),
		outside:                                outside,
	} {
		if got, err := ScriptFile(spec, path); err != nil || got != want {
			t.Errorf("ScriptFile(%s) = %q, %v; want %q", path, got, err, want)
		}
	}
	for _, bad := range []string{"evil/run.sh", "evil/rel.sh", "nope.sh", "../x.sh"} {
		if got, err := ScriptFile(spec, bad); err == nil {
			t.Errorf("ScriptFile(%s) = %q, want an error", bad, got)
		}
	}
	if code, err := RunScript(context.Background(), spec, "opt/built_workspace/share/app/pre.sh", nil); code != 0 || err != nil {
		t.Errorf("RunScript of a workspace script: %d, %v", code, err)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
