package client

import (
	"bytes"
	"context"
	"crypto/ecdh"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/fleetsync/fleetsync/internal/proto"
)

// session is a session credential of the agent protocol (proto.PathSession).
type session struct {
	token   string
	key     []byte
	renewAt time.Time // a minute before it expires
	seq     atomic.Uint64
}

// sessionRetry is how long the client signs every request after opening a
// session failed (a server busy or unreachable), before it tries again.
const sessionRetry = 30 * time.Second

// sessionState is the part of Client that sessions need; the zero value
// has none and opens one on first use.
type sessionState struct {
	cur atomic.Pointer[session]
	// unsupported is set when the server has no session endpoint (a server
	// older than sessions): every request is signed from then on.
	unsupported atomic.Bool
	// retryAfter is when to try to open a session again (unix ms).
	retryAfter atomic.Int64
	opening    atomic.Bool
}

// authorize adds the agent headers to r, whose body is body: the session
// credential when the client has one (opening one when needed), else the
// Ed25519 signature (always with sign). It returns the session it used,
// nil when it signed.
func (c *Client) authorize(ctx context.Context, r *http.Request, body []byte, sign bool) *session {
	if sign {
		proto.SignAs(r, c.Account, c.Key, body, c.now())
		return nil
	}
	if s := c.session(ctx); s != nil {
		proto.SignSession(r, s.token, s.key, s.seq.Add(1), body, c.now())
		return s
	}
	proto.SignAs(r, c.Account, c.Key, body, c.now())
	return nil
}

// dropSession forgets s after the server refused it (expired, unknown to
// this replica, robot gone): the next request is signed and opens another.
func (c *Client) dropSession(s *session) {
	c.sess.cur.CompareAndSwap(s, nil)
}

// session returns a valid session, opening one when there is none; nil
// when sessions are off, unsupported, or opening one failed (the request
// is then signed, as by every agent before sessions). Only one request at a
// time opens a session; the others sign meanwhile.
func (c *Client) session(ctx context.Context) *session {
	if c.NoSession {
		return nil
	}
	st := &c.sess
	now := c.now()
	if s := st.cur.Load(); s != nil && now.Before(s.renewAt) {
		return s
	}
	if st.unsupported.Load() || now.UnixMilli() < st.retryAfter.Load() || !st.opening.CompareAndSwap(false, true) {
		return nil
	}
	defer st.opening.Store(false)
	s, err := c.openSession(ctx)
	switch {
	case errors.Is(err, errNoSessions):
		st.unsupported.Store(true)
		return nil
	case err != nil:
		st.retryAfter.Store(now.Add(sessionRetry).UnixMilli())
		return nil
	}
	st.cur.Store(s)
	return s
}

var errNoSessions = errors.New("the server has no session endpoint")

// openSession makes the signed POST proto.PathSession and derives the
// session key from the X25519 exchange.
func (c *Client) openSession(ctx context.Context) (*session, error) {
	priv, err := ecdh.X25519().GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	body, _ := json.Marshal(proto.SessionRequest{PublicKey: base64.StdEncoding.EncodeToString(priv.PublicKey().Bytes())})
	ctx, cancel := context.WithTimeout(ctx, RequestTimeout)
	defer cancel()
	r, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimRight(c.Server, "/")+proto.PathSession, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	r.Header.Set("Content-Type", "application/json")
	c.setVersion(r)
	proto.SignAs(r, c.Account, c.Key, body, c.now())
	start := c.now()
	resp, err := c.httpClient().Do(r)
	if err != nil {
		return nil, redact(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusNotFound || resp.StatusCode == http.StatusMethodNotAllowed {
		return nil, errNoSessions
	}
	if resp.StatusCode != http.StatusOK {
		return nil, readHTTPError(resp)
	}
	var out proto.SessionResponse
	if err := json.NewDecoder(http.MaxBytesReader(nil, resp.Body, 1<<16)).Decode(&out); err != nil {
		return nil, err
	}
	pub, err := base64.StdEncoding.DecodeString(out.PublicKey)
	if err != nil {
		return nil, err
	}
	peer, err := ecdh.X25519().NewPublicKey(pub)
	if err != nil {
		return nil, err
	}
	shared, err := priv.ECDH(peer)
	if err != nil {
		return nil, err
	}
	ttl := time.Duration(out.ExpiresInSeconds) * time.Second
	if out.Token == "" || ttl < 2*time.Minute {
		return nil, errors.New("session answer without a token or with too short a life")
	}
	return &session{token: out.Token, key: proto.SessionKey(shared, out.Token), renewAt: start.Add(ttl - time.Minute)}, nil
}
