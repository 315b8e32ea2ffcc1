package deploy

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/fleetsync/fleetsync/internal/fleet"
	"github.com/fleetsync/fleetsync/internal/store"
	"github.com/fleetsync/fleetsync/internal/tenancy"
)

// RobotStore is what the robot side of a deployment reads and writes; the
// methods are those of store.Robots, store.Applications and store.Agents,
// documented there.
type RobotStore interface {
	RobotByAgent(ctx context.Context, account, agentID string) (fleet.Robot, error)
	ResourceTags(ctx context.Context, arn string) (fleet.Tags, error)
	CurrentAssignment(ctx context.Context, robotARN string) (store.Assignment, error)
	RobotPoll(ctx context.Context, robotARN string) (store.RobotPoll, error)
	GetApplication(ctx context.Context, account, arn, version string) (fleet.Application, error)
	RecordProgress(ctx context.Context, jobARN, robotARN, step string, percent *float64, eta *int64) (abort bool, err error)
	RecordResult(ctx context.Context, jobARN, robotARN string, res store.Result) (abort bool, err error)
	PutRobotLog(ctx context.Context, l store.RobotLog) error
	GetFleet(ctx context.Context, account, arn string) (fleet.Fleet, error)
	GetJob(ctx context.Context, account, arn string) (fleet.Job, error)
}

// Robots is the robot's half of a deployment: what a robot must run now,
// and what it reports back. Every robot-status rule of the agent protocol
// lives here (the agent endpoint only authenticates, decodes and encodes):
// choosing the bundle source by architecture, merging robot and job tags,
// failing a robot whose object changed before it was sent to download it,
// recording results and telling robots to abort.
type Robots struct {
	Store RobotStore
	// Bundles is the bundle store, reached only as the robot's account sees
	// it (Bundles.For): a bucket it may not use holds nothing.
	Bundles *tenancy.Bundles
	// Presence learns when each robot's agent was heard.
	Presence *Presence
	// Wake is told when a robot finished (the engine plans the next step).
	Wake Waker
	Log  *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// OnHealthGate, when set, is told the health gate's outcome of every
	// final report of a gated deployment: proto's "passed" or "failed", or
	// "ungated" for a success from an agent that did not apply the gate.
	OnHealthGate func(outcome string)
	// Retry and Policy bound retries within a job and quarantine robots
	// that fail the same deployment too often (retry.go); a nil Retry
	// turns both off.
	Retry  RetryStore
	Policy RetryPolicy
	// OnRetry and OnQuarantine, when set, are told of each retry within a
	// job and each robot quarantined.
	OnRetry, OnQuarantine func()
	// Cache stores the overlays agents say they hold (the sync plan's byte
	// figures); nil ignores them.
	Cache OverlayStore

	overlaysSeen sync.Map // robot ARN → the overlay set last stored, joined
	known        identities
	handouts     memo[handoutKey, handout]
	gates        memo[string, int64]
}

// Current is what a robot says it runs when it polls.
type Current struct {
	// DeploymentJob is the job the robot runs or last ran ("" for none).
	DeploymentJob string
	// Finished: the robot completed DeploymentJob.
	Finished bool
	// Restarts and LastExitCode describe the application's crash loop, if any.
	Restarts     int
	LastExitCode *int
}

// Work is the answer to a poll: at most one of Assignment and Abort is the
// robot's next move; neither means "nothing new, keep running".
type Work struct {
	// Assignment is a deployment the robot must run now.
	Assignment *Assignment
	// Abort is a job the robot must stop (canceled, superseded or finished
	// without it), restoring what it ran before.
	Abort string
	// LogRequest, independent of the two, is an operator's unanswered
	// request for the robot's application log tail.
	LogRequest *LogRequest
	// RetryAtMs, when not zero, is when a deployment waiting out its retry
	// backoff may be handed out: the robot is not idle, ask again then.
	RetryAtMs int64
}

// LogRequest asks a robot for the last MaxBytes of its application log;
// RequestedMs identifies the request in the answer.
type LogRequest struct {
	RequestedMs int64
	MaxBytes    int
}

