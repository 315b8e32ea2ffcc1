package launch

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"syscall"
	"time"
)

// Settings used by a Supervisor whose corresponding field is zero.
const (
	DefaultGrace       = 10 * time.Second
	DefaultBackoffMin  = time.Second
	DefaultBackoffMax  = time.Minute
	DefaultMaxLogBytes = 10 << 20
	DefaultLogKeep     = 5
)

// ErrRunning is returned by Start when the Supervisor already runs an
// application (or has not finished stopping it).
var ErrRunning = errors.New("launch: supervisor already runs an application")

const (
	// pollInterval is how often a stopping Supervisor checks whether what
	// is left of a process group is gone.
	pollInterval = 20 * time.Millisecond
	// drainWait bounds the wait for the end of an application's output
	// once its process group is gone (a process that left the group may
	// still hold it).
	drainWait = time.Second
	// killWait bounds the wait of Stop after SIGKILL, when its context
	// ended before the grace period.
	killWait = time.Second
)

// Supervisor runs one application and keeps it running: it restarts it with
// exponential backoff whenever it exits, until Stop. Set the fields before
// Start; a Supervisor can be started again once stopped. Its methods are
// safe for concurrent use.
type Supervisor struct {
	// LogDir receives the application's stdout and stderr, interleaved, in
	// LogDir/app.log (see LogName), with a line from the Supervisor at each
	// start and exit. Required; created if needed.
	LogDir string
	// MaxLogBytes is the size app.log never exceeds: before a write would
	// exceed it, app.log becomes app.log.1, app.log.1 becomes app.log.2, …
	// (DefaultMaxLogBytes if zero).
	MaxLogBytes int64
	// LogKeep is the number of rotated files kept, app.log.1 … app.log.N
	// (DefaultLogKeep if zero).
	LogKeep int
	// Grace is how long the application's process group has to exit after
	// SIGTERM before it is killed with SIGKILL (DefaultGrace if zero).
	Grace time.Duration
	// BackoffMin and BackoffMax bound the delay before a restart: BackoffMin
	// after the first exit, doubled after each further exit up to
	// BackoffMax, back to BackoffMin once the application has run BackoffMax
	// without exiting (DefaultBackoffMin and DefaultBackoffMax if zero).
	BackoffMin, BackoffMax time.Duration
	// OnCrash, if set, is called on each exit that Stop did not ask for,
	// before the restart's delay: exitCode is the exit status (128+n if
	// killed by signal n, -1 if a restart could not even start the
	// process) and restarts counts these exits since Start (1, 2, …), so
	// that the agent can report crash loops. It runs on the Supervisor's
	// goroutine: it must return quickly and must not call Stop or Start.
	OnCrash func(exitCode int, restarts int)
	// OnRestart, if set, is called once a restart's process has started
	// (not after the first launch, which Start returns), so that an agent
	// holding a long poll can show the new process at once instead of
	// at its next poll. It runs on the Supervisor's goroutine: it must
	// return quickly and must not call Stop or Start.
	OnRestart func(pid int)
	// Now is the clock of Running's start times and of the backoff reset
	// (time.Now if nil).
	Now func() time.Time
	// Cgroup, if set, is a cgroup v2 directory the agent may create
	// cgroups in (DetectCgroup, or the agent's --cgroup): each launch then
	// runs in a cgroup of its own, app-<unit id>, created before the
	// launcher starts (clone into it), so no process of the application
	// can leave it, and a stop ends with cgroup.kill. Without it the unit
	// is found by process group, parent links and UnitEnv (see
	// BecomeSubreaper).
	Cgroup string
	// UnitPrefix starts the unit id of each launch (UnitEnv in every
	// process of it); the agent uses one per state directory so that a
	// restarted agent finds what its predecessor left (KillStray).
	UnitPrefix string

	mu  sync.Mutex
	run *run // the current run; nil when stopped
}

