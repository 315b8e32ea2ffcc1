package deploy

import (
	"fmt"
	"math"
	"reflect"
	"testing"

	"github.com/fleetsync/fleetsync/internal/fleet"
	"github.com/fleetsync/fleetsync/internal/store"
)

func TestWindow(t *testing.T) {
	for _, c := range []struct{ n, pct, want int }{
		{10, 20, 2}, {10, 25, 3}, {1, 1, 1}, {3, 1, 1}, {0, 20, 1}, {200, 100, 200}, {10000, 100, 10000}, {7, 50, 4},
	} {
		if got := Window(c.n, c.pct); got != c.want {
			t.Errorf("Window(%d, %d) = %d, want %d", c.n, c.pct, got, c.want)
		}
	}
}

func names(prefix string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s%d", prefix, i)
	}
	return out
}

func TestDecide(t *testing.T) {
	const now = 1_000_000
	lim := Limits{FleetTimeoutMs: 30 * 24 * 3600 * 1000, AgentSilenceMs: 30_000}
	base := Observed{Targets: 10, ConcurrentPercent: 20, FailureThresholdPercent: 25, RobotTimeoutMs: 60_000, CreatedMs: now - 1000}
	with := func(f func(*Observed)) Observed { o := base; f(&o); return o }
	for _, c := range []struct {
		name string
		obs  Observed
		want Plan
	}{
		{"fills the window", with(func(o *Observed) { o.Pending, o.PendingTotal = names("r", 10), 10 }),
			Plan{Start: []string{"r0", "r1"}}},
		{"slides: one slot free", with(func(o *Observed) {
			o.Deploying = []Deploying{{"d0", now - 10, now}}
			o.Pending, o.PendingTotal = names("r", 8), 8
		}), Plan{Start: []string{"r0"}}},
		{"rows too young to time out are counted, not read: window full", with(func(o *Observed) {
			o.DeployingTotal = 2
			o.Pending, o.PendingTotal = names("r", 8), 8
		}), Plan{}},
		{"a timed-out row read beside one counted", with(func(o *Observed) {
			o.DeployingTotal = 2
			o.Deploying = []Deploying{{"d0", now - 60_000, now}}
			o.Pending, o.PendingTotal = names("r", 8), 8
		}), Plan{NoResponse: []Timeout{{"d0", fleet.CauseRobotTimeout, reasonNoResponse}}, Start: []string{"r0"}}},
		{"a counted row keeps the job from finishing", with(func(o *Observed) {
			o.DeployingTotal = 1
		}), Plan{}},
		{"the node's spare capacity bounds the starts", with(func(o *Observed) {
			o.ConcurrentPercent = 100
			o.Pending, o.PendingTotal = names("r", 10), 10
			o.MaxStarts = 3
		}), Plan{Start: []string{"r0", "r1", "r2"}}},
		{"the window bounds starts below the node's capacity", with(func(o *Observed) {
			o.Pending, o.PendingTotal = names("r", 10), 10
			o.MaxStarts = 5
		}), Plan{Start: []string{"r0", "r1"}}},
		{"a job held back by capacity does not finish", with(func(o *Observed) {
			o.ConcurrentPercent = 100
			o.Pending, o.PendingTotal = names("r", 2), 2
			o.MaxStarts = 1
			o.Failed = 8
			o.FailureThresholdPercent = 100
		}), Plan{Start: []string{"r0"}}},
		{"window full waits", with(func(o *Observed) {
			o.Deploying = []Deploying{{"d0", now - 10, now}, {"d1", now - 10, now}}
			o.Pending, o.PendingTotal = names("r", 8), 8
		}), Plan{}},
		{"robot timeout", with(func(o *Observed) {
			o.Deploying = []Deploying{{"d0", now - 60_000, now}, {"d1", now - 10, now}}
			o.Pending, o.PendingTotal = names("r", 8), 8
		}), Plan{NoResponse: []Timeout{{"d0", fleet.CauseRobotTimeout, reasonNoResponse}}, Start: []string{"r0"}}},
		{"silent agent", with(func(o *Observed) {
			o.Deploying = []Deploying{{"d0", now - 40_000, now - 30_000}}
		}), Plan{NoResponse: []Timeout{{"d0", fleet.CauseAgentSilent, reasonAgentSilent}}, Finish: &Finish{Status: fleet.JobSucceeded}}},
		{"threshold stops starts, deploying finish", with(func(o *Observed) {
			o.Failed = 3
			o.Deploying = []Deploying{{"d0", now - 10, now}}
			o.Pending, o.PendingTotal = names("r", 5), 5
		}), Plan{}},
		{"threshold ends the job", with(func(o *Observed) {
			o.Failed = 3
			o.Pending, o.PendingTotal = names("r", 5), 5
		}), Plan{Finish: &Finish{fleet.JobFailed, CodeThresholdBreached, reasonThresholdBreach}}},
		{"threshold reached after every robot started", with(func(o *Observed) { o.Failed = 3 }),
			Plan{Finish: &Finish{fleet.JobFailed, CodeThresholdBreached, reasonThresholdAllStarted}}},
		{"below threshold succeeds with failures", with(func(o *Observed) { o.Failed = 2 }),
			Plan{Finish: &Finish{Status: fleet.JobSucceeded}}},
		{"fleet timeout", with(func(o *Observed) {
			o.CreatedMs = now - lim.FleetTimeoutMs
			o.Deploying = []Deploying{{"d0", now - 10, now}}
			o.Pending, o.PendingTotal = names("r", 5), 5
		}), Plan{NoResponse: []Timeout{{"d0", fleet.CauseFleetTimeout, reasonFleetTimeout}}, Finish: &Finish{fleet.JobFailed, CodeFleetTimeout, reasonFleetTimeout}}},
		{"timeout that breaches stops the rest", with(func(o *Observed) {
			o.Failed = 2
			o.Deploying = []Deploying{{"d0", now - 60_000, now}}
			o.Pending, o.PendingTotal = names("r", 5), 5
		}), Plan{NoResponse: []Timeout{{"d0", fleet.CauseRobotTimeout, reasonNoResponse}}, Finish: &Finish{fleet.JobFailed, CodeThresholdBreached, reasonThresholdBreach}}},
		{"paused starts nobody", with(func(o *Observed) {
			o.PausedMs = now - 10
			o.Pending, o.PendingTotal = names("r", 10), 10
		}), Plan{}},
		{"paused: deploying robots go on and still time out", with(func(o *Observed) {
			o.PausedMs = now - 10
			o.Deploying = []Deploying{{"d0", now - 60_000, now}, {"d1", now - 10, now}}
			o.Pending, o.PendingTotal = names("r", 8), 8
		}), Plan{NoResponse: []Timeout{{"d0", fleet.CauseRobotTimeout, reasonNoResponse}}}},
		{"paused with robots waiting does not end", with(func(o *Observed) {
			o.PausedMs = now - 10
			o.Pending, o.PendingTotal = names("r", 3), 3
		}), Plan{}},
		{"paused with nobody waiting succeeds", with(func(o *Observed) { o.PausedMs = now - 10 }),
			Plan{Finish: &Finish{Status: fleet.JobSucceeded}}},
		{"paused and breached ends once robots finished", with(func(o *Observed) {
			o.PausedMs = now - 10
			o.Failed = 3
			o.Pending, o.PendingTotal = names("r", 5), 5
		}), Plan{Finish: &Finish{fleet.JobFailed, CodeThresholdBreached, reasonThresholdBreach}}},
		{"the current pause does not count against the fleet timeout", with(func(o *Observed) {
			o.CreatedMs = now - lim.FleetTimeoutMs - 5000
			o.PausedMs = now - 6000
			o.Pending, o.PendingTotal = names("r", 5), 5
		}), Plan{}},
		{"earlier pauses do not count against the fleet timeout", with(func(o *Observed) {
			o.CreatedMs = now - lim.FleetTimeoutMs - 5000
			o.PausedTotalMs = 6000
			o.Pending, o.PendingTotal = names("r", 5), 5
		}), Plan{Start: []string{"r0", "r1"}}},
		{"running time beyond the fleet timeout ends it despite pauses", with(func(o *Observed) {
			o.CreatedMs = now - lim.FleetTimeoutMs - 5000
			o.PausedTotalMs = 4000
			o.PausedMs = now - 1000
		}), Plan{Finish: &Finish{fleet.JobFailed, CodeFleetTimeout, reasonFleetTimeout}}},
		{"canary of 1 starts one robot only", with(func(o *Observed) {
			o.Canary, o.CanaryPending = 1, 1
			o.Pending, o.PendingTotal = names("r", 10), 10
		}), Plan{Start: []string{"r0"}}},
		{"canary wider than the window fills the window", with(func(o *Observed) {
			o.Canary, o.CanaryPending = 5, 5
			o.Pending, o.PendingTotal = names("r", 10), 10
		}), Plan{Start: []string{"r0", "r1"}}},
		{"canary running: nobody else starts", with(func(o *Observed) {
			o.Canary = 1
			o.Deploying = []Deploying{{"r0", now - 10, now}}
			o.Pending, o.PendingTotal = names("r", 9)[1:], 9
		}), Plan{}},
		{"canary part done: the rest of the canary starts, nobody else", with(func(o *Observed) {
			o.Canary, o.CanaryInSync, o.CanaryPending = 3, 1, 1
			o.Deploying = []Deploying{{"c1", now - 10, now}}
			o.Pending, o.PendingTotal = []string{"c2", "r3"}, 8
		}), Plan{Start: []string{"c2"}}},
		{"canary passed opens the window", with(func(o *Observed) {
			o.Canary, o.CanaryInSync = 1, 1
			o.Pending, o.PendingTotal = names("r", 9), 9
		}), Plan{Start: []string{"r0", "r1"}}},
		{"canary failed stops the job before anyone else starts", with(func(o *Observed) {
			o.FailureThresholdPercent = 100
			o.Canary, o.CanaryFailed, o.Failed = 1, 1, 1
			o.Pending, o.PendingTotal = names("r", 9), 9
		}), Plan{Finish: &Finish{fleet.JobFailed, CodeThresholdBreached, reasonCanaryFailed}}},
		{"canary failed: other canaries deploying finish first", with(func(o *Observed) {
			o.FailureThresholdPercent = 100
			o.Canary, o.CanaryFailed, o.Failed = 2, 1, 1
			o.Deploying = []Deploying{{"c1", now - 10, now}}
			o.Pending, o.PendingTotal = names("r", 8), 8
		}), Plan{}},
		{"canary timing out fails the canary", with(func(o *Observed) {
			o.FailureThresholdPercent = 100
			o.Canary = 1
			o.Deploying = []Deploying{{"c0", now - 60_000, now}}
			o.Pending, o.PendingTotal = names("r", 9), 9
		}), Plan{NoResponse: []Timeout{{"c0", fleet.CauseRobotTimeout, reasonNoResponse}}, Finish: &Finish{fleet.JobFailed, CodeThresholdBreached, reasonCanaryFailed}}},
		{"canary of every target ends like any job", with(func(o *Observed) {
			o.Targets, o.FailureThresholdPercent = 2, 100
			o.Canary, o.CanaryInSync, o.CanaryFailed, o.Failed = 5, 1, 1, 1
		}), Plan{Finish: &Finish{Status: fleet.JobSucceeded}}},
		{"paused canary starts nobody", with(func(o *Observed) {
			o.PausedMs = now - 5
			o.Canary, o.CanaryPending = 1, 1
			o.Pending, o.PendingTotal = names("r", 10), 10
		}), Plan{}},
		{"resumed fills the window again", with(func(o *Observed) {
			o.PausedTotalMs = 500
			o.Pending, o.PendingTotal = names("r", 10), 10
		}), Plan{Start: []string{"r0", "r1"}}},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := Decide(c.obs, lim, now); !reflect.DeepEqual(got, c.want) {
				t.Errorf("Decide = %+v, want %+v", got, c.want)
			}
		})
	}
}

