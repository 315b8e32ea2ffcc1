package agentapi

import (
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fleetsync/fleetsync/internal/deploy"
)

// countingEngine counts the engine wake-ups it gets.
type countingEngine struct{ n int }

func (e *countingEngine) WakeEngine() { e.n++ }

// The hub is this process's deploy.Waker: it must wake exactly the robot
// named, and the engine it was given.
var _ deploy.Waker = (*Hub)(nil)

func closed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// ended reports why p's channel was closed (0: it is open).
func ended(p *heldPoll) uint8 {
	if !closed(p.ch) {
		return 0
	}
	return p.why
}

func TestHubWakesTheRobotNamedAndTheEngine(t *testing.T) {
	eng := &countingEngine{}
	h := &Hub{Engine: eng}
	a, b := h.hold("robot/a"), h.hold("robot/b")
	h.WakeRobot("robot/a")
	if ended(a) != wokenUp || ended(b) != 0 {
		t.Fatalf("WakeRobot(a): a ended %d, b ended %d; want only a woken", ended(a), ended(b))
	}
	if _, live := h.arm("robot/a", a); !live || closed(a.ch) {
		t.Fatal("a poll armed again after its wake-up is not waiting")
	}
	h.WakeRobot("robot/nobody") // no poll: nothing to do, no panic
	h.WakeEngine()
	if eng.n != 1 {
		t.Fatalf("engine woken %d times, want 1", eng.n)
	}
	h.WakeAll()
	if ended(a) != wokenUp || ended(b) != wokenUp || eng.n != 2 {
		t.Fatalf("WakeAll: a ended %d, b %d, engine woken %d times; want both woken and 2", ended(a), ended(b), eng.n)
	}
	h.release("robot/a", a)
	h.release("robot/b", b)
	if len(h.robots) != 0 || h.heldPolls() != 0 {
		t.Fatalf("after both polls answered the hub keeps %d robots", len(h.robots))
	}
	(&Hub{}).WakeEngine() // a hub without an engine (tests, tools) ignores it
}

// TestHubSupersede: a robot's new poll ends its old one (why superseded),
// which arm then refuses; the old one's release leaves the new one held.
func TestHubSupersede(t *testing.T) {
	var h Hub
	old := h.hold("r")
	h.sleepUntil(old, monoNow()+int64(time.Hour))
	p := h.hold("r")
	if ended(old) != superseded || ended(p) != 0 {
		t.Fatalf("old ended %d, new %d; want old superseded, new open", ended(old), ended(p))
	}
	if _, live := h.arm("r", old); live {
		t.Fatal("a superseded poll armed again")
	}
	if h.scheduled() != 0 {
		t.Fatalf("the superseded poll is still in the deadline heap (%d)", h.scheduled())
	}
	h.release("r", old)
	if h.heldPolls() != 1 {
		t.Fatalf("releasing the old poll dropped the new one: %d held", h.heldPolls())
	}
	h.release("r", p)
	if h.heldPolls() != 0 || len(h.robots) != 0 {
		t.Fatal("the hub keeps a robot with no poll and no memo")
	}
}

// TestHubDueTimes: the hub's one timer ends each poll at its own due time,
// in order, whatever order they were scheduled in; a poll woken first
// leaves the heap; a poll rescheduled keeps one slot.
func TestHubDueTimes(t *testing.T) {
	var h Hub
	now := monoNow()
	cases := []struct {
		robot string
		after time.Duration
	}{
		{"late", 300 * time.Millisecond},
		{"early", 20 * time.Millisecond},
		{"mid", 100 * time.Millisecond},
		{"past", -time.Second},
	}
	polls := map[string]*heldPoll{}
	for _, c := range cases {
		p := h.hold(c.robot)
		h.sleepUntil(p, now+int64(c.after))
		polls[c.robot] = p
	}
	never := h.hold("never")
	h.sleepUntil(never, now+int64(time.Hour))
	h.sleepUntil(never, now+int64(2*time.Hour)) // rescheduled: still one slot
	woken := h.hold("woken")
	h.sleepUntil(woken, now+int64(time.Hour))
	h.WakeRobot("woken")
	left := 5
	if ended(polls["past"]) != 0 {
		left-- // the timer ended it already
	}
	if ended(woken) != wokenUp || h.scheduled() != left {
		t.Fatalf("woken: ended %d, %d scheduled; want woken and %d left", ended(woken), h.scheduled(), left)
	}
	for _, c := range []struct {
		robot string
		at    time.Duration
	}{{"past", 0}, {"early", 20 * time.Millisecond}, {"mid", 100 * time.Millisecond}, {"late", 300 * time.Millisecond}} {
		p := polls[c.robot]
		select {
		case <-p.ch:
		case <-time.After(5 * time.Second):
			t.Fatalf("%s not ended in 5 s", c.robot)
		}
		if got := time.Duration(monoNow() - now); p.why != timeUp || got < c.at {
			t.Fatalf("%s ended (why %d) after %s, want timeUp no earlier than %s", c.robot, p.why, got, c.at)
		}
	}
	if ended(never) != 0 || h.scheduled() != 1 {
		t.Fatalf("the poll due in 2 h: ended %d, %d scheduled; want open, 1", ended(never), h.scheduled())
	}
	for r, p := range polls {
		h.release(r, p)
	}
	h.release("never", never)
	h.release("woken", woken)
	if h.scheduled() != 0 || len(h.robots) != 0 {
		t.Fatalf("after every poll answered: %d scheduled, %d robots; want 0, 0", h.scheduled(), len(h.robots))
	}
}

