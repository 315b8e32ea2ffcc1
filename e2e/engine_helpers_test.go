// Helpers of the deployment engine tests (engine_*_test.go): a real
// fleetsyncd with a fast engine, a fleet of simulated robots speaking the
// real agent protocol, and waiting on jobs through the AWS SDK.
package e2e

//lint:file-ignore SA1019 aws-sdk-go v1 (deprecated) is the reference client fleetsync serves.

import (
	"cmp"
	"context"
	"errors"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go/aws"
	"github.com/aws/aws-sdk-go/aws/awserr"
	"github.com/aws/aws-sdk-go/service/robomaker"

	"github.com/fleetsync/fleetsync/internal/sim"
	"github.com/fleetsync/fleetsync/internal/testenv"
)

// engineArgs make the engine and the agent protocol fast enough for tests:
// an agent silent for 3 × 200 ms + 1 s makes its robot NoResponse.
var engineArgs = []string{"--rate-limit", "100000", "--rate-burst", "100000",
	"--engine-tick", "50ms", "--agent-poll-interval", "200ms", "--agent-max-wait", "1s"}

func startEngine(t *testing.T, extra ...string) *testenv.Server {
	t.Helper()
	return testenv.Start(t, testenv.Options{Args: append(append([]string{}, engineArgs...), extra...)})
}

// startEngineInProcess is startEngine with the server built in the test
// process on an in-memory network; the test runs inside a synctest bubble
// (inBubble), so its waits take fake time, not real time.
func startEngineInProcess(t *testing.T, extra ...string) *testenv.Server {
	t.Helper()
	return testenv.StartInProcess(t, testenv.Options{Args: append(append([]string{}, engineArgs...), extra...)})
}

// inBubble runs f in a testing/synctest bubble (testenv.Bubble): a fake
// clock that advances when every goroutine of the test (server, engine,
// simulated robots) is blocked, so a 60 s robot timeout takes milliseconds.
func inBubble(t *testing.T, f func(t *testing.T)) {
	t.Helper()
	testenv.Bubble(t, f)
}

// rollout is a fleet of simulated robots registered to a RoboMaker fleet,
// with an application version to deploy.
type rollout struct {
	t      *testing.T
	s      *testenv.Server
	c      *robomaker.RoboMaker
	fleet  string
	app    string
	robots []*simRobot
	sims   []*sim.Fleet
	// replicas, when set, share the robots: robot i talks to replica i mod
	// n through balancer, which moves it to another replica if its own dies.
	replicas []*testenv.Server
	balancer *testenv.Balancer
	// pollWait is the robots' long-poll wait; 0 means one second.
	pollWait time.Duration
	// account is the account the robots' agent ids are bound to (the
	// account of c); "" means the bootstrap account.
	account string
}

// simRobot pairs a simulated robot with its RoboMaker ARN.
type simRobot struct {
	*sim.Robot
	ARN string
}

func newRollout(t *testing.T, s *testenv.Server, n int) *rollout {
	t.Helper()
	return newReplicaRollout(t, []*testenv.Server{s}, n)
}

// newReplicaRollout is newRollout over several replicas of one database:
// API calls go to the first, robots are spread over all of them.
func newReplicaRollout(t *testing.T, replicas []*testenv.Server, n int) *rollout {
	t.Helper()
	s := replicas[0]
	r := &rollout{t: t, s: s, c: quiet(s.Client())}
	if len(replicas) > 1 {
		r.replicas, r.balancer = replicas, testenv.NewBalancer(replicas)
	}
	f, err := r.c.CreateFleet(&robomaker.CreateFleetInput{Name: aws.String(uniq("fleet"))})
	must(t, err)
	r.fleet = aws.StringValue(f.Arn)
	makeBucket(t, s, "bundles")
	key := uniq("app") + ".tar"
	putObject(t, s, "bundles", key, []byte("instant bundle "+key))
	app, err := r.c.CreateRobotApplication(&robomaker.CreateRobotApplicationInput{
		Name: aws.String(uniq("app")), RobotSoftwareSuite: &robomaker.RobotSoftwareSuite{Name: aws.String("General")},
		Sources: []*robomaker.SourceConfig{{S3Bucket: aws.String("bundles"), S3Key: aws.String(key), Architecture: aws.String("X86_64")}},
	})
	must(t, err)
	r.app = aws.StringValue(app.Arn)
	_, err = r.c.CreateRobotApplicationVersion(&robomaker.CreateRobotApplicationVersionInput{Application: app.Arn})
	must(t, err)
	r.addRobots(n)
	return r
}

