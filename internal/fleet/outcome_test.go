package fleet

import "testing"

func TestOutcomesCoverEveryCauseOnce(t *testing.T) {
	for c, o := range Outcomes {
		if o.Code == "" || (o.Status != RobotFailed && o.Status != RobotNoResponse) {
			t.Errorf("%s: %+v is not a failure outcome", c, o)
		}
		// NoResponse is exactly the robot-timeout, silence and fleet-timeout causes.
		timeout := c == CauseRobotTimeout || c == CauseAgentSilent || c == CauseFleetTimeout
		if (o.Status == RobotNoResponse) != timeout {
			t.Errorf("%s: status %s", c, o.Status)
		}
	}
	if OutcomeOf("nonsense") != Outcomes[CauseInternal] {
		t.Error("an unknown cause is not internal")
	}
}

func TestReportedFailure(t *testing.T) {
	for _, tc := range []struct {
		code, step string
		status     RobotStatus
		wantStep   string
		ok         bool
	}{
		{CodePreLaunchFile, "Validating", RobotFailed, "ExecutingPreLaunch", true},
		{CodeExtractingBundle, "DownloadingExtracting", RobotFailed, "DownloadingExtracting", true},
		{CodeEnvironmentSetup, "Launching", RobotFailed, "Launching", true},
		{CodeEnvironmentSetup, "Validating", RobotFailed, "Validating", true},
		{CodeRobotNoResponse, "ExecutingPreLaunch", RobotNoResponse, "ExecutingPreLaunch", true},
		{CodeInternalServerError, "Launching", RobotFailed, "Launching", true},
		{CodePostLaunchFile, "ExecutingPostLaunch", RobotFailed, "ExecutingPostLaunch", true},
		{"MadeUp", "Launching", "", "", false},
	} {
		o, ok := ReportedFailure(tc.code, tc.step)
		if ok != tc.ok || o.Status != tc.status || o.Step != tc.wantStep {
			t.Errorf("ReportedFailure(%s, %s) = %+v %v; want %s %s %v", tc.code, tc.step, o, ok, tc.status, tc.wantStep, tc.ok)
		}
	}
}