// TestHubIdleMemo: a robot found idle is answered from memory until it is
// woken; a wake-up that races the look (between arming and remembering) is
// never lost; WakeAll and the TTL forget everything.
func TestHubIdleMemo(t *testing.T) {
	var h Hub
	const r, job = "arn:robot/r", "arn:job/1"
	p := h.hold(r)
	wakes, _ := h.arm(r, p)
	h.rememberIdle(r, wakes, job, true, 0)
	if !h.knownIdle(r, job, true, 1) {
		t.Fatal("robot not known idle after a look found nothing")
	}
	if h.knownIdle(r, job, false, 1) || h.knownIdle(r, "arn:job/2", true, 1) {
		t.Error("known idle while it says it runs something else")
	}
	h.release(r, p)
	if !h.knownIdle(r, job, true, 1) {
		t.Error("the memo did not outlive the poll")
	}
	h.WakeRobot(r)
	if h.knownIdle(r, job, true, 2) || len(h.robots) != 0 {
		t.Error("still known idle (or kept) after a wake-up")
	}
	// The race: the look started before a wake-up and remembers after it.
	p = h.hold(r)
	wakes, _ = h.arm(r, p)
	h.WakeRobot(r)
	h.rememberIdle(r, wakes, job, true, 3)
	if h.knownIdle(r, job, true, 4) {
		t.Error("a look older than the wake-up was remembered")
	}
	wakes, _ = h.arm(r, p)
	h.rememberIdle(r, wakes, job, true, 5)
	h.WakeAll()
	if h.knownIdle(r, job, true, 6) {
		t.Error("known idle after WakeAll")
	}
	wakes, _ = h.arm(r, p)
	h.rememberIdle(r, wakes, job, true, 7)
	if h.knownIdle(r, job, true, 7+idleMemoTTL.Milliseconds()+1) {
		t.Error("known idle past the memo's TTL")
	}
	h.release(r, p)
	if len(h.robots) != 0 {
		t.Error("the hub keeps a robot whose memo expired and whose poll ended")
	}
}

// TestHubPark: a parked poll keeps no channel (no goroutine waits on
// it); its end runs resume once, with why; arm gives it a channel again
// for a goroutine's wait; a poll that ended during its look is not
// parked, nor one that would park after CloseParked.
func TestHubPark(t *testing.T) {
	var h Hub
	p := h.hold("r")
	whys := make(chan uint8, 2)
	if parked, _ := h.park(p, monoNow()+int64(time.Hour), resumeFunc(func(why uint8) { whys <- why })); !parked {
		t.Fatal("an open poll was not parked")
	}
	if p.ch != nil {
		t.Fatal("a parked poll keeps its channel")
	}
	if _, parked := h.Held(); parked != 1 {
		t.Fatalf("Held reports %d parked polls, want 1", parked)
	}
	h.WakeRobot("r")
	h.WakeRobot("r") // ended already: resume is not run twice
	if why := <-whys; why != wokenUp {
		t.Fatalf("resume told %d, want wokenUp", why)
	}
	if h.scheduled() != 0 {
		t.Fatal("the woken parked poll is still in the deadline heap")
	}
	if _, live := h.arm("r", p); !live || p.ch == nil || closed(p.ch) {
		t.Fatal("arm did not give the woken poll an open channel")
	}
	h.WakeRobot("r")
	if parked, why := h.park(p, monoNow()+int64(time.Hour), resumeFunc(func(uint8) { t.Error("resume of a poll not parked") })); parked || why != wokenUp {
		t.Fatalf("park of a poll woken during its look: parked %v, why %d; want false, wokenUp", parked, why)
	}
	// A second run would be in a resume worker: give it time.
	select {
	case why := <-whys:
		t.Fatalf("resume run again (%d)", why)
	case <-time.After(50 * time.Millisecond):
	}
	h.release("r", p)

	// After CloseParked no poll parks: it is told shutDown at once.
	q := h.hold("r")
	h.CloseParked()
	if parked, why := h.park(q, monoNow()+int64(time.Hour), resumeFunc(func(uint8) { t.Error("resume of a poll not parked") })); parked || why != shutDown {
		t.Fatalf("park after CloseParked: parked %v, why %d; want false, shutDown", parked, why)
	}
	h.release("r", q)
}

