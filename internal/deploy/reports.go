package deploy

import (
	"context"

	"github.com/fleetsync/fleetsync/internal/fleet"
)

// ReportStore is what the read-only reports read (store.Reports documents
// the methods).
type ReportStore interface {
	LastRows(ctx context.Context, account, fleetARN string) ([]fleet.RobotDeployment, error)
	InstalledRows(ctx context.Context, account, fleetARN string) ([]fleet.RobotDeployment, error)
	FleetStatusCounts(ctx context.Context, account string) (map[string]map[fleet.RobotStatus]int, error)
}

// Reports are the read-only views the console shows beside the operations:
// robots per fleet by status, each robot's row in the last job that
// targeted it, and its row in the latest job it finished InSync. The console reads them here, never from the store.
type Reports struct {
	Store ReportStore
}

// FleetStatusCounts counts an account's robots by fleet ARN and status;
// robots in no fleet are left out.
func (r *Reports) FleetStatusCounts(ctx context.Context, account string) (map[string]map[fleet.RobotStatus]int, error) {
	c, err := r.Store.FleetStatusCounts(ctx, account)
	if err != nil {
		return nil, fleet.Wrap(fleet.Internal, err, "store failure")
	}
	return c, nil
}

// LastRows returns, for each robot now in the fleet, its row in the last
// deployment job that targeted it; robots never targeted have none.
func (r *Reports) LastRows(ctx context.Context, account, fleetARN string) ([]fleet.RobotDeployment, error) {
	rows, err := r.Store.LastRows(ctx, account, fleetARN)
	if err != nil {
		return nil, fleet.Wrap(fleet.Internal, err, "store failure")
	}
	return rows, nil
}

// InstalledRows returns, for each robot now in the fleet, its row in the
// latest job it finished InSync: the deployment it runs now, also while a
// newer one deploys or after one failed (the agent keeps or restores the
// application). Robots never InSync have none.
func (r *Reports) InstalledRows(ctx context.Context, account, fleetARN string) ([]fleet.RobotDeployment, error) {
	rows, err := r.Store.InstalledRows(ctx, account, fleetARN)
	if err != nil {
		return nil, fleet.Wrap(fleet.Internal, err, "store failure")
	}
	return rows, nil
}
