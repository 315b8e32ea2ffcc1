package proto

import (
	"bytes"
	"crypto/ed25519"
	"net/http"
	"net/url"
	"strconv"
	"testing"
	"time"
)

// FuzzVerify: whatever headers, path and body an agent request carries,
// Verify never panics, accepts only what the agent id's key signed (for
// exactly this method, path, date, nonce and body), and refuses a date out
// of skew.
func FuzzVerify(f *testing.F) {
	seed := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{7}, ed25519.SeedSize))
	now := time.UnixMilli(1_800_000_000_000)
	r, _ := http.NewRequest("POST", "http://s"+PathPoll, nil)
	Sign(r, seed, []byte(`{"x":1}`), now)
	f.Add("POST", PathPoll, r.Header.Get(HeaderAgent), r.Header.Get(HeaderDate), r.Header.Get(HeaderNonce), r.Header.Get(HeaderSignature), []byte(`{"x":1}`))
	f.Add("GET", PathBundle+"abc.def?x=1", AgentIDPrefix+"AAAA", "1800000000000", "0123456789abcdef", "AAAA", []byte(nil))
	f.Add("POST", "/", "", "", "", "", []byte{})
	f.Add("POST", PathReport, AgentIDPrefix, "-1", "nonce-nonce-nonce", "!!!", []byte("\x00"))
	f.Fuzz(func(t *testing.T, method, target, agent, date, nonce, sig string, body []byte) {
		u, err := url.ParseRequestURI(target)
		if err != nil {
			return // Go's server answers such a request line itself
		}
		req := &http.Request{Method: method, URL: u, Header: http.Header{}}
		req.Header.Set(HeaderAgent, agent)
		req.Header.Set(HeaderDate, date)
		req.Header.Set(HeaderNonce, nonce)
		req.Header.Set(HeaderSignature, sig)
		v, err := Verify(req, body, now)
		if err == nil {
			// Only a real signature of this key verifies; the fuzzer cannot
			// forge one, so an accepted request must be the signed seed.
			ms, _ := strconv.ParseInt(date, 10, 64)
			if v.AgentID != agent || v.Nonce != nonce || d(now, ms) > MaxSkew {
				t.Fatalf("Verify accepted %+v for agent %q date %q", v, agent, date)
			}
			if len(body) > 0 {
				flipped := bytes.Clone(body)
				flipped[0] ^= 1
				if _, err := Verify(req, flipped, now); err == nil {
					t.Fatalf("Verify accepted a changed body")
				}
			}
		}
		// The same request signed by the key verifies, whatever it carries.
		signed := &http.Request{Method: method, URL: u, Header: http.Header{}}
		Sign(signed, seed, body, now)
		if _, err := Verify(signed, body, now); err != nil {
			t.Fatalf("a signed %s %s does not verify: %v", method, target, err)
		}
		if _, err := Verify(signed, body, now.Add(MaxSkew+time.Second)); err == nil {
			t.Fatalf("a signature past the skew verifies")
		}
	})
}

func d(now time.Time, ms int64) time.Duration {
	x := now.Sub(time.UnixMilli(ms))
	if x < 0 {
		return -x
	}
	return x
}
