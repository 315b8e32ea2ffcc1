package agentapi

import (
	"crypto/ecdh"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/fleetsync/fleetsync/internal/proto"
)

// agentSession opens a session in t as an agent would and returns the
// token and the key the agent derives.
func agentSession(t testing.TB, tab *sessions, agentID string, now time.Time) (string, []byte) {
	t.Helper()
	priv, err := ecdh.X25519().GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := tab.open(agentID, priv.PublicKey().Bytes(), now)
	if err != nil {
		t.Fatal(err)
	}
	pub, _ := base64.StdEncoding.DecodeString(resp.PublicKey)
	peer, err := ecdh.X25519().NewPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	shared, _ := priv.ECDH(peer)
	return resp.Token, proto.SessionKey(shared, resp.Token)
}

func TestSessionCredential(t *testing.T) {
	now := time.UnixMilli(1_800_000_000_000)
	var tab sessions
	token, key := agentSession(t, &tab, "fsa1-a", now)
	req := func(seq uint64, body string, k []byte, tok string, at time.Time) error {
		r := httptest.NewRequest("POST", proto.PathReport, strings.NewReader(body))
		proto.SignSession(r, tok, k, seq, []byte(body), at)
		id, err := tab.verify(r, []byte(body), now)
		if err == nil && id != "fsa1-a" {
			t.Fatalf("session of fsa1-a verified as %q", id)
		}
		return err
	}
	ok := func(what string, err error) {
		t.Helper()
		if err != nil {
			t.Errorf("%s: %v", what, err)
		}
	}
	refused := func(what string, err error) {
		t.Helper()
		if !errors.Is(err, errSession) {
			t.Errorf("%s: %v, want refused", what, err)
		}
	}
	ok("first request", req(1, `{}`, key, token, now))
	refused("replay of seq 1", req(1, `{}`, key, token, now))
	ok("out of order within the window (3 then 2)", errors.Join(req(3, `{}`, key, token, now), req(2, `{}`, key, token, now)))
	refused("replay of seq 2", req(2, `{}`, key, token, now))
	ok("a jump", req(200, `{}`, key, token, now))
	refused("older than the window", req(200-seqWindow, `{}`, key, token, now))
	ok("the oldest inside the window", req(200-seqWindow+1, `{}`, key, token, now))
	refused("another key", req(201, `{}`, make([]byte, 32), token, now))
	refused("unknown token", req(202, `{}`, key, "nope", now))
	refused("truncated token", req(202, `{}`, key, token[:len(token)-4], now))
	refused("token with a tail", req(202, `{}`, key, token+"AAAA", now))
	refused("padded token", req(202, `{}`, key, token+"==", now))
	refused("stale date", req(203, `{}`, key, token, now.Add(-proto.MaxSkew-time.Second)))

	// The MAC covers the body: a request altered in flight is refused.
	r := httptest.NewRequest("POST", proto.PathReport, strings.NewReader(`{"step":"Finished"}`))
	proto.SignSession(r, token, key, 204, []byte(`{"step":"Validating"}`), now)
	if _, err := tab.verify(r, []byte(`{"step":"Finished"}`), now); !errors.Is(err, errSession) {
		t.Errorf("altered body: %v, want refused", err)
	}
	// The path too.
	r = httptest.NewRequest("POST", proto.PathPoll, strings.NewReader(`{}`))
	proto.SignSession(r, token, key, 205, []byte(`{}`), now)
	r.URL.Path = proto.PathReport
	if _, err := tab.verify(r, []byte(`{}`), now); !errors.Is(err, errSession) {
		t.Errorf("altered path: %v, want refused", err)
	}

	// A new session of the same agent replaces the old one; the table
	// holds one session per agent.
	token2, key2 := agentSession(t, &tab, "fsa1-a", now)
	refused("the replaced session", req(300, `{}`, key, token, now))
	ok("the new session", req(1, `{}`, key2, token2, now))
	if n := tab.count(); n != 1 {
		t.Errorf("%d sessions held for one agent", n)
	}
	// Expiry, and the sweep of expired sessions when others open.
	r = httptest.NewRequest("POST", proto.PathReport, strings.NewReader(`{}`))
	proto.SignSession(r, token2, key2, 2, []byte(`{}`), now.Add(SessionTTL+time.Second))
	if _, err := tab.verify(r, []byte(`{}`), now.Add(SessionTTL+time.Second)); !errors.Is(err, errSession) {
		t.Errorf("expired session: %v, want refused", err)
	}
	agentSession(t, &tab, "fsa1-b", now.Add(2*SessionTTL))
	if n := tab.count(); n != 1 {
		t.Errorf("%d sessions held after the sweep, want only the new one", n)
	}
	// A low-order X25519 point (all zeros) is refused at opening.
	if _, err := tab.open("fsa1-c", make([]byte, 32), now); err == nil {
		t.Error("an all-zero X25519 key opened a session")
	}
}

