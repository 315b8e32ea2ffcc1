package state

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/fleetsync/fleetsync/internal/proto"
)

// AccountFile holds the 12-digit account the agent is bound to (written by
// `fleetsync-agent init --account N`). The agent's id is bound to it, and
// fleetsyncd serves the agent only that account's robot: an account that
// merely knows the id can neither enrol nor claim the robot. A state dir
// without it (written before bound ids) signs with the unbound v1 id.
const AccountFile = "account"

// LoadAccount returns the account dir is bound to; "" when it is bound to
// none.
func LoadAccount(dir string) (string, error) {
	b, err := os.ReadFile(filepath.Join(dir, AccountFile))
	if errors.Is(err, fs.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	account := string(bytes.TrimSpace(b))
	if !proto.ValidAccount(account) {
		return "", fmt.Errorf("%s: %q is not a 12-digit account; run `fleetsync-agent init --account N --rebind`", filepath.Join(dir, AccountFile), account)
	}
	return account, nil
}

// ErrBoundElsewhere is BindAccount's refusal to move an agent bound to one
// account to another without rebind.
var ErrBoundElsewhere = errors.New("the agent is bound to another account")

// BindAccount binds the agent of dir to account (durably). An agent already
// bound to another account is moved only with rebind: its robot in the old
// account is no longer served.
func BindAccount(dir, account string, rebind bool) error {
	if !proto.ValidAccount(account) {
		return fmt.Errorf("--account %q: want the 12-digit account that will create the robot", account)
	}
	have, err := LoadAccount(dir)
	if err != nil && !rebind {
		return err
	}
	if have == account {
		return nil
	}
	if have != "" && !rebind {
		return fmt.Errorf("%w: %s is bound to account %s; pass --rebind to bind it to %s (its robot in %s is then no longer served)",
			ErrBoundElsewhere, dir, have, account, have)
	}
	return writeFileAtomic(dir, AccountFile, []byte(account+"\n"), 0o600, true)
}

// BoundAgentID returns the agent id of key bound to account ("": the
// unbound v1 id).
func BoundAgentID(key ed25519.PrivateKey, account string) string {
	return proto.BoundAgentID(account, key.Public().(ed25519.PublicKey))
}
