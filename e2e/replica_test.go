// Several fleetsyncd replicas on one PostgreSQL database: failover of a
// job's lease mid-rollout, idempotency and uniqueness races settled by the
// database across replicas, wake-ups and replay protection that reach every
// replica, and /readyz following the database. These tests need PostgreSQL
// (pgtest) whatever FLEETSYNC_TEST_BACKEND says.
package e2e

//lint:file-ignore SA1019 aws-sdk-go v1 (deprecated) is the reference client fleetsync serves.

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"database/sql"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go/aws"
	"github.com/aws/aws-sdk-go/service/robomaker"

	"github.com/fleetsync/fleetsync/internal/agent/client"
	"github.com/fleetsync/fleetsync/internal/deploy"
	"github.com/fleetsync/fleetsync/internal/pgtest"
	"github.com/fleetsync/fleetsync/internal/proto"
	"github.com/fleetsync/fleetsync/internal/sim"
	"github.com/fleetsync/fleetsync/internal/testenv"
)

// startReplicas runs n engine-test replicas on one fresh database.
func startReplicas(t *testing.T, n int, extra ...string) []*testenv.Server {
	t.Helper()
	pgtest.Require(t)
	return testenv.StartReplicas(t, n, testenv.Options{Args: append(append([]string{}, engineArgs...), extra...)})
}

// openDB opens the replicas' database for the test to look at leases.
func openDB(t *testing.T, s *testenv.Server) *sql.DB {
	t.Helper()
	db, err := sql.Open("pgx", s.Database)
	must(t, err)
	t.Cleanup(func() { db.Close() })
	return db
}

// nodeID is the name a replica holds leases under (<data-dir>/node.id).
func nodeID(t *testing.T, s *testenv.Server) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(s.DataDir, "node.id"))
	must(t, err)
	return strings.TrimSpace(string(b))
}

// lease returns a job's lease holder and expiry (epoch ms).
func lease(t *testing.T, db *sql.DB, job string) (string, int64) {
	t.Helper()
	var owner string
	var until int64
	must(t, db.QueryRow(`SELECT lease_owner, lease_until_ms FROM deployment_jobs WHERE arn = $1`, job).Scan(&owner, &until))
	return owner, until
}

