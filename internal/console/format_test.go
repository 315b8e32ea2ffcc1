package console

import "testing"

func TestFormatDuration(t *testing.T) {
	for _, tc := range []struct {
		ms   int64
		want string
	}{
		{-5, "0.0s"}, {0, "0.0s"}, {900, "0.9s"}, {9_999, "9.9s"}, {10_000, "10s"}, {59_999, "59s"},
		{60_000, "1m00s"}, {185_000, "3m05s"}, {3_599_999, "59m59s"}, {3_600_000, "1h00m"}, {3_720_000, "1h02m"},
	} {
		if got := formatDuration(tc.ms); got != tc.want {
			t.Errorf("formatDuration(%d) = %q, want %q", tc.ms, got, tc.want)
		}
	}
	if got := formatSpan(0, 5000); got != "" {
		t.Errorf("formatSpan from an unset start = %q, want empty", got)
	}
}

func TestNames(t *testing.T) {
	for arn, want := range map[string]string{
		"arn:aws:robomaker:us-east-1:123456789012:deployment-fleet/warehouse/1700000000000": "warehouse",
		"arn:aws:robomaker:us-east-1:123456789012:robot/bot-1/1700000000000":                "bot-1",
		"arn:aws:robomaker:us-east-1:123456789012:deployment-job/deployment-abcdefghijkl":   "deployment-abcdefghijkl",
		"not-an-arn": "not-an-arn",
	} {
		if got := arnName(arn); got != want {
			t.Errorf("arnName(%q) = %q, want %q", arn, got, want)
		}
	}
	if got := string(arnRef(`arn:aws:robomaker:us-east-1:1:robot/<b>/1`)); got != `<span class="ref" title="arn:aws:robomaker:us-east-1:1:robot/&lt;b&gt;/1">&lt;b&gt;</span>`+
		`<button type="button" class="copy" data-copy="arn:aws:robomaker:us-east-1:1:robot/&lt;b&gt;/1" title="Copy the ARN">copy ARN</button>` {
		t.Errorf("arnRef does not escape: %s", got)
	}
	if got := operationLabel("SyncDeploymentJob"); got != "Sync" {
		t.Errorf("operationLabel = %q", got)
	}
	if got := shortHash(`"0123456789abcdef"`); got != "0123456789ab…" {
		t.Errorf("shortHash = %q", got)
	}
}
