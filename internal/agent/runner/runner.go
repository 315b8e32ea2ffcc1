// Package runner is the fleetsync agent's main loop: it long-polls
// fleetsyncd for work, carries each deployment through the steps of SPEC §6
// (proto.Assignment.Steps), reports progress and results, keeps the installed application
// running, and rolls back to the previous application when a step after
// the download fails or the server aborts the deployment.
//
// # Durability
//
// The state directory (package state) holds the installed application and
// the one before it, and a final report not yet delivered; the runner saves
// it before acting on it. A robot that restarts relaunches its installed
// application at once, delivers its pending report, and polls: the server
// sends again any deployment the robot did not finish, and the download
// resumes from the bytes already on disk (downloads/ keeps partial files,
// named after the bundle's SHA-256).
//
// # Order of a deployment
//
// The new bundle is downloaded, extracted and its pre-launch file run while
// the previous application still runs, so that a failure up to there costs
// it nothing; it is stopped only at Launching. A failure from Launching on
// stops the new application and starts the previous one again.
//
// The package imports no server code (internal/archtest checks it).
package runner

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fleetsync/fleetsync/internal/agent/bundle"
	"github.com/fleetsync/fleetsync/internal/agent/client"
	"github.com/fleetsync/fleetsync/internal/agent/launch"
	"github.com/fleetsync/fleetsync/internal/agent/state"
	"github.com/fleetsync/fleetsync/internal/proto"
)

// Defaults of the Config fields left zero.
const (
	DefaultPollWait  = 30 * time.Second
	DefaultHeartbeat = 10 * time.Second
	DefaultSettle    = 2 * time.Second
	// DefaultIdleWait is the idle wait offered with every poll
	// (proto.PollRequest.IdleWaitSeconds): the server holds the poll of an
	// idle robot up to its own cap (4 minutes by default), so an idle
	// robot costs it a request every few minutes instead of every 30 s.
	DefaultIdleWait = 4 * time.Minute
)

// idleFallback is how long the agent offers no idle wait after held polls
// were cut twice in a row: something between it and the server (a proxy's
// read timeout, a NAT that forgets quiet connections) ends connections
// quiet for longer than a plain long poll, and 30 s polls get through.
const idleFallback = time.Hour

// unknownRobotRetry is the poll interval while the server knows no robot
// with this agent id: short, so a robot created later is served within
// seconds, and fixed (not backed off), since the answer costs the server one
// signature check and one indexed lookup.
const unknownRobotRetry = 2 * time.Second

// downloadTries bounds the attempts at one download (each resuming).
const downloadTries = 8

// Subdirectories of the state directory.
const (
	deploymentsDir = "deployments" // extracted bundles, one per deployment job
	downloadsDir   = "downloads"   // bundle files, partial ones kept across restarts
	overlaysDir    = "overlays"    // colcon v2 overlays by SHA-256
	workDir        = "work"        // download condition files
	logsDir        = "logs"        // the application's and the scripts' output
)

// Config configures an Agent.
type Config struct {
	// Client speaks the agent protocol to fleetsyncd; required.
	Client *client.Client
	// StateDir is the agent's state directory (key, state, bundles, logs).
	StateDir string
	// Launcher, if set, replaces the software suite's launcher (see
	// launch.Spec.LauncherOverride).
	Launcher string
	// Limits bound what a bundle may extract to.
	Limits bundle.Limits
	// PollWait is the long-poll wait asked of the server (DefaultPollWait).
	PollWait time.Duration
	// IdleWait is the longer wait offered for the polls of an idle robot
	// (proto.PollRequest.IdleWaitSeconds; DefaultIdleWait if zero, none if
	// negative). A held poll still ends at once when the application
	// exits or is due to be launched again, and the server answers it at
	// once with a deployment or a log request.
	IdleWait time.Duration
	// Heartbeat is how often the step under way is reported again while it
	// runs, so the server knows the robot is alive and can abort it
	// (DefaultHeartbeat).
	Heartbeat time.Duration
	// Settle is how long a launched application must run without exiting
	// for Launching to succeed (DefaultSettle; negative: no wait).
	Settle time.Duration
	// Grace is the time between SIGTERM and SIGKILL when the application is
	// stopped (launch.DefaultGrace if zero).
	Grace time.Duration
	// BackoffMin and BackoffMax bound the application's restart delay
	// (launch defaults if zero).
	BackoffMin, BackoffMax time.Duration
	// RetryBase is the base of the backoff between failed requests to the
	// server (1s if zero); the ceiling is a minute.
	RetryBase time.Duration
	// Cgroup is a cgroup v2 directory in which the agent creates one cgroup
	// per application launch ("" for none: the process-tree walk alone; see
	// launch.Supervisor.Cgroup and launch.DetectCgroup).
	Cgroup string
	// Log receives the agent's own log; nil discards it.
	Log *slog.Logger
}

