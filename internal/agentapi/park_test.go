package agentapi_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"runtime/pprof"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fleetsync/fleetsync/internal/agentapi"
	"github.com/fleetsync/fleetsync/internal/deploy"
	"github.com/fleetsync/fleetsync/internal/fleet"
	"github.com/fleetsync/fleetsync/internal/proto"
)

// waitingInHandlers counts the goroutines waiting in a held poll's
// handler (pollWait).
func waitingInHandlers() int {
	var b bytes.Buffer
	pprof.Lookup("goroutine").WriteTo(&b, 2)
	return strings.Count(b.String(), "agentapi.(*API).pollWait(")
}

// TestParkedPolls holds the polls of 100 robots over plain HTTP/1.1: they
// are parked (the hub keeps their connections; no goroutine waits in a
// handler), while with NoParking each waits in its handler. A deployment
// then wakes every one: each gets its assignment at once, with
// Connection: close on a parked answer, and the hub is left empty.
func TestParkedPolls(t *testing.T) {
	for _, parking := range []bool{true, false} {
		t.Run(fmt.Sprintf("parking=%v", parking), func(t *testing.T) {
			const n = 100
			e := newEndpoint(t, func(c *agentapi.Config) { c.NoParking = !parking })
			ctx := t.Context()
			f, err := e.reg.CreateFleet(ctx, acct, "f", nil)
			must(t, err)
			keys := make([]ed25519.PrivateKey, n)
			for i := range keys {
				keys[i] = newAgent(t)
				r, err := e.reg.CreateRobot(ctx, acct, fmt.Sprintf("r%d", i), fleet.X86_64, agentID(keys[i]), nil)
				must(t, err)
				must(t, e.reg.RegisterRobot(ctx, acct, f.ARN, r.ARN))
			}
			client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: n}}
			defer client.CloseIdleConnections()
			type answer struct {
				status int
				close  bool
				resp   proto.PollResponse
				err    error
			}
			answers := make(chan answer, n)
			body, _ := json.Marshal(proto.PollRequest{WaitSeconds: 30})
			for _, k := range keys {
				req := e.signed(k, http.MethodPost, e.srv.URL+proto.PathPoll, body)
				go func() {
					resp, err := client.Do(req)
					if err != nil {
						answers <- answer{err: err}
						return
					}
					defer resp.Body.Close()
					b, err := io.ReadAll(resp.Body)
					a := answer{status: resp.StatusCode, close: resp.Close, err: err}
					if err == nil && resp.StatusCode == http.StatusOK {
						a.err = json.Unmarshal(b, &a.resp)
					}
					answers <- a
				}()
			}
			deadline := time.Now().Add(10 * time.Second)
			for {
				all, parked := e.hub.Held()
				if all == n && (!parking || parked == n) {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("%d polls held, %d parked; want %d held", all, parked, n)
				}
				time.Sleep(5 * time.Millisecond)
			}
			// A poll counts as held a moment before its goroutine is in
			// pollWait: a little time for the last ones to get there.
			_, parked := e.hub.Held()
			waiting := waitingInHandlers()
			for settle := time.Now().Add(2 * time.Second); !parking && waiting < n && time.Now().Before(settle); waiting = waitingInHandlers() {
				time.Sleep(10 * time.Millisecond)
			}
			if parking && (parked != n || waiting != 0) {
				t.Errorf("parking: %d of %d held polls parked, %d goroutines waiting in a handler; want all parked, none waiting", parked, n, waiting)
			}
			if !parking && (parked != 0 || waiting != n) {
				t.Errorf("NoParking: %d parked, %d goroutines waiting in a handler; want none parked, %d waiting", parked, waiting, n)
			}
			all := 100
			j := e.deployWith(f.ARN, &deploy.ConfigInput{ConcurrentPercent: &all})
			timeout := time.After(10 * time.Second)
			for range n {
				select {
				case a := <-answers:
					if a.err != nil || a.status != http.StatusOK || a.resp.Assignment == nil || a.resp.Assignment.DeploymentJob != j.ARN {
						t.Fatalf("a woken poll: %d %+v (%v), want the job's assignment", a.status, a.resp, a.err)
					}
					if a.close != parking {
						t.Errorf("a woken poll's answer has Connection: close %v, want %v (only a parked poll's connection ends)", a.close, parking)
					}
				case <-timeout:
					t.Fatal("the held polls were not all woken by the deployment within 10 s (their wait is 30 s)")
				}
			}
			// A poll is let go just after its answer is written: the
			// last ones may still be on their way out.
			for settle := time.Now().Add(5 * time.Second); ; time.Sleep(5 * time.Millisecond) {
				all, _ := e.hub.Held()
				if all == 0 {
					break
				}
				if time.Now().After(settle) {
					t.Errorf("%d polls still held 5 s after every one answered", all)
					break
				}
			}
		})
	}
}

