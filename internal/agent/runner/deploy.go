package runner

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/fleetsync/fleetsync/internal/agent/bundle"
	"github.com/fleetsync/fleetsync/internal/agent/client"
	"github.com/fleetsync/fleetsync/internal/agent/launch"
	"github.com/fleetsync/fleetsync/internal/agent/state"
	"github.com/fleetsync/fleetsync/internal/proto"
)

// deployment is one assignment under way.
type deployment struct {
	a      *proto.Assignment
	app    *state.App // what it installs
	ctx    context.Context
	cancel context.CancelFunc

	mu      sync.Mutex
	last    proto.Report // the latest progress report, repeated as heartbeat
	aborted bool
	// poke asks the heartbeat to send last now: reports never wait on the
	// network inside a step (a slow server must not stall a download).
	poke chan struct{}

	// replaced is the application that ran before Launching stopped it
	// (nil if none ran); started is true once the new one was started.
	replaced *state.App
	started  bool
	// launchedAt is when the new application was started (the health
	// period counts from it).
	launchedAt time.Time
	// logStart is the application log's size when the new application was
	// launched: its own output follows.
	logStart int64
}

func (d *deployment) abort() {
	d.mu.Lock()
	d.aborted = true
	d.mu.Unlock()
	d.cancel()
}

func (d *deployment) isAborted() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.aborted
}

// deploy carries out an assignment: every step in order, then the result.
func (a *Agent) deploy(ctx context.Context, asg *proto.Assignment) {
	job := asg.DeploymentJob
	log := a.log.With("job", job)
	log.Info("deployment received", "application", asg.Application, "version", asg.ApplicationVersion)
	d := &deployment{a: asg, poke: make(chan struct{}, 1), app: &state.App{
		DeploymentJob: job, Application: asg.Application, ApplicationVersion: asg.ApplicationVersion,
		Dir:           filepath.Join(a.cfg.StateDir, deploymentsDir, jobDir(job)),
		SoftwareSuite: asg.SoftwareSuite, PackageName: asg.LaunchConfig.PackageName,
		LaunchFile: asg.LaunchConfig.LaunchFile, Env: asg.LaunchConfig.EnvironmentVariables, Tags: asg.Tags,
	}}
	if a.installed(d.app.Dir) {
		// The job of an installed version sent again (a correct server
		// never does): its files go beside that version's, so that neither
		// the extraction nor a rollback (which removes the new files)
		// touches the files that run or that a rollback would restore.
		d.app.Dir += "-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	}
	// The server stops waiting after the robot timeout; so does the agent,
	// so that a hung script cannot keep the robot from later deployments.
	if asg.TimeoutSeconds > 0 {
		d.ctx, d.cancel = context.WithTimeout(ctx, serverSeconds(asg.TimeoutSeconds))
	} else {
		d.ctx, d.cancel = context.WithCancel(ctx)
	}
	defer d.cancel()
	a.mu.Lock()
	a.status.Deploying = job
	if !a.connError {
		// The last deployment's failure is not current any more.
		a.status.LastError, a.status.LastErrorAt = "", time.Time{}
	}
	a.mu.Unlock()
	defer func() {
		a.mu.Lock()
		a.status.Deploying, a.status.Step = "", ""
		a.mu.Unlock()
		a.saveStatus()
	}()

	// The heartbeat stops (even in the middle of a report) before deploy
	// returns.
	hbCtx, hbCancel := context.WithCancel(d.ctx)
	var wg sync.WaitGroup
	wg.Go(func() { a.heartbeat(hbCtx, d) })
	defer func() { hbCancel(); wg.Wait() }()

	for _, step := range asg.Steps() {
		if step == proto.StepFinished {
			break
		}
		if d.isAborted() || ctx.Err() != nil { // heard between steps
			a.rollback(d)
			log.Info("deployment aborted before " + string(step) + "; previous application kept")
			return
		}
		a.mu.Lock()
		a.status.Step = step
		a.mu.Unlock()
		a.saveStatus()
		if step != proto.StepDownloadingExtracting { // that one reports its percentages
			a.progress(d, proto.Report{DeploymentJob: job, Step: step})
		}
		err := a.runStep(d, step)
		if err == nil && asg.HealthSeconds > 0 && isLastLaunchStep(asg, step) {
			// The health gate ends the post-launch stage: the robot is not
			// Finished before its application proved it stays up.
			err = a.healthGate(d)
		}
		if d.isAborted() || ctx.Err() != nil {
			a.rollback(d)
			if ctx.Err() == nil {
				log.Info("deployment aborted by the server; previous application restored", "step", step)
			}
			return
		}
		if err != nil {
			f := a.describe(d, step, err, timedOut(ctx, d))
			o := proto.Outcomes[f.cause]
			if o.Step == "" {
				o.Step = step
			}
			log.Warn("deployment failed", "step", step, "code", o.Code, "error", err)
			a.fail(string(step), err)
			a.rollback(d)
			a.finish(proto.Report{DeploymentJob: job, Step: o.Step, Result: proto.ResultFailed,
				FailureCode: o.Code, FailureReason: f.reason, FailureOutput: f.output, HealthGate: gateOutcome(asg, err)})
			return
		}
	}
	d.app.InstalledAt = time.Now().UTC()
	a.st.Previous, a.st.Current = d.replaced, d.app
	log.Info("deployment finished", "version", asg.ApplicationVersion)
	a.finish(proto.Report{DeploymentJob: job, Step: proto.StepFinished, Result: proto.ResultSucceeded, HealthGate: gateOutcome(asg, nil)})
}

// isLastLaunchStep reports whether step is the assignment's last step
// before Finished (Launching, or ExecutingPostLaunch when it has one).
func isLastLaunchStep(asg *proto.Assignment, step proto.Step) bool {
	steps := asg.Steps()
	return len(steps) >= 2 && steps[len(steps)-2] == step
}

// finish records a final report as pending, durably, then tries to deliver
// it; Run retries until the server has it.
func (a *Agent) finish(rep proto.Report) {
	a.st.Pending = &rep
	if err := a.save(); err != nil {
		// Not delivered before it is on disk (save left unsaved set): a
		// server told of a success the robot could forget would never
		// send the deployment again.
		a.fail("save the agent state", err)
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), client.RequestTimeout)
	defer cancel()
	if err := a.flush(ctx); err != nil {
		a.fail("deliver the deployment result", err)
	}
}

