// Package launch runs a deployed robot application on the robot: it builds
// the launcher's command line and environment (SPEC §6 "Launch"), runs the
// pre- and post-launch scripts, and supervises the application (SPEC §6
// "Supervision"): restarts with backoff when it dies, stops it with SIGTERM
// then SIGKILL after a grace period, and rotates its logs.
//
// # Command line
//
// Everything runs through /bin/sh -c with a script that Command builds: it
// changes to the bundle root, sources each overlay's setup.sh in order with
// BUNDLE_CURRENT_PREFIX and COLCON_BUNDLE_PREFIX set to the overlay
// directory (AWS RoboMaker's convention and colcon-bundle's documented
// one), then execs the launcher, so that the launcher (not a shell)
// is the supervised process and receives the signals:
//
//	cd '/bundle' || exit 1
//	BUNDLE_CURRENT_PREFIX='/bundle/o1' COLCON_BUNDLE_PREFIX='/bundle/o1' . '/bundle/o1/setup.sh'
//	exec roslaunch 'pkg' 'app.launch'
//
// Every value from the API (paths, package and launch file names) is
// single-quoted, so no name can inject shell syntax.
//
// # Rollback
//
// A Supervisor runs one application at a time and can be started again once
// stopped. The agent rolls a deployment back by stopping the new
// application's Supervisor and starting the previous Spec again (it uses a
// fresh Supervisor per launch).
//
// # Process lifetime
//
// "The application" is its whole process tree, a unit: the launcher, in
// its own process group (its pid is the group id), everything descending
// from it, and everything carrying its unit id in the UnitEnv environment
// variable — which processes keep when they call setsid or are orphaned
// (roslaunch starts the master and each node in a session of its own). The
// agent is a child subreaper (BecomeSubreaper), so such orphans become its
// children, not init's. Where the agent may create cgroups (Supervisor.
// Cgroup: its own cgroup v2, delegated by systemd's Delegate=yes), each
// launch also runs in a cgroup of its own, which no process can leave, and
// is ended with cgroup.kill. Stop, a crash's clean-up before the restart,
// and a rollback all end every process of the unit (SIGTERM, SIGKILL after
// the grace period) before anything is launched again, so two copies never
// run; a restarted agent first ends what its predecessor left (KillStray). On Linux the child is also started with the parent-death signal
// set to SIGTERM (prctl PR_SET_PDEATHSIG): if the agent is killed, even by
// SIGKILL, the application's top process gets SIGTERM at once and does not
// run on unmanaged; the agent relaunches the current deployment when it
// starts again. The kernel delivers that signal to the top process only
// (launchers such as roslaunch and ros2 launch pass it on to their nodes),
// and it fires when the OS thread that forked the child exits: the
// Supervisor therefore forks from a goroutine of its own, which the Go
// runtime never runs on a thread that may exit.
//
// The package needs a Unix system (it is built for Linux; other Unix
// systems, for development, lack only the parent-death signal) and no cgo.
package launch

