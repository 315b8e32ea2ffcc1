// The sync plan (issue 16) against real agents deploying colcon v2
// bundles: its targets are exactly the robots the following Sync deploys,
// and each robot's byte figure is exactly what its agent then downloads —
// a robot holding one of the bundle's two overlays fetches the index region
// and the other overlay, a robot holding none fetches the whole bundle.
package e2e

//lint:file-ignore SA1019 aws-sdk-go v1 (deprecated) is the reference client fleetsync serves.

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go/aws"
	"github.com/aws/aws-sdk-go/service/robomaker"

	"github.com/fleetsync/fleetsync/internal/agent/bundle"
	"github.com/fleetsync/fleetsync/internal/agent/bundle/bundletest"
)

// syncPlan is the plan endpoint's answer.
type syncPlan struct {
	Operation           string `json:"operation"`
	SourceDeploymentJob string `json:"sourceDeploymentJob"`
	Window              int    `json:"window"`
	Batches             int    `json:"batches"`
	TotalBytes          int64  `json:"totalBytes"`
	ETASeconds          *int64 `json:"etaSeconds"`
	MedianSamples       int    `json:"medianSamples"`
	Targets             []struct {
		ARN            string `json:"arn"`
		Name           string `json:"name"`
		Reason         string `json:"reason"`
		Batch          int    `json:"batch"`
		Bytes          int64  `json:"bytes"`
		OverlaysCached int    `json:"overlaysCached"`
		OverlaysTotal  int    `json:"overlaysTotal"`
	} `json:"targets"`
}

func planPath(fleetARN string) string { return "/fleetsync/v1/fleets/" + escapeARN(fleetARN) + "/plan" }

// plan asks for the Sync plan (body nil) or a Create plan (body set).
func plan(t *testing.T, f *agentFleet, body any) syncPlan {
	t.Helper()
	method, raw := http.MethodGet, []byte(nil)
	if body != nil {
		method = http.MethodPost
		var err error
		raw, err = json.Marshal(body)
		must(t, err)
	}
	resp := signedDo(t, f.s, method, planPath(f.fleet), raw)
	if resp.Status != http.StatusOK {
		t.Fatalf("%s plan = HTTP %d %s", method, resp.Status, resp.Body)
	}
	var p syncPlan
	must(t, json.Unmarshal(resp.Body, &p))
	return p
}

