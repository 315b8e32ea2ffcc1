// Package credential manages API access keys: generation, sealing the secret
// at rest with the data directory's master key, bootstrap and revocation, and
// the lookup SigV4 verification needs.
package credential

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"time"

	"github.com/fleetsync/fleetsync/internal/fleet"
	"github.com/fleetsync/fleetsync/internal/store"
)

// Keyring holds the master key of a data directory. Secrets are sealed with a
// key derived from it; other subsystems derive their own keys (Derive) so no
// two purposes share key material.
type Keyring struct {
	master []byte
	aead   cipher.AEAD
}

// masterKeyFile is the master key's name inside the data directory.
const masterKeyFile = "master.key"

// LoadKeyring reads the master key from dataDir, creating a random one (0600)
// on first use.
func LoadKeyring(dataDir string) (*Keyring, error) {
	path := filepath.Join(dataDir, masterKeyFile)
	key, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		key = make([]byte, 32)
		rand.Read(key)
		if err := os.MkdirAll(dataDir, 0o700); err != nil {
			return nil, err
		}
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			if errors.Is(err, os.ErrExist) { // another process won the race
				return LoadKeyring(dataDir)
			}
			return nil, err
		}
		if _, err := f.Write(key); err != nil {
			f.Close()
			return nil, err
		}
		if err := f.Sync(); err != nil {
			f.Close()
			return nil, err
		}
		if err := f.Close(); err != nil {
			return nil, err
		}
	} else if err != nil {
		return nil, fmt.Errorf("master key: %w", err)
	}
	if len(key) != 32 {
		return nil, fmt.Errorf("master key %s: want 32 bytes, have %d", path, len(key))
	}
	return NewKeyring(key)
}

// NewKeyring builds a keyring on a 32-byte master key.
func NewKeyring(master []byte) (*Keyring, error) {
	k := &Keyring{master: master}
	block, err := aes.NewCipher(k.Derive("credential-seal"))
	if err != nil {
		return nil, err
	}
	k.aead, err = cipher.NewGCM(block)
	return k, err
}

// Derive returns a 32-byte key for one purpose.
func (k *Keyring) Derive(purpose string) []byte {
	m := hmac.New(sha256.New, k.master)
	m.Write([]byte("fleetsync/" + purpose))
	return m.Sum(nil)
}

// seal encrypts a secret; the access key id is bound as associated data so a
// sealed secret cannot be moved to another key.
func (k *Keyring) seal(keyID, secret string) []byte {
	nonce := make([]byte, k.aead.NonceSize())
	rand.Read(nonce)
	return k.aead.Seal(nonce, nonce, []byte(secret), []byte(keyID))
}

func (k *Keyring) open(keyID string, sealed []byte) (string, error) {
	n := k.aead.NonceSize()
	if len(sealed) < n {
		return "", errors.New("sealed secret too short")
	}
	plain, err := k.aead.Open(nil, sealed[:n], sealed[n:], []byte(keyID))
	if err != nil {
		return "", errors.New("sealed secret does not open with this data directory's master key")
	}
	return string(plain), nil
}

// Service manages credentials in a store.
type Service struct {
	Store store.Credentials
	Keys  *Keyring
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

var (
	accountPattern = regexp.MustCompile(`^[0-9]{12}$`)
	keyIDPattern   = regexp.MustCompile(`^[A-Z0-9]{16,128}$`)
)

// ValidateAccount checks a 12-digit account id.
func ValidateAccount(account string) error {
	if !accountPattern.MatchString(account) {
		return fleet.Errorf(fleet.Invalid, "account %q must be 12 digits", account)
	}
	return nil
}

// Create makes a new random credential for account and returns its key id
// and secret; the secret is not retrievable later.
func (s *Service) Create(ctx context.Context, account string) (keyID, secret string, err error) {
	if err := ValidateAccount(account); err != nil {
		return "", "", err
	}
	raw := make([]byte, 10)
	rand.Read(raw)
	keyID = "AKFS" + base32.StdEncoding.EncodeToString(raw)[:16]
	sec := make([]byte, 30)
	rand.Read(sec)
	secret = base64.StdEncoding.EncodeToString(sec)
	err = s.Store.CreateCredential(ctx, store.Credential{
		AccessKeyID: keyID, Account: account, SecretSealed: s.Keys.seal(keyID, secret), CreatedMs: s.now().UnixMilli(),
	})
	return keyID, secret, err
}

// Ensure creates the given credential unless its key id exists already. It
// reports whether it created it. An existing key with another account or
// secret is an error, so a changed bootstrap setting is noticed, not ignored.
func (s *Service) Ensure(ctx context.Context, keyID, secret, account string) (bool, error) {
	if err := ValidateAccount(account); err != nil {
		return false, err
	}
	if !keyIDPattern.MatchString(keyID) {
		return false, fleet.Errorf(fleet.Invalid, "access key id must be 16 to 128 upper-case letters and digits")
	}
	if len(secret) < 16 {
		return false, fleet.Errorf(fleet.Invalid, "secret access key must have at least 16 characters")
	}
	existing, err := s.Store.GetCredential(ctx, keyID)
	if err == nil {
		have, err := s.Keys.open(keyID, existing.SecretSealed)
		if err != nil {
			return false, err
		}
		if existing.Account != account || !hmac.Equal([]byte(have), []byte(secret)) {
			return false, fleet.Errorf(fleet.Invalid, "access key %s exists with another account or secret", keyID)
		}
		return false, nil
	}
	if !errors.Is(err, store.ErrNotFound) {
		return false, err
	}
	err = s.Store.CreateCredential(ctx, store.Credential{
		AccessKeyID: keyID, Account: account, SecretSealed: s.Keys.seal(keyID, secret), CreatedMs: s.now().UnixMilli(),
	})
	if errors.Is(err, store.ErrExists) { // a concurrent start created it
		return s.Ensure(ctx, keyID, secret, account)
	}
	return err == nil, err
}

// Lookup returns the secret and account of an active key; ok is false for an
// unknown or revoked key.
func (s *Service) Lookup(ctx context.Context, keyID string) (secret, account string, ok bool, err error) {
	c, err := s.Store.GetCredential(ctx, keyID)
	if errors.Is(err, store.ErrNotFound) {
		return "", "", false, nil
	}
	if err != nil {
		return "", "", false, err
	}
	if c.RevokedMs != 0 {
		return "", "", false, nil
	}
	secret, err = s.Keys.open(keyID, c.SecretSealed)
	if err != nil {
		return "", "", false, err
	}
	return secret, c.Account, true, nil
}

// List returns every credential (sealed secrets included; callers print ids only).
func (s *Service) List(ctx context.Context) ([]store.Credential, error) {
	return s.Store.ListCredentials(ctx)
}

// Revoke disables a key.
func (s *Service) Revoke(ctx context.Context, keyID string) error {
	err := s.Store.RevokeCredential(ctx, keyID, s.now().UnixMilli())
	if errors.Is(err, store.ErrNotFound) {
		return fleet.Errorf(fleet.NotFound, "no active access key %s", keyID)
	}
	return err
}