// TestReplicaFailover: two replicas, a 500-robot rollout, SIGKILL of the
// replica holding the job's lease mid-rollout. The other takes the lease
// over once it lapses (never before) and finishes the job; every robot is
// deployed exactly once and none is declared NoResponse.
func TestReplicaFailover(t *testing.T) {
	const ttl = 3 * time.Second
	reps := startReplicas(t, 2, "--job-lease-ttl", ttl.String())
	db := openDB(t, reps[0])
	// Every lease change, as committed, for checking takeovers afterwards.
	for _, q := range []string{
		`CREATE TABLE test_lease_log (owner TEXT NOT NULL, until_ms BIGINT NOT NULL)`,
		`CREATE FUNCTION test_log_lease() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN
			IF NEW.lease_owner IS DISTINCT FROM OLD.lease_owner OR NEW.lease_until_ms IS DISTINCT FROM OLD.lease_until_ms THEN
				INSERT INTO test_lease_log VALUES (NEW.lease_owner, NEW.lease_until_ms);
			END IF;
			RETURN NEW;
		END $$`,
		`CREATE TRIGGER test_log_lease AFTER UPDATE ON deployment_jobs FOR EACH ROW EXECUTE FUNCTION test_log_lease()`,
	} {
		_, err := db.Exec(q)
		must(t, err)
	}
	r := newReplicaRollout(t, reps, 500)
	for _, sr := range r.robots {
		sr.SetBehavior(sim.Behavior{Delay: 200 * time.Millisecond})
	}
	created := time.Now()
	job := r.create(jobConfig{concurrent: 5, threshold: 100}) // window 25: twenty waves
	completed := func() int {
		n := 0
		for _, sr := range r.robots {
			if count(sr.Completed(), job) > 0 {
				n++
			}
		}
		return n
	}
	deadline := time.Now().Add(2 * time.Minute)
	for completed() < 150 {
		if time.Now().After(deadline) {
			t.Fatalf("only %d robots completed before the kill", completed())
		}
		time.Sleep(5 * time.Millisecond)
	}
	owner, _ := lease(t, db, job)
	holder := -1
	for i, s := range reps {
		if nodeID(t, s) == owner {
			holder = i
		}
	}
	if holder < 0 {
		t.Fatalf("lease owner %q is neither replica", owner)
	}
	survivor := reps[1-holder]
	t.Logf("%d robots completed %v after the job was created", completed(), time.Since(created).Round(time.Millisecond))
	reps[holder].Kill()
	// Kill returns once the process is gone: whatever starts after this
	// instant was started by the survivor.
	killed := time.Now()
	atKill := completed()
	r.s, r.c = survivor, quiet(survivor.Client())

	var takeover time.Duration
	for {
		if o, _ := lease(t, db, job); o == nodeID(t, survivor) {
			takeover = time.Since(killed)
			break
		}
		if time.Since(killed) > 2*time.Minute {
			t.Fatalf("the survivor never took the lease over")
		}
		time.Sleep(10 * time.Millisecond)
	}
	d, _ := r.wait(job, 2*time.Minute)
	finished := time.Since(killed)
	var deadUntil int64 // the end of the dead replica's last lease
	must(t, db.QueryRow(`SELECT MAX(until_ms) FROM test_lease_log WHERE owner = $1`, owner).Scan(&deadUntil))
	var firstStart int64
	must(t, db.QueryRow(`SELECT COALESCE(MIN(started_ms), 0) FROM job_robots WHERE job_arn = $1 AND started_ms > $2`, job, killed.UnixMilli()).Scan(&firstStart))
	t.Logf("killed replica %d with %d of 500 robots completed; lease TTL %v: the dead lease lapsed %v after the kill, the survivor held it %v after the kill "+
		"and started its first robot %v after the kill; job finished %v after the kill",
		holder, atKill, ttl, time.UnixMilli(deadUntil).Sub(killed).Round(time.Millisecond), takeover.Round(time.Millisecond),
		time.UnixMilli(firstStart).Sub(killed).Round(time.Millisecond), finished.Round(time.Millisecond))

	if aws.StringValue(d.Status) != "Succeeded" {
		t.Fatalf("job after failover = %s/%s", aws.StringValue(d.Status), aws.StringValue(d.FailureCode))
	}
	// Nobody drove the job while the dead replica's lease was valid: every
	// robot started after the kill was started once it had lapsed.
	var early int
	must(t, db.QueryRow(`SELECT COUNT(*) FROM job_robots WHERE job_arn = $1 AND started_ms > $2 AND started_ms <= $3`,
		job, killed.UnixMilli(), deadUntil).Scan(&early))
	if early != 0 {
		t.Errorf("%d robots were started after the kill but before the dead replica's lease lapsed", early)
	}
	r.deployedExactlyOnce(job, d, 500)
}

// TestReplicaSyncRaces: 50 identical SyncDeploymentJob calls spread over two
// replicas make one job; 50 different-token calls while it runs all get
// ConcurrentDeploymentException; 50 different-token calls on an idle fleet
// make exactly one job.
func TestReplicaSyncRaces(t *testing.T) {
	t.Parallel()
	reps := startReplicas(t, 2)
	clients := []*robomaker.RoboMaker{quiet(reps[0].Client()), quiet(reps[1].Client())}
	r := newReplicaRollout(t, reps, 4)
	d, _ := r.wait(r.create(jobConfig{concurrent: 100}), time.Minute)
	if aws.StringValue(d.Status) != "Succeeded" {
		t.Fatalf("first job = %v", d)
	}
	for _, sr := range r.robots {
		sr.SetBehavior(sim.Behavior{Hang: true}) // keep the sync job active
	}
	r.addRobots(2)
	for _, sr := range r.robots[4:] {
		sr.SetBehavior(sim.Behavior{Hang: true})
	}
	race := func(token func(i int) string) ([]string, []error) {
		var wg sync.WaitGroup
		arns, errs := make([]string, 50), make([]error, 50)
		for i := range 50 {
			wg.Go(func() {
				in := &robomaker.SyncDeploymentJobInput{Fleet: aws.String(r.fleet)}
				if tok := token(i); tok != "" {
					in.ClientRequestToken = aws.String(tok)
				}
				out, err := clients[i%2].SyncDeploymentJob(in)
				errs[i] = err
				if err == nil {
					arns[i] = aws.StringValue(out.Arn)
				}
			})
		}
		wg.Wait()
		return arns, errs
	}
	arns, errs := race(func(int) string { return "one-token" })
	for i := range 50 {
		if errs[i] != nil || arns[i] == "" || arns[i] != arns[0] {
			t.Fatalf("identical call %d (replica %d) = %q, %v; want %q", i, i%2, arns[i], errs[i], arns[0])
		}
	}
	_, errs = race(func(int) string { return "" })
	for i, err := range errs {
		if errCode(err) != "ConcurrentDeploymentException" {
			t.Errorf("different-token call %d (replica %d) while a job runs = %v, want ConcurrentDeploymentException", i, i%2, err)
		}
	}
	jobs, err := clients[1].ListDeploymentJobs(&robomaker.ListDeploymentJobsInput{})
	must(t, err)
	if len(jobs.DeploymentJobs) != 2 {
		t.Errorf("%d jobs exist, want 2 (the first and one sync)", len(jobs.DeploymentJobs))
	}
	_, err = clients[1].CancelDeploymentJob(&robomaker.CancelDeploymentJobInput{Job: aws.String(arns[0])})
	must(t, err)
	r.wait(arns[0], time.Minute)

	// Idle fleet, different tokens: one wins.
	arns, errs = race(func(int) string { return "" })
	created := map[string]bool{}
	for i, err := range errs {
		switch {
		case err == nil:
			created[arns[i]] = true
		case errCode(err) != "ConcurrentDeploymentException":
			t.Errorf("racing sync %d: %v", i, err)
		}
	}
	if len(created) != 1 {
		t.Errorf("racing different-token syncs on two replicas created %d jobs, want 1", len(created))
	}
}

