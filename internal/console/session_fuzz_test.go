package console

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/fleetsync/fleetsync/internal/credential"
	"github.com/fleetsync/fleetsync/internal/store/sqlstore"
)

// FuzzSessionCookie: any session cookie never panics the console; a
// session is granted only for a token this install issued, not signed out,
// unexpired, whose key is still active in its account (sessions in a real
// SQLite store).
func FuzzSessionCookie(f *testing.F) {
	now := time.Unix(1_800_000_000, 0)
	clock := func() time.Time { return now }
	st, err := sqlstore.OpenSQLite(context.Background(), filepath.Join(f.TempDir(), "db"), slog.New(slog.DiscardHandler))
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { st.Close() })
	sessions := &credential.Sessions{Store: st, Now: clock}
	c := New(Config{Key: []byte("fuzz-console-key-0123456789abcdef"), Now: clock, Sessions: sessions,
		Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Credentials: func(_ context.Context, keyID string) (string, string, bool, error) {
			return "secret", "123456789012", keyID == "AKFSACTIVE", nil
		}})
	start := func(keyID, account string, ttl time.Duration) (credential.Session, string) {
		s, token, err := sessions.Start(context.Background(), keyID, account, ttl)
		if err != nil {
			f.Fatal(err)
		}
		return s, token
	}
	_, good := start("AKFSACTIVE", "123456789012", time.Hour)
	ended, out := start("AKFSACTIVE", "123456789012", time.Hour)
	if err := sessions.End(context.Background(), ended.ID); err != nil {
		f.Fatal(err)
	}
	_, other := start("AKFSACTIVE", "210987654321", time.Hour)
	_, revoked := start("AKFSREVOKED", "123456789012", time.Hour)
	_, expired := start("AKFSACTIVE", "123456789012", -time.Second)
	for _, seed := range []string{good, out, other, revoked, expired, "", "x.y", ".", good + "x", good[:len(good)-1]} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, cookie string) {
		r := &http.Request{Header: http.Header{"Cookie": {sessionCookie + "=" + cookie}}}
		s, err := c.session(r.WithContext(t.Context()))
		if err != nil {
			return
		}
		if cookie != good || s.KeyID != "AKFSACTIVE" || s.Account != "123456789012" || now.Unix() >= s.Expires {
			t.Fatalf("cookie %q granted session %+v", cookie, s)
		}
	})
}