// Assignment is everything a robot needs to run a job.
type Assignment struct {
	Job           fleet.Job
	App           fleet.AppConfig
	SoftwareSuite string
	// Bundle is the source of the robot's architecture, checked against its
	// recorded ETag, with the digest recorded when the version was created.
	Bundle CheckedObject
	// DownloadCondition is the job's condition file, checked and digested.
	DownloadCondition *CheckedObject
	// Tags are the robot's tags overlaid with the job's.
	Tags fleet.Tags
	// HealthSeconds is the effective health gate (HealthSeconds), 0 for none.
	HealthSeconds int64
}

// Report is a robot's account of a deployment step or its end.
type Report struct {
	DeploymentJob string
	Step          string
	PercentDone   *float64
	ETASeconds    *int64
	// Done: the robot finished the deployment, as Succeeded or not.
	Done, Succeeded            bool
	FailureCode, FailureReason string
	// FailureOutput is the last lines of the failing script's or
	// application's output (at most MaxFailureOutput bytes are kept).
	FailureOutput string
	// HealthGate is the agent's account of the health gate on a final
	// report: "passed", "failed" or "" (no gate, or an agent without one).
	HealthGate string
}

// logRequestTTL is how long an unanswered log request is repeated to
// the robot's polls.
const logRequestTTL = 2 * time.Minute

// Bounds of what a robot's report may carry.
const (
	// MaxFailureReason is the AWS model's limit of failureReason.
	MaxFailureReason = 1024
	// MaxFailureOutput bounds the output kept with a failed result.
	MaxFailureOutput = 16 << 10
	// MaxRobotLog bounds an application log tail an operator may ask for.
	MaxRobotLog = 64 << 10
)

func (r *Robots) now() time.Time {
	if r.Now != nil {
		return r.Now()
	}
	return time.Now()
}

// ByAgent returns account's robot whose greengrassGroupId is agentID
// (account: the one the id is bound to; "" for a legacy unbound id, found
// in any account): NotFound when there is none, Unavailable when the store
// cannot say.
//
// The robot comes from memory when it was looked up less than IdentityTTL
// ago (and not deleted since: ForgetRobot), and carries only what never
// changes for a robot: no fleet, status, last job or tags.
func (r *Robots) ByAgent(ctx context.Context, account, agentID string) (fleet.Robot, error) {
	now := r.now().UnixMilli()
	if robot, ok := r.known.get(account, agentID, now); ok {
		return robot, nil
	}
	epoch := r.known.epoch()
	robot, err := r.Store.RobotByAgent(ctx, account, agentID)
	if err == nil {
		robot = r.known.put(account, agentID, robot, now, epoch)
	}
	switch {
	case errors.Is(err, store.ErrNotFound):
		return fleet.Robot{}, fleet.Errorf(fleet.NotFound, "no robot has this agent id as its greengrassGroupId")
	case err != nil:
		return fleet.Robot{}, fleet.Wrap(fleet.Unavailable, err, "robot lookup failed")
	}
	return robot, nil
}

// ForgetRobot drops what ByAgent remembers of a deleted robot, so that its
// agent is refused from the next request on (deploy.Forgetter).
func (r *Robots) ForgetRobot(robotARN string) { r.known.forget(robotARN) }

// ForgetAll drops every identity ByAgent remembers (deletions may have
// been missed: the replicas' bus was down).
func (r *Robots) ForgetAll() { r.known.forgetAll() }

// Heard records that the robot's agent was heard now (agent liveness).
func (r *Robots) Heard(robotARN string) {
	if r.Presence != nil {
		r.Presence.Seen(robotARN, r.now().UnixMilli())
	}
}

// Waiting records that a request of the robot's agent waits for its turn
// at this server from now on: the robot is heard until EndWait, which must
// follow once (Presence.Waiting).
func (r *Robots) Waiting(robotARN string) {
	if r.Presence != nil {
		r.Presence.Waiting(robotARN, r.now().UnixMilli())
	}
}

// EndWait ends a wait Waiting began.
func (r *Robots) EndWait(robotARN string) {
	if r.Presence != nil {
		r.Presence.EndWait(robotARN, r.now().UnixMilli())
	}
}

