package agentapi_test

import (
	"context"
	"encoding/json"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fleetsync/fleetsync/internal/agentapi"
	"github.com/fleetsync/fleetsync/internal/proto"
)

// TestOneLongPollPerRobot: 2,000 concurrent long polls from one key hold at
// most one request: each new poll ends the robot's previous one (409
// PollSuperseded) instead of every one being held for its whole wait
// (issue 14: 2,000 held at once).
func TestOneLongPollPerRobot(t *testing.T) {
	const polls = 2000
	e := newEndpoint(t)
	priv := newAgent(t)
	e.idleRobot(t, "r", priv)
	body, _ := json.Marshal(proto.PollRequest{WaitSeconds: 30})
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: polls}}
	defer client.CloseIdleConnections()
	var ended, superseded, maxHeld atomic.Int64
	statuses := sync.Map{}
	var wg sync.WaitGroup
	for range polls {
		wg.Go(func() {
			r := e.signed(priv, http.MethodPost, e.srv.URL+proto.PathPoll, body).WithContext(ctx)
			resp, err := client.Do(r)
			if err != nil {
				return // canceled at the end
			}
			resp.Body.Close()
			if resp.StatusCode == http.StatusConflict {
				superseded.Add(1)
			}
			v, _ := statuses.LoadOrStore(resp.StatusCode, new(atomic.Int64))
			v.(*atomic.Int64).Add(1)
			ended.Add(1)
		})
	}
	deadline := time.Now().Add(20 * time.Second) // the polls ask for 30 s
	for ended.Load() < polls-1 && time.Now().Before(deadline) {
		if h := int64(agentapi.HeldPolls(e.hub)); h > maxHeld.Load() {
			maxHeld.Store(h)
		}
		time.Sleep(time.Millisecond)
	}
	got := map[int]int64{}
	statuses.Range(func(k, v any) bool { got[k.(int)] = v.(*atomic.Int64).Load(); return true })
	if ended.Load() != polls-1 {
		t.Fatalf("%d of %d polls from one key ended before their wait, want %d (answers %v)", ended.Load(), polls, polls-1, got)
	}
	time.Sleep(100 * time.Millisecond)
	if ended.Load() != polls-1 || agentapi.HeldPolls(e.hub) != 1 || maxHeld.Load() > 1 {
		t.Fatalf("held polls: %d now, %d at most; ended %d; want exactly one held, never more", agentapi.HeldPolls(e.hub), maxHeld.Load(), ended.Load())
	}
	// Ended polls were superseded, or refused as older than the key's last
	// 64 signed requests (2,000 at once arrive out of order).
	if superseded.Load() == 0 || got[http.StatusConflict]+got[http.StatusUnauthorized] != polls-1 {
		t.Errorf("answers %v, want 409 PollSuperseded (and 401 for stragglers) only", got)
	}
	t.Logf("answers to %d concurrent polls of one key: %v, one held", polls, got)
	cancel()
	wg.Wait()
}
