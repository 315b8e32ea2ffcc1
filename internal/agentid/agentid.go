// Package agentid is the agent id of fleetsync robots (AWS's
// greengrassGroupId): an Ed25519 public key, bound to an account since v2.
// It imports only the standard library's encoding and crypto, so the domain
// (which validates ids at enrolment) and the agent protocol share it.
package agentid

import (
	"crypto/ed25519"
	"encoding/base32"
	"fmt"
	"strings"
)

// V1Prefix starts the agent ids of protocol v1: the rest is the
// Ed25519 public key in lower-case unpadded base32, so the id alone lets the
// server verify the agent's signatures and no secret ever crosses the wire.
// Such an id is bound to no account: fleetsyncd serves it only to robots
// enrolled before bound ids existed, and enrols no new one.
const V1Prefix = "fsa1-"

// BoundPrefix starts the agent ids bound to an account:
// "fsa2-<12-digit account>-<public key as in fsa1>". The agent signs every
// request with its id in the signed string, and fleetsyncd serves it only
// the robot of that account whose greengrassGroupId is that id: knowing an
// id lets nobody else enrol, claim, block or detect the robot.
const BoundPrefix = "fsa2-"

var idEncoding = base32.StdEncoding.WithPadding(base32.NoPadding)

// Unbound returns the unbound (v1) agent id of a public key.
func Unbound(pub ed25519.PublicKey) string {
	return V1Prefix + strings.ToLower(idEncoding.EncodeToString(pub))
}

// Bound returns the agent id of a public key bound to account (12
// digits); account "" gives the unbound v1 id.
func Bound(account string, pub ed25519.PublicKey) string {
	if account == "" {
		return Unbound(pub)
	}
	return BoundPrefix + account + "-" + strings.ToLower(idEncoding.EncodeToString(pub))
}

// Identity is what an agent id says: the account it is bound to ("" for a
// v1 id) and its public key.
type Identity struct {
	Account string
	Key     ed25519.PublicKey
}

// ValidAccount reports whether account is a 12-digit account id.
func ValidAccount(account string) bool {
	if len(account) != 12 {
		return false
	}
	for _, c := range account {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// Parse decodes an agent id of either version.
func Parse(agentID string) (Identity, error) {
	var id Identity
	rest, ok := strings.CutPrefix(agentID, V1Prefix)
	if !ok {
		if rest, ok = strings.CutPrefix(agentID, BoundPrefix); !ok {
			return id, fmt.Errorf("agent id %q does not start with %q", agentID, BoundPrefix)
		}
		account, key, found := strings.Cut(rest, "-")
		if !found || !ValidAccount(account) {
			return id, fmt.Errorf("agent id %q does not name a 12-digit account after %q", agentID, BoundPrefix)
		}
		id.Account, rest = account, key
	}
	b, err := idEncoding.DecodeString(strings.ToUpper(rest))
	// Only the canonical spelling is an id: one key has one id per account.
	if err != nil || len(b) != ed25519.PublicKeySize || Bound(id.Account, b) != agentID {
		return Identity{}, fmt.Errorf("agent id %q does not encode an Ed25519 public key", agentID)
	}
	id.Key = ed25519.PublicKey(b)
	return id, nil
}