// Poll takes in what a polling robot says it runs, once per poll request,
// and returns what it must do now. A long poll asks again with Work.
func (r *Robots) Poll(ctx context.Context, robot fleet.Robot, cur *Current) (Work, error) {
	if cur != nil && cur.Restarts > 0 && cur.LastExitCode != nil {
		// The agent restarts a dying application itself; operators see the
		// crash loop here (and in the agent's status).
		r.Log.Warn("robot application keeps exiting", "robot", robot.ARN, "job", cur.DeploymentJob,
			"restarts", cur.Restarts, "lastExitCode", *cur.LastExitCode)
	}
	p, err := r.Store.RobotPoll(ctx, robot.ARN)
	if err != nil {
		return Work{}, err
	}
	if cur != nil && cur.Finished && cur.DeploymentJob != "" && !finishedAlready(p.Latest, cur.DeploymentJob) {
		// The robot finished a deployment the server did not hear about
		// (it was offline, or timed out as NoResponse, and came back).
		// Every later poll says so again: the read above answers those
		// with no write.
		if _, err := r.Store.RecordResult(ctx, cur.DeploymentJob, robot.ARN, store.Result{Success: true, NowMs: r.now().UnixMilli()}); err == nil {
			orNop(r.Wake).WakeEngine()
			// Only the latest row's own result can change what the read
			// says (the robot's status follows its latest job alone).
			if p.Latest.Job == cur.DeploymentJob {
				if p, err = r.Store.RobotPoll(ctx, robot.ARN); err != nil {
					return Work{}, err
				}
			}
		}
	}
	return r.workFrom(ctx, robot, cur, p)
}

// finishedAlready reports whether the robot's latest row is job's and a
// success could no longer change it, so that recording one is a no-op.
func finishedAlready(latest fleet.RobotDeployment, job string) bool {
	return latest.Job == job && !fleet.CanRobot(latest.Status, fleet.RobotInSync)
}

// Work returns what the robot must do now, given what it runs, and an
// operator's pending log request.
func (r *Robots) Work(ctx context.Context, robot fleet.Robot, cur *Current) (Work, error) {
	p, err := r.Store.RobotPoll(ctx, robot.ARN)
	if err != nil {
		return Work{}, err
	}
	return r.workFrom(ctx, robot, cur, p)
}

// workFrom is Work given what the store holds of the robot (p).
func (r *Robots) workFrom(ctx context.Context, robot fleet.Robot, cur *Current, p store.RobotPoll) (Work, error) {
	w, err := r.work(ctx, robot, cur, p.Assignment)
	if err != nil {
		return w, err
	}
	// An operator's log request rides on the poll: answering it is the
	// agent's business between deployments, never part of one.
	// A request older than logRequestTTL is stale: an agent that does not
	// answer (an older version) goes back to plain long polls.
	if l := p.Log; l != nil && r.now().UnixMilli()-l.RequestedMs < logRequestTTL.Milliseconds() {
		w.LogRequest = &LogRequest{RequestedMs: l.RequestedMs, MaxBytes: l.MaxBytes}
	}
	return w, nil
}

// work returns what the robot must do now, given what it runs and its
// current assignment (nil for none).
func (r *Robots) work(ctx context.Context, robot fleet.Robot, cur *Current, asp *store.Assignment) (Work, error) {
	running := cur != nil && cur.DeploymentJob != "" && !cur.Finished
	var w Work
	if asp == nil {
		if running {
			w.Abort = cur.DeploymentJob // canceled or superseded
		}
		return w, nil
	}
	as := *asp
	if cur != nil && cur.DeploymentJob == as.Job.ARN {
		return w, nil // the robot is on it already
	}
	if running {
		w.Abort = cur.DeploymentJob
	}
	if r.Retry != nil {
		switch wait, exhausted, retryAt := r.mayHandOut(as); {
		case wait:
			w.RetryAtMs = retryAt
			return w, nil // backing off after a transient failure
		case exhausted:
			return w, r.exhaust(ctx, robot, as.Job, as.Attempts)
		}
	}
	asg, err := r.assignment(ctx, robot, as.Job)
	if se, ok := errors.AsType[*SourceError](err); ok {
		// The object changed or vanished since the version was created:
		// this robot's deployment fails now instead of sending it to
		// download something that is not the version's.
		if _, err := r.Store.RecordResult(ctx, as.Job.ARN, robot.ARN, se.result(r.now().UnixMilli())); err != nil {
			return w, err
		}
		r.Log.Info("robot deployment failed at assignment", "robot", robot.ARN, "job", as.Job.ARN, "failure_code", se.Code)
		orNop(r.Wake).WakeEngine()
		return w, nil
	}
	if err != nil {
		return w, err
	}
	if r.Retry != nil {
		if w.RetryAtMs, err = r.countHandout(ctx, as); err != nil || w.RetryAtMs > 0 {
			return w, err
		}
	}
	w.Assignment = asg
	return w, nil
}