// FuzzSessionHeaders: whatever a stranger puts in the session headers is
// refused as a session error, never a panic (the token is decoded into a
// fixed-size key) and never accepted.
func FuzzSessionHeaders(f *testing.F) {
	now := time.UnixMilli(1_800_000_000_000)
	var tab sessions
	token, _ := agentSession(f, &tab, "fsa1-a", now)
	f.Add(token, "1800000000000", "1", "AAAA")
	f.Add(token+"A", "1800000000000", "2", "")
	f.Add("", "x", "0", "!")
	f.Fuzz(func(t *testing.T, tok, date, seq, mac string) {
		r := httptest.NewRequest("POST", proto.PathReport, strings.NewReader(`{}`))
		r.Header.Set(proto.HeaderSession, tok)
		r.Header.Set(proto.HeaderDate, date)
		r.Header.Set(proto.HeaderSeq, seq)
		r.Header.Set(proto.HeaderMAC, mac)
		if _, err := tab.verify(r, []byte(`{}`), now); !errors.Is(err, errSession) {
			t.Fatalf("forged session headers: %v, want refused", err)
		}
	})
}

// TestSessionAcrossGenerations: a session stays valid (and its sequence
// numbers refused once used) for its whole lifetime while the table's
// generations turn, and is gone after it.
func TestSessionAcrossGenerations(t *testing.T) {
	now := time.UnixMilli(1_800_000_000_000)
	var tab sessions
	token, key := agentSession(t, &tab, "fsa1-a", now)
	req := func(seq uint64, at time.Time) error {
		r := httptest.NewRequest("POST", proto.PathReport, strings.NewReader(`{}`))
		proto.SignSession(r, token, key, seq, []byte(`{}`), at)
		_, err := tab.verify(r, []byte(`{}`), at)
		return err
	}
	if err := req(1, now); err != nil {
		t.Fatal(err)
	}
	// Another agent opens a session late in the generation: a rotation.
	late := now.Add(SessionTTL - time.Second)
	agentSession(t, &tab, "fsa1-b", now.Add(SessionTTL))
	if err := req(2, late); err != nil {
		t.Fatalf("a valid session after a rotation: %v", err)
	}
	if err := req(2, late); !errors.Is(err, errSession) {
		t.Fatalf("a replayed sequence number after a rotation: %v, want refused", err)
	}
	agentSession(t, &tab, "fsa1-c", now.Add(3*SessionTTL))
	if tab.count() != 1 {
		t.Fatalf("%d sessions two generations on, want only the newest", tab.count())
	}
}

// TestExpiredSessionForgotten: an expired session is dropped when it is
// named, not moved into the current generation: a client naming it every
// few minutes cannot keep it, nor collect one more each time it opens one.
func TestExpiredSessionForgotten(t *testing.T) {
	now := time.UnixMilli(1_800_000_000_000)
	var tab sessions
	token, key := agentSession(t, &tab, "fsa1-a", now)
	late := now.Add(SessionTTL + time.Second)
	r := httptest.NewRequest("POST", proto.PathReport, strings.NewReader(`{}`))
	proto.SignSession(r, token, key, 1, []byte(`{}`), late)
	if _, err := tab.verify(r, []byte(`{}`), late); !errors.Is(err, errSession) {
		t.Fatalf("an expired session: %v, want refused", err)
	}
	if n := tab.count(); n != 0 {
		t.Fatalf("%d sessions held after the expired one was named, want 0", n)
	}
	n := 0
	tab.byAgent.each(func(string, *session) { n++ })
	if n != 0 {
		t.Fatalf("%d agents' sessions held, want 0", n)
	}
}
