package deploy

import (
	"context"
	"fmt"
	"time"

	"github.com/fleetsync/fleetsync/internal/fleet"
	"github.com/fleetsync/fleetsync/internal/store"
)

// Bounded retries and quarantine (issue 16). Every rule of both lives here:
// which failures are transient, how often a robot's deployment is handed out
// within one job, the backoff between attempts, and when repeated failures
// of the same deployment quarantine a robot.

// Defaults of the retry and quarantine settings.
const (
	DefaultMaxAttempts     = 3
	DefaultRetryBackoff    = 10 * time.Second
	DefaultQuarantineAfter = 3
	// maxRetryBackoff caps the doubling backoff.
	maxRetryBackoff = 5 * time.Minute
)

// ReasonQuarantined is the drift and plan reason of a robot left out of a
// deployment it failed too often, until an operator releases it.
const ReasonQuarantined = "Quarantined"

// CodeAttemptsExhausted fails a robot whose deployment was handed out
// MaxAttempts times without a result (its agent restarted mid-step or the
// connection kept dropping): the model has no closer code.
const CodeAttemptsExhausted = "InternalServerError"

// transientCodes are failures a new attempt may cure: the agent's own
// download retries gave up (network, store unavailable). A bundle that is
// not the version's (EtagMismatch), a bad archive or a failing script will
// fail the same way again.
var transientCodes = map[string]bool{
	"DownloadingBundleFailure": true,
}

// Transient reports whether a robot's failure code is worth another attempt
// within the job.
func Transient(code string) bool { return transientCodes[code] }

// RetryPolicy bounds retries within a job and sets the quarantine.
type RetryPolicy struct {
	// MaxAttempts is how often one robot's deployment may be handed out in
	// one job (DefaultMaxAttempts when 0; 1 disables retries).
	MaxAttempts int
	// Backoff is the wait before the second attempt, doubling after each
	// (DefaultRetryBackoff when 0), capped at five minutes.
	Backoff time.Duration
	// QuarantineAfter is how many failures of the same deployment
	// quarantine a robot (DefaultQuarantineAfter when 0; negative: never).
	QuarantineAfter int
}

func (p RetryPolicy) attempts() int {
	if p.MaxAttempts <= 0 {
		return DefaultMaxAttempts
	}
	return p.MaxAttempts
}

// BackoffAfter is the wait after attempt n (1-based) failed transiently.
func (p RetryPolicy) BackoffAfter(n int) time.Duration {
	b := p.Backoff
	if b <= 0 {
		b = DefaultRetryBackoff
	}
	for i := 1; i < n && b < maxRetryBackoff; i++ {
		b *= 2
	}
	return min(b, maxRetryBackoff)
}

func (p RetryPolicy) quarantineAfter() int {
	switch {
	case p.QuarantineAfter < 0:
		return 0
	case p.QuarantineAfter == 0:
		return DefaultQuarantineAfter
	}
	return p.QuarantineAfter
}

// RetryStore is what retries and quarantine read and write (store.Retries
// and store.Quarantine, documented there).
type RetryStore interface {
	RowAttempts(ctx context.Context, jobARN, robotARN string) (attempts int, retryAtMs int64, err error)
	CountAttempt(ctx context.Context, jobARN, robotARN string, expect int) (bool, error)
	DeferRetry(ctx context.Context, jobARN, robotARN string, retryAtMs int64) (bool, error)
	RecordRobotFailure(ctx context.Context, f store.RobotFailures, quarantineAfter int, nowMs int64) (store.RobotFailures, error)
}

// mayHandOut decides whether the robot's deployment may be handed out
// now: wait (backoff not over; retryAtMs is when it ends), exhausted (the
// robot must fail), or go.
func (r *Robots) mayHandOut(as store.Assignment) (wait, exhausted bool, retryAtMs int64) {
	if as.RetryAtMs > r.now().UnixMilli() {
		return true, false, as.RetryAtMs
	}
	return false, as.Attempts >= r.Policy.attempts(), 0
}