// Agent runs deployments on this robot. Create it with New and call Run once.
type Agent struct {
	cfg Config
	log *slog.Logger

	st      state.State
	app     *launch.Supervisor // runs st.Current, or the new application from Launching to the result; nil when nothing runs
	crashed chan struct{}      // signaled by the supervisor on an unexpected exit
	lock    io.Closer          // held while the agent runs: one agent per state directory
	// unsaved is true when state.json could not be written: the pending
	// result is not delivered before it is.
	unsaved bool
	// startFailures counts failed launches of st.Current, for the backoff
	// of the next attempt.
	startFailures int
	nextStart     time.Time

	// awaiting is true while the server knows no robot with this agent id.
	awaiting bool
	// logBusy is true while a log upload runs.
	logBusy atomic.Bool
	// restarted is signaled by the supervisor when it has relaunched the
	// application, so that a held poll refreshes the status file.
	restarted chan struct{}
	// idleCuts counts consecutive held polls that failed after being held
	// longer than PollWait (see idleFallback); noIdleUntil is when the
	// agent offers the idle wait again after two.
	idleCuts    int
	noIdleUntil time.Time

	mu     sync.Mutex
	status state.Status
	// connError: status.LastError is an error of reaching the server,
	// cleared by the next answer.
	connError bool
}

// New returns an Agent for cfg.
func New(cfg Config) (*Agent, error) {
	if cfg.Client == nil || cfg.StateDir == "" {
		return nil, errors.New("runner: Client and StateDir are required")
	}
	if cfg.PollWait <= 0 {
		cfg.PollWait = DefaultPollWait
	}
	if cfg.Heartbeat <= 0 {
		cfg.Heartbeat = DefaultHeartbeat
	}
	if cfg.Settle == 0 {
		cfg.Settle = DefaultSettle
	}
	if cfg.RetryBase <= 0 {
		cfg.RetryBase = time.Second
	}
	if cfg.IdleWait == 0 {
		cfg.IdleWait = DefaultIdleWait
	}
	log := cfg.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	// Scripts and the application run with their own working directory:
	// every path the agent hands them must be absolute.
	dir, err := filepath.Abs(cfg.StateDir)
	if err != nil {
		return nil, fmt.Errorf("state dir: %w", err)
	}
	cfg.StateDir = dir
	for _, d := range []string{deploymentsDir, downloadsDir, overlaysDir, workDir, logsDir} {
		if err := os.MkdirAll(filepath.Join(cfg.StateDir, d), 0o700); err != nil {
			return nil, fmt.Errorf("state dir: %w", err)
		}
	}
	lock, err := state.Lock(cfg.StateDir)
	if err != nil {
		return nil, err
	}
	st, err := state.Load(cfg.StateDir)
	if err != nil {
		lock.Close()
		return nil, err
	}
	a := &Agent{cfg: cfg, log: log, st: st, crashed: make(chan struct{}, 1), restarted: make(chan struct{}, 1), lock: lock}
	a.status = state.Status{AgentID: cfg.Client.AgentID(), Server: cfg.Client.Server, PID: os.Getpid(), Current: st.Current}
	return a, nil
}

