package sim

import (
	"context"
	"errors"
	"math"
	"net/http"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/fleetsync/fleetsync/internal/agent/client"
	"github.com/fleetsync/fleetsync/internal/proto"
)

// Robot is one simulated robot. Its exported fields are set by New and must
// not be changed; its methods are safe for concurrent use.
type Robot struct {
	// Name is the robot's name: Options.NamePrefix and its index.
	Name string
	// AgentID is the robot's key bound to Options.Account (proto.BoundAgentID): register it as the
	// robot's greengrassGroupId.
	AgentID string

	fleet  *Fleet
	client *client.Client

	mu        sync.Mutex
	behavior  Behavior
	changed   chan struct{} // closed and replaced by SetBehavior
	inflight  []inflight    // requests under way, innermost last
	current   string
	started   []string
	completed []string
	failed    []string
	aborted   []string

	// Owned by the robot's goroutine (and kept across Stop and Start).
	job     *deployment
	pending *final // final report not delivered yet
	attempt int    // consecutive failed requests, for the backoff
}

// inflight is a request SetBehavior may cancel.
type inflight struct {
	cancel context.CancelFunc
	hang   bool // a poll made while hanging: canceled when Hang is cleared
}

// deployment is the job a robot is running.
type deployment struct {
	a     *proto.Assignment
	steps []proto.Step
	next  int  // index in steps of the step to run next
	count bool // counted in Fleet.deploying
	// reported: a progress report of the deployment was sent (Coalesce:
	// the ones after it are held until the robot waits); held is the
	// latest report not sent yet.
	reported bool
	held     *proto.Report
}

// final is a final report waiting for delivery.
type final struct {
	rep      proto.Report
	previous string      // Current before the job, restored on a late abort
	d        *deployment // counted in Fleet.deploying until first sent
}

// SetBehavior changes how the robot behaves from now on; a deployment under
// way follows the new behavior from its next step.
func (r *Robot) SetBehavior(b Behavior) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.behavior = b
	for _, in := range r.inflight {
		if b.Offline || (in.hang && !b.Hang) {
			in.cancel()
		}
	}
	close(r.changed)
	r.changed = make(chan struct{})
}

// Behavior returns the robot's current behavior.
func (r *Robot) Behavior() Behavior {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.behavior
}

// Started returns the deployment job ARNs the robot received assignments
// for, in order.
func (r *Robot) Started() []string { return r.list(&r.started) }

// Completed returns the deployment job ARNs the robot finished
// successfully, in order (recorded when it finishes, before it reports).
func (r *Robot) Completed() []string { return r.list(&r.completed) }

// Failed returns the deployment job ARNs the robot failed, in order.
func (r *Robot) Failed() []string { return r.list(&r.failed) }

// Aborted returns the deployment job ARNs the robot stopped and rolled back
// on the server's word (an abort, a 409 NotAssigned, or a newer assignment
// replacing it), in order. A job also in Completed was aborted in answer to
// its final report.
func (r *Robot) Aborted() []string { return r.list(&r.aborted) }

// Current returns the deployment job the robot runs, the one it sends as
// Current in its polls ("" before its first success).
func (r *Robot) Current() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.current
}

func (r *Robot) list(l *[]string) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(*l)
}

func (r *Robot) appendTo(l *[]string, job string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	*l = append(*l, job)
}

// snapshot returns the behavior and a channel closed when it next changes.
func (r *Robot) snapshot() (Behavior, <-chan struct{}) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.behavior, r.changed
}

// begin registers a request context SetBehavior can cancel; end it with the
// returned function, which reports whether SetBehavior canceled it.
func (r *Robot) begin(ctx context.Context, hang bool) (context.Context, func() bool) {
	rctx, cancel := context.WithCancel(ctx)
	r.mu.Lock()
	r.inflight = append(r.inflight, inflight{cancel: cancel, hang: hang})
	r.mu.Unlock()
	return rctx, func() bool {
		interrupted := rctx.Err() != nil && ctx.Err() == nil
		cancel()
		r.mu.Lock()
		r.inflight = r.inflight[:len(r.inflight)-1]
		r.mu.Unlock()
		return interrupted
	}
}

// sleep waits d (forever when d < 0) or until wake is closed; it returns
// false when ctx is done.
func sleep(ctx context.Context, d time.Duration, wake <-chan struct{}) bool {
	if d == 0 {
		return ctx.Err() == nil
	}
	var timeout <-chan time.Time
	if d > 0 {
		t := time.NewTimer(d)
		defer t.Stop()
		timeout = t.C
	}
	select {
	case <-timeout:
	case <-wake:
	case <-ctx.Done():
		return false
	}
	return ctx.Err() == nil
}

