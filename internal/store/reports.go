package store

import (
	"context"

	"github.com/fleetsync/fleetsync/internal/fleet"
)

// Reports are the read-only views behind the drift report, continuous sync,
// the console and metrics. They read across rows the per-aggregate
// interfaces keep apart, in one query each, so that they stay cheap enough
// to run on every engine tick or scrape.
type Reports interface {
	// LastRows returns, for each robot now in the fleet, its row in the last
	// deployment job that targeted it; robots never targeted have none.
	LastRows(ctx context.Context, account, fleetARN string) ([]fleet.RobotDeployment, error)
	// InstalledRows returns, for each robot now in the fleet, its row in the
	// latest job it finished InSync: what it runs now, since an agent keeps
	// or restores that application while a later deployment runs, fails or
	// is aborted. Robots never InSync have none.
	InstalledRows(ctx context.Context, account, fleetARN string) ([]fleet.RobotDeployment, error)
	// AutoSyncCandidates returns the fleets of every account that carry
	// tagKey and have at least one robot Registered (never deployed since it
	// joined), with the tag's value and how many are, in creation order.
	AutoSyncCandidates(ctx context.Context, tagKey string) ([]fleet.TaggedFleet, error)
	// RobotStatusCounts counts the robots of every account by status.
	RobotStatusCounts(ctx context.Context) (map[fleet.RobotStatus]int, error)
	// FleetStatusCounts counts an account's robots by fleet ARN and status;
	// robots in no fleet are left out.
	FleetStatusCounts(ctx context.Context, account string) (map[string]map[fleet.RobotStatus]int, error)
	// ControlCounts counts, over every account, what the rollout controls
	// hold back now (metrics).
	ControlCounts(ctx context.Context) (ControlCounts, error)
}

// ControlCounts are the rollout controls' gauges.
type ControlCounts struct {
	// PausedJobs are active jobs an operator paused.
	PausedJobs int
	// QuarantinedRobots are robots quarantined from some deployment.
	QuarantinedRobots int
}
