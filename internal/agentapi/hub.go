package agentapi

import (
	"container/heap"
	"runtime"
	"sync"
	"time"
)

// Hub is this process's end of the wake-ups (deploy.Waker): it wakes the
// robots' waiting long polls and this process's engine. pgbus.Bus is the
// other end, for the replicas sharing a PostgreSQL database.
//
// What a held poll costs here is kept to a few hundred bytes, since an
// idle fleet is mostly held polls: one entry per robot (its live poll and
// its idle memo), one heldPoll (with a channel, except while it is
// parked), and one slot in the hub's deadline heap; a single timer serves
// every held poll's deadline, so no per-poll timer or goroutine is left
// running.
type Hub struct {
	// Engine is this process's engine; nil when there is none.
	Engine interface{ WakeEngine() }

	mu     sync.Mutex
	robots map[string]*robotState
	// due holds the polls waiting for a deadline, earliest first; timer
	// fires at the earliest.
	due   dueHeap
	timer *time.Timer
	// timerAt is when timer is set to fire (monotonic ns since epoch), 0
	// when it is stopped.
	timerAt int64
	// closed: CloseParked ran; no poll parks any more.
	closed bool
	// held and parked count the live polls and those of them parked
	// (Held), kept as polls come and go so that a scrape walks nothing.
	held, parked int
	// resumes carries parked polls on when they end.
	resumes resumeQueue
}

// robotState is what the hub knows of one robot: its live long poll (a new
// one ends the old, so that one key cannot hold more than one request
// open) and its idle memo. It is dropped when it holds neither.
type robotState struct {
	poll *heldPoll
	// wakes counts the robot's wake-ups: a look that began before one is
	// not remembered (rememberIdle), so a wake-up racing it is never lost.
	wakes uint32
	// The idle memo: the robot's last look found nothing for it to do
	// while it ran memoJob (memoFinished); its next polls are answered
	// from here, without looking for work in the database, until its next
	// wake-up (every change that gives a robot work wakes it: the engine's
	// writes here, the other replicas' through the bus, WakeAll when the
	// bus may have lost some) or memoUntilMs (idleMemoTTL), which bounds
	// what a lost wake-up could cost.
	memo         bool
	memoFinished bool
	memoJob      string
	memoUntilMs  int64
}

// Why a held poll's channel was closed.
const (
	wokenUp    uint8 = iota + 1 // the robot was woken (WakeRobot, WakeAll)
	timeUp                      // the poll's due time came
	superseded                  // a newer poll of the robot replaced it
	shutDown                    // the server is closing (CloseParked)
)

// heldPoll is one live long poll. ch is closed, with why saying why, when
// the poll has something to do; arm gives it a fresh one for its next
// wait (a parked poll has none: its resumer is run instead). Fields are
// guarded by Hub.mu, except that why may be read without it once ch is
// seen closed (the close orders the write before).
type heldPoll struct {
	ch  chan struct{}
	why uint8
	// at is the monotonic time (ns since epoch) the poll is due at while
	// it is in the deadline heap (idx >= 0).
	at  int64
	idx int
	// resume, set while the poll is parked (held without a goroutine;
	// park.go), is run by the hub's resume workers when the poll ends.
	resume resumer
}

// resumer carries a parked poll on when it ends (parkedPoll). An
// interface holding the parked poll, where a method value would be a
// closure allocated at every park. queued is told that it waits for a
// resume worker (before a resume for a look; not before one that answers
// at once).
type resumer interface {
	queued()
	resume(why uint8)
}

// resumeWorkers bounds the goroutines carrying parked polls on (64 on
// up to 8 cores, twice the slots beyond). A deployment to a whole fleet,
// or a WakeAll, ends every parked poll at once: a goroutine each would be 100,000 goroutines (and their stacks)
// for a fleet of 100,000 behind a proxy, all but a few waiting for one of
// the agent endpoint's slots. Queued, an ended poll costs a queue entry
// until a worker takes it; the workers outnumber the slots, so that one
// writing its answer to a slow connection (parkedWriteTimeout) does not
// hold the others up.
var resumeWorkers = max(64, 2*slotsPerCPU*runtime.GOMAXPROCS(0))

// resumeQueue runs resumers in at most resumeWorkers goroutines, first
// ended first, started when there is work and gone when there is none.
type resumeQueue struct {
	mu      sync.Mutex
	queue   []queuedResume
	workers int
}

type queuedResume struct {
	r   resumer
	why uint8
}

// push queues r to be resumed for why; it never blocks.
func (q *resumeQueue) push(r resumer, why uint8) {
	r.queued()
	q.mu.Lock()
	q.queue = append(q.queue, queuedResume{r, why})
	start := q.workers < resumeWorkers
	if start {
		q.workers++
	}
	q.mu.Unlock()
	if start {
		go q.work()
	}
}

