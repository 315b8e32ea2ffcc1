package agentapi

import (
	"context"
	"math/rand/v2"
	"net/http"
	"time"

	"github.com/fleetsync/fleetsync/internal/deploy"
	"github.com/fleetsync/fleetsync/internal/fleet"
	"github.com/fleetsync/fleetsync/internal/proto"
)

// poll answers a long poll: at once when the robot has something to do,
// otherwise when it is woken (Hub) or the wait it asked for (at most
// MaxWait) ends.
//
// It is split so that what stays on the goroutine's stack while the poll
// is held is small: the request's authentication and each look (SQL,
// JSON, signatures: deep calls) run in functions that return before the
// wait, and what the poll keeps between looks is pollState, in this
// frame. A held poll then uses under a quarter of a 16 KB stack, which
// lets the garbage collector halve the stack the looks grew (an idle
// fleet is mostly goroutines parked here).
func (a *API) poll(w http.ResponseWriter, r *http.Request) {
	var ps pollState
	// The wait the robot asked for counts from the poll's arrival: time
	// spent in a saturated server's queue (a slot) is part of it, so the
	// answer comes within the wait and the agent's slack (PollSlack) even
	// when 100,000 robots poll at once.
	ps.deadline = monoNow()
	parked := false
	// Registered before anything is taken, so that whatever ends the
	// handler (a panic too) gives back the slot and the hold it holds: a
	// slot kept is one of a few, and every agent request waits for one.
	defer func() {
		if ps.leave != nil {
			ps.leave()
		}
		if ps.held != nil && !parked { // a parked poll is released when it answers
			a.cfg.Hub.release(ps.arn, ps.held)
		}
	}()
	if !a.startPoll(w, r, &ps) {
		return
	}
	for {
		due, answered := a.pollLook(w, r.Context(), &ps)
		// The poll gives its work slot back while it waits.
		ps.leave()
		ps.leave = nil
		if answered {
			return
		}
		if parked = a.park(w, r, &ps, due); parked {
			return // held without this goroutine (park.go)
		}
		if !a.pollWait(w, r.Context(), &ps, due) {
			return
		}
		var err error
		if ps.leave, err = a.lookSlot(r.Context(), &ps); err != nil {
			return
		}
	}
}

// pollState is what a long poll keeps between its looks.
type pollState struct {
	held *heldPoll
	// leave gives back the work slot the poll holds while it looks.
	leave func()
	// arn and agentID name the polling robot. robot is the whole robot
	// while the poll looks; while it is held only arn and agentID are
	// kept (robot nil: its tags and the rest are a kilobyte per waiting
	// robot), and the next look that needs it reads it again.
	arn, agentID string
	robot        *fleet.Robot
	// cur is what the robot said it runs (curJob, curFinished).
	cur    *deploy.Current
	curJob string
	// deadline is when the wait ends (the hub's clock); expired once it
	// has.
	deadline int64
	// origin is where the download URLs of an answer point (originOf).
	origin origin
	// The flags last, so that they share a word.
	curFinished bool
	// memo: a robot known idle with what it runs now, saying nothing new
	// (no crash loop to log), is answered from memory: no SQL.
	memo bool
	// looked: what the robot said was taken in (Robots.Poll, once); the
	// next looks only ask for work (Robots.Work).
	looked  bool
	expired bool
}

// startPoll authenticates the poll, takes in what the robot says and
// makes the poll the robot's live one; false when it answered already.
func (a *API) startPoll(w http.ResponseWriter, r *http.Request, ps *pollState) bool {
	var req proto.PollRequest
	robot, leave, ok := a.authenticate(w, r, &req)
	if !ok {
		return false
	}
	ps.leave = leave // given back by poll, however it ends
	if req.WaitSeconds < 0 || req.IdleWaitSeconds < 0 {
		writeErr(w, http.StatusBadRequest, "BadRequest", "waitSeconds and idleWaitSeconds must be 0 or more")
		return false
	}
	if req.Current != nil {
		if err := deploy.ValidJobRef("current.deploymentJob", req.Current.DeploymentJob); err != nil {
			writeErr(w, http.StatusBadRequest, "BadRequest", err.Error())
			return false
		}
	}
	ps.arn, ps.agentID, ps.robot, ps.origin = robot.ARN, robot.AgentID, &robot, originOf(r)
	ps.held = a.cfg.Hub.hold(robot.ARN)
	a.cfg.Robots.Overlays(r.Context(), robot, req.Overlays)
	ps.cur = fromProtoCurrent(req.Current)
	wait := waitOf(req.WaitSeconds, a.cfg.MaxWait)
	// An idle robot (nothing running) that offers a longer wait is held
	// for minutes, jittered so that a fleet's polls spread out; it is woken
	// at once when it gets work, as any long poll.
	if idle := waitOf(req.IdleWaitSeconds, a.cfg.IdleWait); idle > wait && (ps.cur == nil || ps.cur.Finished || ps.cur.DeploymentJob == "") {
		wait = max(wait, idle-time.Duration(rand.Int64N(int64(idle/5)+1)))
	}
	// The hub's one timer ends the wait (no timer of this poll's own);
	// ps.deadline holds the poll's arrival (poll).
	ps.deadline += int64(wait)
	ps.expired = wait <= 0 || monoNow() >= ps.deadline
	if ps.cur != nil {
		ps.curJob, ps.curFinished = ps.cur.DeploymentJob, ps.cur.Finished
	}
	ps.memo = ps.cur == nil || ps.cur.Restarts == 0
	return true
}