// heartbeat sends the latest progress report when poked and repeats it
// every Heartbeat: it keeps the robot from looking unresponsive during a
// long step and lets the server abort it.
func (a *Agent) heartbeat(ctx context.Context, d *deployment) {
	t := time.NewTicker(a.cfg.Heartbeat)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-d.poke:
		case <-t.C:
		}
		d.mu.Lock()
		rep := d.last
		d.mu.Unlock()
		if rep.Step != "" {
			a.send(ctx, d, rep)
		}
	}
}

// progress records a step (or a download percentage) of d and has the
// heartbeat send it.
func (a *Agent) progress(d *deployment, rep proto.Report) {
	d.mu.Lock()
	d.last = rep
	d.mu.Unlock()
	select {
	case d.poke <- struct{}{}:
	default:
	}
}

// send delivers a progress report with a few retries; a lost one is
// repeated by the heartbeat. An abort in answer (or a 409 NotAssigned: the
// robot's deployment is another one now) aborts d.
func (a *Agent) send(ctx context.Context, d *deployment, rep proto.Report) {
	for attempt := range 3 {
		resp, err := a.cfg.Client.Report(ctx, rep)
		if err == nil {
			if resp.Abort {
				d.abort()
			}
			return
		}
		if he, ok := errors.AsType[*client.HTTPError](err); ok && he.Code == "NotAssigned" {
			d.abort()
			return
		}
		if ctx.Err() != nil {
			return
		}
		a.log.Debug("progress report failed", "error", err)
		a.sleep(ctx, client.BackoffWith(a.cfg.RetryBase/4, 5*time.Second, attempt))
	}
}

// runStep does the work of one step.
func (a *Agent) runStep(d *deployment, step proto.Step) error {
	switch step {
	case proto.StepValidating:
		return a.validate(d)
	case proto.StepExecutingDownloadCondition:
		return a.downloadCondition(d)
	case proto.StepDownloadingExtracting:
		return a.downloadExtract(d)
	case proto.StepExecutingPreLaunch:
		return a.script(d, d.a.LaunchConfig.PreLaunchFile, "pre-launch")
	case proto.StepLaunching:
		return a.launch(d)
	case proto.StepExecutingPostLaunch:
		return a.script(d, d.a.LaunchConfig.PostLaunchFile, "post-launch")
	}
	return fmt.Errorf("unknown step %q", step)
}