import (
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// Software suites, as the RoboMaker API names them.
const (
	SuiteROS     = "ROS"
	SuiteROS2    = "ROS2"
	SuiteGeneral = "General"
)

// Shell is the shell every command runs with; the overlays' setup.sh files
// are POSIX sh scripts.
const Shell = "/bin/sh"

// TagEnvPrefix prefixes the name of the environment variable carrying a tag:
// tag "team" = "blue" becomes AWS_ROBOMAKER_ROBOT_TAG_KEY_team=blue.
const TagEnvPrefix = "AWS_ROBOMAKER_ROBOT_TAG_KEY_"

// shellName is the $0 of the shell scripts, shown in the shell's own error
// messages ("fleetsync-launch: 3: roslaunch: not found").
const shellName = "fleetsync-launch"

// Spec is what to run for one deployment.
type Spec struct {
	// BundleRoot is the extracted bundle's root: the working directory of
	// the scripts and of the application. It should be absolute.
	BundleRoot string
	// Overlays are directories whose setup.sh is sourced, in this order,
	// before the launcher (colcon bundles); a relative one is taken relative
	// to BundleRoot. If Overlays is empty, BundleRoot/setup.sh is sourced
	// when it exists.
	Overlays []string
	// SoftwareSuite is SuiteROS, SuiteROS2 or SuiteGeneral.
	SoftwareSuite string
	// PackageName and LaunchFile are the launch configuration's package
	// and launch file.
	PackageName, LaunchFile string
	// Env is the job's environmentVariables. They override the inherited
	// environment; entries whose name is empty or holds '=' or NUL, or
	// whose value holds NUL, are skipped.
	Env map[string]string
	// Tags are the robot's and the job's tags, merged by the caller. Each
	// becomes TagEnvPrefix+key=value when the key is made of ASCII letters,
	// digits and underscores only (the key's case is kept); other keys are
	// skipped. Tag variables override Env.
	Tags map[string]string
	// LauncherOverride (the agent's --launcher CMD) replaces the default
	// launcher. It is shell text, inserted as is after `exec` and followed
	// by the quoted PackageName and LaunchFile, so it must be a simple
	// command: a program and optionally its own arguments
	// ("/opt/bin/run --verbose"). It comes from the robot's own
	// configuration, never from the API.
	LauncherOverride string
	// BaseEnv is the environment the application inherits before Env and
	// Tags are applied. Nil means the agent's own environment (os.Environ)
	// without systemd's per-service protocol variables (NOTIFY_SOCKET,
	// LISTEN_FDS, …), which belong to the agent, not to its children.
	BaseEnv []string
}

// Validate reports whether s can be launched: BundleRoot is set, the
// software suite is known (or a launcher override is set), and PackageName
// and LaunchFile are set.
func (s Spec) Validate() error {
	if s.BundleRoot == "" {
		return errors.New("launch: no bundle root")
	}
	if s.LauncherOverride == "" {
		switch s.SoftwareSuite {
		case SuiteROS, SuiteROS2, SuiteGeneral:
		default:
			return fmt.Errorf("launch: unknown software suite %q", s.SoftwareSuite)
		}
	}
	if s.PackageName == "" || s.LaunchFile == "" {
		return errors.New("launch: package name and launch file are required")
	}
	// A process environment cannot carry these: refused here, so that the
	// deployment fails saying which, rather than launching without them.
	for _, k := range sortedKeys(s.Env) {
		switch {
		case k == "" || strings.ContainsAny(k, "=\x00"):
			return fmt.Errorf("launch: environment variable name %q cannot be set (empty, or holds '=' or NUL)", k)
		case strings.ContainsRune(s.Env[k], 0):
			return fmt.Errorf("launch: environment variable %s: its value holds a NUL byte, which a process environment cannot carry", k)
		}
	}
	for _, k := range sortedKeys(s.Tags) {
		if isTagKey(k) && strings.ContainsRune(s.Tags[k], 0) {
			return fmt.Errorf("launch: tag %s: its value holds a NUL byte, which %s%s cannot carry", k, TagEnvPrefix, k)
		}
	}
	return nil
}

// Command returns the argv and the environment that run the application
// described by s: argv is {Shell, "-c", script, name}, the script changing
// to BundleRoot, sourcing the overlays (see Spec.Overlays) each as
//
//	BUNDLE_CURRENT_PREFIX=<dir> COLCON_BUNDLE_PREFIX=<dir> . <dir>/setup.sh
//
// (the first is what AWS's bundle library set and real colcon-bundle setup
// scripts read, the second what colcon-bundle's format document names), and
// exec'ing the launcher: `roslaunch P F` for ROS, `ros2 launch P F` for
// ROS2 (both find P through the sourced overlays, the workspace's last and
// so first on the ROS paths), for General the program LaunchProgram finds
// (P/F in the workspace overlay, then the other overlays, then the root)
// executed directly, or `<LauncherOverride> P F`. A General program that is
// not in the bundle yields a script that says so and exits with status 127. An unknown suite without override yields a
// script that prints an error and exits with status 2 (Validate reports it
// beforehand). env is the complete environment: BaseEnv, then Env, then the
// tag variables, each overriding the earlier ones, in a deterministic
// order.
//
// Command's only I/O is the General suite's lookup; the existence of
// BundleRoot/setup.sh is tested by the script itself.
func Command(s Spec) (argv []string, env []string) {
	var b strings.Builder
	prelude(&b, s)
	p, f := shellQuote(s.PackageName), shellQuote(s.LaunchFile)
	switch {
	case s.LauncherOverride != "":
		fmt.Fprintf(&b, "exec %s %s %s\n", s.LauncherOverride, p, f)
	case s.SoftwareSuite == SuiteROS:
		fmt.Fprintf(&b, "exec roslaunch %s %s\n", p, f)
	case s.SoftwareSuite == SuiteROS2:
		fmt.Fprintf(&b, "exec ros2 launch %s %s\n", p, f)
	case s.SoftwareSuite == SuiteGeneral:
		prog, err := LaunchProgram(s)
		if err != nil {
			fmt.Fprintf(&b, "echo %s >&2\nexit 127\n", shellQuote(shellName+": "+err.Error()))
			break
		}
		fmt.Fprintf(&b, "exec %s\n", shellQuote(prog))
	default:
		msg := fmt.Sprintf("%s: unknown software suite %q", shellName, s.SoftwareSuite)
		fmt.Fprintf(&b, "echo %s >&2\nexit 2\n", shellQuote(msg))
	}
	return []string{Shell, "-c", b.String(), shellName}, environment(s)
}

// prelude writes the part of a script shared by the application and the
// pre/post-launch scripts: the cd to the bundle root and the overlays.
func prelude(b *strings.Builder, s Spec) {
	root := s.BundleRoot
	fmt.Fprintf(b, "cd %s || exit 1\n", shellQuote(root))
	if len(s.Overlays) == 0 {
		setup := shellQuote(filepath.Join(root, "setup.sh"))
		fmt.Fprintf(b, "if [ -f %s ]; then BUNDLE_CURRENT_PREFIX=%s COLCON_BUNDLE_PREFIX=%s . %s; fi\n",
			setup, shellQuote(root), shellQuote(root), setup)
		return
	}
	for _, dir := range s.Overlays {
		if !filepath.IsAbs(dir) {
			dir = filepath.Join(root, dir)
		}
		fmt.Fprintf(b, "BUNDLE_CURRENT_PREFIX=%s COLCON_BUNDLE_PREFIX=%s . %s\n",
			shellQuote(dir), shellQuote(dir), shellQuote(filepath.Join(dir, "setup.sh")))
	}
}

// shellQuote quotes s as one POSIX shell word.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// systemdVars are the variables systemd sets for the agent's own service;
// an application inheriting them could talk to systemd on the agent's behalf.
var systemdVars = []string{
	"NOTIFY_SOCKET", "LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES",
	"WATCHDOG_PID", "WATCHDOG_USEC",
}

// environment builds the application's environment (see Command).
func environment(s Spec) []string {
	base := s.BaseEnv
	drop := map[string]bool{}
	if base == nil {
		base = os.Environ()
		for _, k := range systemdVars {
			drop[k] = true
		}
	}
	type kv struct{ k, v string }
	var add []kv
	for _, k := range sortedKeys(s.Env) {
		v := s.Env[k]
		if k == "" || strings.ContainsAny(k, "=\x00") || strings.ContainsRune(v, 0) {
			continue
		}
		add = append(add, kv{k, v})
	}
	for _, k := range sortedKeys(s.Tags) {
		v := s.Tags[k]
		if !isTagKey(k) || strings.ContainsRune(v, 0) {
			continue
		}
		add = append(add, kv{TagEnvPrefix + k, v})
	}
	// Later entries win: keep only the last one of each name.
	last := map[string]int{}
	for i, e := range add {
		last[e.k] = i
		drop[e.k] = true
	}
	env := make([]string, 0, len(base)+len(add))
	for _, e := range base {
		k, _, _ := strings.Cut(e, "=")
		if !drop[k] {
			env = append(env, e)
		}
	}
	for i, e := range add {
		if last[e.k] == i {
			env = append(env, e.k+"="+e.v)
		}
	}
	return env
}

// isTagKey reports whether a tag key may become a variable name: non-empty,
// ASCII letters, digits and underscores only.
func isTagKey(k string) bool {
	if k == "" {
		return false
	}
	for i := 0; i < len(k); i++ {
		c := k[i]
		if !(c == '_' || '0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z') {
			return false
		}
	}
	return true
}

func sortedKeys(m map[string]string) []string {
	return slices.Sorted(maps.Keys(m))
}