// TestParkedPollsClosedAtShutdown: CloseParked closes every parked poll's
// connection (the agent sees it end and polls again), and forgets them.
func TestParkedPollsClosedAtShutdown(t *testing.T) {
	e := newEndpoint(t)
	priv := newAgent(t)
	e.registeredRobot(priv)
	body, _ := json.Marshal(proto.PollRequest{WaitSeconds: 30})
	req := e.signed(priv, http.MethodPost, e.srv.URL+proto.PathPoll, body)
	done := make(chan error, 1)
	go func() {
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
			err = fmt.Errorf("answered %d", resp.StatusCode)
		}
		done <- err
	}()
	deadline := time.Now().Add(5 * time.Second)
	for _, parked := e.hub.Held(); parked != 1; _, parked = e.hub.Held() {
		if time.Now().After(deadline) {
			t.Fatal("the poll was not parked")
		}
		time.Sleep(5 * time.Millisecond)
	}
	e.hub.CloseParked()
	select {
	case err := <-done:
		if err == nil || strings.HasPrefix(err.Error(), "answered") {
			t.Fatalf("the parked poll after CloseParked: %v, want its connection closed", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the parked poll's connection stayed open after CloseParked")
	}
	deadline = time.Now().Add(5 * time.Second)
	for all, _ := e.hub.Held(); all != 0; all, _ = e.hub.Held() {
		if time.Now().After(deadline) {
			t.Fatalf("%d polls held after CloseParked", all)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestParkedPollPanicContained: a panic while a parked poll is carried on
// (outside net/http, which recovers a handler's) ends that poll's
// connection and gives back its work slot and hold; the process and every
// other robot carry on. The panic is injected through the endpoint's clock,
// which the poll's look reads.
func TestParkedPollPanicContained(t *testing.T) {
	var explode atomic.Bool
	e := newEndpoint(t, func(c *agentapi.Config) {
		c.Now = func() time.Time {
			if explode.Load() {
				panic("injected")
			}
			return time.Now()
		}
	})
	priv := newAgent(t)
	_, r := e.registeredRobot(priv)
	body, _ := json.Marshal(proto.PollRequest{WaitSeconds: 30, IdleWaitSeconds: 240})
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	req := e.signed(priv, http.MethodPost, e.srv.URL+proto.PathPoll, body).WithContext(ctx)
	out := make(chan error, 1)
	go func() {
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
			err = fmt.Errorf("answered %d", resp.StatusCode)
		}
		out <- err
	}()
	deadline := time.Now().Add(5 * time.Second)
	for _, parked := e.hub.Held(); parked != 1 && time.Now().Before(deadline); _, parked = e.hub.Held() {
		time.Sleep(time.Millisecond)
	}
	if _, parked := e.hub.Held(); parked != 1 {
		t.Fatalf("%d polls parked, want 1", parked)
	}
	free := agentapi.FreeSlots(e.api)
	explode.Store(true)
	e.hub.WakeRobot(r.ARN) // carried on by a resume worker, whose look panics
	select {
	case err := <-out:
		if err == nil || !strings.Contains(err.Error(), "EOF") {
			t.Errorf("the poll whose resume panicked: %v, want its connection closed (EOF)", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the poll whose resume panicked was not ended")
	}
	explode.Store(false)
	if n := agentapi.HeldPolls(e.hub); n != 0 {
		t.Errorf("%d polls held after the panic, want 0", n)
	}
	if got := agentapi.FreeSlots(e.api); got != free {
		t.Errorf("%d work slots free after the panic, want %d as before", got, free)
	}
	if st := e.call(priv, proto.PathPoll, proto.PollRequest{}, nil); st != http.StatusOK {
		t.Fatalf("the robot's next poll: %d, want 200", st)
	}
}
