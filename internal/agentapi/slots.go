package agentapi

import (
	"container/list"
	"context"
	"runtime"
	"sync"
)

// slots bounds how many agent requests do their work (authentication,
// decoding, the store's reads and writes) at once. When a rollout wakes
// 10,000 long polls at once, 10,000 runnable goroutines would share two
// cores with everything else, and an operator's DescribeDeploymentJob
// waited seconds for its turn (its p99 was over 2 s while its own work
// takes 25 ms). With the work bounded, the rest of the requests wait
// blocked, costing no CPU. A held long poll waits outside any slot, and so
// does a bundle download's streaming.
//
// A freed slot goes to the oldest waiting request that finishes work a
// robot began (a report, a log upload) before any that may begin new work
// (a poll, a session opening): at 100,000 robots started at once the
// queue holds a minute of polls, and reports served in arrival order ran
// out their agents' timeout behind hand-outs that only added more reports
// to the queue. Reports come only from robots handed work, so polls are
// not starved.
type slots struct {
	mu   sync.Mutex
	max  int // 0 until first used
	busy int
	// waiting holds each priority's waiting requests, oldest first.
	waiting [priorities]list.List
}

// priority orders the requests waiting for a slot.
type priority int

const (
	// begins: a request that may hand a robot new work (a poll, a session
	// opening).
	begins priority = iota
	// finishes: a request that ends work a robot began (a report).
	finishes
	priorities
)

// slotWaiter is a request waiting for a slot; granted (under slots.mu)
// once leave handed it one, which ready then carries.
type slotWaiter struct {
	ready   chan struct{}
	granted bool
}

// slotsPerCPU is how many agent requests work at once per core: enough to
// keep the cores busy while some wait for the database.
const slotsPerCPU = 4

// enter waits for a slot; release gives it back. It fails only when ctx
// ends first (the agent went away).
func (s *slots) enter(ctx context.Context, p priority) (release func(), err error) {
	if s.tryEnter() {
		return s.leave, nil
	}
	return s.wait(ctx, p)
}

// tryEnter takes a free slot, if there is one, without waiting.
func (s *slots) tryEnter() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.max == 0 {
		s.max = slotsPerCPU * runtime.GOMAXPROCS(0)
	}
	// A free slot with requests waiting is one leave is handing over.
	if s.busy < s.max && s.waiting[begins].Len() == 0 && s.waiting[finishes].Len() == 0 {
		s.busy++
		return true
	}
	return false
}

// wait waits for a slot (after tryEnter) behind the requests of the same
// or a higher priority that wait already.
func (s *slots) wait(ctx context.Context, p priority) (release func(), err error) {
	w := &slotWaiter{ready: make(chan struct{}, 1)}
	s.mu.Lock()
	if s.busy < s.max && s.waiting[begins].Len() == 0 && s.waiting[finishes].Len() == 0 {
		s.busy++ // freed since tryEnter
		s.mu.Unlock()
		return s.leave, nil
	}
	e := s.waiting[p].PushBack(w)
	s.mu.Unlock()
	select {
	case <-w.ready:
		return s.leave, nil
	case <-ctx.Done():
	}
	s.mu.Lock()
	granted := w.granted
	if !granted {
		s.waiting[p].Remove(e)
	}
	s.mu.Unlock()
	if granted {
		s.leave() // handed one as the agent went away: the next takes it
	}
	return nil, ctx.Err()
}

// leave gives a slot back, to the first waiting request of the highest
// priority if there is one.
func (s *slots) leave() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for p := priorities - 1; p >= begins; p-- {
		if e := s.waiting[p].Front(); e != nil {
			w := s.waiting[p].Remove(e).(*slotWaiter)
			w.granted = true
			w.ready <- struct{}{}
			return
		}
	}
	s.busy--
}

// enterSlot is slots.enter for a request of a known robot: while it waits
// for its turn the robot counts as heard (deploy.Presence.Waiting).
func (a *API) enterSlot(ctx context.Context, robotARN string, p priority) (release func(), err error) {
	if a.slots.tryEnter() {
		return a.slots.leave, nil
	}
	a.cfg.Robots.Waiting(robotARN)
	defer a.cfg.Robots.EndWait(robotARN)
	return a.slots.wait(ctx, p)
}
