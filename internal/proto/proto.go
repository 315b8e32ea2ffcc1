// Package proto is the fleetsync agent protocol, version 1: the messages an
// agent and fleetsyncd exchange under /agent/v1/, and the Ed25519 request
// signing both sides use. It is shared by the server's agent endpoint and by
// every agent (the real one and the test simulator) and imports nothing of
// either. docs/agent-protocol.md describes it for humans.
package proto

// Version is the protocol version in every path (/agent/v1/...).
const Version = "v1"

// Paths of the agent endpoints.
const (
	PathPoll   = "/agent/v1/poll"
	PathReport = "/agent/v1/report"
	// PathBundle is the prefix of signed bundle download URLs served by
	// fleetsyncd when the bundle store cannot presign its own.
	PathBundle = "/agent/v1/bundle/"
	// PathLog takes an agent's answer to a log request.
	PathLog = "/agent/v1/log"
)

// CodeUnknownRobot is the error code of a correctly signed request whose
// agent id no robot has yet (an agent started before its robot was
// created): the agent retries soon, not with the long backoff of errors.
const CodeUnknownRobot = "UnknownRobot"

// Step is a robot deployment step (AWS RobotDeploymentStep), in the order
// the agent runs them.
type Step string

// The steps of SPEC §6.
const (
	StepValidating                 Step = "Validating"
	StepExecutingDownloadCondition Step = "ExecutingDownloadCondition"
	StepDownloadingExtracting      Step = "DownloadingExtracting"
	StepExecutingPreLaunch         Step = "ExecutingPreLaunch"
	StepLaunching                  Step = "Launching"
	StepExecutingPostLaunch        Step = "ExecutingPostLaunch"
	StepFinished                   Step = "Finished"
)

// Failure codes an agent reports (AWS DeploymentJobErrorCode values).
const (
	FailureDownloadConditionFailed = "DownloadConditionFailed"
	FailureExtractingBundle        = "ExtractingBundleFailure"
	FailurePreLaunchFile           = "PreLaunchFileFailure"
	FailurePostLaunchFile          = "PostLaunchFileFailure"
	FailureBadPermission           = "BadPermissionError"
	FailureDownload                = "DownloadingBundleFailure" // not an AWS code; see docs
	FailureEtagMismatch            = "EtagMismatch"
	FailureInternal                = "InternalServerError"
	FailureEnvironmentSetup        = "EnvironmentSetupError"
	FailureResourceNotFound        = "ResourceNotFound"
	FailureAborted                 = "RobotDeploymentAborted"
)

// PollRequest is an agent asking for work.
type PollRequest struct {
	// WaitSeconds is how long the server may hold the request when there is
	// no work (long poll); the server caps it at 30.
	WaitSeconds int `json:"waitSeconds,omitempty"`
	// IdleWaitSeconds (an addition to v1) lets the server hold the request
	// longer, up to this, while the robot is idle (no work for it, and
	// Current names no running deployment): the server chooses the wait,
	// jittered, at most its own idle wait (4 minutes by default). Servers
	// that do not know the field hold WaitSeconds.
	IdleWaitSeconds int `json:"idleWaitSeconds,omitempty"`
	// Current is what the agent runs now, so the server learns of a robot
	// that finished a deployment while the server could not hear it.
	Current *Current `json:"current,omitempty"`
	// Overlays are the SHA-256s of the colcon v2 overlays the agent holds
	// in its cache (it does not download them again), so the server's
	// sync plan can tell what an update costs this robot.
	Overlays []string `json:"overlays,omitempty"`
}

// Current is the deployment an agent has installed and running.
type Current struct {
	DeploymentJob string `json:"deploymentJob"`
	// Finished is true when every step of that deployment succeeded.
	Finished bool `json:"finished"`
	// Restarts counts the application's unexpected exits since it was last
	// launched (a crash loop shows as a growing count); LastExitCode is the
	// status of the latest one (128+n when killed by signal n).
	Restarts     int  `json:"restarts,omitempty"`
	LastExitCode *int `json:"lastExitCode,omitempty"`
}

// PollResponse is the server's answer to a poll.
type PollResponse struct {
	// Assignment is the deployment to run now, nil if none.
	Assignment *Assignment `json:"assignment,omitempty"`
	// Abort names a deployment job the agent must stop and roll back.
	Abort string `json:"abort,omitempty"`
	// PollIntervalSeconds is when to poll next if no long poll is wanted.
	PollIntervalSeconds int `json:"pollIntervalSeconds"`
	// LogRequest, independent of the rest, asks for the application log's
	// tail; the agent answers with a LogUpload to PathLog.
	LogRequest *LogRequest `json:"logRequest,omitempty"`
}

// LogRequest is an operator asking for the last MaxBytes of the
// application's log; RequestedMs identifies the request.
type LogRequest struct {
	RequestedMs int64 `json:"requestedMs"`
	MaxBytes    int   `json:"maxBytes"`
}

// MaxLogBytes bounds a log tail an agent sends (the server keeps no more).
const MaxLogBytes = 64 << 10

