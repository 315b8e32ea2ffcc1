package agentapi_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/fleetsync/fleetsync/internal/fleet"
	"github.com/fleetsync/fleetsync/internal/proto"
)

// from is an HTTP client whose connections leave from the loopback
// address ip (any 127.0.0.0/8 address on Linux).
func from(ip string) *http.Client {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}}
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			return d.DialContext(ctx, network, addr)
		}}}
}

// TestForgedSignaturesThrottled: requests claiming a robot's agent id with
// bad signatures are refused 429 after the failure budget, from that
// address; the robot itself, from its own address, and another robot
// behind the attacker's address are still served.
func TestForgedSignaturesThrottled(t *testing.T) {
	e := newEndpoint(t)
	ctx := t.Context()
	victim, neighbour, forger := newAgent(t), newAgent(t), newAgent(t)
	for i, p := range []ed25519.PrivateKey{victim, neighbour} {
		_, err := e.reg.CreateRobot(ctx, acct, []string{"victim", "neighbour"}[i], fleet.X86_64, agentID(p), nil)
		must(t, err)
	}
	body, _ := json.Marshal(proto.PollRequest{})
	poll := func(c *http.Client, signer ed25519.PrivateKey, claim string) int {
		r := e.signed(signer, http.MethodPost, e.srv.URL+proto.PathPoll, body)
		r.Header.Set(proto.HeaderAgent, claim)
		r.Body = io.NopCloser(bytes.NewReader(body))
		resp, err := c.Do(r)
		must(t, err)
		resp.Body.Close()
		return resp.StatusCode
	}
	attacker := from("127.0.0.2")
	codes := map[int]int{}
	for range 30 {
		codes[poll(attacker, forger, agentID(victim))]++
	}
	if codes[http.StatusUnauthorized] < 10 || codes[http.StatusUnauthorized] > 11 || codes[http.StatusTooManyRequests] == 0 {
		t.Fatalf("30 forged signatures: %v, want 10 (or 11) 401s, then 429s", codes)
	}
	if st := poll(from("127.0.0.3"), victim, agentID(victim)); st != http.StatusOK {
		t.Errorf("the robot from its own address: %d, want 200", st)
	}
	if st := poll(attacker, neighbour, agentID(neighbour)); st != http.StatusOK {
		t.Errorf("another robot behind the attacker's address: %d, want 200", st)
	}
}