// TestDecideNeverExceedsWindow drives a simulated rollout with the planner
// alone and checks the window and the exactly-once start of every robot.
func TestDecideNeverExceedsWindow(t *testing.T) {
	for _, n := range []int{1, 7, 50, 333} {
		for _, c := range []struct{ pct, maxStarts int }{{1, 0}, {20, 0}, {33, 0}, {100, 0}, {100, 1}, {100, 7}, {33, 4}} {
			pct := c.pct
			pending := names("r", n)
			deploying := map[string]int64{}
			started := map[string]int{}
			now := int64(0)
			for step := 0; ; step++ {
				now += 1000
				var o = Observed{Targets: n, ConcurrentPercent: pct, FailureThresholdPercent: 100, RobotTimeoutMs: 1 << 40, MaxStarts: c.maxStarts}
				for r, s := range deploying {
					o.Deploying = append(o.Deploying, Deploying{r, s, now})
				}
				o.Pending, o.PendingTotal = pending, len(pending)
				p := Decide(o, Limits{}, now)
				if p.Finish != nil {
					break
				}
				for _, r := range p.Start {
					started[r]++
					deploying[r] = now
				}
				pending = pending[len(p.Start):]
				if c.maxStarts > 0 && len(p.Start) > c.maxStarts {
					t.Fatalf("n=%d pct=%d: %d started in one pass, at most %d", n, pct, len(p.Start), c.maxStarts)
				}
				if len(deploying) > Window(n, pct) {
					t.Fatalf("n=%d pct=%d: %d deploying, window %d", n, pct, len(deploying), Window(n, pct))
				}
				// Finish the oldest deploying robot each step.
				for r := range deploying {
					delete(deploying, r)
					break
				}
				if step > 10*n+10 {
					t.Fatalf("n=%d pct=%d: no finish after %d steps", n, pct, step)
				}
			}
			if len(started) != n {
				t.Errorf("n=%d pct=%d: %d robots started, want %d", n, pct, len(started), n)
			}
			for r, k := range started {
				if k != 1 {
					t.Errorf("robot %s started %d times", r, k)
				}
			}
		}
	}
}

