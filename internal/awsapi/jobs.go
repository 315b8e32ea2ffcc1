package awsapi

import (
	"context"

	"github.com/fleetsync/fleetsync/internal/deploy"
	"github.com/fleetsync/fleetsync/internal/fleet"
)

type wireLaunchConfig struct {
	PackageName          string            `json:"packageName"`
	PreLaunchFile        string            `json:"preLaunchFile,omitempty"`
	LaunchFile           string            `json:"launchFile"`
	PostLaunchFile       string            `json:"postLaunchFile,omitempty"`
	EnvironmentVariables map[string]string `json:"environmentVariables,omitempty"`
}

type wireAppConfig struct {
	Application        string           `json:"application"`
	ApplicationVersion string           `json:"applicationVersion"`
	LaunchConfig       wireLaunchConfig `json:"launchConfig"`
}

type wireS3Object struct {
	Bucket string `json:"bucket"`
	Key    string `json:"key"`
	ETag   string `json:"etag,omitempty"`
}

// wireDeploymentConfig is used for input (pointers: omitted means default)
// and output (always the effective values).
type wireDeploymentConfig struct {
	ConcurrentDeploymentPercentage  *int          `json:"concurrentDeploymentPercentage,omitempty"`
	FailureThresholdPercentage      *int          `json:"failureThresholdPercentage,omitempty"`
	RobotDeploymentTimeoutInSeconds *int64        `json:"robotDeploymentTimeoutInSeconds,omitempty"`
	DownloadConditionFile           *wireS3Object `json:"downloadConditionFile,omitempty"`
}

func fromWireApps(in []wireAppConfig) []fleet.AppConfig {
	out := make([]fleet.AppConfig, len(in))
	for i, a := range in {
		lc := a.LaunchConfig
		out[i] = fleet.AppConfig{Application: a.Application, ApplicationVersion: a.ApplicationVersion, LaunchConfig: fleet.LaunchConfig{
			PackageName: lc.PackageName, LaunchFile: lc.LaunchFile, PreLaunchFile: lc.PreLaunchFile, PostLaunchFile: lc.PostLaunchFile,
			EnvironmentVariables: lc.EnvironmentVariables}}
	}
	return out
}

func toWireApps(in []fleet.AppConfig) []wireAppConfig {
	out := make([]wireAppConfig, len(in))
	for i, a := range in {
		lc := a.LaunchConfig
		out[i] = wireAppConfig{Application: a.Application, ApplicationVersion: a.ApplicationVersion, LaunchConfig: wireLaunchConfig{
			PackageName: lc.PackageName, LaunchFile: lc.LaunchFile, PreLaunchFile: lc.PreLaunchFile, PostLaunchFile: lc.PostLaunchFile,
			EnvironmentVariables: lc.EnvironmentVariables}}
	}
	return out
}

func toWireConfig(c fleet.DeploymentConfig) wireDeploymentConfig {
	w := wireDeploymentConfig{ConcurrentDeploymentPercentage: &c.ConcurrentPercent, FailureThresholdPercentage: &c.FailureThresholdPercent,
		RobotDeploymentTimeoutInSeconds: &c.RobotTimeoutSeconds}
	if d := c.DownloadCondition; d != nil {
		w.DownloadConditionFile = &wireS3Object{d.Bucket, d.Key, d.ETag}
	}
	return w
}

// wireJob is the union of the job outputs' members.
type wireJob struct {
	ARN                          string               `json:"arn"`
	Fleet                        string               `json:"fleet"`
	Status                       string               `json:"status"`
	DeploymentApplicationConfigs []wireAppConfig      `json:"deploymentApplicationConfigs"`
	DeploymentConfig             wireDeploymentConfig `json:"deploymentConfig"`
	FailureReason                string               `json:"failureReason,omitempty"`
	FailureCode                  string               `json:"failureCode,omitempty"`
	CreatedAt                    Epoch                `json:"createdAt"`
	RobotDeploymentSummary       *[]wireRobotDeploy   `json:"robotDeploymentSummary,omitempty"`
	Tags                         *fleet.Tags          `json:"tags,omitempty"`
}

type wireProgress struct {
	CurrentProgress               string   `json:"currentProgress,omitempty"`
	PercentDone                   *float64 `json:"percentDone,omitempty"`
	EstimatedTimeRemainingSeconds *int64   `json:"estimatedTimeRemainingSeconds,omitempty"`
	TargetResource                string   `json:"targetResource,omitempty"`
}

type wireRobotDeploy struct {
	ARN                  string       `json:"arn"`
	DeploymentStartTime  *Epoch       `json:"deploymentStartTime,omitempty"`
	DeploymentFinishTime *Epoch       `json:"deploymentFinishTime,omitempty"`
	Status               string       `json:"status"`
	ProgressDetail       wireProgress `json:"progressDetail"`
	FailureReason        string       `json:"failureReason,omitempty"`
	FailureCode          string       `json:"failureCode,omitempty"`
}

