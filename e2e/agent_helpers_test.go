// Helpers of the agent end-to-end tests (agent_*_test.go): real
// fleetsync-agent processes against a real fleetsyncd, deploying bundles the
// tests build.
package e2e

//lint:file-ignore SA1019 aws-sdk-go v1 (deprecated) is the reference client fleetsync serves.

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go/aws"
	"github.com/aws/aws-sdk-go/service/robomaker"

	"github.com/fleetsync/fleetsync/internal/syncbuf"
	"github.com/fleetsync/fleetsync/internal/testenv"
)

// agentArgs make a test agent quick: short long polls, heartbeats well
// inside the test server's silence limit (3 × 200 ms + 1 s), fast retries
// and restarts.
var agentArgs = []string{"--poll-wait", "1s", "--heartbeat", "250ms", "--retry-base", "100ms",
	"--launch-settle", "300ms", "--grace", "2s", "--restart-backoff-min", "200ms", "--restart-backoff-max", "2s"}

// agentProc is one real fleetsync-agent process.
type agentProc struct {
	t        *testing.T
	ID       string // agent id printed by init
	StateDir string
	server   string
	args     []string
	env      []string // added to the test's environment
	cmd      *exec.Cmd
	done     chan struct{}
	log      *syncbuf.Buffer
}

// newAgent runs `fleetsync-agent init --account <bootstrap account>` in a
// fresh state directory.
func newAgent(t *testing.T, server string, extra ...string) *agentProc {
	t.Helper()
	return newAgentOf(t, testenv.Account, server, extra...)
}

// newAgentOf runs `fleetsync-agent init --account account` in a fresh state
// directory.
func newAgentOf(t *testing.T, account, server string, extra ...string) *agentProc {
	t.Helper()
	dir := t.TempDir()
	out, err := exec.Command(testenv.Binary(t, "fleetsync-agent"), "init", "--account", account, "--state-dir", dir).Output()
	if err != nil {
		t.Fatalf("fleetsync-agent init: %v", err)
	}
	id := strings.TrimSpace(string(out))
	if strings.Count(string(out), "\n") != 1 || !strings.HasPrefix(id, "fsa2-"+account+"-") {
		t.Fatalf("init printed %q, want the agent id alone on one line", out)
	}
	a := &agentProc{t: t, ID: id, StateDir: dir, server: server, args: append(append([]string{}, agentArgs...), extra...), log: &syncbuf.Buffer{}}
	t.Cleanup(func() {
		a.Kill()
		if t.Failed() {
			t.Logf("agent %s log:\n%s", dir, a.log.String())
		}
	})
	return a
}

// Start runs `fleetsync-agent run`.
func (a *agentProc) Start() {
	a.t.Helper()
	args := append([]string{"run", "--server", a.server, "--state-dir", a.StateDir, "--log-level", "debug"}, a.args...)
	a.cmd = exec.Command(testenv.Binary(a.t, "fleetsync-agent"), args...)
	a.cmd.Env = append(os.Environ(), a.env...)
	a.cmd.Stdout, a.cmd.Stderr = a.log, a.log
	if err := a.cmd.Start(); err != nil {
		a.t.Fatal(err)
	}
	a.done = make(chan struct{})
	go func(cmd *exec.Cmd, done chan struct{}) { cmd.Wait(); close(done) }(a.cmd, a.done)
}

// Kill sends SIGKILL and waits for the process to end.
func (a *agentProc) Kill() {
	if a.cmd == nil {
		return
	}
	a.cmd.Process.Signal(syscall.SIGKILL)
	<-a.done
	a.cmd = nil
}

// Terminate sends SIGTERM and waits for a clean exit.
func (a *agentProc) Terminate() {
	a.t.Helper()
	a.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-a.done:
	case <-time.After(20 * time.Second):
		a.t.Fatal("agent still running 20s after SIGTERM")
	}
	a.cmd = nil
}

// agentStatus is `fleetsync-agent status --json`.
type agentStatus struct {
	AgentRunning bool `json:"agentRunning"`
	AppRunning   bool `json:"appRunning"`
	AppPID       int  `json:"appPid"`
	AppRestarts  int  `json:"appRestarts"`
	LastExitCode *int `json:"lastExitCode"`
	Current      *struct {
		DeploymentJob      string `json:"deploymentJob"`
		ApplicationVersion string `json:"applicationVersion"`
	} `json:"current"`
	LastError string `json:"lastError"`
	Deploying string `json:"deploying"`
}

