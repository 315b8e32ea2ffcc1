package agentapi

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path"
	"testing"
	"time"

	"github.com/fleetsync/fleetsync/internal/proto"
)

// bundleToken builds a download URL token the way the server issues them
// (base64url payload "." base64url of its truncated HMAC-SHA256), so the
// fuzzer reaches past the MAC into the payload decoding.
func bundleToken(key, payload []byte) string {
	m := hmac.New(sha256.New, key)
	m.Write(payload)
	enc := base64.RawURLEncoding
	return enc.EncodeToString(payload) + "." + enc.EncodeToString(m.Sum(nil)[:16])
}

// FuzzBundleURLToken: a download URL's token, forged or genuinely signed
// over any payload, gets a clean 401/403 JSON answer from an unsigned
// request and never panics or reaches the store (which is nil here).
func FuzzBundleURLToken(f *testing.F) {
	key := []byte("fuzz-bundle-url-key-0123456789ab")
	now := time.UnixMilli(1_800_000_000_000)
	a := New(Config{URLKey: key, Now: func() time.Time { return now }, Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	good, _ := json.Marshal(urlToken{"bkt", "k/x.tar", `"abc"`, "arn:aws:robomaker:us-east-1:123456789012:robot/r/1", now.Add(time.Hour).UnixMilli()})
	expired, _ := json.Marshal(urlToken{"bkt", "k", "", "r", 1})
	for _, p := range [][]byte{good, expired, []byte(`{}`), []byte(`null`), []byte(`{"e":"x"}`), {}} {
		f.Add(p, true, "")
	}
	f.Add([]byte(nil), false, "e30.AAAA")
	f.Add([]byte(nil), false, "..")
	f.Add([]byte(nil), false, "%zz")
	f.Fuzz(func(t *testing.T, payload []byte, sign bool, raw string) {
		tok := raw
		if sign {
			tok = bundleToken(key, payload)
		}
		u, err := url.ParseRequestURI(proto.PathBundle + tok)
		if err != nil || path.Clean(u.Path) != u.Path {
			return // Go's server, or the listener's canonical-path check, answers these itself
		}
		req := (&http.Request{Method: "GET", URL: u, Header: http.Header{}, RemoteAddr: "192.0.2.1:1"}).WithContext(t.Context())
		rec := httptest.NewRecorder()
		a.ServeHTTP(rec, req)
		switch rec.Code {
		case http.StatusUnauthorized, http.StatusForbidden, http.StatusNotFound, http.StatusMethodNotAllowed:
		default:
			t.Fatalf("token %q (payload %q): status %d %s", tok, payload, rec.Code, rec.Body)
		}
	})
}

// FuzzRangeStart: the first byte a Range header asks for is always inside
// the object (or 0), whatever the header says.
func FuzzRangeStart(f *testing.F) {
	for _, h := range []string{"", "bytes=0-", "bytes=100-", "bytes=100-199", "bytes=-10", "bytes=-5000", "bytes=1000-",
		"bytes=5-9,20-29", "bytes=x-", "items=5-", "bytes=-0", "bytes=7", "bytes= 5 - 9", "bytes=-9223372036854775808", "bytes=9223372036854775807-"} {
		f.Add(h, int64(1000))
	}
	f.Add("bytes=0-", int64(0))
	f.Fuzz(func(t *testing.T, h string, size int64) {
		if size < 0 {
			return // sizes come from the store, never negative
		}
		got := rangeStart(h, size)
		if got < 0 || (got > 0 && got >= size) {
			t.Fatalf("rangeStart(%q, %d) = %d, outside the object", h, size, got)
		}
	})
}