// addRobots creates, registers and starts n more simulated robots.
func (r *rollout) addRobots(n int) []*simRobot {
	r.t.Helper()
	opts := sim.Options{PollWait: cmp.Or(r.pollWait, time.Second), RetryBase: 20 * time.Millisecond, NamePrefix: uniq("sim") + "-", Account: r.account}
	fleets := []*sim.Fleet{}
	if len(r.replicas) == 0 {
		if r.s.InProcess() {
			opts.HTTP = r.s.HTTPClient()
		}
		fleets = append(fleets, sim.New(r.s.URL, n, opts))
	} else {
		opts.HTTP = r.balancer.Client()
		for i, s := range r.replicas {
			share := n / len(r.replicas)
			if i < n%len(r.replicas) {
				share++
			}
			opts.NamePrefix = uniq("sim") + "-"
			fleets = append(fleets, sim.New(s.URL, share, opts))
		}
	}
	var added []*simRobot
	for _, f := range fleets {
		added = append(added, r.register(f)...)
	}
	r.robots = append(r.robots, added...)
	return added
}

// register creates and registers a simulated fleet's robots, then starts it.
func (r *rollout) register(f *sim.Fleet) []*simRobot {
	r.t.Helper()
	var added []*simRobot
	for _, sr := range f.Robots() {
		out, err := r.c.CreateRobot(&robomaker.CreateRobotInput{Name: aws.String(sr.Name), Architecture: aws.String("X86_64"),
			GreengrassGroupId: aws.String(sr.AgentID)})
		must(r.t, err)
		_, err = r.c.RegisterRobot(&robomaker.RegisterRobotInput{Fleet: aws.String(r.fleet), Robot: out.Arn})
		must(r.t, err)
		added = append(added, &simRobot{Robot: sr, ARN: aws.StringValue(out.Arn)})
	}
	r.sims = append(r.sims, f)
	f.Start(context.Background())
	r.t.Cleanup(f.Stop)
	return added
}

// maxDeploying is the highest number of robots any of the rollout's
// simulated fleets saw deploying at once.
func (r *rollout) maxDeploying() int {
	m := 0
	for _, f := range r.sims {
		m += f.MaxConcurrentDeploying()
	}
	return m
}

type jobConfig struct {
	concurrent, threshold int
	timeout               int64
}

// create starts a deployment job of version 1 to the fleet.
func (r *rollout) create(cfg jobConfig) string {
	r.t.Helper()
	in := &robomaker.CreateDeploymentJobInput{
		Fleet: aws.String(r.fleet),
		DeploymentApplicationConfigs: []*robomaker.DeploymentApplicationConfig{{
			Application: aws.String(r.app), ApplicationVersion: aws.String("1"),
			LaunchConfig: &robomaker.DeploymentLaunchConfig{PackageName: aws.String("app"), LaunchFile: aws.String("run.sh")},
		}},
		DeploymentConfig: &robomaker.DeploymentConfig{},
	}
	if cfg.concurrent > 0 {
		in.DeploymentConfig.ConcurrentDeploymentPercentage = aws.Int64(int64(cfg.concurrent))
	}
	if cfg.threshold > 0 {
		in.DeploymentConfig.FailureThresholdPercentage = aws.Int64(int64(cfg.threshold))
	}
	if cfg.timeout > 0 {
		in.DeploymentConfig.RobotDeploymentTimeoutInSeconds = aws.Int64(cfg.timeout)
	}
	out, err := r.c.CreateDeploymentJob(in)
	must(r.t, err)
	return aws.StringValue(out.Arn)
}

