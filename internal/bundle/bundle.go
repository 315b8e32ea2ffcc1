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

// ErrNotAllowed is a bucket the store exists for but this server may not use:
// outside the buckets configured in --bundles, or one its credentials
// cannot read.
var ErrNotAllowed = errors.New("bundle: bucket not allowed")

// ErrChanged is an object whose ETag is no longer the one asked for: it was
// overwritten since.
var ErrChanged = errors.New("bundle: object changed")

// Object describes one stored object.
type Object struct {
	Bucket string
	Key    string
	Size   int64
	// ETag is quoted as S3 returns it: `"<hex md5>"` for a single-part
	// object, `"<hex md5 of the parts' md5s>-<parts>"` for a multipart one.
	ETag string
}

// Store reads bundles from object storage. Implementations are safe for
// concurrent use.
type Store interface {
	// Bucket returns nil when bundles may be read from bucket, an error
	// wrapping ErrNotExist when it does not exist or ErrNotAllowed when
	// this server may not use it, or another error when the store cannot be
	// asked.
	Bucket(ctx context.Context, bucket string) error
	// Stat returns the object's size and ETag, or ErrNotExist. It is cheap
	// (no read of the content) once the store knows the object.
	Stat(ctx context.Context, bucket, key string) (Object, error)
	// Open streams the object from offset to its end, or returns
	// ErrNotExist. When ifMatch is not empty and the object's ETag is not
	// ifMatch, it returns ErrChanged. The caller closes the reader; a
	// reader that is also an io.ReadSeeker over the whole object lets the
	// agent endpoint serve it with sendfile.
	Open(ctx context.Context, bucket, key string, offset int64, ifMatch string) (io.ReadCloser, error)
	// SHA256 returns the hex SHA-256 of the object's content, which must
	// still have ETag etag (else ErrChanged). It reads the whole object the
	// first time and remembers the answer by bucket, key and ETag.
	SHA256(ctx context.Context, bucket, key, etag string) (string, error)
}

// Presigner is implemented by stores that can hand out download URLs of
// their own (S3 presigned GETs), so bundles travel from the store to the
// robot without passing through fleetsyncd.
type Presigner interface {
	// PresignGet returns a URL that downloads the object, with Range
	// requests, until ttl has passed. robot is the robot the URL is for;
	// the store records it in the signed URL (S3 access logs show it).
	PresignGet(ctx context.Context, bucket, key, robot string, ttl time.Duration) (string, error)
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

// Bucket implements Store: every directory under the root is a bucket.
func (s *FileStore) Bucket(_ context.Context, bucket string) error {
	if bucket == "" || strings.ContainsAny(bucket, `/\`) || bucket == "." || bucket == ".." {
		return fmt.Errorf("bucket %q: %w", bucket, ErrNotExist)
	}
	fi, err := s.root.Stat(bucket)
	if errors.Is(err, fs.ErrNotExist) || (err == nil && !fi.IsDir()) {
		return fmt.Errorf("bucket %q: %w", bucket, ErrNotExist)
	}
	return err
}

// Stat implements Store. The ETag is the MD5 of the content: the first Stat
// of a file (or of a rewritten one) reads it whole, computing its SHA-256
// on the way.
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
	d, err := s.digest(ctx, p, f)
	if err != nil {
		return Object{}, fmt.Errorf("hash %s/%s: %w", bucket, key, err)
	}
	return Object{Bucket: bucket, Key: key, Size: d.size, ETag: d.etag}, nil
}

// digest returns the hashes of the open file f at path p, from the cache
// when its size and modification time are unchanged.
func (s *FileStore) digest(ctx context.Context, p string, f *os.File) (cachedDigest, error) {
	fi, err := f.Stat()
	if err != nil {
		return cachedDigest{}, err
	}
	if !fi.Mode().IsRegular() {
		return cachedDigest{}, ErrNotExist
	}
	s.mu.Lock()
	d, ok := s.digests[p]
	s.mu.Unlock()
	if ok && d.size == fi.Size() && d.modTime.Equal(fi.ModTime()) {
		return d, nil
	}
	m, h := md5.New(), sha256.New()
	if _, err := io.Copy(io.MultiWriter(m, h), readerCtx{ctx, io.NewSectionReader(f, 0, fi.Size())}); err != nil {
		return cachedDigest{}, err
	}
	d = cachedDigest{size: fi.Size(), modTime: fi.ModTime(), etag: `"` + hex.EncodeToString(m.Sum(nil)) + `"`,
		sha256: hex.EncodeToString(h.Sum(nil))}
	s.mu.Lock()
	s.digests[p] = d
	s.mu.Unlock()
	return d, nil
}

// Open implements Store. The reader is the *os.File itself, positioned at
// offset, so it can be served with sendfile.
func (s *FileStore) Open(ctx context.Context, bucket, key string, offset int64, ifMatch string) (io.ReadCloser, error) {
	p, err := objectPath(bucket, key)
	if err != nil {
		return nil, err
	}
	f, err := s.root.Open(p)
	if err != nil {
		return nil, mapErr(err)
	}
	if ifMatch != "" {
		d, err := s.digest(ctx, p, f)
		if err != nil {
			f.Close()
			return nil, err
		}
		if d.etag != ifMatch {
			f.Close()
			return nil, ErrChanged
		}
	}
	if offset > 0 {
		if _, err := f.Seek(offset, io.SeekStart); err != nil {
			f.Close()
			return nil, err
		}
	}
	return f, nil
}

// SHA256 implements Store.
func (s *FileStore) SHA256(ctx context.Context, bucket, key, etag string) (string, error) {
	p, err := objectPath(bucket, key)
	if err != nil {
		return "", err
	}
	f, err := s.root.Open(p)
	if err != nil {
		return "", mapErr(err)
	}
	defer f.Close()
	d, err := s.digest(ctx, p, f)
	if err != nil {
		return "", err
	}
	if d.etag != etag {
		return "", ErrChanged
	}
	return d.sha256, nil
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
