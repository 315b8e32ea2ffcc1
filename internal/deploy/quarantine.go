package deploy

import (
	"context"

	"github.com/fleetsync/fleetsync/internal/fleet"
	"github.com/fleetsync/fleetsync/internal/store"
)

// Quarantined lists the account's quarantined robots, of one fleet when
// fleetARN is set: each failed one deployment QuarantineAfter times, and
// Sync, continuous sync, drift and the plan leave it out of that deployment
// until Release.
func (s *Service) Quarantined(ctx context.Context, account, fleetARN string) ([]store.RobotFailures, error) {
	if fleetARN != "" {
		if err := s.resolveFleet(account, fleetARN); err != nil {
			return nil, err
		}
	}
	q, err := s.Store.QuarantinedRobots(ctx, account, fleetARN)
	if err != nil {
		return nil, fleet.Wrap(fleet.Internal, err, "store failure")
	}
	return q, nil
}

// Release ends a robot's quarantine and forgets its failure counts: the
// next Sync (or continuous sync) deploys it again. A robot that is not
// quarantined (or not the account's) is InvalidParameter, the same answer
// either way.
func (s *Service) Release(ctx context.Context, account, robotARN string) error {
	a, err := fleet.ParseARN(robotARN)
	if err != nil || a.Type != fleet.TypeRobot {
		return fleet.Errorf(fleet.Invalid, "robot: %q is not a robot ARN", robotARN)
	}
	was, err := s.Store.ReleaseRobot(ctx, account, robotARN)
	if err != nil {
		return fleet.Wrap(fleet.Internal, err, "store failure")
	}
	if !was {
		return fleet.Errorf(fleet.Invalid, "robot %s is not quarantined", robotARN)
	}
	s.wake()
	return nil
}

// QuarantinedRobot is one robot's failure record for one deployment (the
// store's read model), as the API layer shows it: awsapi reaches it through
// the domain, never through the store.
type QuarantinedRobot = store.RobotFailures