// Run relaunches the installed application, then polls for deployments and
// carries them out until ctx ends; it stops the application before it
// returns.
func (a *Agent) Run(ctx context.Context) error {
	defer a.lock.Close()
	// Orphans of the application come to the agent, not to init; what an
	// earlier agent on this state directory left running is ended before
	// anything is launched: never two copies of the application.
	if err := launch.BecomeSubreaper(); err != nil {
		a.log.Warn("cannot become a child subreaper; orphaned application processes are found by their environment only", "error", err)
	}
	if n := launch.KillStray(a.unitPrefix(), a.cfg.Cgroup, a.grace()); n > 0 {
		a.log.Warn("ended processes of an application an earlier agent left running", "processes", n)
	}
	a.removeStale()
	a.ensureRunning()
	a.saveStatus()
	defer a.stopApp()

	attempt := 0
	for ctx.Err() == nil {
		a.ensureRunning()
		if a.unsaved {
			if err := a.save(); err != nil {
				a.fail("save the agent state", err)
				a.sleep(ctx, client.BackoffWith(a.cfg.RetryBase, time.Minute, attempt))
				attempt++
				continue
			}
			a.unsaved = false
		}
		if a.st.Pending != nil {
			if err := a.flush(ctx); err != nil {
				a.fail("deliver the deployment result", err)
				a.sleep(ctx, client.Wait(err, client.BackoffWith(a.cfg.RetryBase, time.Minute, attempt)))
				attempt++
				continue
			}
		}
		began := time.Now()
		resp, err := a.poll(ctx)
		if ctx.Err() != nil {
			break
		}
		if err != nil {
			if errors.Is(err, errCrashed) || errors.Is(err, errRelaunch) {
				a.saveStatus()
				continue // relaunch, or poll again at once, telling the server
			}
			if he, ok := errors.AsType[*client.HTTPError](err); ok && he.Code == proto.CodeUnknownRobot {
				// The robot is not created yet (the agent was installed
				// first): the state is not an error, and it ends the moment
				// an operator creates the robot, so ask again soon.
				a.awaitRobot()
				a.sleep(ctx, unknownRobotRetry/2+rand.N(unknownRobotRetry/2+1))
				continue
			}
			a.fail("poll", err)
			a.sleep(ctx, client.Wait(err, client.BackoffWith(a.cfg.RetryBase, time.Minute, attempt)))
			attempt++
			continue
		}
		attempt = 0
		a.contact()
		var logSent <-chan bool
		if resp.LogRequest != nil {
			logSent = a.answerLog(ctx, *resp.LogRequest)
		}
		// resp.Abort names a deployment the agent runs but has not
		// finished; polls happen only between deployments, with Current
		// finished, so there is never one to abort here.
		if resp.Assignment != nil {
			a.deploy(ctx, resp.Assignment)
			continue
		}
		// A server that answered well before the wait asked for (no long
		// poll) sets the pace with its suggested interval, clamped, with
		// jitter so a fleet does not poll in step. An answer that carried a
		// log request came early for that: once the log is delivered (the
		// server repeats the request until then) the agent polls again at
		// once, so a deployment assigned next is not held up.
		if time.Since(began) < a.cfg.PollWait/2 {
			interval := time.Duration(min(max(resp.PollIntervalSeconds, 1), 300)) * time.Second
			a.pause(ctx, interval/2+rand.N(interval/2+1), logSent)
		}
	}
	return nil
}

