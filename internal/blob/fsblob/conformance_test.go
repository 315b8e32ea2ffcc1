package fsblob

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/fleetsync/fleetsync/internal/blob/blobtest"
)

// TestConformance runs the blob.Store suite on a directory tree; objects
// are written as an operator copying files into <root>/BUCKET/KEY does.
func TestConformance(t *testing.T) {
	blobtest.Run(t, func(t *testing.T) blobtest.Fixture {
		dir := t.TempDir()
		if err := os.Mkdir(filepath.Join(dir, "bundles"), 0o755); err != nil {
			t.Fatal(err)
		}
		s, err := OpenFileStore(dir)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return blobtest.Fixture{Store: s, Bucket: "bundles", MissingBucket: "missing",
			Put: func(t *testing.T, key string, content []byte) {
				path := filepath.Join(dir, "bundles", filepath.FromSlash(key))
				if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
					t.Fatal(err)
				}
				// Write then rename, as an upload tool does: readers see the
				// old object or the new one, never half of it.
				tmp := filepath.Join(dir, ".upload.tmp")
				if err := os.WriteFile(tmp, content, 0o644); err != nil {
					t.Fatal(err)
				}
				if err := os.Rename(tmp, path); err != nil {
					t.Fatal(err)
				}
			}}
	})
}
