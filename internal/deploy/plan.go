// Package deploy is the deployment engine: the pure planner that decides
// what a running job does next, the engine loop that carries those decisions
// out through the store, and the job service behind CreateDeploymentJob,
// SyncDeploymentJob, DescribeDeploymentJob, ListDeploymentJobs and
// CancelDeploymentJob.
package deploy

import (
	"github.com/fleetsync/fleetsync/internal/fleet"
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
	// Failed counts rows already Failed or NoResponse.
	Failed int
	// Deploying are the rows now Deploying.
	Deploying []Deploying
	// Pending are the first PendingNewDeployment rows in start order; at
	// least Window() of them when that many exist.
	Pending []string
	// PendingTotal counts every PendingNewDeployment row.
	PendingTotal int
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
	if lim.FleetTimeoutMs > 0 && nowMs-o.CreatedMs >= lim.FleetTimeoutMs {
		for _, d := range o.Deploying {
			p.NoResponse = append(p.NoResponse, Timeout{d.Robot, fleet.CauseFleetTimeout, reasonFleetTimeout})
		}
		p.Finish = &Finish{fleet.JobFailed, CodeFleetTimeout, reasonFleetTimeout}
		return p
	}
	stillDeploying := 0
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
	if !breached {
		free := Window(o.Targets, o.ConcurrentPercent) - stillDeploying
		for i := 0; i < free && i < len(o.Pending); i++ {
			p.Start = append(p.Start, o.Pending[i])
		}
	}
	if stillDeploying == 0 && len(p.Start) == 0 && (breached || o.PendingTotal == 0) {
		if breached {
			reason := reasonThresholdBreach
			if o.PendingTotal == 0 {
				reason = reasonThresholdAllStarted
			}
			p.Finish = &Finish{fleet.JobFailed, CodeThresholdBreached, reason}
		} else {
			p.Finish = &Finish{Status: fleet.JobSucceeded}
		}
	}
	return p
}
