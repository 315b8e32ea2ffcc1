package config

import (
	"errors"
	"flag"
	"time"
)

// Rollout are the settings of bounded retries and quarantine
// (docs/rollout-controls.md).
type Rollout struct {
	// MaxAttempts is how often one robot's deployment may be handed out in
	// one job: transient failures (download) and agent restarts mid-step
	// are retried until then (1: no retry).
	MaxAttempts int
	// RetryBackoff is the wait before the second attempt, doubling after
	// each, at most five minutes.
	RetryBackoff time.Duration
	// QuarantineAfter is how many failures of the same deployment
	// quarantine a robot (0: never).
	QuarantineAfter int
}

func (c *Config) registerRollout(fs *flag.FlagSet, dur func(*time.Duration, string, string)) {
	r := &c.Rollout
	fs.IntVar(&r.MaxAttempts, "deploy-attempts", int(envFloat("deploy-attempts", float64(r.MaxAttempts))),
		"attempts per robot within one job for transient failures and agent restarts (env FLEETSYNC_DEPLOY_ATTEMPTS)")
	dur(&r.RetryBackoff, "retry-backoff", "wait before a robot's second attempt within a job, doubling after each")
	fs.IntVar(&r.QuarantineAfter, "quarantine-after", int(envFloat("quarantine-after", float64(r.QuarantineAfter))),
		"failures of the same deployment that quarantine a robot; 0 never (env FLEETSYNC_QUARANTINE_AFTER)")
}

func (r Rollout) validate() []error {
	var errs []error
	if r.MaxAttempts < 1 || r.MaxAttempts > 100 {
		errs = append(errs, errors.New("--deploy-attempts must be from 1 to 100"))
	}
	if r.RetryBackoff <= 0 {
		errs = append(errs, errors.New("--retry-backoff must be a positive duration"))
	}
	if r.QuarantineAfter < 0 || r.QuarantineAfter > 1000 {
		errs = append(errs, errors.New("--quarantine-after must be from 0 (never) to 1000"))
	}
	return errs
}
