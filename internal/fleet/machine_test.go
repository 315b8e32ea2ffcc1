package fleet

import (
	"fmt"
	"testing"
)

func TestJobTransitions(t *testing.T) {
	all := []JobStatus{JobPending, JobPreparing, JobInProgress, JobSucceeded, JobFailed, JobCanceled}
	allowed := map[string]bool{
		"Pending>Preparing": true, "Pending>Failed": true, "Pending>Canceled": true,
		"Preparing>InProgress": true, "Preparing>Succeeded": true, "Preparing>Failed": true, "Preparing>Canceled": true,
		"InProgress>Succeeded": true, "InProgress>Failed": true, "InProgress>Canceled": true,
	}
	for _, from := range all {
		for _, to := range all {
			key := fmt.Sprintf("%s>%s", from, to)
			if got := CanJob(from, to); got != allowed[key] {
				t.Errorf("CanJob(%s, %s) = %v, want %v", from, to, got, allowed[key])
			}
		}
		if want := from == JobPending || from == JobPreparing || from == JobInProgress; from.Active() != want {
			t.Errorf("%s.Active() = %v", from, !want)
		}
	}
}

func TestRobotTransitions(t *testing.T) {
	all := []RobotStatus{RobotPendingNewDeployment, RobotDeploying, RobotInSync, RobotFailed, RobotNoResponse}
	allowed := map[string]bool{
		"PendingNewDeployment>Deploying": true, "PendingNewDeployment>Failed": true, "PendingNewDeployment>NoResponse": true,
		"Deploying>InSync": true, "Deploying>Failed": true, "Deploying>NoResponse": true,
		"NoResponse>InSync": true, "NoResponse>Failed": true,
	}
	for _, from := range all {
		for _, to := range all {
			key := fmt.Sprintf("%s>%s", from, to)
			if got := CanRobot(from, to); got != allowed[key] {
				t.Errorf("CanRobot(%s, %s) = %v, want %v", from, to, got, allowed[key])
			}
		}
	}
}
