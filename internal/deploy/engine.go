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
)

// Presence remembers when each robot's agent was last heard by this
// process, and hands that to the store in batches (Flush) so that the
// replica driving a job knows of agents that talk to another replica.
type Presence struct {
	mu    sync.Mutex
	seen  map[string]int64
	dirty map[string]int64
}

// Seen records that a robot's agent was heard at ms.
func (p *Presence) Seen(robotARN string, ms int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.seen == nil {
		p.seen, p.dirty = map[string]int64{}, map[string]int64{}
	}
	p.seen[robotARN] = ms
	p.dirty[robotARN] = ms
}

// Last returns when a robot's agent was last heard here, 0 if never.
func (p *Presence) Last(robotARN string) int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.seen[robotARN]
}

// Flush stores what was heard since the last flush; on failure the batch is
// kept for the next one.
func (p *Presence) Flush(ctx context.Context, st store.Agents) error {
	p.mu.Lock()
	batch := p.dirty
	p.dirty = map[string]int64{}
	p.mu.Unlock()
	if len(batch) == 0 {
		return nil
	}
	err := st.RecordAgentsSeen(ctx, batch)
	if err != nil {
		p.mu.Lock()
		for r, ms := range batch {
			if p.dirty[r] < ms {
				p.dirty[r] = ms
			}
		}
		p.mu.Unlock()
	}
	return err
}

// Run flushes every interval until ctx ends, then once more.
func (p *Presence) Run(ctx context.Context, st store.Agents, every time.Duration, log *slog.Logger) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			final, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			defer cancel()
			p.Flush(final, st)
			return
		case <-t.C:
			if err := p.Flush(ctx, st); err != nil && ctx.Err() == nil {
				log.Warn("recording agent liveness failed; retrying at the next flush", "error", err)
			}
		}
	}
}

