package agentapi

import (
	"testing"
	"time"
)

// TestBucket: the token bucket allows a burst, then one request per
// 1/rate, says how long to wait when empty, charges nothing for a refused
// request, and never holds more than the burst.
func TestBucket(t *testing.T) {
	const s = int64(time.Second)
	cases := []struct {
		name      string
		perSecond float64
		burst     int
		steps     []struct {
			atNs int64
			wait time.Duration
		}
	}{
		{"burst then empty", 1, 3, []struct {
			atNs int64
			wait time.Duration
		}{{0, 0}, {0, 0}, {0, 0}, {0, time.Second}, {s / 2, time.Second / 2}}},
		{"refill one per second", 1, 1, []struct {
			atNs int64
			wait time.Duration
		}{{0, 0}, {s / 4, 3 * time.Second / 4}, {s, 0}, {s, time.Second}, {2 * s, 0}}},
		{"never more than the burst", 10, 2, []struct {
			atNs int64
			wait time.Duration
		}{{0, 0}, {0, 0}, {100 * s, 0}, {100 * s, 0}, {100 * s, time.Second / 10}}},
		{"a refused request costs nothing", 2, 1, []struct {
			atNs int64
			wait time.Duration
		}{{0, 0}, {s / 10, 4 * time.Second / 10}, {s / 5, 3 * time.Second / 10}, {s / 2, 0}}},
		{"a clock stepping back refills nothing", 1, 1, []struct {
			atNs int64
			wait time.Duration
		}{{10 * s, 0}, {5 * s, time.Second}, {11 * s, 0}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b := bucket{tokens: float64(c.burst), atNs: c.steps[0].atNs}
			for i, st := range c.steps {
				got := b.take(st.atNs, c.perSecond, c.burst)
				if d := got - st.wait; d < -time.Microsecond || d > time.Microsecond {
					t.Fatalf("step %d at %s: wait %s, want %s", i, time.Duration(st.atNs), got, st.wait)
				}
			}
		})
	}
}
