package agentapi

import "sync"

// Hub is this process's end of the wake-ups (deploy.Waker): it wakes the
// robots' waiting long polls and this process's engine. pgbus.Bus is the
// other end, for the replicas sharing a PostgreSQL database.
type Hub struct {
	// Engine is this process's engine; nil when there is none.
	Engine interface{ WakeEngine() }

	mu      sync.Mutex
	waiters map[string]chan struct{}
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
	h.mu.Unlock()
	h.WakeEngine()
}