func toWireJob(j fleet.Job, withTags bool) wireJob {
	w := wireJob{ARN: j.ARN, Fleet: j.Fleet, Status: string(j.Status), DeploymentApplicationConfigs: toWireApps(j.Spec.Apps),
		DeploymentConfig: toWireConfig(j.Spec.Config), FailureReason: j.FailureReason, FailureCode: j.FailureCode, CreatedAt: Epoch(j.CreatedMs)}
	if withTags {
		t := tagsOrEmpty(j.Tags)
		w.Tags = &t
	}
	return w
}

type createDeploymentJobIn struct {
	ClientRequestToken           string                `json:"clientRequestToken"`
	Fleet                        string                `json:"fleet"`
	DeploymentApplicationConfigs []wireAppConfig       `json:"deploymentApplicationConfigs"`
	DeploymentConfig             *wireDeploymentConfig `json:"deploymentConfig"`
	Tags                         fleet.Tags            `json:"tags"`
}

func (a *API) createDeploymentJob(ctx context.Context, c caller, in *createDeploymentJobIn) (any, error) {
	cfg := configInput(in.DeploymentConfig)
	j, err := a.cfg.Deploy.Create(ctx, c.account, in.ClientRequestToken, in.Fleet, fromWireApps(in.DeploymentApplicationConfigs), cfg, in.Tags)
	if err != nil {
		return nil, err
	}
	return toWireJob(j, true), nil
}

// configInput is the deployment config as the caller sent it (nil members
// take the defaults).
func configInput(d *wireDeploymentConfig) *deploy.ConfigInput {
	if d == nil {
		return nil
	}
	cfg := &deploy.ConfigInput{ConcurrentPercent: d.ConcurrentDeploymentPercentage, FailureThresholdPercent: d.FailureThresholdPercentage,
		RobotTimeoutSeconds: d.RobotDeploymentTimeoutInSeconds}
	if f := d.DownloadConditionFile; f != nil {
		cfg.DownloadCondition = &fleet.S3Path{Bucket: f.Bucket, Key: f.Key, ETag: f.ETag}
	}
	return cfg
}

type syncDeploymentJobIn struct {
	ClientRequestToken string `json:"clientRequestToken"`
	Fleet              string `json:"fleet"`
}

func (a *API) syncDeploymentJob(ctx context.Context, c caller, in *syncDeploymentJobIn) (any, error) {
	j, err := a.cfg.Deploy.Sync(ctx, c.account, in.ClientRequestToken, in.Fleet)
	if err != nil {
		return nil, err
	}
	return toWireJob(j, false), nil
}

type jobIn struct {
	Job string `json:"job"`
}

func (a *API) describeDeploymentJob(ctx context.Context, c caller, in *jobIn) (any, error) {
	key := describeKey(c.account, in.Job)
	e := a.described.entry(key)
	e.mu.Lock()
	defer e.mu.Unlock()
	j, changed, next, err := a.cfg.Deploy.Describe(ctx, c.account, in.Job, e.next)
	if err != nil {
		return nil, err
	}
	if err := e.merge(changed, j.ARN); err != nil {
		return nil, err
	}
	e.next = next
	out, err := e.response(toWireJob(j, true))
	if err != nil {
		return nil, err
	}
	a.described.done(key, e)
	return out, nil
}

// toWireRobotDeploy is a row as robotDeploymentSummary lists it; target is
// its job's ARN.
func toWireRobotDeploy(r fleet.RobotDeployment, target string) wireRobotDeploy {
	d := wireRobotDeploy{ARN: r.Robot, DeploymentStartTime: epochPtr(r.StartedMs), DeploymentFinishTime: epochPtr(r.FinishedMs),
		Status: string(r.Status), FailureReason: r.FailureReason, FailureCode: r.FailureCode}
	if r.Step != "" {
		d.ProgressDetail = wireProgress{CurrentProgress: r.Step, PercentDone: r.PercentDone, EstimatedTimeRemainingSeconds: r.ETASeconds, TargetResource: target}
	}
	return d
}

type listDeploymentJobsOut struct {
	DeploymentJobs []wireJob `json:"deploymentJobs"`
	NextToken      string    `json:"nextToken,omitempty"`
}

func (a *API) listDeploymentJobs(ctx context.Context, c caller, in *listInput) (any, error) {
	q, err := a.listQuery(c, "ListDeploymentJobs", *in, 200)
	if err != nil {
		return nil, err
	}
	p, err := a.cfg.Deploy.List(ctx, q)
	if err != nil {
		return nil, err
	}
	out := listDeploymentJobsOut{DeploymentJobs: make([]wireJob, len(p.Items)), NextToken: a.tokens.seal(c.account, "ListDeploymentJobs", p.Next)}
	for i, j := range p.Items {
		out.DeploymentJobs[i] = toWireJob(j, false)
	}
	return out, nil
}

func (a *API) cancelDeploymentJob(ctx context.Context, c caller, in *jobIn) (any, error) {
	return empty{}, a.cfg.Deploy.Cancel(ctx, c.account, in.Job)
}