// backoff counts a failed request (by kind, see Stats.ErrorKinds) and
// waits the backoff (cut short by a behavior change).
func (r *Robot) backoff(ctx context.Context, what string, err error, wake <-chan struct{}) {
	r.fleet.failed(what, err)
	base := r.fleet.opts.RetryBase
	d := client.BackoffWith(base, 60*base, r.attempt)
	r.attempt++
	sleep(ctx, d, wake)
}

// run is the robot's goroutine.
func (r *Robot) run(ctx context.Context) {
	for ctx.Err() == nil {
		if r.job != nil {
			r.deploy(ctx)
			continue
		}
		b, changed := r.snapshot()
		switch {
		case b.Offline:
			sleep(ctx, -1, changed)
		case r.pending != nil:
			r.flush(ctx)
		default:
			r.poll(ctx, false)
		}
	}
}

// poll makes one poll and acts on its answer.
func (r *Robot) poll(ctx context.Context, hanging bool) {
	req := proto.PollRequest{}
	if w := r.fleet.opts.PollWait; w > 0 {
		req.WaitSeconds = int(math.Ceil(w.Seconds()))
	}
	// Current names the deployment running now (so the server can abort
	// it, and does not send it again), else the last one finished.
	if r.job != nil {
		req.Current = &proto.Current{DeploymentJob: r.job.a.DeploymentJob}
	} else if cur := r.Current(); cur != "" {
		req.Current = &proto.Current{DeploymentJob: cur, Finished: true}
	}
	_, changed := r.snapshot()
	rctx, end := r.begin(ctx, hanging)
	resp, err := r.client.Poll(rctx, req)
	if end() || ctx.Err() != nil {
		return // canceled by a behavior change or Stop: the answer is lost
	}
	r.fleet.polls.Add(1)
	if err != nil {
		r.backoff(ctx, "poll", err, changed)
		return
	}
	r.attempt = 0
	if r.job != nil && resp.Abort == r.job.a.DeploymentJob {
		r.drop()
	}
	if a := resp.Assignment; a != nil {
		if r.job != nil && r.job.a.DeploymentJob == a.DeploymentJob {
			return // the job it runs, sent again
		}
		if r.job != nil {
			r.drop() // replaced by a newer assignment
		}
		r.startJob(a)
		return
	}
	if req.WaitSeconds == 0 {
		sleep(ctx, time.Duration(max(resp.PollIntervalSeconds, 1))*time.Second, changed)
	}
}

func (r *Robot) startJob(a *proto.Assignment) {
	steps := a.Steps()
	r.job = &deployment{a: a, steps: steps, count: true}
	r.fleet.enter()
	r.appendTo(&r.started, a.DeploymentJob)
}

// uncount takes the job out of Fleet.deploying, once.
func (r *Robot) uncount(d *deployment) {
	if d.count {
		d.count = false
		r.fleet.leave()
	}
}

// drop stops the running job on the server's word; the previous application
// stays (Current is unchanged).
func (r *Robot) drop() {
	d := r.job
	r.job = nil
	r.uncount(d)
	r.appendTo(&r.aborted, d.a.DeploymentJob)
}

func (r *Robot) alive(ctx context.Context, d *deployment) bool {
	return ctx.Err() == nil && r.job == d
}

// deploy runs the current job's remaining steps. It returns when the job is
// over (r.job changed) or ctx is done (the job stays, to resume at Start).
func (r *Robot) deploy(ctx context.Context) {
	d := r.job
	for r.alive(ctx, d) {
		step := d.steps[d.next]
		b, _ := r.snapshot()
		if step != proto.StepValidating && b.Hang {
			r.hang(ctx, d)
			continue
		}
		stepDelay := b.Delay / time.Duration(len(d.steps)-1)
		job := d.a.DeploymentJob
		switch {
		case step == b.FailAt:
			if !r.progress(ctx, d, proto.Report{DeploymentJob: job, Step: step}) || !r.pause(ctx, d, stepDelay) {
				return
			}
			r.finish(ctx, proto.Report{DeploymentJob: job, Step: step, Result: proto.ResultFailed,
				FailureCode: failCode(b), FailureReason: "simulated failure"})
			return
		case step == proto.StepFinished:
			r.finish(ctx, proto.Report{DeploymentJob: job, Step: step, Result: proto.ResultSucceeded})
			return
		case step == proto.StepDownloadingExtracting:
			if !r.downloadStep(ctx, d, b, stepDelay) {
				return
			}
		case step == proto.StepExecutingDownloadCondition && b.Download:
			if !r.progress(ctx, d, proto.Report{DeploymentJob: job, Step: step}) || !r.sendHeld(ctx, d) {
				return
			}
			if err := r.fetch(ctx, d, *d.a.DownloadCondition, nil); err != nil {
				if r.alive(ctx, d) {
					r.finish(ctx, proto.Report{DeploymentJob: job, Step: step, Result: proto.ResultFailed,
						FailureCode: proto.FailureDownloadConditionFailed, FailureReason: err.Error()})
				}
				return
			}
			if !r.pause(ctx, d, stepDelay) {
				return
			}
		default:
			if !r.progress(ctx, d, proto.Report{DeploymentJob: job, Step: step}) || !r.pause(ctx, d, stepDelay) {
				return
			}
		}
		d.next++
	}
}

