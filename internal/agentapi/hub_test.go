package agentapi

import (
	"testing"

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

func TestHubWakesTheRobotNamedAndTheEngine(t *testing.T) {
	eng := &countingEngine{}
	h := &Hub{Engine: eng}
	a, b := h.wait("robot/a"), h.wait("robot/b")
	if again := h.wait("robot/a"); again != a {
		t.Fatal("two polls of one robot wait on different channels")
	}
	h.WakeRobot("robot/a")
	if !closed(a) || closed(b) {
		t.Fatalf("WakeRobot(a): a woken %v, b woken %v; want only a", closed(a), closed(b))
	}
	if next := h.wait("robot/a"); closed(next) {
		t.Fatal("a poll after the wake-up is woken already")
	}
	h.WakeRobot("robot/nobody") // no waiter: nothing to do, no panic
	h.WakeEngine()
	if eng.n != 1 {
		t.Fatalf("engine woken %d times, want 1", eng.n)
	}
	h.WakeAll()
	if !closed(b) || eng.n != 2 {
		t.Fatalf("WakeAll: b woken %v, engine woken %d times; want b woken and 2", closed(b), eng.n)
	}
	(&Hub{}).WakeEngine() // a hub without an engine (tests, tools) ignores it
}

// TestHubIdleMemo: a robot found idle is answered from memory until it is
// woken; a wake-up that races the look (between taking the wake-up channel
// and remembering) is never lost; WakeAll and the TTL forget everything.
func TestHubIdleMemo(t *testing.T) {
	var h Hub
	const r, job = "arn:robot/r", "arn:job/1"
	woken := h.wait(r)
	h.rememberIdle(r, woken, job, true, 0)
	if !h.knownIdle(r, job, true, 1) {
		t.Fatal("robot not known idle after a look found nothing")
	}
	if h.knownIdle(r, job, false, 1) || h.knownIdle(r, "arn:job/2", true, 1) {
		t.Error("known idle while it says it runs something else")
	}
	h.WakeRobot(r)
	if h.knownIdle(r, job, true, 2) {
		t.Error("still known idle after a wake-up")
	}
	// The race: the look started before a wake-up and remembers after it.
	woken = h.wait(r)
	h.WakeRobot(r)
	h.rememberIdle(r, woken, job, true, 3)
	if h.knownIdle(r, job, true, 4) {
		t.Error("a look older than the wake-up was remembered")
	}
	woken = h.wait(r)
	h.rememberIdle(r, woken, job, true, 5)
	h.WakeAll()
	if h.knownIdle(r, job, true, 6) {
		t.Error("known idle after WakeAll")
	}
	woken = h.wait(r)
	h.rememberIdle(r, woken, job, true, 7)
	if h.knownIdle(r, job, true, 7+idleMemoTTL.Milliseconds()+1) {
		t.Error("known idle past the memo's TTL")
	}
}
