package fleet

// Every way a robot deployment can end without success, as data: the cause,
// and the (status, failure code, step) its row ends with. The server's
// engine and robot service take their codes from here; the agent, which
// must not import the domain, has the same table in internal/proto
// (internal/agentapi's tests check that the two agree, entry by entry).

// Cause is why a robot deployment ended without success.
type Cause string

// The causes (SPEC §5 and §6).
const (
	// CauseRobotTimeout: not finished robotDeploymentTimeoutInSeconds after it started.
	CauseRobotTimeout Cause = "robot-timeout"
	// CauseAgentSilent: the robot's agent stopped polling (3 poll intervals).
	CauseAgentSilent Cause = "agent-silent"
	// CauseFleetTimeout: the job ran past the fleet deployment timeout.
	CauseFleetTimeout Cause = "fleet-timeout"
	// CauseAborted: the job was canceled while the robot was deploying.
	CauseAborted Cause = "aborted"
	// CauseMissingArch: the version has no source for the robot's architecture.
	CauseMissingArch Cause = "missing-architecture"
	// CauseEtagMismatch: the bundle object is not the one the version recorded.
	CauseEtagMismatch Cause = "etag-mismatch"
	// CauseObjectMissing: the bundle object is gone from the bucket.
	CauseObjectMissing Cause = "object-missing"
	// CauseInvalid: the assignment cannot run on this robot (validation).
	CauseInvalid Cause = "invalid"
	// CauseDownloadCondition: the download condition file failed or exited non-zero.
	CauseDownloadCondition Cause = "download-condition"
	// CauseDownload: the bundle could not be downloaded.
	CauseDownload Cause = "download"
	// CauseBadBundle: the bundle could not be extracted (not an archive,
	// corrupt, hostile, too big).
	CauseBadBundle Cause = "bad-bundle"
	// CausePreLaunch: the pre-launch file failed.
	CausePreLaunch Cause = "pre-launch"
	// CauseLaunch: the application could not be launched or exited at once.
	CauseLaunch Cause = "launch"
	// CausePostLaunch: the post-launch file failed.
	CausePostLaunch Cause = "post-launch"
	// CauseInternal: anything else.
	CauseInternal Cause = "internal"
)

// Robot deployment failure codes (AWS DeploymentJobErrorCode values, plus
// DownloadingBundleFailure, which AWS lacks; docs/agent-protocol.md).
const (
	CodeRobotNoResponse         = "RobotDeploymentNoResponse"
	CodeFleetTimeout            = "FleetDeploymentTimeout"
	CodeRobotAborted            = "RobotDeploymentAborted"
	CodeMissingArch             = "MissingRobotApplicationArchitecture"
	CodeEtagMismatch            = "EtagMismatch"
	CodeResourceNotFound        = "ResourceNotFound"
	CodeEnvironmentSetup        = "EnvironmentSetupError"
	CodeDownloadConditionFailed = "DownloadConditionFailed"
	CodeDownloadingBundle       = "DownloadingBundleFailure"
	CodeExtractingBundle        = "ExtractingBundleFailure"
	CodePreLaunchFile           = "PreLaunchFileFailure"
	CodePostLaunchFile          = "PostLaunchFileFailure"
	CodeInternalServerError     = "InternalServerError"
)

// Outcome is how a robot deployment row ends for a cause.
type Outcome struct {
	Status RobotStatus
	Code   string
	// Step is the row's currentProgress at the end; "" keeps the step the
	// robot last reported (a timeout or an abort happens in any step).
	Step string
}

// Outcomes is the one table cause → (status, code, step).
var Outcomes = map[Cause]Outcome{
	CauseRobotTimeout:      {RobotNoResponse, CodeRobotNoResponse, ""},
	CauseAgentSilent:       {RobotNoResponse, CodeRobotNoResponse, ""},
	CauseFleetTimeout:      {RobotNoResponse, CodeFleetTimeout, ""},
	CauseAborted:           {RobotFailed, CodeRobotAborted, ""},
	CauseMissingArch:       {RobotFailed, CodeMissingArch, "Validating"},
	CauseEtagMismatch:      {RobotFailed, CodeEtagMismatch, "DownloadingExtracting"},
	CauseObjectMissing:     {RobotFailed, CodeResourceNotFound, "DownloadingExtracting"},
	CauseInvalid:           {RobotFailed, CodeEnvironmentSetup, "Validating"},
	CauseDownloadCondition: {RobotFailed, CodeDownloadConditionFailed, "ExecutingDownloadCondition"},
	CauseDownload:          {RobotFailed, CodeDownloadingBundle, "DownloadingExtracting"},
	CauseBadBundle:         {RobotFailed, CodeExtractingBundle, "DownloadingExtracting"},
	CausePreLaunch:         {RobotFailed, CodePreLaunchFile, "ExecutingPreLaunch"},
	CauseLaunch:            {RobotFailed, CodeEnvironmentSetup, "Launching"},
	CausePostLaunch:        {RobotFailed, CodePostLaunchFile, "ExecutingPostLaunch"},
	CauseInternal:          {RobotFailed, CodeInternalServerError, ""},
}

// OutcomeOf returns the outcome of a cause (CauseInternal's for an unknown one).
func OutcomeOf(c Cause) Outcome {
	if o, ok := Outcomes[c]; ok {
		return o
	}
	return Outcomes[CauseInternal]
}

// ReportedFailure is how a failure an agent reports ends its row: the
// status of the code's causes (NoResponse only for
// RobotDeploymentNoResponse, the agent's own deadline) and the step the
// table fixes for the code; where the table leaves the step open, or the
// code has several causes none of which is at the reported step, the step
// the agent reported. ok is false for a code no cause has.
func ReportedFailure(code, step string) (Outcome, bool) {
	var out Outcome
	n := 0
	for _, o := range Outcomes {
		if o.Code != code {
			continue
		}
		if o.Step == step {
			return o, true
		}
		out = o
		n++
	}
	if n == 0 {
		return Outcome{}, false
	}
	if out.Step == "" || n > 1 {
		out.Step = step
	}
	return out, true
}
