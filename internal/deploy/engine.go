package deploy

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/fleetsync/fleetsync/internal/blob"
	"github.com/fleetsync/fleetsync/internal/fleet"
	"github.com/fleetsync/fleetsync/internal/store"
	"github.com/fleetsync/fleetsync/internal/tenancy"
)

// EngineStore is what the engine reads and writes; the methods are those of
// store.Jobs, store.Fleets, store.Robots, store.Applications and
// store.Agents, documented there.
type EngineStore interface {
	ActiveJobs(ctx context.Context) ([]string, error)
	AcquireLease(ctx context.Context, jobARN, owner string, nowMs, untilMs int64) (bool, error)
	GetJob(ctx context.Context, account, arn string) (fleet.Job, error)
	GetFleet(ctx context.Context, account, arn string) (fleet.Fleet, error)
	GetApplication(ctx context.Context, account, arn, version string) (fleet.Application, error)
	FleetRobots(ctx context.Context, account, fleetARN string, limit int) ([]fleet.Robot, error)
	SyncTargets(ctx context.Context, account, fleetARN, fingerprint string) ([]fleet.Robot, error)
	StartPreparing(ctx context.Context, jobARN string) error
	Prepare(ctx context.Context, jobARN string, rows []fleet.RobotDeployment, finish store.JobOutcome, nowMs int64) error
	FailJob(ctx context.Context, jobARN, code, reason string, nowMs int64) error
	Counts(ctx context.Context, jobARN string, statuses ...fleet.RobotStatus) (store.JobCounts, error)
	CountsBefore(ctx context.Context, jobARN string, seq int) (store.JobCounts, error)
	QuarantinedRobots(ctx context.Context, account, fleetARN string) ([]store.RobotFailures, error)
	Rows(ctx context.Context, jobARN string, status fleet.RobotStatus, limit int) ([]fleet.RobotDeployment, error)
	Deploying(ctx context.Context, jobARN string, cut store.DeployingCut) ([]store.Deploying, error)
	Apply(ctx context.Context, jobARN string, step store.Step, nowMs int64) error
	DeleteJobsFinishedBefore(ctx context.Context, ms int64) (int, error)
}

// Engine drives active jobs: it prepares Pending jobs and advances
// InProgress ones with the planner, committing every change before acting
// on it. A lease in the database makes one engine at a time drive a job.
type Engine struct {
	Store EngineStore
	// Bundles is the bundle store, reached only as the job's account sees
	// it (Bundles.For): a bucket it may not use holds nothing.
	Bundles  *tenancy.Bundles
	Presence *Presence
	Limits   Limits
	// Wake wakes a robot's long poll after it was given work or timed out;
	// nil is fine.
	Wake Waker
	// Tick is how often every active job is looked at without a wake-up.
	Tick     time.Duration
	LeaseTTL time.Duration
	// Retention deletes jobs finished longer ago than this (90 days).
	Retention time.Duration
	Log       *slog.Logger
	Now       func() time.Time
	// Owner identifies this engine in job leases. A process restarted with
	// the same owner takes its jobs back at once instead of waiting for its
	// old leases to lapse; "" means a random one.
	Owner string
	// OnTick, when set, is told how long each pass over the active jobs took.
	OnTick func(time.Duration)
	// AgentBacklog, when set, counts the agent requests waiting in this
	// process for their turn to be served: robots are then started as fast
	// as it falls below startBacklog, and minStarts a second while it does
	// not (startBudget). Nil: every robot a window allows starts at once.
	AgentBacklog func() int

	owner     string
	startedMs int64
	// held maps the jobs whose lease this engine holds to the lease's end
	// (epoch ms), so that a wake-up soon after a renewal does not write
	// the lease again. Only the Run goroutine touches it.
	held map[string]int64
	// livenessAt maps the jobs driven here to when their deploying rows are
	// next read for timeouts (epoch ms): at most once per livenessEvery,
	// not at every pass. Only the Run goroutine touches it.
	livenessAt map[string]int64
	// pace is the current pass's start budget (startBudget), shared by
	// the jobs it advances; floorAt is when a pass may next start
	// minStarts robots on a node whose agent backlog is full: a second
	// after a pass last did. Only Run's goroutine touches them.
	pace    startPace
	floorAt int64
	wake    chan struct{}
	once    sync.Once
}

func (e *Engine) init() {
	e.once.Do(func() {
		e.owner = e.Owner
		if e.owner == "" {
			b := make([]byte, 8)
			rand.Read(b)
			e.owner = hex.EncodeToString(b)
		}
		e.wake = make(chan struct{}, 1)
		if e.Now == nil {
			e.Now = time.Now
		}
		e.startedMs = e.Now().UnixMilli()
	})
}

