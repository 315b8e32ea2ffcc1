package runner

import (
	"errors"
	"fmt"
	"time"

	"github.com/fleetsync/fleetsync/internal/proto"
)

// HealthCommandEnv names, in the launch config's environment variables, the
// health command of the health gate: a path relative to the bundle root,
// looked up like the pre- and post-launch files and run like them, with the
// application's environment, at the end of the health period.
const HealthCommandEnv = "FLEETSYNC_HEALTH_COMMAND"

// healthPoll is how often the gate looks at the application.
const healthPoll = 100 * time.Millisecond

// healthGateError is a health gate that failed: the deployment fails with
// EnvironmentSetupError and a reason that starts "health gate failed".
type healthGateError struct{ reason string }

func (e *healthGateError) Error() string { return "health gate failed: " + e.reason }

// healthGate runs after the last launch step of an assignment with a health
// period: the new application must stay up (no exit, no restart) until
// HealthSeconds after its launch, and then the health command, if the
// launch config names one, must exit 0. A nil error lets the deployment
// finish; the caller rolls back on anything else. The last step's progress
// report keeps being repeated meanwhile (the AWS steps have none for this).
func (a *Agent) healthGate(d *deployment) error {
	period := serverSeconds(d.a.HealthSeconds)
	deadline := d.launchedAt.Add(period)
	for {
		if err := d.ctx.Err(); err != nil {
			return err
		}
		if a.app == nil {
			return &healthGateError{"the application is not running"}
		}
		if _, _, restarts, _ := a.app.Running(); restarts > 0 {
			a.mu.Lock()
			code := a.status.LastExitCode
			a.mu.Unlock()
			status := "?"
			if code != nil {
				status = fmt.Sprint(*code)
			}
			return &healthGateError{fmt.Sprintf("the application exited (status %s) %.1fs after its launch, within the %ds health period",
				status, time.Since(d.launchedAt).Seconds(), d.a.HealthSeconds)}
		}
		left := time.Until(deadline)
		if left <= 0 {
			break
		}
		a.sleep(d.ctx, min(left, healthPoll))
	}
	cmd := d.a.LaunchConfig.EnvironmentVariables[HealthCommandEnv]
	if cmd == "" {
		return nil
	}
	if err := a.runScript(d.ctx, a.spec(d.app), cmd); err != nil {
		if d.ctx.Err() != nil {
			return d.ctx.Err()
		}
		return &healthGateError{fmt.Sprintf("health command %s after the %ds health period: %v", cmd, d.a.HealthSeconds, err)}
	}
	if _, _, restarts, _ := a.app.Running(); restarts > 0 {
		return &healthGateError{"the application exited while its health command ran"}
	}
	return nil
}

// isHealthGate reports whether err is a failed health gate.
func isHealthGate(err error) bool {
	_, ok := errors.AsType[*healthGateError](err)
	return ok
}

// gateOutcome is Report.HealthGate for a deployment that ended with err.
func gateOutcome(asg *proto.Assignment, err error) string {
	switch {
	case asg.HealthSeconds <= 0:
		return ""
	case err == nil:
		return proto.HealthPassed
	case isHealthGate(err):
		return proto.HealthFailed
	}
	return ""
}