// pause waits d between polls, cut short when ctx ends, when the
// application exits or is due to be launched again (the loop then acts and
// polls at once), or when logSent delivers true (the log request that made
// the poll return early is answered).
func (a *Agent) pause(ctx context.Context, d time.Duration, logSent <-chan bool) {
	t := time.NewTimer(d)
	defer t.Stop()
	relaunch, stop := a.relaunchDue()
	defer stop()
	for {
		select {
		case <-t.C:
			return
		case <-ctx.Done():
			return
		case <-relaunch:
			return
		case <-a.crashed:
			a.saveStatus()
			return
		case <-a.restarted:
			a.saveStatus()
		case ok := <-logSent:
			if ok {
				return
			}
			logSent = nil // failed: wait out the interval, as before
		}
	}
}

// relaunchDue returns a channel that fires when the installed application,
// which does not run (its last launch failed), is due to be launched again
// (nil when it runs or there is none), and a function releasing its timer.
func (a *Agent) relaunchDue() (<-chan time.Time, func()) {
	if a.st.Current == nil || a.app != nil {
		return nil, func() {}
	}
	t := time.NewTimer(max(time.Until(a.nextStart), 0))
	return t.C, func() { t.Stop() }
}

// idleWait is the idle wait to offer with the next poll: none when
// disabled, or for an hour after held polls were cut twice in a row.
func (a *Agent) idleWait() time.Duration {
	if a.cfg.IdleWait < 0 || time.Now().Before(a.noIdleUntil) {
		return 0
	}
	return a.cfg.IdleWait
}

// heldPollEnded notes how a poll that offered the idle wait ended after
// held: a failure past the plain long-poll wait is a cut (two in a row
// start the fallback to plain long polls); an answer clears the count.
func (a *Agent) heldPollEnded(held time.Duration, err error) {
	if held <= a.cfg.PollWait+5*time.Second {
		return
	}
	if err == nil {
		a.idleCuts = 0
		return
	}
	if he, ok := errors.AsType[*client.HTTPError](err); ok && he.Status != http.StatusBadGateway && he.Status != http.StatusGatewayTimeout {
		return // the server's own answer: not the path cutting the poll
	}
	if a.idleCuts++; a.idleCuts >= 2 {
		a.idleCuts = 0
		a.noIdleUntil = time.Now().Add(idleFallback)
		a.log.Warn("held polls keep being cut on the way to the server (a proxy's read timeout or a NAT shorter than the idle wait); "+
			"polling with plain long polls for an hour. Raise the proxy's timeout above the idle wait, or lower --idle-wait",
			"idleWait", a.cfg.IdleWait, "heldFor", held.Round(time.Second), "error", err)
	}
}

// ensureRunning (re)launches the installed application when it is not
// running: at start, and again with backoff after a launch that failed (a
// fork refused, a missing directory), so a transient failure does not leave
// the robot without its application.
func (a *Agent) ensureRunning() {
	cur := a.st.Current
	if cur == nil || a.app != nil || time.Now().Before(a.nextStart) {
		return
	}
	if err := a.start(cur); err != nil {
		a.startFailures++
		a.nextStart = time.Now().Add(client.BackoffWith(a.cfg.RetryBase, time.Minute, a.startFailures))
		a.fail("launch the installed application", err)
		return
	}
	a.startFailures, a.nextStart = 0, time.Time{}
	a.log.Info("launched the installed application", "job", cur.DeploymentJob, "version", cur.ApplicationVersion)
}

// errCrashed ends a long poll early so the server hears of a crash at once.
var errCrashed = errors.New("application exited")

// errRelaunch ends a long poll early when the installed application, whose
// launch failed, is due to be launched again.
var errRelaunch = errors.New("application due to be launched again")

