package fleet

// Defaults of a deployment config's omitted members (SPEC §5).
const (
	DefaultConcurrentPercent  = 20
	DefaultFailureThreshold   = 25
	DefaultRobotTimeoutSecond = 18000
)

// DeploymentConfig is how a job rolls out (AWS DeploymentConfig), with
// defaults applied.
type DeploymentConfig struct {
	ConcurrentPercent       int     `json:"concurrentDeploymentPercentage"`
	FailureThresholdPercent int     `json:"failureThresholdPercentage"`
	RobotTimeoutSeconds     int64   `json:"robotDeploymentTimeoutInSeconds"`
	DownloadCondition       *S3Path `json:"downloadConditionFile,omitempty"`
}

// S3Path is an object with an optional expected ETag (AWS S3Object).
type S3Path struct {
	Bucket string `json:"bucket"`
	Key    string `json:"key"`
	ETag   string `json:"etag,omitempty"`
}

// LaunchConfig is how the robot starts the application.
type LaunchConfig struct {
	PackageName          string            `json:"packageName"`
	LaunchFile           string            `json:"launchFile"`
	PreLaunchFile        string            `json:"preLaunchFile,omitempty"`
	PostLaunchFile       string            `json:"postLaunchFile,omitempty"`
	EnvironmentVariables map[string]string `json:"environmentVariables,omitempty"`
}

// AppConfig is one application of a job (AWS DeploymentApplicationConfig).
type AppConfig struct {
	Application        string       `json:"application"`
	ApplicationVersion string       `json:"applicationVersion"`
	LaunchConfig       LaunchConfig `json:"launchConfig"`
}

// JobSpec is what a job deploys and how: everything Sync copies.
type JobSpec struct {
	Apps   []AppConfig      `json:"apps"`
	Config DeploymentConfig `json:"config"`
}

// Fingerprint identifies what a robot runs after a successful deployment of
// this spec: the applications, versions and launch configurations (not the
// rollout settings). Sync leaves robots whose fingerprint matches alone.
// It is canonical and versioned (see fingerprint.go): stored fingerprints
// are compared with it, so it must never change for the same spec.
func (s JobSpec) Fingerprint() string { return fingerprintV1(s.Apps) }

// Job is a deployment job.
type Job struct {
	ARN     string
	Account string
	Fleet   string
	Status  JobStatus
	// FailureCode and FailureReason explain a Failed job.
	FailureCode   string
	FailureReason string
	Spec          JobSpec
	Tags          Tags
	CreatedMs     int64
	// FinishedMs is when the job reached a terminal status, 0 before.
	FinishedMs int64
	// Targets is the number of robots the job deploys to (N), known from Preparing.
	Targets int
	// Operation is the API operation that created the job (Create or Sync).
	Operation string
	// PausedMs is when an operator paused the job (epoch ms), 0 while it
	// runs. A paused job starts no robot; the AWS API still says InProgress.
	PausedMs int64
	// PausedTotalMs is how long the job was paused before its current
	// pause (or in all, when it is not paused): pause counts against no
	// timeout.
	PausedTotalMs int64
}

// Paused reports whether an operator paused the job.
func (j Job) Paused() bool { return j.PausedMs > 0 }

// RunningMs is how long the job has run at nowMs, not counting its pauses:
// what the fleet deployment timeout measures.
func (j Job) RunningMs(nowMs int64) int64 {
	paused := j.PausedTotalMs
	if j.PausedMs > 0 {
		paused += nowMs - j.PausedMs
	}
	return nowMs - j.CreatedMs - paused
}

// The operations that create jobs; idempotency tokens are scoped by them.
const (
	OpCreateDeploymentJob = "CreateDeploymentJob"
	OpSyncDeploymentJob   = "SyncDeploymentJob"
)

// RobotDeployment is one robot's row in a job (AWS RobotDeployment).
type RobotDeployment struct {
	Job    string
	Robot  string
	Status RobotStatus
	// PriorStatus is the robot's status before the job targeted it, restored
	// when the job stops before starting it.
	PriorStatus   RobotStatus
	Step          string
	PercentDone   *float64
	ETASeconds    *int64
	StartedMs     int64
	FinishedMs    int64
	FailureCode   string
	FailureReason string
	// Seq orders the rows: robots start in this order.
	Seq int
}
