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
	OpGetJobControls = "GetDeploymentJobControls"
	OpPauseJob       = "PauseDeploymentJob"
	OpResumeJob      = "ResumeDeploymentJob"
)

func (a *API) routesControls() {
	a.mux.Handle("GET /fleetsync/v1/jobs/{jobArn}", a.serve(OpGetJobControls, typed(a.jobControls)))
	a.mux.Handle("POST /fleetsync/v1/jobs/{jobArn}/pause", a.serve(OpPauseJob, typed(a.pauseJob)))
	a.mux.Handle("POST /fleetsync/v1/jobs/{jobArn}/resume", a.serve(OpResumeJob, typed(a.resumeJob)))
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