// resumeFunc is a func as a resumer.
type resumeFunc func(why uint8)

func (f resumeFunc) resume(why uint8) { f(why) }
func (f resumeFunc) queued()          {}

// TestWakeAllResumesParkedPollsInAFewWorkers: a WakeAll over 5,000 parked
// polls resumes each once, and never more than resumeWorkers at a time
// (a goroutine per parked poll would run them all at once); Held counts
// them without a walk, before and after.
func TestWakeAllResumesParkedPollsInAFewWorkers(t *testing.T) {
	const n = 5000
	h := &Hub{}
	var running, most, done atomic.Int64
	gate := make(chan struct{})
	polls := make([]*heldPoll, n)
	for i := range polls {
		arn := fmt.Sprintf("r%d", i)
		p := h.hold(arn)
		polls[i] = p
		if parked, why := h.park(p, monoNow()+int64(time.Hour), resumeFunc(func(why uint8) {
			if why != wokenUp {
				t.Errorf("resumed for %d, want wokenUp", why)
			}
			now := running.Add(1)
			for m := most.Load(); now > m && !most.CompareAndSwap(m, now); m = most.Load() {
			}
			<-gate
			running.Add(-1)
			h.release(arn, p)
			done.Add(1)
		})); !parked {
			t.Fatalf("poll %d not parked (why %d)", i, why)
		}
	}
	if all, parked := h.Held(); all != n || parked != n {
		t.Fatalf("Held = %d, %d; want %d, %d", all, parked, n, n)
	}
	h.WakeAll()
	if all, parked := h.Held(); all != n || parked != 0 {
		t.Errorf("Held after WakeAll = %d, %d; want %d live, none parked", all, parked, n)
	}
	// Every worker is started and blocked at the gate.
	deadline := time.Now().Add(10 * time.Second)
	for running.Load() < int64(resumeWorkers) && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	time.Sleep(20 * time.Millisecond) // room for a worker too many to show
	if got := running.Load(); got != int64(resumeWorkers) {
		t.Errorf("%d resumes ran at once, want %d (resumeWorkers)", got, resumeWorkers)
	}
	close(gate)
	deadline = time.Now().Add(10 * time.Second)
	for done.Load() < n && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if got := done.Load(); got != n {
		t.Fatalf("%d of %d parked polls resumed", got, n)
	}
	if m := most.Load(); m > int64(resumeWorkers) {
		t.Errorf("at most %d resumes ran at once, want ≤ %d", m, resumeWorkers)
	}
	if all, parked := h.Held(); all != 0 || parked != 0 {
		t.Errorf("Held after every poll answered = %d, %d; want 0, 0", all, parked)
	}
	// The workers go once the queue is empty.
	workers := func() int { h.resumes.mu.Lock(); defer h.resumes.mu.Unlock(); return h.resumes.workers }
	for workers() > 0 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if n := workers(); n != 0 {
		t.Errorf("%d resume workers left with nothing queued", n)
	}
}

// TestSupersededAfterItEnded: a poll woken (its resume queued, or its
// handler waking) and then replaced by a newer poll of the robot is told
// it was superseded at its next arm, instead of looking and parking again
// out of the hub's reach; the counts stay right.
func TestSupersededAfterItEnded(t *testing.T) {
	h := &Hub{}
	old := h.hold("r")
	if _, live := h.arm("r", old); !live {
		t.Fatal("a fresh poll is not live")
	}
	h.WakeRobot("r") // ended: why wokenUp
	newer := h.hold("r")
	if _, live := h.arm("r", old); live {
		t.Error("the replaced poll is live at its next arm")
	}
	h.release("r", old)
	if all, parked := h.Held(); all != 1 || parked != 0 {
		t.Errorf("Held = %d, %d; want the newer poll only", all, parked)
	}
	if _, live := h.arm("r", newer); !live {
		t.Error("the newer poll is not live")
	}
	h.release("r", newer)
	if all, _ := h.Held(); all != 0 {
		t.Errorf("Held after both answered = %d", all)
	}
}
