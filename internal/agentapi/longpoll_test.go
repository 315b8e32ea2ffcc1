package agentapi_test

import (
	"context"
	"encoding/json"
	"fmt"
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

// TestHeldPollLifecycle walks held polls over HTTP through what ends them,
// with the hub's one timer instead of a timer per poll: the wait runs out
// (200, nothing to do, not before the wait), a deployment wakes the robot
// at once (its assignment, well before the wait), a newer poll supersedes
// the held one (409); after each, nothing is left in the hub.
func TestHeldPollLifecycle(t *testing.T) {
	e := newEndpoint(t)
	priv := newAgent(t)
	f, _ := e.registeredRobot(priv)
	// holding waits until the hub holds (and schedules) n polls.
	holding := func(what string, n int) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for (agentapi.HeldPolls(e.hub) != n || agentapi.ScheduledPolls(e.hub) != n) && time.Now().Before(deadline) {
			time.Sleep(time.Millisecond)
		}
		if h, s := agentapi.HeldPolls(e.hub), agentapi.ScheduledPolls(e.hub); h != n || s != n {
			t.Fatalf("%s: %d polls held, %d scheduled; want %d of each", what, h, s, n)
		}
	}
	empty := func(what string) { t.Helper(); holding(what, 0) }
	held := func(what string) { t.Helper(); holding(what, 1) }
	type answer struct {
		status int
		resp   proto.PollResponse
		took   time.Duration
	}
	start := func(wait int) <-chan answer {
		out := make(chan answer, 1)
		body, _ := json.Marshal(proto.PollRequest{WaitSeconds: wait})
		req := e.signed(priv, http.MethodPost, e.srv.URL+proto.PathPoll, body)
		go func() {
			t0 := time.Now()
			st, b := send(t, req, body)
			var a answer
			a.status, a.took = st, time.Since(t0)
			if st == http.StatusOK {
				json.Unmarshal(b, &a.resp)
			}
			out <- a
		}()
		return out
	}

	// The wait runs out.
	a := <-start(1)
	if a.status != http.StatusOK || a.resp.Assignment != nil || a.took < 900*time.Millisecond {
		t.Fatalf("poll with a 1 s wait: %d %+v after %s; want 200, nothing, after about 1 s", a.status, a.resp, a.took)
	}
	empty("after a wait ran out")

	// A newer poll supersedes the held one.
	first := start(30)
	held("first poll")
	second := start(30)
	if a := <-first; a.status != http.StatusConflict {
		t.Fatalf("the superseded poll: %d, want 409", a.status)
	}
	held("second poll")

	// A deployment wakes the held poll at once.
	j := e.deployTo(f.ARN)
	select {
	case a := <-second:
		if a.status != http.StatusOK || a.resp.Assignment == nil || a.resp.Assignment.DeploymentJob != j.ARN {
			t.Fatalf("the woken poll: %d %+v, want the job's assignment", a.status, a.resp)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the held poll was not woken by the deployment within 10 s (its wait is 30 s)")
	}
	empty("after the woken poll answered")
}

// TestDeletedRobotsHeldPollEnds: deleting a robot ends its held poll at
// once with a 401, parked (HTTP/1.1) or not; it was answered 200 from the
// idle memo when its minutes-long wait ended.
func TestDeletedRobotsHeldPollEnds(t *testing.T) {
	for _, parking := range []bool{true, false} {
		t.Run(fmt.Sprintf("parking %v", parking), func(t *testing.T) {
			e := newEndpoint(t, func(c *agentapi.Config) { c.NoParking = !parking })
			priv := newAgent(t)
			f, r := e.registeredRobot(priv)
			body, _ := json.Marshal(proto.PollRequest{WaitSeconds: 30, IdleWaitSeconds: 240})
			// Ended before the server closes (cleanups run last first), so
			// that a failing run does not wait out the poll's minutes.
			ctx, cancel := context.WithCancel(context.Background())
			t.Cleanup(cancel)
			req := e.signed(priv, http.MethodPost, e.srv.URL+proto.PathPoll, body).WithContext(ctx)
			out := make(chan int, 1)
			go func() {
				st := 0
				if resp, err := http.DefaultClient.Do(req); err == nil {
					st = resp.StatusCode
					resp.Body.Close()
				}
				out <- st
			}()
			deadline := time.Now().Add(5 * time.Second)
			for agentapi.HeldPolls(e.hub) != 1 && time.Now().Before(deadline) {
				time.Sleep(time.Millisecond)
			}
			if n := agentapi.HeldPolls(e.hub); n != 1 {
				t.Fatalf("%d polls held, want 1", n)
			}
			must(t, e.reg.DeregisterRobot(t.Context(), acct, f.ARN, r.ARN))
			must(t, e.reg.DeleteRobot(t.Context(), acct, r.ARN))
			select {
			case st := <-out:
				if st != http.StatusUnauthorized {
					t.Fatalf("the deleted robot's held poll: %d, want 401", st)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("the deleted robot's held poll was still held 5 s after the delete")
			}
		})
	}
}