// work resumes queued polls until the queue is empty.
func (q *resumeQueue) work() {
	for {
		q.mu.Lock()
		if len(q.queue) == 0 {
			q.queue = nil // the backing array of a burst goes too
			q.workers--
			q.mu.Unlock()
			return
		}
		next := q.queue[0]
		q.queue[0] = queuedResume{}
		q.queue = q.queue[1:]
		q.mu.Unlock()
		next.r.resume(next.why)
	}
}

// epoch is the origin of the hub's monotonic clock.
var epoch = time.Now()

// monoNow is the hub's monotonic clock: ns since epoch.
func monoNow() int64 { return int64(time.Since(epoch)) }

// hold makes p the robot's live long poll: the poll it replaces, if any,
// is ended (why superseded). release must be called when the poll answers.
func (h *Hub) hold(robotARN string) *heldPoll {
	p := &heldPoll{ch: make(chan struct{}), idx: -1}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.robots == nil {
		h.robots = map[string]*robotState{}
	}
	st := h.robots[robotARN]
	if st == nil {
		st = &robotState{}
		h.robots[robotARN] = st
	}
	if st.poll != nil {
		h.end(st.poll, superseded)
	} else {
		h.held++
	}
	st.poll = p
	return p
}

// release forgets p, the robot's poll, when it answers.
func (h *Hub) release(robotARN string, p *heldPoll) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.unschedule(p)
	if st := h.robots[robotARN]; st != nil && st.poll == p {
		st.poll = nil
		h.held--
		if !st.memo {
			delete(h.robots, robotARN)
		}
	}
}

// end closes p's channel for why, unless it is closed already, and takes
// it off the deadline heap. h.mu must be held.
func (h *Hub) end(p *heldPoll, why uint8) {
	if p.why != 0 {
		return
	}
	p.why = why
	if p.ch != nil {
		close(p.ch)
	}
	h.unschedule(p)
	if r := p.resume; r != nil {
		p.resume = nil
		h.parked--
		h.carryOn(r, why)
	}
}

// carryOn runs the resume of a parked poll that ended for why: a look
// (woken or due) waits for one of the resume workers; a 409 or a close
// (superseded, shut down) needs no slot and runs at once, never behind
// looks waiting for the database.
func (h *Hub) carryOn(r resumer, why uint8) {
	if why == superseded || why == shutDown {
		go r.resume(why)
		return
	}
	h.resumes.push(r, why)
}

// arm readies p for its next look and wait: a fresh channel if the last
// was closed (a wake-up, or its due time). It returns false when p was
// superseded, and the robot's wake-up count, for rememberIdle.
func (h *Hub) arm(robotARN string, p *heldPoll) (wakes uint32, live bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	st := h.robots[robotARN]
	if p.why == superseded || st == nil || st.poll != p {
		// Replaced: told so by end, or replaced after it had ended
		// (woken or due), when end left it as it was.
		return 0, false
	}
	if p.why != 0 || p.ch == nil {
		p.ch, p.why = make(chan struct{}), 0
	}
	return st.wakes, true
}

// sleepUntil schedules p's channel to close (why timeUp) at the monotonic
// time at, unless something closes it first.
func (h *Hub) sleepUntil(p *heldPoll, at int64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if p.why != 0 {
		return // woken during the look: it acts at once
	}
	h.schedule(p, at)
}

// park is sleepUntil for a poll no goroutine waits for: resume is run
// (carryOn) when p ends. It returns false, and why p ended, when p ended
// during its look: the caller goes on at once (carryOn too).
func (h *Hub) park(p *heldPoll, at int64, resume resumer) (parked bool, why uint8) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if p.why != 0 {
		return false, p.why
	}
	if h.closed {
		return false, shutDown // CloseParked ran while the poll looked
	}
	// No goroutine waits on the channel now: it goes (96 bytes per parked
	// poll); arm makes a fresh one for the poll's next look (garbage as
	// soon as it parks again, the price of one arm for both kinds).
	p.resume, p.ch = resume, nil
	h.parked++
	h.schedule(p, at)
	return true, 0
}

// CloseParked ends every parked poll (why shutDown), and those that would
// park from now on (a poll looking now): their connections are closed, as
// the server's own are when it shuts down, and their agents poll again
// elsewhere or later.
func (h *Hub) CloseParked() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.closed = true
	for _, st := range h.robots {
		if st.poll != nil && st.poll.resume != nil {
			h.end(st.poll, shutDown)
		}
	}
}

// schedule puts p in the deadline heap at at. h.mu must be held.
func (h *Hub) schedule(p *heldPoll, at int64) {
	if p.idx >= 0 {
		p.at = at
		heap.Fix(&h.due, p.idx)
	} else {
		p.at = at
		heap.Push(&h.due, p)
	}
	h.resetTimer()
}

// unschedule takes p off the deadline heap. h.mu must be held.
func (h *Hub) unschedule(p *heldPoll) {
	if p.idx >= 0 {
		heap.Remove(&h.due, p.idx)
	}
	// The timer is left as it is: firing early finds nothing due and is
	// set again for the earliest poll.
}