func failCode(b Behavior) string {
	if b.FailCode != "" {
		return b.FailCode
	}
	switch b.FailAt {
	case proto.StepExecutingDownloadCondition:
		return proto.FailureDownloadConditionFailed
	case proto.StepDownloadingExtracting:
		return proto.FailureExtractingBundle
	case proto.StepExecutingPreLaunch:
		return proto.FailurePreLaunchFile
	case proto.StepExecutingPostLaunch:
		return proto.FailurePostLaunchFile
	}
	return proto.FailureInternal
}

// hang keeps polling, reporting nothing, until Hang is cleared, the job is
// aborted or replaced, or ctx is done.
func (r *Robot) hang(ctx context.Context, d *deployment) {
	if !r.sendHeld(ctx, d) {
		return
	}
	for r.alive(ctx, d) {
		b, changed := r.snapshot()
		switch {
		case !b.Hang:
			return
		case b.Offline:
			sleep(ctx, -1, changed)
		default:
			r.poll(ctx, true)
		}
	}
}

// downloadStep runs DownloadingExtracting; it returns false when the job is
// over or ctx is done.
func (r *Robot) downloadStep(ctx context.Context, d *deployment, b Behavior, stepDelay time.Duration) bool {
	job := d.a.DeploymentJob
	if !r.progress(ctx, d, percent(job, 0, stepDelay)) {
		return false
	}
	if b.Download {
		if !r.sendHeld(ctx, d) { // the download takes time
			return false
		}
		start := time.Now()
		next := 25.0
		err := r.fetch(ctx, d, d.a.Bundle, func(done, total int64) {
			if total <= 0 {
				return
			}
			pct := 100 * float64(done) / float64(total)
			if pct < next || pct >= 100 {
				return
			}
			for next <= pct {
				next += 25
			}
			eta := time.Duration(float64(time.Since(start)) * float64(total-done) / float64(max(done, 1)))
			r.progress(ctx, d, percent(job, math.Round(pct*10)/10, eta+stepDelay))
		})
		if !r.alive(ctx, d) {
			return false
		}
		if err != nil {
			code := proto.FailureDownload
			if _, ok := errors.AsType[*client.IntegrityError](err); ok {
				code = proto.FailureEtagMismatch
			} else if he, ok := errors.AsType[*client.HTTPError](err); ok && he.Status == http.StatusNotFound {
				code = proto.FailureResourceNotFound // the object was deleted
			}
			r.finish(ctx, proto.Report{DeploymentJob: job, Step: proto.StepDownloadingExtracting,
				Result: proto.ResultFailed, FailureCode: code, FailureReason: err.Error()})
			return false
		}
	}
	return r.pause(ctx, d, stepDelay) && r.progress(ctx, d, percent(job, 100, 0))
}

func percent(job string, pct float64, eta time.Duration) proto.Report {
	secs := int64(math.Ceil(eta.Seconds()))
	return proto.Report{DeploymentJob: job, Step: proto.StepDownloadingExtracting, PercentDone: &pct, ETASeconds: &secs}
}

// fetch downloads obj to a temporary file (removed afterwards), resuming
// after transport failures (up to 5 attempts) and waiting while offline.
func (r *Robot) fetch(ctx context.Context, d *deployment, obj proto.Object, progress func(done, total int64)) error {
	fh, err := os.CreateTemp(r.fleet.opts.DownloadDir, "fleetsync-sim-*.part")
	if err != nil {
		return err
	}
	defer os.Remove(fh.Name())
	defer fh.Close()
	for attempt := 0; ; attempt++ {
		b, changed := r.snapshot()
		if b.Offline {
			attempt--
			if !sleep(ctx, -1, changed) {
				return ctx.Err()
			}
			continue
		}
		rctx, end := r.begin(ctx, false)
		dctx, cancel := context.WithCancel(rctx)
		var cb func(done, total int64)
		if progress != nil {
			cb = func(done, total int64) {
				progress(done, total)
				if !r.alive(ctx, d) {
					cancel() // aborted in answer to a progress report
				}
			}
		}
		err := r.client.Download(dctx, obj, fh, cb)
		cancel()
		interrupted := end()
		if err == nil || !r.alive(ctx, d) {
			return err
		}
		if interrupted {
			attempt--
			continue
		}
		if _, ok := errors.AsType[*client.IntegrityError](err); ok {
			return err
		}
		if he, ok := errors.AsType[*client.HTTPError](err); ok && he.Status/100 == 4 && he.Status != 408 && he.Status != 429 {
			return err
		}
		if attempt >= 4 {
			return err
		}
		r.backoff(ctx, "download", err, changed)
	}
}