// SourceFor returns the version's source for an architecture.
func SourceFor(v fleet.Application, arch fleet.Architecture) (fleet.Source, bool) {
	for _, s := range v.Sources {
		if s.Architecture == arch {
			return s, true
		}
	}
	return fleet.Source{}, false
}

// RobotTags are the tags a robot's application sees: the robot's, with the
// job's overlaid.
func RobotTags(robot, job fleet.Tags) fleet.Tags {
	out := make(fleet.Tags, len(robot)+len(job))
	for k, v := range robot {
		out[k] = v
	}
	for k, v := range job {
		out[k] = v
	}
	return out
}

// handout is what every robot of one architecture in a job is handed
// alike: read and checked once per handoutTTL, not once per robot.
type handout struct {
	app               fleet.AppConfig
	softwareSuite     string
	bundle            CheckedObject
	downloadCondition *CheckedObject
	healthSeconds     int64
}

type handoutKey struct {
	job  string
	arch fleet.Architecture
}

// handoutTTL is how long a job's checked bundle is handed out without
// checking it again. An object overwritten meanwhile is still refused: the
// agent downloads with If-Match on its ETag and verifies its SHA-256.
const handoutTTL = time.Second

// assignment builds what the robot needs to run job j; a *SourceError when
// an object it needs is gone or changed.
func (r *Robots) assignment(ctx context.Context, robot fleet.Robot, j fleet.Job) (*Assignment, error) {
	now := r.now().UnixMilli()
	k := handoutKey{j.ARN, robot.Architecture}
	h, ok := r.handouts.get(k, now)
	if !ok {
		var err error
		if h, err = r.checkHandout(ctx, robot.Architecture, j); err != nil {
			return nil, err
		}
		r.handouts.put(k, h, now, now+handoutTTL.Milliseconds(), handoutTTL.Milliseconds())
	}
	// The robot's tags are read now: ByAgent's robot carries none.
	tags, err := r.Store.ResourceTags(ctx, robot.ARN)
	if err != nil {
		return nil, err
	}
	return &Assignment{Job: j, App: h.app, SoftwareSuite: h.softwareSuite, Bundle: h.bundle, DownloadCondition: h.downloadCondition,
		Tags: RobotTags(tags, j.Tags), HealthSeconds: h.healthSeconds}, nil
}

// checkHandout reads and checks what robots of arch are handed for job j.
func (r *Robots) checkHandout(ctx context.Context, arch fleet.Architecture, j fleet.Job) (handout, error) {
	if len(j.Spec.Apps) == 0 {
		return handout{}, errors.New("job has no application")
	}
	app := j.Spec.Apps[0]
	v, err := r.Store.GetApplication(ctx, j.Account, app.Application, app.ApplicationVersion)
	if err != nil {
		return handout{}, err
	}
	src, ok := SourceFor(v, arch)
	if !ok {
		return handout{}, errors.New("no source for the robot's architecture")
	}
	bundles := r.Bundles.For(j.Account)
	obj, err := CheckSource(ctx, bundles, src.Bucket, src.Key, src.ETag, false)
	if err != nil {
		return handout{}, err
	}
	obj = obj.recorded(src)
	gate, err := r.healthSeconds(ctx, j)
	if err != nil {
		return handout{}, err
	}
	h := handout{app: app, softwareSuite: v.SoftwareSuite.Name, bundle: obj, healthSeconds: gate}
	if dc := j.Spec.Config.DownloadCondition; dc != nil {
		// The condition file is small; its digest (remembered by ETag) lets
		// the agent verify it even when its ETag is a multipart one.
		cond, err := CheckSource(ctx, bundles, dc.Bucket, dc.Key, dc.ETag, true)
		if err != nil {
			return handout{}, err
		}
		h.downloadCondition = &cond
	}
	return h, nil
}

