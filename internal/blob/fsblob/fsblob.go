// Package fsblob is the blob store on a local directory tree, the embedded
// default: object s3://BUCKET/KEY is the file ROOT/BUCKET/KEY.
package fsblob

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

	"github.com/fleetsync/fleetsync/internal/blob"
)

// FileStore is a blob.Store on a local directory tree.
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
		return "", blob.ErrNotExist
	}
	// A key the file tree cannot hold verbatim ("a/../b", "/b", "a//b")
	// would alias another object; as S3 keys they are distinct objects, and
	// none of them exists here.
	for _, seg := range strings.Split(key, "/") {
		if seg == "" || seg == "." || seg == ".." || strings.Contains(seg, `\`) {
			return "", blob.ErrNotExist
		}
	}
	return filepath.Join(bucket, filepath.FromSlash(key)), nil
}

// Bucket implements blob.Store: every directory under the root is a bucket.
func (s *FileStore) Bucket(_ context.Context, bucket string) error {
	if bucket == "" || strings.ContainsAny(bucket, `/\`) || bucket == "." || bucket == ".." {
		return fmt.Errorf("bucket %q: %w", bucket, blob.ErrNotExist)
	}
	// A bucket that is a symlink out of the root (os.Root refuses to
	// follow it), or anything but a directory, is not a bucket of this
	// store: the client's fault, never an unavailable store.
	fi, err := s.root.Stat(bucket)
	if err != nil {
		if mapped := mapErr(err); errors.Is(mapped, blob.ErrNotExist) {
			return fmt.Errorf("bucket %q: %w", bucket, blob.ErrNotExist)
		}
		return err
	}
	if !fi.IsDir() {
		return fmt.Errorf("bucket %q is not a directory: %w", bucket, blob.ErrNotExist)
	}
	return nil
}

// NotRegularError is an object path that names something other than a
// regular file (a FIFO, device, socket or directory): as S3 objects these do
// not exist, so it matches blob.ErrNotExist, and the store never opens one
// in a way that could block.
type NotRegularError struct {
	Bucket, Key string
	Mode        fs.FileMode
}

// Error names the object and what it is instead of a regular file.
func (e *NotRegularError) Error() string {
	kind := "not a regular file"
	switch {
	case e.Mode&fs.ModeNamedPipe != 0:
		kind = "a FIFO, not a regular file"
	case e.Mode&fs.ModeSocket != 0:
		kind = "a socket, not a regular file"
	case e.Mode&fs.ModeDevice != 0:
		kind = "a device, not a regular file"
	case e.Mode.IsDir():
		kind = "a directory, not a regular file"
	}
	return fmt.Sprintf("object s3://%s/%s is %s", e.Bucket, e.Key, kind)
}

// Is makes a NotRegularError match blob.ErrNotExist.
func (e *NotRegularError) Is(target error) bool { return target == blob.ErrNotExist }

// openRegular opens the object at p for reading, only if it is a regular
// file inside the root. It looks before it opens (a FIFO or device is never
// opened at all), opens without blocking (O_NONBLOCK: a file swapped for a
// FIFO in between cannot hang the open) and checks the opened file again.
func (s *FileStore) openRegular(bucket, key, p string) (*os.File, error) {
	fi, err := s.root.Stat(p)
	if err != nil {
		return nil, mapErr(err)
	}
	if !fi.Mode().IsRegular() {
		return nil, &NotRegularError{bucket, key, fi.Mode()}
	}
	f, err := s.root.OpenFile(p, os.O_RDONLY|syscall.O_NONBLOCK|syscall.O_NOCTTY, 0)
	if err != nil {
		return nil, mapErr(err)
	}
	if fi, err = f.Stat(); err != nil || !fi.Mode().IsRegular() {
		f.Close()
		if err != nil {
			return nil, err
		}
		return nil, &NotRegularError{bucket, key, fi.Mode()}
	}
	return f, nil
}

// Stat implements Store. The ETag is the MD5 of the content: the first Stat
// of a file (or of a rewritten one) reads it whole, computing its SHA-256
// on the way.
func (s *FileStore) Stat(ctx context.Context, bucket, key string) (blob.Object, error) {
	p, err := objectPath(bucket, key)
	if err != nil {
		return blob.Object{}, err
	}
	f, err := s.openRegular(bucket, key, p)
	if err != nil {
		return blob.Object{}, err
	}
	defer f.Close()
	d, err := s.digest(ctx, p, f)
	if err != nil {
		return blob.Object{}, fmt.Errorf("hash %s/%s: %w", bucket, key, err)
	}
	return blob.Object{Bucket: bucket, Key: key, Size: d.size, ETag: d.etag}, nil
}

// digest returns the hashes of the open file f at path p, from the cache
// when its size and modification time are unchanged.
func (s *FileStore) digest(ctx context.Context, p string, f *os.File) (cachedDigest, error) {
	fi, err := f.Stat()
	if err != nil {
		return cachedDigest{}, err
	}
	if !fi.Mode().IsRegular() {
		return cachedDigest{}, blob.ErrNotExist
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
	f, err := s.openRegular(bucket, key, p)
	if err != nil {
		return nil, err
	}
	// A directory (a key that is a prefix of others) is no object, with or
	// without If-Match (blobtest's Missing case).
	if fi, err := f.Stat(); err != nil || !fi.Mode().IsRegular() {
		f.Close()
		if err != nil {
			return nil, err
		}
		return nil, blob.ErrNotExist
	}
	if ifMatch != "" {
		d, err := s.digest(ctx, p, f)
		if err != nil {
			f.Close()
			return nil, err
		}
		if d.etag != ifMatch {
			f.Close()
			return nil, blob.ErrChanged
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
	f, err := s.openRegular(bucket, key, p)
	if err != nil {
		return "", err
	}
	defer f.Close()
	d, err := s.digest(ctx, p, f)
	if err != nil {
		return "", err
	}
	if d.etag != etag {
		return "", blob.ErrChanged
	}
	return d.sha256, nil
}

func mapErr(err error) error {
	// ENOTDIR (a key through a file) and ENAMETOOLONG (a segment over the
	// file system's limit) name objects that cannot exist in this store.
	// EINVAL is a name the kernel refuses (a NUL byte); ELOOP a symlink
	// chain that never ends. Both are the client's key, not the store.
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) || errors.Is(err, syscall.ENAMETOOLONG) ||
		errors.Is(err, syscall.EINVAL) || errors.Is(err, syscall.ELOOP) || strings.Contains(err.Error(), "path escapes") {
		return blob.ErrNotExist
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
