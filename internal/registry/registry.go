// Package registry is the domain service behind every non-deployment
// operation: fleets, robots, robot applications and their versions, and tags.
// It enforces the rules the AWS model cannot express (uniqueness, quotas,
// ownership, bundle existence) and speaks only domain types and errors.
package registry

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/fleetsync/fleetsync/internal/agentid"
	"github.com/fleetsync/fleetsync/internal/deploy"
	"github.com/fleetsync/fleetsync/internal/fleet"
	"github.com/fleetsync/fleetsync/internal/store"
	"github.com/fleetsync/fleetsync/internal/tenancy"
)

// Limits are the quotas of SPEC §3; over one is LimitExceededException.
type Limits struct {
	FleetsPerAccount       int
	RobotsPerAccount       int
	RobotsPerFleet         int
	ApplicationsPerAccount int
	VersionsPerApplication int
	TagsPerResource        int
}

// DefaultLimits are generous defaults.
func DefaultLimits() Limits {
	return Limits{
		FleetsPerAccount:       1000,
		RobotsPerAccount:       100000,
		RobotsPerFleet:         100000,
		ApplicationsPerAccount: 1000,
		VersionsPerApplication: 40,
		TagsPerResource:        50,
	}
}

// DescribeFleetRobots is the most robots DescribeFleet returns (the model's cap).
const DescribeFleetRobots = 1000

// Store is what the registry reads and writes: fleets, robots,
// applications and tags, and a job's existence (for tagging it).
type Store interface {
	store.Fleets
	store.Robots
	store.Applications
	store.Tags
	GetJob(ctx context.Context, account, arn string) (fleet.Job, error)
}

// Service implements the registry operations.
type Service struct {
	Store Store
	// Bundles is the bundle store, reached only as one account sees it
	// (Bundles.For(account)): the bucket grants are enforced there.
	Bundles *tenancy.Bundles
	// Region is minted into every ARN; ARNs of other regions are not found.
	Region string
	Limits Limits
	// Forget is told of every robot deleted, so that its agent is refused
	// at once wherever the robot's identity is remembered; nil is fine.
	Forget deploy.Forgetter
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

// resolve parses an ARN the caller passed in field and checks it is of type
// want. An ARN of another account or region answers NotFound, exactly as a
// missing resource does, so nothing of another account is visible.
func (s *Service) resolve(account, field, arn string, want fleet.ResourceType) (fleet.ARN, error) {
	a, err := fleet.ParseARN(arn)
	if err != nil || a.Type != want {
		return fleet.ARN{}, fleet.Errorf(fleet.Invalid, "%s: %q is not a %s ARN", field, arn, want)
	}
	if a.Account != account || a.Region != s.Region {
		return fleet.ARN{}, notFound(want, arn)
	}
	return a, nil
}

func notFound(t fleet.ResourceType, arn string) error {
	names := map[fleet.ResourceType]string{
		fleet.TypeFleet: "fleet", fleet.TypeRobot: "robot",
		fleet.TypeRobotApplication: "robot application", fleet.TypeDeploymentJob: "deployment job",
	}
	return fleet.Errorf(fleet.NotFound, "%s %s does not exist", names[t], arn)
}

// mapStore turns a store sentinel into a domain error; what names the
// resource in the message.
func mapStore(err error, t fleet.ResourceType, arn string) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, store.ErrNotFound):
		return notFound(t, arn)
	default:
		return fleet.Wrap(fleet.Internal, err, "store failure")
	}
}

// newARN mints a named resource's ARN with the creation time embedded.
func (s *Service) newARN(account string, t fleet.ResourceType, name string) (fleet.ARN, int64) {
	ms := s.now().UnixMilli()
	return fleet.ARN{Region: s.Region, Account: account, Type: t, Name: name, CreatedMs: ms}, ms
}

func (s *Service) checkTags(tags fleet.Tags) error {
	if len(tags) > s.Limits.TagsPerResource {
		return fleet.Errorf(fleet.LimitExceeded, "a resource can have at most %d tags, %d given", s.Limits.TagsPerResource, len(tags))
	}
	for k := range tags {
		if strings.HasPrefix(strings.ToLower(k), "aws:") {
			return fleet.Errorf(fleet.Invalid, "tag key %q: the aws: prefix is reserved", k)
		}
	}
	return fleet.CheckControlTags(tags)
}

// --- fleets ---

