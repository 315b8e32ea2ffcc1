package proto

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// AgentIDPrefix starts every agent id; the rest is the Ed25519 public key in
// lower-case unpadded base32, so the id alone lets the server verify the
// agent's signatures and no secret ever crosses the wire.
const AgentIDPrefix = "fsa1-"

var idEncoding = base32.StdEncoding.WithPadding(base32.NoPadding)

// AgentID returns the agent id of a public key.
func AgentID(pub ed25519.PublicKey) string {
	return AgentIDPrefix + strings.ToLower(idEncoding.EncodeToString(pub))
}

// PublicKey decodes an agent id back to its public key.
func PublicKey(agentID string) (ed25519.PublicKey, error) {
	rest, ok := strings.CutPrefix(agentID, AgentIDPrefix)
	if !ok {
		return nil, fmt.Errorf("agent id %q does not start with %q", agentID, AgentIDPrefix)
	}
	b, err := idEncoding.DecodeString(strings.ToUpper(rest))
	if err != nil || len(b) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("agent id %q does not encode an Ed25519 public key", agentID)
	}
	return ed25519.PublicKey(b), nil
}

// Headers of a signed agent request.
const (
	HeaderAgent     = "X-Fleetsync-Agent"
	HeaderDate      = "X-Fleetsync-Date"
	HeaderNonce     = "X-Fleetsync-Nonce"
	HeaderSignature = "X-Fleetsync-Signature"
)

// MaxSkew is how far a request's date may be from the server's clock; it is
// also how long the server must remember nonces to refuse replays.
const MaxSkew = 5 * time.Minute

// stringToSign binds the signature to the method, the path and query, the
// date, the nonce and the body.
func stringToSign(method, pathAndQuery, date, nonce string, body []byte) []byte {
	sum := sha256.Sum256(body)
	return []byte("FLEETSYNC-AGENT-V1\n" + method + "\n" + pathAndQuery + "\n" + date + "\n" + nonce + "\n" + hex.EncodeToString(sum[:]))
}

// Sign adds the agent headers to r, whose body is body.
func Sign(r *http.Request, priv ed25519.PrivateKey, body []byte, now time.Time) {
	nonceBytes := make([]byte, 16)
	rand.Read(nonceBytes)
	nonce := hex.EncodeToString(nonceBytes)
	date := strconv.FormatInt(now.UnixMilli(), 10)
	sig := ed25519.Sign(priv, stringToSign(r.Method, r.URL.RequestURI(), date, nonce, body))
	r.Header.Set(HeaderAgent, AgentID(priv.Public().(ed25519.PublicKey)))
	r.Header.Set(HeaderDate, date)
	r.Header.Set(HeaderNonce, nonce)
	r.Header.Set(HeaderSignature, base64.StdEncoding.EncodeToString(sig))
}

// ErrBadSignature is any failure to authenticate an agent request.
var ErrBadSignature = errors.New("agent request signature is missing, stale or invalid")

// Verified is what Verify learned from a good request.
type Verified struct {
	AgentID string
	Nonce   string
	Date    time.Time
}

// Verify checks r's signature against the key its agent id encodes and that
// its date is within MaxSkew of now. The caller must also refuse a nonce it
// has seen within 2×MaxSkew (replay).
func Verify(r *http.Request, body []byte, now time.Time) (Verified, error) {
	id, date, nonce, sig := r.Header.Get(HeaderAgent), r.Header.Get(HeaderDate), r.Header.Get(HeaderNonce), r.Header.Get(HeaderSignature)
	if id == "" || date == "" || len(nonce) < 16 || len(nonce) > 64 || sig == "" {
		return Verified{}, fmt.Errorf("%w: missing headers", ErrBadSignature)
	}
	pub, err := PublicKey(id)
	if err != nil {
		return Verified{}, fmt.Errorf("%w: %v", ErrBadSignature, err)
	}
	ms, err := strconv.ParseInt(date, 10, 64)
	if err != nil {
		return Verified{}, fmt.Errorf("%w: bad date", ErrBadSignature)
	}
	t := time.UnixMilli(ms)
	if d := now.Sub(t); d > MaxSkew || d < -MaxSkew {
		return Verified{}, fmt.Errorf("%w: date %s is more than %s from the server's clock", ErrBadSignature, t.UTC().Format(time.RFC3339), MaxSkew)
	}
	raw, err := base64.StdEncoding.DecodeString(sig)
	if err != nil || !ed25519.Verify(pub, stringToSign(r.Method, r.URL.RequestURI(), date, nonce, body), raw) {
		return Verified{}, fmt.Errorf("%w: signature does not verify", ErrBadSignature)
	}
	return Verified{AgentID: id, Nonce: nonce, Date: t}, nil
}
