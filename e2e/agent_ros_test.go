package e2e

//lint:file-ignore SA1019 aws-sdk-go v1 (deprecated) is the reference client fleetsync serves.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go/aws"
	"github.com/aws/aws-sdk-go/service/robomaker"

	"github.com/fleetsync/fleetsync/internal/testenv"
	"github.com/fleetsync/fleetsync/internal/testskip"
)

// The ROS end-to-end tests: a catkin package (a launch file and a rospy
// node, plus a General-suite program and pre/post-launch scripts) built
// with the real `colcon build` against Debian's ROS 1, bundled by
// fleetsync-bundle (v2 and v1) with its Debian dependencies, deployed by
// real agents; the real roslaunch runs it. scripts/test installs ROS.

// rosPkg is the catkin package's source; {{VERSION}} is replaced per build.
var rosPkg = map[string]string{
	"package.xml": `<?xml version="1.0"?>
<package format="2">
  <name>talker</name>
  <version>0.1.0</version>
  <description>fleetsync end-to-end test node</description>
  <maintainer email="test@example.com">test</maintainer>
  <license>MIT</license>
  <buildtool_depend>catkin</buildtool_depend>
  <exec_depend>rospy</exec_depend>
</package>
`,
	"CMakeLists.txt": `cmake_minimum_required(VERSION 3.7)
project(talker)
find_package(catkin REQUIRED)
catkin_package()
catkin_install_python(PROGRAMS scripts/talker.py DESTINATION ${CATKIN_PACKAGE_BIN_DESTINATION})
install(PROGRAMS scripts/hello.sh DESTINATION ${CATKIN_PACKAGE_BIN_DESTINATION})
install(PROGRAMS scripts/pre_launch.sh scripts/post_launch.sh DESTINATION ${CATKIN_PACKAGE_SHARE_DESTINATION})
install(FILES launch/talker.launch DESTINATION ${CATKIN_PACKAGE_SHARE_DESTINATION}/launch)
`,
	"launch/talker.launch": `<launch>
  <node name="talker" pkg="talker" type="talker.py" output="screen"/>
</launch>
`,
	"scripts/talker.py": `#!/usr/bin/env python3
import os
import rospy

VERSION = "{{VERSION}}"
rospy.init_node("talker")
out, tag = os.environ.get("OUT"), os.environ.get("RUN_TAG", "run")
if out:
    p = os.path.join(out, "talker-%s.pid" % tag)
    with open(p + ".tmp", "w") as f:
        f.write("%d %s\n" % (os.getpid(), VERSION))
    os.rename(p + ".tmp", p)
rospy.loginfo("talker %s up", VERSION)
while not rospy.is_shutdown():
    rospy.sleep(0.1)
`,
	"scripts/hello.sh": `#!/bin/sh
echo "$0 $(pwd) $$" > "$OUT/hello-$RUN_TAG.tmp"
mv "$OUT/hello-$RUN_TAG.tmp" "$OUT/hello-$RUN_TAG"
while :; do sleep 0.1; done
`,
	"scripts/pre_launch.sh": `#!/bin/sh
echo "$0" > "$OUT/pre-$RUN_TAG"
`,
	"scripts/post_launch.sh": `#!/bin/sh
echo "$0" > "$OUT/post-$RUN_TAG"
[ -n "$FAIL_POST" ] || exit 0
# Fail only once the new version's node runs, so the rollback has a
# whole process tree to end.
i=0
while [ ! -e "$OUT/talker-$RUN_TAG.pid" ] && [ $i -lt 600 ]; do sleep 0.1; i=$((i+1)); done
echo "post-launch check failed" >&2
exit 3
`,
}

// rosDebs are the Debian packages of the dependencies overlay (with what
// they depend on): the node's interpreter and rospy come from the bundle.
var rosDebs = []string{"python3-rospy"}

// sysPath keeps Debian's python3 ahead of any other on the test machine.
const sysPath = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// rosFixture is what the ROS tests share, built once per test binary.
type rosFixture struct {
	dir                  string
	v2One, v2Two, v1One  string // bundle files (workspace version one or two)
	wsOneSHA, depsSHA    string
	wsOneSize, wsTwoSize int64
	buildSeconds         map[string]float64
	bundleSizes          map[string]int64
	err                  error
	skip                 string
	bundleSeconds        map[string]float64
}

