package deploy

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/fleetsync/fleetsync/internal/fleet"
)

// AutoSyncTag is the tag that turns continuous sync on for a fleet, set with
// the ordinary TagResource: fleetsync:autoSync=true (the value is matched
// without regard to case).
const AutoSyncTag = "fleetsync:autoSync"

// AutoSync is continuous sync (SPEC §7): it brings robots that join a fleet
// tagged AutoSyncTag=true onto the fleet's latest deployment by starting an
// ordinary Sync job through Service.Sync, so batching, the failure threshold
// and ConcurrentDeploymentException hold as for any Sync; while the fleet
// has an active job it waits for it to end.
//
// It acts only on robots that were never deployed since they joined
// (status Registered): a newly registered robot, or one that was deregistered
// and comes back — unless the last job that targeted the robot stopped or was
// canceled before reaching it. A Failed robot is not retried by itself (that would loop on
// a robot that always fails), and a NoResponse robot that comes back online
// completes the deployment it missed on its own (SPEC §5).
//
// Several replicas may run it at once: the job is created with a client
// token derived from the source job and the robots it acts for, so racing
// replicas get the same job or ConcurrentDeploymentException, never two
// jobs. The same token also means a job the operator canceled is not
// started again for the same robots.
type AutoSync struct {
	Jobs *Service
	// Tick is how often tagged fleets are looked at.
	Tick time.Duration
	Log  *slog.Logger
	// OnStart, when set, is told of every job continuous sync starts.
	OnStart func(fleet.Job)

	mu sync.Mutex
	// notDue remembers, by fleet, a drift report that found no robot due,
	// so that a fleet whose unreached robots wait for the operator is not
	// reported on every tick (a report reads every robot of the fleet).
	notDue map[string]notDue
}

// notDue is what a fleet's report found nothing due for: its source job and
// how many robots were Registered, until notDueRecheck after it.
type notDue struct {
	source     string
	registered int
	at         time.Time
}

// notDueRecheck bounds how long a fleet found not due is taken at its
// word while its source job and Registered count stay the same (one robot
// deregistered and another registered in one tick leave the count alone).
const notDueRecheck = 30 * time.Second

// Run looks at tagged fleets every Tick until ctx ends.
func (a *AutoSync) Run(ctx context.Context) {
	t := time.NewTicker(a.Tick)
	defer t.Stop()
	for {
		a.RunOnce(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// RunOnce starts the Sync jobs due now and returns them.
func (a *AutoSync) RunOnce(ctx context.Context) []fleet.Job {
	fleets, err := a.Jobs.Store.AutoSyncCandidates(ctx, AutoSyncTag)
	if err != nil {
		if ctx.Err() == nil {
			a.Log.Error("listing auto-sync fleets failed", "error", err)
		}
		return nil
	}
	// What is remembered of fleets no longer candidates (deleted, untagged,
	// no robot Registered) is dropped, so the memo stays the candidates'.
	a.mu.Lock()
	for arn := range a.notDue {
		if !slices.ContainsFunc(fleets, func(f fleet.TaggedFleet) bool { return f.ARN == arn }) {
			delete(a.notDue, arn)
		}
	}
	a.mu.Unlock()
	var started []fleet.Job
	for _, f := range fleets {
		if !strings.EqualFold(f.TagValue, "true") {
			continue
		}
		j, ok, err := a.syncFleet(ctx, f)
		if err != nil {
			if ctx.Err() == nil {
				a.Log.Error("auto-sync failed", "fleet", f.ARN, "error", err)
			}
			continue
		}
		if ok {
			started = append(started, j)
			a.Log.Info("auto-sync job started", "fleet", f.ARN, "job", j.ARN)
			if a.OnStart != nil {
				a.OnStart(j)
			}
		}
	}
	return started
}

// syncFleet starts a Sync of one fleet if a never-deployed robot is among
// its Sync targets; ok reports whether a new job was created.
func (a *AutoSync) syncFleet(ctx context.Context, f fleet.TaggedFleet) (fleet.Job, bool, error) {
	account, fleetARN := f.Account, f.ARN
	// The fleet's source job first (two reads): while it runs, or while
	// nothing changed since a report found nothing due, the report is not
	// built.
	fl, source, err := a.Jobs.source(ctx, account, fleetARN)
	if fleet.CodeOf(err) == fleet.NotFound {
		return fleet.Job{}, false, nil // deleted, or no deployment yet
	}
	if err != nil {
		return fleet.Job{}, false, err
	}
	if source.Status.Active() {
		return fleet.Job{}, false, nil // wait for it to end
	}
	a.mu.Lock()
	memo, seen := a.notDue[fleetARN]
	a.mu.Unlock()
	if seen && memo.source == source.ARN && memo.registered == f.Registered && time.Since(memo.at) < notDueRecheck {
		return fleet.Job{}, false, nil
	}
	d, err := a.Jobs.driftOf(ctx, account, fleetARN, fl, source)
	if fleet.CodeOf(err) == fleet.NotFound {
		return fleet.Job{}, false, nil // deleted meanwhile
	}
	if err != nil {
		return fleet.Job{}, false, err
	}
	h := sha256.New()
	h.Write([]byte(d.Source.ARN))
	due := false
	for _, r := range d.Robots {
		// A robot the last job left unreached (it stopped early or was
		// canceled) waits for the operator: retrying it by itself could
		// start job after job that stops before reaching it.
		if r.Reason == ReasonNeverDeployed && r.Last.Status != fleet.RobotPendingNewDeployment {
			due = true
			h.Write([]byte("\n" + r.Robot.ARN))
		}
	}
	nothingNew := func() (fleet.Job, bool, error) {
		a.mu.Lock()
		if a.notDue == nil {
			a.notDue = map[string]notDue{}
		}
		a.notDue[fleetARN] = notDue{source: d.Source.ARN, registered: f.Registered, at: time.Now()}
		a.mu.Unlock()
		return fleet.Job{}, false, nil
	}
	if !due {
		return nothingNew()
	}
	token := "fleetsync-autosync-" + hex.EncodeToString(h.Sum(nil))[:40]
	j, created, err := a.Jobs.sync(ctx, account, token, fleetARN)
	if err != nil {
		switch fleet.CodeOf(err) {
		case fleet.ConcurrentDeployment, fleet.NotFound:
			return nothingNew() // another replica or an operator was first
		case fleet.LimitExceeded:
			// The account's active-job quota is full: try again next tick
			// without an error line every tick.
			a.Log.Debug("auto-sync waits for the active job quota", "fleet", fleetARN)
			return fleet.Job{}, false, nil
		}
		return fleet.Job{}, false, err
	}
	if !created {
		// A replayed token returns the earlier job (one an operator
		// canceled, say): nothing new was started, nor will be for the
		// same robots.
		return nothingNew()
	}
	return j, true, nil
}
