// Robots belong to the account that enrolled them, by proof, with real
// agent processes: account B, knowing the agent id of A's robot, cannot
// enrol it and cannot get it to run B's code (its marker file never
// appears), and A enrols and deploys to it afterwards. A state dir written
// before agent ids were bound to accounts keeps working for the robot
// enrolled with its old id, is told exactly what to run otherwise, and
// keeps its key when bound.
package e2e

//lint:file-ignore SA1019 aws-sdk-go v1 (deprecated) and its RoboMaker fleet and robot operations (deprecated by AWS) are the reference client fleetsync serves.

import (
	"database/sql"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go/aws"
	"github.com/aws/aws-sdk-go/service/robomaker"
	_ "modernc.org/sqlite" // the test writes a pre-upgrade row into the server's SQLite file

	"github.com/fleetsync/fleetsync/internal/proto"
	"github.com/fleetsync/fleetsync/internal/testenv"
)

func TestAgentCannotBeClaimedByAnotherAccount(t *testing.T) {
	t.Parallel()
	// The agent runs before its robot exists: a silence limit (3 poll
	// intervals) above the waiting agent's 1–2 s retry, so the robot is not
	// declared silent between its creation and its agent's next ask.
	s := startEngine(t, "--agent-poll-interval", "2s")
	keyB, secretB := newAccount(t, s, accountB)
	b := quiet(s.ClientFor(keyB, secretB))
	bucketsCmd(t, s, "grant", "--account", accountB, "b-apps")
	makeBucket(t, s, "b-apps")
	f := newAgentFleet(t, s, "General")

	// A's robot runs its agent before anyone enrols it.
	agent := newAgent(t, s.URL)
	agent.Start()
	key, err := proto.ParseAgentID(agent.ID)
	must(t, err)

	// B tries to enrol it: with its id (bound to A), with the unbound id of
	// its key, and with its key bound to B, which is accepted (B cannot tell
	// a real key from a made-up one) but never served to the agent.
	_, err = b.CreateRobot(&robomaker.CreateRobotInput{Name: aws.String("stolen"), Architecture: aws.String(archName()), GreengrassGroupId: aws.String(agent.ID)})
	wantErr(t, err, "InvalidParameterException", "bound to account "+testenv.Account)
	_, err = b.CreateRobot(&robomaker.CreateRobotInput{Name: aws.String("stolen"), Architecture: aws.String(archName()), GreengrassGroupId: aws.String(proto.AgentID(key.Key))})
	wantErr(t, err, "InvalidParameterException", "not bound to an account")
	decoy, err := b.CreateRobot(&robomaker.CreateRobotInput{Name: aws.String("stolen"), Architecture: aws.String(archName()),
		GreengrassGroupId: aws.String(proto.BoundAgentID(accountB, key.Key)), Tags: map[string]*string{"name": aws.String("stolen")}})
	must(t, err)
	fb, err := b.CreateFleet(&robomaker.CreateFleetInput{Name: aws.String("b-fleet")})
	must(t, err)
	_, err = b.RegisterRobot(&robomaker.RegisterRobotInput{Fleet: fb.Arn, Robot: decoy.Arn})
	must(t, err)
	marker := filepath.Join(f.out, "b-code-ran")
	putObject(t, s, "b-apps", "b.tar.gz", tarGz(t, map[string]bundleFile{"app/run.sh": {"#!/bin/sh\ntouch " + marker + "\nexec sleep 600\n", 0o755}}))
	appB, err := b.CreateRobotApplication(&robomaker.CreateRobotApplicationInput{Name: aws.String("b-app"),
		RobotSoftwareSuite: &robomaker.RobotSoftwareSuite{Name: aws.String("General")},
		Sources:            []*robomaker.SourceConfig{{S3Bucket: aws.String("b-apps"), S3Key: aws.String("b.tar.gz"), Architecture: aws.String(archName())}}})
	must(t, err)
	_, err = b.CreateRobotApplicationVersion(&robomaker.CreateRobotApplicationVersionInput{Application: appB.Arn})
	must(t, err)
	jobB, err := b.CreateDeploymentJob(&robomaker.CreateDeploymentJobInput{Fleet: fb.Arn,
		DeploymentApplicationConfigs: []*robomaker.DeploymentApplicationConfig{{Application: appB.Arn, ApplicationVersion: aws.String("1"),
			LaunchConfig: &robomaker.DeploymentLaunchConfig{PackageName: aws.String("app"), LaunchFile: aws.String("run.sh")}}},
		DeploymentConfig: &robomaker.DeploymentConfig{RobotDeploymentTimeoutInSeconds: aws.Int64(600)}})
	must(t, err)

	// A enrols its robot after all of that — nothing blocks it — and deploys.
	robot, err := f.c.CreateRobot(&robomaker.CreateRobotInput{Name: aws.String("mine"), Architecture: aws.String(archName()),
		GreengrassGroupId: aws.String(agent.ID), Tags: map[string]*string{"name": aws.String("mine")}})
	must(t, err)
	_, err = f.c.RegisterRobot(&robomaker.RegisterRobotInput{Fleet: aws.String(f.fleet), Robot: robot.Arn})
	must(t, err)
	f.agents["mine"], f.arns["mine"] = agent, aws.StringValue(robot.Arn)
	v1 := f.version(tarGz(t, map[string]bundleFile{"app/run.sh": {appScript("a1"), 0o755}}))
	jobA := f.deploy(v1, deployOpts{})
	t.Cleanup(func() { killApp(f, "mine") })
	d := f.wait(jobA)
	if aws.StringValue(d.Status) != "Succeeded" || f.read("mine", "version") != "a1" {
		t.Fatalf("A's deployment to its own robot: %v; it runs %q", d, f.read("mine", "version"))
	}
	// The agent has been polling (and deploying) all along: B's job was
	// never given to it.
	if _, err := os.Stat(marker); err == nil {
		t.Fatal("B's code ran on A's robot")
	}
	db, err := b.DescribeDeploymentJob(&robomaker.DescribeDeploymentJobInput{Job: jobB.Arn})
	must(t, err)
	if st := aws.StringValue(db.RobotDeploymentSummary[0].Status); st != "Deploying" {
		t.Errorf("B's deployment to the decoy robot is %s, want Deploying (never served)", st)
	}
	if st := agent.Status(); st.Current == nil || st.Current.DeploymentJob != jobA {
		t.Errorf("the agent runs %+v, want A's deployment %s", st.Current, jobA)
	}
	_, err = b.CancelDeploymentJob(&robomaker.CancelDeploymentJobInput{Job: jobB.Arn})
	must(t, err)
}

