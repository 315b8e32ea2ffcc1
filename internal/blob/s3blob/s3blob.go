// Package s3blob is the blob store (package blob) on Amazon S3 and any
// S3-compatible service (MinIO, versitygw, Ceph RGW...), through the AWS SDK
// for Go v2 S3 client. Credentials come from the SDK's standard chain:
// AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, AWS_PROFILE and the shared
// config and credentials files, web identity, instance roles.
//
// ETags are S3's own (multipart ones included); SHA-256 digests are computed
// by streaming the object once and remembered by bucket, key and ETag.
// Downloads are presigned GETs, so bundles go from the store to the robots
// directly, unless the store is configured with presign=false (robots that
// cannot reach the store), when fleetsyncd streams them.
package s3blob

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/fleetsync/fleetsync/internal/blob"
)

// Options configure a Store; ParseURL reads them from a --bundles URL.
type Options struct {
	// Endpoint is the base URL of an S3-compatible service, such as
	// "http://127.0.0.1:7070"; empty means AWS S3 itself.
	Endpoint string
	// Region signs requests; empty means the SDK's (AWS_REGION, the shared
	// config), else us-east-1.
	Region string
	// PathStyle addresses buckets as endpoint/bucket/key rather than
	// bucket.endpoint/key (most self-hosted services need it).
	PathStyle bool
	// Profile selects a shared config profile; empty means AWS_PROFILE or
	// "default".
	Profile string
	// Buckets, when not empty, are the only buckets applications may name.
	Buckets []string
	// NoPresign makes fleetsyncd stream bundles to robots instead of handing
	// them presigned URLs of the store.
	NoPresign bool
}

// ParseURL reads Options from a --bundles URL:
//
//	s3://[BUCKET]?endpoint=URL&region=R&path_style=true&buckets=a,b&profile=P&presign=false
//
// A BUCKET in the host part is one more allowed bucket.
func ParseURL(raw string) (Options, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return Options{}, fmt.Errorf("--bundles %q: %w", raw, err)
	}
	if u.Scheme != "s3" {
		return Options{}, fmt.Errorf("--bundles %q: scheme must be s3", raw)
	}
	if u.Path != "" && u.Path != "/" {
		return Options{}, fmt.Errorf("--bundles %q: an s3 URL has no path (name buckets with buckets=a,b)", raw)
	}
	q := u.Query()
	o := Options{Endpoint: q.Get("endpoint"), Region: q.Get("region"), Profile: q.Get("profile")}
	for name := range q {
		switch name {
		case "endpoint", "region", "profile", "path_style", "buckets", "presign":
		default:
			return Options{}, fmt.Errorf("--bundles %q: unknown parameter %q (endpoint, region, path_style, buckets, profile, presign)", raw, name)
		}
	}
	if o.Endpoint != "" {
		e, err := url.Parse(o.Endpoint)
		if err != nil || (e.Scheme != "http" && e.Scheme != "https") || e.Host == "" {
			return Options{}, fmt.Errorf("--bundles %q: endpoint must be an http:// or https:// URL", raw)
		}
	}
	for _, b := range []struct {
		name string
		dst  *bool
		neg  bool
	}{{"path_style", &o.PathStyle, false}, {"presign", &o.NoPresign, true}} {
		if v := q.Get(b.name); v != "" {
			on, err := strconv.ParseBool(v)
			if err != nil {
				return Options{}, fmt.Errorf("--bundles %q: %s must be true or false", raw, b.name)
			}
			*b.dst = on != b.neg
		}
	}
	if u.Host != "" {
		o.Buckets = append(o.Buckets, u.Host)
	}
	for b := range strings.SplitSeq(q.Get("buckets"), ",") {
		if b = strings.TrimSpace(b); b != "" {
			o.Buckets = append(o.Buckets, b)
		}
	}
	return o, nil
}

// Store is a blob.Store (and blob.Presigner unless NoPresign) on S3.
type Store struct {
	opts    Options
	client  *s3.Client
	presign *s3.PresignClient

	mu      sync.Mutex
	digests map[string]string // "bucket\x00key\x00etag" → hex SHA-256
}

