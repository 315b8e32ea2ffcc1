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
	// ErrBusy is a write that waited its bound for the database and was not
	// run (nothing changed); the caller may retry. It is a domain error of
	// its own (Throttled: ThrottlingException on the wire), never "database
	// is locked".
	ErrBusy error = &fleet.Error{Code: fleet.Throttled, Message: "The service is busy with other writes; retry the request."}
)

// Fleets stores deployment fleets.
type Fleets interface {
	// CreateFleet inserts f; ErrExists for a taken name, ErrLimit when the
	// account already has maxPerAccount fleets.
	CreateFleet(ctx context.Context, f fleet.Fleet, maxPerAccount int) error
	// GetFleet returns the fleet with its tags, or ErrNotFound.
	GetFleet(ctx context.Context, account, arn string) (fleet.Fleet, error)
	// ListFleets pages the account's fleets; filter "name".
	ListFleets(ctx context.Context, q fleet.ListQuery) (fleet.Page[fleet.Fleet], error)
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
	ListRobots(ctx context.Context, q fleet.ListQuery) (fleet.Page[fleet.Robot], error)
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
	ListApplications(ctx context.Context, q fleet.ListQuery, allVersions bool) (fleet.Page[fleet.Application], error)
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
	// CreateCredential inserts c; ErrExists if the key id is taken. The
	// first credential ever created on an install also grants its account
	// every bucket (AllBuckets), in the same transaction: a fresh
	// one-account install needs no grant step. Later accounts get none.
	CreateCredential(ctx context.Context, c Credential) error
	// GetCredential returns the credential (revoked ones too), or ErrNotFound.
	GetCredential(ctx context.Context, accessKeyID string) (Credential, error)
	// ListCredentials returns every credential in creation order.
	ListCredentials(ctx context.Context) ([]Credential, error)
	// RevokeCredential marks the key revoked at nowMs and deletes its
	// console sessions; ErrNotFound if absent.
	RevokeCredential(ctx context.Context, accessKeyID string, nowMs int64) error
}

// Session is a console sign-in. ID is the SHA-256 (hex) of the cookie's
// random token, so the database never holds a usable cookie.
type Session struct {
	ID          string
	AccessKeyID string
	Account     string
	CreatedMs   int64
	ExpiresMs   int64
}

// Sessions stores console sessions, shared by every replica: a session
// deleted on one is gone on all.
type Sessions interface {
	// CreateSession inserts s; ErrExists if the id is taken.
	CreateSession(ctx context.Context, s Session) error
	// GetSession returns the session, or ErrNotFound.
	GetSession(ctx context.Context, id string) (Session, error)
	// DeleteSession removes the session (sign-out); an absent one is fine.
	DeleteSession(ctx context.Context, id string) error
	// DeleteSessionsExpiredBefore removes sessions whose expiry is before ms.
	DeleteSessionsExpiredBefore(ctx context.Context, ms int64) (int, error)
}

// AllBuckets is the bucket of a grant of every bucket.
const AllBuckets = "*"

// BucketGrant lets an account name a bucket (AllBuckets: every bucket) in
// its applications and deployment jobs.
type BucketGrant struct {
	Account   string
	Bucket    string
	CreatedMs int64
}

// Buckets stores which account may use which bucket.
type Buckets interface {
	// GrantBucket stores g; granting a bucket twice changes nothing.
	GrantBucket(ctx context.Context, g BucketGrant) error
	// RevokeBucket removes the grant; ErrNotFound if it does not exist.
	RevokeBucket(ctx context.Context, account, bucket string) error
	// ListBucketGrants returns the grants of account ("": every account)
	// ordered by account, then bucket.
	ListBucketGrants(ctx context.Context, account string) ([]BucketGrant, error)
	// BucketGranted reports whether account may use bucket: a grant of
	// that bucket or of AllBuckets.
	BucketGranted(ctx context.Context, account, bucket string) (bool, error)
}

// NewJob is a job to insert with its idempotency key.
type NewJob struct {
	Job fleet.Job
	// Operation is "CreateDeploymentJob" or "SyncDeploymentJob"; tokens are
	// scoped per account and operation.
	Operation   string
	ClientToken string
	// ParamsHash identifies the request's parameters after defaults.
	ParamsHash string
}

// JobCounts are a job's rows by status.
type JobCounts map[fleet.RobotStatus]int

