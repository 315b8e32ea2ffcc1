package agentapi_test

import (
	"crypto/ed25519"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/fleetsync/fleetsync/internal/agentapi"
	"github.com/fleetsync/fleetsync/internal/proto"
)

// pollAsync sends a signed poll of priv and delivers its HTTP status (0:
// the request failed) on the returned channel.
func (e *endpoint) pollAsync(priv ed25519.PrivateKey, req proto.PollRequest) <-chan int {
	body, err := json.Marshal(req)
	must(e.t, err)
	r := e.signed(priv, http.MethodPost, e.srv.URL+proto.PathPoll, body)
	done := make(chan int, 1)
	go func() {
		resp, err := http.DefaultClient.Do(r)
		if err != nil {
			done <- 0
			return
		}
		resp.Body.Close()
		done <- resp.StatusCode
	}()
	return done
}

// A poll that waited in the server's queue (every work slot taken, as when
// 100,000 robots poll at once) longer than the wait it asked for is
// answered as soon as it is looked at: the wait counts from its arrival, so
// the agent hears back within its wait and slack, instead of timing out
// and polling again into the same queue.
func TestQueuedPollWaitCountsFromArrival(t *testing.T) {
	e := newEndpoint(t)
	priv := newAgent(t)
	e.registeredRobot(priv)
	if st := e.call(priv, proto.PathPoll, proto.PollRequest{}, nil); st != http.StatusOK {
		t.Fatalf("first poll: HTTP %d", st)
	}
	release := agentapi.HoldSlots(e.api)
	done := e.pollAsync(priv, proto.PollRequest{WaitSeconds: 2})
	time.Sleep(3 * time.Second) // queued past its wait
	release()
	released := time.Now()
	select {
	case st := <-done:
		if st != http.StatusOK {
			t.Fatalf("queued poll: HTTP %d", st)
		}
		// Held again for its whole wait it would answer 2 s after the release.
		if d := time.Since(released); d > time.Second {
			t.Errorf("queued poll answered %v after it got a slot; want at once (its wait was over)", d)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("queued poll not answered")
	}
}

// A held poll of an idle robot whose wait ends is answered from memory,
// without a work slot: while every slot is taken it is still answered when
// its wait ends.
func TestExpiredIdlePollNeedsNoSlot(t *testing.T) {
	e := newEndpoint(t)
	priv := newAgent(t)
	e.registeredRobot(priv)
	done := e.pollAsync(priv, proto.PollRequest{WaitSeconds: 2})
	deadline := time.Now().Add(5 * time.Second)
	for all, _ := e.hub.Held(); all != 1; all, _ = e.hub.Held() {
		if time.Now().After(deadline) {
			t.Fatal("the poll is not held")
		}
		time.Sleep(time.Millisecond)
	}
	// Held from before its first look, which gives its slot back when
	// it is done (in a few milliseconds).
	time.Sleep(300 * time.Millisecond)
	release := agentapi.HoldSlots(e.api)
	defer release()
	select {
	case st := <-done:
		if st != http.StatusOK {
			t.Fatalf("expired poll: HTTP %d", st)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("an idle robot's expired poll waited for a work slot")
	}
}
