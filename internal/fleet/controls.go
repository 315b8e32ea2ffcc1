package fleet

import (
	"strconv"
	"strings"
)

// Tags that set fleetsync's rollout controls (docs/rollout-controls.md): the
// AWS model has no member for them. Values are checked when they are set
// (CheckControlTags), so a stored value always parses.
const (
	// TagHealthSeconds on a job or a fleet is the health period: a robot
	// counts as InSync only after its new application stayed up that long
	// (and its health command, if any, exited 0). The job's tag wins over
	// the fleet's; absent or 0 means no gate.
	TagHealthSeconds = "fleetsync:healthSeconds"
	// TagCanary on a job is the number of robots that deploy first, alone;
	// the window opens to the rest only after every one of them succeeded.
	TagCanary = "fleetsync:canary"
)

// MaxHealthSeconds bounds the health period (one day; the robot deployment
// timeout bounds it further, per job).
const MaxHealthSeconds = 86400

// MaxCanary bounds the canary tag (the per-fleet robot quota's default).
const MaxCanary = 100000

// CheckControlTags refuses control tags whose value is not a whole number in
// range, naming the tag and the rule; other tags pass.
func CheckControlTags(tags Tags) error {
	for k, v := range tags {
		var limit int64
		switch {
		case strings.EqualFold(k, TagHealthSeconds):
			limit = MaxHealthSeconds
		case strings.EqualFold(k, TagCanary):
			limit = MaxCanary
		default:
			continue
		}
		if _, ok := parseBounded(v, limit); !ok {
			return Errorf(Invalid, "tag %s: value %q must be a whole number from 0 to %d", k, v, limit)
		}
	}
	return nil
}

// ControlValue returns a control tag's value from tags (key matched without
// regard to case), and whether it is set to a valid number.
func ControlValue(tags Tags, key string) (int64, bool) {
	for k, v := range tags {
		if strings.EqualFold(k, key) {
			limit := int64(MaxCanary)
			if strings.EqualFold(key, TagHealthSeconds) {
				limit = MaxHealthSeconds
			}
			return parseBounded(v, limit)
		}
	}
	return 0, false
}

func parseBounded(v string, limit int64) (int64, bool) {
	n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
	if err != nil || n < 0 || n > limit {
		return 0, false
	}
	return n, true
}
