package deploy

import (
	"context"
	"errors"
	"time"

	"github.com/fleetsync/fleetsync/internal/fleet"
	"github.com/fleetsync/fleetsync/internal/store"
)

// EvidenceStore is what the operator's view of failures and robot logs
// reads and writes; the methods are those of store.Evidence, store.Jobs and
// store.Robots, documented there.
type EvidenceStore interface {
	GetJob(ctx context.Context, account, arn string) (fleet.Job, error)
	GetRobot(ctx context.Context, account, arn string) (fleet.Robot, error)
	Failures(ctx context.Context, jobARN string, from, limit int) ([]store.Failure, error)
	FailureOutputs(ctx context.Context, jobARN string, robots []string) (map[string]string, error)
	RequestRobotLog(ctx context.Context, robotARN string, maxBytes int, nowMs, minGapMs int64) error
	GetRobotLog(ctx context.Context, robotARN string) (store.RobotLog, error)
}

// RobotLog is a robot's application log tail taken on an operator's
// request (store.RobotLog, named here for the wire layer and the console).
type RobotLog = store.RobotLog

// Log request bounds (operators ask in KiB).
const (
	// MaxRobotLogKB is the largest log tail an operator may ask for.
	MaxRobotLogKB = MaxRobotLog >> 10
	// DefaultRobotLogKB is what a request that names no size gets.
	DefaultRobotLogKB = 16
	// RobotLogGap is the least time between two log requests for a robot.
	RobotLogGap = 5 * time.Second
)

// Evidence answers an operator who cannot reach a robot: why each robot of
// a job failed, with its output, and the robot's application log on
// demand.
type Evidence struct {
	Store EvidenceStore
	// Wake ends the robot's long poll so it sees a log request at once.
	Wake Waker
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

func (e *Evidence) now() time.Time {
	if e.Now != nil {
		return e.Now()
	}
	return time.Now()
}

// RobotFailure is one robot's row of a job with the output its agent sent.
type RobotFailure = store.Failure

// MaxFailuresPage is the most failed robots one JobFailures call returns.
const MaxFailuresPage = 100

// JobFailures returns up to limit (1 to MaxFailuresPage) robot rows of the
// caller's job that did not succeed, in start order from position from
// on, with their failure output ("" when the robot sent none), and the
// position the next page starts at (-1 when no row is left).
func (e *Evidence) JobFailures(ctx context.Context, account, jobARN string, from, limit int) (fleet.Job, []RobotFailure, int, error) {
	if limit < 1 || limit > MaxFailuresPage || from < 0 {
		return fleet.Job{}, nil, -1, fleet.Errorf(fleet.Invalid, "a page of failures is 1 to %d robots from a position of 0 or more", MaxFailuresPage)
	}
	if err := ownJob(account, jobARN); err != nil {
		return fleet.Job{}, nil, -1, err
	}
	j, err := e.Store.GetJob(ctx, account, jobARN)
	if errors.Is(err, store.ErrNotFound) {
		return j, nil, -1, fleet.Errorf(fleet.NotFound, "deployment job %s not found", jobARN)
	} else if err != nil {
		return j, nil, -1, err
	}
	fails, err := e.Store.Failures(ctx, jobARN, from, limit+1)
	if err != nil {
		return j, nil, -1, err
	}
	if len(fails) <= limit {
		return j, fails, -1, nil
	}
	return j, fails[:limit], fails[limit].Seq, nil
}

// FailureOutputs returns the failure output of the named robots' rows of
// the caller's job (at most MaxFailuresPage robots; absent when a robot
// sent none): what a view showing some of a job's rows needs of them.
func (e *Evidence) FailureOutputs(ctx context.Context, account, jobARN string, robots []string) (map[string]string, error) {
	if len(robots) > MaxFailuresPage {
		return nil, fleet.Errorf(fleet.Invalid, "at most %d robots' failure output at once", MaxFailuresPage)
	}
	if err := ownJob(account, jobARN); err != nil {
		return nil, err
	}
	return e.Store.FailureOutputs(ctx, jobARN, robots)
}

// ownJob checks that jobARN is a deployment job's ARN in account (which a
// job ARN names): another account's job is NotFound, as if it did not exist.
func ownJob(account, jobARN string) error {
	a, err := parseAs("job", jobARN, fleet.TypeDeploymentJob)
	if err != nil {
		return err
	}
	if a.Account != account {
		return fleet.Errorf(fleet.NotFound, "deployment job %s not found", jobARN)
	}
	return nil
}

// RequestLog asks the caller's robot for the last kb KiB of its
// application log (DefaultRobotLogKB when kb is 0); its agent answers on
// its next poll. Requests closer than RobotLogGap are Throttled.
func (e *Evidence) RequestLog(ctx context.Context, account, robotARN string, kb int) (RobotLog, error) {
	if kb == 0 {
		kb = DefaultRobotLogKB
	}
	if kb < 1 || kb > MaxRobotLogKB {
		return store.RobotLog{}, fleet.Errorf(fleet.Invalid, "kb: must be between 1 and %d", MaxRobotLogKB)
	}
	if _, err := e.robot(ctx, account, robotARN); err != nil {
		return store.RobotLog{}, err
	}
	now := e.now().UnixMilli()
	err := e.Store.RequestRobotLog(ctx, robotARN, kb<<10, now, RobotLogGap.Milliseconds())
	if errors.Is(err, store.ErrConflict) {
		return store.RobotLog{}, fleet.Errorf(fleet.Throttled, "a log of robot %s was requested less than %v ago", robotARN, RobotLogGap)
	} else if err != nil {
		return store.RobotLog{}, err
	}
	orNop(e.Wake).WakeRobot(robotARN)
	return store.RobotLog{Robot: robotARN, RequestedMs: now, MaxBytes: kb << 10}, nil
}

// RobotLog returns the caller's robot's latest log request and its answer
// (TakenMs 0 while the agent has not answered); NotFound when none was made.
func (e *Evidence) RobotLog(ctx context.Context, account, robotARN string) (store.RobotLog, error) {
	if _, err := e.robot(ctx, account, robotARN); err != nil {
		return store.RobotLog{}, err
	}
	l, err := e.Store.GetRobotLog(ctx, robotARN)
	if errors.Is(err, store.ErrNotFound) {
		return l, fleet.Errorf(fleet.NotFound, "no log of robot %s was requested", robotARN)
	}
	return l, err
}

func (e *Evidence) robot(ctx context.Context, account, arn string) (fleet.Robot, error) {
	if _, err := parseAs("robot", arn, fleet.TypeRobot); err != nil {
		return fleet.Robot{}, err
	}
	r, err := e.Store.GetRobot(ctx, account, arn)
	if errors.Is(err, store.ErrNotFound) {
		return r, fleet.Errorf(fleet.NotFound, "robot %s not found", arn)
	}
	return r, err
}

// parseAs parses an ARN the caller gave in field, which must name a
// resource of type typ: Invalid otherwise (ParseARN's own error when it is
// no ARN a store could hold).
func parseAs(field, arn string, typ fleet.ResourceType) (fleet.ARN, error) {
	a, err := fleet.ParseARN(arn)
	if err != nil {
		return a, err
	}
	if a.Type != typ {
		return a, fleet.Errorf(fleet.Invalid, "%s: %q is not a %s ARN", field, arn, typ)
	}
	return a, nil
}
