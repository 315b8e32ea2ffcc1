package agentapi

import (
	"testing"

	"github.com/fleetsync/fleetsync/internal/proto"
)

// TestNonceCacheAcrossGenerations: a request accepted once is refused as
// long as it could pass the date check (proto.MaxSkew either side of its
// date), however the generations turn meanwhile; only then is its window
// forgotten.
func TestNonceCacheAcrossGenerations(t *testing.T) {
	skew := proto.MaxSkew.Milliseconds()
	const t0 = int64(1_800_000_000_000)
	cases := []struct {
		name   string
		nowMs  int64 // when the replay arrives
		dateMs int64 // its signed date (the original's)
	}{
		{"at once", t0, t0},
		{"after one generation", t0 + replayForget, t0},
		{"dated ahead, replayed at the last moment", t0 + 2*skew - 1, t0 + skew},
		{"after a rotation by another agent", t0 + replayForget + 1, t0 + skew},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var n nonceCache
			if ok, _ := n.Fresh(t.Context(), "a", "n1", c.dateMs, t0); !ok {
				t.Fatal("first request refused")
			}
			// Other agents' requests turn the generations meanwhile.
			for ms := t0; ms <= c.nowMs; ms += replayForget / 2 {
				n.Fresh(t.Context(), "other", "x", ms, ms)
			}
			if ok, _ := n.Fresh(t.Context(), "a", "n1", c.dateMs, c.nowMs); ok {
				t.Fatalf("replay at +%d ms of a request dated %+d ms accepted", c.nowMs-t0, c.dateMs-t0)
			}
		})
	}
	// Quiet for two generations: the window is gone, and so is the agent.
	var n nonceCache
	n.Fresh(t.Context(), "a", "n1", t0, t0)
	n.Fresh(t.Context(), "b", "n1", t0+replayForget, t0+replayForget)
	n.Fresh(t.Context(), "b", "n2", t0+2*replayForget, t0+2*replayForget)
	if _, ok := n.windows.get("a"); ok || n.windows.len() != 1 {
		t.Fatalf("%d windows after two quiet generations, want b's only", n.windows.len())
	}
}
