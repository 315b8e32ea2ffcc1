package tenancy_test

import (
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"testing"

	"github.com/fleetsync/fleetsync/internal/blob"
	"github.com/fleetsync/fleetsync/internal/blob/fsblob"
	"github.com/fleetsync/fleetsync/internal/fleet"
	"github.com/fleetsync/fleetsync/internal/store"
	"github.com/fleetsync/fleetsync/internal/store/sqlstore"
	"github.com/fleetsync/fleetsync/internal/tenancy"
)

const first, second = "111111111111", "222222222222"

// setup is a real file store with bucket a (object k) and an empty bucket
// b, and a real SQLite store where first is the install's first account.
func setup(t *testing.T) *tenancy.Bundles {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "aaa"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(dir, "bbb"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "aaa", "k"), []byte("secret bundle"), 0o644); err != nil {
		t.Fatal(err)
	}
	fs, err := fsblob.OpenFileStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { fs.Close() })
	st, err := sqlstore.OpenSQLite(t.Context(), filepath.Join(t.TempDir(), "db"), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	for i, acct := range []string{first, second} {
		if err := st.CreateCredential(t.Context(), store.Credential{AccessKeyID: "AK" + acct, Account: acct, SecretSealed: []byte{1}, CreatedMs: int64(i)}); err != nil {
			t.Fatal(err)
		}
	}
	return &tenancy.Bundles{Store: fs, Grants: st}
}

// TestUngrantedIsMissing: every call of an account without a grant answers
// exactly what a missing bucket answers, whatever exists behind it.
func TestUngrantedIsMissing(t *testing.T) {
	b := setup(t)
	ctx := t.Context()
	owner, stranger := b.For(first), b.For(second)
	obj, err := owner.Stat(ctx, "aaa", "k")
	if err != nil {
		t.Fatalf("the first account (every bucket) cannot stat its object: %v", err)
	}
	if err := stranger.Bucket(ctx, "aaa"); !errors.Is(err, blob.ErrNotExist) {
		t.Errorf("Bucket of an ungranted bucket: %v, want ErrNotExist", err)
	}
	if _, err := stranger.Stat(ctx, "aaa", "k"); !errors.Is(err, blob.ErrNotExist) {
		t.Errorf("Stat of an ungranted object: %v, want ErrNotExist", err)
	}
	if _, err := stranger.Open(ctx, "aaa", "k", 0, obj.ETag); !errors.Is(err, blob.ErrNotExist) {
		t.Errorf("Open of an ungranted object: %v, want ErrNotExist", err)
	}
	if _, err := stranger.SHA256(ctx, "aaa", "k", obj.ETag); !errors.Is(err, blob.ErrNotExist) {
		t.Errorf("SHA256 of an ungranted object: %v, want ErrNotExist", err)
	}
	// An ungranted existing object and an ungranted missing one answer
	// the same error.
	_, e1 := stranger.Stat(ctx, "aaa", "k")
	_, e2 := stranger.Stat(ctx, "aaa", "missing")
	if e1 == nil || e2 == nil || e1.Error() != e2.Error() {
		t.Errorf("answers differ: %v / %v", e1, e2)
	}

	if err := b.Grant(ctx, second, "aaa", 5); err != nil {
		t.Fatal(err)
	}
	if got, err := stranger.Stat(ctx, "aaa", "k"); err != nil || got.ETag != obj.ETag {
		t.Errorf("after the grant: %v, %v", got, err)
	}
	if _, err := stranger.Stat(ctx, "bbb", "k"); !errors.Is(err, blob.ErrNotExist) {
		t.Errorf("a grant of aaa reaches bbb: %v", err)
	}
	if err := b.Revoke(ctx, second, "aaa"); err != nil {
		t.Fatal(err)
	}
	if _, err := stranger.Stat(ctx, "aaa", "k"); !errors.Is(err, blob.ErrNotExist) {
		t.Errorf("after the revoke: %v, want ErrNotExist", err)
	}
}

func TestGrantValidation(t *testing.T) {
	b := setup(t)
	for _, c := range []struct{ account, bucket string }{
		{"12", "ok-bucket"}, {second, "UPPER"}, {second, "aa"}, {second, "aa/bb"}, {second, "**"},
	} {
		if err := b.Grant(t.Context(), c.account, c.bucket, 1); fleet.CodeOf(err) != fleet.Invalid {
			t.Errorf("Grant(%q, %q) = %v, want Invalid", c.account, c.bucket, err)
		}
	}
	if err := b.Revoke(t.Context(), second, "never-granted"); fleet.CodeOf(err) != fleet.NotFound {
		t.Errorf("Revoke of a missing grant = %v, want NotFound", err)
	}
	if err := b.Grant(t.Context(), second, store.AllBuckets, 1); err != nil {
		t.Errorf("Grant of every bucket: %v", err)
	}
}
