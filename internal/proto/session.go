package proto

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"net/http"
	"strconv"
	"time"
)

// Session credentials (a v1 protocol addition, docs/agent-protocol.md): an
// agent proves its key once with an Ed25519-signed POST PathSession that
// offers an ephemeral X25519 public key; the server answers with its own
// ephemeral public key and a session token. Both sides derive the session
// key from the X25519 shared secret (no secret crosses the wire) and later
// requests carry an HMAC-SHA256 under that key instead of an Ed25519
// signature (about 1 µs to verify instead of 54 µs). A server without the
// endpoint answers 404 and the agent keeps signing every request.

// PathSession opens a session.
const PathSession = "/agent/v1/session"

// Headers of a session-authenticated request (with HeaderDate).
const (
	// HeaderSession carries the session token.
	HeaderSession = "X-Fleetsync-Session"
	// HeaderSeq is the request's sequence number in its session, from 1;
	// the server accepts each number once (replay protection without
	// nonces) within a window of recent numbers.
	HeaderSeq = "X-Fleetsync-Seq"
	// HeaderMAC is base64 of the HMAC-SHA256 of SessionStringToSign.
	HeaderMAC = "X-Fleetsync-Mac"
)

// SessionRequest is the body of POST PathSession.
type SessionRequest struct {
	// PublicKey is the agent's ephemeral X25519 public key, base64.
	PublicKey string `json:"publicKey"`
}

// SessionResponse answers SessionRequest.
type SessionResponse struct {
	// Token names the session in HeaderSession.
	Token string `json:"token"`
	// PublicKey is the server's ephemeral X25519 public key, base64.
	PublicKey string `json:"publicKey"`
	// ExpiresInSeconds is how long the session is valid; the agent opens
	// a new one before then (and at once when a request is refused).
	ExpiresInSeconds int `json:"expiresInSeconds"`
}

// SessionKey derives the MAC key of a session from the X25519 shared
// secret, bound to the token.
func SessionKey(shared []byte, token string) []byte {
	m := hmac.New(sha256.New, shared)
	m.Write([]byte("FLEETSYNC-SESSION-V1 key\n" + token))
	return m.Sum(nil)
}

// SessionMAC is the MAC of one request: method, path and query, date,
// sequence number and body, as the Ed25519 signature covers them.
func SessionMAC(key []byte, method, pathAndQuery, date, seq string, body []byte) []byte {
	sum := sha256.Sum256(body)
	m := hmac.New(sha256.New, key)
	m.Write([]byte("FLEETSYNC-SESSION-V1\n" + method + "\n" + pathAndQuery + "\n" + date + "\n" + seq + "\n" + hex.EncodeToString(sum[:])))
	return m.Sum(nil)
}

// SignSession adds the session headers to r, whose body is body.
func SignSession(r *http.Request, token string, key []byte, seq uint64, body []byte, now time.Time) {
	date := strconv.FormatInt(now.UnixMilli(), 10)
	s := strconv.FormatUint(seq, 10)
	r.Header.Set(HeaderSession, token)
	r.Header.Set(HeaderDate, date)
	r.Header.Set(HeaderSeq, s)
	r.Header.Set(HeaderMAC, base64.StdEncoding.EncodeToString(SessionMAC(key, r.Method, r.URL.RequestURI(), date, s, body)))
}
