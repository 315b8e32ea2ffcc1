package e2e

//lint:file-ignore SA1019 aws-sdk-go v1 (deprecated) is the reference client fleetsync serves.

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go/aws"
	"github.com/aws/aws-sdk-go/service/robomaker"
)

// TestSyncLateRobotAgentStartedFirst: an agent installed before its robot
// exists waits at a short interval, saying so once, with that as its one
// current error; once an operator creates and registers the robot, a Sync
// brings it InSync within seconds, the agent logs once that it was
// accepted, and its status shows no stale error.
func TestSyncLateRobotAgentStartedFirst(t *testing.T) {
	// A poll interval whose silence limit (3 intervals) is above the
	// waiting agent's 1–2 s retry: the robot is not declared silent in the
	// instant between its creation and its agent's next ask.
	s := startEngine(t, "--agent-poll-interval", "2s")
	f := newAgentFleet(t, s, "General")
	f.addAgent("first", s.URL, nil)
	v1 := f.version(tarGz(t, map[string]bundleFile{"app/run.sh": {appScript("v1"), 0o755}}))
	if d := f.wait(f.deploy(v1, deployOpts{})); aws.StringValue(d.Status) != "Succeeded" {
		t.Fatalf("v1: %v", d)
	}

	// The default retry base (1 s, a minute's ceiling), as installed.
	late := newAgent(t, s.URL)
	late.args = []string{"--poll-wait", "1s", "--launch-settle", "300ms"}
	late.Start()
	eventually(t, 15*time.Second, "the agent says it waits for its robot", func() bool {
		return strings.Contains(late.Status().LastError, "no robot has this agent id")
	})
	time.Sleep(8 * time.Second) // several retries, long past where a backoff would have grown
	if n := strings.Count(late.log.String(), "knows no robot with this agent id yet"); n != 1 {
		t.Errorf("the agent logged the wait %d times, want once:\n%s", n, late.log.String())
	}

	created := time.Now()
	out, err := f.c.CreateRobot(&robomaker.CreateRobotInput{Name: aws.String(uniq("late")), Architecture: aws.String(archName()),
		GreengrassGroupId: aws.String(late.ID), Tags: map[string]*string{"name": aws.String("late")}})
	must(t, err)
	_, err = f.c.RegisterRobot(&robomaker.RegisterRobotInput{Fleet: aws.String(f.fleet), Robot: out.Arn})
	must(t, err)
	sync, err := f.c.SyncDeploymentJob(&robomaker.SyncDeploymentJobInput{Fleet: aws.String(f.fleet)})
	must(t, err)
	d := f.wait(aws.StringValue(sync.Arn))
	took := time.Since(created)
	if aws.StringValue(d.Status) != "Succeeded" || len(d.RobotDeploymentSummary) != 1 ||
		aws.StringValue(d.RobotDeploymentSummary[0].Status) != "InSync" {
		t.Fatalf("sync job: %v", d)
	}
	t.Logf("late robot InSync %v after it was created", took.Round(10*time.Millisecond))
	if took > 8*time.Second {
		t.Errorf("the late robot took %v from its creation to InSync, want a few seconds", took)
	}
	if f.read("late", "version") != "v1" {
		t.Errorf("the late robot runs %q", f.read("late", "version"))
	}
	eventually(t, 5*time.Second, "the stale error cleared", func() bool { return late.Status().LastError == "" })
	if n := strings.Count(late.log.String(), "the server accepted this agent"); n != 1 {
		t.Errorf("the agent logged its acceptance %d times, want once", n)
	}
}

// robotLogAnswer is the signed robot log endpoint's answer.
type robotLogAnswer struct {
	Robot       string `json:"robot"`
	Status      string `json:"status"`
	RequestedAt string `json:"requestedAt"`
	MaxBytes    int    `json:"maxBytes"`
	TakenAt     string `json:"takenAt"`
	Content     string `json:"content"`
	Error       string `json:"error"`
}