var (
	rosOnce sync.Once
	rosFix  rosFixture
)

// rosSetup builds the workspace twice (versions one and two: only the node
// differs) and bundles it, once per test binary, in a directory named after
// the test process (removed by the next run's sweep, like testenv's builds).
func rosSetup(t *testing.T) *rosFixture {
	t.Helper()
	rosOnce.Do(func() {
		for _, tool := range []string{"roslaunch", "colcon", "dpkg-deb", "apt-get"} {
			if _, err := exec.LookPath(tool); err != nil {
				rosFix.skip = tool + " is not installed"
				return
			}
		}
		sweepRosDirs()
		rosFix.dir = filepath.Join(os.TempDir(), fmt.Sprintf("fleetsync-ros-%d", os.Getpid()))
		rosFix.buildSeconds, rosFix.bundleSizes, rosFix.bundleSeconds = map[string]float64{}, map[string]int64{}, map[string]float64{}
		rosFix.err = rosFix.build(t)
	})
	if rosFix.skip != "" {
		testskip.Missing(t, "ROS tests", rosFix.skip, "scripts/test (installs Debian's ROS 1: ros-base, catkin, colcon, python3-colcon-ros)")
	}
	if rosFix.err != nil {
		t.Fatal(rosFix.err)
	}
	return &rosFix
}

func sweepRosDirs() {
	dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), "fleetsync-ros-*"))
	for _, d := range dirs {
		pid, err := strconv.Atoi(strings.TrimPrefix(filepath.Base(d), "fleetsync-ros-"))
		if err == nil && syscall.Kill(pid, 0) != nil {
			os.RemoveAll(d)
		}
	}
}

func (f *rosFixture) build(t *testing.T) error {
	bundler := testenv.Binary(t, "fleetsync-bundle")
	debCache := filepath.Join(os.TempDir(), "fleetsync-test-debs") // kept: same packages every run
	for _, v := range []string{"one", "two"} {
		ws := filepath.Join(f.dir, "ws-"+v)
		for name, body := range rosPkg {
			p := filepath.Join(ws, "src", "talker", name)
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				return err
			}
			mode := os.FileMode(0o644)
			if strings.HasPrefix(name, "scripts/") {
				mode = 0o755
			}
			if err := os.WriteFile(p, []byte(strings.ReplaceAll(body, "{{VERSION}}", v)), mode); err != nil {
				return err
			}
		}
		began := time.Now()
		cmd := exec.Command("colcon", "build", "--event-handlers", "console_direct-")
		cmd.Dir = ws
		cmd.Env = append(os.Environ(), sysPath)
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("colcon build: %v\n%s", err, out)
		}
		f.buildSeconds["colcon build ws-"+v] = time.Since(began).Seconds()
		for _, format := range []string{"2", "1"} {
			if v == "two" && format == "1" {
				continue
			}
			out := filepath.Join(f.dir, "bundle-"+v+"-v"+format+".tar")
			began := time.Now()
			args := []string{"--install", filepath.Join(ws, "install"), "--format", format, "-o", out, "--cache", debCache, "--json"}
			for _, d := range rosDebs {
				args = append(args, "--deb", d)
			}
			cmd := exec.Command(bundler, args...)
			cmd.Env = append(os.Environ(), sysPath)
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			js, err := cmd.Output()
			if err != nil {
				return fmt.Errorf("fleetsync-bundle: %v\n%s", err, stderr.Bytes())
			}
			var res struct {
				Bundle struct {
					Size     int64
					Overlays []struct {
						Name   string `json:"name"`
						SHA256 string `json:"sha256"`
						Size   int64  `json:"size"`
					}
					Debs []struct{ Package string }
				} `json:"bundle"`
			}
			if err := json.Unmarshal(js, &res); err != nil {
				return fmt.Errorf("fleetsync-bundle --json: %v: %s", err, js)
			}
			name := "ws-" + v + " v" + format
			f.bundleSeconds[name] = time.Since(began).Seconds()
			f.bundleSizes[name] = res.Bundle.Size
			if format == "2" {
				for _, o := range res.Bundle.Overlays {
					switch {
					case o.Name == "dependencies.tar.gz" && v == "one":
						f.depsSHA = o.SHA256
						f.bundleSizes["dependencies overlay"] = o.Size
					case o.Name == "dependencies.tar.gz" && o.SHA256 != f.depsSHA:
						return fmt.Errorf("the dependencies overlay changed with the workspace: %s, then %s", f.depsSHA, o.SHA256)
					case o.Name == "workspace.tar.gz" && v == "one":
						f.wsOneSHA, f.wsOneSize = o.SHA256, o.Size
					case o.Name == "workspace.tar.gz":
						f.wsTwoSize = o.Size
					}
				}
			}
			switch {
			case v == "one" && format == "2":
				f.v2One = out
			case v == "one":
				f.v1One = out
			default:
				f.v2Two = out
			}
		}
	}
	t.Logf("ROS fixture: build seconds %v; bundle seconds %v; sizes %v", f.buildSeconds, f.bundleSeconds, f.bundleSizes)
	return nil
}