var _ blob.Store = (*Store)(nil)

// New makes a Store. It loads credentials but makes no request: a store that
// is down at start only fails the calls that need it.
func New(ctx context.Context, o Options) (*Store, error) {
	var opts []func(*config.LoadOptions) error
	if o.Region != "" {
		opts = append(opts, config.WithRegion(o.Region))
	}
	if o.Profile != "" {
		opts = append(opts, config.WithSharedConfigProfile(o.Profile))
	}
	cfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("bundle store: AWS configuration: %w", err)
	}
	if cfg.Region == "" {
		cfg.Region = "us-east-1"
	}
	client := s3.NewFromConfig(cfg, func(so *s3.Options) {
		so.UsePathStyle = o.PathStyle
		if o.Endpoint != "" {
			so.BaseEndpoint = aws.String(o.Endpoint)
		}
		// Checksum headers only when an operation requires them: a
		// presigned GET must not carry x-amz-checksum-mode, which the robot
		// would have to send, and compatible stores differ in support.
		so.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenRequired
		so.ResponseChecksumValidation = aws.ResponseChecksumValidationWhenRequired
	})
	return &Store{opts: o, client: client, presign: s3.NewPresignClient(client), digests: map[string]string{}}, nil
}

// Check asks the store about each configured bucket, so a wrong endpoint,
// region or credential stops fleetsyncd at start rather than at the first
// deployment. A configured bucket that does not exist (yet) is not an error;
// it is returned in missing. Without configured buckets there is nothing to
// ask that every credential may (ListBuckets needs its own permission).
func (s *Store) Check(ctx context.Context) (missing []string, err error) {
	for _, b := range s.opts.Buckets {
		switch err := s.Bucket(ctx, b); {
		case errors.Is(err, blob.ErrNotExist):
			missing = append(missing, b)
		case err != nil:
			return missing, err
		}
	}
	return missing, nil
}

// Presigns reports whether the store hands robots presigned URLs.
func (s *Store) Presigns() bool { return !s.opts.NoPresign }

// allowed checks bucket against the configured list.
func (s *Store) allowed(bucket string) error {
	if len(s.opts.Buckets) > 0 && !slices.Contains(s.opts.Buckets, bucket) {
		return fmt.Errorf("bucket %q is not one of the buckets configured in --bundles (%s): %w",
			bucket, strings.Join(s.opts.Buckets, ", "), blob.ErrNotAllowed)
	}
	return nil
}

// status returns the HTTP status of an S3 error answer, 0 for other errors.
func status(err error) int {
	var re *awshttp.ResponseError
	if errors.As(err, &re) {
		return re.HTTPStatusCode()
	}
	return 0
}

// Bucket implements blob.Store.
func (s *Store) Bucket(ctx context.Context, bucket string) error {
	if err := s.allowed(bucket); err != nil {
		return err
	}
	_, err := s.client.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String(bucket)})
	switch status(err) {
	case 0, http.StatusOK:
		if err != nil {
			return fmt.Errorf("bundle store: head bucket %q: %w", bucket, err)
		}
		return nil
	case http.StatusNotFound:
		return fmt.Errorf("bucket %q: %w", bucket, blob.ErrNotExist)
	case http.StatusForbidden, http.StatusMovedPermanently:
		return fmt.Errorf("bucket %q is not readable with this server's credentials or region: %w", bucket, blob.ErrNotAllowed)
	}
	return fmt.Errorf("bundle store: head bucket %q: %w", bucket, err)
}

// Stat implements blob.Store with one HEAD request.
func (s *Store) Stat(ctx context.Context, bucket, key string) (blob.Object, error) {
	if err := s.allowed(bucket); err != nil {
		return blob.Object{}, blob.ErrNotExist
	}
	out, err := s.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		return blob.Object{}, mapErr("head", bucket, key, err)
	}
	return blob.Object{Bucket: bucket, Key: key, Size: aws.ToInt64(out.ContentLength), ETag: aws.ToString(out.ETag)}, nil
}