// CreateFleet creates a fleet; names are unique per account.
func (s *Service) CreateFleet(ctx context.Context, account, name string, tags fleet.Tags) (fleet.Fleet, error) {
	if err := s.checkTags(tags); err != nil {
		return fleet.Fleet{}, err
	}
	arn, ms := s.newARN(account, fleet.TypeFleet, name)
	f := fleet.Fleet{ARN: arn.String(), Account: account, Name: name, CreatedMs: ms, Tags: nonNil(tags)}
	switch err := s.Store.CreateFleet(ctx, f, s.Limits.FleetsPerAccount); {
	case errors.Is(err, store.ErrExists):
		return fleet.Fleet{}, fleet.Errorf(fleet.AlreadyExists, "a fleet named %q already exists", name)
	case errors.Is(err, store.ErrLimit):
		return fleet.Fleet{}, fleet.Errorf(fleet.LimitExceeded, "an account can have at most %d fleets", s.Limits.FleetsPerAccount)
	case err != nil:
		return fleet.Fleet{}, fleet.Wrap(fleet.Internal, err, "store failure")
	}
	return f, nil
}

// DeleteFleet deletes a fleet; its robots are deregistered.
func (s *Service) DeleteFleet(ctx context.Context, account, fleetARN string) error {
	if _, err := s.resolve(account, "fleet", fleetARN, fleet.TypeFleet); err != nil {
		return err
	}
	return mapStore(s.Store.DeleteFleet(ctx, account, fleetARN), fleet.TypeFleet, fleetARN)
}

// DescribeFleet returns a fleet and up to DescribeFleetRobots of its robots.
func (s *Service) DescribeFleet(ctx context.Context, account, fleetARN string) (fleet.Fleet, []fleet.Robot, error) {
	if _, err := s.resolve(account, "fleet", fleetARN, fleet.TypeFleet); err != nil {
		return fleet.Fleet{}, nil, err
	}
	f, err := s.Store.GetFleet(ctx, account, fleetARN)
	if err != nil {
		return fleet.Fleet{}, nil, mapStore(err, fleet.TypeFleet, fleetARN)
	}
	robots, err := s.Store.FleetRobots(ctx, account, fleetARN, DescribeFleetRobots)
	if err != nil {
		return fleet.Fleet{}, nil, mapStore(err, fleet.TypeFleet, fleetARN)
	}
	return f, robots, nil
}

// ListFleets pages the account's fleets; filter "name".
func (s *Service) ListFleets(ctx context.Context, q fleet.ListQuery) (fleet.Page[fleet.Fleet], error) {
	if err := checkFilters(q.Filters, "name"); err != nil {
		return fleet.Page[fleet.Fleet]{}, err
	}
	p, err := s.Store.ListFleets(ctx, q)
	return p, mapStore(err, fleet.TypeFleet, "")
}

// checkFilters refuses filter names a list does not support.
func checkFilters(filters map[string]string, allowed ...string) error {
	for name := range filters {
		if !slices.Contains(allowed, name) {
			return fleet.Errorf(fleet.Invalid, "filter %q is not supported here; supported: %s", name, strings.Join(allowed, ", "))
		}
	}
	return nil
}

// --- robots ---

// CreateRobot creates a robot; names and agent ids are unique.
func (s *Service) CreateRobot(ctx context.Context, account, name string, arch fleet.Architecture, agentID string, tags fleet.Tags) (fleet.Robot, error) {
	if err := s.checkTags(tags); err != nil {
		return fleet.Robot{}, err
	}
	if err := checkAgentID(account, agentID); err != nil {
		return fleet.Robot{}, err
	}
	arn, ms := s.newARN(account, fleet.TypeRobot, name)
	r := fleet.Robot{ARN: arn.String(), Account: account, Name: name, Architecture: arch, AgentID: agentID,
		Status: fleet.RobotAvailable, CreatedMs: ms, Tags: nonNil(tags)}
	switch err := s.Store.CreateRobot(ctx, r, s.Limits.RobotsPerAccount); {
	case errors.Is(err, store.ErrExists):
		return fleet.Robot{}, fleet.Errorf(fleet.AlreadyExists, "a robot named %q or with greengrassGroupId %q already exists in this account", name, agentID)
	case errors.Is(err, store.ErrLimit):
		return fleet.Robot{}, fleet.Errorf(fleet.LimitExceeded, "an account can have at most %d robots", s.Limits.RobotsPerAccount)
	case err != nil:
		return fleet.Robot{}, fleet.Wrap(fleet.Internal, err, "store failure")
	}
	return r, nil
}

