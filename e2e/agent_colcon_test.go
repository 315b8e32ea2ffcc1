package e2e

//lint:file-ignore SA1019 aws-sdk-go v1 (deprecated) is the reference client fleetsync serves.

import (
	"crypto/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go/aws"

	"github.com/fleetsync/fleetsync/internal/agent/bundle/bundletest"
)

// fakeROS2 stands in for `ros2` on the robot's PATH: it records its command
// line and what the overlays' setup.sh files exported, then runs on.
const fakeROS2 = `#!/bin/sh
name="$AWS_ROBOMAKER_ROBOT_TAG_KEY_name"
{
  echo "argv=ros2 $*"
  echo "order=$ORDER"
  echo "deps=$DEPS"
  echo "ws=$WS"
  echo "pwd=$(pwd)"
} > "$OUT/$name.ros2"
echo $$ > "$OUT/$name.pid"
while :; do sleep 0.1; done
`

// TestAgentROS2ColconV2 deploys colcon v2 bundles with the ROS2 suite to a
// real agent whose PATH has a fake ros2: the launcher gets the exact command
// line with every overlay's setup.sh sourced in order, and a second version
// that shares the dependencies overlay is deployed without downloading that
// overlay again.
func TestAgentROS2ColconV2(t *testing.T) {
	s := startEngine(t)
	proxy := newBundleProxy(t, s.URL, 256<<20)
	f := newAgentFleet(t, s, "ROS2")
	bin := t.TempDir()
	must(t, os.WriteFile(filepath.Join(bin, "ros2"), []byte(fakeROS2), 0o755))
	a := f.addAgent("ros", proxy.URL, []string{"PATH=" + bin + ":" + os.Getenv("PATH")})

	big := make([]byte, 3<<20)
	rand.Read(big) // incompressible, so the overlay's size is the saving
	deps := bundletest.Overlay{Name: "dependencies.tar.gz", Data: tarGz(t, map[string]bundleFile{
		"setup.sh":          {body: `ORDER="$ORDER:deps"; DEPS=1; export ORDER DEPS` + "\n"},
		"opt/lib/libbig.so": {body: string(big)},
	})}
	build := func(ws string) []byte {
		workspace := bundletest.Overlay{Name: "workspace.tar.gz", Data: tarGz(t, map[string]bundleFile{
			"setup.sh": {body: `ORDER="$ORDER:ws"; WS=` + ws + `; export ORDER WS` + "\n"},
			"opt/built_workspace/app/share/app/launch/run.sh": {body: "# launch file " + ws + "\n"},
		})}
		b, _, err := bundletest.ColconV2(bundletest.Region, []bundletest.Overlay{deps, workspace}, func(index []bundletest.IndexEntry) []byte {
			return tarGz(t, map[string]bundleFile{"overlays.json": {body: string(bundletest.IndexJSON(index))}, "installers.json": {body: "{}"}})
		})
		must(t, err)
		return b
	}

	b1 := build("one")
	job1 := f.deploy(f.version(b1), deployOpts{})
	if d := f.wait(job1); aws.StringValue(d.Status) != "Succeeded" {
		t.Fatalf("first colcon deployment: %v", d)
	}
	first := proxy.served.Load()
	rec := f.read("ros", "ros2")
	for _, want := range []string{"argv=ros2 launch app run.sh", "order=:deps:ws", "deps=1", "ws=one"} {
		if !strings.Contains(rec, want+"\n") {
			t.Errorf("fake ros2 recorded no %q:\n%s", want, rec)
		}
	}

	proxy.served.Store(0)
	b2 := build("two")
	job2 := f.deploy(f.version(b2), deployOpts{})
	if d := f.wait(job2); aws.StringValue(d.Status) != "Succeeded" {
		t.Fatalf("second colcon deployment: %v", d)
	}
	second := proxy.served.Load()
	t.Logf("bundle 1: %d bytes, %d served; bundle 2: %d bytes, %d served (dependencies overlay %d bytes reused)",
		len(b1), first, len(b2), second, len(deps.Data))
	if first < int64(len(b1)) {
		t.Errorf("first deployment fetched %d of %d bytes: it had nothing cached", first, len(b1))
	}
	if second > int64(len(b2)-len(deps.Data)) {
		t.Errorf("second deployment fetched %d bytes: the cached %d-byte dependencies overlay was downloaded again", second, len(deps.Data))
	}
	if rec := f.read("ros", "ros2"); !strings.Contains(rec, "ws=two\n") || !strings.Contains(rec, "order=:deps:ws\n") {
		t.Errorf("after the second deployment ros2 recorded:\n%s", rec)
	}
	// The first version's workspace overlay is pruned once the second is
	// installed; the shared dependencies overlay stays.
	eventually(t, 10*time.Second, "the overlay cache holds the installed version's two overlays", func() bool {
		entries, _ := os.ReadDir(filepath.Join(a.StateDir, "overlays"))
		return len(entries) == 2
	})
	if _, err := os.Stat(filepath.Join(a.StateDir, "overlays", deps.SHA256())); err != nil {
		t.Errorf("the shared dependencies overlay is gone: %v", err)
	}
}
