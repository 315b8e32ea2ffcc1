package deploy

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"log/slog"
	"time"

	"github.com/fleetsync/fleetsync/internal/fleet"
	"github.com/fleetsync/fleetsync/internal/store"
	"github.com/fleetsync/fleetsync/internal/tenancy"
)

// ServiceStore is what the job operations (and the drift report and
// continuous sync built on them) read and write; the methods are those of
// store.Jobs, store.Fleets, store.Applications and store.Reports,
// documented there.
type ServiceStore interface {
	GetFleet(ctx context.Context, account, arn string) (fleet.Fleet, error)
	GetApplication(ctx context.Context, account, arn, version string) (fleet.Application, error)
	CreateJob(ctx context.Context, j store.NewJob, maxActive int) error
	JobByToken(ctx context.Context, account, operation, token string) (fleet.Job, string, error)
	GetJob(ctx context.Context, account, arn string) (fleet.Job, error)
	ListJobs(ctx context.Context, q fleet.ListQuery) (fleet.Page[fleet.Job], error)
	JobRobotsSince(ctx context.Context, jobARN string, since int64) ([]fleet.RobotDeployment, int64, error)
	SourceJob(ctx context.Context, account, fleetARN string) (fleet.Job, error)
	SyncTargets(ctx context.Context, account, fleetARN, fingerprint string) ([]fleet.Robot, error)
	Rows(ctx context.Context, jobARN string, status fleet.RobotStatus, limit int) ([]fleet.RobotDeployment, error)
	CancelJob(ctx context.Context, account, jobARN, abortCode, abortReason string, nowMs int64) error
	LastRows(ctx context.Context, account, fleetARN string) ([]fleet.RobotDeployment, error)
	AutoSyncCandidates(ctx context.Context, tagKey string) ([]fleet.TaggedFleet, error)
	SetPaused(ctx context.Context, account, jobARN string, paused bool, nowMs int64) (fleet.Job, error)
	CountsBefore(ctx context.Context, jobARN string, seq int) (store.JobCounts, error)
	Counts(ctx context.Context, jobARN string, statuses ...fleet.RobotStatus) (store.JobCounts, error)
	QuarantinedRobots(ctx context.Context, account, fleetARN string) ([]store.RobotFailures, error)
	ReleaseRobot(ctx context.Context, account, robotARN string) (bool, error)
	FleetRobots(ctx context.Context, account, fleetARN string, limit int) ([]fleet.Robot, error)
	FleetOverlays(ctx context.Context, account, fleetARN string) (map[string][]string, error)
	RecentDurations(ctx context.Context, account, fleetARN string, limit int) ([]int64, error)
}