// freePort returns a TCP port free at the moment (testenv.FreeAddr), for a
// test's ROS master, which cannot report the port it bound.
func freePort(t *testing.T) int {
	t.Helper()
	_, p, err := net.SplitHostPort(testenv.FreeAddr(t))
	must(t, err)
	port, err := strconv.Atoi(p)
	must(t, err)
	return port
}

// rosProc is a process of a test's ROS graph.
type rosProc struct {
	pid  int
	role string // roslaunch, rosmaster, rosout, talker
	tag  string // its RUN_TAG
}

// rosProcs lists the live processes whose environment names the test's
// master (ROS_MASTER_URI with its port).
func rosProcs(port int) []rosProc {
	uri := []byte(fmt.Sprintf("ROS_MASTER_URI=http://127.0.0.1:%d", port))
	ents, _ := os.ReadDir("/proc")
	var out []rosProc
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || !processAlive(pid) {
			continue
		}
		env, err := os.ReadFile(fmt.Sprintf("/proc/%d/environ", pid))
		if err != nil || !bytes.Contains(env, uri) {
			continue
		}
		cmdline, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		c := string(bytes.ReplaceAll(cmdline, []byte{0}, []byte{' '}))
		p := rosProc{pid: pid}
		for _, kv := range bytes.Split(env, []byte{0}) {
			if v, ok := bytes.CutPrefix(kv, []byte("RUN_TAG=")); ok {
				p.tag = string(v)
			}
		}
		switch {
		case strings.Contains(c, "talker.py"):
			p.role = "talker"
		case strings.Contains(c, "rosmaster"):
			p.role = "rosmaster"
		case strings.Contains(c, "rosout"):
			p.role = "rosout"
		case strings.Contains(c, "roslaunch"):
			p.role = "roslaunch"
		default:
			continue
		}
		out = append(out, p)
	}
	return out
}

// deployLaunch creates a deployment job with a given launch configuration.
func (f *agentFleet) deployLaunch(version, pkg, launchFile string, o deployOpts) string {
	f.t.Helper()
	env := map[string]*string{"OUT": aws.String(f.out)}
	for k, v := range o.env {
		env[k] = aws.String(v)
	}
	lc := &robomaker.DeploymentLaunchConfig{PackageName: aws.String(pkg), LaunchFile: aws.String(launchFile), EnvironmentVariables: env}
	if o.pre != "" {
		lc.PreLaunchFile = aws.String(o.pre)
	}
	if o.post != "" {
		lc.PostLaunchFile = aws.String(o.post)
	}
	out, err := f.c.CreateDeploymentJob(&robomaker.CreateDeploymentJobInput{
		Fleet: aws.String(f.fleet),
		DeploymentApplicationConfigs: []*robomaker.DeploymentApplicationConfig{{
			Application: aws.String(f.app), ApplicationVersion: aws.String(version), LaunchConfig: lc}},
		DeploymentConfig: &robomaker.DeploymentConfig{ConcurrentDeploymentPercentage: aws.Int64(100), FailureThresholdPercentage: aws.Int64(100)},
	})
	must(f.t, err)
	return aws.StringValue(out.Arn)
}

func readBundle(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	must(t, err)
	return b
}

// talkerPid waits for the node of a RUN_TAG to record its pid.
func (f *agentFleet) talkerPid(tag string, timeout time.Duration) int {
	f.t.Helper()
	var pid int
	eventually(f.t, timeout, "the talker node of "+tag+" to start", func() bool {
		b, err := os.ReadFile(filepath.Join(f.out, "talker-"+tag+".pid"))
		if err != nil {
			return false
		}
		pid, _ = strconv.Atoi(strings.Fields(string(b))[0])
		return processAlive(pid)
	})
	return pid
}