// Report records a robot's progress or result. abort tells the robot its
// deployment is no longer running (canceled, superseded, finished).
// A report that breaks the rules of the AWS model (ValidReport) is refused
// with an Invalid error naming the member, before anything is stored.
func (r *Robots) Report(ctx context.Context, robot fleet.Robot, rep Report) (abort bool, err error) {
	if err := ValidReport(rep); err != nil {
		return false, err
	}
	if !rep.Done {
		return r.Store.RecordProgress(ctx, rep.DeploymentJob, robot.ARN, rep.Step, rep.PercentDone, rep.ETASeconds)
	}
	res := store.Result{Success: rep.Succeeded, NowMs: r.now().UnixMilli()}
	if !rep.Succeeded {
		// The cause table gives the status and fixes the step: a robot
		// cannot claim a code no cause has, nor make a failure anything
		// but Failed or (its own deadline) NoResponse.
		o, ok := fleet.ReportedFailure(rep.FailureCode, rep.Step)
		if !ok {
			return false, fleet.Errorf(fleet.Invalid, "1 validation error detected: Value '%s' at 'failureCode' failed to satisfy constraint: Member must be a robot deployment failure code (DeploymentJobErrorCode)", OneLine(rep.FailureCode, 64))
		}
		res.Status, res.Code, res.Step = o.Status, o.Code, o.Step
		// ValidReport kept it to MaxFailureReason characters: the bound
		// here is in bytes, so that it is made one line, never cut.
		res.Reason = OneLine(rep.FailureReason, 4*MaxFailureReason)
		res.Output = Tail(rep.FailureOutput, MaxFailureOutput)
	}
	// A failure of the robot's running deployment (not a repeated report
	// of one already recorded) is retried or counted toward quarantine.
	var failing *fleet.Job
	if !rep.Succeeded && r.Retry != nil {
		if as, err := r.Store.CurrentAssignment(ctx, robot.ARN); err == nil && as.Job.ARN == rep.DeploymentJob {
			failing = &as.Job
		}
	}
	if failing != nil {
		if retried, err := r.retryLater(ctx, robot, rep); err != nil || retried {
			if err == nil {
				r.observeGate(ctx, robot, rep)
			}
			return false, err
		}
	}
	abort, err = r.Store.RecordResult(ctx, rep.DeploymentJob, robot.ARN, res)
	orNop(r.Wake).WakeEngine()
	if err != nil {
		return abort, err
	}
	r.observeGate(ctx, robot, rep)
	if failing != nil && !abort {
		if err := r.countFailure(ctx, robot, *failing, res.Code, res.Reason); err != nil {
			r.Log.Error("counting a robot's failure for quarantine failed", "robot", robot.ARN, "job", rep.DeploymentJob, "error", err)
		}
	}
	return abort, nil
}

// healthSeconds is the effective health gate of job j (the job's tag, else
// its fleet's), read when a robot is assigned.
func (r *Robots) healthSeconds(ctx context.Context, j fleet.Job) (int64, error) {
	if n, from := HealthSeconds(j.Tags, nil); from == FromJob {
		return n, nil
	}
	f, err := r.Store.GetFleet(ctx, j.Account, j.Fleet)
	if errors.Is(err, store.ErrNotFound) {
		return 0, nil // deleted meanwhile: the engine fails the job
	}
	if err != nil {
		return 0, err
	}
	n, _ := HealthSeconds(j.Tags, f.Tags)
	return n, nil
}

