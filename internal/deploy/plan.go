// Package deploy is the deployment engine: the pure planner that decides
// what a running job does next, the engine loop that carries those decisions
// out through the store, and the job service behind CreateDeploymentJob,
// SyncDeploymentJob, DescribeDeploymentJob, ListDeploymentJobs and
// CancelDeploymentJob.
package deploy

import (
	"math"

	"github.com/fleetsync/fleetsync/internal/fleet"
	"github.com/fleetsync/fleetsync/internal/store"
)

// Job-level failure codes the engine sets, and the robot-level ones, which
// come from the one cause table (fleet.Outcomes).
const (
	CodeThresholdBreached = "FailureThresholdBreached"
	CodeFleetTimeout      = fleet.CodeFleetTimeout
	CodeRobotNoResponse   = fleet.CodeRobotNoResponse
	CodeRobotAborted      = fleet.CodeRobotAborted
	CodeMissingArch       = fleet.CodeMissingArch
	CodeEtagMismatch      = fleet.CodeEtagMismatch
	CodeAppDoesNotExist   = "RobotApplicationDoesNotExist"
	CodeFleetDoesNotExist = "DeploymentFleetDoesNotExist"
	CodeResourceNotFound  = fleet.CodeResourceNotFound
	CodeInternalServerErr = fleet.CodeInternalServerError
	reasonNoResponse      = "There is no response from the robot within the robot deployment timeout."
	reasonAgentSilent     = "The robot's agent stopped polling."
	reasonFleetTimeout    = "The deployment job exceeded the fleet deployment timeout."
	reasonThresholdBreach = "The failure threshold was reached; robots not yet started were left as they were."
	// reasonThresholdAllStarted is the breach once no robot was waiting to
	// start (every one had started, or failed while the job was prepared):
	// then no robot was left out, and saying so would mislead.
	reasonThresholdAllStarted = "The failure threshold was reached after every target robot had started or failed."
	reasonRobotAbortedText    = "The deployment job was canceled while the robot was deploying."
	reasonCanaryFailed        = "A canary robot failed; robots not yet started were left as they were."
)

// Observed is what the planner knows of one InProgress job at an instant.
type Observed struct {
	// Targets is N, the number of robots the job deploys to.
	Targets int
	// ConcurrentPercent, FailureThresholdPercent and RobotTimeoutMs are the
	// job's effective deployment config.
	ConcurrentPercent       int
	FailureThresholdPercent int
	RobotTimeoutMs          int64
	// CreatedMs is when the job was created (for the fleet timeout).
	CreatedMs int64
	// PausedMs is when an operator paused the job, 0 while it runs: a
	// paused job starts no robot (those deploying go on) and does not end
	// while robots wait to start.
	PausedMs int64
	// PausedTotalMs is the length of the job's earlier pauses; no pause
	// counts against the fleet timeout.
	PausedTotalMs int64
	// Canary is the job's canary size (fleetsync:canary), 0 for none: the
	// first Canary rows in start order deploy first, and no other robot
	// starts until every one of them is InSync; one failing stops the job.
	Canary int
	// CanaryInSync and CanaryFailed count the canary rows InSync and
	// Failed or NoResponse.
	CanaryInSync, CanaryFailed int
	// CanaryPending counts the canary rows still PendingNewDeployment
	// (they come first in Pending).
	CanaryPending int
	// Failed counts rows already Failed or NoResponse.
	Failed int
	// Deploying are the rows now Deploying that could time out now (those
	// LivenessCutoff selects); DeployingTotal counts every
	// Deploying row (0: len(Deploying), all of them).
	Deploying      []Deploying
	DeployingTotal int
	// Pending are the first PendingNewDeployment rows in start order; at
	// least as many as the window and MaxStarts allow to start, when that
	// many exist.
	Pending []string
	// PendingTotal counts the PendingNewDeployment rows, or at least one
	// more than Pending holds when there are more: the planner only tells
	// none from some.
	PendingTotal int
	// MaxStarts bounds how many robots this pass starts (0: no bound; a
	// pass that may start none gives no Pending instead): the node's spare
	// capacity (Engine.AgentBacklog), so that a window of 100,000 robots
	// is opened as fast as their agents are served rather than in one
	// wave that queues their requests past their timeouts.
	MaxStarts int
}

// Deploying is a row in progress with what liveness needs.
type Deploying struct {
	Robot     string
	StartedMs int64
	// AgentSeenMs is the last time the robot's agent polled or reported.
	AgentSeenMs int64
}

// Limits are engine settings that are not part of a job.
type Limits struct {
	// FleetTimeoutMs ends a job that runs longer (SPEC: 30 days).
	FleetTimeoutMs int64
	// AgentSilenceMs makes a deploying robot NoResponse when its agent has
	// not been heard for that long (3 poll intervals).
	AgentSilenceMs int64
}

// Plan is what the engine must do next for a job. An empty plan means wait.
type Plan struct {
	// Start are robots to move PendingNewDeployment → Deploying.
	Start []string
	// NoResponse are deploying robots to fail as NoResponse, with reasons.
	NoResponse []Timeout
	// Finish, when set, ends the job.
	Finish *Finish
}

// Timeout is one robot that timed out, and why (a NoResponse cause of
// fleet.Outcomes, which gives its code).
type Timeout struct {
	Robot  string
	Cause  fleet.Cause
	Reason string
}

// Finish is the terminal outcome of a job.
type Finish struct {
	Status fleet.JobStatus
	Code   string
	Reason string
}