// progress sends a progress report of job d (Options.Coalesce: holds it
// when one was sent and the robot has not waited since). While offline it
// is dropped. It returns false when the job is over or ctx is done.
func (r *Robot) progress(ctx context.Context, d *deployment, rep proto.Report) bool {
	if r.fleet.opts.Coalesce && d.reported {
		d.held = &rep
		return r.alive(ctx, d)
	}
	d.reported = true
	return r.send(ctx, d, rep)
}

// sendHeld sends the progress report Options.Coalesce held, if any; false
// when the job is over or ctx is done.
func (r *Robot) sendHeld(ctx context.Context, d *deployment) bool {
	rep := d.held
	if rep == nil {
		return r.alive(ctx, d)
	}
	d.held = nil
	return r.send(ctx, d, *rep)
}

// pause waits a step's delay, sending the held progress first when there
// is a wait: a report is held only while no time passes.
func (r *Robot) pause(ctx context.Context, d *deployment, delay time.Duration) bool {
	if delay != 0 && !r.sendHeld(ctx, d) {
		return false
	}
	return sleep(ctx, delay, nil)
}

// send delivers one progress report of d; see progress.
func (r *Robot) send(ctx context.Context, d *deployment, rep proto.Report) bool {
	for r.alive(ctx, d) {
		b, changed := r.snapshot()
		if b.Offline {
			return true // no network: the report is lost
		}
		rctx, end := r.begin(ctx, false)
		resp, err := r.client.Report(rctx, rep)
		if end() || ctx.Err() != nil {
			continue // went offline (or stopped): check again
		}
		r.fleet.reports.Add(1)
		switch {
		case err == nil:
			r.attempt = 0
			if resp.Abort {
				r.drop()
				return false
			}
			return true
		case notAssigned(err):
			r.drop()
			return false
		}
		r.backoff(ctx, "report", err, changed)
	}
	return false
}

func notAssigned(err error) bool {
	he, ok := errors.AsType[*client.HTTPError](err)
	return ok && he.Code == "NotAssigned"
}

// finish ends the running job locally with its final report rep and
// delivers the report (now, or once back online).
func (r *Robot) finish(ctx context.Context, rep proto.Report) {
	d := r.job
	// The held step goes first, as the agent's heartbeat would send it
	// while the result is made; an abort in answer ends the job unfinished.
	if !r.sendHeld(ctx, d) {
		return
	}
	r.job = nil
	r.mu.Lock()
	p := &final{rep: rep, previous: r.current, d: d}
	if rep.Result == proto.ResultSucceeded {
		r.completed = append(r.completed, rep.DeploymentJob)
		r.current = rep.DeploymentJob
	} else {
		r.failed = append(r.failed, rep.DeploymentJob)
	}
	r.mu.Unlock()
	r.pending = p
	r.flush(ctx)
}

// flush delivers the pending final report unless offline. An abort in
// answer rolls a success back; a 409 NotAssigned is accepted (the server
// learns of a success from Current).
func (r *Robot) flush(ctx context.Context) {
	for r.pending != nil && ctx.Err() == nil {
		b, changed := r.snapshot()
		if b.Offline {
			return
		}
		r.uncount(r.pending.d)
		rctx, end := r.begin(ctx, false)
		resp, err := r.client.Report(rctx, r.pending.rep)
		if end() || ctx.Err() != nil {
			continue
		}
		r.fleet.reports.Add(1)
		switch {
		case err == nil:
			r.attempt = 0
			if resp.Abort && r.pending.rep.Result == proto.ResultSucceeded {
				r.mu.Lock()
				r.current = r.pending.previous
				r.aborted = append(r.aborted, r.pending.rep.DeploymentJob)
				r.mu.Unlock()
			}
			r.pending = nil
		case notAssigned(err):
			r.pending = nil
		default:
			r.backoff(ctx, "report", err, changed)
		}
	}
}