func mapErr(op, bucket, key string, err error) error {
	switch status(err) {
	case http.StatusNotFound:
		return blob.ErrNotExist
	case http.StatusPreconditionFailed:
		return blob.ErrChanged
	}
	return fmt.Errorf("bundle store: %s s3://%s/%s: %w", op, bucket, key, err)
}

// Open implements blob.Store with one GET (ranged when offset > 0, and
// conditional on ifMatch), whose body is streamed, never buffered whole.
func (s *Store) Open(ctx context.Context, bucket, key string, offset int64, ifMatch string) (io.ReadCloser, error) {
	if err := s.allowed(bucket); err != nil {
		return nil, blob.ErrNotExist
	}
	in := &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)}
	if offset > 0 {
		in.Range = aws.String("bytes=" + strconv.FormatInt(offset, 10) + "-")
	}
	if ifMatch != "" {
		in.IfMatch = aws.String(ifMatch)
	}
	out, err := s.client.GetObject(ctx, in)
	if status(err) == http.StatusRequestedRangeNotSatisfiable && offset > 0 {
		return io.NopCloser(strings.NewReader("")), nil // offset is the object's size
	}
	if err != nil {
		return nil, mapErr("get", bucket, key, err)
	}
	return out.Body, nil
}

// SHA256 implements blob.Store: the first call for an ETag streams the
// object once (conditional on that ETag, so the digest is of that content).
func (s *Store) SHA256(ctx context.Context, bucket, key, etag string) (string, error) {
	k := bucket + "\x00" + key + "\x00" + etag
	s.mu.Lock()
	sum, ok := s.digests[k]
	s.mu.Unlock()
	if ok {
		// The contract: the object must still have etag. A remembered
		// digest saves the read, not the check (one HEAD).
		obj, err := s.Stat(ctx, bucket, key)
		if err != nil {
			return "", err
		}
		if obj.ETag != etag {
			return "", blob.ErrChanged
		}
		return sum, nil
	}
	rc, err := s.Open(ctx, bucket, key, 0, etag)
	if err != nil {
		return "", err
	}
	defer rc.Close()
	h := sha256.New()
	if _, err := io.Copy(h, rc); err != nil {
		return "", fmt.Errorf("bundle store: read s3://%s/%s: %w", bucket, key, err)
	}
	sum = hex.EncodeToString(h.Sum(nil))
	s.mu.Lock()
	if len(s.digests) >= 10000 { // bounded; a digest is cheap to recompute next to so many bundles
		clear(s.digests)
	}
	s.digests[k] = sum
	s.mu.Unlock()
	return sum, nil
}

// PresignGet implements blob.Presigner. The robot's ARN travels in a
// signed query parameter, x-fleetsync-robot, so the store's access log tells
// which robot fetched what; S3 ignores it otherwise.
func (s *Store) PresignGet(ctx context.Context, bucket, key, robot string, ttl time.Duration) (string, error) {
	if err := s.allowed(bucket); err != nil {
		return "", blob.ErrNotExist
	}
	addRobot := func(o *s3.Options) {
		o.APIOptions = append(o.APIOptions, func(stack *middleware.Stack) error {
			return stack.Build.Add(middleware.BuildMiddlewareFunc("FleetsyncRobot",
				func(ctx context.Context, in middleware.BuildInput, next middleware.BuildHandler) (middleware.BuildOutput, middleware.Metadata, error) {
					if req, ok := in.Request.(*smithyhttp.Request); ok {
						q := req.URL.Query()
						q.Set("x-fleetsync-robot", robot)
						req.URL.RawQuery = q.Encode()
					}
					return next.HandleBuild(ctx, in)
				}), middleware.After)
		})
	}
	req, err := s.presign.PresignGetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)},
		s3.WithPresignExpires(ttl), s3.WithPresignClientFromClientOptions(addRobot))
	if err != nil {
		return "", fmt.Errorf("bundle store: presign s3://%s/%s: %w", bucket, key, err)
	}
	return req.URL, nil
}
