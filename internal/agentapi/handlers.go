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
func (a *API) poll(w http.ResponseWriter, r *http.Request) {
	var req proto.PollRequest
	robot, ok := a.authenticate(w, r, &req)
	if !ok {
		return
	}
	ctx := r.Context()
	p := a.cfg.Hub.hold(robot.ARN)
	defer a.cfg.Hub.release(robot.ARN, p)
	a.cfg.Robots.Overlays(ctx, robot, req.Overlays)
	cur := fromProtoCurrent(req.Current)
	wait := min(time.Duration(req.WaitSeconds)*time.Second, a.cfg.MaxWait)
	// An idle robot (nothing running) that offers a longer wait is held
	// for minutes, jittered so that a fleet's polls spread out; it is woken
	// at once when it gets work, as any long poll.
	if idle := min(time.Duration(req.IdleWaitSeconds)*time.Second, a.cfg.IdleWait); idle > wait && (cur == nil || cur.Finished || cur.DeploymentJob == "") {
		wait = max(wait, idle-time.Duration(rand.Int64N(int64(idle/5)+1)))
	}
	// The hub's one timer ends the wait (no timer of this poll's own).
	deadline := monoNow() + int64(wait)
	expired := wait <= 0
	look := a.cfg.Robots.Poll
	var curJob string
	curFinished := false
	if cur != nil {
		curJob, curFinished = cur.DeploymentJob, cur.Finished
	}
	// A robot known idle with what it runs now, saying nothing new (no
	// crash loop to log), is answered from memory: no SQL.
	memo := cur == nil || cur.Restarts == 0
	stripped := false
	for {
		wakes, live := a.cfg.Hub.arm(robot.ARN, p)
		if !live {
			writeSuperseded(w)
			return
		}
		var work deploy.Work
		var err error
		if !memo || !a.cfg.Hub.knownIdle(robot.ARN, curJob, curFinished, a.cfg.Now().UnixMilli()) {
			if stripped {
				// Looked up again after a hold, so a robot deleted
				// meanwhile is refused.
				full, err := a.cfg.Robots.ByAgent(ctx, robot.Account, robot.AgentID)
				if fleet.CodeOf(err) == fleet.NotFound {
					writeErr(w, http.StatusUnauthorized, "Unauthorized", "no robot has this agent id as its greengrassGroupId")
					return
				}
				if err != nil {
					a.logFailure(ctx, "poll failed", "robot", robot.ARN, "error", err)
					unavailable.write(w)
					return
				}
				robot, stripped = full, false
			}
			work, err = look(ctx, robot, cur)
			if err == nil && work.Assignment == nil && work.Abort == "" && work.RetryAtMs == 0 && memo {
				a.cfg.Hub.rememberIdle(robot.ARN, wakes, curJob, curFinished, a.cfg.Now().UnixMilli())
			}
		}
		look = a.cfg.Robots.Work // what the robot said is taken in once
		if err != nil {
			a.logFailure(ctx, "poll failed", "robot", robot.ARN, "error", err)
			unavailable.write(w)
			return
		}
		if work.Assignment != nil || work.Abort != "" || work.LogRequest != nil || expired {
			resp, err := a.pollResponse(ctx, r, robot.ARN, work)
			if err != nil {
				a.logFailure(ctx, "poll failed", "robot", robot.ARN, "error", err)
				unavailable.write(w)
				return
			}
			writeJSON(w, http.StatusOK, resp)
			return
		}
		// While the poll is held only the robot's identity is kept (its
		// tags and the rest are a kilobyte per waiting robot); the next
		// look that needs the robot reads it again.
		robot, stripped = fleet.Robot{ARN: robot.ARN, AgentID: robot.AgentID}, true
		// A deployment waiting out its retry backoff is handed out when
		// the backoff ends, without a wake-up.
		due := deadline
		if work.RetryAtMs != 0 {
			due = min(due, monoNow()+max(work.RetryAtMs-a.cfg.Now().UnixMilli(), 0)*int64(time.Millisecond))
		}
		a.cfg.Hub.sleepUntil(p, due)
		select {
		case <-p.ch:
		case <-ctx.Done():
			return
		}
		switch p.why {
		case timeUp:
			expired = monoNow() >= deadline
		case superseded:
			writeSuperseded(w)
			return
		}
		a.cfg.Robots.Heard(robot.ARN)
	}
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
func (a *API) pollResponse(ctx context.Context, r *http.Request, robotARN string, work deploy.Work) (proto.PollResponse, error) {
	resp := proto.PollResponse{PollIntervalSeconds: int(a.cfg.PollInterval / time.Second), Abort: work.Abort}
	if l := work.LogRequest; l != nil {
		resp.LogRequest = &proto.LogRequest{RequestedMs: l.RequestedMs, MaxBytes: min(l.MaxBytes, proto.MaxLogBytes)}
	}
	as := work.Assignment
	if as == nil {
		return resp, nil
	}
	bundleURL, err := a.downloadURL(ctx, r, robotARN, as.Bundle.Object)
	if err != nil {
		return resp, err
	}
	lc := as.App.LaunchConfig
	out := &proto.Assignment{
		DeploymentJob: as.Job.ARN, Application: as.App.Application, ApplicationVersion: as.App.ApplicationVersion,
		SoftwareSuite: as.SoftwareSuite,
		LaunchConfig: proto.LaunchConfig{PackageName: lc.PackageName, LaunchFile: lc.LaunchFile, PreLaunchFile: lc.PreLaunchFile,
			PostLaunchFile: lc.PostLaunchFile, EnvironmentVariables: lc.EnvironmentVariables},
		Bundle:         proto.Object{URL: bundleURL, Size: as.Bundle.Size, ETag: as.Bundle.ETag, SHA256: as.Bundle.SHA256},
		TimeoutSeconds: as.Job.Spec.Config.RobotTimeoutSeconds,
		Tags:           as.Tags,
		HealthSeconds:  as.HealthSeconds,
	}
	if dc := as.DownloadCondition; dc != nil {
		u, err := a.downloadURL(ctx, r, robotARN, dc.Object)
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
	robot, ok := a.authenticate(w, r, &rep)
	if !ok {
		return
	}
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
	robot, ok := a.authenticate(w, r, &up)
	if !ok {
		return
	}
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