// Empty reports whether the plan changes nothing.
func (p Plan) Empty() bool { return len(p.Start) == 0 && len(p.NoResponse) == 0 && p.Finish == nil }

// Window is the sliding concurrency window: max(1, ceil(N × c / 100)).
func Window(n, concurrentPercent int) int {
	w := (n*concurrentPercent + 99) / 100
	return max(w, 1)
}

// Breached reports whether failed of n reaches the threshold percentage.
func Breached(failed, n, thresholdPercent int) bool {
	return n > 0 && failed*100 >= thresholdPercent*n
}

// Decide plans the next step of an InProgress job. It is pure: the same
// observation and clock give the same plan.
func Decide(o Observed, lim Limits, nowMs int64) Plan {
	var p Plan
	if fleetTimedOut(o, lim, nowMs) {
		for _, d := range o.Deploying {
			p.NoResponse = append(p.NoResponse, Timeout{d.Robot, fleet.CauseFleetTimeout, reasonFleetTimeout})
		}
		p.Finish = &Finish{fleet.JobFailed, CodeFleetTimeout, reasonFleetTimeout}
		return p
	}
	stillDeploying := max(o.DeployingTotal, len(o.Deploying)) - len(o.Deploying)
	for _, d := range o.Deploying {
		switch {
		case o.RobotTimeoutMs > 0 && nowMs-d.StartedMs >= o.RobotTimeoutMs:
			p.NoResponse = append(p.NoResponse, Timeout{d.Robot, fleet.CauseRobotTimeout, reasonNoResponse})
		case lim.AgentSilenceMs > 0 && nowMs-max(d.AgentSeenMs, d.StartedMs) >= lim.AgentSilenceMs:
			p.NoResponse = append(p.NoResponse, Timeout{d.Robot, fleet.CauseAgentSilent, reasonAgentSilent})
		default:
			stillDeploying++
		}
	}
	failed := o.Failed + len(p.NoResponse)
	breached := Breached(failed, o.Targets, o.FailureThresholdPercent)
	// While the canary runs only canaries deploy (the first rows in start
	// order), so a robot timing out now is one of them.
	canary := min(o.Canary, o.Targets)
	canaryRunning := canary > 0 && o.CanaryInSync < canary
	canaryFailed := canaryRunning && (o.CanaryFailed > 0 || len(p.NoResponse) > 0)
	if !breached && !canaryFailed && o.PausedMs == 0 {
		free := Window(o.Targets, o.ConcurrentPercent) - stillDeploying
		if canaryRunning {
			free = min(free, o.CanaryPending)
		}
		if o.MaxStarts > 0 {
			free = min(free, o.MaxStarts)
		}
		for i := 0; i < free && i < len(o.Pending); i++ {
			p.Start = append(p.Start, o.Pending[i])
		}
	}
	// A breached job (or one whose canary failed) ends once its robots
	// finish, paused or not (nothing would ever start again); a paused one
	// with robots waiting waits.
	if stillDeploying == 0 && len(p.Start) == 0 && (breached || canaryFailed || o.PendingTotal == 0) {
		switch {
		case canaryFailed && o.PendingTotal > 0:
			p.Finish = &Finish{fleet.JobFailed, CodeThresholdBreached, reasonCanaryFailed}
		case breached:
			reason := reasonThresholdBreach
			if o.PendingTotal == 0 {
				reason = reasonThresholdAllStarted
			}
			p.Finish = &Finish{fleet.JobFailed, CodeThresholdBreached, reason}
		default:
			p.Finish = &Finish{Status: fleet.JobSucceeded}
		}
	}
	return p
}

// fleetTimedOut reports whether the job has run (pauses aside) for the
// fleet timeout: it ends, with every row still deploying.
func fleetTimedOut(o Observed, lim Limits, nowMs int64) bool {
	running := fleet.Job{CreatedMs: o.CreatedMs, PausedMs: o.PausedMs, PausedTotalMs: o.PausedTotalMs}.RunningMs(nowMs)
	return lim.FleetTimeoutMs > 0 && running >= lim.FleetTimeoutMs
}

// LivenessCutoff selects the Deploying rows that could time out at nowMs:
// those started at least the robot timeout ago, those whose start and
// agent's last hearing are both at least the agent silence limit ago
// (silence counts from the later of the two), and every row once the
// fleet timeout ends the job. The engine reads only those
// (Observed.Deploying) and counts the rest: at 100,000 robots a rollout
// runs for minutes, and rereading every row still heard from at every
// pass cost more than the robots' own requests.
func LivenessCutoff(o Observed, lim Limits, nowMs int64) store.DeployingCut {
	if fleetTimedOut(o, lim, nowMs) {
		return store.DeployingCut{StartedBefore: math.MaxInt64, SilentBefore: math.MaxInt64}
	}
	cut := store.DeployingCut{StartedBefore: math.MinInt64, SilentBefore: math.MinInt64}
	if o.RobotTimeoutMs > 0 {
		cut.StartedBefore = nowMs - o.RobotTimeoutMs
	}
	if lim.AgentSilenceMs > 0 {
		cut.SilentBefore = nowMs - lim.AgentSilenceMs
	}
	return cut
}

// CanarySize is a job's canary (its fleetsync:canary tag), 0 for none.
func CanarySize(j fleet.Job) int {
	n, _ := fleet.ControlValue(j.Tags, fleet.TagCanary)
	return int(n)
}