// Service implements the deployment job operations.
type Service struct {
	Store  ServiceStore
	Region string
	// MaxActiveJobs is the per-account quota of active jobs.
	MaxActiveJobs int
	// Wake tells the engine there is new work and robots' long polls to
	// look again; nil is fine.
	Wake Waker
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Log, if set, records jobs ended by CancelDeploymentJob (the engine
	// logs every other job end).
	Log *slog.Logger
	// Bundles and Limits let the sync plan check sources and decide the
	// job's outcome at preparation as the engine would (dryrun.go); the
	// bundle store is reached as the job's account sees it (Bundles.For).
	Bundles *tenancy.Bundles
	Limits  Limits
}

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

func (s *Service) wake() { orNop(s.Wake).WakeEngine() }

// ConfigInput is a deployment config as the caller sent it: nil members
// take the defaults of SPEC §5.
type ConfigInput struct {
	ConcurrentPercent       *int
	FailureThresholdPercent *int
	RobotTimeoutSeconds     *int64
	DownloadCondition       *fleet.S3Path
}

// Effective applies the defaults.
func (c *ConfigInput) Effective() fleet.DeploymentConfig {
	out := fleet.DeploymentConfig{
		ConcurrentPercent: fleet.DefaultConcurrentPercent, FailureThresholdPercent: fleet.DefaultFailureThreshold,
		RobotTimeoutSeconds: fleet.DefaultRobotTimeoutSecond,
	}
	if c == nil {
		return out
	}
	if c.ConcurrentPercent != nil {
		out.ConcurrentPercent = *c.ConcurrentPercent
	}
	if c.FailureThresholdPercent != nil {
		out.FailureThresholdPercent = *c.FailureThresholdPercent
	}
	if c.RobotTimeoutSeconds != nil {
		out.RobotTimeoutSeconds = *c.RobotTimeoutSeconds
	}
	out.DownloadCondition = c.DownloadCondition
	return out
}

// newJobARN mints "deployment-" plus 12 of [a-z0-9].
func (s *Service) newJobARN(account string) string {
	const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
	b := make([]byte, 12)
	rand.Read(b)
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return fleet.ARN{Region: s.Region, Account: account, Type: fleet.TypeDeploymentJob, Name: "deployment-" + string(b)}.String()
}

func paramsHash(v any) string {
	b, _ := json.Marshal(v)
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

func (s *Service) resolveFleet(account, arn string) error {
	a, err := fleet.ParseARN(arn)
	if err != nil || a.Type != fleet.TypeFleet {
		return fleet.Errorf(fleet.Invalid, "fleet: %q is not a deployment-fleet ARN", arn)
	}
	if a.Account != account || a.Region != s.Region {
		return fleet.Errorf(fleet.NotFound, "fleet %s does not exist", arn)
	}
	return nil
}

// Create starts a deployment job of apps to a fleet.
func (s *Service) Create(ctx context.Context, account, token, fleetARN string, apps []fleet.AppConfig, cfg *ConfigInput, tags fleet.Tags) (fleet.Job, error) {
	if err := s.resolveFleet(account, fleetARN); err != nil {
		return fleet.Job{}, err
	}
	spec, err := createSpec(apps, cfg, tags)
	if err != nil {
		return fleet.Job{}, err
	}
	hash := paramsHash(struct {
		Fleet string
		Spec  fleet.JobSpec
		Tags  fleet.Tags
	}{fleetARN, spec, tags})
	if j, ok, err := s.replay(ctx, account, fleet.OpCreateDeploymentJob, token, hash); ok || err != nil {
		return j, err
	}
	if err := s.checkApps(ctx, account, apps); err != nil {
		return fleet.Job{}, err
	}
	j, _, err := s.insert(ctx, account, fleet.OpCreateDeploymentJob, token, hash, fleetARN, spec, tags)
	return j, err
}

// createSpec is a Create's job spec after defaults and the checks that
// need no store.
func createSpec(apps []fleet.AppConfig, cfg *ConfigInput, tags fleet.Tags) (fleet.JobSpec, error) {
	spec := fleet.JobSpec{Apps: apps, Config: cfg.Effective()}
	if spec.Config.DownloadCondition != nil && spec.Config.DownloadCondition.Bucket == "" {
		return spec, fleet.Errorf(fleet.Invalid, "deploymentConfig.downloadConditionFile: bucket is required")
	}
	return spec, checkJobControls(tags, spec.Config)
}

// checkApps checks that a Create's application versions can be deployed.
func (s *Service) checkApps(ctx context.Context, account string, apps []fleet.AppConfig) error {
	for _, app := range apps {
		a, err := fleet.ParseARN(app.Application)
		if err != nil || a.Type != fleet.TypeRobotApplication {
			return fleet.Errorf(fleet.Invalid, "application: %q is not a robot-application ARN", app.Application)
		}
		if app.ApplicationVersion == fleet.LatestVersion {
			return fleet.Errorf(fleet.Invalid, "applicationVersion: deployments need a numbered version, not $LATEST")
		}
		if _, err := s.Store.GetApplication(ctx, account, app.Application, app.ApplicationVersion); err != nil {
			if errors.Is(err, store.ErrNotFound) {
				return fleet.Errorf(fleet.NotFound, "robot application %s version %s does not exist", app.Application, app.ApplicationVersion)
			}
			return fleet.Wrap(fleet.Internal, err, "store failure")
		}
	}
	return nil
}

// Sync starts a job that brings the fleet's robots onto its latest
// deployment (SPEC §5, SyncDeploymentJob).
func (s *Service) Sync(ctx context.Context, account, token, fleetARN string) (fleet.Job, error) {
	j, _, err := s.sync(ctx, account, token, fleetARN)
	return j, err
}

// sync is Sync; created reports whether this call inserted the job (false
// when its token returned an existing one).
func (s *Service) sync(ctx context.Context, account, token, fleetARN string) (fleet.Job, bool, error) {
	if err := s.resolveFleet(account, fleetARN); err != nil {
		return fleet.Job{}, false, err
	}
	hash := paramsHash(fleetARN)
	if j, ok, err := s.replay(ctx, account, fleet.OpSyncDeploymentJob, token, hash); ok || err != nil {
		return j, false, err
	}
	_, source, err := s.source(ctx, account, fleetARN)
	if err != nil {
		return fleet.Job{}, false, err
	}
	if source.Status.Active() {
		// That active job may be this very request's, created by an
		// identical call (same token) since the replay check above.
		if j, ok, err := s.replay(ctx, account, fleet.OpSyncDeploymentJob, token, hash); ok || err != nil {
			return j, false, err
		}
		return fleet.Job{}, false, concurrent(fleetARN)
	}
	return s.insert(ctx, account, fleet.OpSyncDeploymentJob, token, hash, fleetARN, source.Spec, nil)
}

// source returns an existing fleet of the account and the deployment Sync
// copies: its most recent job that was not Canceled (SPEC §5, Sync step 2).
func (s *Service) source(ctx context.Context, account, fleetARN string) (fleet.Fleet, fleet.Job, error) {
	f, err := s.Store.GetFleet(ctx, account, fleetARN)
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return fleet.Fleet{}, fleet.Job{}, fleet.Errorf(fleet.NotFound, "fleet %s does not exist", fleetARN)
		}
		return fleet.Fleet{}, fleet.Job{}, fleet.Wrap(fleet.Internal, err, "store failure")
	}
	source, err := s.Store.SourceJob(ctx, account, fleetARN)
	if errors.Is(err, store.ErrNotFound) {
		return f, fleet.Job{}, fleet.Errorf(fleet.NotFound, "fleet %s has no deployment to synchronize to", fleetARN)
	}
	if err != nil {
		return f, fleet.Job{}, fleet.Wrap(fleet.Internal, err, "store failure")
	}
	return f, source, nil
}

