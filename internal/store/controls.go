package store

import "context"

// Retries are the per-row counters of bounded retries (issue 16). The rule
// (how many attempts, which failures are transient, the backoff) is the
// domain's; the store only counts with compare-and-swap.
type Retries interface {
	// RowAttempts returns how often the row's assignment was handed out and
	// from when it may be handed out again (0: at once); ErrNotFound if
	// there is no such row.
	RowAttempts(ctx context.Context, jobARN, robotARN string) (attempts int, retryAtMs int64, err error)
	// CountAttempt records one more handout when the count is still expect;
	// false when another poll counted first.
	CountAttempt(ctx context.Context, jobARN, robotARN string, expect int) (bool, error)
	// DeferRetry keeps a Deploying row deploying after a transient failure:
	// its assignment is handed out again from retryAtMs. It reports false
	// (and changes nothing) when the row is not Deploying.
	DeferRetry(ctx context.Context, jobARN, robotARN string, retryAtMs int64) (bool, error)
}

// RobotFailures is a robot's count of failures of one deployment (a job
// fingerprint), across jobs.
type RobotFailures struct {
	Account, Robot, Fingerprint string
	Failures                    int
	// LastJob, LastCode and LastReason describe the latest failure.
	LastJob, LastCode, LastReason string
	// QuarantinedMs is when the robot was quarantined, 0 while it is not.
	QuarantinedMs int64
}

// Quarantine stores robots' failure counts and quarantines.
type Quarantine interface {
	// RecordRobotFailure adds one failure of f.Fingerprint to the robot's
	// count (f carries the latest failure) and quarantines the robot at
	// nowMs when the count reaches quarantineAfter (0: never). It returns
	// the updated record.
	RecordRobotFailure(ctx context.Context, f RobotFailures, quarantineAfter int, nowMs int64) (RobotFailures, error)
	// QuarantinedRobots returns the account's quarantined robots that are
	// in fleetARN now (every one of the account when fleetARN is ""), in
	// quarantine order.
	QuarantinedRobots(ctx context.Context, account, fleetARN string) ([]RobotFailures, error)
	// ReleaseRobot forgets the robot's failure counts, its quarantine
	// included; it reports whether the robot was quarantined.
	ReleaseRobot(ctx context.Context, account, robotARN string) (bool, error)
}

// DryRuns are what the sync plan reads beyond the jobs (issue 16).
type DryRuns interface {
	// RecordOverlays stores the colcon v2 overlays (SHA-256s) a robot's
	// agent holds, replacing what was stored.
	RecordOverlays(ctx context.Context, robotARN string, overlays []string, nowMs int64) error
	// FleetOverlays returns the stored overlays of each robot now in the
	// fleet, by robot ARN (robots that never said are absent).
	FleetOverlays(ctx context.Context, account, fleetARN string) (map[string][]string, error)
	// RecentDurations returns how long (ms) the fleet's latest successful
	// robot deployments took, newest first, at most limit of them.
	RecentDurations(ctx context.Context, account, fleetARN string, limit int) ([]int64, error)
}
