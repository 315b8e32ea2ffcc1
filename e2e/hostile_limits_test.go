package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go/service/robomaker"

	"github.com/fleetsync/fleetsync/internal/sim"
	"github.com/fleetsync/fleetsync/internal/testenv"
)

// startLowFD runs fleetsyncd with an open-file limit of nofile (set by the
// shell's ulimit before exec, as an operator's unit file would).
func startLowFD(t *testing.T, nofile int, args ...string) (*testenv.Process, string) {
	t.Helper()
	p, err := testenv.Launch(testenv.LaunchOptions{Binary: testenv.Binary(t, "fleetsyncd"),
		Wrapper: []string{"sh", "-c", fmt.Sprintf(`ulimit -n %d && exec "$0" "$@"`, nofile)},
		Args:    append([]string{"--data-dir", t.TempDir(), "--region", testenv.Region, "--log-level", "debug"}, args...),
		Env:     opHermeticEnv(opBootstrapEnv()...)})
	must(t, err)
	t.Cleanup(func() {
		p.Kill()
		if t.Failed() {
			t.Logf("fleetsyncd stderr (tail):\n%s", tail(p.Stderr(), 4000))
		}
	})
	return p, p.Addr
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

// stall opens a connection that sends a request's headers (and, when body
// is set, one byte of a 100-byte body; otherwise half a header) and then
// nothing more.
func stall(addr string, body bool) (net.Conn, error) {
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		return nil, err
	}
	req := "POST /listFleets HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"
	if !body {
		req = "POST /listFleets HTTP/1.1\r\nHost: x\r\nX-Slow: "
	}
	if _, err := c.Write([]byte(req)); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// TestStalledConnectionsDoNotStarveTheServer: 600 connections that send
// headers then stall the body (and slow-header ones), opened before the
// legitimate calls (and more arriving, 50 a second, while they run) against
// a server whose open-file limit is 256, do not stop a signed ListFleets
// from answering within a second; the server never runs out of file
// descriptors. Before the limits, the stalled connections were held forever
// and accept failed with EMFILE.
func TestStalledConnectionsDoNotStarveTheServer(t *testing.T) {
	p, addr := startLowFD(t, 256)
	var mu sync.Mutex
	var conns []net.Conn
	defer func() {
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	}()
	flood := func(n int) {
		for i := range n {
			c, err := stall(addr, i%4 != 0)
			if err != nil {
				continue // the server may refuse or reset some: that is the point
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}
	flood(600)
	ctx, stopFlood := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	// More stalled connections keep coming while the calls run, at a
	// slow-loris pace (50 a second): each lives about max-conns/50 s before
	// it is evicted, far longer than a call needs.
	wg.Go(func() {
		for ctx.Err() == nil {
			flood(10)
			time.Sleep(200 * time.Millisecond)
		}
	})
	client := opClientAt("http://"+addr, testenv.Region, testenv.KeyID, testenv.Secret)
	client.Config.HTTPClient = &http.Client{Timeout: time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	for i := range 10 {
		start := time.Now()
		if _, err := client.ListFleets(&robomaker.ListFleetsInput{}); err != nil {
			t.Errorf("legitimate call %d with stalled connections open: %v (after %v)", i, err, time.Since(start))
		}
	}
	stopFlood()
	wg.Wait()
	if s := p.Stderr(); strings.Contains(s, "too many open files") {
		t.Errorf("the server ran out of file descriptors:\n%s", tail(s, 2000))
	}
}

// TestStalledBodyTimesOut: a body that stops arriving ends the request with
// a 400 in the AWS envelope after --body-timeout, freeing the connection.
func TestStalledBodyTimesOut(t *testing.T) {
	_, addr := startLowFD(t, 1024, "--body-timeout", "1s")
	c, err := stall(addr, true)
	must(t, err)
	defer c.Close()
	c.SetReadDeadline(time.Now().Add(15 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("a stalled body got no answer: %v", err)
	}
	defer resp.Body.Close()
	checkRawEnvelope(t, "stalled body", resp, http.StatusBadRequest)
}

// checkRawEnvelope asserts an AWS error envelope with the given status.
func checkRawEnvelope(t *testing.T, what string, resp *http.Response, status int) map[string]string {
	t.Helper()
	var body map[string]string
	err := json.NewDecoder(resp.Body).Decode(&body)
	if resp.StatusCode != status || resp.Header.Get("x-amzn-ErrorType") == "" || err != nil ||
		body["__type"] != resp.Header.Get("x-amzn-ErrorType") || body["message"] == "" ||
		!strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		t.Errorf("%s: status %d, x-amzn-ErrorType %q, Content-Type %q, body %v (%v); want %d in the AWS envelope",
			what, resp.StatusCode, resp.Header.Get("x-amzn-ErrorType"), resp.Header.Get("Content-Type"), body, err, status)
	}
	return body
}

// TestEveryAnswerInTheEnvelope: the answers Go's HTTP server and mux make by
// themselves (redirects of non-canonical paths, plain-text 400 for a bad
// escape, 431 for huge headers, 505) come in the AWS envelope.
func TestEveryAnswerInTheEnvelope(t *testing.T) {
	s := startAPI(t)
	raw := func(req string) *http.Response {
		t.Helper()
		c, err := net.Dial("tcp", s.Addr)
		must(t, err)
		t.Cleanup(func() { c.Close() })
		c.SetDeadline(time.Now().Add(10 * time.Second))
		_, err = c.Write([]byte(req))
		must(t, err)
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		must(t, err)
		t.Cleanup(func() { resp.Body.Close() })
		return resp
	}
	for _, tc := range []struct {
		req    string
		status int
	}{
		{"POST //listFleets HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}", 404},
		{"POST /./listFleets HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}", 404},
		{"POST /a/../listFleets HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}", 404},
		{"GET /fleetsync/v1/fleets/%ZZ/drift HTTP/1.1\r\nHost: x\r\n\r\n", 400},
		{"GET /nothing-here HTTP/1.1\r\nHost: x\r\n\r\n", 404},
		{"DELETE /listFleets HTTP/1.1\r\nHost: x\r\n\r\n", 404},
		{"GET /listFleets HTTP/1.1\r\nHost: x\r\nX-Big: " + strings.Repeat("a", 100<<10) + "\r\n\r\n", 431},
		{"GET /listFleets HTTP/1.1\r\n\r\n", 400}, // no Host
		{"GET /listFleets HTTP/9.9\r\nHost: x\r\n\r\n", 505},
		{"POST /listFleets HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n", 501},
	} {
		line, _, _ := strings.Cut(tc.req, "\r\n")
		checkRawEnvelope(t, line, raw(tc.req), tc.status)
	}
}

// TestConsoleLiveViewsBoundedPerSession: live views are exempt from the
// listener's timeouts, so a session may hold only --max-streams-per-session
// of them; one more is refused until one closes.
func TestConsoleLiveViewsBoundedPerSession(t *testing.T) {
	s := startEngine(t, "--max-streams-per-session", "2")
	r := newRollout(t, s, 1)
	r.robots[0].SetBehavior(sim.Behavior{Hang: true})
	job := r.create(jobConfig{concurrent: 100})
	c := newConsoleClient(t, s)
	if code, _, _ := c.signIn(testenv.KeyID, testenv.Secret); code != http.StatusSeeOther {
		t.Fatalf("sign-in = %d", code)
	}
	events := s.URL + "/console/jobs/" + url.PathEscape(job) + "/events"
	open := func() *http.Response {
		t.Helper()
		resp, err := c.http.Get(events)
		must(t, err)
		return resp
	}
	var streams []*http.Response
	for range 2 {
		resp := open()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("live view = %d", resp.StatusCode)
		}
		streams = append(streams, resp)
	}
	third := open()
	third.Body.Close()
	if third.StatusCode != http.StatusTooManyRequests {
		t.Errorf("a third live view of one session = %d, want 429", third.StatusCode)
	}
	streams[0].Body.Close()
	opWaitFor(t, 10*time.Second, "a live view slot freed by a closed stream", func() bool {
		resp := open()
		defer resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	streams[1].Body.Close()
}