const (
	wsPrefix  = "opt/built_workspace/talker/"
	preLaunch = wsPrefix + "share/talker/pre_launch.sh"
	postLnch  = wsPrefix + "share/talker/post_launch.sh"
)

// TestAgentROSColconV2 deploys the catkin package as a colcon v2 bundle
// with the ROS suite: the real roslaunch starts the node from the bundle
// (the interpreter from the dependencies overlay, the node from the
// workspace overlay); the pre/post-launch files run from the workspace
// overlay; a workspace-only update fetches only the new workspace overlay;
// kill -9 of roslaunch leaves no orphan and never two nodes; a rollback
// ends every process of the new version.
func TestAgentROSColconV2(t *testing.T) {
	fx := rosSetup(t)
	s := startEngine(t)
	proxy := newBundleProxy(t, s.URL, 1<<30)
	f := newAgentFleet(t, s, "ROS")
	port := freePort(t)
	a := f.addAgent("ros", proxy.URL, []string{sysPath})
	env := func(tag string) map[string]string {
		return map[string]string{"ROS_MASTER_URI": fmt.Sprintf("http://127.0.0.1:%d", port), "ROS_HOME": filepath.Join(f.out, "roshome"), "RUN_TAG": tag}
	}
	t.Cleanup(func() {
		a.Kill()
		for _, p := range rosProcs(port) {
			syscall.Kill(p.pid, syscall.SIGKILL)
		}
	})
	v1 := f.version(readBundle(t, fx.v2One))
	job := f.deployLaunch(v1, "talker", "talker.launch", deployOpts{pre: preLaunch, post: postLnch, env: env("one")})
	if d := f.wait(job); aws.StringValue(d.Status) != "Succeeded" {
		t.Fatalf("ROS v2 deployment: %v", d)
	}
	overlays := filepath.Join(a.StateDir, "overlays")
	node := f.talkerPid("one", 60*time.Second)
	exe, _ := os.Readlink(fmt.Sprintf("/proc/%d/exe", node))
	cmdline, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", node))
	args := strings.Split(strings.TrimRight(string(cmdline), "\x00"), "\x00")
	t.Logf("node %d: interpreter %s, argv %q", node, exe, args)
	if want := filepath.Join(overlays, fx.depsSHA, "usr/bin/python3"); !strings.HasPrefix(exe, want) {
		t.Errorf("the node's interpreter is %s, want the bundle's %s*", exe, want)
	}
	if len(args) < 2 || args[1] != filepath.Join(overlays, fx.wsOneSHA, wsPrefix+"lib/talker/talker.py") {
		t.Errorf("the node runs %q, want the workspace overlay's talker.py", args)
	}
	for _, what := range []string{"pre", "post"} {
		if got, want := f.readOut(what+"-one"), filepath.Join(overlays, fx.wsOneSHA, wsPrefix+"share/talker/"+what+"_launch.sh"); got != want {
			t.Errorf("%s-launch ran from %q, want %q", what, got, want)
		}
	}
	if rl := a.Status().AppPID; rl > 0 {
		exe, _ := os.Readlink(fmt.Sprintf("/proc/%d/exe", rl))
		c, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", rl))
		t.Logf("launcher %d: %s %q", rl, exe, bytes.ReplaceAll(c, []byte{0}, []byte{' '}))
		if !bytes.Contains(bytes.ReplaceAll(c, []byte{0}, []byte{' '}), []byte("roslaunch talker talker.launch")) {
			t.Errorf("the supervised process is not roslaunch: %q", c)
		}
	}

	// A workspace-only update: only the new workspace overlay (and the
	// bundle's head) travel.
	proxy.served.Store(0)
	v2 := f.version(readBundle(t, fx.v2Two))
	job = f.deployLaunch(v2, "talker", "talker.launch", deployOpts{env: env("two")})
	if d := f.wait(job); aws.StringValue(d.Status) != "Succeeded" {
		t.Fatalf("workspace-only update: %v", d)
	}
	served := proxy.served.Load()
	t.Logf("workspace-only update: %d bytes fetched of a %d-byte bundle (workspace overlay %d bytes, dependencies overlay %d bytes reused)",
		served, fx.bundleSizes["ws-two v2"], fx.wsTwoSize, fx.bundleSizes["dependencies overlay"])
	if served > fx.wsTwoSize+16<<10 {
		t.Errorf("the update fetched %d bytes, more than the %d-byte workspace overlay and the index", served, fx.wsTwoSize)
	}
	f.talkerPid("two", 60*time.Second)
	if b, _ := os.ReadFile(filepath.Join(f.out, "talker-two.pid")); !strings.Contains(string(b), " two") {
		t.Errorf("after the update the node is %q, want version two", b)
	}

	// kill -9 of roslaunch: its master, rosout and node (each in a session
	// of its own) are ended before the restart; never two nodes.
	before := rosProcs(port)
	roles := map[string]int{}
	for _, p := range before {
		roles[p.role]++
	}
	if roles["talker"] != 1 || roles["rosmaster"] != 1 || roles["roslaunch"] != 1 {
		t.Fatalf("before kill -9: %v", before)
	}
	os.Remove(filepath.Join(f.out, "talker-two.pid"))
	var maxNodes atomic.Int32
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			select {
			case <-stop:
				return
			case <-time.After(20 * time.Millisecond):
			}
			n := int32(0)
			for _, p := range rosProcs(port) {
				if p.role == "talker" {
					n++
				}
			}
			if n > maxNodes.Load() {
				maxNodes.Store(n)
			}
		}
	})
	launcher := a.Status().AppPID
	must(t, syscall.Kill(launcher, syscall.SIGKILL))
	newNode := f.talkerPid("two", 60*time.Second)
	close(stop)
	wg.Wait()
	for _, p := range before {
		if processAlive(p.pid) {
			t.Errorf("%s %d of the killed roslaunch still runs", p.role, p.pid)
		}
	}
	if m := maxNodes.Load(); m > 1 {
		t.Errorf("%d talker nodes ran at once after kill -9 of roslaunch", m)
	}
	t.Logf("after kill -9 of roslaunch %d: old processes %v ended; new node %d; at most %d node at a time", launcher, before, newNode, maxNodes.Load())

	// A rollback: version three's post-launch file fails once its node
	// runs; every process of version three ends, version two runs again.
	v3 := f.version(readBundle(t, fx.v2One))
	rb := env("rb")
	rb["FAIL_POST"] = "1"
	seen := map[int]rosProc{}
	stop = make(chan struct{})
	var mu sync.Mutex
	wg.Go(func() {
		for {
			select {
			case <-stop:
				return
			case <-time.After(20 * time.Millisecond):
			}
			mu.Lock()
			for _, p := range rosProcs(port) {
				if p.tag == "rb" {
					seen[p.pid] = p
				}
			}
			mu.Unlock()
		}
	})
	os.Remove(filepath.Join(f.out, "talker-two.pid"))
	job = f.deployLaunch(v3, "talker", "talker.launch", deployOpts{post: postLnch, env: rb})
	d := f.wait(job)
	close(stop)
	wg.Wait()
	if aws.StringValue(d.Status) != "Failed" {
		t.Fatalf("rollback deployment: %v", d)
	}
	rd := f.robotDeployment(job)
	if aws.StringValue(rd.FailureCode) != "PostLaunchFileFailure" {
		t.Errorf("rollback: failure %s %s", aws.StringValue(rd.FailureCode), aws.StringValue(rd.FailureReason))
	}
	roles = map[string]int{}
	for _, p := range seen {
		roles[p.role]++
		if processAlive(p.pid) {
			t.Errorf("%s %d of the rolled-back version still runs", p.role, p.pid)
		}
	}
	if roles["talker"] == 0 || roles["roslaunch"] == 0 || roles["rosmaster"] == 0 {
		t.Errorf("the rolled-back version's processes were not all seen: %v", seen)
	}
	restored := f.talkerPid("two", 60*time.Second)
	t.Logf("rollback ended %d processes of the new version %v; version two runs again (node %d)", len(seen), roles, restored)
}