// poll makes one long poll, telling the server what runs here. It offers
// the idle wait (the robot is idle: polls happen only between
// deployments), so the server may hold it for minutes; the poll ends early
// when the application exits (the server hears of it at once) or is due to
// be launched again, and a restart of the application meanwhile is written
// to the status file without ending it.
func (a *Agent) poll(ctx context.Context) (proto.PollResponse, error) {
	req := proto.PollRequest{WaitSeconds: int(math.Ceil(a.cfg.PollWait.Seconds())), Overlays: a.cachedOverlays()}
	idle := a.idleWait()
	req.IdleWaitSeconds = int(idle / time.Second)
	if cur := a.st.Current; cur != nil {
		req.Current = &proto.Current{DeploymentJob: cur.DeploymentJob, Finished: true}
		a.mu.Lock()
		req.Current.Restarts, req.Current.LastExitCode = a.status.AppRestarts, a.status.LastExitCode
		a.mu.Unlock()
	}
	pctx, cancel := context.WithCancel(ctx)
	defer cancel()
	relaunch, stop := a.relaunchDue()
	defer stop()
	var why error
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			select {
			case <-a.crashed:
				why = errCrashed
				cancel()
				return
			case <-relaunch:
				why = errRelaunch
				cancel()
				return
			case <-a.restarted:
				// The main goroutine waits in Poll meanwhile: a.st and
				// a.app stay as they are while the status is written.
				a.saveStatus()
			case <-pctx.Done():
				return
			}
		}
	})
	began := time.Now()
	resp, err := a.cfg.Client.Poll(pctx, req)
	cancel()
	wg.Wait()
	if err != nil && why != nil {
		return resp, why
	}
	if idle > 0 && ctx.Err() == nil {
		a.heldPollEnded(time.Since(began), err)
	}
	return resp, err
}

// flush delivers the pending final report; an abort in answer to a
// success rolls that deployment back.
func (a *Agent) flush(ctx context.Context) error {
	rep := *a.st.Pending
	resp, err := a.cfg.Client.Report(ctx, rep)
	if he, ok := errors.AsType[*client.HTTPError](err); ok && he.Code == "NotAssigned" {
		err = nil // the server settled it otherwise (it learns of a success from polls)
	} else if err != nil {
		return err
	}
	a.contact()
	if rep.Result == proto.ResultSucceeded && resp.Abort && a.st.Current != nil && a.st.Current.DeploymentJob == rep.DeploymentJob {
		a.log.Warn("deployment canceled after it finished: restoring the previous application", "job", rep.DeploymentJob)
		a.stopApp()
		undone := a.st.Current
		a.st.Current, a.st.Previous = a.st.Previous, nil
		if a.st.Current != nil {
			if err := a.start(a.st.Current); err != nil {
				a.fail("restore the previous application", err)
			}
		}
		a.st.Pending = nil
		if err := a.save(); err != nil {
			return err
		}
		os.RemoveAll(undone.Dir)
		return nil
	}
	prev := a.st.Previous
	a.st.Pending, a.st.Previous = nil, nil
	if err := a.save(); err != nil {
		return err
	}
	if prev != nil {
		a.removeStale() // the replaced application's files and overlays
	}
	return nil
}

// start launches app under a new supervisor.
func (a *Agent) start(app *state.App) error {
	sup := &launch.Supervisor{
		LogDir: filepath.Join(a.cfg.StateDir, logsDir), Grace: a.cfg.Grace,
		BackoffMin: a.cfg.BackoffMin, BackoffMax: a.cfg.BackoffMax, OnCrash: a.onCrash, OnRestart: a.onRestart,
		Cgroup: a.cfg.Cgroup, UnitPrefix: a.unitPrefix(),
	}
	if err := sup.Start(a.spec(app)); err != nil {
		return err
	}
	a.app = sup
	pid, started, _, _ := sup.Running()
	a.mu.Lock()
	a.status.AppPID, a.status.AppStartedAt, a.status.AppRestarts, a.status.LastExitCode = pid, started, 0, nil
	a.mu.Unlock()
	return nil
}

// stopApp stops the running application, if any (SIGTERM, then SIGKILL
// after the grace period).
func (a *Agent) stopApp() {
	if a.app == nil {
		return
	}
	// Bounded: a process stuck in uninterruptible sleep must not stop the
	// agent from polling; Stop sends SIGKILL when the context ends.
	ctx, cancel := context.WithTimeout(context.Background(), a.grace()+5*time.Second)
	defer cancel()
	if err := a.app.Stop(ctx); err != nil {
		a.log.Warn("stop the application", "error", err)
	}
	a.app = nil
	a.mu.Lock()
	a.status.AppPID, a.status.AppStartedAt = 0, time.Time{}
	a.mu.Unlock()
	a.saveStatus()
}