// Jobs stores deployment jobs and their per-robot rows. Every status change
// is a compare-and-swap inside one transaction.
type Jobs interface {
	// CreateJob inserts a Pending job, makes it the fleet's last deployment
	// and stores its tags. ErrExists: the client token is taken (load it with
	// JobByToken); ErrConflict: the fleet has an active job; ErrLimit: the
	// account has maxActive active jobs; ErrNotFound: no such fleet.
	CreateJob(ctx context.Context, j NewJob, maxActive int) error
	// JobByToken returns the job a client token created and its params hash.
	JobByToken(ctx context.Context, account, operation, token string) (fleet.Job, string, error)
	// GetJob returns a job with its tags.
	GetJob(ctx context.Context, account, arn string) (fleet.Job, error)
	// ListJobs pages the account's jobs; filters "status" and "fleetName".
	ListJobs(ctx context.Context, q fleet.ListQuery) (fleet.Page[fleet.Job], error)
	// JobRobots returns a job's rows in start order.
	JobRobots(ctx context.Context, jobARN string) ([]fleet.RobotDeployment, error)
	// JobRobotsSince returns, in start order, the job's rows that may have
	// changed since the read that returned since as its next (0: every
	// row), and the next to pass: a Describe of a job of 100,000 robots
	// reads only what changed since the one before. It may return rows that
	// did not change, never miss one that did. A job's set of rows is fixed
	// once it is prepared; only the job's deletion removes them.
	JobRobotsSince(ctx context.Context, jobARN string, since int64) (rows []fleet.RobotDeployment, next int64, err error)
	// SourceJob returns the fleet's most recent job that was not Canceled.
	SourceJob(ctx context.Context, account, fleetARN string) (fleet.Job, error)
	// SyncTargets returns the fleet's robots that do not run fingerprint
	// successfully (not InSync, or InSync with something else).
	SyncTargets(ctx context.Context, account, fleetARN, fingerprint string) ([]fleet.Robot, error)
	// ActiveJobs returns the ARNs of every Pending, Preparing or InProgress job.
	ActiveJobs(ctx context.Context) ([]string, error)
	// AcquireLease gives owner the right to drive the job until untilMs if
	// nobody else holds an unexpired lease; it reports whether owner holds it.
	AcquireLease(ctx context.Context, jobARN, owner string, nowMs, untilMs int64) (bool, error)
	// StartPreparing moves a Pending job to Preparing.
	StartPreparing(ctx context.Context, jobARN string) error
	// Prepare writes the rows of a Preparing job, sets its targets and robot
	// statuses, and moves it to finish.Status when that is set (the planner
	// decided the job is over already), else to InProgress. Rows given as
	// Failed are final at once. A row whose robot has left the job's fleet
	// since the targets were read (deleted, deregistered, moved) is left
	// out, and the rest are numbered 0, 1, … in the order of their Seq;
	// targets is how many were written. It decides nothing else.
	Prepare(ctx context.Context, jobARN string, rows []fleet.RobotDeployment, finish JobOutcome, nowMs int64) error
	// FailJob ends a Preparing job as Failed with a code (a job-level
	// failure found while preparing it); ErrConflict when the job is not
	// Preparing any more (another replica prepared it meanwhile: its rows
	// are written and handed out, and only the engine's passes end it).
	FailJob(ctx context.Context, jobARN, code, reason string, nowMs int64) error
	// Counts returns the job's rows by status: of the statuses given only
	// (each an index range, so that a job's 100,000 InSync rows need not be
	// counted), or of every status.
	Counts(ctx context.Context, jobARN string, statuses ...fleet.RobotStatus) (JobCounts, error)
	// CountsBefore returns the job's rows whose Seq is below seq by status
	// (the canary: the first rows in start order).
	CountsBefore(ctx context.Context, jobARN string, seq int) (JobCounts, error)
	// Rows returns up to limit rows of a status in start order; status ""
	// returns rows of every status.
	Rows(ctx context.Context, jobARN string, status fleet.RobotStatus, limit int) ([]fleet.RobotDeployment, error)
	// Apply carries out a plan step atomically: start robots, time robots
	// out, and optionally finish the job; rows not in the expected status are
	// left alone, and no robot starts while the job is paused.
	Apply(ctx context.Context, jobARN string, step Step, nowMs int64) error
	// CancelJob cancels an active job: deploying rows fail with abortCode and
	// never-started robots get their prior status back. ErrConflict if the
	// job is already finished.
	CancelJob(ctx context.Context, account, jobARN, abortCode, abortReason string, nowMs int64) error
	// DeleteJobsFinishedBefore removes finished jobs (retention).
	DeleteJobsFinishedBefore(ctx context.Context, ms int64) (int, error)
	// SetPaused pauses (paused=true, from nowMs) or resumes an active job
	// and returns it; pausing a paused job or resuming a running one
	// changes nothing. Resuming adds the pause's length to PausedTotalMs.
	// ErrNotFound: no such job in the account; ErrConflict: it finished.
	// While a job is paused Apply starts no robot, whatever the step says.
	SetPaused(ctx context.Context, account, jobARN string, paused bool, nowMs int64) (fleet.Job, error)
}

