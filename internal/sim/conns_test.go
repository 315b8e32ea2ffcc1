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

// holdingServer holds every poll until release is closed, counting the
// requests each connection carries at once.
type holdingServer struct {
	*httptest.Server
	mu      sync.Mutex
	conns   []*connStreams
	held    int
	notH2   int // polls that came over HTTP/1.1
	release chan struct{}
}

// startHoldingServer starts a holding server allowing 250 streams per
// HTTP/2 connection, as fleetsyncd does: h2c, or h2 over TLS with tls.
func startHoldingServer(t *testing.T, tls bool) *holdingServer {
	hs := &holdingServer{release: make(chan struct{})}
	mux := http.NewServeMux()
	mux.HandleFunc("POST "+proto.PathPoll, func(w http.ResponseWriter, r *http.Request) {
		c := r.Context().Value(connKey{}).(*connStreams)
		c.mu.Lock()
		c.now++
		c.max = max(c.max, c.now)
		c.mu.Unlock()
		hs.mu.Lock()
		hs.held++
		if r.ProtoMajor != 2 {
			hs.notH2++
		}
		hs.mu.Unlock()
		defer func() {
			c.mu.Lock()
			c.now--
			c.mu.Unlock()
		}()
		select {
		case <-hs.release:
		case <-r.Context().Done():
			return
		}
		json.NewEncoder(w).Encode(proto.PollResponse{PollIntervalSeconds: 1})
	})
	hs.Server = httptest.NewUnstartedServer(mux)
	hs.Config.Protocols = new(http.Protocols)
	hs.Config.Protocols.SetHTTP1(true)
	hs.Config.Protocols.SetUnencryptedHTTP2(true)
	hs.Config.HTTP2 = &http.HTTP2Config{MaxConcurrentStreams: 250}
	hs.Config.ConnContext = func(ctx context.Context, _ net.Conn) context.Context {
		c := &connStreams{}
		hs.mu.Lock()
		hs.conns = append(hs.conns, c)
		hs.mu.Unlock()
		return context.WithValue(ctx, connKey{}, c)
	}
	if tls {
		hs.EnableHTTP2 = true
		hs.StartTLS()
	} else {
		hs.Start()
	}
	t.Cleanup(hs.Close)
	return hs
}

// holdAll starts fl and waits until the server holds n polls.
func (hs *holdingServer) holdAll(t *testing.T, fl *Fleet, n int) {
	ctx, cancel := context.WithCancel(context.Background())
	fl.Start(ctx)
	t.Cleanup(func() { close(hs.release); cancel(); fl.Stop() })
	deadline := time.Now().Add(20 * time.Second)
	for {
		hs.mu.Lock()
		h := hs.held
		hs.mu.Unlock()
		if h >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d polls held; stats %+v", h, n, fl.Stats())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// usage returns how many connections carried a request and the most
// requests one carried at once.
func (hs *holdingServer) usage() (used, most int) {
	hs.mu.Lock()
	defer hs.mu.Unlock()
	for _, c := range hs.conns {
		c.mu.Lock()
		if c.max > 0 {
			used++
		}
		most = max(most, c.max)
		c.mu.Unlock()
	}
	return used, most
}

// TestH2CStreamsPerConnection holds every poll of 450 robots at an h2c
// server that allows 250 streams per connection, as fleetsyncd does: all
// 450 are held at once, no connection ever carries more than
// DefaultRobotsPerConn of them (none queues in the client behind a full
// connection), and the fleet opens a few connections, not one per robot.
func TestH2CStreamsPerConnection(t *testing.T) {
	const n = 450
	hs := startHoldingServer(t, false)
	fl := New(hs.URL, n, Options{PollWait: 30 * time.Second, H2C: true, RetryBase: 5 * time.Millisecond})
	hs.holdAll(t, fl, n)
	// A client dials a little ahead when its robots start together; the
	// connections it then does not need carry nothing and close idle.
	want := (n + DefaultRobotsPerConn - 1) / DefaultRobotsPerConn
	used, most := hs.usage()
	if most > DefaultRobotsPerConn {
		t.Errorf("a connection carried %d requests at once, more than %d", most, DefaultRobotsPerConn)
	}
	hs.mu.Lock()
	dialed := len(hs.conns)
	hs.mu.Unlock()
	if used < want || used > 2*want || dialed > n/10 {
		t.Errorf("%d connections (%d used) for %d robots, want %d to %d used", dialed, used, n, want, 2*want)
	}
	if s := fl.Stats(); s.Errors != 0 {
		t.Errorf("errors: %+v", s.ErrorKinds)
	}
}

// TestTLSConnectionPerRobot: with Options.TLS and RobotsPerConn 1, the
// shape of a real fleet, every robot holds its poll over HTTP/2 on a TLS
// connection of its own.
func TestTLSConnectionPerRobot(t *testing.T) {
	const n = 40
	hs := startHoldingServer(t, true)
	tlsConf := hs.Client().Transport.(*http.Transport).TLSClientConfig
	fl := New(hs.URL, n, Options{PollWait: 30 * time.Second, TLS: tlsConf, RobotsPerConn: 1, RetryBase: 5 * time.Millisecond})
	hs.holdAll(t, fl, n)
	used, most := hs.usage()
	if used != n || most != 1 {
		t.Errorf("%d robots' polls held over %d connections, at most %d on one; want a connection each", n, used, most)
	}
	hs.mu.Lock()
	notH2 := hs.notH2
	hs.mu.Unlock()
	if notH2 != 0 {
		t.Errorf("%d polls came over HTTP/1.1, want HTTP/2 (ALPN)", notH2)
	}
	if s := fl.Stats(); s.Errors != 0 {
		t.Errorf("errors: %+v", s.ErrorKinds)
	}
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
