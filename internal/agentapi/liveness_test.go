package agentapi_test

import (
	"crypto/ed25519"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fleetsync/fleetsync/internal/agent/client"
	"github.com/fleetsync/fleetsync/internal/agentapi"
	"github.com/fleetsync/fleetsync/internal/deploy"
	"github.com/fleetsync/fleetsync/internal/fleet"
	"github.com/fleetsync/fleetsync/internal/proto"
)

// clockedEndpoint is newEndpoint with the agent endpoint, the robots and
// the engine on a clock the test moves (milliseconds since the epoch,
// starting now); now reads it.
func clockedEndpoint(t *testing.T) (e *endpoint, clock *atomic.Int64, now func() time.Time) {
	clock = new(atomic.Int64)
	clock.Store(time.Now().UnixMilli())
	now = func() time.Time { return time.UnixMilli(clock.Load()) }
	e = newEndpoint(t, func(c *agentapi.Config) { c.Now, c.Robots.Now = now, now })
	e.engine.Now = now
	return e, clock, now
}

// TestWaitingForASlotIsNotSilence: a deploying robot whose report waits
// for a work slot of a saturated server for longer than the agent silence
// limit is not failed as NoResponse (the wait is the server's, not the
// agent's), while a robot that sends nothing for as long is.
func TestWaitingForASlotIsNotSilence(t *testing.T) {
	const silenceMs = 60_000
	e, clock, now := clockedEndpoint(t)
	e.engine.Limits.AgentSilenceMs = silenceMs
	ctx := t.Context()

	f, err := e.reg.CreateFleet(ctx, acct, "f", nil)
	must(t, err)
	waiter, silent := newAgent(t), newAgent(t)
	arns := map[string]string{}
	for name, priv := range map[string]ed25519.PrivateKey{"waiter": waiter, "silent": silent} {
		r, err := e.reg.CreateRobot(ctx, acct, name, fleet.X86_64, agentID(priv), nil)
		must(t, err)
		must(t, e.reg.RegisterRobot(ctx, acct, f.ARN, r.ARN))
		arns[name] = r.ARN
	}
	all := 100
	j := e.deployWith(f.ARN, &deploy.ConfigInput{ConcurrentPercent: &all, FailureThresholdPercent: &all})
	agents := map[string]*client.Client{}
	for name, priv := range map[string]ed25519.PrivateKey{"waiter": waiter, "silent": silent} {
		c := &client.Client{Server: e.srv.URL, Key: priv, Account: acct, Now: now}
		resp, err := c.Poll(ctx, proto.PollRequest{})
		if err != nil || resp.Assignment == nil || resp.Assignment.DeploymentJob != j.ARN {
			t.Fatalf("%s's poll: %+v, %v; want the job's assignment", name, resp, err)
		}
		agents[name] = c
	}

	release := agentapi.HoldSlots(e.api)
	reported := make(chan error, 1)
	go func() {
		_, err := agents["waiter"].Report(ctx, proto.Report{DeploymentJob: j.ARN, Step: proto.StepValidating})
		reported <- err
	}()
	// The report authenticates with its session credential and waits.
	deadline := time.Now().Add(10 * time.Second)
	for e.presence.Last(arns["waiter"], clock.Load()+1) != clock.Load()+1 {
		if time.Now().After(deadline) {
			t.Fatal("the waiting report's robot is not counted as heard")
		}
		time.Sleep(time.Millisecond)
	}
	clock.Add(silenceMs + 1000)
	e.engine.RunOnce(ctx)

	status := func() map[string]fleet.RobotStatus {
		_, rows, _, err := e.jobs.Describe(ctx, acct, j.ARN, 0)
		must(t, err)
		got := map[string]fleet.RobotStatus{}
		for _, r := range rows {
			got[r.Robot] = r.Status
		}
		return got
	}
	got := status()
	if got[arns["waiter"]] != fleet.RobotDeploying || got[arns["silent"]] != fleet.RobotNoResponse {
		t.Fatalf("after %d ms: waiter %s, silent %s; want Deploying (its report waits for a slot) and NoResponse",
			silenceMs+1000, got[arns["waiter"]], got[arns["silent"]])
	}
	servedMs := clock.Load()
	release()
	if err := <-reported; err != nil {
		t.Fatalf("the report that waited: %v", err)
	}
	// Once served the wait is over: silence counts again from its end. The
	// engine reads the rows that could time out at most once a second, so
	// the timeout is seen within a second of it.
	for _, c := range []struct {
		after int64
		want  fleet.RobotStatus
	}{
		{silenceMs - 500, fleet.RobotDeploying},  // read: not yet silent
		{silenceMs + 100, fleet.RobotDeploying},  // silent, but read 0.6 s ago
		{silenceMs + 600, fleet.RobotNoResponse}, // read again
	} {
		clock.Store(servedMs + c.after)
		e.engine.RunOnce(ctx)
		if got := status(); got[arns["waiter"]] != c.want {
			t.Fatalf("%d ms after its report was served: waiter %s, want %s", c.after, got[arns["waiter"]], c.want)
		}
	}
}

// TestFleetTimeoutEndsDeployingRowsAtOnce: the fleet timeout ends the job
// and fails its deploying rows in the same pass, even when the engine read
// the rows that could time out less than a second before (its once-a-second
// read is for the robots' own timeouts, not the job's).
func TestFleetTimeoutEndsDeployingRowsAtOnce(t *testing.T) {
	const fleetTimeoutMs = 5_000
	e, clock, now := clockedEndpoint(t)
	e.jobs.Now, e.engine.Limits.FleetTimeoutMs = now, fleetTimeoutMs
	ctx := t.Context()
	priv := newAgent(t)
	f, _ := e.registeredRobot(priv)
	created := clock.Load()
	j := e.deployTo(f.ARN)
	c := &client.Client{Server: e.srv.URL, Key: priv, Account: acct, Now: now}
	if resp, err := c.Poll(ctx, proto.PollRequest{}); err != nil || resp.Assignment == nil {
		t.Fatalf("poll: %+v, %v; want the job's assignment", resp, err)
	}
	clock.Store(created + fleetTimeoutMs - 500)
	e.engine.RunOnce(ctx) // reads the deploying row: nothing times out yet
	clock.Store(created + fleetTimeoutMs + 100)
	e.engine.RunOnce(ctx)
	job, rows, _, err := e.jobs.Describe(ctx, acct, j.ARN, 0)
	must(t, err)
	if job.Status != fleet.JobFailed || len(rows) != 1 || rows[0].Status != fleet.RobotNoResponse {
		t.Fatalf("after the fleet timeout: job %s, rows %+v; want Failed with its row NoResponse", job.Status, rows)
	}
}
