package e2e

//lint:file-ignore SA1019 aws-sdk-go v1 (deprecated) is the reference client fleetsync serves.

import (
	"bytes"
	"compress/gzip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go/aws"
	"github.com/aws/aws-sdk-go/service/robomaker"

	"github.com/fleetsync/fleetsync/internal/testenv"
)

// TestAgentLifecycle drives three real agents (and a fourth added late)
// through a first deployment, a Sync, every step's failure with rollback,
// an agent restart and an application crash.
func TestAgentLifecycle(t *testing.T) {
	s := startEngine(t)
	f := newAgentFleet(t, s, "General")
	names := []string{"r1", "r2", "r3"}
	for _, n := range names {
		f.addAgent(n, s.URL, nil)
	}
	v1 := f.version(tarGz(t, map[string]bundleFile{"app/run.sh": {appScript("v1"), 0o755}}))
	job1 := f.deploy(v1, deployOpts{env: map[string]string{"GREETING": "hello world"}})
	d := f.wait(job1)
	if got := aws.StringValue(d.Status); got != "Succeeded" {
		t.Fatalf("first deployment: job %s, want Succeeded: %v", got, d)
	}
	pids := map[string]int{}
	installedBy := map[string]string{} // robot name → the job its application came from
	for _, n := range names {
		if row := rows(d)[f.arns[n]]; aws.StringValue(row.Status) != "InSync" {
			t.Fatalf("robot %s: %v", n, row)
		}
		if got := f.read(n, "version"); got != "v1" {
			t.Fatalf("robot %s runs %q, want v1", n, got)
		}
		env := f.read(n, "env")
		for _, want := range []string{"GREETING=hello world", "AWS_ROBOMAKER_ROBOT_TAG_KEY_name=" + n,
			"AWS_ROBOMAKER_ROBOT_TAG_KEY_release=r" + v1, "OUT=" + f.out} {
			if !strings.Contains(env, want+"\n") {
				t.Errorf("robot %s: environment lacks %q:\n%s", n, want, env)
			}
		}
		if pwd := f.read(n, "pwd"); !strings.HasPrefix(pwd, f.agents[n].StateDir+"/deployments/") {
			t.Errorf("robot %s: application ran in %s, want its bundle root under the state dir", n, pwd)
		}
		pids[n], installedBy[n] = f.pid(n), job1
		eventually(t, 10*time.Second, n+" status shows the running application", func() bool {
			st := f.agents[n].Status()
			return st.AgentRunning && st.AppRunning && st.AppPID == pids[n] && st.Current != nil && st.Current.DeploymentJob == job1
		})
		if !processAlive(pids[n]) {
			t.Fatalf("robot %s: application pid %d not running", n, pids[n])
		}
	}
	unchanged := func(t *testing.T, ns ...string) {
		t.Helper()
		for _, n := range ns {
			if got := f.pid(n); got != pids[n] || !processAlive(got) || f.read(n, "version") != "v1" {
				t.Errorf("robot %s: application is pid %d (alive %v) version %s, want the untouched v1 pid %d",
					n, got, processAlive(got), f.read(n, "version"), pids[n])
			}
		}
	}

	t.Run("late robot brought in by SyncDeploymentJob", func(t *testing.T) {
		f.addAgent("r4", s.URL, nil)
		out, err := f.c.SyncDeploymentJob(&robomaker.SyncDeploymentJobInput{Fleet: aws.String(f.fleet)})
		must(t, err)
		installedBy["r4"] = aws.StringValue(out.Arn)
		d := f.wait(installedBy["r4"])
		if aws.StringValue(d.Status) != "Succeeded" || len(d.RobotDeploymentSummary) != 1 ||
			aws.StringValue(d.RobotDeploymentSummary[0].Arn) != f.arns["r4"] {
			t.Fatalf("sync job: %v", d)
		}
		if f.read("r4", "version") != "v1" || !processAlive(f.pid("r4")) {
			t.Fatalf("r4 runs %q", f.read("r4", "version"))
		}
		pids["r4"] = f.pid("r4")
		unchanged(t, names...)
	})
	all := []string{"r1", "r2", "r3", "r4"}

	failing := func(t *testing.T, job, code, reason string) {
		t.Helper()
		d := f.wait(job)
		for _, n := range all {
			row := rows(d)[f.arns[n]]
			if row == nil || aws.StringValue(row.Status) != "Failed" || aws.StringValue(row.FailureCode) != code {
				t.Errorf("robot %s: %v, want Failed with %s", n, row, code)
				continue
			}
			if !strings.Contains(aws.StringValue(row.FailureReason), reason) {
				t.Errorf("robot %s: failure reason %q lacks %q", n, aws.StringValue(row.FailureReason), reason)
			}
		}
	}

	t.Run("download condition exit 1", func(t *testing.T) {
		etag := putObject(t, s, "apps", "conditions/no.sh", []byte("#!/bin/sh\necho not now\nexit 1\n"))
		v := f.version(tarGz(t, map[string]bundleFile{"app/run.sh": {appScript("cond"), 0o755}}))
		job := f.deploy(v, deployOpts{condition: &robomaker.S3Object{Bucket: aws.String("apps"), Key: aws.String("conditions/no.sh"), Etag: aws.String(etag)}})
		failing(t, job, "DownloadConditionFailed", "not now")
		unchanged(t, all...)
	})

	t.Run("corrupt archive", func(t *testing.T) {
		var b bytes.Buffer
		zw := gzip.NewWriter(&b)
		zw.Write(bytes.Repeat([]byte("this is not a tar archive "), 100))
		zw.Close()
		job := f.deploy(f.version(b.Bytes()), deployOpts{})
		failing(t, job, "ExtractingBundleFailure", "")
		unchanged(t, all...)
	})

	t.Run("pre-launch exit 3", func(t *testing.T) {
		v := f.version(tarGz(t, map[string]bundleFile{"app/run.sh": {appScript("pre"), 0o755},
			"pre.sh": {"#!/bin/sh\necho pre-launch says no\nexit 3\n", 0o755}}))
		job := f.deploy(v, deployOpts{pre: "pre.sh"})
		failing(t, job, "PreLaunchFileFailure", "pre-launch pre.sh exited 3")
		unchanged(t, all...)
	})

	t.Run("post-launch exit 1 rolls back to the previous application", func(t *testing.T) {
		v := f.version(tarGz(t, map[string]bundleFile{"app/run.sh": {appScript("post"), 0o755},
			"post.sh": {"#!/bin/sh\nexit 1\n", 0o755}}))
		job := f.deploy(v, deployOpts{post: "post.sh"})
		failing(t, job, "PostLaunchFileFailure", "exited 1")
		for _, n := range all {
			eventually(t, 10*time.Second, n+" runs v1 again", func() bool {
				return f.read(n, "version") == "v1" && processAlive(f.pid(n)) && f.pid(n) != pids[n]
			})
			runs := f.read(n, "runs")
			if !strings.Contains(runs, "post ") {
				t.Errorf("robot %s: the new application never launched:\n%s", n, runs)
			}
			if processAlive(pids[n]) {
				t.Errorf("robot %s: the old v1 process %d was not stopped for the new launch", n, pids[n])
			}
			pids[n] = f.pid(n)
			if st := f.agents[n].Status(); st.Current == nil || st.Current.DeploymentJob != installedBy[n] {
				t.Errorf("robot %s: agent status after rollback: %+v", n, st)
			}
		}
	})

	t.Run("agent restart relaunches the current application", func(t *testing.T) {
		a := f.agents["r1"]
		old := pids["r1"]
		a.Kill()
		// The application dies with its agent (parent-death signal) …
		eventually(t, 10*time.Second, "r1's application stops with its agent", func() bool { return !processAlive(old) })
		a.Start()
		// … and the restarted agent launches it again.
		eventually(t, 10*time.Second, "r1's application relaunched", func() bool {
			p := f.pid("r1")
			return p != old && processAlive(p) && f.read("r1", "version") == "v1"
		})
		pids["r1"] = f.pid("r1")
	})

	t.Run("application crash is restarted with backoff", func(t *testing.T) {
		a := f.agents["r2"]
		for i := 1; i <= 2; i++ {
			old := f.pid("r2")
			must(t, os.WriteFile(filepath.Join(f.out, "r2.crash"), nil, 0o644))
			eventually(t, 10*time.Second, "r2's application restarted", func() bool {
				p := f.pid("r2")
				return p != old && processAlive(p)
			})
			eventually(t, 10*time.Second, "r2's status counts the crash", func() bool {
				st := a.Status()
				return st.AppRestarts == i && st.LastExitCode != nil && *st.LastExitCode == 7 && st.AppRunning
			})
		}
		log, err := os.ReadFile(filepath.Join(a.StateDir, "logs", "app.log"))
		must(t, err)
		if n := strings.Count(string(log), "status 7"); n != 2 {
			t.Errorf("app.log records %d exits with status 7, want 2:\n%s", n, log)
		}
		if !strings.Contains(s.Stderr(), "robot application keeps exiting") {
			t.Errorf("the server was not told of the crash loop")
		}
	})

	t.Run("status command", func(t *testing.T) {
		out, err := exec.Command(testenv.Binary(t, "fleetsync-agent"), "status", "--state-dir", f.agents["r3"].StateDir).CombinedOutput()
		must(t, err)
		for _, want := range []string{f.agents["r3"].ID, "deployed:     " + f.app + " version " + v1, job1, "running (pid"} {
			if !strings.Contains(string(out), want) {
				t.Errorf("status lacks %q:\n%s", want, out)
			}
		}
	})
}

