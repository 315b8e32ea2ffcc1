package registry

import (
	"crypto/ed25519"
	"crypto/rand"
	"strings"
	"testing"

	"github.com/fleetsync/fleetsync/internal/agentid"
	"github.com/fleetsync/fleetsync/internal/fleet"
)

// TestCheckAgentID is the enrolment rule as a table: which greengrassGroupId
// an account may give a robot, decided from the id alone.
func TestCheckAgentID(t *testing.T) {
	pub, _, _ := ed25519.GenerateKey(rand.Reader)
	const mine, theirs = "123456789012", "210987654321"
	for _, c := range []struct {
		name, id string
		want     string // "" accepted, else a substring of the InvalidParameter message
	}{
		{"bound to the caller", agentid.Bound(mine, pub), ""},
		{"bound to another account", agentid.Bound(theirs, pub), "bound to account " + theirs},
		{"unbound v1 id", agentid.Unbound(pub), "not bound to an account"},
		{"malformed bound id", agentid.BoundPrefix + mine + "-notbase32!", "does not encode"},
		{"bound id without account", agentid.BoundPrefix + strings.TrimPrefix(agentid.Unbound(pub), agentid.V1Prefix), "12-digit account"},
		{"any other string (a Greengrass group id)", "my-greengrass-group", ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := checkAgentID(mine, c.id)
			if c.want == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			if fleet.CodeOf(err) != fleet.Invalid || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("checkAgentID = %v, want Invalid with %q", err, c.want)
			}
		})
	}
}