// Step is one plan step for Apply.
type Step struct {
	// Owner, when set, fences the step: it applies only while Owner holds
	// the job's lease (ErrConflict otherwise), so an engine whose lease
	// lapsed during a step cannot act beside the replica that took over.
	Owner      string
	Start      []string
	NoResponse []RobotOutcome
	// Finish ends the job when Status is set.
	Finish JobOutcome
}

// RobotOutcome is a robot's failure with its code and reason.
type RobotOutcome struct {
	Robot, Code, Reason string
}

// JobOutcome is a job's terminal status with its code and reason.
type JobOutcome struct {
	Status       fleet.JobStatus
	Code, Reason string
}

// Result is how a robot's deployment ended, as RecordResult stores it.
type Result struct {
	Success bool
	// Status, Code and Reason describe a failure (Status Failed when empty).
	Status       fleet.RobotStatus
	Code, Reason string
	// Step is the step the deployment ended in; "" keeps the stored one.
	Step string
	// Output is the last lines of the failing script's or application's
	// output, "" for none.
	Output string
	NowMs  int64
}

// Failure is a job's row that did not succeed with the last lines of
// output its agent sent with the failure ("" for none).
type Failure struct {
	fleet.RobotDeployment
	Output string
}

// RobotLog is a robot's application log tail taken on an operator's request.
type RobotLog struct {
	Robot string
	// RequestedMs is when it was asked for, MaxBytes how much.
	RequestedMs int64
	MaxBytes    int
	// TakenMs is when the agent read it (0: not answered yet); Content is
	// the tail, Error what kept the agent from reading it.
	TakenMs int64
	Content string
	Error   string
}

// Evidence is what explains a robot's deployment and application to an
// operator who cannot reach the robot: failure output and log tails.
type Evidence interface {
	// Failures returns up to limit of a job's rows that ended Failed or
	// NoResponse with Seq at least from, in start order, each with its
	// failure output: a page, so that a job of 100,000 failed robots (16
	// KiB of output each) is never read whole.
	Failures(ctx context.Context, jobARN string, from, limit int) ([]Failure, error)
	// FailureOutputs returns the failure output of the named robots' rows
	// of a job by robot ARN (rows without output are absent).
	FailureOutputs(ctx context.Context, jobARN string, robots []string) (map[string]string, error)
	// RequestRobotLog records an operator's request for the last maxBytes
	// of the robot's application log. A request made less than minGapMs
	// after the previous one is ErrConflict (rate limit).
	RequestRobotLog(ctx context.Context, robotARN string, maxBytes int, nowMs, minGapMs int64) error
	// PendingRobotLog returns the robot's unanswered request; ErrNotFound
	// when there is none.
	PendingRobotLog(ctx context.Context, robotARN string) (RobotLog, error)
	// PutRobotLog answers the request made at requestedMs; ErrNotFound when
	// that is not the robot's pending request.
	PutRobotLog(ctx context.Context, l RobotLog) error
	// GetRobotLog returns the robot's latest request and its answer;
	// ErrNotFound when none was ever made.
	GetRobotLog(ctx context.Context, robotARN string) (RobotLog, error)
}

// Assignment is the deployment a robot's agent must run now.
type Assignment struct {
	Job fleet.Job
	Row fleet.RobotDeployment
	// Attempts and RetryAtMs are the row's, as RowAttempts returns them.
	Attempts  int
	RetryAtMs int64
}

// RobotPoll is what an agent's poll needs of its robot, read at once.
type RobotPoll struct {
	// Latest is the robot's latest row (Latest.Job "" when it has none).
	Latest fleet.RobotDeployment
	// Assignment is Latest when it is the robot's to run now, as
	// CurrentAssignment returns it; nil otherwise.
	Assignment *Assignment
	// Log is the robot's unanswered log request (PendingRobotLog); nil
	// when there is none.
	Log *RobotLog
}