// TestReplicaDuplicateNames: creates of one name racing on two replicas,
// for each resource with a unique name (and one agent id): exactly one
// succeeds, the others get ResourceAlreadyExistsException.
func TestReplicaDuplicateNames(t *testing.T) {
	t.Parallel()
	reps := startReplicas(t, 2)
	clients := []*robomaker.RoboMaker{quiet(reps[0].Client()), quiet(reps[1].Client())}
	makeBucket(t, reps[0], "dup")
	putObject(t, reps[0], "dup", "app.tar", []byte("bundle"))
	pub, _, _ := ed25519.GenerateKey(rand.Reader)
	agentID := proto.BoundAgentID(testenv.Account, pub)
	for _, tc := range []struct {
		name   string
		create func(c *robomaker.RoboMaker, _ int) error
	}{
		{"fleet", func(c *robomaker.RoboMaker, _ int) error {
			_, err := c.CreateFleet(&robomaker.CreateFleetInput{Name: aws.String("dup-fleet")})
			return err
		}},
		{"robot", func(c *robomaker.RoboMaker, _ int) error {
			_, err := c.CreateRobot(&robomaker.CreateRobotInput{Name: aws.String("dup-robot"), Architecture: aws.String("X86_64"),
				GreengrassGroupId: aws.String(uniq("agent"))})
			return err
		}},
		{"robot agent id", func(c *robomaker.RoboMaker, _ int) error {
			_, err := c.CreateRobot(&robomaker.CreateRobotInput{Name: aws.String(uniq("agent-robot")), Architecture: aws.String("X86_64"),
				GreengrassGroupId: aws.String(agentID)})
			return err
		}},
		{"robot application", func(c *robomaker.RoboMaker, _ int) error {
			_, err := c.CreateRobotApplication(&robomaker.CreateRobotApplicationInput{Name: aws.String("dup-app"),
				RobotSoftwareSuite: &robomaker.RobotSoftwareSuite{Name: aws.String("General")},
				Sources:            []*robomaker.SourceConfig{{S3Bucket: aws.String("dup"), S3Key: aws.String("app.tar"), Architecture: aws.String("X86_64")}}})
			return err
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var wg sync.WaitGroup
			errs := make([]error, 20)
			for i := range 20 {
				wg.Go(func() { errs[i] = tc.create(clients[i%2], i) })
			}
			wg.Wait()
			ok := 0
			for i, err := range errs {
				switch {
				case err == nil:
					ok++
				case errCode(err) != "ResourceAlreadyExistsException":
					t.Errorf("create %d (replica %d) = %v, want success or ResourceAlreadyExistsException", i, i%2, err)
				}
			}
			if ok != 1 {
				t.Errorf("%d of 20 racing creates on two replicas succeeded, want 1", ok)
			}
		})
	}
}