// checkAgentID is the enrolment rule: an agent id (fsa1-/fsa2-) must be
// bound to the account that creates the robot, so knowing an agent's id
// lets no other account enrol it; unbound v1 ids are enrolled no more (the
// robots that have one keep working). The answer depends on the id alone,
// never on another account's robots. Any other greengrassGroupId is
// accepted, as RoboMaker did, and no agent can ever act for its robot.
func checkAgentID(account, id string) error {
	if !strings.HasPrefix(id, agentid.V1Prefix) && !strings.HasPrefix(id, agentid.BoundPrefix) {
		return nil
	}
	ident, err := agentid.Parse(id)
	switch {
	case err != nil:
		return fleet.Errorf(fleet.Invalid, "greengrassGroupId: %v", err)
	case ident.Account == "":
		return fleet.Errorf(fleet.Invalid, "greengrassGroupId: agent id %s is not bound to an account; "+
			"on the robot run `fleetsync-agent init --account %s` and pass the id it prints", id, account)
	case ident.Account != account:
		return fleet.Errorf(fleet.Invalid, "greengrassGroupId: agent id %s is bound to account %s, not to this account %s; "+
			"on the robot run `fleetsync-agent init --account %s` to bind it here", id, ident.Account, account, account)
	}
	return nil
}

// DeleteRobot deletes a robot, registered or not.
func (s *Service) DeleteRobot(ctx context.Context, account, robotARN string) error {
	if _, err := s.resolve(account, "robot", robotARN, fleet.TypeRobot); err != nil {
		return err
	}
	if err := s.Store.DeleteRobot(ctx, account, robotARN); err != nil {
		return mapStore(err, fleet.TypeRobot, robotARN)
	}
	if s.Forget != nil {
		s.Forget.ForgetRobot(robotARN)
	}
	return nil
}

// DescribeRobot returns a robot.
func (s *Service) DescribeRobot(ctx context.Context, account, robotARN string) (fleet.Robot, error) {
	if _, err := s.resolve(account, "robot", robotARN, fleet.TypeRobot); err != nil {
		return fleet.Robot{}, err
	}
	r, err := s.Store.GetRobot(ctx, account, robotARN)
	return r, mapStore(err, fleet.TypeRobot, robotARN)
}

// ListRobots pages the account's robots; filters "status" and "fleetName".
func (s *Service) ListRobots(ctx context.Context, q fleet.ListQuery) (fleet.Page[fleet.Robot], error) {
	if err := checkFilters(q.Filters, "status", "fleetName"); err != nil {
		return fleet.Page[fleet.Robot]{}, err
	}
	if st, ok := q.Filters["status"]; ok && !validRobotStatus(st) {
		return fleet.Page[fleet.Robot]{}, fleet.Errorf(fleet.Invalid, "filter status: %q is not a robot status", st)
	}
	p, err := s.Store.ListRobots(ctx, q)
	return p, mapStore(err, fleet.TypeRobot, "")
}

func validRobotStatus(s string) bool {
	switch fleet.RobotStatus(s) {
	case fleet.RobotAvailable, fleet.RobotRegistered, fleet.RobotPendingNewDeployment, fleet.RobotDeploying,
		fleet.RobotInSync, fleet.RobotFailed, fleet.RobotNoResponse:
		return true
	}
	return false
}

// RegisterRobot puts a robot into a fleet; a robot belongs to one fleet at most.
func (s *Service) RegisterRobot(ctx context.Context, account, fleetARN, robotARN string) error {
	if err := s.checkPair(ctx, account, fleetARN, robotARN); err != nil {
		return err
	}
	switch err := s.Store.RegisterRobot(ctx, account, fleetARN, robotARN, s.Limits.RobotsPerFleet); {
	case errors.Is(err, store.ErrConflict):
		return fleet.Errorf(fleet.Invalid, "robot %s is registered to another fleet; deregister it first", robotARN)
	case errors.Is(err, store.ErrLimit):
		return fleet.Errorf(fleet.LimitExceeded, "a fleet can have at most %d robots", s.Limits.RobotsPerFleet)
	case errors.Is(err, store.ErrNotFound):
		return fleet.Errorf(fleet.NotFound, "fleet %s or robot %s does not exist", fleetARN, robotARN)
	case err != nil:
		return fleet.Wrap(fleet.Internal, err, "store failure")
	}
	return nil
}

// DeregisterRobot takes a robot out of its fleet.
func (s *Service) DeregisterRobot(ctx context.Context, account, fleetARN, robotARN string) error {
	if err := s.checkPair(ctx, account, fleetARN, robotARN); err != nil {
		return err
	}
	switch err := s.Store.DeregisterRobot(ctx, account, fleetARN, robotARN); {
	case errors.Is(err, store.ErrConflict):
		return fleet.Errorf(fleet.Invalid, "robot %s is not registered to fleet %s", robotARN, fleetARN)
	case errors.Is(err, store.ErrNotFound):
		return fleet.Errorf(fleet.NotFound, "fleet %s or robot %s does not exist", fleetARN, robotARN)
	case err != nil:
		return fleet.Wrap(fleet.Internal, err, "store failure")
	}
	return nil
}

