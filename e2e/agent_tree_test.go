package e2e

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go/aws"
)

// treeApp is a General application whose helper leaves the launcher's
// session (setsid) and ignores SIGTERM, as stubborn nodes do: only SIGKILL
// to the whole unit ends it.
func treeApp(version string) string {
	return `#!/bin/sh
setsid sh -c 'trap "" TERM; echo $$ > "$OUT/helper-` + version + `.tmp"; mv "$OUT/helper-` + version + `.tmp" "$OUT/helper-` + version + `"; while :; do sleep 0.1; done' &
echo $$ > "$OUT/app-` + version + `"
while :; do sleep 0.1; done
`
}

func (f *agentFleet) waitPid(name string) int {
	f.t.Helper()
	var pid int
	eventually(f.t, 30*time.Second, name+" to start", func() bool {
		pid, _ = strconv.Atoi(f.readOut(name))
		return processAlive(pid)
	})
	return pid
}

// helpers counts the live helpers of every version (shells running the
// helper's script with this test's $OUT).
func (f *agentFleet) helpers() int {
	ents, _ := os.ReadDir("/proc")
	n := 0
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || !processAlive(pid) {
			continue
		}
		c, _ := os.ReadFile("/proc/" + e.Name() + "/cmdline")
		env, _ := os.ReadFile("/proc/" + e.Name() + "/environ")
		if strings.HasPrefix(string(c), "sh\x00-c\x00trap") && strings.Contains(string(env), "\x00OUT="+f.out+"\x00") {
			n++
		}
	}
	return n
}

// TestAgentWholeTree: a new deployment ends the old version's setsid'd,
// SIGTERM-ignoring helper; an agent killed with SIGKILL leaves it running
// (only the launcher gets the parent-death signal), and the restarted agent
// ends it before it relaunches the application: never two copies.
func TestAgentWholeTree(t *testing.T) {
	s := startEngine(t)
	f := newAgentFleet(t, s, "General")
	a := f.addAgent("tree", s.URL, nil)
	t.Cleanup(func() {
		a.Kill()
		for _, v := range []string{"1", "2"} {
			if pid, _ := strconv.Atoi(f.readOut("helper-" + v)); pid > 0 {
				syscall.Kill(pid, syscall.SIGKILL)
			}
		}
	})
	for _, v := range []string{"1", "2"} {
		b := tarGz(t, map[string]bundleFile{"app/run.sh": {body: treeApp(v), mode: 0o755}})
		job := f.deploy(f.version(b), deployOpts{})
		if d := f.wait(job); aws.StringValue(d.Status) != "Succeeded" {
			t.Fatalf("version %s: %v", v, d)
		}
		helper := f.waitPid("helper-" + v)
		if v == "2" {
			old, _ := strconv.Atoi(f.readOut("helper-1"))
			if processAlive(old) {
				t.Errorf("version 1's helper %d (own session, ignores SIGTERM) survived the deployment of version 2", old)
			}
		}
		t.Logf("version %s: helper %d", v, helper)
	}
	if n := f.helpers(); n != 1 {
		t.Fatalf("%d helpers run, want 1", n)
	}

	helper := f.waitPid("helper-2")
	os.Remove(filepath.Join(f.out, "helper-2"))
	a.Kill()
	time.Sleep(500 * time.Millisecond)
	if !processAlive(helper) {
		t.Fatalf("helper %d ended with the agent: nothing for the restarted agent to clean up", helper)
	}
	a.Start()
	newHelper := f.waitPid("helper-2")
	if processAlive(helper) {
		t.Errorf("the restarted agent left the previous helper %d running beside the new one %d", helper, newHelper)
	}
	if n := f.helpers(); n != 1 {
		t.Errorf("%d helpers run after the agent restart, want 1", n)
	}
	t.Logf("after kill -9 of the agent: stray helper %d ended, new helper %d", helper, newHelper)
}