// Engine drives active jobs: it prepares Pending jobs and advances
// InProgress ones with the planner, committing every change before acting
// on it. A lease in the database makes one engine at a time drive a job.
type Engine struct {
	Store    store.Store
	Bundles  blob.Store
	Presence *Presence
	Limits   Limits
	// Notify wakes a robot's long-poll after it was given work.
	Notify func(robotARN string)
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

	owner     string
	startedMs int64
	// held maps the jobs whose lease this engine holds to the lease's end
	// (epoch ms), so that a wake-up soon after a renewal does not write
	// the lease again. Only the Run goroutine touches it.
	held map[string]int64
	wake chan struct{}
	once sync.Once
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

// Wake asks the engine to look at its jobs now.
func (e *Engine) Wake() {
	e.init()
	select {
	case e.wake <- struct{}{}:
	default:
	}
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
		if e.OnTick != nil {
			e.OnTick(time.Since(start))
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
	held := make(map[string]int64, len(jobs))
	for _, arn := range jobs {
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
	// Per architecture: "" when its bundle can be deployed, else a failure code and reason.
	type archCheck struct{ code, reason string }
	checks := map[fleet.Architecture]archCheck{}
	for _, arch := range []fleet.Architecture{fleet.X86_64, fleet.ARM64, fleet.ARMHF} {
		checks[arch] = archCheck{CodeMissingArch, "The robot application has no source for architecture " + string(arch) + "."}
	}
	for _, app := range j.Spec.Apps {
		v, err := e.Store.GetApplication(ctx, j.Account, app.Application, app.ApplicationVersion)
		if errors.Is(err, store.ErrNotFound) {
			return e.failPreparing(ctx, j, CodeAppDoesNotExist, "Robot application "+app.Application+" version "+app.ApplicationVersion+" no longer exists.", now)
		} else if err != nil {
			return err
		}
		for _, src := range v.Sources {
			obj, err := e.Bundles.Stat(ctx, src.Bucket, src.Key)
			switch {
			case errors.Is(err, blob.ErrNotExist):
				checks[src.Architecture] = archCheck{CodeResourceNotFound, "The bundle s3://" + src.Bucket + "/" + src.Key + " no longer exists."}
			case err != nil:
				return err
			case obj.ETag != src.ETag:
				checks[src.Architecture] = archCheck{CodeEtagMismatch, "The bundle s3://" + src.Bucket + "/" + src.Key + " changed since the version was created."}
			default:
				checks[src.Architecture] = archCheck{}
			}
		}
	}
	var robots []fleet.Robot
	var err error
	if j.Operation == fleet.OpSyncDeploymentJob {
		robots, err = SyncTargets(ctx, e.Store, j.Account, j.Fleet, j.Spec)
	} else {
		robots, err = e.Store.FleetRobots(ctx, j.Account, j.Fleet, 1<<30)
	}
	if err != nil {
		return err
	}
	rows := make([]fleet.RobotDeployment, len(robots))
	for i, r := range robots {
		rows[i] = fleet.RobotDeployment{Job: j.ARN, Robot: r.ARN, Seq: i, Status: fleet.RobotPendingNewDeployment}
		if c := checks[r.Architecture]; c.code != "" {
			rows[i].Status, rows[i].FailureCode, rows[i].FailureReason = fleet.RobotFailed, c.code, c.reason
		}
	}
	if err := e.Store.Prepare(ctx, j.ARN, rows, now); err != nil {
		return err
	}
	e.Log.Info("deployment job prepared", "job", j.ARN, "targets", len(rows))
	return nil
}

// advance observes an InProgress job, plans and applies one step.
func (e *Engine) advance(ctx context.Context, j fleet.Job) error {
	counts, err := e.Store.Counts(ctx, j.ARN)
	if err != nil {
		return err
	}
	cfg := j.Spec.Config
	o := Observed{
		Targets: j.Targets, ConcurrentPercent: cfg.ConcurrentPercent, FailureThresholdPercent: cfg.FailureThresholdPercent,
		RobotTimeoutMs: cfg.RobotTimeoutSeconds * 1000, CreatedMs: j.CreatedMs,
		Failed: counts[fleet.RobotFailed] + counts[fleet.RobotNoResponse], PendingTotal: counts[fleet.RobotPendingNewDeployment],
	}
	deploying, err := e.Store.Rows(ctx, j.ARN, fleet.RobotDeploying, 1<<30)
	if err != nil {
		return err
	}
	// Agents may talk to another replica: what every replica heard is in the store.
	stored, err := e.Store.DeployingAgentsSeen(ctx, j.ARN)
	if err != nil {
		return err
	}
	for _, d := range deploying {
		// A robot is not silent before this engine could have heard it.
		seen := max(e.Presence.Last(d.Robot), stored[d.Robot], e.startedMs)
		o.Deploying = append(o.Deploying, Deploying{Robot: d.Robot, StartedMs: d.StartedMs, AgentSeenMs: seen})
	}
	if free := Window(o.Targets, o.ConcurrentPercent) - len(deploying); free > 0 && o.PendingTotal > 0 {
		pending, err := e.Store.Rows(ctx, j.ARN, fleet.RobotPendingNewDeployment, free)
		if err != nil {
			return err
		}
		for _, p := range pending {
			o.Pending = append(o.Pending, p.Robot)
		}
	}
	now := e.Now().UnixMilli()
	plan := Decide(o, e.Limits, now)
	if plan.Empty() {
		return nil
	}
	step := store.Step{Owner: e.owner, Start: plan.Start}
	for _, t := range plan.NoResponse {
		step.NoResponse = append(step.NoResponse, store.RobotOutcome{Robot: t.Robot, Code: CodeRobotNoResponse, Reason: t.Reason})
	}
	if plan.Finish != nil {
		step.Finish = store.JobOutcome{Status: plan.Finish.Status, Code: plan.Finish.Code, Reason: plan.Finish.Reason}
	}
	if err := e.Store.Apply(ctx, j.ARN, step, now); err != nil {
		return err
	}
	if e.Notify != nil {
		for _, r := range plan.Start {
			e.Notify(r)
		}
		for _, t := range plan.NoResponse {
			e.Notify(t.Robot)
		}
	}
	if plan.Finish != nil {
		e.Log.Info("deployment job finished", "job", j.ARN, "status", plan.Finish.Status, "failure_code", plan.Finish.Code)
	}
	return nil
}