// observeGate tells OnHealthGate what the gate did. A success without the
// agent's word on the gate comes from an agent older than the gate (it
// ignores Assignment.HealthSeconds and reports after its launch settle): it
// is recorded as the agent said, and logged, since the server cannot hold
// an application it does not run.
func (r *Robots) observeGate(ctx context.Context, robot fleet.Robot, rep Report) {
	if rep.HealthGate != "" {
		if r.OnHealthGate != nil {
			r.OnHealthGate(rep.HealthGate)
		}
		return
	}
	if !rep.Succeeded {
		return
	}
	// Only a log line and a metric depend on it: the job's gate is read
	// once per gateTTL, not for every robot's success.
	now := r.now().UnixMilli()
	gate, ok := r.gates.get(rep.DeploymentJob, now)
	if !ok {
		j, err := r.Store.GetJob(ctx, robot.Account, rep.DeploymentJob)
		if err != nil {
			return
		}
		if gate, err = r.healthSeconds(ctx, j); err != nil {
			return
		}
		r.gates.put(rep.DeploymentJob, gate, now, now+gateTTL.Milliseconds(), gateTTL.Milliseconds())
	}
	if gate > 0 {
		r.Log.Warn("robot's agent did not apply the health gate (older agent); its success stands", "robot", robot.ARN,
			"job", rep.DeploymentJob, "health_seconds", gate)
		if r.OnHealthGate != nil {
			r.OnHealthGate("ungated")
		}
	}
}

// gateTTL is how long a job's health gate is believed for observeGate.
const gateTTL = 10 * time.Second

// OverlayStore stores the overlays robots hold (store.DryRuns).
type OverlayStore interface {
	RecordOverlays(ctx context.Context, robotARN string, overlays []string, nowMs int64) error
}

// Overlays takes in the colcon v2 overlays a polling robot's agent says it
// holds (nil: it says nothing, as older agents). They are written only when
// the set changed since this process last stored it, so a poll costs no
// write; a failure only costs the plan its precision, and is retried at the
// next poll.
func (r *Robots) Overlays(ctx context.Context, robot fleet.Robot, overlays []string) {
	if r.Cache == nil || overlays == nil {
		return
	}
	if len(overlays) > maxOverlays {
		r.Log.Warn("robot says it holds too many overlays; ignored", "robot", robot.ARN, "count", len(overlays))
		return
	}
	list := make([]string, 0, len(overlays))
	for _, o := range overlays {
		if isSHA256Hex(o) { // anything else cannot name an overlay
			list = append(list, o)
		}
	}
	slices.Sort(list)
	list = slices.Compact(list)
	key := strings.Join(list, ",")
	if prev, ok := r.overlaysSeen.Load(robot.ARN); ok && prev.(string) == key {
		return
	}
	if err := r.Cache.RecordOverlays(ctx, robot.ARN, list, r.now().UnixMilli()); err != nil {
		r.Log.Warn("storing a robot's overlays failed", "robot", robot.ARN, "error", err)
		return
	}
	r.overlaysSeen.Store(robot.ARN, key)
}

// maxOverlays bounds the overlay list a robot may send (a bundle has a few).
const maxOverlays = 1000