// TestReplicaWakeUps: robots long-poll with a 30 s wait, half of them on
// the replica that does not drive the job; each gets its assignment from
// the wake-up of its waiting poll, not when that poll times out.
func TestReplicaWakeUps(t *testing.T) {
	t.Parallel()
	reps := startReplicas(t, 2, "--agent-max-wait", "30s", "--agent-poll-interval", "10s")
	r := newReplicaRollout(t, reps, 0)
	r.pollWait = 30 * time.Second
	r.addRobots(6)
	deadline := time.Now().Add(time.Minute)
	for r.balancer.InFlight() < 6 { // every robot is waiting in a long poll
		if time.Now().After(deadline) {
			t.Fatalf("%d of 6 robots are waiting in a long poll", r.balancer.InFlight())
		}
		time.Sleep(10 * time.Millisecond)
	}
	for i, c := range []*robomaker.RoboMaker{quiet(reps[0].Client()), quiet(reps[1].Client())} {
		r.c = c // the job created on each replica in turn
		t0 := time.Now()
		job := r.create(jobConfig{concurrent: 100})
		defer func() { t.Logf("job created on replica %d finished in %v", i, time.Since(t0)) }()
		// Well under the 30 s the waiting polls would otherwise take.
		d, _ := r.wait(job, 15*time.Second)
		if aws.StringValue(d.Status) != "Succeeded" || len(d.RobotDeploymentSummary) != 6 {
			t.Fatalf("job created on replica %d = %v", i, d)
		}
	}
}

