package sim

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fleetsync/fleetsync/internal/proto"
)

// connStreams counts one server connection's requests under way.
type connStreams struct {
	mu       sync.Mutex
	now, max int
}

type connKey struct{}

// TestH2CStreamsPerConnection holds every poll of 450 robots at an h2c
// server that allows 250 streams per connection, as fleetsyncd does: all
// 450 are held at once, no connection ever carries more than RobotsPerConn
// of them (none queues in the client behind a full connection), and the
// fleet opens a few connections, not one per robot.
func TestH2CStreamsPerConnection(t *testing.T) {
	const n = 450
	var mu sync.Mutex
	var conns []*connStreams
	held := 0
	release := make(chan struct{})
	mux := http.NewServeMux()
	mux.HandleFunc("POST "+proto.PathPoll, func(w http.ResponseWriter, r *http.Request) {
		c := r.Context().Value(connKey{}).(*connStreams)
		c.mu.Lock()
		c.now++
		c.max = max(c.max, c.now)
		c.mu.Unlock()
		mu.Lock()
		held++
		mu.Unlock()
		defer func() {
			c.mu.Lock()
			c.now--
			c.mu.Unlock()
		}()
		select {
		case <-release:
		case <-r.Context().Done():
			return
		}
		json.NewEncoder(w).Encode(proto.PollResponse{PollIntervalSeconds: 1})
	})
	srv := httptest.NewUnstartedServer(mux)
	srv.Config.Protocols = new(http.Protocols)
	srv.Config.Protocols.SetHTTP1(true)
	srv.Config.Protocols.SetUnencryptedHTTP2(true)
	srv.Config.HTTP2 = &http.HTTP2Config{MaxConcurrentStreams: 250}
	srv.Config.ConnContext = func(ctx context.Context, _ net.Conn) context.Context {
		c := &connStreams{}
		mu.Lock()
		conns = append(conns, c)
		mu.Unlock()
		return context.WithValue(ctx, connKey{}, c)
	}
	srv.Start()
	t.Cleanup(srv.Close)

	fl := New(srv.URL, n, Options{PollWait: 30 * time.Second, H2C: true, RetryBase: 5 * time.Millisecond})
	ctx, cancel := context.WithCancel(context.Background())
	fl.Start(ctx)
	t.Cleanup(func() { cancel(); fl.Stop() })
	deadline := time.Now().Add(20 * time.Second)
	for {
		mu.Lock()
		h := held
		mu.Unlock()
		if h >= n {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d polls held; stats %+v", h, n, fl.Stats())
		}
		time.Sleep(5 * time.Millisecond)
	}
	mu.Lock()
	defer mu.Unlock()
	// A client dials a little ahead when its robots start together; the
	// connections it then does not need carry nothing and close idle.
	want, used := (n+RobotsPerConn-1)/RobotsPerConn, 0
	for i, c := range conns {
		if c.max > RobotsPerConn {
			t.Errorf("connection %d carried %d requests at once, more than %d", i, c.max, RobotsPerConn)
		}
		if c.max > 0 {
			used++
		}
	}
	if used < want || used > 2*want || len(conns) > n/10 {
		t.Errorf("%d connections (%d used) for %d robots, want %d to %d used", len(conns), used, n, want, 2*want)
	}
	if s := fl.Stats(); s.Errors != 0 {
		t.Errorf("errors: %+v", s.ErrorKinds)
	}
	close(release)
}

// TestErrorKinds: failed requests are counted by kind, without the digits
// that vary per request.
func TestErrorKinds(t *testing.T) {
	f := newFakeAPI(t, false)
	fl := newFleet(t, f, 1, func(int) []*proto.Assignment { return nil })
	r := fl.Robots()[0]
	f.mu.Lock()
	f.robots[r.AgentID].disabled = true
	f.mu.Unlock()
	start(t, fl)
	eventually(t, "3 failed polls", func() bool { return fl.Stats().Errors >= 3 })
	fl.Stop()
	s := fl.Stats()
	var n int64
	for k, v := range s.ErrorKinds {
		msg, ok := strings.CutPrefix(k, "poll: HTTP 401 Unauthorized")
		if !ok || strings.ContainsAny(msg, "0123456789") {
			t.Errorf("kind %q", k)
		}
		n += v
	}
	if n != s.Errors || n < 3 {
		t.Errorf("kinds %v sum to %d, Errors %d", s.ErrorKinds, n, s.Errors)
	}
	if out := FormatErrorKinds(s.ErrorKinds, "  "); !strings.HasPrefix(out, "  ") || !strings.Contains(out, " × poll: HTTP 401") {
		t.Errorf("FormatErrorKinds: %q", out)
	}
}

// TestStartRate: a fleet started at 50 robots/s takes about the ramp to
// have every robot polling, not an instant.
func TestStartRate(t *testing.T) {
	f := newFakeAPI(t, false)
	fl := New(f.srv.URL, 10, Options{PollWait: time.Second, RetryBase: 5 * time.Millisecond, StartRate: 50})
	for _, r := range fl.Robots() {
		f.add(r.AgentID)
	}
	t.Cleanup(fl.Stop)
	t0 := time.Now()
	start(t, fl)
	last := fl.Robots()[9]
	eventually(t, "the last robot polling", func() bool { return f.robot(last.AgentID).polls > 0 })
	if d := time.Since(t0); d < 150*time.Millisecond {
		t.Errorf("the 10th robot of a 50/s ramp polled %v after Start, before its turn at 180ms", d)
	}
}
