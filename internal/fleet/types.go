package fleet

// Architecture is a robot's CPU architecture, as the AWS model spells it.
type Architecture string

// The architectures a robot and a bundle source can have.
const (
	X86_64 Architecture = "X86_64"
	ARM64  Architecture = "ARM64"
	ARMHF  Architecture = "ARMHF"
)

// RobotStatus is the status of a robot and of a robot's row in a deployment job.
type RobotStatus string

// The robot statuses of SPEC §5.
const (
	RobotAvailable            RobotStatus = "Available"
	RobotRegistered           RobotStatus = "Registered"
	RobotPendingNewDeployment RobotStatus = "PendingNewDeployment"
	RobotDeploying            RobotStatus = "Deploying"
	RobotInSync               RobotStatus = "InSync"
	RobotFailed               RobotStatus = "Failed"
	RobotNoResponse           RobotStatus = "NoResponse"
)

// JobStatus is the status of a deployment job (and a fleet's lastDeploymentStatus).
type JobStatus string

// The deployment job statuses of SPEC §5.
const (
	JobPending    JobStatus = "Pending"
	JobPreparing  JobStatus = "Preparing"
	JobInProgress JobStatus = "InProgress"
	JobSucceeded  JobStatus = "Succeeded"
	JobFailed     JobStatus = "Failed"
	JobCanceled   JobStatus = "Canceled"
)

// Tags are a resource's key/value labels.
type Tags map[string]string

// Fleet is a named group of robots that receives deployments together.
type Fleet struct {
	ARN       string
	Account   string
	Name      string
	CreatedMs int64
	// LastDeploymentJob is the ARN of the fleet's most recent deployment job, "" if none.
	LastDeploymentJob    string
	LastDeploymentStatus JobStatus
	LastDeploymentTimeMs int64
	Tags                 Tags
}

// Robot is one machine running fleetsync-agent, identified by its agent id.
type Robot struct {
	ARN          string
	Account      string
	Name         string
	Architecture Architecture
	// AgentID is the robot's agent id (AWS's greengrassGroupId): its public key.
	AgentID   string
	FleetARN  string
	Status    RobotStatus
	CreatedMs int64
	// LastDeploymentJob is the ARN of the last job that targeted the robot, "" if none.
	LastDeploymentJob    string
	LastDeploymentTimeMs int64
	Tags                 Tags
}

// SoftwareSuite names the robot software a bundle is built for (ROS, ROS2, General).
type SoftwareSuite struct {
	Name    string
	Version string
}

// Source is one architecture's bundle of a robot application. ETag and SHA256
// are recorded when a numbered version snapshots $LATEST; on $LATEST they are
// read live and may be empty when the object is missing.
type Source struct {
	Bucket       string
	Key          string
	Architecture Architecture
	ETag         string
	SHA256       string
	// HeadSHA256 and HeadSize describe a colcon v2 bundle's head (version
	// entry, metadata and overlay index: its first HeadSize bytes, as an
	// agent reads them to fetch only the overlays it lacks), recorded with
	// SHA256 when the version was created; empty for other bundles.
	HeadSHA256 string
	HeadSize   int64
}

// LatestVersion is the mutable head of a robot application.
const LatestVersion = "$LATEST"

// Application is one version of a robot application: $LATEST or a numbered snapshot.
type Application struct {
	ARN           string
	Account       string
	Name          string
	Version       string
	Sources       []Source
	SoftwareSuite SoftwareSuite
	RevisionID    string
	CreatedMs     int64
	LastUpdatedMs int64
	Tags          Tags
}

// Cursor is a keyset position in a list ordered by creation time, then ARN,
// then a sequence within the resource (application versions).
type Cursor struct {
	CreatedMs int64
	ARN       string
	Seq       int
}

// Page is the result of one list call: items and, when more remain, the cursor
// of the last item returned.
type Page[T any] struct {
	Items []T
	Next  *Cursor
}