// readOut returns $OUT/<name>, trimmed ("" if absent).
func (f *agentFleet) readOut(name string) string {
	b, _ := os.ReadFile(filepath.Join(f.out, name))
	return strings.TrimSpace(string(b))
}

// robotDeployment returns the job's one robot deployment.
func (f *agentFleet) robotDeployment(job string) *robomaker.RobotDeployment {
	f.t.Helper()
	d, err := f.c.DescribeDeploymentJob(&robomaker.DescribeDeploymentJobInput{Job: aws.String(job)})
	must(f.t, err)
	if len(d.RobotDeploymentSummary) != 1 {
		f.t.Fatalf("robot deployments: %v", d.RobotDeploymentSummary)
	}
	return d.RobotDeploymentSummary[0]
}

// TestAgentROSColconV1 deploys the v1 bundle with the ROS suite: the node
// runs from the extracted bundle (interpreter and script).
func TestAgentROSColconV1(t *testing.T) {
	fx := rosSetup(t)
	s := startEngine(t)
	f := newAgentFleet(t, s, "ROS")
	port := freePort(t)
	a := f.addAgent("ros1", s.URL, []string{sysPath})
	t.Cleanup(func() {
		a.Kill()
		for _, p := range rosProcs(port) {
			syscall.Kill(p.pid, syscall.SIGKILL)
		}
	})
	v := f.version(readBundle(t, fx.v1One))
	job := f.deployLaunch(v, "talker", "talker.launch", deployOpts{pre: preLaunch, env: map[string]string{
		"ROS_MASTER_URI": fmt.Sprintf("http://127.0.0.1:%d", port), "ROS_HOME": filepath.Join(f.out, "roshome"), "RUN_TAG": "v1"}})
	if d := f.wait(job); aws.StringValue(d.Status) != "Succeeded" {
		t.Fatalf("ROS v1 deployment: %v", d)
	}
	node := f.talkerPid("v1", 60*time.Second)
	exe, _ := os.Readlink(fmt.Sprintf("/proc/%d/exe", node))
	cmdline, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", node))
	root := filepath.Join(a.StateDir, "deployments")
	t.Logf("v1 node %d: %s %q", node, exe, bytes.ReplaceAll(cmdline, []byte{0}, []byte{' '}))
	if !strings.HasPrefix(exe, root) || !strings.Contains(exe, "/usr/bin/python3") {
		t.Errorf("the v1 node's interpreter is %s, want the bundle's python3 under %s", exe, root)
	}
	if !bytes.Contains(cmdline, []byte("/"+wsPrefix+"lib/talker/talker.py")) || !bytes.HasPrefix(bytes.SplitN(cmdline, []byte{0}, 3)[1], []byte(root)) {
		t.Errorf("the v1 node runs %q", cmdline)
	}
	if pre := f.readOut("pre-v1"); !strings.HasPrefix(pre, root) || !strings.HasSuffix(pre, preLaunch) {
		t.Errorf("pre-launch ran from %q", pre)
	}
}

