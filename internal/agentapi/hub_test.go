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
