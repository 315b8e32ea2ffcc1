package deploy

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"

	"github.com/fleetsync/fleetsync/internal/blob"
	"github.com/fleetsync/fleetsync/internal/fleet"
	"github.com/fleetsync/fleetsync/internal/store"
)

// SourceError is an object a deployment cannot use because of the object
// itself (gone, or overwritten since its ETag was recorded), as opposed to
// a store that cannot be asked. Code is the robot failure code it earns.
type SourceError struct {
	Code        string
	Bucket, Key string
	Reason      string
}

// result is the failed robot deployment a source error earns, at the step
// the cause table gives its code.
func (e *SourceError) result(nowMs int64) store.Result {
	o, _ := fleet.ReportedFailure(e.Code, "")
	return store.Result{Status: fleet.RobotFailed, Code: e.Code, Reason: e.Reason, Step: o.Step, NowMs: nowMs}
}

// Error returns the code and the reason.
func (e *SourceError) Error() string { return e.Code + ": " + e.Reason }

// CheckedObject is a source object as the bundle store has it now, with
// its SHA-256 when CheckSource was asked for it (and, for a colcon v2
// bundle, its head's when HeadDigest was: fleet.Source).
type CheckedObject struct {
	blob.Object
	SHA256     string
	HeadSHA256 string
	HeadSize   int64
}

// CheckSource is the one ETag check of a bundle or download-condition
// object, used when a version is created (registry), when a job is prepared
// (Engine) and when a robot is handed its assignment (Robots). With etag
// set, the object must still have that ETag; with digest, its SHA-256 is
// read too (conditional on the ETag just seen, so both describe the same
// content). A missing object is a *SourceError with CodeResourceNotFound,
// a changed one CodeEtagMismatch; any other error is the store's.
func CheckSource(ctx context.Context, bundles blob.Store, bucket, key, etag string, digest bool) (CheckedObject, error) {
	obj, err := bundles.Stat(ctx, bucket, key)
	if err == nil && etag != "" && obj.ETag != etag {
		err = blob.ErrChanged
	}
	if err != nil {
		return CheckedObject{}, sourceErr(bucket, key, err)
	}
	out := CheckedObject{Object: obj}
	if digest {
		// S3 has no SHA-256 to give: the store streams the object once
		// (conditional on this ETag) and remembers the digest.
		if out.SHA256, err = bundles.SHA256(ctx, bucket, key, obj.ETag); err != nil {
			return CheckedObject{}, sourceErr(bucket, key, err)
		}
	}
	return out, nil
}

// recorded returns o with the digests its version recorded for src (the
// whole object's and its head's), which a check without digest leaves out.
func (o CheckedObject) recorded(src fleet.Source) CheckedObject {
	o.SHA256, o.HeadSHA256, o.HeadSize = src.SHA256, src.HeadSHA256, src.HeadSize
	return o
}

// HeadDigest adds to a bundle object just checked with its digest (the
// version being created) the digest and length of its head when it is a
// colcon v2 bundle: an agent that fetches only the overlays it lacks
// trusts the head by them, the whole bundle's SHA-256 not being checked on
// that path.
func HeadDigest(ctx context.Context, bundles blob.Store, bucket, key string, obj CheckedObject) (CheckedObject, error) {
	head, _, err := v2Head(ctx, bundles, preparedSource{bucket, key, obj})
	if err != nil {
		return obj, sourceErr(bucket, key, err)
	}
	if head != nil {
		sum := sha256.Sum256(head)
		obj.HeadSHA256, obj.HeadSize = hex.EncodeToString(sum[:]), int64(len(head))
	}
	return obj, nil
}

// sourceErr turns a bundle store error about s3://bucket/key into a
// *SourceError when it is the object's fault.
func sourceErr(bucket, key string, err error) error {
	switch {
	case errors.Is(err, blob.ErrNotExist):
		return &SourceError{CodeResourceNotFound, bucket, key, "The object s3://" + bucket + "/" + key + " no longer exists."}
	case errors.Is(err, blob.ErrChanged):
		return &SourceError{CodeEtagMismatch, bucket, key, "The object s3://" + bucket + "/" + key + " changed since the version was created."}
	}
	return err
}

// SourceErrorOf returns the *SourceError in err's chain, if any: for
// callers (the bundle download stream) that meet a store error while
// reading an object they already checked.
func SourceErrorOf(bucket, key string, err error) (*SourceError, bool) {
	var se *SourceError
	ok := errors.As(sourceErr(bucket, key, err), &se)
	return se, ok
}