// waitOf is a wait the robot asked for in seconds (not negative: startPoll
// refuses that), capped at limit before it is made a Duration, which a
// large count would overflow.
func waitOf(seconds int, limit time.Duration) time.Duration {
	if int64(seconds) >= int64(limit/time.Second) {
		return limit
	}
	return time.Duration(seconds) * time.Second
}

// pollLook looks for the robot's work and answers the poll when there is
// some (or the wait is over, or the poll was superseded, or the look
// failed): answered. Otherwise it returns when the poll is due to look
// again without a wake-up (the deadline, or the end of a retry backoff).
func (a *API) pollLook(w http.ResponseWriter, reqCtx context.Context, ps *pollState) (due int64, answered bool) {
	// Not cancelled with the request: every query made under a cancellable
	// context registers a child in it, and the children map it allocates
	// stays with a poll held for minutes (0.7 KB per idle agent). A look
	// is a few milliseconds of reads and at most one write, which its
	// queue bounds.
	ctx := context.WithoutCancel(reqCtx)
	wakes, live := a.cfg.Hub.arm(ps.arn, ps.held)
	if !live {
		writeSuperseded(w)
		return 0, true
	}
	var work deploy.Work
	var err error
	if !a.fromMemory(ps) {
		if ps.robot == nil {
			// Looked up again after a hold, so a robot deleted
			// meanwhile is refused; in the account the id is bound to
			// ("" for a v1 id), as authenticate looked it up.
			ident, _ := proto.ParseAgentID(ps.agentID)
			full, err := a.cfg.Robots.ByAgent(ctx, ident.Account, ps.agentID)
			if fleet.CodeOf(err) == fleet.NotFound {
				writeErr(w, http.StatusUnauthorized, "Unauthorized", "no robot has this agent id as its greengrassGroupId")
				return 0, true
			}
			if err != nil {
				a.logFailure(ctx, "poll failed", "robot", ps.arn, "error", err)
				unavailable.write(w)
				return 0, true
			}
			ps.robot = &full
		}
		look := a.cfg.Robots.Poll
		if ps.looked {
			look = a.cfg.Robots.Work
		}
		work, err = look(ctx, *ps.robot, ps.cur)
		if err == nil && work.Assignment == nil && work.Abort == "" && work.RetryAtMs == 0 && ps.memo {
			a.cfg.Hub.rememberIdle(ps.arn, wakes, ps.curJob, ps.curFinished, a.cfg.Now().UnixMilli())
		}
	}
	ps.looked = true // what the robot said is taken in once
	if err != nil {
		a.logFailure(ctx, "poll failed", "robot", ps.arn, "error", err)
		unavailable.write(w)
		return 0, true
	}
	if work.Assignment != nil || work.Abort != "" || work.LogRequest != nil || ps.expired {
		resp, err := a.pollResponse(ctx, ps.origin, ps.arn, work)
		if err != nil {
			a.logFailure(ctx, "poll failed", "robot", ps.arn, "error", err)
			unavailable.write(w)
			return 0, true
		}
		writeJSON(w, http.StatusOK, resp)
		return 0, true
	}
	ps.robot = nil
	// A deployment waiting out its retry backoff is handed out when the
	// backoff ends, without a wake-up.
	due = ps.deadline
	if work.RetryAtMs != 0 {
		due = min(due, monoNow()+max(work.RetryAtMs-a.cfg.Now().UnixMilli(), 0)*int64(time.Millisecond))
	}
	return due, false
}

// lookSlot takes the work slot for a held poll's next look, unless the
// poll is over and its answer, "nothing to do", comes from memory: then it
// takes none, so that an expiring poll does not queue behind the work of
// others (its robot would time out and poll again, adding to the queue).
func (a *API) lookSlot(ctx context.Context, ps *pollState) (leave func(), err error) {
	if ps.expired && a.fromMemory(ps) {
		return func() {}, nil
	}
	return a.enterSlot(ctx, ps.arn)
}

// fromMemory reports whether the poll's look needs no store: its robot is
// known idle with what it runs now and says nothing new (pollState.memo).
func (a *API) fromMemory(ps *pollState) bool {
	return ps.memo && a.cfg.Hub.knownIdle(ps.arn, ps.curJob, ps.curFinished, a.cfg.Now().UnixMilli())
}

// pollWait holds the poll until it is woken, superseded or due; false when
// it is over (superseded: answered 409; the client gone).
func (a *API) pollWait(w http.ResponseWriter, ctx context.Context, ps *pollState, due int64) bool {
	a.cfg.Hub.sleepUntil(ps.held, due)
	select {
	case <-ps.held.ch:
	case <-ctx.Done():
		return false
	}
	switch ps.held.why {
	case timeUp:
		ps.expired = monoNow() >= ps.deadline
	case superseded:
		writeSuperseded(w)
		return false
	}
	a.cfg.Robots.Heard(ps.arn)
	return true
}