// TestReplicaNonceReplay: a signed agent request accepted by one replica is
// refused as a replay by the other (the nonce lives in the database).
func TestReplicaNonceReplay(t *testing.T) {
	t.Parallel()
	reps := startReplicas(t, 2)
	pub, priv, _ := ed25519.GenerateKey(rand.Reader)
	_, err := quiet(reps[0].Client()).CreateRobot(&robomaker.CreateRobotInput{Name: aws.String("replayed"), Architecture: aws.String("X86_64"),
		GreengrassGroupId: aws.String(proto.BoundAgentID(testenv.Account, pub))})
	must(t, err)
	body := []byte(`{"waitSeconds":0}`)
	req, err := http.NewRequest(http.MethodPost, reps[0].URL+proto.PathPoll, bytes.NewReader(body))
	must(t, err)
	proto.SignAs(req, testenv.Account, priv, body, time.Now())
	send := func(s *testenv.Server) (int, string) {
		r, err := http.NewRequest(http.MethodPost, s.URL+proto.PathPoll, bytes.NewReader(body))
		must(t, err)
		r.Header = req.Header.Clone()
		resp, err := http.DefaultClient.Do(r)
		must(t, err)
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, b := send(reps[0]); code != http.StatusOK {
		t.Fatalf("first request = %d %s", code, b)
	}
	for i, s := range []*testenv.Server{reps[1], reps[0]} {
		if code, b := send(s); code != http.StatusUnauthorized || !strings.Contains(b, "replayed") {
			t.Errorf("replay %d = %d %s, want 401 replayed request", i, code, b)
		}
	}
}

// TestReadyzFollowsDatabase: /readyz answers 503 while the PostgreSQL
// database refuses connections (its sessions cut, as in a restart) and 200
// again once it accepts them.
func TestReadyzFollowsDatabase(t *testing.T) {
	t.Parallel()
	admin := pgtest.Require(t)
	s := testenv.Start(t, testenv.Options{Database: pgtest.NewDatabase(t)})
	name := strings.TrimPrefix(s.Database[strings.LastIndexByte(s.Database, '/'):], "/")
	name, _, _ = strings.Cut(name, "?")
	db, err := sql.Open("pgx", admin)
	must(t, err)
	defer db.Close()
	ready := func() int {
		resp, err := http.Get(s.URL + "/readyz")
		must(t, err)
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := ready(); code != http.StatusOK {
		t.Fatalf("/readyz = %d before the outage", code)
	}
	_, err = db.Exec(`ALTER DATABASE ` + name + ` ALLOW_CONNECTIONS false`)
	must(t, err)
	t.Cleanup(func() { db.Exec(`ALTER DATABASE ` + name + ` ALLOW_CONNECTIONS true`) })
	_, err = db.Exec(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1`, name)
	must(t, err)
	if code := ready(); code != http.StatusServiceUnavailable {
		t.Errorf("/readyz = %d while the database refuses connections, want 503", code)
	}
	_, err = db.Exec(`ALTER DATABASE ` + name + ` ALLOW_CONNECTIONS true`)
	must(t, err)
	// The pool drops its dead connections as it meets them.
	deadline := time.Now().Add(30 * time.Second)
	for ready() != http.StatusOK {
		if time.Now().After(deadline) {
			t.Fatal("/readyz not 200 again 30 s after the database came back")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestReplicaNeedsTheSameMasterKey: a replica whose data directory has
// another master key refuses to start, naming the file, instead of failing
// every signed request later.
func TestReplicaNeedsTheSameMasterKey(t *testing.T) {
	t.Parallel()
	reps := startReplicas(t, 1)
	_, stderr, exit := opRunFleetsyncd(t, opBootstrapEnv(), "--listen", "127.0.0.1:0", "--data-dir", t.TempDir(),
		"--database", reps[0].Database, "--region", testenv.Region)
	if exit == 0 || !strings.Contains(stderr, "master.key") {
		t.Errorf("a replica with another master key: exit %d, stderr %q; want a failure naming master.key", exit, stderr)
	}
	if strings.Contains(stderr, "postgres:postgres@") {
		t.Errorf("stderr shows the database password: %q", stderr)
	}
}

// TestReplicaLivenessIsShared: robots that keep polling, each on its own
// replica, stay Deploying for many agent-silence windows while one replica
// drives the job: the driver hears, through the database, of agents that
// talk only to the other replica.
func TestReplicaLivenessIsShared(t *testing.T) {
	t.Parallel()
	reps := startReplicas(t, 2)
	r := newReplicaRollout(t, reps, 4)
	for _, sr := range r.robots {
		sr.SetBehavior(sim.Behavior{Hang: true}) // polls, never reports
	}
	job := r.create(jobConfig{concurrent: 100})
	silence := 3*200*time.Millisecond + time.Second // engineArgs: 3 poll intervals + the long-poll cap
	deadline := time.Now().Add(time.Minute)
	for {
		d, err := r.c.DescribeDeploymentJob(&robomaker.DescribeDeploymentJobInput{Job: aws.String(job)})
		must(t, err)
		deploying := 0
		for _, rd := range d.RobotDeploymentSummary {
			if aws.StringValue(rd.Status) == "Deploying" {
				deploying++
			}
		}
		if deploying == 4 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("robots never all Deploying: %v", d)
		}
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(4 * silence) // the planner looks every engine tick
	d, err := r.c.DescribeDeploymentJob(&robomaker.DescribeDeploymentJobInput{Job: aws.String(job)})
	must(t, err)
	for _, rd := range d.RobotDeploymentSummary {
		if got := aws.StringValue(rd.Status); got != "Deploying" {
			t.Errorf("robot %s = %s (%s) after %v of polling without reporting, want Deploying", aws.StringValue(rd.Arn), got,
				aws.StringValue(rd.FailureReason), 4*silence)
		}
	}
	for _, sr := range r.robots {
		sr.SetBehavior(sim.Behavior{})
	}
	if d, _ := r.wait(job, time.Minute); aws.StringValue(d.Status) != "Succeeded" {
		t.Errorf("job = %v", d)
	}
}

// TestReplicaDeletedRobotRefused: a robot's agent talks to replica B,
// which remembers the robot's identity; the robot is deleted through
// replica A. Replica B refuses the agent's next request: the deletion
// reaches it over the bus (within a second or two, not the identity
// cache's TTL).
func TestReplicaDeletedRobotRefused(t *testing.T) {
	reps := startReplicas(t, 2)
	c := quiet(reps[0].Client())
	_, key, err := ed25519.GenerateKey(rand.Reader)
	must(t, err)
	agent := &client.Client{Server: reps[1].URL, Key: key, Account: testenv.Account}
	out, err := c.CreateRobot(&robomaker.CreateRobotInput{Name: aws.String(uniq("gone")), Architecture: aws.String("X86_64"),
		GreengrassGroupId: aws.String(agent.AgentID())})
	must(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for range 2 {
		_, err := agent.Poll(ctx, proto.PollRequest{})
		must(t, err)
	}
	_, err = c.DeleteRobot(&robomaker.DeleteRobotInput{Robot: out.Arn})
	must(t, err)
	deleted := time.Now()
	for {
		_, err := agent.Poll(ctx, proto.PollRequest{})
		if isUnauthorized(err) {
			t.Logf("replica B refused the deleted robot %v after the delete", time.Since(deleted).Round(time.Millisecond))
			return
		}
		must(t, err)
		if time.Since(deleted) > deploy.IdentityTTL/2 {
			t.Fatalf("replica B still serves the deleted robot %v after the delete: the bus did not tell it", time.Since(deleted))
		}
		time.Sleep(50 * time.Millisecond)
	}
}