// countHandout counts the attempt of a deployment about to be handed out,
// once its assignment is built: an error of the server's own (a store or
// bundle store that cannot be read) uses none of the robot's attempts.
// When a concurrent poll of the same robot counted it first, that poll
// hands it out and this one answers with a retry a second later.
func (r *Robots) countHandout(ctx context.Context, as store.Assignment) (retryAtMs int64, err error) {
	ok, err := r.Retry.CountAttempt(ctx, as.Job.ARN, as.Row.Robot, as.Attempts)
	if err != nil || ok {
		return 0, err
	}
	return r.now().Add(time.Second).UnixMilli(), nil
}

// exhaust fails a robot whose attempts ran out.
func (r *Robots) exhaust(ctx context.Context, robot fleet.Robot, j fleet.Job, attempts int) error {
	reason := fmt.Sprintf("The robot's deployment was handed out %d times without finishing (its agent restarted or lost the connection mid-deployment).", attempts)
	o, _ := fleet.ReportedFailure(CodeAttemptsExhausted, "")
	res := store.Result{Status: o.Status, Code: CodeAttemptsExhausted, Reason: reason, Step: o.Step, NowMs: r.now().UnixMilli()}
	if _, err := r.Store.RecordResult(ctx, j.ARN, robot.ARN, res); err != nil {
		return err
	}
	r.Log.Info("robot deployment failed: attempts exhausted", "robot", robot.ARN, "job", j.ARN, "attempts", attempts)
	orNop(r.Wake).WakeEngine()
	return r.countFailure(ctx, robot, j, CodeAttemptsExhausted, reason)
}

// retryLater keeps a transient failure within the job when attempts remain;
// it reports whether it did (the caller records the failure otherwise).
func (r *Robots) retryLater(ctx context.Context, robot fleet.Robot, rep Report) (bool, error) {
	if !Transient(rep.FailureCode) {
		return false, nil
	}
	attempts, _, err := r.Retry.RowAttempts(ctx, rep.DeploymentJob, robot.ARN)
	if err != nil || attempts >= r.Policy.attempts() {
		return false, nil // no row (the store answers abort) or no attempt left
	}
	backoff := r.Policy.BackoffAfter(max(attempts, 1))
	ok, err := r.Retry.DeferRetry(ctx, rep.DeploymentJob, robot.ARN, r.now().Add(backoff).UnixMilli())
	if err != nil || !ok {
		return false, err
	}
	r.Log.Info("robot deployment failed transiently; retrying within the job", "robot", robot.ARN, "job", rep.DeploymentJob,
		"failure_code", rep.FailureCode, "attempt", attempts, "of", r.Policy.attempts(), "backoff", backoff)
	if r.OnRetry != nil {
		r.OnRetry()
	}
	return true, nil
}

// countFailure adds a robot's final failure of a job to its count for the
// job's deployment, quarantining it at the setting.
func (r *Robots) countFailure(ctx context.Context, robot fleet.Robot, j fleet.Job, code, reason string) error {
	f, err := r.Retry.RecordRobotFailure(ctx, store.RobotFailures{Account: robot.Account, Robot: robot.ARN, Fingerprint: j.Spec.Fingerprint(),
		LastJob: j.ARN, LastCode: code, LastReason: reason}, r.Policy.quarantineAfter(), r.now().UnixMilli())
	if err != nil {
		return err
	}
	if f.QuarantinedMs > 0 && f.Failures == r.Policy.quarantineAfter() { // quarantined by this failure
		r.Log.Warn("robot quarantined: it failed the same deployment too often", "robot", robot.ARN, "job", j.ARN,
			"failures", f.Failures, "failure_code", code)
		if r.OnQuarantine != nil {
			r.OnQuarantine()
		}
	}
	return nil
}