// TestDecidePrepared is the planner's verdict on a job whose rows are about
// to be written (Engine.prepare): the store writes whatever it decides,
// including the cases that end a job before any robot starts.
func TestDecidePrepared(t *testing.T) {
	const now = 1_000_000
	lim := Limits{FleetTimeoutMs: 30 * 24 * 3600 * 1000, AgentSilenceMs: 30_000}
	job := func(threshold int) fleet.Job {
		return fleet.Job{ARN: "j", CreatedMs: now - 1000, Spec: fleet.JobSpec{Config: fleet.DeploymentConfig{
			ConcurrentPercent: 50, FailureThresholdPercent: threshold, RobotTimeoutSeconds: 60}}}
	}
	rows := func(statuses ...fleet.RobotStatus) []fleet.RobotDeployment {
		out := make([]fleet.RobotDeployment, len(statuses))
		for i, s := range statuses {
			out[i] = fleet.RobotDeployment{Job: "j", Robot: fmt.Sprintf("r%d", i), Seq: i, Status: s}
		}
		return out
	}
	const (
		pending = fleet.RobotPendingNewDeployment
		failed  = fleet.RobotFailed
	)
	breached := &Finish{fleet.JobFailed, CodeThresholdBreached, reasonThresholdBreach}
	allFailed := &Finish{fleet.JobFailed, CodeThresholdBreached, reasonThresholdAllStarted} // none left unstarted
	for _, c := range []struct {
		name string
		job  fleet.Job
		rows []fleet.RobotDeployment
		want *Finish
	}{
		{"no targets succeeds at once", job(25), nil, &Finish{Status: fleet.JobSucceeded}},
		{"every target failed (100 %) breaches any threshold", job(100), rows(failed, failed, failed), allFailed},
		{"one of one failed", job(1), rows(failed), allFailed},
		{"failed share reaches the threshold", job(50), rows(failed, pending), breached},
		{"failed share under the threshold runs", job(50), rows(failed, pending, pending), nil},
		{"all runnable runs", job(25), rows(pending, pending, pending, pending), nil},
		{"fleet timeout already passed", fleet.Job{ARN: "j", CreatedMs: now - lim.FleetTimeoutMs, Spec: job(25).Spec}, rows(pending),
			&Finish{fleet.JobFailed, CodeFleetTimeout, reasonFleetTimeout}},
		{"a canary failed at preparation stops the job", canaryJob(job(100), "1"), rows(failed, pending, pending),
			&Finish{fleet.JobFailed, CodeThresholdBreached, reasonCanaryFailed}},
		{"a failure after the canary does not", canaryJob(job(100), "1"), rows(pending, failed, pending), nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			o := ObservePrepared(c.job, c.rows)
			if o.Targets != len(c.rows) {
				t.Fatalf("Targets = %d, want %d", o.Targets, len(c.rows))
			}
			got := Decide(o, lim, now).Finish
			if !reflect.DeepEqual(got, c.want) {
				t.Fatalf("Decide(ObservePrepared(...)).Finish = %+v, want %+v", got, c.want)
			}
		})
	}
	if o := ObservePrepared(canaryJob(job(100), "2"), rows(pending, failed, pending)); o.Canary != 2 || o.CanaryPending != 1 || o.CanaryFailed != 1 {
		t.Fatalf("ObservePrepared with a canary of 2 = %+v", o)
	}
	// The pending robots the planner sees are the first of the window, in order.
	o := ObservePrepared(job(25), rows(failed, pending, pending, pending, pending))
	if want := []string{"r1", "r2", "r3"}; !reflect.DeepEqual(o.Pending, want) || o.PendingTotal != 4 || o.Failed != 1 {
		t.Fatalf("ObservePrepared = %+v, want Pending %v, PendingTotal 4, Failed 1", o, want)
	}
}

