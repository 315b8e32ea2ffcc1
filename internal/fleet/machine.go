package fleet

// The two state machines of a deployment, written once as data. Every status
// change anywhere goes through CanJob or CanRobot; the tables are the whole
// truth of which changes exist.

// jobTransitions lists, per job status, the statuses it may move to.
var jobTransitions = map[JobStatus][]JobStatus{
	JobPending:    {JobPreparing, JobFailed, JobCanceled},
	JobPreparing:  {JobInProgress, JobSucceeded, JobFailed, JobCanceled},
	JobInProgress: {JobSucceeded, JobFailed, JobCanceled},
	JobSucceeded:  nil,
	JobFailed:     nil,
	JobCanceled:   nil,
}

// CanJob reports whether a job may move from one status to another.
func CanJob(from, to JobStatus) bool {
	for _, s := range jobTransitions[from] {
		if s == to {
			return true
		}
	}
	return false
}

// Active reports whether a job status is not terminal.
func (s JobStatus) Active() bool {
	return s == JobPending || s == JobPreparing || s == JobInProgress
}

// robotTransitions lists, per robot deployment status, where it may go.
// NoResponse may still become InSync: a robot that comes back completes the
// deployment it missed (SPEC §5).
var robotTransitions = map[RobotStatus][]RobotStatus{
	RobotPendingNewDeployment: {RobotDeploying, RobotFailed, RobotNoResponse},
	RobotDeploying:            {RobotInSync, RobotFailed, RobotNoResponse},
	RobotNoResponse:           {RobotInSync, RobotFailed},
	RobotInSync:               nil,
	RobotFailed:               nil,
}

// CanRobot reports whether a robot deployment row may move between statuses.
func CanRobot(from, to RobotStatus) bool {
	for _, s := range robotTransitions[from] {
		if s == to {
			return true
		}
	}
	return false
}

// Finished reports whether a robot deployment row has an outcome.
func (s RobotStatus) Finished() bool {
	return s == RobotInSync || s == RobotFailed || s == RobotNoResponse
}
