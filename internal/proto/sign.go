package proto

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/fleetsync/fleetsync/internal/agentid"
)

// Agent ids (package agentid, which the domain shares without this
// package's HTTP): re-exported here for the agent side.
const (
	AgentIDPrefix      = agentid.V1Prefix
	BoundAgentIDPrefix = agentid.BoundPrefix
)

// AgentID returns the unbound (v1) agent id of a public key.
func AgentID(pub ed25519.PublicKey) string { return agentid.Unbound(pub) }

// BoundAgentID returns the agent id of a public key bound to account; ""
// gives the unbound v1 id.
func BoundAgentID(account string, pub ed25519.PublicKey) string { return agentid.Bound(account, pub) }

// ValidAccount reports whether account is a 12-digit account id.
func ValidAccount(account string) bool { return agentid.ValidAccount(account) }

// ParseAgentID decodes an agent id of either version.
func ParseAgentID(id string) (agentid.Identity, error) { return agentid.Parse(id) }

// PublicKey decodes an agent id of either version back to its public key.
func PublicKey(id string) (ed25519.PublicKey, error) {
	ident, err := agentid.Parse(id)
	return ident.Key, err
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
// date, the nonce and the body; for a bound (v2) id also to the id itself,
// so the account binding cannot be changed on the way.
func stringToSign(agentID string, bound bool, method, pathAndQuery, date, nonce string, body []byte) []byte {
	sum := sha256.Sum256(body)
	head := "FLEETSYNC-AGENT-V1\n"
	if bound {
		head = "FLEETSYNC-AGENT-V2\n" + agentID + "\n"
	}
	return []byte(head + method + "\n" + pathAndQuery + "\n" + date + "\n" + nonce + "\n" + hex.EncodeToString(sum[:]))
}

// Sign adds the agent headers of the unbound (v1) id to r, whose body is body.
func Sign(r *http.Request, priv ed25519.PrivateKey, body []byte, now time.Time) {
	SignAs(r, "", priv, body, now)
}

// SignAs adds the agent headers to r, whose body is body, as the agent bound
// to account ("": the unbound v1 id).
func SignAs(r *http.Request, account string, priv ed25519.PrivateKey, body []byte, now time.Time) {
	nonceBytes := make([]byte, 16)
	rand.Read(nonceBytes)
	nonce := hex.EncodeToString(nonceBytes)
	date := strconv.FormatInt(now.UnixMilli(), 10)
	id := BoundAgentID(account, priv.Public().(ed25519.PublicKey))
	sig := ed25519.Sign(priv, stringToSign(id, account != "", r.Method, r.URL.RequestURI(), date, nonce, body))
	r.Header.Set(HeaderAgent, id)
	r.Header.Set(HeaderDate, date)
	r.Header.Set(HeaderNonce, nonce)
	r.Header.Set(HeaderSignature, base64.StdEncoding.EncodeToString(sig))
}

// ErrBadSignature is any failure to authenticate an agent request.
var ErrBadSignature = errors.New("agent request signature is missing, stale or invalid")

// Verified is what Verify learned from a good request.
type Verified struct {
	AgentID string
	// Account is the account the id is bound to; "" for a v1 id.
	Account string
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
	ident, err := ParseAgentID(id)
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
	if err != nil || !ed25519.Verify(ident.Key, stringToSign(id, ident.Account != "", r.Method, r.URL.RequestURI(), date, nonce, body), raw) {
		return Verified{}, fmt.Errorf("%w: signature does not verify", ErrBadSignature)
	}
	return Verified{AgentID: id, Account: ident.Account, Nonce: nonce, Date: t}, nil
}