// grace is the application's stop grace period.
func (a *Agent) grace() time.Duration {
	if a.cfg.Grace <= 0 {
		return launch.DefaultGrace
	}
	return a.cfg.Grace
}

// unitPrefix starts the unit id of every launch of this agent: derived
// from the state directory, so a restarted agent recognises what its
// predecessor launched and no other agent's application.
func (a *Agent) unitPrefix() string {
	sum := sha256.Sum256([]byte(a.cfg.StateDir))
	return "fs" + hex.EncodeToString(sum[:5]) + "-"
}

// onCrash runs on the supervisor's goroutine at each unexpected exit; it
// touches only a.status (under a.mu) and the crashed channel.
func (a *Agent) onCrash(exitCode, restarts int) {
	a.log.Warn("application exited; restarting it with backoff", "exitCode", exitCode, "restarts", restarts)
	a.mu.Lock()
	a.status.AppRestarts, a.status.LastExitCode, a.status.AppPID = restarts, &exitCode, 0
	a.mu.Unlock()
	// The main loop writes the status file (it owns a.st and a.app): the
	// signal ends its long poll, and it saves the status before polling again.
	select {
	case a.crashed <- struct{}{}:
	default:
	}
}

// onRestart runs on the supervisor's goroutine when it relaunched the
// application: the main loop (or a held poll's watcher) writes the status.
func (a *Agent) onRestart(int) {
	select {
	case a.restarted <- struct{}{}:
	default:
	}
}

func (a *Agent) spec(app *state.App) launch.Spec {
	return launch.Spec{
		BundleRoot: app.Dir, Overlays: app.Overlays, SoftwareSuite: app.SoftwareSuite,
		PackageName: app.PackageName, LaunchFile: app.LaunchFile, Env: app.Env, Tags: app.Tags,
		LauncherOverride: a.cfg.Launcher,
	}
}

// save writes state.json. A failed save leaves unsaved set, so Run writes
// the state again before anything else: memory and disk must not disagree
// until the next change.
func (a *Agent) save() error {
	err := state.Save(a.cfg.StateDir, a.st)
	if err != nil {
		a.unsaved = true
	}
	return err
}

// fail records an error for the status command and the log.
func (a *Agent) fail(what string, err error) {
	a.log.Error(what+" failed", "error", err)
	a.mu.Lock()
	a.status.LastError, a.status.LastErrorAt = what+": "+err.Error(), time.Now()
	a.connError = what == "poll" || what == "deliver the deployment result"
	a.mu.Unlock()
	a.saveStatus()
}

// awaitRobot records, and logs once, that the server knows no robot with
// this agent id yet.
func (a *Agent) awaitRobot() {
	if !a.awaiting {
		a.awaiting = true
		a.log.Warn("the server knows no robot with this agent id yet; asking again every few seconds until one is created with it as its greengrassGroupId",
			"agentId", a.cfg.Client.AgentID())
	}
	a.mu.Lock()
	a.status.LastError, a.status.LastErrorAt = "no robot has this agent id as its greengrassGroupId yet", time.Now()
	a.connError = true
	a.mu.Unlock()
	a.saveStatus()
}

// contact records that the server answered: an error of reaching it is
// not current any more.
func (a *Agent) contact() {
	if a.awaiting {
		a.awaiting = false
		a.log.Info("the server accepted this agent: its robot exists now", "agentId", a.cfg.Client.AgentID())
	}
	a.mu.Lock()
	a.status.LastContactAt = time.Now()
	if a.connError {
		a.status.LastError, a.status.LastErrorAt, a.connError = "", time.Time{}, false
	}
	a.mu.Unlock()
	a.saveStatus()
}

