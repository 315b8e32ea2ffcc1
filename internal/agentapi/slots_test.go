package agentapi

import (
	"context"
	"runtime"
	"slices"
	"testing"
	"testing/synctest"
)

// TestSlots: at most slotsPerCPU × GOMAXPROCS agent requests work at once;
// the next waits until one leaves, or gives up when its agent goes away.
func TestSlots(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var s slots
		n := slotsPerCPU * runtime.GOMAXPROCS(0)
		releases := make([]func(), 0, n)
		for range n {
			release, err := s.enter(t.Context(), begins)
			if err != nil {
				t.Fatal(err)
			}
			releases = append(releases, release)
		}
		entered := make(chan struct{})
		go func() {
			release, err := s.enter(t.Context(), begins)
			if err != nil {
				t.Error(err)
				return
			}
			close(entered)
			release()
		}()
		synctest.Wait()
		select {
		case <-entered:
			t.Fatalf("a request worked beside %d others", n)
		default:
		}
		releases[0]()
		synctest.Wait()
		select {
		case <-entered:
		default:
			t.Fatal("a freed slot was not taken")
		}
		ctx, cancel := context.WithCancel(t.Context())
		got := make(chan error, 1)
		go func() {
			_, err := s.enter(ctx, begins) // every slot but the freed one is still held: it takes that one
			got <- err
		}()
		synctest.Wait()
		if err := <-got; err != nil {
			t.Fatalf("enter with a free slot: %v", err)
		}
		go func() {
			_, err := s.enter(ctx, begins)
			got <- err
		}()
		synctest.Wait()
		cancel()
		if err := <-got; err != context.Canceled {
			t.Fatalf("enter after the agent went away = %v, want context.Canceled", err)
		}
	})
}

// TestSlotsServeFinishingWorkFirst: a freed slot goes to the oldest
// waiting report before any waiting poll, polls in their arrival order,
// and a request whose agent went away while it waited takes none.
func TestSlotsServeFinishingWorkFirst(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var s slots
		n := slotsPerCPU * runtime.GOMAXPROCS(0)
		held := make([]func(), 0, n)
		for range n {
			release, err := s.enter(t.Context(), begins)
			if err != nil {
				t.Fatal(err)
			}
			held = append(held, release)
		}
		var order []string
		releases := make(chan func(), 8)
		queue := func(ctx context.Context, name string, p priority) {
			go func() {
				release, err := s.enter(ctx, p)
				if err != nil {
					return
				}
				order = append(order, name) // one at a time: each holds the only free slot
				releases <- release
			}()
			synctest.Wait() // queued in this order
		}
		gone, cancel := context.WithCancel(t.Context())
		queue(t.Context(), "poll 1", begins)
		queue(gone, "report of a gone agent", finishes)
		queue(t.Context(), "poll 2", begins)
		queue(t.Context(), "report 1", finishes)
		queue(t.Context(), "report 2", finishes)
		cancel()
		synctest.Wait()
		held[0]()
		for range 4 {
			synctest.Wait()
			(<-releases)()
		}
		synctest.Wait()
		want := []string{"report 1", "report 2", "poll 1", "poll 2"}
		if !slices.Equal(order, want) {
			t.Fatalf("slots went to %q, want %q", order, want)
		}
		for _, release := range held[1:] {
			release()
		}
		for i := range n { // every slot is free again: none was lost to the gone agent
			if !s.tryEnter() {
				t.Fatalf("slot %d of %d not free once every request left", i+1, n)
			}
		}
	})
}
