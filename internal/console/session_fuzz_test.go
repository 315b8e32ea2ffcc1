package console

import (
	"context"
	"encoding/base64"
	"io"
	"log/slog"
	"net/http"
	"testing"
	"time"
)

// FuzzSessionCookie: a session cookie, forged or signed over any payload,
// never panics the console; a session is granted only for a payload this
// console signed, unexpired, whose key is still active in its account.
func FuzzSessionCookie(f *testing.F) {
	now := time.Unix(1_800_000_000, 0)
	c := New(Config{Key: []byte("fuzz-console-key-0123456789abcdef"), Now: func() time.Time { return now },
		Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Credentials: func(_ context.Context, keyID string) (string, string, bool, error) {
			return "secret", "123456789012", keyID == "AKFSACTIVE", nil
		}})
	good := c.encodeSession(session{KeyID: "AKFSACTIVE", Account: "123456789012", Expires: now.Unix() + 60, Nonce: "n"})
	f.Add(good, "")
	f.Add(c.encodeSession(session{KeyID: "AKFSACTIVE", Account: "210987654321", Expires: now.Unix() + 60}), "")
	f.Add(c.encodeSession(session{KeyID: "AKFSREVOKED", Account: "123456789012", Expires: now.Unix() + 60}), "")
	f.Add(c.encodeSession(session{KeyID: "AKFSACTIVE", Account: "123456789012", Expires: now.Unix() - 1}), "")
	f.Add("", `{"k":"AKFSACTIVE","a":"123456789012","e":99999999999}`)
	f.Add("", `{"k":1}`)
	f.Add("x.y", "")
	f.Add(".", "")
	f.Fuzz(func(t *testing.T, cookie, signPayload string) {
		if signPayload != "" { // a payload this console signed: reaches the JSON and expiry checks
			p := base64.RawURLEncoding.EncodeToString([]byte(signPayload))
			cookie = p + "." + base64.RawURLEncoding.EncodeToString(c.mac("session", p))
		}
		r := &http.Request{Header: http.Header{"Cookie": {sessionCookie + "=" + cookie}}}
		s, err := c.session(r.WithContext(t.Context()))
		if err != nil {
			return
		}
		if s.KeyID != "AKFSACTIVE" || s.Account != "123456789012" || now.Unix() >= s.Expires {
			t.Fatalf("cookie %q granted session %+v", cookie, s)
		}
	})
}