// Agents is what the agent endpoint needs.
type Agents interface {
	// RobotByAgent returns account's robot whose agent id is agentID. With
	// account "" (agent ids of protocol v1, not bound to an account, kept
	// only for robots enrolled before they were refused) it returns the
	// oldest robot of any account with that id. Its Tags are not read (nil):
	// the agent's requests need them only when work is handed out.
	RobotByAgent(ctx context.Context, account, agentID string) (fleet.Robot, error)
	// CurrentAssignment returns the robot's latest row when it is Deploying
	// or NoResponse (a robot that comes back completes what it missed) and
	// its agent has not reported giving up at its own deadline (a
	// NoResponse result); ErrNotFound otherwise.
	CurrentAssignment(ctx context.Context, robotARN string) (Assignment, error)
	// RobotPoll returns what a poll needs of the robot: its latest row, that
	// row as an Assignment when CurrentAssignment would return it, and its
	// unanswered log request, from one read where it can. A robot with no
	// row (or none at all) has a zero Latest and no Assignment.
	RobotPoll(ctx context.Context, robotARN string) (RobotPoll, error)
	// RecordProgress stores a step of a deploying row. It returns abort=true
	// when the row is no longer running (canceled, superseded, finished).
	// The step may be written later, batched with others (sqlstore: within
	// ProgressFlush); it is never written over a row that finished
	// meanwhile, and RecordResult, CancelJob and Apply write the pending
	// steps of the rows they finish first.
	RecordProgress(ctx context.Context, jobARN, robotARN, step string, percent *float64, eta *int64) (abort bool, err error)
	// FlushProgress writes every progress recorded so far.
	FlushProgress(ctx context.Context) error
	// RecordResult finishes a Deploying or NoResponse row: success makes the
	// robot InSync with the job's fingerprint, failure gives it res.Status
	// (Failed, or NoResponse: staying NoResponse is no change), code, reason
	// and step, and keeps res.Output as the row's failure output.
	// Every change of a job's row moves the robot's own status only while
	// the robot is still in the job's fleet: one deregistered, or whose
	// fleet was deleted, mid-deployment stays Available (SPEC: in no fleet).
	RecordResult(ctx context.Context, jobARN, robotARN string, res Result) (abort bool, err error)
	// RecordAgentsSeen stores when robots' agents were last heard (epoch ms
	// by robot ARN), so that whichever replica drives a job knows it; a
	// robot's time never moves back. It takes no lock on robots or jobs.
	RecordAgentsSeen(ctx context.Context, seen map[string]int64) error
	// Deploying returns the job's Deploying rows that cut selects, each
	// with when it started and when its robot's agent was last recorded as
	// heard (0: never), in start order: the rows the engine's liveness
	// checks could time out now, read from an index.
	Deploying(ctx context.Context, jobARN string, cut DeployingCut) ([]Deploying, error)
}

// Deploying is one Deploying row as the engine's liveness checks see it.
// DeployingCut selects the Deploying rows started at or before
// StartedBefore, and those whose start and agent's last recorded hearing
// are both at or before SilentBefore (epoch ms; math.MinInt64 selects
// none by that rule): a row still heard from is not read at every engine
// pass just because it started long ago.
type DeployingCut struct {
	StartedBefore, SilentBefore int64
}

type Deploying struct {
	Robot     string
	StartedMs int64
	// SeenMs is when the robot's agent was last recorded as heard, 0 never.
	SeenMs int64
}

// ReplayWindows are the replay protection of the agent protocol's signed
// requests, shared by every replica: one small window per agent (the rule
// is agentapi.ReplayWindow's), so a flood from one key costs one row.
type ReplayWindows interface {
	// UpdateReplayWindow runs update on the agent's stored window (nil
	// when it has none) in a transaction that excludes every other update
	// of that agent's window, and stores what update returns, with the
	// newest date it holds, when update reports ok; it returns ok.
	UpdateReplayWindow(ctx context.Context, agentID string, update func(old []byte) (window []byte, newestMs int64, ok bool)) (bool, error)
	// DeleteReplayWindowsBefore forgets the windows whose newest date is
	// before ms (requests that old fail the signature's clock check anyway).
	DeleteReplayWindowsBefore(ctx context.Context, ms int64) (int, error)
}

// Settings are values every process sharing the database must agree on.
type Settings interface {
	// EnsureSetting stores value under key unless the key is set already,
	// and returns the stored value (the first writer's, when racing).
	EnsureSetting(ctx context.Context, key, value string) (string, error)
}

// Store is everything fleetsync persists.
type Store interface {
	Fleets
	Robots
	Applications
	Tags
	Credentials
	Sessions
	Buckets
	Jobs
	Agents
	Reports
	Evidence
	ReplayWindows
	Settings
	Retries
	Quarantine
	DryRuns
	// Ping checks that the database answers.
	Ping(ctx context.Context) error
	// Close releases the database.
	Close() error
}
