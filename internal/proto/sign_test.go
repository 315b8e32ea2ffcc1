package proto

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestAgentIDs(t *testing.T) {
	pub, _, _ := ed25519.GenerateKey(rand.Reader)
	v1, v2 := AgentID(pub), BoundAgentID("123456789012", pub)
	if !strings.HasPrefix(v1, "fsa1-") || !strings.HasPrefix(v2, "fsa2-123456789012-") {
		t.Fatalf("ids %q %q", v1, v2)
	}
	for _, c := range []struct {
		id      string
		account string
		ok      bool
	}{
		{v1, "", true},
		{v2, "123456789012", true},
		{strings.ToUpper(v2[:5]) + v2[5:], "", false},
		{"fsa2-12345678901-" + v2[18:], "", false},
		{"fsa2-1234567890ab-" + v2[18:], "", false},
		{"fsa2-123456789012" + v2[18:], "", false},
		{v2[:len(v2)-1] + "z", "", false},
		{strings.ToUpper(v2), "", false},
		{"agent-of-a", "", false},
	} {
		id, err := ParseAgentID(c.id)
		if (err == nil) != c.ok || (c.ok && (id.Account != c.account || !bytes.Equal(id.Key, pub))) {
			t.Errorf("ParseAgentID(%q) = %+v, %v; want ok=%v account %q", c.id, id, err, c.ok, c.account)
		}
	}
}

func TestBoundSignatureCoversTheID(t *testing.T) {
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	now := time.Now()
	req := func() *http.Request {
		r, _ := http.NewRequest("POST", "http://x/agent/v1/poll", nil)
		SignAs(r, "123456789012", priv, []byte("{}"), now)
		return r
	}
	v, err := Verify(req(), []byte("{}"), now)
	if err != nil || v.Account != "123456789012" {
		t.Fatalf("Verify = %+v, %v", v, err)
	}
	// The same key and signature presented as bound to another account
	// does not verify: the binding is signed.
	r := req()
	r.Header.Set(HeaderAgent, BoundAgentID("210987654321", priv.Public().(ed25519.PublicKey)))
	if _, err := Verify(r, []byte("{}"), now); err == nil {
		t.Fatal("a signature verified for an id bound to another account")
	}
	r = req()
	r.Header.Set(HeaderAgent, AgentID(priv.Public().(ed25519.PublicKey)))
	if _, err := Verify(r, []byte("{}"), now); err == nil {
		t.Fatal("a bound signature verified as the unbound id")
	}
}