func concurrent(fleetARN string) error {
	return fleet.Errorf(fleet.ConcurrentDeployment, "fleet %s already has an active deployment job", fleetARN)
}

// replay returns the job a token already created (ok) or a mismatch error.
func (s *Service) replay(ctx context.Context, account, op, token, hash string) (fleet.Job, bool, error) {
	j, have, err := s.Store.JobByToken(ctx, account, op, token)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return fleet.Job{}, false, nil
	case err != nil:
		return fleet.Job{}, false, fleet.Wrap(fleet.Internal, err, "store failure")
	case have != hash:
		return fleet.Job{}, false, fleet.Errorf(fleet.IdempotentMismatch, "clientRequestToken %q was used with different parameters", token)
	}
	return j, true, nil
}

func (s *Service) insert(ctx context.Context, account, op, token, hash, fleetARN string, spec fleet.JobSpec, tags fleet.Tags) (fleet.Job, bool, error) {
	j := fleet.Job{ARN: s.newJobARN(account), Account: account, Fleet: fleetARN, Status: fleet.JobPending, Spec: spec,
		Tags: nonNil(tags), CreatedMs: s.now().UnixMilli(), Operation: op}
	err := s.Store.CreateJob(ctx, store.NewJob{Job: j, Operation: op, ClientToken: token, ParamsHash: hash}, s.MaxActiveJobs)
	switch {
	case err == nil:
		s.wake()
		return j, true, nil
	case errors.Is(err, store.ErrExists), errors.Is(err, store.ErrConflict):
		// A concurrent request with the same token may have won the race.
		if r, ok, rerr := s.replay(ctx, account, op, token, hash); ok || rerr != nil {
			return r, false, rerr
		}
		return fleet.Job{}, false, concurrent(fleetARN)
	case errors.Is(err, store.ErrLimit):
		return fleet.Job{}, false, fleet.Errorf(fleet.LimitExceeded, "an account can have at most %d active deployment jobs", s.MaxActiveJobs)
	case errors.Is(err, store.ErrNotFound):
		return fleet.Job{}, false, fleet.Errorf(fleet.NotFound, "fleet %s does not exist", fleetARN)
	}
	return fleet.Job{}, false, fleet.Wrap(fleet.Internal, err, "store failure")
}

func nonNil(t fleet.Tags) fleet.Tags {
	if t == nil {
		return fleet.Tags{}
	}
	return t
}

// Describe returns a job and, in start order, its per-robot rows that may
// have changed since the Describe that returned since as its next (0: all
// of them), with the next to pass: a caller that keeps what it read (the
// wire layer's cache of encoded rows) reads only the rows a rollout
// changed, not every row of the job each time.
func (s *Service) Describe(ctx context.Context, account, jobARN string, since int64) (fleet.Job, []fleet.RobotDeployment, int64, error) {
	j, err := s.job(ctx, account, jobARN)
	if err != nil {
		return fleet.Job{}, nil, 0, err
	}
	rows, next, err := s.Store.JobRobotsSince(ctx, jobARN, since)
	if err != nil {
		return fleet.Job{}, nil, 0, fleet.Wrap(fleet.Internal, err, "store failure")
	}
	return j, rows, next, nil
}

