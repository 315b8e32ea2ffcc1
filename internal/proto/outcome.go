package proto

// The agent's copy of the domain's cause table (internal/fleet/outcome.go):
// the agent may not import the domain, so it has the vocabulary here, and
// internal/agentapi's tests check that both tables agree entry by entry.

// Cause is why a robot deployment ended without success.
type Cause string

// The causes the agent can meet, and the server-side ones for the
// agreement check.
const (
	CauseRobotTimeout      Cause = "robot-timeout"
	CauseAgentSilent       Cause = "agent-silent"
	CauseFleetTimeout      Cause = "fleet-timeout"
	CauseAborted           Cause = "aborted"
	CauseMissingArch       Cause = "missing-architecture"
	CauseEtagMismatch      Cause = "etag-mismatch"
	CauseObjectMissing     Cause = "object-missing"
	CauseInvalid           Cause = "invalid"
	CauseDownloadCondition Cause = "download-condition"
	CauseDownload          Cause = "download"
	CauseBadBundle         Cause = "bad-bundle"
	CausePreLaunch         Cause = "pre-launch"
	CauseLaunch            Cause = "launch"
	CausePostLaunch        Cause = "post-launch"
	CauseInternal          Cause = "internal"
)

// Robot statuses a failure ends in.
const (
	StatusFailed     = "Failed"
	StatusNoResponse = "NoResponse"
)

// FailureRobotNoResponse is the code of a deployment the agent's own
// deadline ended (the robot deployment timeout).
const FailureRobotNoResponse = "RobotDeploymentNoResponse"

// Outcome is how a robot deployment ends for a cause; Step "" is the step
// the deployment was in.
type Outcome struct {
	Status string
	Code   string
	Step   Step
}

// Outcomes is the cause table, as internal/fleet has it.
var Outcomes = map[Cause]Outcome{
	CauseRobotTimeout:      {StatusNoResponse, FailureRobotNoResponse, ""},
	CauseAgentSilent:       {StatusNoResponse, FailureRobotNoResponse, ""},
	CauseFleetTimeout:      {StatusNoResponse, "FleetDeploymentTimeout", ""},
	CauseAborted:           {StatusFailed, FailureAborted, ""},
	CauseMissingArch:       {StatusFailed, "MissingRobotApplicationArchitecture", StepValidating},
	CauseEtagMismatch:      {StatusFailed, FailureEtagMismatch, StepDownloadingExtracting},
	CauseObjectMissing:     {StatusFailed, FailureResourceNotFound, StepDownloadingExtracting},
	CauseInvalid:           {StatusFailed, FailureEnvironmentSetup, StepValidating},
	CauseDownloadCondition: {StatusFailed, FailureDownloadConditionFailed, StepExecutingDownloadCondition},
	CauseDownload:          {StatusFailed, FailureDownload, StepDownloadingExtracting},
	CauseBadBundle:         {StatusFailed, FailureExtractingBundle, StepDownloadingExtracting},
	CausePreLaunch:         {StatusFailed, FailurePreLaunchFile, StepExecutingPreLaunch},
	CauseLaunch:            {StatusFailed, FailureEnvironmentSetup, StepLaunching},
	CausePostLaunch:        {StatusFailed, FailurePostLaunchFile, StepExecutingPostLaunch},
	CauseInternal:          {StatusFailed, FailureInternal, ""},
}
