// Operator features over a real fleetsyncd with simulated robots: the drift
// report (GET /fleetsync/v1/fleets/{fleetArn}/drift, SigV4-signed) against
// what SyncDeploymentJob really targets, continuous sync of fleets tagged
// fleetsync:autoSync=true, and /metrics during a rollout.
package e2e

//lint:file-ignore SA1019 aws-sdk-go v1 (deprecated) is the reference client fleetsync serves.

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go/aws"
	"github.com/aws/aws-sdk-go/service/robomaker"

	"github.com/fleetsync/fleetsync/internal/proto"
	"github.com/fleetsync/fleetsync/internal/sim"
	"github.com/fleetsync/fleetsync/internal/testenv"
)

// driftReport is the drift endpoint's answer.
type driftReport struct {
	Fleet                  string `json:"fleet"`
	FleetName              string `json:"fleetName"`
	LatestDeploymentJob    string `json:"latestDeploymentJob"`
	LatestDeploymentStatus string `json:"latestDeploymentStatus"`
	Robots                 []struct {
		ARN          string `json:"arn"`
		Name         string `json:"name"`
		Status       string `json:"status"`
		Architecture string `json:"architecture"`
		Reason       string `json:"reason"`
	} `json:"robots"`
}

func driftPath(fleetARN string) string {
	return "/fleetsync/v1/fleets/" + escapeARN(fleetARN) + "/drift"
}

// drift fetches the fleet's drift report as the bootstrap credential and
// returns it with the reasons by robot ARN.
func (r *rollout) drift() (driftReport, map[string]string) {
	r.t.Helper()
	resp := signedDo(r.t, r.s, http.MethodGet, driftPath(r.fleet), nil)
	if resp.Status != http.StatusOK {
		r.t.Fatalf("drift = HTTP %d %s", resp.Status, resp.Body)
	}
	var d driftReport
	must(r.t, json.Unmarshal(resp.Body, &d))
	reasons := map[string]string{}
	for _, rb := range d.Robots {
		reasons[rb.ARN] = rb.Reason
	}
	return d, reasons
}

// addRobot creates, registers and starts one simulated robot of an architecture.
func (r *rollout) addRobot(arch string) *simRobot {
	r.t.Helper()
	f := sim.New(r.s.URL, 1, sim.Options{PollWait: time.Second, RetryBase: 20 * time.Millisecond, NamePrefix: uniq("sim") + "-"})
	sr := f.Robots()[0]
	out, err := r.c.CreateRobot(&robomaker.CreateRobotInput{Name: aws.String(sr.Name), Architecture: aws.String(arch),
		GreengrassGroupId: aws.String(sr.AgentID)})
	must(r.t, err)
	_, err = r.c.RegisterRobot(&robomaker.RegisterRobotInput{Fleet: aws.String(r.fleet), Robot: out.Arn})
	must(r.t, err)
	added := &simRobot{Robot: sr, ARN: aws.StringValue(out.Arn)}
	r.robots = append(r.robots, added)
	r.sims = append(r.sims, f)
	f.Start(context.Background())
	r.t.Cleanup(f.Stop)
	return added
}