// Summary returns a job, how many of its robots are in each status, and
// its first limit rows in start order: what a view of a job of 100,000
// robots shows, read from indexes instead of every row.
func (s *Service) Summary(ctx context.Context, account, jobARN string, limit int) (fleet.Job, map[fleet.RobotStatus]int, []fleet.RobotDeployment, error) {
	j, err := s.job(ctx, account, jobARN)
	if err != nil {
		return fleet.Job{}, nil, nil, err
	}
	counts, err := s.Store.Counts(ctx, jobARN)
	if err != nil {
		return fleet.Job{}, nil, nil, fleet.Wrap(fleet.Internal, err, "store failure")
	}
	rows, err := s.Store.Rows(ctx, jobARN, "", limit)
	if err != nil {
		return fleet.Job{}, nil, nil, fleet.Wrap(fleet.Internal, err, "store failure")
	}
	return j, counts, rows, nil
}

func (s *Service) job(ctx context.Context, account, jobARN string) (fleet.Job, error) {
	a, err := fleet.ParseARN(jobARN)
	if err != nil || a.Type != fleet.TypeDeploymentJob {
		return fleet.Job{}, fleet.Errorf(fleet.Invalid, "job: %q is not a deployment-job ARN", jobARN)
	}
	if a.Account != account || a.Region != s.Region {
		return fleet.Job{}, fleet.Errorf(fleet.NotFound, "deployment job %s does not exist", jobARN)
	}
	j, err := s.Store.GetJob(ctx, account, jobARN)
	if errors.Is(err, store.ErrNotFound) {
		return fleet.Job{}, fleet.Errorf(fleet.NotFound, "deployment job %s does not exist", jobARN)
	}
	if err != nil {
		return fleet.Job{}, fleet.Wrap(fleet.Internal, err, "store failure")
	}
	return j, nil
}

// List pages the account's jobs; filters "status" and "fleetName".
func (s *Service) List(ctx context.Context, q fleet.ListQuery) (fleet.Page[fleet.Job], error) {
	for name, v := range q.Filters {
		switch name {
		case "fleetName":
		case "status":
			if !fleet.JobStatus(v).Active() && v != string(fleet.JobSucceeded) && v != string(fleet.JobFailed) && v != string(fleet.JobCanceled) {
				return fleet.Page[fleet.Job]{}, fleet.Errorf(fleet.Invalid, "filter status: %q is not a deployment status", v)
			}
		default:
			return fleet.Page[fleet.Job]{}, fleet.Errorf(fleet.Invalid, "filter %q is not supported here; supported: status, fleetName", name)
		}
	}
	p, err := s.Store.ListJobs(ctx, q)
	if err != nil {
		return p, fleet.Wrap(fleet.Internal, err, "store failure")
	}
	return p, nil
}

// Cancel cancels an active job; robots deploying are told to abort.
func (s *Service) Cancel(ctx context.Context, account, jobARN string) error {
	if _, err := s.job(ctx, account, jobARN); err != nil {
		return err
	}
	rows, err := s.Store.Rows(ctx, jobARN, fleet.RobotDeploying, 1<<30)
	if err != nil {
		return fleet.Wrap(fleet.Internal, err, "store failure")
	}
	err = s.Store.CancelJob(ctx, account, jobARN, CodeRobotAborted, reasonRobotAbortedText, s.now().UnixMilli())
	switch {
	case errors.Is(err, store.ErrConflict):
		return fleet.Errorf(fleet.Invalid, "deployment job %s has already finished", jobARN)
	case errors.Is(err, store.ErrNotFound):
		return fleet.Errorf(fleet.NotFound, "deployment job %s does not exist", jobARN)
	case err != nil:
		return fleet.Wrap(fleet.Internal, err, "store failure")
	}
	if s.Log != nil {
		s.Log.Info("deployment job finished", "job", jobARN, "status", fleet.JobCanceled, "aborted_robots", len(rows))
	}
	for _, r := range rows {
		orNop(s.Wake).WakeRobot(r.Robot)
	}
	s.wake()
	return nil
}
