package fsblob

import (
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"github.com/fleetsync/fleetsync/internal/blob"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestFileStoreStatAndOpen(t *testing.T) {
	dir := t.TempDir()
	content := []byte("hello bundle")
	if err := os.MkdirAll(filepath.Join(dir, "bkt", "a"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "bkt", "a", "b.tar"), content, 0o644); err != nil {
		t.Fatal(err)
	}
	s, err := OpenFileStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := t.Context()
	obj, err := s.Stat(ctx, "bkt", "a/b.tar")
	if err != nil {
		t.Fatal(err)
	}
	m, h := md5.Sum(content), sha256.Sum256(content)
	if want := `"` + hex.EncodeToString(m[:]) + `"`; obj.ETag != want {
		t.Errorf("ETag = %s, want %s", obj.ETag, want)
	}
	if obj.Size != int64(len(content)) {
		t.Errorf("Stat = %+v", obj)
	}
	if sum, err := s.SHA256(ctx, "bkt", "a/b.tar", obj.ETag); err != nil || sum != hex.EncodeToString(h[:]) {
		t.Errorf("SHA256 = %s, %v; want %x", sum, err, h)
	}
	if _, err := s.Open(ctx, "bkt", "a/b.tar", 0, `"0123"`); !errors.Is(err, blob.ErrChanged) {
		t.Errorf("Open with another ETag = %v, want blob.ErrChanged", err)
	}
	rc, err := s.Open(ctx, "bkt", "a/b.tar", 6, obj.ETag)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(rc)
	rc.Close()
	if string(got) != "bundle" {
		t.Errorf("Open at 6 = %q", got)
	}
	// A rewritten object gets a new ETag (the cache keys on size and mtime).
	if err := os.WriteFile(filepath.Join(dir, "bkt", "a", "b.tar"), []byte("changed content!"), 0o644); err != nil {
		t.Fatal(err)
	}
	obj2, err := s.Stat(ctx, "bkt", "a/b.tar")
	if err != nil || obj2.ETag == obj.ETag {
		t.Errorf("Stat after rewrite = %+v, %v; want a new ETag", obj2, err)
	}
	if _, err := s.SHA256(ctx, "bkt", "a/b.tar", obj.ETag); !errors.Is(err, blob.ErrChanged) {
		t.Errorf("SHA256 with the old ETag = %v, want blob.ErrChanged", err)
	}
	for _, c := range []struct{ bucket, key string }{
		{"bkt", "missing"}, {"nobkt", "a/b.tar"}, {"bkt", "../../etc/passwd"}, {"..", "x"}, {"bkt", "a"},
		{"bkt", "a/../a/b.tar"}, {"bkt", "/a/b.tar"}, {"bkt", "a//b.tar"}, {"bkt", "a/b.tar/inner"},
		{"bkt", strings.Repeat("k", 300)},
	} {
		if _, err := s.Stat(ctx, c.bucket, c.key); !errors.Is(err, blob.ErrNotExist) {
			t.Errorf("Stat(%q, %q) = %v, want blob.ErrNotExist", c.bucket, c.key, err)
		}
	}
	if err := s.Bucket(ctx, "bkt"); err != nil {
		t.Errorf("Bucket(bkt) = %v", err)
	}
	for _, b := range []string{"nobkt", "..", "a/b", ""} {
		if err := s.Bucket(ctx, b); !errors.Is(err, blob.ErrNotExist) {
			t.Errorf("Bucket(%q) = %v, want blob.ErrNotExist", b, err)
		}
	}
}