func (a *agentProc) Status() agentStatus {
	a.t.Helper()
	out, err := exec.Command(testenv.Binary(a.t, "fleetsync-agent"), "status", "--json", "--state-dir", a.StateDir).Output()
	if err != nil {
		a.t.Fatalf("fleetsync-agent status: %v", err)
	}
	var s agentStatus
	if err := json.Unmarshal(out, &s); err != nil {
		a.t.Fatalf("status --json: %v\n%s", err, out)
	}
	return s
}

// bundleFile is one entry of a test bundle.
type bundleFile struct {
	body string
	mode int64
}

// tarGz builds a .tar.gz bundle.
func tarGz(t testing.TB, files map[string]bundleFile) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		f := files[n]
		mode := f.mode
		if mode == 0 {
			mode = 0o644
		}
		must(t, tw.WriteHeader(&tar.Header{Name: n, Mode: mode, Size: int64(len(f.body)), Typeflag: tar.TypeReg, ModTime: time.Unix(1700000000, 0)}))
		_, err := tw.Write([]byte(f.body))
		must(t, err)
	}
	must(t, tw.Close())
	must(t, zw.Close())
	return buf.Bytes()
}

// appScript is a General-suite application: it records its environment,
// pid and version under $OUT, named after the robot's "name" tag, then runs
// until stopped; it exits with status 7 when $OUT/<name>.crash appears
// (removing it, so the restart runs on).
func appScript(version string) string {
	return `#!/bin/sh
name="$AWS_ROBOMAKER_ROBOT_TAG_KEY_name"
env > "$OUT/$name.env"
echo "` + version + `" > "$OUT/$name.version"
echo $$ > "$OUT/$name.pid"
pwd > "$OUT/$name.pwd"
echo "` + version + ` $$" >> "$OUT/$name.runs"
while :; do
  if [ -e "$OUT/$name.crash" ]; then rm -f "$OUT/$name.crash"; exit 7; fi
  sleep 0.1
done
`
}

// archName is the RoboMaker architecture of this machine.
func archName() string {
	switch runtime.GOARCH {
	case "arm64":
		return "ARM64"
	case "arm":
		return "ARMHF"
	}
	return "X86_64"
}

// agentFleet is a RoboMaker fleet of real agents and one application whose
// versions the test adds.
type agentFleet struct {
	t      *testing.T
	s      *testenv.Server
	c      *robomaker.RoboMaker
	fleet  string
	app    string
	out    string // $OUT of the applications
	agents map[string]*agentProc
	arns   map[string]string
}

func newAgentFleet(t *testing.T, s *testenv.Server, suite string) *agentFleet {
	t.Helper()
	f := &agentFleet{t: t, s: s, c: quiet(s.Client()), out: t.TempDir(), agents: map[string]*agentProc{}, arns: map[string]string{}}
	out, err := f.c.CreateFleet(&robomaker.CreateFleetInput{Name: aws.String(uniq("fleet"))})
	must(t, err)
	f.fleet = aws.StringValue(out.Arn)
	makeBucket(t, s, "apps")
	key := uniq("placeholder")
	putObject(t, s, "apps", key, []byte("placeholder"))
	app, err := f.c.CreateRobotApplication(&robomaker.CreateRobotApplicationInput{
		Name: aws.String(uniq("app")), RobotSoftwareSuite: &robomaker.RobotSoftwareSuite{Name: aws.String(suite)},
		Sources: []*robomaker.SourceConfig{{S3Bucket: aws.String("apps"), S3Key: aws.String(key), Architecture: aws.String(archName())}},
	})
	must(t, err)
	f.app = aws.StringValue(app.Arn)
	return f
}

// addAgent creates a real agent, its robot (tagged name=NAME) and registers
// it to the fleet; the agent is started with env added to its environment.
func (f *agentFleet) addAgent(name string, server string, env []string, extra ...string) *agentProc {
	f.t.Helper()
	a := newAgent(f.t, server, extra...)
	a.env = env
	out, err := f.c.CreateRobot(&robomaker.CreateRobotInput{Name: aws.String(uniq(name)), Architecture: aws.String(archName()),
		GreengrassGroupId: aws.String(a.ID), Tags: map[string]*string{"name": aws.String(name)}})
	must(f.t, err)
	_, err = f.c.RegisterRobot(&robomaker.RegisterRobotInput{Fleet: aws.String(f.fleet), Robot: out.Arn})
	must(f.t, err)
	f.agents[name], f.arns[name] = a, aws.StringValue(out.Arn)
	a.Start()
	return a
}