// TestAgentOfflineFinishesAndReportsLater takes fleetsyncd away in the middle
// of a deployment: the agent finishes it on its own, keeps the result on
// disk, and delivers it when the server is back; the job then succeeds.
func TestAgentOfflineFinishesAndReportsLater(t *testing.T) {
	s := startEngine(t)
	f := newAgentFleet(t, s, "General")
	a := f.addAgent("off", s.URL, nil)
	started := filepath.Join(f.out, "pre-started")
	v := f.version(tarGz(t, map[string]bundleFile{"app/run.sh": {appScript("v1"), 0o755},
		"pre.sh": {"#!/bin/sh\ntouch " + started + "\nsleep 2\n", 0o755}}))
	job := f.deploy(v, deployOpts{pre: "pre.sh"})
	eventually(t, 30*time.Second, "pre-launch running", func() bool { _, err := os.Stat(started); return err == nil })
	s.Kill()
	// With the server gone the agent carries on and keeps its result.
	eventually(t, 30*time.Second, "the application runs while the server is down", func() bool {
		return f.read("off", "version") == "v1" && processAlive(f.pid("off"))
	})
	status := func() string {
		out, err := exec.Command(testenv.Binary(t, "fleetsync-agent"), "status", "--state-dir", a.StateDir).CombinedOutput()
		must(t, err)
		return string(out)
	}
	eventually(t, 30*time.Second, "the agent holds its undelivered success", func() bool {
		return strings.Contains(status(), "undelivered:  Succeeded "+job)
	})
	s.Restart()
	d := f.wait(job)
	if aws.StringValue(d.Status) != "Succeeded" || aws.StringValue(rows(d)[f.arns["off"]].Status) != "InSync" {
		t.Fatalf("after the server came back: %v", d)
	}
	eventually(t, 10*time.Second, "the result is no longer pending", func() bool {
		return !strings.Contains(status(), "undelivered")
	})
}