// checkPair resolves a fleet and a robot ARN and names the missing one.
func (s *Service) checkPair(ctx context.Context, account, fleetARN, robotARN string) error {
	if _, err := s.resolve(account, "fleet", fleetARN, fleet.TypeFleet); err != nil {
		return err
	}
	if _, err := s.resolve(account, "robot", robotARN, fleet.TypeRobot); err != nil {
		return err
	}
	if _, err := s.Store.GetFleet(ctx, account, fleetARN); err != nil {
		return mapStore(err, fleet.TypeFleet, fleetARN)
	}
	if _, err := s.Store.GetRobot(ctx, account, robotARN); err != nil {
		return mapStore(err, fleet.TypeRobot, robotARN)
	}
	return nil
}

// --- tags ---

// taggable checks that arn names an existing taggable resource of account,
// and returns its type.
func (s *Service) taggable(ctx context.Context, account, arn string) (fleet.ResourceType, error) {
	a, err := fleet.ParseARN(arn)
	if err != nil {
		return "", fleet.Errorf(fleet.Invalid, "resourceArn: %v", err)
	}
	if a.Account != account || a.Region != s.Region {
		return "", notFound(a.Type, arn)
	}
	switch a.Type {
	case fleet.TypeFleet:
		_, err = s.Store.GetFleet(ctx, account, arn)
	case fleet.TypeRobot:
		_, err = s.Store.GetRobot(ctx, account, arn)
	case fleet.TypeRobotApplication:
		_, err = s.Store.GetApplication(ctx, account, arn, fleet.LatestVersion)
	case fleet.TypeDeploymentJob:
		_, err = s.Store.GetJob(ctx, account, arn)
	default:
		err = store.ErrNotFound
	}
	return a.Type, mapStore(err, a.Type, arn)
}

// fixedOnJobs refuses changing a job's control tags after its creation:
// the planner reads the canary on every pass and robots are assigned the
// health period as they start, so a change mid-job would apply to part of
// it (a canary added late fails a job whose early robot failed; one
// removed opens the window), and the health period's check against the
// robot deployment timeout is made when the job is created.
func fixedOnJobs(typ fleet.ResourceType, keys []string) error {
	if typ != fleet.TypeDeploymentJob {
		return nil
	}
	for _, k := range keys {
		if strings.EqualFold(k, fleet.TagCanary) || strings.EqualFold(k, fleet.TagHealthSeconds) {
			return fleet.Errorf(fleet.Invalid, "tag %s: a deployment job's control tags are set when it is created (CreateDeploymentJob tags) and cannot be changed afterwards", k)
		}
	}
	return nil
}

// TagResource adds or overwrites tags on a resource.
func (s *Service) TagResource(ctx context.Context, account, arn string, tags fleet.Tags) error {
	typ, err := s.taggable(ctx, account, arn)
	if err != nil {
		return err
	}
	if err := s.checkTags(tags); err != nil {
		return err
	}
	if err := fixedOnJobs(typ, slices.Collect(maps.Keys(tags))); err != nil {
		return err
	}
	err = s.Store.TagResource(ctx, arn, tags, s.Limits.TagsPerResource)
	if errors.Is(err, store.ErrLimit) {
		return fleet.Errorf(fleet.LimitExceeded, "a resource can have at most %d tags", s.Limits.TagsPerResource)
	}
	return mapStore(err, "", arn)
}

// UntagResource removes tag keys from a resource. A resource holds at most
// TagsPerResource tags, so a call may name at most that many distinct
// keys: the model bounds neither, and each key is a delete in the store's
// one writer, which a 1 MiB list of keys would hold for seconds.
func (s *Service) UntagResource(ctx context.Context, account, arn string, keys []string) error {
	keys = slices.Compact(slices.Sorted(slices.Values(keys)))
	if len(keys) > s.Limits.TagsPerResource {
		return fleet.Errorf(fleet.Invalid, "1 validation error detected: Value at 'tagKeys' failed to satisfy constraint: Member must have length less than or equal to %d (distinct keys)", s.Limits.TagsPerResource)
	}
	typ, err := s.taggable(ctx, account, arn)
	if err != nil {
		return err
	}
	if err := fixedOnJobs(typ, keys); err != nil {
		return err
	}
	return mapStore(s.Store.UntagResource(ctx, arn, keys), "", arn)
}

// ListTags returns a resource's tags.
func (s *Service) ListTags(ctx context.Context, account, arn string) (fleet.Tags, error) {
	if _, err := s.taggable(ctx, account, arn); err != nil {
		return nil, err
	}
	t, err := s.Store.ResourceTags(ctx, arn)
	return t, mapStore(err, "", arn)
}

func nonNil(t fleet.Tags) fleet.Tags {
	if t == nil {
		return fleet.Tags{}
	}
	return t
}

// newRevisionID returns a random UUID-shaped revision id, as AWS's look.
func newRevisionID() string {
	b := make([]byte, 16)
	rand.Read(b)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}
