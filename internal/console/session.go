package console

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"net/http"
	"time"

	"github.com/fleetsync/fleetsync/internal/forwarded"
)

// Cookie names. The session cookie is a random token; the database keeps
// its SHA-256 with the access key, account and expiry (store.Sessions), so
// a sign-out deletes the session on every replica at once, and the key is
// looked up again on every request so a revoked key ends its sessions too.
const (
	sessionCookie = "fleetsync_session"
	signinCookie  = "fleetsync_signin"
)

// session is an operator signed in with one access key. Nonce is the
// stored session's id (the token's digest): CSRF tokens derive from it.
type session struct {
	KeyID   string
	Account string
	Expires int64
	Nonce   string
}

var errNoSession = errors.New("console: no valid session")

func randomToken() string {
	b := make([]byte, 18)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

func (c *Console) mac(parts ...string) []byte {
	m := hmac.New(sha256.New, c.cfg.Key)
	for _, p := range parts {
		m.Write([]byte(p))
		m.Write([]byte{0})
	}
	return m.Sum(nil)
}

// session returns the request's valid session: stored (not signed out),
// not expired, and its access key still active in its account.
func (c *Console) session(r *http.Request) (session, error) {
	ck, err := r.Cookie(sessionCookie)
	if err != nil {
		return session{}, errNoSession
	}
	st, ok, err := c.cfg.Sessions.Find(r.Context(), ck.Value)
	if err != nil {
		return session{}, err
	}
	if !ok {
		return session{}, errNoSession
	}
	s := session{KeyID: st.AccessKeyID, Account: st.Account, Expires: st.ExpiresMs / 1000, Nonce: st.ID}
	_, account, active, err := c.cfg.Credentials(r.Context(), s.KeyID)
	if err != nil {
		return session{}, err
	}
	if !active || account != s.Account {
		return session{}, errNoSession
	}
	return s, nil
}

// csrfToken is the token every state-changing form of a session carries:
// derived from the session's nonce, so it changes at every sign-in and a
// page of another origin can neither read nor guess it.
func (c *Console) csrfToken(s session) string {
	return base64.RawURLEncoding.EncodeToString(c.mac("csrf", s.Nonce))
}

// signinToken is the CSRF token of the sign-in form, bound to a random
// pre-session cookie (double submit), so no other site can sign a browser in.
func (c *Console) signinToken(nonce string) string {
	return base64.RawURLEncoding.EncodeToString(c.mac("signin-csrf", nonce))
}

// validToken compares a submitted token with the expected one in constant time.
func validToken(got, want string) bool {
	return got != "" && subtle.ConstantTimeCompare([]byte(got), []byte(want)) == 1
}

// checkSecret reports whether secret is the active secret of keyID, taking
// the same time whether the key exists or not.
func (c *Console) checkSecret(ctx context.Context, keyID, secret string) (account string, ok bool, err error) {
	have, account, active, err := c.cfg.Credentials(ctx, keyID)
	if err != nil {
		return "", false, err
	}
	if !active {
		have = "\x00unknown-key-placeholder-secret\x00"
	}
	// Comparing digests keeps the comparison constant-time across lengths.
	a, b := sha256.Sum256([]byte(have)), sha256.Sum256([]byte(secret))
	match := subtle.ConstantTimeCompare(a[:], b[:]) == 1
	return account, match && active, nil
}

// setCookie writes a console cookie: HttpOnly, SameSite=Strict, scoped to
// the console, Secure when served over TLS (here or at a trusted proxy).
func setCookie(w http.ResponseWriter, r *http.Request, name, value string, maxAge time.Duration) {
	http.SetCookie(w, &http.Cookie{
		Name: name, Value: value, Path: "/console", HttpOnly: true, SameSite: http.SameSiteStrictMode,
		Secure: forwarded.Secure(r), MaxAge: int(maxAge.Seconds()),
	})
}

func clearCookie(w http.ResponseWriter, r *http.Request, name string) {
	http.SetCookie(w, &http.Cookie{Name: name, Value: "", Path: "/console", HttpOnly: true, SameSite: http.SameSiteStrictMode,
		Secure: forwarded.Secure(r), MaxAge: -1})
}