func TestSyncPlanMatchesWhatSyncDoes(t *testing.T) {
	t.Parallel()
	s := startEngine(t)
	f := newAgentFleet(t, s, "ROS2")
	bin := t.TempDir()
	must(t, os.WriteFile(filepath.Join(bin, "ros2"), []byte(fakeROS2), 0o755))
	env := []string{"PATH=" + bin + ":" + os.Getenv("PATH")}
	proxies := map[string]*bundleProxy{}
	add := func(name string) {
		proxies[name] = newBundleProxy(t, s.URL, 256<<20)
		f.addAgent(name, proxies[name].URL, env)
	}
	add("a")
	add("b")

	big := make([]byte, 3<<20)
	rand.Read(big)
	deps := bundletest.Overlay{Name: "dependencies.tar.gz", Data: tarGz(t, map[string]bundleFile{
		"setup.sh": {body: "DEPS=1; export DEPS\n"}, "opt/lib/libbig.so": {body: string(big)}})}
	var workspaces = map[string]bundletest.Overlay{}
	build := func(ws string) []byte {
		filler := make([]byte, 256<<10)
		rand.Read(filler)
		workspaces[ws] = bundletest.Overlay{Name: "workspace.tar.gz", Data: tarGz(t, map[string]bundleFile{
			"setup.sh": {body: "WS=" + ws + "; export WS\n"},
			"opt/built_workspace/app/share/app/launch/run.sh": {body: "# " + ws + "\n"},
			"opt/built_workspace/app/data.bin":                {body: string(filler)}})}
		b, _, err := bundletest.ColconV2(bundletest.Region, []bundletest.Overlay{deps, workspaces[ws]}, func(index []bundletest.IndexEntry) []byte {
			return tarGz(t, map[string]bundleFile{"overlays.json": {body: string(bundletest.IndexJSON(index))}, "installers.json": {body: "{}"}})
		})
		must(t, err)
		return b
	}
	b1 := build("one")
	if d := f.wait(f.deploy(f.version(b1), deployOpts{})); aws.StringValue(d.Status) != "Succeeded" {
		t.Fatalf("v1: %v", d)
	}

	// a leaves the fleet (its agent keeps v1's overlays); v2 goes to b,
	// after a plan of that CreateDeploymentJob.
	_, err := f.c.DeregisterRobot(&robomaker.DeregisterRobotInput{Fleet: aws.String(f.fleet), Robot: aws.String(f.arns["a"])})
	must(t, err)
	b2 := build("two")
	v2 := f.version(b2)
	// The agent reads the bundle's head (version and index: a few KB, not
	// the 4 MiB region) and fetches the overlay it lacks.
	sparse := v2HeadBytes(t, b2) + int64(len(workspaces["two"].Data))
	create := map[string]any{
		"deploymentApplicationConfigs": []map[string]any{{"application": f.app, "applicationVersion": v2,
			"launchConfig": map[string]any{"packageName": "app", "launchFile": "run.sh", "environmentVariables": map[string]string{"OUT": f.out}}}},
		"deploymentConfig": map[string]any{"concurrentDeploymentPercentage": 100, "failureThresholdPercentage": 100},
	}
	cp := plan(t, f, create)
	if cp.Operation != "CreateDeploymentJob" || len(cp.Targets) != 1 || cp.Targets[0].ARN != f.arns["b"] || cp.Targets[0].Bytes != sparse ||
		cp.Targets[0].OverlaysCached != 1 || cp.Targets[0].OverlaysTotal != 2 {
		t.Fatalf("Create plan = %+v, want b alone fetching %d bytes (1 of 2 overlays cached)", cp, sparse)
	}
	proxies["b"].served.Store(0)
	if d := f.wait(f.deploy(v2, deployOpts{})); aws.StringValue(d.Status) != "Succeeded" {
		t.Fatalf("v2: %v", d)
	}
	if got := proxies["b"].served.Load(); got != cp.Targets[0].Bytes {
		t.Errorf("b downloaded %d bytes, the Create plan said %d", got, cp.Targets[0].Bytes)
	}

	// a comes back (holding v2's dependencies overlay, not its workspace)
	// and c joins with nothing cached: the Sync plan, then the Sync.
	_, err = f.c.RegisterRobot(&robomaker.RegisterRobotInput{Fleet: aws.String(f.fleet), Robot: aws.String(f.arns["a"])})
	must(t, err)
	add("c")
	time.Sleep(1500 * time.Millisecond) // a poll of every agent, telling its overlays
	p := plan(t, f, nil)
	want := map[string]int64{f.arns["a"]: sparse, f.arns["c"]: int64(len(b2))}
	got := map[string]int64{}
	for _, r := range p.Targets {
		got[r.ARN] = r.Bytes
		if r.Reason != "NeverDeployed" {
			t.Errorf("plan reason of %s = %q, want NeverDeployed", r.Name, r.Reason)
		}
	}
	if len(got) != 2 || got[f.arns["a"]] != want[f.arns["a"]] || got[f.arns["c"]] != want[f.arns["c"]] {
		t.Fatalf("Sync plan bytes = %v, want %v", got, want)
	}
	// Sync copies v2's config (100 %): one wave of both; the ETA is that
	// wave times the median of the fleet's three robot deployments so far.
	if p.Window != 2 || p.Batches != 1 || p.TotalBytes != sparse+int64(len(b2)) || p.ETASeconds == nil || p.MedianSamples != 3 {
		t.Errorf("Sync plan = window %d, %d batches, %d bytes, ETA %v from %d samples; want 2, 1, %d, set, 3",
			p.Window, p.Batches, p.TotalBytes, p.ETASeconds, p.MedianSamples, sparse+int64(len(b2)))
	}
	for _, n := range []string{"a", "c"} {
		proxies[n].served.Store(0)
	}
	sync, err := f.c.SyncDeploymentJob(&robomaker.SyncDeploymentJobInput{Fleet: aws.String(f.fleet)})
	must(t, err)
	if aws.StringValue(sync.Arn) == p.SourceDeploymentJob {
		t.Fatal("the plan named the new job as its source")
	}
	d := f.wait(aws.StringValue(sync.Arn))
	if aws.StringValue(d.Status) != "Succeeded" {
		t.Fatalf("Sync: %v", d)
	}
	var deployed, planned []string
	for arn := range rows(d) {
		deployed = append(deployed, arn)
	}
	for arn := range got {
		planned = append(planned, arn)
	}
	sort.Strings(deployed)
	sort.Strings(planned)
	if !bytes.Equal([]byte(fmtList(deployed)), []byte(fmtList(planned))) {
		t.Errorf("Sync deployed %v, the plan said %v", deployed, planned)
	}
	for _, n := range []string{"a", "c"} {
		if got := proxies[n].served.Load(); got != want[f.arns[n]] {
			t.Errorf("%s downloaded %d bytes, the plan said %d", n, got, want[f.arns[n]])
		}
	}
	t.Logf("plan: a %d bytes (of %d), c %d bytes; ETA %ds", want[f.arns["a"]], len(b2), want[f.arns["c"]], *p.ETASeconds)
}

func fmtList(l []string) string {
	b, _ := json.Marshal(l)
	return string(b)
}

// v2HeadBytes is how much of a colcon v2 bundle's start an agent reads for
// its index: bundle.MinV2Head, or more when bundle.V2HeadSize says so.
func v2HeadBytes(t *testing.T, b []byte) int64 {
	t.Helper()
	_, n, err := bundle.V2HeadSize(b[:bundle.MinV2Head])
	must(t, err)
	return max(n, bundle.MinV2Head)
}