// TestAgentCancelDuringPostLaunch cancels a job while the new application
// already runs (its post-launch file is still going): the agent hears the
// abort with its next heartbeat, stops the new application and the
// post-launch file, and relaunches the previous application.
func TestAgentCancelDuringPostLaunch(t *testing.T) {
	s := startEngine(t)
	f := newAgentFleet(t, s, "General")
	a := f.addAgent("cx", s.URL, nil)
	job1 := f.deploy(f.version(tarGz(t, map[string]bundleFile{"app/run.sh": {appScript("v1"), 0o755}})), deployOpts{})
	if d := f.wait(job1); aws.StringValue(d.Status) != "Succeeded" {
		t.Fatalf("first deployment: %v", d)
	}
	old := f.pid("cx")
	started := filepath.Join(f.out, "post-started")
	v2 := f.version(tarGz(t, map[string]bundleFile{"app/run.sh": {appScript("v2"), 0o755},
		"post.sh": {"#!/bin/sh\ntouch " + started + "\nsleep 60\n", 0o755}}))
	job2 := f.deploy(v2, deployOpts{post: "post.sh"})
	eventually(t, 30*time.Second, "post-launch running", func() bool { _, err := os.Stat(started); return err == nil })
	if f.read("cx", "version") != "v2" {
		t.Fatalf("the new application is not running during post-launch: %s", f.read("cx", "version"))
	}
	_, err := f.c.CancelDeploymentJob(&robomaker.CancelDeploymentJobInput{Job: aws.String(job2)})
	must(t, err)
	if d := f.wait(job2); aws.StringValue(d.Status) != "Canceled" {
		t.Fatalf("canceled job: %v", d)
	}
	eventually(t, 15*time.Second, "v1 relaunched", func() bool {
		p := f.pid("cx")
		return f.read("cx", "version") == "v1" && p != old && processAlive(p)
	})
	if processAlive(old) {
		t.Errorf("the original v1 process %d still runs beside the relaunched one", old)
	}
	eventually(t, 10*time.Second, "the agent's status names the first job again", func() bool {
		st := a.Status()
		return st.Current != nil && st.Current.DeploymentJob == job1 && st.AppRunning
	})
	if !strings.Contains(a.log.String(), "deployment aborted by the server") {
		t.Errorf("agent log does not record the abort")
	}
}