func (a *Agent) validate(d *deployment) error {
	spec := a.spec(d.app)
	if err := spec.Validate(); err != nil {
		return err
	}
	if d.a.Bundle.URL == "" {
		return errors.New("the assignment has no bundle URL")
	}
	return nil
}

// downloadCondition fetches the download condition file and runs it; any
// exit status but 0 fails the deployment before the bundle is fetched.
func (a *Agent) downloadCondition(d *deployment) error {
	dir := filepath.Join(a.cfg.StateDir, workDir, jobDir(d.a.DeploymentJob))
	os.RemoveAll(dir)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "download-condition")
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o700)
	if err != nil {
		return err
	}
	// The client verifies it: SHA-256, else the MD5 of a single-part ETag.
	err = a.fetch(d.ctx, *d.a.DownloadCondition, f, nil)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("download condition file: %w", err)
	}
	spec := a.spec(d.app)
	spec.BundleRoot = dir
	return a.runScript(d.ctx, spec, path)
}

// fetch downloads obj into f, retrying transport failures with backoff and
// resuming after what f already holds.
func (a *Agent) fetch(ctx context.Context, obj proto.Object, f *os.File, progress func(done, total int64)) error {
	var err error
	restarted := false
	for attempt := range downloadTries {
		err = a.cfg.Client.Download(ctx, obj, f, progress)
		if err == nil || ctx.Err() != nil {
			return err
		}
		if ie, ok := errors.AsType[*client.IntegrityError](err); ok {
			// Download has discarded the content. A resumed file whose
			// start was damaged (a power loss) deserves one fresh try; an
			// object that is not the recorded one (etag) does not.
			if ie.What == "etag" || restarted {
				return err
			}
			restarted = true
			a.log.Warn("downloaded content does not verify; downloading it again from the start", "error", err)
			continue
		}
		if he, ok := errors.AsType[*client.HTTPError](err); ok && he.Status/100 == 4 && he.Status != 408 && he.Status != 429 {
			return err
		}
		if errors.Is(err, client.ErrPlainHTTP) {
			return err // a URL this agent will not fetch: no retry changes it
		}
		a.log.Warn("download interrupted; resuming", "attempt", attempt+1, "error", err)
		a.sleep(ctx, client.BackoffWith(a.cfg.RetryBase, 30*time.Second, attempt))
	}
	return err
}

// maxServerSeconds bounds a duration the server names in seconds (the
// robot deployment timeout, the health period): 30 days, the longest a
// fleet's job may run. A larger count would wrap a Duration negative: a
// deadline already past, a health gate passed at once.
const maxServerSeconds = 30 * 24 * 60 * 60

// serverSeconds is n seconds, at most maxServerSeconds.
func serverSeconds(n int64) time.Duration {
	return time.Duration(min(n, maxServerSeconds)) * time.Second
}

// downloadExtract fetches the bundle (resuming a partial file), verifies
// it, and extracts it into the deployment's directory. For a colcon v2
// bundle some of whose overlays the robot already has, only the index and
// the missing overlays are fetched (see fetchSparse).
func (a *Agent) downloadExtract(d *deployment) error {
	job := d.a.DeploymentJob
	a.progress(d, percentReport(job, 0, -1))
	dl := filepath.Join(a.cfg.StateDir, downloadsDir, downloadName(d.a.Bundle))
	// The downloads directory never holds more than the bundle being
	// fetched (its .part and .sparse files).
	stem := strings.TrimSuffix(filepath.Base(dl), ".part") + "."
	a.prune(downloadsDir, func(name string) bool { return strings.HasPrefix(name, stem) })
	f, err := os.OpenFile(dl, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return err
	}
	defer f.Close()
	src := dl
	if sparse, ok := a.fetchSparse(d, f); ok {
		src = sparse
		defer os.Remove(sparse)
	} else if err := a.fetchWhole(d, f); err != nil {
		return err
	}
	os.RemoveAll(d.app.Dir)
	x, err := bundle.Extract(d.ctx, src, d.app.Dir, filepath.Join(a.cfg.StateDir, overlaysDir), a.cfg.Limits)
	if err != nil {
		return err
	}
	a.log.Info("bundle extracted", "job", job, "format", x.Format, "overlaysFetched", x.DownloadedOverlays, "overlaysReused", x.ReusedOverlays)
	f.Close()
	os.Remove(dl) // extracted: the archive is not needed any more
	d.app.Dir, d.app.Overlays = x.Root, x.Overlays
	a.progress(d, percentReport(job, 100, 0))
	return nil
}

