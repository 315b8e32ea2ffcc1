package awsapi

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"strings"

	"github.com/fleetsync/fleetsync/internal/fleet"
)

// tokens seals list cursors into opaque nextToken strings. The MAC binds a
// token to the account and the operation, so a token cannot be forged,
// edited, or replayed against another list or account.
type tokens struct{ key []byte }

type tokenBody struct {
	CreatedMs int64  `json:"c"`
	ARN       string `json:"a"`
	Seq       int    `json:"s,omitempty"`
}

func (t tokens) mac(account, op string, payload []byte) []byte {
	m := hmac.New(sha256.New, t.key)
	m.Write([]byte(account + "\x00" + op + "\x00"))
	m.Write(payload)
	return m.Sum(nil)[:16]
}

// seal returns the nextToken for c, "" for nil.
func (t tokens) seal(account, op string, c *fleet.Cursor) string {
	if c == nil {
		return ""
	}
	payload, _ := json.Marshal(tokenBody{c.CreatedMs, c.ARN, c.Seq})
	enc := base64.RawURLEncoding
	return enc.EncodeToString(payload) + "." + enc.EncodeToString(t.mac(account, op, payload))
}

// open verifies and decodes a nextToken; "" means the first page.
func (t tokens) open(account, op, token string) (*fleet.Cursor, error) {
	if token == "" {
		return nil, nil
	}
	bad := fleet.Errorf(fleet.Invalid, "nextToken is not a token this list issued")
	p, m, ok := strings.Cut(token, ".")
	if !ok {
		return nil, bad
	}
	enc := base64.RawURLEncoding
	payload, err1 := enc.DecodeString(p)
	mac, err2 := enc.DecodeString(m)
	if err1 != nil || err2 != nil || !hmac.Equal(mac, t.mac(account, op, payload)) {
		return nil, bad
	}
	var b tokenBody
	if err := json.Unmarshal(payload, &b); err != nil {
		return nil, bad
	}
	return &fleet.Cursor{CreatedMs: b.CreatedMs, ARN: b.ARN, Seq: b.Seq}, nil
}