// TestAgentRelativeStateDir runs an agent whose --state-dir is relative (as
// an operator may type it): scripts and the application, which run in their
// own directories, still find their files, and a second agent on the same
// directory is refused.
func TestAgentRelativeStateDir(t *testing.T) {
	s := startEngine(t)
	f := newAgentFleet(t, s, "General")
	a := newAgent(t, s.URL)
	parent, rel := filepath.Dir(a.StateDir), filepath.Base(a.StateDir)
	out, err := f.c.CreateRobot(&robomaker.CreateRobotInput{Name: aws.String(uniq("rel")), Architecture: aws.String(archName()),
		GreengrassGroupId: aws.String(a.ID), Tags: map[string]*string{"name": aws.String("rel")}})
	must(t, err)
	_, err = f.c.RegisterRobot(&robomaker.RegisterRobotInput{Fleet: aws.String(f.fleet), Robot: out.Arn})
	must(t, err)
	run := func() *exec.Cmd {
		cmd := exec.Command(testenv.Binary(t, "fleetsync-agent"), append([]string{"run", "--server", s.URL, "--state-dir", rel}, agentArgs...)...)
		cmd.Dir = parent
		cmd.Stdout, cmd.Stderr = a.log, a.log
		return cmd
	}
	first := run()
	must(t, first.Start())
	t.Cleanup(func() { first.Process.Kill(); first.Wait() })

	etag := putObject(t, s, "apps", "conditions/yes.sh", []byte("#!/bin/sh\nexit 0\n"))
	job := f.deploy(f.version(tarGz(t, map[string]bundleFile{"app/run.sh": {appScript("rel"), 0o755}})),
		deployOpts{condition: &robomaker.S3Object{Bucket: aws.String("apps"), Key: aws.String("conditions/yes.sh"), Etag: aws.String(etag)}})
	if d := f.wait(job); aws.StringValue(d.Status) != "Succeeded" {
		t.Fatalf("deployment with a relative state dir: %v", d)
	}
	if f.read("rel", "version") != "rel" {
		t.Fatal("the application does not run")
	}
	again := run()
	again.Stdout, again.Stderr = nil, nil
	second, err := again.CombinedOutput()
	if err == nil || !strings.Contains(string(second), "another fleetsync-agent runs on") {
		t.Fatalf("a second agent on the same state dir: %v\n%s", err, second)
	}
}