// resetTimer sets the hub's timer to the earliest due poll. h.mu must be
// held.
func (h *Hub) resetTimer() {
	if len(h.due) == 0 {
		return
	}
	at := h.due[0].at
	if h.timerAt != 0 && h.timerAt <= at {
		return // it fires first anyway, and sets itself again
	}
	d := time.Duration(at - monoNow())
	if h.timer == nil {
		h.timer = time.AfterFunc(d, h.fire)
	} else {
		h.timer.Reset(d)
	}
	h.timerAt = at
}

// fire ends every poll now due, then sets the timer for the next.
func (h *Hub) fire() {
	h.mu.Lock()
	defer h.mu.Unlock()
	now := monoNow()
	for len(h.due) > 0 && h.due[0].at <= now {
		h.end(h.due[0], timeUp)
	}
	h.timerAt = 0
	h.resetTimer()
}

// heldPolls is how many long polls are live (for tests).
func (h *Hub) heldPolls() int {
	all, _ := h.Held()
	return all
}

// Held is how many long polls are live, and how many of them are parked
// (for metrics).
func (h *Hub) Held() (all, parked int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.held, h.parked
}

// scheduled is how many polls wait for a due time (for tests).
func (h *Hub) scheduled() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.due)
}

// idleMemoTTL is how long a robot found idle is believed idle without a
// look at the database: longer than an idle poll's hold (DefaultIdleWait),
// so a fleet at rest reads nothing, and what a lost wake-up could delay.
const idleMemoTTL = 10 * time.Minute

// rememberIdle records that a look made when the robot's wake-up count was
// wakes (arm) found nothing for the robot to do while it ran current; it is
// not recorded if the robot was woken since, so a wake-up racing the look
// is never lost.
func (h *Hub) rememberIdle(robotARN string, wakes uint32, current string, finished bool, nowMs int64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	st := h.robots[robotARN]
	if st == nil || st.poll == nil || st.wakes != wakes {
		return
	}
	st.memo, st.memoJob, st.memoFinished, st.memoUntilMs = true, current, finished, nowMs+idleMemoTTL.Milliseconds()
}

// knownIdle reports whether the robot is known to have nothing to do while
// it runs current.
func (h *Hub) knownIdle(robotARN, current string, finished bool, nowMs int64) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	st := h.robots[robotARN]
	if st == nil || !st.memo {
		return false
	}
	if st.memoUntilMs < nowMs {
		st.forget()
		return false
	}
	return st.memoJob == current && st.memoFinished == finished
}

// forget drops the idle memo.
func (st *robotState) forget() { st.memo, st.memoJob = false, "" }

// WakeRobot wakes the robot's waiting long poll, if any, and forgets its
// idle memo (deploy.Waker).
func (h *Hub) WakeRobot(robotARN string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	st := h.robots[robotARN]
	if st == nil {
		return
	}
	st.wakes++
	st.forget()
	if st.poll == nil {
		delete(h.robots, robotARN)
		return
	}
	h.end(st.poll, wokenUp)
}

// ForgetRobot ends what the hub holds of a deleted robot (deploy.Forgetter):
// its idle memo, and its held poll, which is woken to look again and so
// finds no robot (401) instead of being answered from memory when its wait
// ends. It must be told after the identity cache (Robots.ForgetRobot).
func (h *Hub) ForgetRobot(robotARN string) { h.WakeRobot(robotARN) }

// WakeEngine wakes this process's engine (deploy.Waker).
func (h *Hub) WakeEngine() {
	if h.Engine != nil {
		h.Engine.WakeEngine()
	}
}

// WakeAll wakes every waiting long poll and the engine, for when wake-ups
// may have been lost (each then looks at the database again).
func (h *Hub) WakeAll() {
	h.mu.Lock()
	for arn, st := range h.robots {
		st.wakes++
		st.forget()
		if st.poll == nil {
			delete(h.robots, arn)
			continue
		}
		h.end(st.poll, wokenUp)
	}
	h.mu.Unlock()
	h.WakeEngine()
}

// dueHeap orders held polls by due time (container/heap).
type dueHeap []*heldPoll

func (d dueHeap) Len() int           { return len(d) }
func (d dueHeap) Less(i, j int) bool { return d[i].at < d[j].at }
func (d dueHeap) Swap(i, j int) {
	d[i], d[j] = d[j], d[i]
	d[i].idx, d[j].idx = i, j
}

func (d *dueHeap) Push(x any) {
	p := x.(*heldPoll)
	p.idx = len(*d)
	*d = append(*d, p)
}

func (d *dueHeap) Pop() any {
	old := *d
	p := old[len(old)-1]
	old[len(old)-1] = nil
	p.idx = -1
	*d = old[:len(old)-1]
	return p
}