func isSHA256Hex(s string) bool {
	if len(s) != 64 {
		return false
	}
	for _, c := range s {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// reportSteps are AWS's RobotDeploymentStep values, the only steps a report
// may name.
var reportSteps = map[string]bool{
	"Validating": true, "DownloadingExtracting": true, "ExecutingDownloadCondition": true, "ExecutingPreLaunch": true,
	"Launching": true, "ExecutingPostLaunch": true, "Finished": true,
}

// ValidReport checks an agent's report as the API checks its input, since
// what it carries is answered by DescribeDeploymentJob and the console:
// the step from its enum, percentDone 0..100 (the model's PercentDone),
// etaSeconds ≥ 0, failureReason at most MaxFailureReason characters of
// valid UTF-8 without NUL, and failure members only on a failed result
// (whose code the cause table checks, fleet.ReportedFailure). The error
// names the member.
func ValidReport(rep Report) error {
	bad := func(member, value, rule string) error {
		if len(value) > 64 {
			value = strings.ToValidUTF8(value[:64], "") + "…"
		}
		return fleet.Errorf(fleet.Invalid, "1 validation error detected: Value '%s' at '%s' failed to satisfy constraint: %s", value, member, rule)
	}
	if err := ValidJobRef("deploymentJob", rep.DeploymentJob); err != nil {
		return err
	}
	switch {
	case !reportSteps[rep.Step]:
		return bad("step", rep.Step, "Member must satisfy enum value set: [Validating, DownloadingExtracting, ExecutingDownloadCondition, ExecutingPreLaunch, Launching, ExecutingPostLaunch, Finished]")
	case rep.PercentDone != nil && !(*rep.PercentDone >= 0 && *rep.PercentDone <= 100): // NaN fails both
		return bad("percentDone", strconv.FormatFloat(*rep.PercentDone, 'g', -1, 64), "Member must have value between 0 and 100")
	case rep.ETASeconds != nil && *rep.ETASeconds < 0:
		return bad("etaSeconds", strconv.FormatInt(*rep.ETASeconds, 10), "Member must have value greater than or equal to 0")
	case !utf8.ValidString(rep.FailureReason) || strings.ContainsRune(rep.FailureReason, 0):
		return bad("failureReason", "…", "Member must be valid UTF-8 without NUL")
	case utf8.RuneCountInString(rep.FailureReason) > MaxFailureReason:
		return bad("failureReason", rep.FailureReason, fmt.Sprintf("Member must have length less than or equal to %d", MaxFailureReason))
	case (rep.FailureCode != "" || rep.FailureReason != "") && (!rep.Done || rep.Succeeded):
		return bad("failureCode", rep.FailureCode, "Member must be empty unless the result is Failed")
	case rep.Done && !rep.Succeeded && rep.FailureCode == "":
		return bad("failureCode", "", "Member is required when the result is Failed")
	}
	return nil
}

// MaxJobRef bounds a job ARN an agent names: the AWS model's Arn (1224).
const MaxJobRef = fleet.MaxARN

// ValidJobRef checks a job ARN an agent names in member (a report's job,
// the job a poll says it runs): at most MaxJobRef bytes of UTF-8 without
// NUL, so that what is kept of a held poll stays small and every store
// can hold it. Which job it names is the store's to find (none: the
// robot is told to stop).
func ValidJobRef(member, arn string) error {
	switch {
	case len(arn) > MaxJobRef:
		return fleet.Errorf(fleet.Invalid, "1 validation error detected: Value at '%s' failed to satisfy constraint: Member must have length less than or equal to %d", member, MaxJobRef)
	case !utf8.ValidString(arn) || strings.ContainsRune(arn, 0):
		return fleet.Errorf(fleet.Invalid, "1 validation error detected: Value at '%s' failed to satisfy constraint: Member must be valid UTF-8 without NUL", member)
	}
	return nil
}

// PutLog stores a robot's answer to the log request made at requestedMs
// (content bounded by MaxRobotLog, its tail kept); a stale or unknown
// request is NotFound.
func (r *Robots) PutLog(ctx context.Context, robot fleet.Robot, requestedMs int64, content, errText string) error {
	err := r.Store.PutRobotLog(ctx, store.RobotLog{Robot: robot.ARN, RequestedMs: requestedMs, TakenMs: r.now().UnixMilli(),
		Content: Tail(content, MaxRobotLog), Error: OneLine(errText, MaxFailureReason)})
	if errors.Is(err, store.ErrNotFound) {
		return fleet.Errorf(fleet.NotFound, "no log request of this robot was made at %d", requestedMs)
	}
	return err
}

// OneLine makes s one line of valid UTF-8 of at most n bytes: control
// characters become spaces, a longer text ends in "…".
func OneLine(s string, n int) string {
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, strings.ToValidUTF8(s, "?"))
	if len(s) <= n {
		return s
	}
	cut := n - len("…")
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

// Tail keeps the last n bytes of s, starting at a line (or at least a
// character) boundary, as valid UTF-8 without NUL: an invalid byte and a
// NUL become '?', so that captured output (a binary's too) is text every
// store holds (PostgreSQL refuses NUL in text).
func Tail(s string, n int) string {
	s = strings.ReplaceAll(strings.ToValidUTF8(s, "?"), "\x00", "?")
	if len(s) <= n {
		return s
	}
	s = s[len(s)-n:]
	if i := strings.IndexByte(s, '\n'); i >= 0 && i < len(s)-1 {
		return s[i+1:]
	}
	for len(s) > 0 && !utf8.RuneStart(s[0]) {
		s = s[1:]
	}
	return s
}
