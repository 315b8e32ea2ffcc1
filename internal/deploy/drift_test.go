package deploy

import (
	"testing"

	"github.com/fleetsync/fleetsync/internal/fleet"
)

func TestDriftReason(t *testing.T) {
	tests := []struct {
		name        string
		status      fleet.RobotStatus
		last        fleet.RobotDeployment
		archMissing bool
		want        string
	}{
		{"Pending", fleet.RobotPendingNewDeployment, fleet.RobotDeployment{}, true, ReasonPending},
		{"PendingNotDeploying", fleet.RobotPendingNewDeployment, fleet.RobotDeployment{Status: fleet.RobotPendingNewDeployment}, false, "PendingNewDeployment"},
		{"Deploying", fleet.RobotDeploying, fleet.RobotDeployment{}, false, ReasonDeploying},
		{"ArchBeforeNew", fleet.RobotRegistered, fleet.RobotDeployment{}, true, ReasonArchitectureMissing},
		{"ArchBeforeFailed", fleet.RobotFailed, fleet.RobotDeployment{FailureCode: CodeMissingArch}, true, ReasonArchitectureMissing},
		{"New", fleet.RobotRegistered, fleet.RobotDeployment{}, false, ReasonNeverDeployed},
		{"Failed", fleet.RobotFailed, fleet.RobotDeployment{FailureCode: CodeEtagMismatch}, false, "Failed:EtagMismatch"},
		{"FailedNoCode", fleet.RobotFailed, fleet.RobotDeployment{}, false, "Failed:" + CodeInternalServerErr},
		{"NoResponse", fleet.RobotNoResponse, fleet.RobotDeployment{}, false, ReasonNoResponse},
		{"OlderDeployment", fleet.RobotInSync, fleet.RobotDeployment{Status: fleet.RobotPendingNewDeployment}, false, ReasonNotReached},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := driftReason(fleet.Robot{Status: tc.status}, tc.last, tc.archMissing); got != tc.want {
				t.Errorf("driftReason(%s, %+v, %v) = %q, want %q", tc.status, tc.last, tc.archMissing, got, tc.want)
			}
		})
	}
}
