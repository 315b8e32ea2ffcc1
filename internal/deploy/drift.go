package deploy

import (
	"context"
	"errors"

	"github.com/fleetsync/fleetsync/internal/fleet"
	"github.com/fleetsync/fleetsync/internal/store"
)

// Reason codes of the drift report: why a robot is not on its fleet's
// latest deployment.
const (
	// ReasonDeploying: a job is deploying to the robot now (status
	// Deploying).
	ReasonDeploying = "Deploying"
	// ReasonPending: a job targets the robot but has not started it yet
	// (status PendingNewDeployment: waiting for a slot in the concurrency
	// window). Nothing runs on the robot yet, so it is not "Deploying".
	ReasonPending = "PendingNewDeployment"
	// ReasonArchitectureMissing: the latest deployment has no bundle for the
	// robot's architecture, so syncing would fail it at once.
	ReasonArchitectureMissing = "ArchitectureMissing"
	// ReasonNeverDeployed: the robot has not been deployed to since it
	// joined the fleet (status Registered).
	ReasonNeverDeployed = "NeverDeployed"
	// ReasonFailedPrefix is followed by the failure code of the robot's last
	// deployment, e.g. "Failed:EtagMismatch".
	ReasonFailedPrefix = "Failed:"
	// ReasonNoResponse: the robot's last deployment timed out or its agent
	// stopped answering.
	ReasonNoResponse = "NoResponse"
	// ReasonNotReached: the robot runs an earlier deployment because the
	// latest one stopped (failure threshold, fleet timeout) before reaching
	// it — SPEC §5 Sync step 4's "robots never reached".
	ReasonNotReached = "NotReached"
)

// SyncTargetStore finds the robots of a fleet not running a fingerprint,
// and the fleet's quarantined robots.
type SyncTargetStore interface {
	SyncTargets(ctx context.Context, account, fleetARN, fingerprint string) ([]fleet.Robot, error)
	QuarantinedRobots(ctx context.Context, account, fleetARN string) ([]store.RobotFailures, error)
}

// SyncTargets is the one definition of the robots a Sync to spec acts on:
// every robot of the fleet that does not run spec successfully, except
// those quarantined from spec's deployment. The engine resolves a Sync
// job's targets with it, and the drift report lists them.
func SyncTargets(ctx context.Context, st SyncTargetStore, account, fleetARN string, spec fleet.JobSpec) ([]fleet.Robot, error) {
	targets, _, err := SyncSelection(ctx, st, account, fleetARN, spec)
	return targets, err
}

// Excluded is a robot Sync leaves out, with why.
type Excluded struct {
	Robot  fleet.Robot
	Reason string
	// Failures is the quarantine record (Reason ReasonQuarantined).
	Failures store.RobotFailures
}

// SyncSelection is SyncTargets with the robots it leaves out: those off
// spec that are quarantined from it (ReasonQuarantined).
func SyncSelection(ctx context.Context, st SyncTargetStore, account, fleetARN string, spec fleet.JobSpec) ([]fleet.Robot, []Excluded, error) {
	fp := spec.Fingerprint()
	robots, err := st.SyncTargets(ctx, account, fleetARN, fp)
	if err != nil {
		return nil, nil, err
	}
	q, err := st.QuarantinedRobots(ctx, account, fleetARN)
	if err != nil || len(q) == 0 {
		return robots, nil, err
	}
	held := map[string]store.RobotFailures{}
	for _, f := range q {
		if f.Fingerprint == fp {
			held[f.Robot] = f
		}
	}
	targets := robots[:0:0]
	var out []Excluded
	for _, r := range robots {
		if f, ok := held[r.ARN]; ok {
			out = append(out, Excluded{Robot: r, Reason: ReasonQuarantined, Failures: f})
			continue
		}
		targets = append(targets, r)
	}
	return targets, out, nil
}

// Drift is a fleet's drift report: the robots Sync would target now, each
// with why it is not on the latest deployment.
type Drift struct {
	Fleet fleet.Fleet
	// Source is the fleet's latest deployment: the job Sync would copy.
	Source fleet.Job
	Robots []DriftRobot
	// Excluded are robots off the latest deployment that Sync leaves out
	// (quarantined), with why.
	Excluded []Excluded
}