func TestAgentStateDirFromBeforeBoundIDs(t *testing.T) {
	t.Parallel()
	s := startEngine(t, "--agent-poll-interval", "2s") // as above: agents wait for their robots

	f := newAgentFleet(t, s, "General")
	// A state dir as the agent wrote it before bound ids: a key, no account.
	old := newAgent(t, s.URL)
	must(t, os.Remove(filepath.Join(old.StateDir, "account")))
	key, err := proto.ParseAgentID(old.ID)
	must(t, err)
	v1ID := proto.AgentID(key.Key)

	// A new robot cannot be enrolled with its unbound id; the agent, unserved,
	// is told what to run.
	_, err = f.c.CreateRobot(&robomaker.CreateRobotInput{Name: aws.String("old"), Architecture: aws.String(archName()), GreengrassGroupId: aws.String(v1ID)})
	wantErr(t, err, "InvalidParameterException", "fleetsync-agent init --account "+testenv.Account)
	old.Start()
	eventually(t, 30*time.Second, "the unserved agent logs what to run", func() bool {
		return strings.Contains(old.log.String(), "fleetsync-agent init --account")
	})
	old.Kill()

	// A robot enrolled before the upgrade (its unbound id written as the
	// old server stored it) keeps being served to that state dir.
	legacy, err := f.c.CreateRobot(&robomaker.CreateRobotInput{Name: aws.String("legacy"), Architecture: aws.String(archName()),
		GreengrassGroupId: aws.String("placeholder-" + uniq("id")), Tags: map[string]*string{"name": aws.String("legacy")}})
	must(t, err)
	dbh, err := sql.Open("sqlite", "file:"+filepath.Join(s.DataDir, "fleetsync.db"))
	if s.Database != "" {
		dbh, err = sql.Open("pgx", s.Database)
	}
	must(t, err)
	_, err = dbh.Exec(`UPDATE robots SET agent_id = $1 WHERE arn = $2`, v1ID, aws.StringValue(legacy.Arn))
	must(t, err)
	must(t, dbh.Close())
	_, err = f.c.RegisterRobot(&robomaker.RegisterRobotInput{Fleet: aws.String(f.fleet), Robot: legacy.Arn})
	must(t, err)
	f.agents["legacy"], f.arns["legacy"] = old, aws.StringValue(legacy.Arn)
	old.Start()
	v1 := f.version(tarGz(t, map[string]bundleFile{"app/run.sh": {appScript("old-1"), 0o755}}))
	t.Cleanup(func() { killApp(f, "legacy") })
	if d := f.wait(f.deploy(v1, deployOpts{})); aws.StringValue(d.Status) != "Succeeded" || f.read("legacy", "version") != "old-1" {
		t.Fatalf("deployment to the robot enrolled with the unbound id: %v", d)
	}
	old.Terminate()

	// Binding the old state dir keeps its key: the printed id is the bound
	// id of the same key.
	out, err := exec.Command(testenv.Binary(t, "fleetsync-agent"), "init", "--account", testenv.Account, "--state-dir", old.StateDir).Output()
	must(t, err)
	if got := strings.TrimSpace(string(out)); got != proto.BoundAgentID(testenv.Account, key.Key) {
		t.Errorf("init --account on an old state dir printed %q, want the bound id of its key", got)
	}
	// Rebinding to another account needs --rebind.
	cmd := exec.Command(testenv.Binary(t, "fleetsync-agent"), "init", "--account", accountB, "--state-dir", old.StateDir)
	if out, err := cmd.CombinedOutput(); err == nil || !strings.Contains(string(out), "--rebind") {
		t.Errorf("init with another account: %v %s, want a refusal naming --rebind", err, out)
	}
	// init without --account on a fresh dir says what is missing.
	cmd = exec.Command(testenv.Binary(t, "fleetsync-agent"), "init", "--state-dir", t.TempDir())
	if out, err := cmd.CombinedOutput(); err == nil || !strings.Contains(string(out), "--account is required") {
		t.Errorf("init without --account: %v %s", err, out)
	}
}

// killApp ends the application a test's agent left running.
func killApp(f *agentFleet, name string) {
	if pid := f.pid(name); pid > 0 {
		syscall.Kill(pid, syscall.SIGKILL)
	}
}
