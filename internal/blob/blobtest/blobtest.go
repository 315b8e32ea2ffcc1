// Package blobtest is the conformance suite of the blob.Store contract, run
// on every implementation (fsblob over a directory tree, s3blob over a real
// versitygw) so that the registry, the engine and the agent endpoint see the
// same behaviour whichever store --bundles names.
package blobtest

import (
	"bytes"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"sync"
	"testing"

	"github.com/fleetsync/fleetsync/internal/blob"
)

// Fixture is one store under test and the means to write into it.
type Fixture struct {
	Store blob.Store
	// Bucket exists and the store may read it.
	Bucket string
	// MissingBucket does not exist.
	MissingBucket string
	// Put writes (or overwrites) an object of Bucket, as an operator's
	// upload does, outside the store (the contract only reads).
	Put func(t *testing.T, key string, content []byte)
}

// Run runs the suite; newFixture gives each subtest a fresh store.
func Run(t *testing.T, newFixture func(t *testing.T) Fixture) {
	for _, tc := range []struct {
		name string
		fn   func(*testing.T, Fixture)
	}{
		{"Bucket", testBucket},
		{"StatOpenSHA256", testStatOpenSHA256},
		{"EmptyObject", testEmptyObject},
		{"Overwrite", testOverwrite},
		{"Missing", testMissing},
		{"Concurrent", testConcurrent},
	} {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, newFixture(t)) })
	}
}

func etagOf(b []byte) string { m := md5.Sum(b); return `"` + hex.EncodeToString(m[:]) + `"` }

func sha256Of(b []byte) string { h := sha256.Sum256(b); return hex.EncodeToString(h[:]) }

// content returns n reproducible bytes that differ by seed.
func content(n int, seed byte) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*31) ^ seed
	}
	return b
}

func readAll(t *testing.T, f Fixture, key string, offset int64, ifMatch string) ([]byte, error) {
	t.Helper()
	rc, err := f.Store.Open(t.Context(), f.Bucket, key, offset, ifMatch)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return io.ReadAll(rc)
}

func testBucket(t *testing.T, f Fixture) {
	if err := f.Store.Bucket(t.Context(), f.Bucket); err != nil {
		t.Errorf("Bucket(%q) = %v, want nil", f.Bucket, err)
	}
	if err := f.Store.Bucket(t.Context(), f.MissingBucket); !errors.Is(err, blob.ErrNotExist) {
		t.Errorf("Bucket(%q) = %v, want ErrNotExist", f.MissingBucket, err)
	}
}

func testStatOpenSHA256(t *testing.T, f Fixture) {
	ctx := t.Context()
	data := content(100_003, 1)
	key := "dir/sub/app.tar"
	f.Put(t, key, data)
	obj, err := f.Store.Stat(ctx, f.Bucket, key)
	if err != nil {
		t.Fatal(err)
	}
	if obj.Size != int64(len(data)) || obj.ETag != etagOf(data) {
		t.Errorf("Stat = %+v, want size %d and ETag %s (quoted hex MD5, as S3 gives for one part)", obj, len(data), etagOf(data))
	}
	for _, off := range []int64{0, 1, 65536, int64(len(data)) - 1, int64(len(data))} {
		for _, ifMatch := range []string{"", obj.ETag} {
			got, err := readAll(t, f, key, off, ifMatch)
			if err != nil || !bytes.Equal(got, data[off:]) {
				t.Errorf("Open at %d (If-Match %q): %d bytes, %v; want the %d from there", off, ifMatch, len(got), err, int64(len(data))-off)
			}
		}
	}
	if _, err := f.Store.Open(ctx, f.Bucket, key, 0, etagOf([]byte("something else"))); !errors.Is(err, blob.ErrChanged) {
		t.Errorf("Open with another ETag = %v, want ErrChanged", err)
	}
	for range 2 { // the second answer comes from what the store remembers
		if sum, err := f.Store.SHA256(ctx, f.Bucket, key, obj.ETag); err != nil || sum != sha256Of(data) {
			t.Errorf("SHA256 = %s, %v; want %s", sum, err, sha256Of(data))
		}
	}
	if _, err := f.Store.SHA256(ctx, f.Bucket, key, etagOf([]byte("something else"))); !errors.Is(err, blob.ErrChanged) {
		t.Errorf("SHA256 with another ETag = %v, want ErrChanged", err)
	}
}

func testEmptyObject(t *testing.T, f Fixture) {
	f.Put(t, "empty.tar", nil)
	obj, err := f.Store.Stat(t.Context(), f.Bucket, "empty.tar")
	if err != nil || obj.Size != 0 || obj.ETag != etagOf(nil) {
		t.Fatalf("Stat(empty) = %+v, %v; want size 0, ETag %s", obj, err, etagOf(nil))
	}
	if got, err := readAll(t, f, "empty.tar", 0, obj.ETag); err != nil || len(got) != 0 {
		t.Errorf("Open(empty) = %q, %v", got, err)
	}
	if sum, err := f.Store.SHA256(t.Context(), f.Bucket, "empty.tar", obj.ETag); err != nil || sum != sha256Of(nil) {
		t.Errorf("SHA256(empty) = %s, %v", sum, err)
	}
}

