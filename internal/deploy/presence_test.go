package deploy_test

import (
	"context"
	"errors"
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

// failingSeen is a PresenceStore that is down.
type failingSeen struct{}

func (failingSeen) RecordAgentsSeen(context.Context, map[string]int64) error {
	return errors.New("store down")
}

// TestPresenceWaiting: a robot is heard for as long as one of its requests
// waits (Last answers the time asked about); a robot's stamp is written at
// most once per WriteEveryMs, and a waiting robot is stamped again once its
// stored stamp is KeepAliveMs old; once the wait ends, Last is its end.
func TestPresenceWaiting(t *testing.T) {
	p := &deploy.Presence{WriteEveryMs: 10_000, KeepAliveMs: 20_000}
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
	flush := func(at int64, want map[string]int64) {
		t.Helper()
		n := len(st.batches)
		must(t, p.Flush(ctx, st, at))
		var got map[string]int64
		if len(st.batches) > n {
			got = st.batches[n]
		}
		if !maps.Equal(got, want) {
			t.Errorf("flush at %d stored %v, want %v", at, got, want)
		}
	}
	flush(5_000, map[string]int64{"idle": 1_000, "busy": 5_000}) // first stamps; busy waits now
	flush(15_000, nil)                                           // busy waits, written 10 s ago
	flush(25_000, map[string]int64{"busy": 25_000})              // 20 s since: again
	p.Seen("idle", 30_000)
	flush(31_000, map[string]int64{"idle": 30_000})
	p.Seen("idle", 35_000)
	// idle written 8 s ago: held back; busy written 13 s ago, still
	// waiting and heard of nothing new: not stamped before 20 s.
	flush(38_000, nil)
	flush(50_000, map[string]int64{"idle": 35_000, "busy": 50_000})
	p.EndWait("busy", 55_000)
	if got := p.Last("busy", 60_000); got != 60_000 {
		t.Errorf("Last after one of two waits ended = %d, want 60000 (the other still waits)", got)
	}
	p.EndWait("busy", 56_000)
	if got := p.Last("busy", 90_000); got != 56_000 {
		t.Errorf("Last after both waits ended = %d, want 56000", got)
	}
	flush(58_000, nil) // busy's end, heard 8 s after its last write
	// A batch the store refused is written at the next due flush.
	if err := p.Flush(ctx, failingSeen{}, 70_000); err == nil {
		t.Error("a flush into a failing store reported no error")
	}
	flush(71_000, map[string]int64{"busy": 56_000})
	flush(200_000, nil)
}