// WakeEngine asks the engine to look at its jobs now.
func (e *Engine) WakeEngine() {
	e.init()
	select {
	case e.wake <- struct{}{}:
	default:
	}
}

// livenessEvery is how often a job's deploying rows are read for
// timeouts at most: timeouts are whole seconds, while under load the
// passes follow each other every few tens of milliseconds, and at 100,000
// robots each read of the rows that could time out cost a tenth of the
// server's CPU.
const livenessEvery = time.Second

// minRest is the least time between two engine passes: a wake-up sooner
// waits for it. A robot's next batch starts at most this much later.
const minRest = 20 * time.Millisecond

// startBacklog and minStarts pace the robots a pass starts (AgentBacklog).
// Every robot started is woken at once and asks for its deployment, and its
// reports follow. When a window of 100,000 robots opened in one pass, their
// hand-outs queued ahead of every report, reports waited past the agents'
// 60 s timeout and were sent again, and so were the polls: 12.7 agent
// requests per robot, against 4 at 10,000. Starting robots only while
// fewer than startBacklog requests wait keeps the wait near a second here.
// A node kept busy by other work (such as 100,000 robots polling every
// 30 s) still starts minStarts robots a second, so a rollout never stops.
const (
	startBacklog = 1024
	minStarts    = 256
)

// startPace is what a pass may start (Engine.startBudget).
type startPace struct {
	// paced: the starts are bounded by left (no AgentBacklog: they are not).
	paced bool
	// left is how many robots the pass may still start.
	left int
	// spare: left is the node's spare capacity, so a job held back by it
	// asks for the next pass at once; floor: left is the once-a-second
	// minStarts of a full backlog.
	spare, floor bool
}

// startBudget is what the pass beginning at nowMs may start.
func (e *Engine) startBudget(nowMs int64) startPace {
	if e.AgentBacklog == nil {
		return startPace{}
	}
	// Read once: a second read could find the backlog grown past
	// startBacklog and leave a negative budget.
	room := startBacklog - e.AgentBacklog()
	switch {
	case room > 0:
		return startPace{paced: true, left: room, spare: true}
	case nowMs >= e.floorAt:
		return startPace{paced: true, left: minStarts, floor: true}
	}
	return startPace{paced: true}
}