// LogUpload answers a LogRequest: the tail of the application's log, or
// why it could not be read.
type LogUpload struct {
	RequestedMs int64  `json:"requestedMs"`
	Content     string `json:"content"`
	Error       string `json:"error,omitempty"`
}

// Assignment is one robot deployment for an agent to carry out.
type Assignment struct {
	DeploymentJob      string            `json:"deploymentJob"`
	Application        string            `json:"application"`
	ApplicationVersion string            `json:"applicationVersion"`
	SoftwareSuite      string            `json:"softwareSuite"`
	LaunchConfig       LaunchConfig      `json:"launchConfig"`
	Bundle             Object            `json:"bundle"`
	DownloadCondition  *Object           `json:"downloadCondition,omitempty"`
	Tags               map[string]string `json:"tags,omitempty"`
	// TimeoutSeconds is the robot deployment timeout of the job.
	TimeoutSeconds int64 `json:"timeoutSeconds"`
	// HealthSeconds is the health gate: after its last launch step the
	// agent reports Finished only once the new application stayed up this
	// long (and the health command the launch config's environment names
	// in FLEETSYNC_HEALTH_COMMAND, if any, exited 0), else it rolls back and
	// fails with EnvironmentSetupError. 0: no gate. An agent older than the
	// field ignores it and says nothing in Report.HealthGate.
	HealthSeconds int64 `json:"healthSeconds,omitempty"`
}

// Steps returns the steps of SPEC §6 the assignment goes through, in order:
// the download condition, pre-launch and post-launch steps only when the
// assignment has them. It is the agent's step machine, shared by the real
// agent and the simulator so both walk the same list.
func (a *Assignment) Steps() []Step {
	steps := []Step{StepValidating}
	if a.DownloadCondition != nil {
		steps = append(steps, StepExecutingDownloadCondition)
	}
	steps = append(steps, StepDownloadingExtracting)
	if a.LaunchConfig.PreLaunchFile != "" {
		steps = append(steps, StepExecutingPreLaunch)
	}
	steps = append(steps, StepLaunching)
	if a.LaunchConfig.PostLaunchFile != "" {
		steps = append(steps, StepExecutingPostLaunch)
	}
	return append(steps, StepFinished)
}

// LaunchConfig is the job's launch configuration (AWS DeploymentLaunchConfig).
type LaunchConfig struct {
	PackageName          string            `json:"packageName"`
	LaunchFile           string            `json:"launchFile"`
	PreLaunchFile        string            `json:"preLaunchFile,omitempty"`
	PostLaunchFile       string            `json:"postLaunchFile,omitempty"`
	EnvironmentVariables map[string]string `json:"environmentVariables,omitempty"`
}

// Object is a downloadable object: a short-lived URL bound to this robot and
// object, and what its content must be.
type Object struct {
	URL    string `json:"url"`
	Size   int64  `json:"size"`
	ETag   string `json:"etag"`
	SHA256 string `json:"sha256,omitempty"`
	// HeadSHA256 and HeadSize, for a colcon v2 bundle, are the digest and
	// length of its head (version, metadata, overlay index): an agent that
	// fetches only the overlays it lacks verifies the head by them, the
	// whole bundle's SHA-256 not being checked on that path. A server that
	// sends neither gets whole downloads (protocol addition, 2026-12).
	HeadSHA256 string `json:"headSha256,omitempty"`
	HeadSize   int64  `json:"headSize,omitempty"`
}

// Report is an agent's progress or result for one deployment.
type Report struct {
	DeploymentJob string `json:"deploymentJob"`
	Step          Step   `json:"step"`
	// PercentDone and ETASeconds apply to DownloadingExtracting only.
	PercentDone *float64 `json:"percentDone,omitempty"`
	ETASeconds  *int64   `json:"etaSeconds,omitempty"`
	// Result is "" while in progress, then "Succeeded" or "Failed".
	Result        string `json:"result,omitempty"`
	FailureCode   string `json:"failureCode,omitempty"`
	FailureReason string `json:"failureReason,omitempty"`
	// FailureOutput is the last lines of the failing script's or
	// application's output, at most MaxFailureOutput bytes.
	FailureOutput string `json:"failureOutput,omitempty"`
	// HealthGate, on a final report of a gated assignment, is what the
	// gate said: HealthPassed or HealthFailed.
	HealthGate string `json:"healthGate,omitempty"`
}

// MaxFailureOutput bounds Report.FailureOutput.
const MaxFailureOutput = 16 << 10

// Health gate outcomes (Report.HealthGate).
const (
	HealthPassed = "passed"
	HealthFailed = "failed"
)

// Report results.
const (
	ResultSucceeded = "Succeeded"
	ResultFailed    = "Failed"
)

// ReportResponse answers a report.
type ReportResponse struct {
	// Abort is true when the deployment was canceled or is no longer the
	// robot's: the agent must stop it and restore the previous application.
	Abort bool `json:"abort,omitempty"`
}

// Error is the body of every non-2xx answer of the agent endpoints.
type Error struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}
