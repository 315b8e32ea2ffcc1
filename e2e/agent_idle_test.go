package e2e

//lint:file-ignore SA1019 aws-sdk-go v1 (deprecated) is the reference client fleetsync serves.

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go/aws"

	"github.com/fleetsync/fleetsync/internal/testenv"
)

// idleHold is the server's --agent-idle-wait in TestAgentIdleWait: far
// above the test engine's 1 s cap on plain long polls, so a poll held this
// long can only be an idle wait, and short enough for a test.
const idleHold = 20 * time.Second

// TestAgentIdleWait runs a real fleetsync-agent with its default idle wait
// against a real fleetsyncd that holds idle polls up to 20 s (plain long
// polls at most 1 s): the agent's polls are held far beyond the long-poll
// cap, and while one is held a deployment created reaches the agent within
// seconds, an application crash ends the poll at once so the server hears
// of it (and the restart shows in the agent's status), and an operator's
// log request is answered within seconds.
func TestAgentIdleWait(t *testing.T) {
	s := startEngine(t, "--agent-idle-wait", idleHold.String())
	f := newAgentFleet(t, s, "General")
	a := f.addAgent("idler", s.URL, nil)
	robot := f.arns["idler"]

	v1 := f.version(tarGz(t, map[string]bundleFile{"app/run.sh": {appScript("v1"), 0o755}}))
	if d := f.wait(f.deploy(v1, deployOpts{})); aws.StringValue(d.Status) != "Succeeded" {
		t.Fatalf("v1: %v", d)
	}
	// heldPoll waits until a poll of the agent that the server held for at
	// least half the idle wait ends, so the agent's next poll, sent at
	// once, has most of a hold ahead of it.
	seen := 0
	heldPoll := func(what string) {
		t.Helper()
		eventually(t, 3*idleHold, what, func() bool {
			held := agentPolls(s)
			for _, ms := range held[min(seen, len(held)):] {
				if ms >= float64(idleHold.Milliseconds())/2 {
					seen = len(held)
					return true
				}
			}
			return false
		})
		time.Sleep(500 * time.Millisecond) // the next poll is under way
	}

	t.Run("a deployment reaches an agent whose poll is held", func(t *testing.T) {
		heldPoll("a poll of the idle agent held beyond the 1 s long-poll cap")
		v2 := f.version(tarGz(t, map[string]bundleFile{"app/run.sh": {appScript("v2"), 0o755}}))
		created := time.Now()
		job := f.deploy(v2, deployOpts{})
		eventually(t, 3*time.Second, "the agent downloading the new deployment", func() bool {
			return strings.Contains(a.log.String(), `msg="bundle downloaded" job=`+job)
		})
		t.Logf("deployment reached the idle agent %v after CreateDeploymentJob", time.Since(created).Round(10*time.Millisecond))
		if d := f.wait(job); aws.StringValue(d.Status) != "Succeeded" || f.read("idler", "version") != "v2" {
			t.Fatalf("v2: job %v, application %s", d, f.read("idler", "version"))
		}
	})

	t.Run("a crash ends the held poll and the server hears of it", func(t *testing.T) {
		heldPoll("the agent holding a poll again after v2")
		old := f.pid("idler")
		before := strings.Count(s.Stderr(), `msg="robot application keeps exiting" component=robots robot=`+robot)
		must(t, os.WriteFile(filepath.Join(f.out, "idler.crash"), nil, 0o644))
		eventually(t, 3*time.Second, "the server told of the crash by a poll sent at once", func() bool {
			return strings.Count(s.Stderr(), `msg="robot application keeps exiting" component=robots robot=`+robot) > before
		})
		eventually(t, 5*time.Second, "the application relaunched, and the status showing it while the next poll is held", func() bool {
			st := a.Status()
			p := f.pid("idler")
			return p != old && processAlive(p) && st.AppRunning && st.AppPID == p && st.AppRestarts == 1 &&
				st.LastExitCode != nil && *st.LastExitCode == 7
		})
	})

	t.Run("a log request reaches an agent whose poll is held", func(t *testing.T) {
		heldPoll("the agent holding a poll again after the crash")
		path := "/fleetsync/v1/robots/" + escapeARN(robot) + "/log"
		if resp := signedDo(t, s, http.MethodPost, path, []byte(`{"kb": 1}`)); resp.Status != http.StatusOK {
			t.Fatalf("POST log: HTTP %d %s", resp.Status, resp.Body)
		}
		eventually(t, 3*time.Second, "the agent's answer", func() bool {
			resp := signedDo(t, s, http.MethodGet, path, nil)
			var l robotLogAnswer
			return resp.Status == http.StatusOK && json.Unmarshal(resp.Body, &l) == nil && l.Status == "Taken" &&
				strings.Contains(l.Content, "status 7")
		})
	})

	// Every poll of the idle agent offered the idle wait: none failed, and
	// polls were held, not answered every second.
	if strings.Contains(a.log.String(), `msg="poll failed"`) {
		t.Errorf("the agent logged failed polls:\n%s", grepLines(a.log.String(), "poll failed"))
	}
}

// pollLine matches fleetsyncd's access-log line of one answered agent
// poll (a poll authenticated by a session credential names no agent id).
var pollLine = regexp.MustCompile(`msg=request component=access kind=agent operation=poll status=200 latency_ms=([0-9.]+) `)

// agentPolls returns how long (ms) fleetsyncd held each answered poll, in
// the order they ended: the test's server serves one agent.
func agentPolls(s *testenv.Server) []float64 {
	var out []float64
	for _, m := range pollLine.FindAllStringSubmatch(s.Stderr(), -1) {
		ms, _ := strconv.ParseFloat(m[1], 64)
		out = append(out, ms)
	}
	return out
}
