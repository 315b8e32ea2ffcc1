package fleet

import (
	"strings"
	"testing"
)

func TestParseARNRoundTrip(t *testing.T) {
	for _, s := range []string{
		"arn:aws:robomaker:us-west-2:111111111111:deployment-fleet/MyFleet/1550771358907",
		"arn:aws:robomaker:us-west-2:111111111111:robot/MyRobot/1550772324398",
		"arn:aws:robomaker:us-west-2:111111111111:robot-application/App/1551201873931",
		"arn:aws:robomaker:us-west-2:111111111111:deployment-job/deployment-xl8qssl6pbcn",
	} {
		a, err := ParseARN(s)
		if err != nil {
			t.Fatalf("ParseARN(%q): %v", s, err)
		}
		if got := a.String(); got != s {
			t.Errorf("ParseARN(%q).String() = %q", s, got)
		}
	}
}

func TestParseARNRejects(t *testing.T) {
	for _, s := range []string{
		"", "arn:aws:s3:::bucket", "arn:aws:robomaker:us-east-1:1:simulation-job/sim-1",
		"arn:aws:robomaker:us-east-1:1:robot/name", "arn:aws:robomaker:us-east-1:1:robot/name/abc",
		"arn:aws:robomaker:us-east-1:1:deployment-job/", "arn:aws:robomaker:us-east-1:1:robot//1",
		"arn:aws:robomaker:us-east-1:1:robot/a\x00b/1", "arn:aws:robomaker:us-east-1:1:robot/a\xffb/1",
		"arn:aws:robomaker:us-east-1:1:deployment-job/" + strings.Repeat("d", MaxARN),
	} {
		if _, err := ParseARN(s); CodeOf(err) != Invalid {
			t.Errorf("ParseARN(%q) = %v, want an Invalid error", s, err)
		}
	}
}
