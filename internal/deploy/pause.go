package deploy

import (
	"context"
	"errors"

	"github.com/fleetsync/fleetsync/internal/fleet"
	"github.com/fleetsync/fleetsync/internal/store"
)

// Pause stops a running job from starting robots: robots deploying finish,
// robots waiting wait. The job stays InProgress on the AWS API (it has no
// paused state); the pause is stored on the job, so it survives restarts and
// replica failover, and it counts against no timeout. Pausing a paused job
// changes nothing.
func (s *Service) Pause(ctx context.Context, account, jobARN string) (Controls, error) {
	return s.setPaused(ctx, account, jobARN, true)
}

// Resume lets a paused job start robots again, at once.
func (s *Service) Resume(ctx context.Context, account, jobARN string) (Controls, error) {
	return s.setPaused(ctx, account, jobARN, false)
}

func (s *Service) setPaused(ctx context.Context, account, jobARN string, paused bool) (Controls, error) {
	if _, err := s.job(ctx, account, jobARN); err != nil {
		return Controls{}, err
	}
	j, err := s.Store.SetPaused(ctx, account, jobARN, paused, s.now().UnixMilli())
	switch {
	case errors.Is(err, store.ErrConflict):
		return Controls{}, fleet.Errorf(fleet.Invalid, "deployment job %s has already finished", jobARN)
	case errors.Is(err, store.ErrNotFound):
		return Controls{}, fleet.Errorf(fleet.NotFound, "deployment job %s does not exist", jobARN)
	case err != nil:
		return Controls{}, fleet.Wrap(fleet.Internal, err, "store failure")
	}
	if !paused {
		s.wake()
	}
	return s.controlsOf(ctx, j)
}

// RolloutState is a job's state as fleetsync's own endpoints and the
// console name it: "paused", "running" or "finished".
func RolloutState(j fleet.Job) string {
	switch {
	case !j.Status.Active():
		return "finished"
	case j.Paused():
		return "paused"
	}
	return "running"
}