// DriftRobot is one robot off its fleet's latest deployment.
type DriftRobot struct {
	Robot  fleet.Robot
	Reason string
	// Last is the robot's row in the last job that targeted it; zero (Job
	// "") when no job ever did.
	Last fleet.RobotDeployment
}

// Drift reports which robots of a fleet are not on its latest deployment and
// why, without acting. The robots are exactly those a Sync would target at
// this instant (SyncTargets, the same function the engine uses). A fleet with
// no deployment is ResourceNotFound, as for Sync.
func (s *Service) Drift(ctx context.Context, account, fleetARN string) (Drift, error) {
	if err := s.resolveFleet(account, fleetARN); err != nil {
		return Drift{}, err
	}
	f, source, err := s.source(ctx, account, fleetARN)
	if err != nil {
		return Drift{}, err
	}
	return s.driftOf(ctx, account, fleetARN, f, source)
}

// driftOf is Drift for a fleet and its source job already read.
func (s *Service) driftOf(ctx context.Context, account, fleetARN string, f fleet.Fleet, source fleet.Job) (Drift, error) {
	robots, excluded, err := SyncSelection(ctx, s.Store, account, fleetARN, source.Spec)
	if err != nil {
		return Drift{}, fleet.Wrap(fleet.Internal, err, "store failure")
	}
	rows, err := s.Store.LastRows(ctx, account, fleetARN)
	if err != nil {
		return Drift{}, fleet.Wrap(fleet.Internal, err, "store failure")
	}
	last := make(map[string]fleet.RobotDeployment, len(rows))
	for _, r := range rows {
		last[r.Robot] = r
	}
	archs, known, err := s.sourceArchitectures(ctx, account, source.Spec)
	if err != nil {
		return Drift{}, err
	}
	d := Drift{Fleet: f, Source: source, Robots: make([]DriftRobot, 0, len(robots)), Excluded: excluded}
	for _, r := range robots {
		d.Robots = append(d.Robots, DriftRobot{Robot: r, Reason: driftReason(r, last[r.ARN], known && !archs[r.Architecture]), Last: last[r.ARN]})
	}
	return d, nil
}

// driftReason classifies one Sync target. The order matters: a robot a job
// is deploying or about to start says so first; an architecture the deployment cannot serve is
// what an operator must fix before anything else helps.
func driftReason(r fleet.Robot, last fleet.RobotDeployment, archMissing bool) string {
	switch {
	case r.Status == fleet.RobotDeploying:
		return ReasonDeploying
	case r.Status == fleet.RobotPendingNewDeployment:
		return ReasonPending
	case archMissing:
		return ReasonArchitectureMissing
	case r.Status == fleet.RobotRegistered:
		return ReasonNeverDeployed
	case r.Status == fleet.RobotFailed:
		code := last.FailureCode
		if code == "" {
			code = CodeInternalServerErr
		}
		return ReasonFailedPrefix + code
	case r.Status == fleet.RobotNoResponse:
		return ReasonNoResponse
	}
	return ReasonNotReached
}

// sourceArchitectures returns the architectures the spec's applications have
// bundles for, with the engine's rule (an architecture is missing when no
// application version of the job has a source for it). known is false when
// a version no longer exists: the job would then fail as a whole.
func (s *Service) sourceArchitectures(ctx context.Context, account string, spec fleet.JobSpec) (map[fleet.Architecture]bool, bool, error) {
	archs := map[fleet.Architecture]bool{}
	for _, app := range spec.Apps {
		v, err := s.Store.GetApplication(ctx, account, app.Application, app.ApplicationVersion)
		if errors.Is(err, store.ErrNotFound) {
			return nil, false, nil
		}
		if err != nil {
			return nil, false, fleet.Wrap(fleet.Internal, err, "store failure")
		}
		for _, src := range v.Sources {
			archs[src.Architecture] = true
		}
	}
	return archs, true, nil
}

// Get returns one of the account's jobs without its rows (the console shows
// what a robot's last job deployed).
func (s *Service) Get(ctx context.Context, account, jobARN string) (fleet.Job, error) {
	return s.job(ctx, account, jobARN)
}