// writeSuperseded answers a poll a newer one replaced: one live poll per
// robot (a dead connection the robot already replaced, or a second agent
// with the same key).
func writeSuperseded(w http.ResponseWriter) {
	writeErr(w, http.StatusConflict, "PollSuperseded", "a newer long poll of this robot ended this one")
}

func fromProtoCurrent(c *proto.Current) *deploy.Current {
	if c == nil {
		return nil
	}
	return &deploy.Current{DeploymentJob: c.DeploymentJob, Finished: c.Finished, Restarts: c.Restarts, LastExitCode: c.LastExitCode}
}

// pollResponse encodes the domain's answer, with download URLs for this
// request's host.
func (a *API) pollResponse(ctx context.Context, o origin, robotARN string, work deploy.Work) (proto.PollResponse, error) {
	resp := proto.PollResponse{PollIntervalSeconds: int(a.cfg.PollInterval / time.Second), Abort: work.Abort}
	if l := work.LogRequest; l != nil {
		resp.LogRequest = &proto.LogRequest{RequestedMs: l.RequestedMs, MaxBytes: min(l.MaxBytes, proto.MaxLogBytes)}
	}
	as := work.Assignment
	if as == nil {
		return resp, nil
	}
	bundleURL, err := a.downloadURL(ctx, o, robotARN, as.Bundle.Object)
	if err != nil {
		return resp, err
	}
	lc := as.App.LaunchConfig
	out := &proto.Assignment{
		DeploymentJob: as.Job.ARN, Application: as.App.Application, ApplicationVersion: as.App.ApplicationVersion,
		SoftwareSuite: as.SoftwareSuite,
		LaunchConfig: proto.LaunchConfig{PackageName: lc.PackageName, LaunchFile: lc.LaunchFile, PreLaunchFile: lc.PreLaunchFile,
			PostLaunchFile: lc.PostLaunchFile, EnvironmentVariables: lc.EnvironmentVariables},
		Bundle: proto.Object{URL: bundleURL, Size: as.Bundle.Size, ETag: as.Bundle.ETag, SHA256: as.Bundle.SHA256,
			HeadSHA256: as.Bundle.HeadSHA256, HeadSize: as.Bundle.HeadSize},
		TimeoutSeconds: as.Job.Spec.Config.RobotTimeoutSeconds,
		Tags:           as.Tags,
		HealthSeconds:  as.HealthSeconds,
	}
	if dc := as.DownloadCondition; dc != nil {
		u, err := a.downloadURL(ctx, o, robotARN, dc.Object)
		if err != nil {
			return resp, err
		}
		out.DownloadCondition = &proto.Object{URL: u, Size: dc.Size, ETag: dc.ETag, SHA256: dc.SHA256}
	}
	resp.Assignment = out
	return resp, nil
}

// report takes a robot's progress or result.
func (a *API) report(w http.ResponseWriter, r *http.Request) {
	var rep proto.Report
	robot, leave, ok := a.authenticate(w, r, &rep)
	if !ok {
		return
	}
	defer leave()
	ctx := r.Context()
	if rep.Result != "" && rep.Result != proto.ResultSucceeded && rep.Result != proto.ResultFailed {
		writeErr(w, http.StatusBadRequest, "BadRequest", "1 validation error detected: Value at 'result' failed to satisfy constraint: Member must satisfy enum value set: [Succeeded, Failed]")
		return
	}
	abort, err := a.cfg.Robots.Report(ctx, robot, deploy.Report{
		DeploymentJob: rep.DeploymentJob, Step: string(rep.Step), PercentDone: rep.PercentDone, ETASeconds: rep.ETASeconds,
		Done: rep.Result != "", Succeeded: rep.Result == proto.ResultSucceeded, FailureCode: rep.FailureCode, FailureReason: rep.FailureReason,
		HealthGate:    rep.HealthGate,
		FailureOutput: rep.FailureOutput,
	})
	if fleet.CodeOf(err) == fleet.Invalid {
		writeErr(w, http.StatusBadRequest, "BadRequest", err.Error())
		return
	}
	if err != nil {
		a.logFailure(ctx, "report failed", "robot", robot.ARN, "error", err)
		unavailable.write(w)
		return
	}
	writeJSON(w, http.StatusOK, proto.ReportResponse{Abort: abort})
}

// log takes an agent's answer to a log request.
func (a *API) log(w http.ResponseWriter, r *http.Request) {
	var up proto.LogUpload
	robot, leave, ok := a.authenticate(w, r, &up)
	if !ok {
		return
	}
	defer leave()
	ctx := r.Context()
	err := a.cfg.Robots.PutLog(ctx, robot, up.RequestedMs, up.Content, up.Error)
	switch fleet.CodeOf(err) {
	case fleet.NotFound:
		writeErr(w, http.StatusConflict, "NotRequested", err.Error())
		return
	}
	if err != nil {
		a.logFailure(ctx, "log upload failed", "robot", robot.ARN, "error", err)
		unavailable.write(w)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