// Run drives jobs until ctx ends.
func (e *Engine) Run(ctx context.Context) {
	e.init()
	ticker := time.NewTicker(e.Tick)
	defer ticker.Stop()
	lastRetention := time.Time{}
	for {
		start := time.Now()
		e.RunOnce(ctx)
		ended := time.Now()
		took := ended.Sub(start)
		if e.OnTick != nil {
			e.OnTick(took)
		}
		if now := e.Now(); now.Sub(lastRetention) > time.Hour && e.Retention > 0 {
			lastRetention = now
			if n, err := e.Store.DeleteJobsFinishedBefore(ctx, now.Add(-e.Retention).UnixMilli()); err != nil {
				e.Log.Error("retention sweep failed", "error", err)
			} else if n > 0 {
				e.Log.Info("expired deployment jobs deleted", "count", n)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		case <-e.wake:
		}
		// Under load every robot's result wakes the engine and passes would
		// follow each other back to back, each re-reading every deploying
		// row. Resting after a pass as long as it took (at least minRest)
		// holds the engine to half of a core at most, and the next pass
		// takes in every result that came meanwhile at once. So under load
		// a cheaper pass saves little CPU: passes only come sooner. Counting
		// by status from counters kept by SQLite triggers, instead of
		// Counts' COUNT over the job's rows (14 % of CPU at 30,000 robots),
		// cost 5 % more CPU per robot at 10,000 (three interleaved pairs):
		// every status change paid for the counters.
		if rest := max(took, minRest) - time.Since(ended); rest > 0 {
			t := time.NewTimer(rest)
			select {
			case <-ctx.Done():
				t.Stop()
				return
			case <-t.C:
			}
		}
	}
}

// RunOnce looks at every active job once, driving those whose lease it
// holds or can take. It is not safe for concurrent use (Run calls it).
func (e *Engine) RunOnce(ctx context.Context) {
	e.init()
	jobs, err := e.Store.ActiveJobs(ctx)
	if err != nil {
		if ctx.Err() == nil {
			e.Log.Error("listing active jobs failed", "error", err)
		}
		return
	}
	e.pace = e.startBudget(e.Now().UnixMilli())
	held := make(map[string]int64, len(jobs))
	// Only the active jobs' liveness times are kept.
	old := e.livenessAt
	e.livenessAt = make(map[string]int64, len(jobs))
	for _, arn := range jobs {
		e.livenessAt[arn] = old[arn]
		now := e.Now()
		// A lease with more than two thirds of its time left is still ours
		// for sure; renewing it again would only cost a write.
		if until, ok := e.held[arn]; ok && until-now.UnixMilli() > e.LeaseTTL.Milliseconds()*2/3 {
			held[arn] = until
		} else {
			until := now.Add(e.LeaseTTL).UnixMilli()
			ok, err := e.Store.AcquireLease(ctx, arn, e.owner, now.UnixMilli(), until)
			if err != nil || !ok {
				continue
			}
			held[arn] = until
		}
		if err := e.step(ctx, arn); err != nil && ctx.Err() == nil && !errors.Is(err, store.ErrConflict) {
			e.Log.Error("job step failed", "job", arn, "error", err)
		}
	}
	e.held = held
}

// step moves one job forward as far as it can go now.
func (e *Engine) step(ctx context.Context, arn string) error {
	j, err := e.Store.GetJob(ctx, "", arn)
	if err != nil {
		return err
	}
	switch j.Status {
	case fleet.JobPending:
		if err := e.Store.StartPreparing(ctx, arn); err != nil {
			return err
		}
		j.Status = fleet.JobPreparing
		fallthrough
	case fleet.JobPreparing:
		if err := e.prepare(ctx, j); err != nil {
			return err
		}
		j, err = e.Store.GetJob(ctx, "", arn)
		if err != nil || j.Status != fleet.JobInProgress {
			return err
		}
		fallthrough
	case fleet.JobInProgress:
		return e.advance(ctx, j)
	}
	return nil
}

// failPreparing ends a job that cannot start, and says so in the log like
// every other job end.
func (e *Engine) failPreparing(ctx context.Context, j fleet.Job, code, reason string, now int64) error {
	if err := e.Store.FailJob(ctx, j.ARN, code, reason, now); err != nil {
		return err
	}
	e.Log.Info("deployment job finished", "job", j.ARN, "status", fleet.JobFailed, "failure_code", code, "reason", reason, "during", fleet.JobPreparing)
	return nil
}

// prepare resolves a job's targets and checks what it deploys, then writes
// its rows in one transaction.
func (e *Engine) prepare(ctx context.Context, j fleet.Job) error {
	now := e.Now().UnixMilli()
	if _, err := e.Store.GetFleet(ctx, j.Account, j.Fleet); errors.Is(err, store.ErrNotFound) {
		return e.failPreparing(ctx, j, CodeFleetDoesNotExist, "The fleet was deleted.", now)
	} else if err != nil {
		return err
	}
	prep, err := prepareSources(ctx, e.Store, e.Bundles.For(j.Account), j)
	if err != nil {
		return err
	}
	if prep.fail != nil {
		return e.failPreparing(ctx, j, prep.fail.Code, prep.fail.Reason, now)
	}
	var robots []fleet.Robot
	if j.Operation == fleet.OpSyncDeploymentJob {
		robots, err = SyncTargets(ctx, e.Store, j.Account, j.Fleet, j.Spec)
	} else {
		robots, err = e.Store.FleetRobots(ctx, j.Account, j.Fleet, 1<<30)
	}
	if err != nil {
		return err
	}
	rows := prep.rows(j.ARN, robots)
	// The planner decides whether the job runs or is over already (no
	// targets; every target failed its checks): the store only writes.
	var finish store.JobOutcome
	if plan := Decide(ObservePrepared(j, rows), e.Limits, now); plan.Finish != nil {
		finish = store.JobOutcome{Status: plan.Finish.Status, Code: plan.Finish.Code, Reason: plan.Finish.Reason}
	}
	if err := e.Store.Prepare(ctx, j.ARN, rows, finish, now); err != nil {
		return err
	}
	// The store leaves out robots that left the fleet meanwhile: the job's
	// targets may be fewer than were resolved.
	e.Log.Info("deployment job prepared", "job", j.ARN, "resolved_targets", len(rows), "finished", finish.Status)
	return nil
}

// ObservePrepared is what the planner knows of a job whose rows are about
// to be written: nothing deploys yet, rows failed at preparation count as
// failed.
func ObservePrepared(j fleet.Job, rows []fleet.RobotDeployment) Observed {
	cfg := j.Spec.Config
	o := Observed{
		Targets: len(rows), ConcurrentPercent: cfg.ConcurrentPercent, FailureThresholdPercent: cfg.FailureThresholdPercent,
		RobotTimeoutMs: cfg.RobotTimeoutSeconds * 1000, CreatedMs: j.CreatedMs, PausedMs: j.PausedMs, PausedTotalMs: j.PausedTotalMs,
	}
	o.Canary = CanarySize(j)
	window := Window(o.Targets, o.ConcurrentPercent)
	for _, r := range rows {
		canary := r.Seq < o.Canary
		switch r.Status {
		case fleet.RobotFailed, fleet.RobotNoResponse:
			o.Failed++
			if canary {
				o.CanaryFailed++
			}
		case fleet.RobotPendingNewDeployment:
			o.PendingTotal++
			if canary {
				o.CanaryPending++
			}
			if len(o.Pending) < window {
				o.Pending = append(o.Pending, r.Robot)
			}
		}
	}
	return o
}

// observeCanary fills in the canary counts of an InProgress job.
func (e *Engine) observeCanary(ctx context.Context, j fleet.Job, o *Observed) error {
	o.Canary = CanarySize(j)
	if o.Canary == 0 {
		return nil
	}
	c, err := e.Store.CountsBefore(ctx, j.ARN, o.Canary)
	if err != nil {
		return err
	}
	o.CanaryInSync = c[fleet.RobotInSync]
	o.CanaryFailed = c[fleet.RobotFailed] + c[fleet.RobotNoResponse]
	o.CanaryPending = c[fleet.RobotPendingNewDeployment]
	return nil
}

// advance observes an InProgress job, plans and applies one step.
func (e *Engine) advance(ctx context.Context, j fleet.Job) error {
	// Neither the InSync nor the PendingNewDeployment rows, most of a big
	// job's, are counted: nothing here needs the first, and of the second
	// only whether there are any (read below with those that start). At
	// 100,000 robots counting every row took a tenth of the CPU.
	counts, err := e.Store.Counts(ctx, j.ARN, fleet.RobotFailed, fleet.RobotNoResponse, fleet.RobotDeploying)
	if err != nil {
		return err
	}
	cfg := j.Spec.Config
	o := Observed{
		Targets: j.Targets, ConcurrentPercent: cfg.ConcurrentPercent, FailureThresholdPercent: cfg.FailureThresholdPercent,
		RobotTimeoutMs: cfg.RobotTimeoutSeconds * 1000, CreatedMs: j.CreatedMs, PausedMs: j.PausedMs, PausedTotalMs: j.PausedTotalMs,
		Failed: counts[fleet.RobotFailed] + counts[fleet.RobotNoResponse],
	}
	if err := e.observeCanary(ctx, j, &o); err != nil {
		return err
	}
	// Only rows that could time out now are read (the rest are counted),
	// at most once per livenessEvery, but all of them at once when the
	// fleet timeout ends the job with them; agents may talk to another
	// replica: what every replica heard is in the store.
	now := e.Now().UnixMilli()
	o.DeployingTotal = counts[fleet.RobotDeploying]
	var deploying []store.Deploying
	if o.DeployingTotal > 0 && (now >= e.livenessAt[j.ARN] || fleetTimedOut(o, e.Limits, now)) {
		if deploying, err = e.Store.Deploying(ctx, j.ARN, LivenessCutoff(o, e.Limits, now)); err != nil {
			return err
		}
		e.livenessAt[j.ARN] = now + livenessEvery.Milliseconds()
	}
	for _, d := range deploying {
		// A robot is not silent before this engine could have heard it.
		seen := max(e.Presence.Last(d.Robot, now), d.SeenMs, e.startedMs)
		o.Deploying = append(o.Deploying, Deploying{Robot: d.Robot, StartedMs: d.StartedMs, AgentSeenMs: seen})
	}
	// The rows that may start now are read, and one more: whether any
	// other waits is all Decide needs of PendingTotal.
	var starts int
	if free := Window(o.Targets, o.ConcurrentPercent) - o.DeployingTotal; free > 0 && o.PausedMs == 0 {
		starts = free
		if e.pace.paced {
			starts = min(free, e.pace.left)
			// With none left no Pending row is read: nothing starts.
			o.MaxStarts = e.pace.left
		}
	}
	pending, err := e.Store.Rows(ctx, j.ARN, fleet.RobotPendingNewDeployment, starts+1)
	if err != nil {
		return err
	}
	o.PendingTotal = len(pending)
	for _, p := range pending[:min(len(pending), starts)] {
		o.Pending = append(o.Pending, p.Robot)
	}
	plan := Decide(o, e.Limits, now)
	if plan.Empty() {
		return nil
	}
	step := store.Step{Owner: e.owner, Start: plan.Start}
	for _, t := range plan.NoResponse {
		step.NoResponse = append(step.NoResponse, store.RobotOutcome{Robot: t.Robot, Code: fleet.OutcomeOf(t.Cause).Code, Reason: t.Reason})
	}
	if plan.Finish != nil {
		step.Finish = store.JobOutcome{Status: plan.Finish.Status, Code: plan.Finish.Code, Reason: plan.Finish.Reason}
	}
	if err := e.Store.Apply(ctx, j.ARN, step, now); err != nil {
		return err
	}
	if e.pace.paced {
		e.pace.left -= len(plan.Start)
		if e.pace.floor && len(plan.Start) > 0 {
			e.floorAt = now + time.Second.Milliseconds()
		}
		if e.pace.spare && e.pace.left <= 0 && len(pending) > len(plan.Start) {
			// Held back while the node had room: the next pass comes at
			// once (after minRest), not at the next tick.
			e.WakeEngine()
		}
	}
	wake := orNop(e.Wake)
	for _, r := range plan.Start {
		wake.WakeRobot(r)
	}
	for _, t := range plan.NoResponse {
		wake.WakeRobot(t.Robot)
	}
	if plan.Finish != nil {
		e.Log.Info("deployment job finished", "job", j.ARN, "status", plan.Finish.Status, "failure_code", plan.Finish.Code)
	}
	return nil
}

// sourceStore reads application versions (store.Applications).
type sourceStore interface {
	GetApplication(ctx context.Context, account, arn, version string) (fleet.Application, error)
}

// preparation is what preparing a job finds about what it deploys: per
// architecture, the bundle object or why robots of it fail at once.
type preparation struct {
	// fail, when set, fails the job as a whole (a version is gone).
	fail *Finish
	// checks: nil when the architecture's bundle can be deployed.
	checks map[fleet.Architecture]*SourceError
	// objects are the deployable bundles by architecture.
	objects map[fleet.Architecture]preparedSource
}

// preparedSource is one architecture's bundle as preparation saw it.
type preparedSource struct {
	Bucket, Key string
	Object      CheckedObject
}

// prepareSources is the one check of a job's applications and bundles,
// shared by the engine's preparation and the sync plan.
func prepareSources(ctx context.Context, st sourceStore, bundles blob.Store, j fleet.Job) (preparation, error) {
	p := preparation{checks: map[fleet.Architecture]*SourceError{}, objects: map[fleet.Architecture]preparedSource{}}
	for _, arch := range []fleet.Architecture{fleet.X86_64, fleet.ARM64, fleet.ARMHF} {
		p.checks[arch] = &SourceError{Code: CodeMissingArch, Reason: "The robot application has no source for architecture " + string(arch) + "."}
	}
	for _, app := range j.Spec.Apps {
		v, err := st.GetApplication(ctx, j.Account, app.Application, app.ApplicationVersion)
		if errors.Is(err, store.ErrNotFound) {
			p.fail = &Finish{fleet.JobFailed, CodeAppDoesNotExist, "Robot application " + app.Application + " version " + app.ApplicationVersion + " no longer exists."}
			return p, nil
		} else if err != nil {
			return p, err
		}
		for _, src := range v.Sources {
			obj, err := CheckSource(ctx, bundles, src.Bucket, src.Key, src.ETag, false)
			se, bad := errors.AsType[*SourceError](err)
			if err != nil && !bad {
				return p, err
			}
			p.checks[src.Architecture] = se
			if se == nil {
				p.objects[src.Architecture] = preparedSource{Bucket: src.Bucket, Key: src.Key, Object: obj.recorded(src)}
			}
		}
	}
	return p, nil
}

// rows are the job's per-robot rows for robots in start order: pending, or
// failed at once when their architecture's bundle cannot be deployed.
func (p preparation) rows(jobARN string, robots []fleet.Robot) []fleet.RobotDeployment {
	rows := make([]fleet.RobotDeployment, len(robots))
	for i, r := range robots {
		rows[i] = fleet.RobotDeployment{Job: jobARN, Robot: r.ARN, Seq: i, Status: fleet.RobotPendingNewDeployment}
		if c := p.checks[r.Architecture]; c != nil {
			o, _ := fleet.ReportedFailure(c.Code, "")
			rows[i].Status, rows[i].FailureCode, rows[i].FailureReason, rows[i].Step = fleet.RobotFailed, c.Code, c.Reason, o.Step
		}
	}
	return rows
}
