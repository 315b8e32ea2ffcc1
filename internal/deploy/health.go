package deploy

import (
	"github.com/fleetsync/fleetsync/internal/fleet"
)

// The health gate (issue 16): a robot counts as InSync only after its new
// application stayed up for the health period and, when the launch config
// names one, its health command exited 0; otherwise the agent rolls it back
// and the robot fails with CodeHealthGate. The agent carries the gate out
// after the last launch step (its duration travels in the assignment); the
// server decides the period and records the outcome.

// CodeHealthGate is the failure code of a robot rolled back by the health
// gate: the model's DeploymentJobErrorCode for an application that does not
// come up (the code of today's launch settle check too).
const CodeHealthGate = "EnvironmentSetupError"

// HealthEnv is the launch-config environment variable that names a health
// command: a path relative to the bundle root, looked up like the pre- and
// post-launch files, run with the application's environment at the end of
// the health period.
const HealthEnv = "FLEETSYNC_HEALTH_COMMAND"

// Where an effective control value comes from.
const (
	FromJob   = "job"
	FromFleet = "fleet"
	FromNone  = "default"
)

// HealthSeconds is the effective health period of a job on a fleet: the
// job's fleetsync:healthSeconds tag, else the fleet's, else 0 (no gate),
// with where it came from.
func HealthSeconds(jobTags, fleetTags fleet.Tags) (int64, string) {
	if n, ok := fleet.ControlValue(jobTags, fleet.TagHealthSeconds); ok {
		return n, FromJob
	}
	if n, ok := fleet.ControlValue(fleetTags, fleet.TagHealthSeconds); ok {
		return n, FromFleet
	}
	return 0, FromNone
}

// checkJobControls refuses control tags of a new job that are malformed or
// cannot work with its config: a health period must end before the robot
// deployment timeout.
func checkJobControls(tags fleet.Tags, cfg fleet.DeploymentConfig) error {
	if err := fleet.CheckControlTags(tags); err != nil {
		return err
	}
	if n, ok := fleet.ControlValue(tags, fleet.TagHealthSeconds); ok && n >= cfg.RobotTimeoutSeconds {
		return fleet.Errorf(fleet.Invalid, "tag %s: %d seconds must be shorter than robotDeploymentTimeoutInSeconds (%d)",
			fleet.TagHealthSeconds, n, cfg.RobotTimeoutSeconds)
	}
	return nil
}