// TestAgentGeneralColcon launches a program of the colcon bundles with the
// General suite and no --launcher: packageName/launchFile are found in the
// workspace overlay (v2) or the bundle (v1), in the install space's
// lib/<package> directory.
func TestAgentGeneralColcon(t *testing.T) {
	fx := rosSetup(t)
	s := startEngine(t)
	f := newAgentFleet(t, s, "General")
	a := f.addAgent("general", s.URL, []string{sysPath})
	for _, c := range []struct{ name, bundle, where string }{
		{"v2", fx.v2One, filepath.Join(a.StateDir, "overlays", fx.wsOneSHA)},
		{"v1", fx.v1One, filepath.Join(a.StateDir, "deployments")},
	} {
		v := f.version(readBundle(t, c.bundle))
		job := f.deployLaunch(v, "talker", "hello.sh", deployOpts{pre: preLaunch, post: postLnch, env: map[string]string{"RUN_TAG": c.name}})
		if d := f.wait(job); aws.StringValue(d.Status) != "Succeeded" {
			t.Fatalf("General %s deployment: %v", c.name, d)
		}
		var rec string
		eventually(t, 20*time.Second, "the program to run", func() bool { rec = f.readOut("hello-" + c.name); return rec != "" })
		fields := strings.Fields(rec)
		t.Logf("General %s: %s", c.name, rec)
		if len(fields) != 3 || !strings.HasPrefix(fields[0], c.where) || !strings.HasSuffix(fields[0], wsPrefix+"lib/talker/hello.sh") {
			t.Errorf("General %s ran %q, want %s/…/%slib/talker/hello.sh", c.name, rec, c.where, wsPrefix)
		}
		if pre := f.readOut("pre-" + c.name); !strings.HasPrefix(pre, c.where) {
			t.Errorf("General %s: pre-launch ran from %q", c.name, pre)
		}
	}
}