// Start launches the application of spec (see Command) in its own process
// group, with spec.BundleRoot as working directory, and keeps it running.
// It returns once the first process has started, or with the error that
// prevented it (invalid spec, unusable LogDir, ErrRunning, the shell or the
// working directory missing). That the launcher itself is missing shows as
// an exit with status 127 soon after, reported to OnCrash.
func (s *Supervisor) Start(spec Spec) error {
	if err := spec.Validate(); err != nil {
		return err
	}
	if s.LogDir == "" {
		return errors.New("launch: Supervisor.LogDir is not set")
	}
	s.mu.Lock()
	busy := s.run != nil
	s.mu.Unlock()
	if busy {
		return ErrRunning
	}

	r := &run{
		s:       s,
		spec:    spec,
		grace:   orDefault(s.Grace, DefaultGrace),
		onCrash: s.OnCrash,
		now:     s.Now,
		stopc:   make(chan struct{}),
		killc:   make(chan struct{}),
		done:    make(chan struct{}),
	}
	if r.now == nil {
		r.now = time.Now
	}
	r.backoff.min = orDefault(s.BackoffMin, DefaultBackoffMin)
	r.backoff.max = max(orDefault(s.BackoffMax, DefaultBackoffMax), r.backoff.min)
	keep := s.LogKeep
	if keep <= 0 {
		keep = DefaultLogKeep
	}
	log, err := openRotating(s.LogDir, LogName, orDefault(s.MaxLogBytes, DefaultMaxLogBytes), keep)
	if err != nil {
		return fmt.Errorf("launch: application log: %w", err)
	}
	r.log = log

	s.mu.Lock()
	if s.run != nil {
		s.mu.Unlock()
		log.Close()
		return ErrRunning
	}
	s.run = r
	s.mu.Unlock()

	// The processes are forked from r's goroutine, never from the caller's,
	// which may be locked to an OS thread that exits (and whose exit would
	// send the parent-death signal).
	first := make(chan error, 1)
	go r.loop(first)
	if err := <-first; err != nil {
		<-r.done
		return fmt.Errorf("launch: start: %w", err)
	}
	return nil
}

// Stop stops the application: SIGTERM to its whole process group, SIGKILL
// after Grace to whatever is left of it, and no restart afterwards. It
// returns nil once the application's process has exited and its group is
// gone, or at once if nothing runs. If ctx ends first, the group is killed
// with SIGKILL at once and Stop waits a second more before returning
// ctx.Err(); until the Supervisor has finished stopping, Start returns
// ErrRunning.
func (s *Supervisor) Stop(ctx context.Context) error {
	s.mu.Lock()
	r := s.run
	s.mu.Unlock()
	if r == nil {
		return nil
	}
	r.stopOnce.Do(func() { close(r.stopc) })
	select {
	case <-r.done:
		return nil
	case <-ctx.Done():
	}
	r.killOnce.Do(func() { close(r.killc) })
	t := time.NewTimer(killWait)
	defer t.Stop()
	select {
	case <-r.done:
		return nil
	case <-t.C:
		return ctx.Err()
	}
}

// Running reports the application's current process: its pid (which is
// also its process group id), when it started, and the number of exits
// since Start that Stop did not ask for (each followed by a restart). ok is
// false when no process runs: before Start, after Stop, and between an exit
// and the restart (restarts is still reported then).
func (s *Supervisor) Running() (pid int, startedAt time.Time, restarts int, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.run
	if r == nil {
		return 0, time.Time{}, 0, false
	}
	if r.cur == nil {
		return 0, time.Time{}, r.restarts, false
	}
	return r.cur.pid, r.cur.startedAt, r.restarts, true
}

// run is one Start … Stop of a Supervisor.
type run struct {
	s       *Supervisor
	spec    Spec
	grace   time.Duration
	backoff backoff
	onCrash func(exitCode, restarts int)
	now     func() time.Time
	log     *rotatingFile

	stopOnce sync.Once
	stopc    chan struct{} // closed by Stop
	killOnce sync.Once
	killc    chan struct{} // closed by Stop when its ctx ends: SIGKILL now
	done     chan struct{} // closed when the run is over

	// Guarded by s.mu.
	cur      *proc
	restarts int
}

