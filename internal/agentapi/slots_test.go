package agentapi

import (
	"context"
	"runtime"
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
			release, err := s.enter(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			releases = append(releases, release)
		}
		entered := make(chan struct{})
		go func() {
			release, err := s.enter(t.Context())
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
		if got := s.waiting.Load(); got != 1 {
			t.Fatalf("backlog %d with one request waiting, want 1", got)
		}
		releases[0]()
		synctest.Wait()
		select {
		case <-entered:
		default:
			t.Fatal("a freed slot was not taken")
		}
		if got := s.waiting.Load(); got != 0 {
			t.Fatalf("backlog %d once the waiting request got its slot, want 0", got)
		}
		ctx, cancel := context.WithCancel(t.Context())
		got := make(chan error, 1)
		go func() {
			_, err := s.enter(ctx) // every slot but the freed one is still held: it takes that one
			got <- err
		}()
		synctest.Wait()
		if err := <-got; err != nil {
			t.Fatalf("enter with a free slot: %v", err)
		}
		go func() {
			_, err := s.enter(ctx)
			got <- err
		}()
		synctest.Wait()
		cancel()
		if err := <-got; err != context.Canceled {
			t.Fatalf("enter after the agent went away = %v, want context.Canceled", err)
		}
		if got := s.waiting.Load(); got != 0 {
			t.Fatalf("backlog %d once the waiting request gave up, want 0", got)
		}
	})
}
