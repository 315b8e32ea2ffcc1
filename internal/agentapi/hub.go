package agentapi

import (
	"sync"
	"time"
)

// Hub is this process's end of the wake-ups (deploy.Waker): it wakes the
// robots' waiting long polls and this process's engine. pgbus.Bus is the
// other end, for the replicas sharing a PostgreSQL database.
type Hub struct {
	// Engine is this process's engine; nil when there is none.
	Engine interface{ WakeEngine() }

	mu      sync.Mutex
	waiters map[string]chan struct{}
	// idle remembers robots whose last look found nothing for them to do,
	// with what they said they run: their next polls are answered from
	// here, without looking for work in the database, until their next
	// wake-up (every change that gives a robot work wakes it: the engine's
	// writes here, the other replicas' through the bus, WakeAll when the
	// bus may have lost some) or idleMemoTTL, which bounds what a lost
	// wake-up could cost.
	idle map[string]idleMemo
	// polls is each robot's one live long poll (a new one ends the old),
	// so that one key cannot hold more than one request open.
	polls map[string]chan struct{}
}

// hold makes the caller the robot's live long poll: the poll it replaces,
// if any, is ended (its channel closed). ended is closed when a newer poll
// of the robot arrives; release must be called when the poll answers.
func (h *Hub) hold(robotARN string) (ended <-chan struct{}, release func()) {
	ch := make(chan struct{})
	h.mu.Lock()
	if h.polls == nil {
		h.polls = map[string]chan struct{}{}
	}
	if old, ok := h.polls[robotARN]; ok {
		close(old)
	}
	h.polls[robotARN] = ch
	h.mu.Unlock()
	return ch, func() {
		h.mu.Lock()
		if h.polls[robotARN] == ch {
			delete(h.polls, robotARN)
		}
		h.mu.Unlock()
	}
}

// heldPolls is how many long polls are live (for tests and metrics).
func (h *Hub) heldPolls() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.polls)
}

// idleMemoTTL is how long a robot found idle is believed idle without a
// look at the database: longer than an idle poll's hold (DefaultIdleWait),
// so a fleet at rest reads nothing, and what a lost wake-up could delay.
const idleMemoTTL = 10 * time.Minute

// idleMemo is a robot found with nothing to do while it ran current.
type idleMemo struct {
	current  string
	finished bool
	untilMs  int64
}

// rememberIdle records that a look made after taking woken (the robot's
// wake-up channel) found nothing for the robot to do; it is forgotten if
// the robot was woken since, so a wake-up racing the look is never lost.
func (h *Hub) rememberIdle(robotARN string, woken <-chan struct{}, current string, finished bool, nowMs int64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if ch, ok := h.waiters[robotARN]; !ok || (<-chan struct{})(ch) != woken {
		return
	}
	if h.idle == nil {
		h.idle = map[string]idleMemo{}
	}
	h.idle[robotARN] = idleMemo{current: current, finished: finished, untilMs: nowMs + idleMemoTTL.Milliseconds()}
}

// knownIdle reports whether the robot is known to have nothing to do while
// it runs current.
func (h *Hub) knownIdle(robotARN, current string, finished bool, nowMs int64) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	m, ok := h.idle[robotARN]
	if ok && m.untilMs < nowMs {
		delete(h.idle, robotARN)
		return false
	}
	return ok && m.current == current && m.finished == finished
}

// wait returns a channel closed at the robot's next WakeRobot.
func (h *Hub) wait(robotARN string) <-chan struct{} {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.waiters == nil {
		h.waiters = map[string]chan struct{}{}
	}
	ch, ok := h.waiters[robotARN]
	if !ok {
		ch = make(chan struct{})
		h.waiters[robotARN] = ch
	}
	return ch
}

// WakeRobot wakes the robot's waiting long poll, if any (deploy.Waker).
func (h *Hub) WakeRobot(robotARN string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if ch, ok := h.waiters[robotARN]; ok {
		close(ch)
		delete(h.waiters, robotARN)
	}
	delete(h.idle, robotARN)
}

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
	for r, ch := range h.waiters {
		close(ch)
		delete(h.waiters, r)
	}
	h.idle = nil
	h.mu.Unlock()
	h.WakeEngine()
}