// proc is one launch of a run: the launcher and, in u, every process it
// started.
type proc struct {
	pid       int
	u         *unit
	startedAt time.Time
	out       *os.File      // read end of the stdout/stderr pipe
	copied    chan struct{} // closed when the output copy ends
	exited    chan struct{} // closed once the process is reaped
	status    int           // exit status, set before exited is closed
	endedAt   time.Time     // set before exited is closed
}

func (r *run) stopping() bool {
	select {
	case <-r.stopc:
		return true
	default:
		return false
	}
}

// loop launches the application, reports the first launch's error on
// first, then restarts the application whenever it exits until Stop.
func (r *run) loop(first chan<- error) {
	defer r.finish()
	p, err := r.launch()
	first <- err
	if err != nil {
		return
	}
	for {
		status, ranFor := -1, time.Duration(0)
		if p != nil {
			select {
			case <-p.exited:
			case <-r.stopc:
			}
			stopping := r.stopping()
			// Stopping: the whole group. Exited: what the application
			// left behind, which must not run next to its restart.
			r.terminate(p)
			r.release(p)
			if stopping {
				return
			}
			status, ranFor = p.status, p.endedAt.Sub(p.startedAt)
		}
		delay := r.backoff.next(ranFor)
		r.s.mu.Lock()
		r.restarts++
		n := r.restarts
		r.s.mu.Unlock()
		r.logf("restart %d in %v", n, delay)
		if r.onCrash != nil {
			r.onCrash(status, n)
		}
		t := time.NewTimer(delay)
		select {
		case <-t.C:
		case <-r.stopc:
			t.Stop()
			return
		}
		if p, err = r.launch(); err != nil {
			r.logf("restart failed: %v", err)
		} else if r.s.OnRestart != nil {
			r.s.OnRestart(p.pid)
		}
	}
}

// launch starts one process of the application.
func (r *run) launch() (*proc, error) {
	argv, env := Command(r.spec)
	id := r.s.UnitPrefix + randomID()
	env = append(env, UnitEnv+"="+id)
	pr, pw, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	newCmd := func() *exec.Cmd {
		cmd := exec.Command(argv[0], argv[1:]...)
		cmd.Env = env
		cmd.Dir = r.spec.BundleRoot
		// The child writes into the pipe directly, so Wait does not wait
		// for the output (a leftover child may hold it); it is copied by
		// p.copy.
		cmd.Stdout, cmd.Stderr = pw, pw
		cmd.SysProcAttr = sysProcAttr()
		return cmd
	}
	u := &unit{id: id}
	cmd := newCmd()
	if r.s.Cgroup != "" {
		dir, fd, cerr := newUnitCgroup(r.s.Cgroup, id)
		if cerr != nil {
			r.logf("no cgroup for this launch (%v); tracking its processes by tree and environment", cerr)
		} else {
			u.cg = dir
			intoCgroup(cmd.SysProcAttr, fd)
			defer syscall.Close(fd)
		}
	}
	_, err = startOwned(func() (int, error) {
		err := cmd.Start()
		if err != nil && u.cg != "" {
			// A kernel without clone3's CLONE_INTO_CGROUP (before 5.7):
			// start normally and move the launcher in at once.
			cmd = newCmd()
			if err = cmd.Start(); err == nil {
				_ = os.WriteFile(u.cg+"/cgroup.procs", []byte(strconv.Itoa(cmd.Process.Pid)), 0)
			}
		}
		if err != nil {
			return 0, err
		}
		return cmd.Process.Pid, nil
	})
	pw.Close()
	if err != nil {
		u.remove()
		pr.Close()
		return nil, err
	}
	u.top = cmd.Process.Pid
	p := &proc{
		u:         u,
		pid:       cmd.Process.Pid,
		startedAt: r.now(),
		out:       pr,
		copied:    make(chan struct{}),
		exited:    make(chan struct{}),
	}
	r.s.mu.Lock()
	r.cur = p
	r.s.mu.Unlock()
	r.logf("started process %d", p.pid)
	go p.copy(r.log)
	go func() {
		_ = cmd.Wait()
		releaseOwned(p.pid)
		p.status = exitStatus(cmd.ProcessState)
		p.endedAt = r.now()
		r.s.mu.Lock()
		if r.cur == p {
			r.cur = nil
		}
		r.s.mu.Unlock()
		close(p.exited)
	}()
	return p, nil
}

