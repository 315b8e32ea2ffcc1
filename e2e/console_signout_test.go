// Sign-out ends a console session at once, on every replica: the session
// lives in the database and the sign-out deletes it, so a copy of the old
// cookie is refused afterwards wherever it is presented.
package e2e

import (
	"net/http"
	"net/url"
	"testing"

	"github.com/fleetsync/fleetsync/internal/testenv"
)

// sessionCookie returns the console session cookie c holds for s.
func (c *consoleClient) sessionCookie() *http.Cookie {
	c.t.Helper()
	u, _ := url.Parse(c.s.URL + "/console/")
	for _, ck := range c.http.Jar.Cookies(u) {
		if ck.Name == "fleetsync_session" {
			return &http.Cookie{Name: ck.Name, Value: ck.Value, Path: "/console"}
		}
	}
	c.t.Fatal("no session cookie")
	return nil
}

// withCookie is a fresh browser on s holding only ck.
func withCookie(t *testing.T, s *testenv.Server, ck *http.Cookie) *consoleClient {
	c := newConsoleClient(t, s)
	u, _ := url.Parse(s.URL + "/console/")
	c.http.Jar.SetCookies(u, []*http.Cookie{ck})
	return c
}

// signOutEverywhere signs in on first, checks that the cookie works on
// every server, signs out on last, and checks that a copy of the old cookie
// is refused by every server.
func signOutEverywhere(t *testing.T, servers ...*testenv.Server) {
	first, last := servers[0], servers[len(servers)-1]
	c := newConsoleClient(t, first)
	if code, loc, _ := c.signIn(testenv.KeyID, testenv.Secret); code != http.StatusSeeOther || loc != "/console/fleets" {
		t.Fatalf("sign-in = %d → %q", code, loc)
	}
	old := c.sessionCookie()
	for i, s := range servers {
		if code, _, _ := withCookie(t, s, old).get("/console/fleets"); code != http.StatusOK {
			t.Fatalf("server %d: the fresh session = %d, want 200", i, code)
		}
	}
	out := withCookie(t, last, old)
	token := out.csrf("/console/fleets")
	if code, loc, _ := out.post("/console/signout", url.Values{"csrf": {token}}); code != http.StatusSeeOther || loc != "/console/signin" {
		t.Fatalf("sign-out = %d → %q", code, loc)
	}
	for i, s := range servers {
		b := withCookie(t, s, old)
		if code, loc, _ := b.get("/console/fleets"); code != http.StatusSeeOther || loc != "/console/signin" {
			t.Errorf("server %d: the signed-out cookie = %d → %q, want a redirect to sign in", i, code, loc)
		}
		if code, _, _ := b.post("/console/signout", url.Values{"csrf": {token}}); code != http.StatusForbidden {
			t.Errorf("server %d: a POST with the signed-out cookie and its CSRF token = %d, want 403", i, code)
		}
	}
	// Signing in again works, with a new cookie.
	if code, _, _ := c.signIn(testenv.KeyID, testenv.Secret); code != http.StatusSeeOther {
		t.Fatalf("sign-in again = %d", code)
	}
	if c.sessionCookie().Value == old.Value {
		t.Error("a new sign-in reused the signed-out cookie")
	}
}

func TestConsoleSignOutEndsSession(t *testing.T) {
	t.Parallel()
	signOutEverywhere(t, startEngine(t))
}

func TestReplicaConsoleSignOut(t *testing.T) {
	t.Parallel()
	signOutEverywhere(t, startReplicas(t, 2)...)
}