// createVersion starts a job of the given application version.
func (r *rollout) createVersion(version string, concurrent, threshold int64) string {
	r.t.Helper()
	out, err := r.c.CreateDeploymentJob(&robomaker.CreateDeploymentJobInput{
		Fleet: aws.String(r.fleet),
		DeploymentApplicationConfigs: []*robomaker.DeploymentApplicationConfig{{
			Application: aws.String(r.app), ApplicationVersion: aws.String(version),
			LaunchConfig: &robomaker.DeploymentLaunchConfig{PackageName: aws.String("app"), LaunchFile: aws.String("run.sh")},
		}},
		DeploymentConfig: &robomaker.DeploymentConfig{ConcurrentDeploymentPercentage: aws.Int64(concurrent),
			FailureThresholdPercentage: aws.Int64(threshold)},
	})
	must(r.t, err)
	return aws.StringValue(out.Arn)
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func TestDriftReportIsWhatSyncTargets(t *testing.T) {
	t.Parallel()
	s := startEngine(t)
	r := newRollout(t, s, 0)
	inSync, failed, silent := r.addRobot("X86_64"), r.addRobot("X86_64"), r.addRobot("X86_64")
	arm := r.addRobot("ARM64") // version 1 has no ARM64 bundle
	notReached := r.addRobot("X86_64")

	// Version 1 everywhere it can go.
	d, _ := r.wait(r.createVersion("1", 100, 100), time.Minute)
	if aws.StringValue(d.Status) != "Succeeded" {
		t.Fatalf("first job = %v", d)
	}
	// Version 2 one robot at a time; 3 failures of 5 (60 %) stop it before
	// the last robot: arm fails while the job is prepared, failed at
	// Launching, silent goes NoResponse, notReached keeps version 1.
	_, err := r.c.CreateRobotApplicationVersion(&robomaker.CreateRobotApplicationVersionInput{Application: aws.String(r.app)})
	must(t, err)
	failed.SetBehavior(sim.Behavior{FailAt: proto.StepLaunching, FailCode: "PostLaunchFileFailure"})
	silent.SetBehavior(sim.Behavior{Offline: true})
	source := r.createVersion("2", 1, 60)
	d, _ = r.wait(source, time.Minute)
	if aws.StringValue(d.Status) != "Failed" || aws.StringValue(rows(d)[notReached.ARN].Status) != "PendingNewDeployment" {
		t.Fatalf("version 2 job should stop before the last robot: %v", d)
	}
	newcomer := r.addRobot("X86_64")
	failed.SetBehavior(sim.Behavior{})

	report, got := r.drift()
	want := map[string]string{
		failed.ARN:     "Failed:PostLaunchFileFailure",
		silent.ARN:     "NoResponse",
		arm.ARN:        "ArchitectureMissing",
		notReached.ARN: "NotReached",
		newcomer.ARN:   "NeverDeployed",
	}
	for arn, reason := range want {
		if got[arn] != reason {
			t.Errorf("drift reason of %s = %q, want %q", arn, got[arn], reason)
		}
	}
	if _, ok := got[inSync.ARN]; ok || len(got) != len(want) {
		t.Errorf("drift lists %v, want exactly %v", got, want)
	}
	if report.LatestDeploymentJob != source || report.LatestDeploymentStatus != "Failed" || report.Fleet != r.fleet {
		t.Errorf("drift header = %+v, want latest deployment %s Failed of %s", report, source, r.fleet)
	}

	// Sync now: its rows are exactly the robots the report listed.
	syncJob := r.sync()
	d, _ = r.wait(syncJob, time.Minute)
	targeted := rows(d)
	if a, b := sortedKeys(targeted), sortedKeys(got); !slices.Equal(a, b) {
		t.Errorf("Sync targeted %v, drift listed %v", a, b)
	}

	// While a job runs, the robots it deploys to are reported Deploying.
	// The silent robot comes back first and completes what it missed, so
	// that it does not hold the one-robot window (or breach the threshold).
	silent.SetBehavior(sim.Behavior{})
	r.waitRobot(silent.ARN, "InSync", time.Minute)
	hanging := r.addRobot("X86_64")
	hanging.SetBehavior(sim.Behavior{Hang: true})
	running := r.sync()
	r.waitRobot(hanging.ARN, "Deploying", time.Minute)
	_, got = r.drift()
	if got[hanging.ARN] != "Deploying" {
		t.Errorf("drift reason of a deploying robot = %q, want Deploying (report %v)", got[hanging.ARN], got)
	}
	_, err = r.c.SyncDeploymentJob(&robomaker.SyncDeploymentJobInput{Fleet: aws.String(r.fleet)})
	wantErr(t, err, "ConcurrentDeploymentException")
	_, err = r.c.CancelDeploymentJob(&robomaker.CancelDeploymentJobInput{Job: aws.String(running)})
	must(t, err)
}

func TestDriftReportErrorsAndAuth(t *testing.T) {
	t.Parallel()
	s := startEngine(t)
	r := newRollout(t, s, 1)
	// No deployment yet: the same answer Sync gives.
	resp := signedDo(t, s, http.MethodGet, driftPath(r.fleet), nil)
	if resp.Status != http.StatusBadRequest || resp.Header.Get("x-amzn-ErrorType") != "ResourceNotFoundException" ||
		!strings.Contains(string(resp.Body), "no deployment to synchronize to") {
		t.Errorf("drift of a fleet with no deployment = %d %s %s", resp.Status, resp.Header.Get("x-amzn-ErrorType"), resp.Body)
	}
	// Unsigned.
	resp = do(t, rawRequest(t, s, http.MethodGet, driftPath(r.fleet), nil))
	if resp.Status != http.StatusForbidden || resp.Header.Get("x-amzn-ErrorType") != "MissingAuthenticationTokenException" {
		t.Errorf("unsigned drift = %d %s", resp.Status, resp.Header.Get("x-amzn-ErrorType"))
	}
	// Wrong secret.
	req := rawRequest(t, s, http.MethodGet, driftPath(r.fleet), nil)
	signRaw(t, req, nil, testenv.KeyID, testenv.Secret+"x", testenv.Region, time.Now())
	if resp := do(t, req); resp.Status != http.StatusForbidden || resp.Header.Get("x-amzn-ErrorType") != "InvalidSignatureException" {
		t.Errorf("drift with a wrong secret = %d %s", resp.Status, resp.Header.Get("x-amzn-ErrorType"))
	}
	// Another account sees nothing.
	keyID, secret := newAccount(t, s, "210987654321")
	req = rawRequest(t, s, http.MethodGet, driftPath(r.fleet), nil)
	signRaw(t, req, nil, keyID, secret, testenv.Region, time.Now())
	if resp := do(t, req); resp.Status != http.StatusBadRequest || resp.Header.Get("x-amzn-ErrorType") != "ResourceNotFoundException" {
		t.Errorf("drift of another account's fleet = %d %s", resp.Status, resp.Header.Get("x-amzn-ErrorType"))
	}
	// Not a fleet ARN.
	resp = signedDo(t, s, http.MethodGet, driftPath(r.app), nil)
	if resp.Header.Get("x-amzn-ErrorType") != "InvalidParameterException" {
		t.Errorf("drift of an application ARN = %d %s", resp.Status, resp.Body)
	}
}

func TestAutoSyncBringsNewRobotInSync(t *testing.T) {
	t.Parallel()
	s := startEngine(t)
	r := newRollout(t, s, 2)
	first := r.create(jobConfig{concurrent: 100})
	if d, _ := r.wait(first, time.Minute); aws.StringValue(d.Status) != "Succeeded" {
		t.Fatalf("first job = %v", d)
	}
	_, err := r.c.TagResource(&robomaker.TagResourceInput{ResourceArn: aws.String(r.fleet),
		Tags: map[string]*string{"fleetsync:autoSync": aws.String("true")}})
	must(t, err)

	// A robot joins while a job is running: continuous sync waits for it
	// to end rather than meet ConcurrentDeploymentException.
	r.robots[0].SetBehavior(sim.Behavior{Hang: true})
	busy := r.create(jobConfig{concurrent: 100})
	r.waitRobot(r.robots[0].ARN, "Deploying", time.Minute)
	late := r.addRobots(1)[0]
	if got := r.robotStatus(late.ARN); got != "Registered" {
		t.Errorf("newcomer is %s while another job runs, want Registered", got)
	}
	r.robots[0].SetBehavior(sim.Behavior{})
	if d, _ := r.wait(busy, time.Minute); aws.StringValue(d.Status) != "Succeeded" || rows(d)[late.ARN] != nil {
		t.Fatalf("busy job = %v", d)
	}

	r.waitRobot(late.ARN, "InSync", time.Minute)
	jobs := listJobs(t, r)
	var auto []*robomaker.DeploymentJob
	for _, j := range jobs {
		if aws.StringValue(j.Arn) != first && aws.StringValue(j.Arn) != busy {
			auto = append(auto, j)
		}
	}
	if len(auto) != 1 {
		t.Fatalf("want exactly one job started by continuous sync, ListDeploymentJobs has %v", jobs)
	}
	d, _ := r.wait(aws.StringValue(auto[0].Arn), time.Minute)
	if aws.StringValue(d.Status) != "Succeeded" || count(late.Completed(), aws.StringValue(d.Arn)) != 1 {
		t.Errorf("auto-sync job = %v; newcomer completed %v", d, late.Completed())
	}
	// It copied the latest deployment and left the robots already on it alone.
	if v := aws.StringValue(d.DeploymentApplicationConfigs[0].ApplicationVersion); v != "1" || aws.Int64Value(d.DeploymentConfig.ConcurrentDeploymentPercentage) != 100 {
		t.Errorf("auto-sync deployed %v with %v, want version 1 at 100 %%", d.DeploymentApplicationConfigs, d.DeploymentConfig)
	}
	if targeted := rows(d); len(targeted) != 1 || targeted[late.ARN] == nil {
		t.Errorf("auto-sync targeted %v, want the newcomer only", d.RobotDeploymentSummary)
	}
	// Without the tag, a newcomer stays Registered.
	_, err = r.c.UntagResource(&robomaker.UntagResourceInput{ResourceArn: aws.String(r.fleet), TagKeys: []*string{aws.String("fleetsync:autoSync")}})
	must(t, err)
	quietRobot := r.addRobots(1)[0]
	// One more Sync by hand shows nothing else started a job in between.
	manual := r.sync()
	d, _ = r.wait(manual, time.Minute)
	if targeted := rows(d); len(targeted) != 1 || targeted[quietRobot.ARN] == nil {
		t.Errorf("manual sync after untagging targeted %v, want the untagged newcomer only", d.RobotDeploymentSummary)
	}
	if n := len(listJobs(t, r)); n != len(jobs)+1 {
		t.Errorf("%d jobs after the manual sync, want %d: continuous sync acted on an untagged fleet", n, len(jobs)+1)
	}
}

// listJobs lists the fleet's jobs.
func listJobs(t *testing.T, r *rollout) []*robomaker.DeploymentJob {
	t.Helper()
	out, err := r.c.ListDeploymentJobs(&robomaker.ListDeploymentJobsInput{Filters: []*robomaker.Filter{{
		Name: aws.String("fleetName"), Values: []*string{aws.String(fleetName(t, r))}}}})
	must(t, err)
	return out.DeploymentJobs
}

func fleetName(t *testing.T, r *rollout) string {
	t.Helper()
	f, err := r.c.DescribeFleet(&robomaker.DescribeFleetInput{Fleet: aws.String(r.fleet)})
	must(t, err)
	return aws.StringValue(f.Name)
}

// scrape reads /metrics and returns each sample's value by its full series
// name (metric name plus labels as exposed).
func scrape(t *testing.T, s *testenv.Server) map[string]float64 {
	t.Helper()
	resp, err := (&http.Client{Timeout: 30 * time.Second}).Get(s.URL + "/metrics")
	must(t, err)
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain") {
		t.Fatalf("/metrics = %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	b, err := io.ReadAll(resp.Body)
	must(t, err)
	out := map[string]float64{}
	line := regexp.MustCompile(`^(\S+(?:\{[^}]*\})?) (\S+)$`)
	for _, l := range strings.Split(string(b), "\n") {
		if m := line.FindStringSubmatch(l); m != nil {
			v, err := strconv.ParseFloat(m[2], 64)
			must(t, err)
			out[m[1]] = v
		}
	}
	return out
}

func TestMetricsMoveDuringRollout(t *testing.T) {
	t.Parallel()
	s := startEngine(t)
	r := newRollout(t, s, 4)
	for _, sr := range r.robots {
		sr.SetBehavior(sim.Behavior{Download: true, Hang: true})
	}
	before := scrape(t, s)
	job := r.create(jobConfig{concurrent: 100})
	for _, sr := range r.robots {
		r.waitRobot(sr.ARN, "Deploying", time.Minute)
	}
	during := scrape(t, s)
	for _, sr := range r.robots {
		sr.SetBehavior(sim.Behavior{Download: true})
	}
	if d, _ := r.wait(job, time.Minute); aws.StringValue(d.Status) != "Succeeded" {
		t.Fatalf("job = %v", d)
	}
	after := scrape(t, s)

	const created = `fleetsync_api_requests_total{code="200",error="",operation="CreateDeploymentJob"}`
	if before[created] != 0 || after[created] != 1 {
		t.Errorf("%s: %v before, %v after, want 0 then 1", created, before[created], after[created])
	}
	if n := after[`fleetsync_api_request_duration_seconds_count{operation="DescribeDeploymentJob"}`]; n < 1 {
		t.Errorf("DescribeDeploymentJob latency histogram has %v observations", n)
	}
	if during["fleetsync_active_deployment_jobs"] != 1 || after["fleetsync_active_deployment_jobs"] != 0 {
		t.Errorf("active jobs during %v, after %v; want 1 then 0", during["fleetsync_active_deployment_jobs"], after["fleetsync_active_deployment_jobs"])
	}
	if during[`fleetsync_robots{status="Deploying"}`] != 4 || after[`fleetsync_robots{status="InSync"}`] != 4 || before[`fleetsync_robots{status="Registered"}`] != 4 {
		t.Errorf("robots by status: before Registered %v, during Deploying %v, after InSync %v; want 4 each",
			before[`fleetsync_robots{status="Registered"}`], during[`fleetsync_robots{status="Deploying"}`], after[`fleetsync_robots{status="InSync"}`])
	}
	if !(after["fleetsync_agent_polls_total"] > during["fleetsync_agent_polls_total"] && during["fleetsync_agent_polls_total"] > before["fleetsync_agent_polls_total"]) {
		t.Errorf("agent polls did not grow: %v, %v, %v", before["fleetsync_agent_polls_total"], during["fleetsync_agent_polls_total"], after["fleetsync_agent_polls_total"])
	}
	// Each robot downloaded the whole bundle once.
	bundleSize := float64(len("instant bundle ") + len(bundleKey(t, r)))
	if got := after["fleetsync_bundle_bytes_served_total"] - before["fleetsync_bundle_bytes_served_total"]; got != 4*bundleSize {
		t.Errorf("bundle bytes served grew by %v, want %v (4 × %v)", got, 4*bundleSize, bundleSize)
	}
	// The rollout's writes were committed, some maybe in groups: never
	// more COMMITs than transactions (SQLite only).
	const writes, commits = "fleetsync_sqlite_write_transactions_total", "fleetsync_sqlite_commits_total"
	if _, exported := after[writes]; exported == testenv.Postgres() {
		t.Errorf("%s exported: %v, want only on SQLite", writes, exported)
	}
	if !testenv.Postgres() && !(after[writes] > before[writes] && after[commits] > before[commits] && after[commits] <= after[writes]) {
		t.Errorf("SQLite writes %v → %v in COMMITs %v → %v: want both to grow, COMMITs never more than writes", before[writes], after[writes], before[commits], after[commits])
	}
	if after["fleetsync_engine_tick_duration_seconds_count"] <= before["fleetsync_engine_tick_duration_seconds_count"] {
		t.Errorf("engine tick histogram did not move: %v → %v", before["fleetsync_engine_tick_duration_seconds_count"], after["fleetsync_engine_tick_duration_seconds_count"])
	}
}

// bundleKey returns the S3 key of the rollout's version 1 source.
func bundleKey(t *testing.T, r *rollout) string {
	t.Helper()
	out, err := r.c.DescribeRobotApplication(&robomaker.DescribeRobotApplicationInput{Application: aws.String(r.app), ApplicationVersion: aws.String("1")})
	must(t, err)
	return aws.StringValue(out.Sources[0].S3Key)
}