// version uploads bundle as a new object and makes it the application's
// next version; it returns the version number.
func (f *agentFleet) version(bundle []byte) string {
	f.t.Helper()
	key := uniq("bundle") + ".tar.gz"
	putObject(f.t, f.s, "apps", key, bundle)
	d, err := f.c.DescribeRobotApplication(&robomaker.DescribeRobotApplicationInput{Application: aws.String(f.app)})
	must(f.t, err)
	_, err = f.c.UpdateRobotApplication(&robomaker.UpdateRobotApplicationInput{Application: aws.String(f.app),
		RobotSoftwareSuite: d.RobotSoftwareSuite, CurrentRevisionId: d.RevisionId,
		Sources: []*robomaker.SourceConfig{{S3Bucket: aws.String("apps"), S3Key: aws.String(key), Architecture: aws.String(archName())}}})
	must(f.t, err)
	v, err := f.c.CreateRobotApplicationVersion(&robomaker.CreateRobotApplicationVersionInput{Application: aws.String(f.app)})
	must(f.t, err)
	return aws.StringValue(v.Version)
}

// deployOpts are a job's launch and deployment settings.
type deployOpts struct {
	pre, post string
	// launchFile replaces run.sh; timeout sets robotDeploymentTimeoutInSeconds.
	launchFile string
	timeout    int64
	condition  *robomaker.S3Object
	env        map[string]string
	tags       map[string]string // the job's, beside release=r<version>
}

// deploy creates a deployment job of version to the fleet.
func (f *agentFleet) deploy(version string, o deployOpts) string {
	f.t.Helper()
	env := map[string]*string{"OUT": aws.String(f.out)}
	for k, v := range o.env {
		env[k] = aws.String(v)
	}
	launchFile := "run.sh"
	if o.launchFile != "" {
		launchFile = o.launchFile
	}
	lc := &robomaker.DeploymentLaunchConfig{PackageName: aws.String("app"), LaunchFile: aws.String(launchFile), EnvironmentVariables: env}
	if o.pre != "" {
		lc.PreLaunchFile = aws.String(o.pre)
	}
	if o.post != "" {
		lc.PostLaunchFile = aws.String(o.post)
	}
	tags := map[string]*string{"release": aws.String("r" + version)}
	for k, v := range o.tags {
		tags[k] = aws.String(v)
	}
	cfg := &robomaker.DeploymentConfig{ConcurrentDeploymentPercentage: aws.Int64(100),
		FailureThresholdPercentage: aws.Int64(100), DownloadConditionFile: o.condition}
	if o.timeout > 0 {
		cfg.RobotDeploymentTimeoutInSeconds = aws.Int64(o.timeout)
	}
	out, err := f.c.CreateDeploymentJob(&robomaker.CreateDeploymentJobInput{
		Fleet: aws.String(f.fleet), Tags: tags,
		DeploymentApplicationConfigs: []*robomaker.DeploymentApplicationConfig{{
			Application: aws.String(f.app), ApplicationVersion: aws.String(version), LaunchConfig: lc}},
		DeploymentConfig: cfg,
	})
	must(f.t, err)
	return aws.StringValue(out.Arn)
}

// wait waits for a job to end.
func (f *agentFleet) wait(job string) *robomaker.DescribeDeploymentJobOutput {
	f.t.Helper()
	r := &rollout{t: f.t, s: f.s, c: f.c}
	d, _ := r.wait(job, 90*time.Second)
	return d
}

// read returns $OUT/<name>.<what>, trimmed ("" if absent).
func (f *agentFleet) read(name, what string) string {
	b, _ := os.ReadFile(filepath.Join(f.out, name+"."+what))
	return strings.TrimSpace(string(b))
}

// pid returns the pid the robot's application recorded.
func (f *agentFleet) pid(name string) int {
	n, _ := strconv.Atoi(f.read(name, "pid"))
	return n
}

// processAlive reports whether pid runs (and is not a zombie).
func processAlive(pid int) bool {
	if pid <= 0 {
		return false
	}
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	i := bytes.LastIndexByte(b, ')')
	return i > 0 && len(b) > i+2 && b[i+2] != 'Z'
}

// eventually polls cond until it holds or the timeout passes.
func eventually(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("not after %v: %s", timeout, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
