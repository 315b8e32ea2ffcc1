package deploy

// Waker carries wake-ups: hints that something already committed wants
// looking at now rather than at the next tick or poll. A lost wake-up only
// delays that look (a long poll ends within 30 s, the engine revisits every
// job each tick), so implementations never block and never fail.
//
// Implementations: the agent endpoint's Hub (this process's long polls and
// engine) and pgbus.Bus (the other replicas sharing a PostgreSQL database).
type Waker interface {
	// WakeRobot tells the robot's waiting long poll to look again: it was
	// given work, or its deployment was canceled or timed out.
	WakeRobot(robotARN string)
	// WakeEngine tells the engine to look at its jobs: one was created,
	// canceled, or a robot finished.
	WakeEngine()
}

// Wakers fans every wake-up out to each of its wakers (this process's hub
// and, with replicas, the bus).
type Wakers []Waker

// WakeRobot implements Waker.
func (ws Wakers) WakeRobot(robotARN string) {
	for _, w := range ws {
		w.WakeRobot(robotARN)
	}
}

// WakeEngine implements Waker.
func (ws Wakers) WakeEngine() {
	for _, w := range ws {
		w.WakeEngine()
	}
}

// nopWaker is the Waker of a service built without one (tests, tools).
type nopWaker struct{}

func (nopWaker) WakeRobot(string) {}
func (nopWaker) WakeEngine()      {}

// orNop returns w, or a Waker that does nothing when w is nil.
func orNop(w Waker) Waker {
	if w == nil {
		return nopWaker{}
	}
	return w
}
