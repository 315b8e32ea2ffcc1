package server

//lint:file-ignore SA1019 aws-sdk-go v1 (deprecated) is the reference client fleetsync serves.

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/tls"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go/aws"
	"github.com/aws/aws-sdk-go/service/robomaker"

	"github.com/fleetsync/fleetsync/internal/config"
	"github.com/fleetsync/fleetsync/internal/proto"
	"github.com/fleetsync/fleetsync/internal/syncbuf"
)

// TestParkedPollKeepsItsConnection: over HTTP/1.1, plain or over TLS, a
// held poll is parked (fleetsync_agent_parked_polls counts it), and once
// it is answered its connection is given back to the server: the agent's
// next polls go over the same connection (one dial for three polls, no
// Connection: close; over TLS, one handshake), as they did when a poll
// waited in its handler.
func TestParkedPollKeepsItsConnection(t *testing.T) {
	t.Run("plain", func(t *testing.T) { testParkedPollKeepsItsConnection(t, false) })
	t.Run("TLS", func(t *testing.T) { testParkedPollKeepsItsConnection(t, true) })
}

func testParkedPollKeepsItsConnection(t *testing.T, overTLS bool) {
	var logs syncbuf.Buffer
	var tweaks []func(*testing.T, *config.Config)
	if overTLS {
		tweaks = append(tweaks, withTLS)
	}
	p := serveInProcess(t, Options{Log: slog.New(slog.NewTextHandler(&logs, nil))}, tweaks...)
	url := p.url

	pub, priv, _ := ed25519.GenerateKey(rand.Reader)
	account := p.cfg.BootstrapAccount
	if _, err := p.sdk.CreateRobot(&robomaker.CreateRobotInput{Name: aws.String("r"), Architecture: aws.String("X86_64"),
		GreengrassGroupId: aws.String(proto.BoundAgentID(account, pub))}); err != nil {
		t.Fatal(err)
	}
	var dials atomic.Int64
	// HTTP/1.1 (a TLS config of its own keeps net/http from HTTP/2).
	tlsConf := &tls.Config{RootCAs: p.roots}
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: tlsConf, DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		dials.Add(1)
		return (&net.Dialer{}).DialContext(ctx, network, addr)
	}}}
	defer client.CloseIdleConnections()
	metrics := &http.Client{Transport: &http.Transport{TLSClientConfig: tlsConf}}
	defer metrics.CloseIdleConnections()
	gauge := func(name string) string {
		resp, err := metrics.Get(url + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		for line := range strings.SplitSeq(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, name+" "); ok {
				return v
			}
		}
		return "(none)"
	}
	for i := range 3 {
		body, _ := json.Marshal(proto.PollRequest{WaitSeconds: 1})
		req, _ := http.NewRequest(http.MethodPost, url+proto.PathPoll, strings.NewReader(string(body)))
		proto.SignAs(req, account, priv, body, time.Now())
		answered := make(chan *http.Response, 1)
		go func() {
			resp, err := client.Do(req)
			if err != nil {
				t.Error(err)
			}
			answered <- resp
		}()
		if i == 0 {
			time.Sleep(300 * time.Millisecond) // held for its 1 s
			if got := gauge("fleetsync_agent_parked_polls"); got != "1" {
				t.Errorf("fleetsync_agent_parked_polls = %s while the poll is held, want 1", got)
			}
		}
		resp := <-answered
		if resp == nil {
			t.FailNow()
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || resp.Close || resp.ProtoMajor != 1 || (resp.TLS != nil) != overTLS {
			t.Fatalf("poll %d: %d %s, Connection: close %v, TLS %v; want 200 over HTTP/1.1 on a kept connection", i, resp.StatusCode, resp.Proto, resp.Close, resp.TLS != nil)
		}
	}
	if n := dials.Load(); n != 1 {
		t.Errorf("%d connections for 3 polls one after another, want 1 (the parked poll's connection served again)", n)
	}
	// Each poll's access line is written when it is answered, with the
	// whole hold (its 1 s wait) as latency.
	// The line follows the answer's write: the last may still be coming.
	line := regexp.MustCompile(`operation=poll status=200 latency_ms=(\d+)\.\d+ client=\S+ parked=true agent_id=`)
	lines := line.FindAllStringSubmatch(logs.String(), -1)
	for deadline := time.Now().Add(5 * time.Second); len(lines) < 3 && time.Now().Before(deadline); lines = line.FindAllStringSubmatch(logs.String(), -1) {
		time.Sleep(10 * time.Millisecond)
	}
	if len(lines) != 3 {
		t.Fatalf("%d access lines of answered parked polls, want 3, in:\n%s", len(lines), logs.String())
	}
	for _, m := range lines {
		if ms, _ := strconv.Atoi(m[1]); ms < 900 {
			t.Errorf("a parked poll's access line says latency_ms=%d, want its 1 s hold", ms)
		}
	}
}
