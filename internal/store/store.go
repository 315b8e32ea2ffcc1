// Package store is the persistence contract of fleetsync: small interfaces per
// aggregate, implemented once per backend (see sqlstore) and checked by one
// conformance suite (see storetest). Multi-row rules (quotas, uniqueness,
// registration, version numbering) are settled inside the backend's
// transactions, never in process memory, so several replicas can share a
// database.
package store

import (
	"context"
	"errors"

	"github.com/fleetsync/fleetsync/internal/fleet"
)

// Sentinel errors every backend returns (wrapped or bare) so that callers can
// turn them into domain errors with good messages.
var (
	// ErrNotFound is a row that does not exist in the caller's account.
	ErrNotFound = errors.New("store: not found")
	// ErrExists is a unique name or identity already taken.
	ErrExists = errors.New("store: already exists")
	// ErrLimit is a quota that the write would exceed.
	ErrLimit = errors.New("store: limit exceeded")
	// ErrConflict is an optimistic-concurrency check that failed (a revision
	// moved on, a robot already in another fleet).
	ErrConflict = errors.New("store: conflict")
)

// ListQuery selects one page of an account's resources in (creation time,
// ARN) order.
type ListQuery struct {
	Account string
	// Filters are exact-match filters ANDed together; the names each list
	// accepts are documented on its method.
	Filters map[string]string
	After   *fleet.Cursor
	Limit   int
}

// Fleets stores deployment fleets.
type Fleets interface {
	// CreateFleet inserts f; ErrExists for a taken name, ErrLimit when the
	// account already has maxPerAccount fleets.
	CreateFleet(ctx context.Context, f fleet.Fleet, maxPerAccount int) error
	// GetFleet returns the fleet with its tags, or ErrNotFound.
	GetFleet(ctx context.Context, account, arn string) (fleet.Fleet, error)
	// ListFleets pages the account's fleets; filter "name".
	ListFleets(ctx context.Context, q ListQuery) (fleet.Page[fleet.Fleet], error)
	// DeleteFleet removes the fleet and its tags and deregisters its robots.
	DeleteFleet(ctx context.Context, account, arn string) error
}

// Robots stores robots and their fleet membership.
type Robots interface {
	// CreateRobot inserts r; ErrExists for a taken name or agent id, ErrLimit
	// when the account already has maxPerAccount robots.
	CreateRobot(ctx context.Context, r fleet.Robot, maxPerAccount int) error
	// GetRobot returns the robot with its tags, or ErrNotFound.
	GetRobot(ctx context.Context, account, arn string) (fleet.Robot, error)
	// ListRobots pages the account's robots; filters "status" and "fleetName".
	ListRobots(ctx context.Context, q ListQuery) (fleet.Page[fleet.Robot], error)
	// FleetRobots returns up to limit robots of a fleet in creation order.
	FleetRobots(ctx context.Context, account, fleetARN string, limit int) ([]fleet.Robot, error)
	// DeleteRobot removes the robot and its tags.
	DeleteRobot(ctx context.Context, account, arn string) error
	// RegisterRobot puts the robot in the fleet with status Registered.
	// ErrNotFound if either is missing, ErrConflict if the robot is in
	// another fleet, ErrLimit if the fleet has maxPerFleet robots.
	// Registering a robot already in that fleet changes nothing.
	RegisterRobot(ctx context.Context, account, fleetARN, robotARN string, maxPerFleet int) error
	// DeregisterRobot takes the robot out of the fleet (status Available);
	// ErrNotFound if either is missing, ErrConflict if the robot is not in it.
	DeregisterRobot(ctx context.Context, account, fleetARN, robotARN string) error
}

// Applications stores robot applications: $LATEST and numbered versions.
type Applications interface {
	// CreateApplication inserts $LATEST; ErrExists for a taken name,
	// ErrLimit when the account has maxPerAccount applications.
	CreateApplication(ctx context.Context, a fleet.Application, maxPerAccount int) error
	// GetApplication returns one version ("$LATEST" or "1", "2", …) with the
	// application's tags, or ErrNotFound.
	GetApplication(ctx context.Context, account, arn, version string) (fleet.Application, error)
	// UpdateApplication replaces $LATEST's sources, suite, revision and update
	// time when its current revision is expectRevision (ErrConflict otherwise).
	UpdateApplication(ctx context.Context, a fleet.Application, expectRevision string) error
	// CreateApplicationVersion snapshots $LATEST as the next version number
	// with the given sources (ETags and digests filled in) when $LATEST's
	// revision is still expectRevision (ErrConflict otherwise). Numbers are
	// never reused; ErrLimit when maxVersions versions exist.
	CreateApplicationVersion(ctx context.Context, account, arn, expectRevision string, sources []fleet.Source, createdMs int64, maxVersions int) (fleet.Application, error)
	// ListApplications pages the account's applications, $LATEST only or,
	// with allVersions, $LATEST followed by each numbered version; filter "name".
	ListApplications(ctx context.Context, q ListQuery, allVersions bool) (fleet.Page[fleet.Application], error)
	// DeleteApplication removes the application, every version and its tags.
	DeleteApplication(ctx context.Context, account, arn string) error
	// DeleteApplicationVersion removes one numbered version.
	DeleteApplicationVersion(ctx context.Context, account, arn, version string) error
}

// Tags stores resource tags by ARN. Callers check that the resource exists.
type Tags interface {
	// TagResource adds or overwrites tags; ErrLimit if the resource would
	// have more than maxTags.
	TagResource(ctx context.Context, arn string, tags fleet.Tags, maxTags int) error
	// UntagResource removes the keys; absent keys are ignored.
	UntagResource(ctx context.Context, arn string, keys []string) error
	// ResourceTags returns the resource's tags (empty, never nil).
	ResourceTags(ctx context.Context, arn string) (fleet.Tags, error)
}

// Credential is an access key of one account. The secret is stored sealed
// (encrypted by the credential package), never in clear.
type Credential struct {
	AccessKeyID  string
	Account      string
	SecretSealed []byte
	CreatedMs    int64
	// RevokedMs is when the key was revoked; 0 while it is active.
	RevokedMs int64
}

// Credentials stores API access keys.
type Credentials interface {
	// CreateCredential inserts c; ErrExists if the key id is taken.
	CreateCredential(ctx context.Context, c Credential) error
	// GetCredential returns the credential (revoked ones too), or ErrNotFound.
	GetCredential(ctx context.Context, accessKeyID string) (Credential, error)
	// ListCredentials returns every credential in creation order.
	ListCredentials(ctx context.Context) ([]Credential, error)
	// RevokeCredential marks the key revoked at nowMs; ErrNotFound if absent.
	RevokeCredential(ctx context.Context, accessKeyID string, nowMs int64) error
}

// Store is everything fleetsync persists.
type Store interface {
	Fleets
	Robots
	Applications
	Tags
	Credentials
	// Ping checks that the database answers.
	Ping(ctx context.Context) error
	// Close releases the database.
	Close() error
}