// answerLog sends the tail of the application's log to answer an
// operator's request, in the background: a slow upload never holds up a
// poll or a deployment, and only one runs at a time (a request arriving
// meanwhile is answered at a later poll, since the server repeats it).
// The returned channel delivers whether the upload succeeded (nil when
// one was already under way).
func (a *Agent) answerLog(ctx context.Context, req proto.LogRequest) <-chan bool {
	if !a.logBusy.CompareAndSwap(false, true) {
		return nil
	}
	n := min(max(req.MaxBytes, 1), proto.MaxLogBytes)
	sent := make(chan bool, 1)
	go func() {
		ok := false
		defer func() { a.logBusy.Store(false); sent <- ok }()
		up := proto.LogUpload{RequestedMs: req.RequestedMs}
		up.Content = a.appLogTail(n)
		if up.Content == "" {
			up.Error = "the application log is empty or missing"
		}
		if err := a.cfg.Client.UploadLog(ctx, up); err != nil {
			a.log.Warn("sending the requested application log failed", "error", err)
			return
		}
		ok = true
		a.log.Info("sent the application log's tail on request", "bytes", len(up.Content))
	}()
	return sent
}

// saveStatus writes the status snapshot; a failure only costs the status
// command its freshness.
func (a *Agent) saveStatus() {
	a.mu.Lock()
	s := a.status
	s.Current = a.st.Current
	s.Updated = time.Now()
	if a.app != nil {
		if pid, _, restarts, ok := a.app.Running(); ok {
			s.AppPID, s.AppRestarts = pid, restarts
		}
	}
	a.mu.Unlock()
	if err := state.SaveStatus(a.cfg.StateDir, s); err != nil {
		a.log.Warn("write status", "error", err)
	}
}

func (a *Agent) sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

// removeStale deletes what neither the installed application nor the one
// before it uses: extracted bundles and colcon v2 overlays left by earlier
// deployments or by one a restart interrupted, condition files, and
// temporary files of interrupted writes. It runs only between deployments.
func (a *Agent) removeStale() {
	keepDirs, keepOverlays := map[string]bool{}, map[string]bool{}
	for _, app := range []*state.App{a.st.Current, a.st.Previous} {
		if app == nil {
			continue
		}
		keepDirs[filepath.Base(app.Dir)] = true
		for _, o := range app.Overlays {
			keepOverlays[filepath.Base(o)] = true
		}
	}
	a.prune(deploymentsDir, func(name string) bool { return keepDirs[name] })
	a.prune(overlaysDir, func(name string) bool { return keepOverlays[name] })
	a.prune(workDir, func(string) bool { return false })
	if tmps, err := filepath.Glob(filepath.Join(a.cfg.StateDir, "."+state.StateFile+".*")); err == nil {
		for _, t := range tmps {
			os.Remove(t)
		}
	}
}

// prune removes every entry of the state directory's subdirectory sub that
// keep does not want.
func (a *Agent) prune(sub string, keep func(name string) bool) {
	dir := filepath.Join(a.cfg.StateDir, sub)
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if !keep(e.Name()) {
			os.RemoveAll(filepath.Join(dir, e.Name()))
		}
	}
}

// jobDir names the directory of a job's files: deployment job ARNs hold
// characters a file name should not, and are long.
func jobDir(job string) string {
	sum := sha256.Sum256([]byte(job))
	return hex.EncodeToString(sum[:8])
}

// downloadName names the partial file of a bundle, so that a restarted
// agent resumes it.
func downloadName(obj proto.Object) string {
	if b, err := hex.DecodeString(obj.SHA256); err == nil && len(b) == sha256.Size {
		return strings.ToLower(obj.SHA256) + ".part"
	}
	sum := sha256.Sum256([]byte(obj.ETag + "\x00" + fmt.Sprint(obj.Size)))
	return hex.EncodeToString(sum[:]) + ".part"
}