// installed reports whether dir holds the current or the previous
// application.
func (a *Agent) installed(dir string) bool {
	for _, app := range []*state.App{a.st.Current, a.st.Previous} {
		if app != nil && app.Dir == dir {
			return true
		}
	}
	return false
}

// fetchWhole downloads the whole bundle into f, resuming after what f
// holds, reporting the percentage and the time left, and verifies it.
func (a *Agent) fetchWhole(d *deployment, f *os.File) error {
	job := d.a.DeploymentJob
	var resumed int64
	if st, err := f.Stat(); err == nil {
		resumed = st.Size()
	}
	began := time.Now()
	var lastAt time.Time
	lastPct := -1.0
	err := a.fetch(d.ctx, d.a.Bundle, f, func(done, total int64) {
		if total <= 0 {
			return
		}
		pct := math.Floor(1000*float64(done)/float64(total)) / 10
		if pct >= 100 || (pct-lastPct < 5 && time.Since(lastAt) < time.Second) {
			return
		}
		lastPct, lastAt = pct, time.Now()
		eta := int64(-1)
		if got := done - resumed; got > 0 {
			rate := float64(got) / time.Since(began).Seconds()
			eta = int64(math.Ceil(float64(total-done) / rate))
		}
		a.progress(d, percentReport(job, pct, eta))
	})
	if err != nil {
		return &downloadError{err: err}
	}
	a.log.Info("bundle downloaded", "job", job, "bytes", d.a.Bundle.Size, "resumedFrom", resumed)
	return nil
}

// fetchSparse fetches only what a colcon v2 bundle needs beyond the
// overlays already cached on the robot: the head (version and index, kept
// in f as the start of a normal download: the HeadSize bytes the server
// measured, not colcon-bundle's whole 4 MiB metadata region), verified by
// the HeadSHA256 the server recorded with the version, then each missing
// overlay into a sparse copy whose path it returns. ok is false when that
// does not apply (another format, a server that sent no head digest,
// nothing cached, a server without ranges, a head that does not match its
// digest, any failure): the caller then downloads the whole bundle, which
// verifies its SHA-256. On the sparse path the overlays are verified by the
// SHA-256 the verified index gives each of them (bundle.Extract checks it).
func (a *Agent) fetchSparse(d *deployment, f *os.File) (sparse string, ok bool) {
	obj := d.a.Bundle
	if obj.HeadSHA256 == "" || obj.HeadSize <= 0 || obj.HeadSize > obj.Size {
		return "", false
	}
	headLen, ok := a.fetchHead(d, f, obj.HeadSize)
	if !ok {
		return "", false
	}
	h := sha256.New()
	if _, err := io.Copy(h, io.NewSectionReader(f, 0, obj.HeadSize)); err != nil || hex.EncodeToString(h.Sum(nil)) != obj.HeadSHA256 {
		a.log.Warn("the bundle's head does not match the digest its version recorded; downloading it whole", "job", d.a.DeploymentJob)
		return "", false
	}
	version, overlays, err := bundle.V2Overlays(io.NewSectionReader(f, 0, obj.HeadSize), obj.Size)
	if err != nil || version != 2 {
		return "", false
	}
	cache := filepath.Join(a.cfg.StateDir, overlaysDir)
	var missing []bundle.Overlay
	for _, o := range overlays {
		if fi, err := os.Stat(filepath.Join(cache, o.SHA256)); err != nil || !fi.IsDir() {
			missing = append(missing, o)
		}
	}
	if len(missing) == len(overlays) {
		return "", false // nothing to save: fetch it whole, verified end to end
	}
	path := f.Name() + ".sparse"
	sf, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return "", false
	}
	fail := func(err error) (string, bool) {
		a.log.Info("fetching only the missing overlays failed; downloading the bundle whole", "error", err)
		sf.Close()
		os.Remove(path)
		return "", false
	}
	if _, err := io.Copy(sf, io.NewSectionReader(f, 0, headLen)); err != nil {
		return fail(err)
	}
	if err := sf.Truncate(obj.Size); err != nil {
		return fail(err)
	}
	var fetched int64
	for i, o := range missing {
		if err := a.cfg.Client.FetchRange(d.ctx, obj, sf, o.Offset, o.Size); err != nil {
			return fail(err)
		}
		fetched += o.Size
		pct := math.Floor(1000*float64(i+1)/float64(len(missing))) / 10
		a.progress(d, percentReport(d.a.DeploymentJob, min(pct, 99.9), -1))
	}
	if err := sf.Close(); err != nil {
		return fail(err)
	}
	a.log.Info("bundle fetched without its cached overlays", "job", d.a.DeploymentJob, "bytes", headLen+fetched,
		"headBytes", headLen, "of", obj.Size, "overlaysReused", len(overlays)-len(missing))
	return path, true
}

