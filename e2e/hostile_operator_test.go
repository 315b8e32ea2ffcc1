package e2e

import (
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go/service/robomaker"

	"github.com/fleetsync/fleetsync/internal/testenv"
)

// TestCredentialsFlagsAfterKeyID: every credentials subcommand takes its
// flags before or after the key id, and a revoke with a missing or extra
// argument fails loudly instead of leaving the key active.
func TestCredentialsFlagsAfterKeyID(t *testing.T) {
	s := testenv.Start(t, testenv.Options{})
	ctx := testenv.Context(t)
	db := s.DatabaseArgs()
	// create with the flags first, list with them after the verb.
	out, stderr, exit := opRunFleetsyncd(t, nil, append([]string{"credentials", "create", "--data-dir", s.DataDir, "--account", "210987654321"}, db...)...)
	if exit != 0 {
		t.Fatalf("credentials create: exit %d\n%s", exit, stderr)
	}
	keyID, secret := opParseExport(t, out)
	c := opQuiet(s.ClientFor(keyID, secret))
	opTry(c.ListFleetsWithContext(ctx, &robomaker.ListFleetsInput{})).must(t)

	for _, args := range [][]string{
		{"credentials", "revoke", "--data-dir", s.DataDir},                                // no key id
		{"credentials", "revoke", keyID, "AKFSOTHER00000000000", "--data-dir", s.DataDir}, // two
		{"credentials", "list", "stray", "--data-dir", s.DataDir},
	} {
		if _, e, exit := opRunFleetsyncd(t, nil, args...); exit == 0 || !strings.Contains(e, "usage") {
			t.Errorf("fleetsyncd %s: exit %d, stderr %q; want a usage error", strings.Join(args, " "), exit, e)
		}
	}
	opTry(c.ListFleetsWithContext(ctx, &robomaker.ListFleetsInput{})).must(t)

	// The flags after the key id, as an operator types it.
	out, stderr, exit = opRunFleetsyncd(t, nil, append([]string{"credentials", "revoke", keyID, "--data-dir", s.DataDir}, db...)...)
	if exit != 0 || !strings.Contains(out, "revoked "+keyID) {
		t.Fatalf("credentials revoke KEYID --data-dir: exit %d\nstdout %q\nstderr %q", exit, out, stderr)
	}
	if _, err := c.ListFleetsWithContext(ctx, &robomaker.ListFleetsInput{}); opErrCode(err) != "UnrecognizedClientException" {
		t.Errorf("a call with the key revoked by `revoke KEYID --data-dir`: %v, want UnrecognizedClientException", err)
	}
	list, _, _ := opRunFleetsyncd(t, nil, append([]string{"credentials", "list", "--data-dir", s.DataDir}, db...)...)
	if f := opListLine(list, keyID); len(f) < 4 || f[3] != "revoked" {
		t.Errorf("credentials list after revoke: %v\n%s", f, list)
	}
}
