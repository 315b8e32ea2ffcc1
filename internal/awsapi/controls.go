package awsapi

import (
	"context"
	"time"

	"github.com/fleetsync/fleetsync/internal/deploy"
	"github.com/fleetsync/fleetsync/internal/fleet"
)

// Rollout controls of issue 16 beside the drift report: a job's fleetsync
// view (what the AWS API has no member for) and pause/resume.

// Operation names of the rollout controls (in logs and metrics).
const (
	OpGetJobControls  = "GetDeploymentJobControls"
	OpPauseJob        = "PauseDeploymentJob"
	OpResumeJob       = "ResumeDeploymentJob"
	OpListQuarantined = "ListQuarantinedRobots"
	OpReleaseRobot    = "ReleaseRobot"
)

func (a *API) routesControls() {
	a.routesPlan()
	a.mux.Handle("GET /fleetsync/v1/jobs/{jobArn}", a.serve(OpGetJobControls, typed(a.jobControls)))
	a.mux.Handle("POST /fleetsync/v1/jobs/{jobArn}/pause", a.serve(OpPauseJob, typed(a.pauseJob)))
	a.mux.Handle("POST /fleetsync/v1/jobs/{jobArn}/resume", a.serve(OpResumeJob, typed(a.resumeJob)))
	a.mux.Handle("GET /fleetsync/v1/quarantine", a.serve(OpListQuarantined, typed(a.listQuarantined)))
	a.mux.Handle("POST /fleetsync/v1/quarantine/{robotArn}/release", a.serve(OpReleaseRobot, typed(a.releaseRobot)))
}

type jobPathIn struct {
	JobARN string `json:"jobArn"`
}

func (in *jobPathIn) check() error {
	if in.JobARN == "" {
		return fleet.Errorf(fleet.Invalid, "jobArn: a deployment-job ARN is required in the path")
	}
	return nil
}

// wireJobControls is a job as the fleetsync endpoints show it.
type wireJobControls struct {
	ARN string `json:"arn"`
	// Status is the AWS status (a paused job is InProgress there).
	Status string `json:"status"`
	// State is "paused", "running" (active, not paused) or "finished".
	State string `json:"state"`
	// PausedAt is when the current pause began (epoch seconds).
	PausedAt *float64 `json:"pausedAt,omitempty"`
	// PausedSeconds is the time spent paused so far, current pause included.
	PausedSeconds float64 `json:"pausedSeconds"`
	// HealthSeconds is the effective health gate (0: none) and
	// HealthSecondsFrom where it comes from: "job", "fleet" or "default".
	HealthSeconds     int64  `json:"healthSeconds"`
	HealthSecondsFrom string `json:"healthSecondsFrom"`
	// Canary is the job's canary size (omitted: none) and CanaryState
	// "running", "passed" or "failed".
	Canary      int    `json:"canary,omitempty"`
	CanaryState string `json:"canaryState,omitempty"`
}

func toWireControls(c deploy.Controls, nowMs int64) wireJobControls {
	j := c.Job
	out := wireJobControls{ARN: j.ARN, Status: string(j.Status), State: c.State,
		HealthSeconds: c.HealthSeconds, HealthSecondsFrom: c.HealthFrom, Canary: c.Canary, CanaryState: c.CanaryState}
	total := j.PausedTotalMs
	if j.Paused() {
		at := float64(j.PausedMs) / 1000
		out.PausedAt = &at
		total += max(nowMs-j.PausedMs, 0)
	}
	out.PausedSeconds = float64(total) / 1000
	return out
}

func (a *API) jobControls(ctx context.Context, c caller, in *jobPathIn) (any, error) {
	if err := in.check(); err != nil {
		return nil, err
	}
	ctl, err := a.cfg.Deploy.Controls(ctx, c.account, in.JobARN)
	if err != nil {
		return nil, err
	}
	return toWireControls(ctl, a.nowMs()), nil
}

func (a *API) pauseJob(ctx context.Context, c caller, in *jobPathIn) (any, error) {
	if err := in.check(); err != nil {
		return nil, err
	}
	ctl, err := a.cfg.Deploy.Pause(ctx, c.account, in.JobARN)
	if err != nil {
		return nil, err
	}
	a.cfg.Logger.Info("deployment job paused", "account", c.account, "access_key_id", c.accessKeyID, "job", ctl.Job.ARN)
	return toWireControls(ctl, a.nowMs()), nil
}

func (a *API) resumeJob(ctx context.Context, c caller, in *jobPathIn) (any, error) {
	if err := in.check(); err != nil {
		return nil, err
	}
	ctl, err := a.cfg.Deploy.Resume(ctx, c.account, in.JobARN)
	if err != nil {
		return nil, err
	}
	a.cfg.Logger.Info("deployment job resumed", "account", c.account, "access_key_id", c.accessKeyID, "job", ctl.Job.ARN)
	return toWireControls(ctl, a.nowMs()), nil
}

func (a *API) nowMs() int64 {
	if a.cfg.Now != nil {
		return a.cfg.Now().UnixMilli()
	}
	return time.Now().UnixMilli()
}

type quarantineIn struct {
	// Fleet is the optional ?fleet= filter.
	Fleet string `json:"fleet"`
}

// wireQuarantined is one quarantined robot.
type wireQuarantined struct {
	ARN               string  `json:"arn"`
	Deployment        string  `json:"deployment"`
	Failures          int     `json:"failures"`
	LastDeploymentJob string  `json:"lastDeploymentJob"`
	LastFailureCode   string  `json:"lastFailureCode"`
	LastFailureReason string  `json:"lastFailureReason"`
	QuarantinedAt     float64 `json:"quarantinedAt"`
}

func toWireQuarantined(q []deploy.QuarantinedRobot) []wireQuarantined {
	out := make([]wireQuarantined, 0, len(q))
	for _, f := range q {
		out = append(out, wireQuarantined{ARN: f.Robot, Deployment: f.Fingerprint, Failures: f.Failures, LastDeploymentJob: f.LastJob,
			LastFailureCode: f.LastCode, LastFailureReason: f.LastReason, QuarantinedAt: float64(f.QuarantinedMs) / 1000})
	}
	return out
}

func (a *API) listQuarantined(ctx context.Context, c caller, in *quarantineIn) (any, error) {
	q, err := a.cfg.Deploy.Quarantined(ctx, c.account, in.Fleet)
	if err != nil {
		return nil, err
	}
	return map[string]any{"robots": toWireQuarantined(q)}, nil
}

type robotPathIn struct {
	RobotARN string `json:"robotArn"`
}

func (a *API) releaseRobot(ctx context.Context, c caller, in *robotPathIn) (any, error) {
	if in.RobotARN == "" {
		return nil, fleet.Errorf(fleet.Invalid, "robotArn: a robot ARN is required in the path")
	}
	if err := a.cfg.Deploy.Release(ctx, c.account, in.RobotARN); err != nil {
		return nil, err
	}
	a.cfg.Logger.Info("robot released from quarantine", "account", c.account, "access_key_id", c.accessKeyID, "robot", in.RobotARN)
	return map[string]any{}, nil
}