// fetchHead makes f hold at least the first n bytes of the bundle (a
// partial download already there counts) and returns how many it holds.
func (a *Agent) fetchHead(d *deployment, f *os.File, n int64) (int64, bool) {
	st, err := f.Stat()
	if err != nil {
		return 0, false
	}
	have := st.Size()
	if have >= n {
		return have, true
	}
	if err := a.cfg.Client.FetchRange(d.ctx, d.a.Bundle, f, have, n-have); err != nil {
		a.log.Debug("ranged fetch of the bundle head failed; downloading it whole", "error", err)
		return 0, false
	}
	return n, true
}

func percentReport(job string, pct float64, eta int64) proto.Report {
	rep := proto.Report{DeploymentJob: job, Step: proto.StepDownloadingExtracting, PercentDone: &pct}
	if eta >= 0 {
		rep.ETASeconds = &eta
	}
	return rep
}

// script runs a pre- or post-launch file of the new bundle.
func (a *Agent) script(d *deployment, path, what string) error {
	if err := a.runScript(d.ctx, a.spec(d.app), path); err != nil {
		return fmt.Errorf("%s file: %w", what, err)
	}
	return nil
}

// launch stops the running application and starts the new one, which must
// then stay up for the settle time.
func (a *Agent) launch(d *deployment) error {
	if d.isAborted() || d.ctx.Err() != nil {
		return d.ctx.Err() // canceled: the running application stays
	}
	// A General program that is not in the bundle fails here, before the
	// running application is stopped, with the places it was looked for.
	if spec := a.spec(d.app); spec.SoftwareSuite == launch.SuiteGeneral && spec.LauncherOverride == "" {
		if _, err := launch.LaunchProgram(spec); err != nil {
			return err
		}
	}
	d.replaced = a.st.Current
	a.stopApp()
	d.started = true
	d.logStart = a.appLogSize()
	if err := a.start(d.app); err != nil {
		return err
	}
	d.launchedAt = time.Now()
	if a.cfg.Settle > 0 {
		a.sleep(d.ctx, a.cfg.Settle)
		if d.ctx.Err() != nil {
			return d.ctx.Err()
		}
		if _, _, restarts, _ := a.app.Running(); restarts > 0 {
			a.mu.Lock()
			code := a.status.LastExitCode
			a.mu.Unlock()
			status := "?"
			if code != nil {
				status = fmt.Sprint(*code)
			}
			return fmt.Errorf("the application exited (status %s) within %v of its launch", status, a.cfg.Settle)
		}
	}
	return nil
}

// rollback undoes a deployment that did not finish: the new application is
// stopped and the previous one started again; the new files are removed.
func (a *Agent) rollback(d *deployment) {
	if d.started {
		a.stopApp()
		if prev := d.replaced; prev != nil {
			if err := a.start(prev); err != nil {
				a.fail("restore the previous application", err)
			} else {
				a.log.Info("previous application restored", "job", prev.DeploymentJob)
			}
		}
	}
	if a.st.Current == nil || a.st.Current.Dir != d.app.Dir {
		os.RemoveAll(d.app.Dir)
	}
	a.saveStatus()
}

// runScript runs a script with its output appended to logs/scripts.log
// (its tail also goes into the failure reason); that log is rotated
// (scripts.log.1) whenever it would exceed launch.DefaultMaxLogBytes, also
// while a script runs: a looping script cannot fill the disk.
func (a *Agent) runScript(ctx context.Context, spec launch.Spec, path string) error {
	var w io.Writer
	if f, err := launch.OpenLog(filepath.Join(a.cfg.StateDir, logsDir), "scripts.log", launch.DefaultMaxLogBytes, 1); err == nil {
		defer f.Close()
		w = f
	}
	_, err := launch.RunScript(ctx, spec, path, w)
	return err
}

func truncate(s string, n int) string {
	// The server refuses a failureReason that is not valid UTF-8 or holds a
	// NUL (an error text can quote a bundle's file names).
	s = strings.ToValidUTF8(strings.ReplaceAll(s, "\x00", `\0`), "\uFFFD")
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[:n], "") + "…"
}
