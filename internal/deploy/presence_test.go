package deploy_test

import (
	"context"
	"maps"
	"testing"

	"github.com/fleetsync/fleetsync/internal/deploy"
)

// recordedSeen is a PresenceStore that keeps every batch.
type recordedSeen struct{ batches []map[string]int64 }

func (r *recordedSeen) RecordAgentsSeen(_ context.Context, seen map[string]int64) error {
	r.batches = append(r.batches, maps.Clone(seen))
	return nil
}

// TestPresenceWaiting: a robot is heard for as long as one of its requests
// waits (Last answers the time asked about), and a flush stamps a robot
// that has waited longer than KeepAliveMs again for the other replicas;
// once the wait ends, Last is its end and flushes stamp nothing more.
func TestPresenceWaiting(t *testing.T) {
	p := &deploy.Presence{KeepAliveMs: 20_000}
	st := &recordedSeen{}
	ctx := t.Context()
	p.Seen("idle", 1_000)
	p.Waiting("busy", 1_000)
	p.Waiting("busy", 2_000) // a second request of the same robot
	for _, c := range []struct {
		robot string
		at    int64
		want  int64
	}{
		{"idle", 50_000, 1_000},
		{"busy", 50_000, 50_000},
		{"never", 50_000, 0},
	} {
		if got := p.Last(c.robot, c.at); got != c.want {
			t.Errorf("Last(%s, %d) = %d, want %d", c.robot, c.at, got, c.want)
		}
	}
	steps := []struct {
		at   int64
		want map[string]int64 // the batch stored (nil: none)
	}{
		{5_000, map[string]int64{"idle": 1_000, "busy": 2_000}}, // what was heard
		{15_000, nil}, // busy waited 13 s: not yet stale
		{22_000, map[string]int64{"busy": 22_000}}, // 20 s since: stamped again
		{30_000, nil},
		{42_000, map[string]int64{"busy": 42_000}},
	}
	for _, s := range steps {
		n := len(st.batches)
		if err := p.Flush(ctx, st, s.at); err != nil {
			t.Fatal(err)
		}
		var got map[string]int64
		if len(st.batches) > n {
			got = st.batches[n]
		}
		if !maps.Equal(got, s.want) {
			t.Errorf("flush at %d stored %v, want %v", s.at, got, s.want)
		}
	}
	p.EndWait("busy", 45_000)
	if got := p.Last("busy", 50_000); got != 50_000 {
		t.Errorf("Last after one of two waits ended = %d, want 50000 (the other still waits)", got)
	}
	p.EndWait("busy", 46_000)
	if got := p.Last("busy", 90_000); got != 46_000 {
		t.Errorf("Last after both waits ended = %d, want 46000", got)
	}
	n := len(st.batches)
	must(t, p.Flush(ctx, st, 90_000))
	if len(st.batches) != n+1 || !maps.Equal(st.batches[n], map[string]int64{"busy": 46_000}) {
		t.Errorf("flush after the waits: %v, want busy at 46000 once", st.batches[n:])
	}
	must(t, p.Flush(ctx, st, 200_000))
	if len(st.batches) != n+1 {
		t.Errorf("a flush with nothing heard or waiting stored %v", st.batches[n+1:])
	}
}