// TestAgentRobotLogOnDemand: an operator asks, through the SigV4-signed
// endpoint, for the last KiB of a robot's application log; the real agent
// answers on its next poll with what the application printed, bounded to
// what was asked, and the time it was taken; a second request at once is
// throttled.
func TestAgentRobotLogOnDemand(t *testing.T) {
	s := startEngine(t)
	f := newAgentFleet(t, s, "General")
	f.addAgent("lg", s.URL, nil)
	chatty := `#!/bin/sh
i=0
while [ $i -lt 400 ]; do echo "line $i of the robot's own log, padded to be long enough"; i=$((i+1)); done
echo "LAST LINE BEFORE WAITING"
exec sleep 600
`
	v1 := f.version(tarGz(t, map[string]bundleFile{"app/run.sh": {chatty, 0o755}}))
	if d := f.wait(f.deploy(v1, deployOpts{})); aws.StringValue(d.Status) != "Succeeded" {
		t.Fatalf("v1: %v", d)
	}
	robot := f.arns["lg"]
	path := "/fleetsync/v1/robots/" + escapeARN(robot) + "/log"
	read := func() robotLogAnswer {
		resp := signedDo(t, s, http.MethodGet, path, nil)
		if resp.Status != http.StatusOK {
			t.Fatalf("GET log: HTTP %d %s", resp.Status, resp.Body)
		}
		var l robotLogAnswer
		must(t, json.Unmarshal(resp.Body, &l))
		return l
	}
	if resp := signedDo(t, s, http.MethodGet, path, nil); resp.Status != http.StatusBadRequest || !strings.Contains(string(resp.Body), "ResourceNotFoundException") {
		t.Errorf("GET log before a request: HTTP %d %s, want ResourceNotFoundException", resp.Status, resp.Body)
	}
	if resp := signedDo(t, s, http.MethodPost, path, []byte(`{"kb": 100000}`)); resp.Status != http.StatusBadRequest {
		t.Errorf("a request over the bound: HTTP %d %s, want 400", resp.Status, resp.Body)
	}
	eventually(t, 10*time.Second, "the application printed its log", func() bool {
		b, _ := os.ReadFile(filepath.Join(f.agents["lg"].StateDir, "logs", "app.log"))
		return strings.Contains(string(b), "LAST LINE BEFORE WAITING")
	})
	asked := time.Now()
	resp := signedDo(t, s, http.MethodPost, path, []byte(`{"kb": 2}`))
	if resp.Status != http.StatusOK {
		t.Fatalf("POST log: HTTP %d %s", resp.Status, resp.Body)
	}
	if again := signedDo(t, s, http.MethodPost, path, []byte(`{"kb": 2}`)); again.Status != http.StatusBadRequest ||
		!strings.Contains(string(again.Body), "ThrottlingException") {
		t.Errorf("a second request at once: HTTP %d %s, want ThrottlingException", again.Status, again.Body)
	}
	var l robotLogAnswer
	eventually(t, 10*time.Second, "the agent's answer", func() bool { l = read(); return l.Status == "Taken" })
	t.Logf("log answered %v after the request (%d bytes)", time.Since(asked).Round(10*time.Millisecond), len(l.Content))
	if len(l.Content) > 2048 || !strings.Contains(l.Content, "LAST LINE BEFORE WAITING") || !strings.Contains(l.Content, "line 399 of") {
		t.Errorf("log content (%d bytes) is not the log's last 2 KiB: %q", len(l.Content), l.Content)
	}
	taken, err := time.Parse(time.RFC3339Nano, l.TakenAt)
	must(t, err)
	if taken.Before(asked.Add(-time.Second)) || taken.After(time.Now().Add(time.Second)) {
		t.Errorf("takenAt %s is not when it was taken", l.TakenAt)
	}
	if strings.Contains(l.Content, f.out) {
		t.Error("the log echoes the job's environment")
	}
}