// terminate sends SIGTERM to every process of p's unit and returns once p
// has exited and no process of the unit is left, sending SIGKILL to all of
// them after the grace period (or at once when Stop's context ends).
// Processes that appear while it waits (a node started late, an orphan
// re-parented) get their SIGTERM as they are found.
func (r *run) terminate(p *proc) {
	defer p.u.remove()
	signalled := map[int]bool{}
	_ = syscall.Kill(-p.pid, syscall.SIGTERM)
	term := func() {
		for _, pid := range p.u.members() {
			if !signalled[pid] {
				signalled[pid] = true
				_ = syscall.Kill(pid, syscall.SIGTERM)
			}
		}
	}
	term()
	grace := time.NewTimer(r.grace)
	defer grace.Stop()
	tick := time.NewTicker(pollInterval)
	defer tick.Stop()
	exited := p.exited
	for {
		select {
		case <-exited:
			exited = nil
		case <-tick.C:
		case <-grace.C:
			r.kill(p)
			return
		case <-r.killc:
			r.kill(p)
			return
		}
		if exited == nil && !p.u.alive() {
			return
		}
		term()
	}
}

// kill ends every process of p's unit with SIGKILL and waits for p to exit
// and for the unit to be empty (bounded: a process in uninterruptible
// sleep dies when it wakes).
func (r *run) kill(p *proc) {
	p.u.kill()
	<-p.exited
	for end := time.Now().Add(5 * killWait); p.u.alive() && time.Now().Before(end); {
		time.Sleep(pollInterval)
		p.u.kill()
	}
	if p.u.alive() {
		r.logf("processes of the application survived SIGKILL: %v", p.u.members())
	}
}

// release finishes with an exited process: waits for the end of its
// output (a bounded time: a process that left the group may hold the pipe)
// and logs its exit.
func (r *run) release(p *proc) {
	t := time.NewTimer(drainWait)
	select {
	case <-p.copied:
	case <-t.C:
	}
	t.Stop()
	p.out.Close()
	<-p.copied
	r.logf("process %d exited with status %d after %v", p.pid, p.status, p.endedAt.Sub(p.startedAt).Round(time.Millisecond))
}

// finish ends the run.
func (r *run) finish() {
	r.log.Close()
	r.s.mu.Lock()
	if r.s.run == r {
		r.s.run = nil
	}
	r.s.mu.Unlock()
	close(r.done)
}

// logf writes a line of the Supervisor into the application's log.
func (r *run) logf(format string, args ...any) {
	line := fmt.Sprintf("[fleetsync %s] %s\n", r.now().UTC().Format(time.RFC3339Nano), fmt.Sprintf(format, args...))
	_, _ = io.WriteString(r.log, line)
}

// copy copies the process's output into the log until the pipe is closed
// by every writer or by release. Write errors are ignored: the pipe must be
// drained, or the application would block on it.
func (p *proc) copy(w io.Writer) {
	defer close(p.copied)
	buf := make([]byte, 32<<10)
	for {
		n, err := p.out.Read(buf)
		if n > 0 {
			_, _ = w.Write(buf[:n])
		}
		if err != nil {
			return
		}
	}
}

// backoff computes restart delays.
type backoff struct {
	min, max time.Duration
	n        int // consecutive quick exits so far
}

// next returns the delay before restarting an application that ran for
// ranFor: min, doubled for each consecutive exit up to max; the sequence
// starts again once the application ran max or longer.
func (b *backoff) next(ranFor time.Duration) time.Duration {
	if ranFor >= b.max {
		b.n = 0
	}
	d := b.min
	for i := 0; i < b.n && d < b.max; i++ {
		d *= 2
	}
	b.n++
	return min(d, b.max)
}

func orDefault[T int64 | time.Duration](v, def T) T {
	if v <= 0 {
		return def
	}
	return v
}

// randomID returns 12 random hex digits, the variable part of a unit id.
func randomID() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
