// Package blob is the object-storage contract for robot application bundles
// (the s3Bucket/s3Key of a source): what the registry, the engine and the
// agent endpoint need from a store. Implementations: fsblob (a directory
// tree, the embedded default) and s3blob (any S3-compatible store).
package blob

import (
	"context"
	"errors"
	"io"
	"time"
)

// ErrNotExist is a bucket or object that does not exist.
var ErrNotExist = errors.New("blob: object does not exist")

// ErrNotAllowed is a bucket the store exists for but this server may not use:
// outside the buckets configured in --bundles, or one its credentials
// cannot read.
var ErrNotAllowed = errors.New("blob: bucket not allowed")

// ErrChanged is an object whose ETag is no longer the one asked for: it was
// overwritten since.
var ErrChanged = errors.New("blob: object changed")

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
