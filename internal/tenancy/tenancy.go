// Package tenancy is the one place that decides which buckets of the bundle
// store an account reaches (SPEC §3: buckets belong to accounts). Every
// operation that names a bucket or an object — CreateRobotApplication,
// UpdateRobotApplication, CreateRobotApplicationVersion, the live ETags of
// $LATEST, the engine's deploy-time ETag check, a deployment's download
// condition file and the bundle URLs robots download from — reads the store
// through Bundles.For(account), on the file store and the S3 store alike.
//
// A bucket the account was not granted is, to that account, a bucket that
// does not exist: every call answers blob.ErrNotExist, the very error of a
// missing bucket or key, before the store is asked anything. So an answer
// never carries another account's ETag, size or digest, and never tells
// which of its keys exist.
//
// Grants are rows of the database (store.Buckets), managed with
// `fleetsyncd buckets grant|revoke|list`; the grant of bucket "*" is every
// bucket. The first account of a fresh install holds "*" (created with its
// first credential), so a one-account install needs no grant step; accounts
// created later hold nothing until granted.
package tenancy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"regexp"

	"github.com/fleetsync/fleetsync/internal/blob"
	"github.com/fleetsync/fleetsync/internal/fleet"
	"github.com/fleetsync/fleetsync/internal/store"
)

// Bundles is the bundle store with the grants that scope it.
type Bundles struct {
	Store  blob.Store
	Grants store.Buckets
}

// For returns the bundle store as account sees it.
func (b *Bundles) For(account string) blob.Store {
	return scoped{b: b, account: account}
}

// scoped is one account's view of the store.
type scoped struct {
	b       *Bundles
	account string
}

// allowed returns nil when the account may use bucket, an error wrapping
// blob.ErrNotExist when it may not (exactly a missing bucket's error), or
// the database's error.
func (s scoped) allowed(ctx context.Context, bucket string) error {
	ok, err := s.b.Grants.BucketGranted(ctx, s.account, bucket)
	if err != nil {
		return fmt.Errorf("bucket grants: %w", err)
	}
	if !ok {
		return fmt.Errorf("bucket %q: %w", bucket, blob.ErrNotExist)
	}
	return nil
}

// Bucket implements blob.Store.
func (s scoped) Bucket(ctx context.Context, bucket string) error {
	if err := s.allowed(ctx, bucket); err != nil {
		return err
	}
	return s.b.Store.Bucket(ctx, bucket)
}

// Stat implements blob.Store.
func (s scoped) Stat(ctx context.Context, bucket, key string) (blob.Object, error) {
	if err := s.allowed(ctx, bucket); err != nil {
		return blob.Object{}, err
	}
	return s.b.Store.Stat(ctx, bucket, key)
}

// Open implements blob.Store.
func (s scoped) Open(ctx context.Context, bucket, key string, offset int64, ifMatch string) (io.ReadCloser, error) {
	if err := s.allowed(ctx, bucket); err != nil {
		return nil, err
	}
	return s.b.Store.Open(ctx, bucket, key, offset, ifMatch)
}

// SHA256 implements blob.Store.
func (s scoped) SHA256(ctx context.Context, bucket, key, etag string) (string, error) {
	if err := s.allowed(ctx, bucket); err != nil {
		return "", err
	}
	return s.b.Store.SHA256(ctx, bucket, key, etag)
}

// bucketName is what a grant may name: an S3 bucket name as the AWS model
// spells s3Bucket, or store.AllBuckets.
var bucketName = regexp.MustCompile(`^[a-z0-9][a-z0-9.\-]{1,61}[a-z0-9]$`)

var accountPattern = regexp.MustCompile(`^[0-9]{12}$`)

func checkGrant(account, bucket string) error {
	if !accountPattern.MatchString(account) {
		return fleet.Errorf(fleet.Invalid, "--account %q: want a 12-digit account", account)
	}
	if bucket != store.AllBuckets && !bucketName.MatchString(bucket) {
		return fleet.Errorf(fleet.Invalid, "bucket %q: want an S3 bucket name (3 to 63 of a-z, 0-9, '.', '-') or %q for every bucket", bucket, store.AllBuckets)
	}
	return nil
}

// Grant lets account use bucket (store.AllBuckets: every bucket); nowMs is
// the grant's time. Granting twice changes nothing.
func (b *Bundles) Grant(ctx context.Context, account, bucket string, nowMs int64) error {
	if err := checkGrant(account, bucket); err != nil {
		return err
	}
	return b.Grants.GrantBucket(ctx, store.BucketGrant{Account: account, Bucket: bucket, CreatedMs: nowMs})
}

// Revoke takes a grant away; the account's applications that name the
// bucket then find nothing there (new versions, deployments and downloads
// fail as for a missing object).
func (b *Bundles) Revoke(ctx context.Context, account, bucket string) error {
	if err := checkGrant(account, bucket); err != nil {
		return err
	}
	err := b.Grants.RevokeBucket(ctx, account, bucket)
	if errors.Is(err, store.ErrNotFound) {
		return fleet.Errorf(fleet.NotFound, "account %s has no grant of bucket %q", account, bucket)
	}
	return err
}

// List returns the grants of account ("": every account).
func (b *Bundles) List(ctx context.Context, account string) ([]store.BucketGrant, error) {
	if account != "" && !accountPattern.MatchString(account) {
		return nil, fleet.Errorf(fleet.Invalid, "--account %q: want a 12-digit account", account)
	}
	return b.Grants.ListBucketGrants(ctx, account)
}