// sync calls SyncDeploymentJob and returns the new job's ARN.
func (r *rollout) sync() string {
	r.t.Helper()
	out, err := r.c.SyncDeploymentJob(&robomaker.SyncDeploymentJobInput{Fleet: aws.String(r.fleet)})
	must(r.t, err)
	return aws.StringValue(out.Arn)
}

// wait polls the job until it reaches a terminal status and returns its last
// description and the most robots seen Deploying at once by the server.
func (r *rollout) wait(job string, timeout time.Duration) (*robomaker.DescribeDeploymentJobOutput, int) {
	r.t.Helper()
	deadline := time.Now().Add(timeout)
	peak := 0
	for {
		d, err := r.c.DescribeDeploymentJob(&robomaker.DescribeDeploymentJobInput{Job: aws.String(job)})
		must(r.t, err)
		n := 0
		for _, rd := range d.RobotDeploymentSummary {
			if aws.StringValue(rd.Status) == "Deploying" {
				n++
			}
		}
		peak = max(peak, n)
		switch aws.StringValue(d.Status) {
		case "Succeeded", "Failed", "Canceled":
			return d, peak
		}
		if time.Now().After(deadline) {
			r.t.Fatalf("job %s still %s after %v: %v", job, aws.StringValue(d.Status), timeout, d)
		}
		r.pause()
	}
}

// pause is the interval between two looks at the server while waiting for
// a state: short against a real process; longer on a bubble's fake clock,
// where waiting costs nothing but each look costs real CPU time.
func (r *rollout) pause() {
	if r.s.InProcess() {
		time.Sleep(250 * time.Millisecond)
		return
	}
	time.Sleep(20 * time.Millisecond)
}

// rows maps robot ARN to its row in a job description.
func rows(d *robomaker.DescribeDeploymentJobOutput) map[string]*robomaker.RobotDeployment {
	m := map[string]*robomaker.RobotDeployment{}
	for _, rd := range d.RobotDeploymentSummary {
		m[aws.StringValue(rd.Arn)] = rd
	}
	return m
}

// robotStatus returns DescribeRobot's status.
func (r *rollout) robotStatus(arn string) string {
	r.t.Helper()
	d, err := r.c.DescribeRobot(&robomaker.DescribeRobotInput{Robot: aws.String(arn)})
	must(r.t, err)
	return aws.StringValue(d.Status)
}

// waitRobot polls a robot until it has the status.
func (r *rollout) waitRobot(arn, status string, timeout time.Duration) {
	r.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		got := r.robotStatus(arn)
		if got == status {
			return
		}
		if time.Now().After(deadline) {
			r.t.Fatalf("robot %s is %s after %v, want %s", arn, got, timeout, status)
		}
		r.pause()
	}
}

// count returns how often job occurs in list.
func count(list []string, job string) int {
	n := 0
	for _, j := range list {
		if j == job {
			n++
		}
	}
	return n
}

// errCode returns the AWS error code of err, "" if it has none.
func errCode(err error) string {
	var ae awserr.Error
	if errors.As(err, &ae) {
		return ae.Code()
	}
	return ""
}

// deployedExactlyOnce asserts that the job's description d has a row for each
// of the rollout's n robots, every one InSync, and that each robot completed
// the job exactly once by its own record (after a moment's wait: the last
// reports may still be in flight when the job ends).
func (r *rollout) deployedExactlyOnce(job string, d *robomaker.DescribeDeploymentJobOutput, n int) {
	r.t.Helper()
	byRobot := rows(d)
	if len(byRobot) != n {
		r.t.Fatalf("%d rows, want %d", len(byRobot), n)
	}
	completed := func() int {
		c := 0
		for _, sr := range r.robots {
			c += count(sr.Completed(), job)
		}
		return c
	}
	deadline := time.Now().Add(10 * time.Second)
	for completed() < n && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	for _, sr := range r.robots {
		if c := count(sr.Completed(), job); c != 1 {
			r.t.Errorf("%s completed the job %d times (started %d times)", sr.Name, c, count(sr.Started(), job))
		}
		if got := aws.StringValue(byRobot[sr.ARN].Status); got != "InSync" {
			r.t.Errorf("%s row = %s", sr.Name, got)
		}
	}
}