// testOverwrite: an object rewritten (another upload to the same key) has a
// new ETag, and nothing remembered about the old content is served for it.
func testOverwrite(t *testing.T, f Fixture) {
	ctx := t.Context()
	old, updated := content(4096, 1), content(5000, 2)
	f.Put(t, "app.tar", old)
	o1, err := f.Store.Stat(ctx, f.Bucket, "app.tar")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Store.SHA256(ctx, f.Bucket, "app.tar", o1.ETag); err != nil {
		t.Fatal(err)
	}
	f.Put(t, "app.tar", updated)
	o2, err := f.Store.Stat(ctx, f.Bucket, "app.tar")
	if err != nil || o2.ETag != etagOf(updated) || o2.Size != int64(len(updated)) {
		t.Fatalf("Stat after overwrite = %+v, %v; want ETag %s", o2, err, etagOf(updated))
	}
	if _, err := f.Store.SHA256(ctx, f.Bucket, "app.tar", o1.ETag); !errors.Is(err, blob.ErrChanged) {
		t.Errorf("SHA256 with the old ETag = %v, want ErrChanged", err)
	}
	if _, err := f.Store.Open(ctx, f.Bucket, "app.tar", 0, o1.ETag); !errors.Is(err, blob.ErrChanged) {
		t.Errorf("Open with the old ETag = %v, want ErrChanged", err)
	}
	if sum, err := f.Store.SHA256(ctx, f.Bucket, "app.tar", o2.ETag); err != nil || sum != sha256Of(updated) {
		t.Errorf("SHA256 after overwrite = %s, %v; want %s", sum, err, sha256Of(updated))
	}
	if got, err := readAll(t, f, "app.tar", 0, o2.ETag); err != nil || !bytes.Equal(got, updated) {
		t.Errorf("Open after overwrite: %d bytes, %v", len(got), err)
	}
}

func testMissing(t *testing.T, f Fixture) {
	ctx := t.Context()
	f.Put(t, "dir/present.tar", []byte("x"))
	for _, c := range []struct{ bucket, key string }{
		{f.Bucket, "absent.tar"}, {f.Bucket, "dir"}, {f.Bucket, "dir/absent.tar"}, {f.MissingBucket, "dir/present.tar"},
	} {
		if _, err := f.Store.Stat(ctx, c.bucket, c.key); !errors.Is(err, blob.ErrNotExist) {
			t.Errorf("Stat(%q, %q) = %v, want ErrNotExist", c.bucket, c.key, err)
		}
		if _, err := f.Store.Open(ctx, c.bucket, c.key, 0, ""); !errors.Is(err, blob.ErrNotExist) {
			t.Errorf("Open(%q, %q) = %v, want ErrNotExist", c.bucket, c.key, err)
		}
		if _, err := f.Store.SHA256(ctx, c.bucket, c.key, etagOf([]byte("x"))); !errors.Is(err, blob.ErrNotExist) {
			t.Errorf("SHA256(%q, %q) = %v, want ErrNotExist", c.bucket, c.key, err)
		}
	}
}

// testConcurrent: many readers of the same objects at once (the agent
// endpoint serves a whole fleet) agree, with the race detector watching.
func testConcurrent(t *testing.T, f Fixture) {
	ctx := t.Context()
	objs := map[string][]byte{}
	for i := range 4 {
		key := fmt.Sprintf("c/%d.tar", i)
		objs[key] = content(20_000+i, byte(i))
		f.Put(t, key, objs[key])
	}
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for g := range 16 {
		wg.Go(func() {
			key := fmt.Sprintf("c/%d.tar", g%4)
			want := objs[key]
			obj, err := f.Store.Stat(ctx, f.Bucket, key)
			if err != nil || obj.ETag != etagOf(want) {
				errs <- fmt.Errorf("Stat(%s) = %+v, %v", key, obj, err)
				return
			}
			if sum, err := f.Store.SHA256(ctx, f.Bucket, key, obj.ETag); err != nil || sum != sha256Of(want) {
				errs <- fmt.Errorf("SHA256(%s) = %s, %v", key, sum, err)
				return
			}
			rc, err := f.Store.Open(ctx, f.Bucket, key, int64(g), obj.ETag)
			if err != nil {
				errs <- err
				return
			}
			got, err := io.ReadAll(rc)
			rc.Close()
			if err != nil || !bytes.Equal(got, want[g:]) {
				errs <- fmt.Errorf("Open(%s, %d): %d bytes, %v", key, g, len(got), err)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}
