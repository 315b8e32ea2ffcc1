package agentapi

import (
	"math"
	"testing"
	"time"
)

// TestWaitOf: a robot's wait is capped before it is made a Duration, so a
// huge count is the cap, not an overflow into a negative (no) wait.
func TestWaitOf(t *testing.T) {
	for _, c := range []struct {
		seconds int
		want    time.Duration
	}{{0, 0}, {5, 5 * time.Second}, {30, 30 * time.Second}, {31, 30 * time.Second}, {1 << 40, 30 * time.Second}, {math.MaxInt, 30 * time.Second}} {
		if got := waitOf(c.seconds, 30*time.Second); got != c.want {
			t.Errorf("waitOf(%d, 30s) = %v, want %v", c.seconds, got, c.want)
		}
	}
}
