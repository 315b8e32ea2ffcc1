// Package bundle is the object-storage contract for robot application
// bundles (the s3Bucket/s3Key of a source) and its file-tree implementation,
// the embedded default: object s3://BUCKET/KEY is the file ROOT/BUCKET/KEY.
package bundle

import (
	"context"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

// ErrNotExist is a bucket or object that does not exist.
var ErrNotExist = errors.New("bundle: object does not exist")

// Object describes one stored object.
type Object struct {
	Bucket string
	Key    string
	Size   int64
	// ETag is quoted as S3 returns it: `"<hex md5>"` for a single-part object.
	ETag string
	// SHA256 is the hex SHA-256 of the content.
	SHA256 string
}

// Store reads bundles from object storage.
type Store interface {
	// BucketExists reports whether the bucket exists and is allowed.
	BucketExists(ctx context.Context, bucket string) (bool, error)
	// Stat returns the object's size, ETag and SHA-256, or ErrNotExist.
	Stat(ctx context.Context, bucket, key string) (Object, error)
	// Open streams the object from offset, or ErrNotExist.
	Open(ctx context.Context, bucket, key string, offset int64) (io.ReadCloser, error)
}

// FileStore is a Store on a local directory tree.
type FileStore struct {
	root *os.Root

	mu sync.Mutex
	// digests caches content hashes by path, size and modification time, so a
	// large bundle is hashed once, not at every deployment.
	digests map[string]cachedDigest
}

type cachedDigest struct {
	size    int64
	modTime time.Time
	etag    string
	sha256  string
}

// OpenFileStore opens (creating if needed) the directory dir as a bundle store.
func OpenFileStore(dir string) (*FileStore, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("bundle store %s: %w", dir, err)
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, fmt.Errorf("bundle store %s: %w", dir, err)
	}
	return &FileStore{root: root, digests: map[string]cachedDigest{}}, nil
}

// Close releases the directory.
func (s *FileStore) Close() error { return s.root.Close() }

// objectPath maps a bucket and key to a path inside the root; os.Root refuses
// any path that escapes it.
func objectPath(bucket, key string) (string, error) {
	if bucket == "" || strings.ContainsAny(bucket, `/\`) || bucket == "." || bucket == ".." {
		return "", ErrNotExist
	}
	// A key the file tree cannot hold verbatim ("a/../b", "/b", "a//b")
	// would alias another object; as S3 keys they are distinct objects, and
	// none of them exists here.
	for _, seg := range strings.Split(key, "/") {
		if seg == "" || seg == "." || seg == ".." || strings.Contains(seg, `\`) {
			return "", ErrNotExist
		}
	}
	return filepath.Join(bucket, filepath.FromSlash(key)), nil
}

// BucketExists implements Store.
func (s *FileStore) BucketExists(_ context.Context, bucket string) (bool, error) {
	if bucket == "" || strings.ContainsAny(bucket, `/\`) || bucket == "." || bucket == ".." {
		return false, nil
	}
	fi, err := s.root.Stat(bucket)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return fi.IsDir(), nil
}

// Stat implements Store.
func (s *FileStore) Stat(ctx context.Context, bucket, key string) (Object, error) {
	p, err := objectPath(bucket, key)
	if err != nil {
		return Object{}, err
	}
	f, err := s.root.Open(p)
	if err != nil {
		return Object{}, mapErr(err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return Object{}, err
	}
	if !fi.Mode().IsRegular() {
		return Object{}, ErrNotExist
	}
	obj := Object{Bucket: bucket, Key: key, Size: fi.Size()}
	s.mu.Lock()
	d, ok := s.digests[p]
	s.mu.Unlock()
	if ok && d.size == fi.Size() && d.modTime.Equal(fi.ModTime()) {
		obj.ETag, obj.SHA256 = d.etag, d.sha256
		return obj, nil
	}
	m, h := md5.New(), sha256.New()
	if _, err := io.Copy(io.MultiWriter(m, h), readerCtx{ctx, f}); err != nil {
		return Object{}, fmt.Errorf("hash %s/%s: %w", bucket, key, err)
	}
	obj.ETag = `"` + hex.EncodeToString(m.Sum(nil)) + `"`
	obj.SHA256 = hex.EncodeToString(h.Sum(nil))
	s.mu.Lock()
	s.digests[p] = cachedDigest{size: fi.Size(), modTime: fi.ModTime(), etag: obj.ETag, sha256: obj.SHA256}
	s.mu.Unlock()
	return obj, nil
}

// Open implements Store.
func (s *FileStore) Open(_ context.Context, bucket, key string, offset int64) (io.ReadCloser, error) {
	p, err := objectPath(bucket, key)
	if err != nil {
		return nil, err
	}
	f, err := s.root.Open(p)
	if err != nil {
		return nil, mapErr(err)
	}
	if offset > 0 {
		if _, err := f.Seek(offset, io.SeekStart); err != nil {
			f.Close()
			return nil, err
		}
	}
	return f, nil
}

func mapErr(err error) error {
	// ENOTDIR (a key through a file) and ENAMETOOLONG (a segment over the
	// file system's limit) name objects that cannot exist in this store.
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) || errors.Is(err, syscall.ENAMETOOLONG) ||
		strings.Contains(err.Error(), "path escapes") {
		return ErrNotExist
	}
	return err
}

// readerCtx stops a long read when the context ends.
type readerCtx struct {
	ctx context.Context
	r   io.Reader
}

func (r readerCtx) Read(p []byte) (int, error) {
	if err := r.ctx.Err(); err != nil {
		return 0, err
	}
	return r.r.Read(p)
}
