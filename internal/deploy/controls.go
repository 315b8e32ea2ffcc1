package deploy

import (
	"context"
	"errors"

	"github.com/fleetsync/fleetsync/internal/fleet"
	"github.com/fleetsync/fleetsync/internal/store"
)

// Controls is a job with the effective values of its rollout controls
// (docs/rollout-controls.md), what fleetsync's own endpoints and the
// console show beside the AWS view.
type Controls struct {
	Job fleet.Job
	// State is RolloutState(Job).
	State string
	// HealthSeconds is the effective health gate and HealthFrom where it
	// comes from (FromJob, FromFleet, FromNone).
	HealthSeconds int64
	HealthFrom    string
	// Canary is the job's canary size (0: none) and CanaryState where it
	// stands: CanaryRunning, CanaryPassed or CanaryFailed ("" without one).
	Canary      int
	CanaryState string
}

// Canary states (Controls.CanaryState).
const (
	CanaryRunning = "running"
	CanaryPassed  = "passed"
	CanaryFailed  = "failed"
)

// Controls returns a job's rollout controls. The fleet's tags count as they
// are now (robots are assigned with the value of the moment).
func (s *Service) Controls(ctx context.Context, account, jobARN string) (Controls, error) {
	j, err := s.job(ctx, account, jobARN)
	if err != nil {
		return Controls{}, err
	}
	return s.controlsOf(ctx, j)
}

func (s *Service) controlsOf(ctx context.Context, j fleet.Job) (Controls, error) {
	var fleetTags fleet.Tags
	f, err := s.Store.GetFleet(ctx, j.Account, j.Fleet)
	switch {
	case err == nil:
		fleetTags = f.Tags
	case !errors.Is(err, store.ErrNotFound):
		return Controls{}, fleet.Wrap(fleet.Internal, err, "store failure")
	}
	c := Controls{Job: j, State: RolloutState(j)}
	c.HealthSeconds, c.HealthFrom = HealthSeconds(j.Tags, fleetTags)
	if c.Canary = CanarySize(j); c.Canary > 0 && j.Status != fleet.JobPending && j.Status != fleet.JobPreparing {
		counts, err := s.Store.CountsBefore(ctx, j.ARN, c.Canary)
		if err != nil {
			return Controls{}, fleet.Wrap(fleet.Internal, err, "store failure")
		}
		size := min(c.Canary, j.Targets)
		switch {
		case counts[fleet.RobotInSync] >= size:
			c.CanaryState = CanaryPassed
		case counts[fleet.RobotFailed]+counts[fleet.RobotNoResponse] > 0:
			c.CanaryState = CanaryFailed
		default:
			c.CanaryState = CanaryRunning
		}
	} else if c.Canary > 0 {
		c.CanaryState = CanaryRunning
	}
	return c, nil
}
