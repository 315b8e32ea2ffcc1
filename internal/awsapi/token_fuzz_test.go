package awsapi

import (
	"testing"

	"github.com/fleetsync/fleetsync/internal/fleet"
)

// FuzzPaginationToken: any nextToken a client sends is either one this
// list issued (and opens to the cursor it sealed) or a clean
// InvalidParameterException; it never panics, and a token sealed for one
// account or operation never opens for another.
func FuzzPaginationToken(f *testing.F) {
	tk := tokens{key: []byte("fuzz-pagination-key-0123456789ab")}
	f.Add(tk.seal("123456789012", "ListFleets", &fleet.Cursor{CreatedMs: 1700000000000, ARN: "arn:aws:robomaker:us-east-1:123456789012:deployment-fleet/f/1700000000000"}))
	f.Add(tk.seal("123456789012", "ListRobots", &fleet.Cursor{CreatedMs: 1, ARN: "a", Seq: 7}))
	f.Add("")
	f.Add(".")
	f.Add("e30.AAAAAAAAAAAAAAAAAAAAAA")
	f.Add("not a token")
	f.Fuzz(func(t *testing.T, token string) {
		c, err := tk.open("123456789012", "ListFleets", token)
		if err != nil {
			if fleet.CodeOf(err) != fleet.Invalid {
				t.Fatalf("open(%q): %v, want an Invalid error", token, err)
			}
			return
		}
		if token == "" {
			if c != nil {
				t.Fatalf("empty token opened to %+v", c)
			}
			return
		}
		// Accepted: it is genuine, so it opens nowhere else and reseals
		// to a token that opens to the same cursor.
		if _, err := tk.open("210987654321", "ListFleets", token); err == nil {
			t.Fatalf("token %q opened for another account", token)
		}
		if _, err := tk.open("123456789012", "ListRobots", token); err == nil {
			t.Fatalf("token %q opened for another operation", token)
		}
		again, err := tk.open("123456789012", "ListFleets", tk.seal("123456789012", "ListFleets", c))
		if err != nil || *again != *c {
			t.Fatalf("reseal of %+v: %+v, %v", c, again, err)
		}
	})
}
