package deploy

import (
	"context"
	"log/slog"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
)

// passCounter is an EngineStore with no active job: the engine's loop, not
// the store, is under test.
type passCounter struct {
	EngineStore
	passes atomic.Int64
	// cost is how long each pass takes (fake time in the bubble).
	cost time.Duration
}

func (p *passCounter) ActiveJobs(context.Context) ([]string, error) {
	p.passes.Add(1)
	time.Sleep(p.cost)
	return nil, nil
}

// TestEngineRestsBetweenPasses: woken every millisecond (every robot's
// result wakes the engine), the engine still rests after each pass as long
// as the pass took, and at least minRest, instead of passing back to back.
func TestEngineRestsBetweenPasses(t *testing.T) {
	for _, tc := range []struct {
		name       string
		cost       time.Duration
		maxPerSec  int64
		minPerSecs int64
	}{
		{"cheap passes: minRest apart", 0, int64(time.Second/minRest) + 1, int64(time.Second/minRest) - 2},
		{"a pass of 100 ms: 100 ms of rest", 100 * time.Millisecond, 6, 4},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				st := &passCounter{cost: tc.cost}
				e := &Engine{Store: st, Tick: time.Hour, LeaseTTL: time.Minute, Log: slog.New(slog.DiscardHandler)}
				ctx, cancel := context.WithCancel(t.Context())
				done := make(chan struct{})
				go func() { e.Run(ctx); close(done) }()
				for range 1000 {
					e.WakeEngine()
					time.Sleep(time.Millisecond)
				}
				cancel()
				<-done
				if n := st.passes.Load(); n > tc.maxPerSec || n < tc.minPerSecs {
					t.Errorf("%d passes in one second of wake-ups every millisecond, want %d to %d", n, tc.minPerSecs, tc.maxPerSec)
				}
			})
		})
	}
}
