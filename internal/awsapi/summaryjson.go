package awsapi

import (
	"math"
	"strconv"
)

// appendRobotDeploy appends d as json.Marshal encodes it, without
// reflection, when every string in it needs no escaping and every number
// is plain; ok is false for any other row, which the caller marshals. A
// first DescribeDeploymentJob of 10,000 robots spent a quarter of its time
// in json.Marshal of its rows, most of it checking the output of Epoch's
// MarshalJSON; the rows of a rollout are ASCII ARNs, statuses and steps.
// TestAppendRobotDeployEqualsMarshal and its fuzz target hold the two
// encodings equal.
func appendRobotDeploy(b []byte, d wireRobotDeploy) (_ []byte, ok bool) {
	p := d.ProgressDetail
	if (d.DeploymentStartTime != nil && *d.DeploymentStartTime < 0) ||
		(d.DeploymentFinishTime != nil && *d.DeploymentFinishTime < 0) ||
		(p.PercentDone != nil && !plainFloat(*p.PercentDone)) {
		return b, false
	}
	start, ok := len(b), true
	// quoted appends s between quotes; each string is checked where it is
	// written, so that no field can be written unchecked.
	quoted := func(s string) {
		ok = ok && plain(s)
		b = append(append(append(b, '"'), s...), '"')
	}
	b = append(b, `{"arn":`...)
	quoted(d.ARN)
	if d.DeploymentStartTime != nil {
		b = d.DeploymentStartTime.appendJSON(append(b, `,"deploymentStartTime":`...))
	}
	if d.DeploymentFinishTime != nil {
		b = d.DeploymentFinishTime.appendJSON(append(b, `,"deploymentFinishTime":`...))
	}
	b = append(b, `,"status":`...)
	quoted(d.Status)
	b = append(b, `,"progressDetail":{`...)
	sep := ""
	member := func(name string) {
		b = append(append(b, sep...), name...)
		sep = ","
	}
	if p.CurrentProgress != "" {
		member(`"currentProgress":`)
		quoted(p.CurrentProgress)
	}
	if p.PercentDone != nil {
		member(`"percentDone":`)
		b = strconv.AppendFloat(b, *p.PercentDone, 'f', -1, 64)
	}
	if p.EstimatedTimeRemainingSeconds != nil {
		member(`"estimatedTimeRemainingSeconds":`)
		b = strconv.AppendInt(b, *p.EstimatedTimeRemainingSeconds, 10)
	}
	if p.TargetResource != "" {
		member(`"targetResource":`)
		quoted(p.TargetResource)
	}
	b = append(b, '}')
	if d.FailureReason != "" {
		b = append(b, `,"failureReason":`...)
		quoted(d.FailureReason)
	}
	if d.FailureCode != "" {
		b = append(b, `,"failureCode":`...)
		quoted(d.FailureCode)
	}
	if !ok {
		return b[:start], false
	}
	return append(b, '}'), true
}

// plain reports whether json.Marshal writes s unchanged between quotes:
// printable ASCII without the characters it escapes.
func plain(s string) bool {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c < 0x20 || c >= 0x7f, c == '"', c == '\\', c == '<', c == '>', c == '&':
			return false
		}
	}
	return true
}

// plainFloat reports whether json.Marshal writes f as strconv's shortest
// 'f' format: finite, and zero or of a magnitude it does not write with
// an exponent.
func plainFloat(f float64) bool {
	a := math.Abs(f)
	return !math.IsNaN(f) && !math.IsInf(f, 0) && (a == 0 || a >= 1e-6 && a < 1e21)
}