func canaryJob(j fleet.Job, n string) fleet.Job {
	j.Tags = fleet.Tags{fleet.TagCanary: n}
	return j
}

func TestLivenessCutoff(t *testing.T) {
	const now = 10_000_000
	const none = math.MinInt64
	lim := Limits{FleetTimeoutMs: 1_000_000, AgentSilenceMs: 60_000}
	for _, c := range []struct {
		name string
		o    Observed
		lim  Limits
		want store.DeployingCut
	}{
		{"silence sooner than the robot timeout", Observed{RobotTimeoutMs: 300_000, CreatedMs: now - 1000}, lim, store.DeployingCut{StartedBefore: now - 300_000, SilentBefore: now - 60_000}},
		{"robot timeout sooner", Observed{RobotTimeoutMs: 30_000, CreatedMs: now - 1000}, lim, store.DeployingCut{StartedBefore: now - 30_000, SilentBefore: now - 60_000}},
		{"no robot timeout", Observed{CreatedMs: now - 1000}, lim, store.DeployingCut{StartedBefore: none, SilentBefore: now - 60_000}},
		{"nothing times out", Observed{CreatedMs: now - 1000}, Limits{}, store.DeployingCut{StartedBefore: none, SilentBefore: none}},
		{"the fleet timeout ends every row", Observed{RobotTimeoutMs: 300_000, CreatedMs: now - 1_000_000}, lim, store.DeployingCut{StartedBefore: math.MaxInt64, SilentBefore: math.MaxInt64}},
		{"pauses do not count toward the fleet timeout", Observed{RobotTimeoutMs: 300_000, CreatedMs: now - 1_000_000, PausedTotalMs: 10}, lim, store.DeployingCut{StartedBefore: now - 300_000, SilentBefore: now - 60_000}},
	} {
		if got := LivenessCutoff(c.o, c.lim, now); got != c.want {
			t.Errorf("%s: LivenessCutoff = %+v, want %+v", c.name, got, c.want)
		}
	}
	// The cut never leaves out a row Decide would time out (selected as the
	// store selects: started at or before StartedBefore, or started and
	// heard at or before SilentBefore).
	selected := func(cut store.DeployingCut, d Deploying) bool {
		return d.StartedMs <= cut.StartedBefore || max(d.StartedMs, d.AgentSeenMs) <= cut.SilentBefore
	}
	for started := int64(now - 400_000); started <= now; started += 5_000 {
		for seen := started - 10_000; seen <= now; seen += 15_000 {
			for _, o := range []Observed{{RobotTimeoutMs: 300_000, CreatedMs: now - 1000}, {RobotTimeoutMs: 30_000, CreatedMs: now - 1000}, {CreatedMs: now - 1000}} {
				d := Deploying{"d", started, seen}
				o.Deploying = []Deploying{d}
				cut := LivenessCutoff(o, lim, now)
				if len(Decide(o, lim, now).NoResponse) > 0 && !selected(cut, d) {
					t.Fatalf("a row started at %d, heard at %d, times out but the cut %+v leaves it out", started, seen, cut)
				}
			}
		}
	}
}
