package agentapi

import (
	"context"
	"runtime"
	"sync"
	"sync/atomic"
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
// Waiting requests enter in arrival order. Two other orders were measured
// with 100,000 robots started at once (one run each) and were worse:
// reports before polls (58 robots Failed, their hand-outs answered to
// polls whose agents had given up), and the newest first once the oldest
// had waited 2 s (484 s to InSync and 16.2 requests per robot, against
// 290 s and 8.1: starved requests time out and come back). Giving agents
// one slot per core while an operator's request is served did not move
// Describe's p99 in four 10,000-robot runs against three.
type slots struct {
	once sync.Once
	ch   chan struct{}
	// waiting counts the requests waiting for a slot (Backlog).
	waiting atomic.Int64
}

// slotsPerCPU is how many agent requests work at once per core: enough to
// keep the cores busy while some wait for the database.
const slotsPerCPU = 4

// enter waits for a slot; release gives it back. It fails only when ctx
// ends first (the agent went away).
func (s *slots) enter(ctx context.Context) (release func(), err error) {
	if s.tryEnter() {
		return s.leave, nil
	}
	return s.wait(ctx)
}

// tryEnter takes a free slot, if there is one, without waiting.
func (s *slots) tryEnter() bool {
	s.once.Do(func() { s.ch = make(chan struct{}, slotsPerCPU*runtime.GOMAXPROCS(0)) })
	select {
	case s.ch <- struct{}{}:
		return true
	default:
		return false
	}
}

// wait waits for a slot (after tryEnter).
func (s *slots) wait(ctx context.Context) (release func(), err error) {
	s.waiting.Add(1)
	defer s.waiting.Add(-1)
	select {
	case s.ch <- struct{}{}:
		return s.leave, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (s *slots) leave() { <-s.ch }

// enterSlot is slots.enter for a request of a known robot: while it waits
// for its turn the robot counts as heard (deploy.Presence.Waiting).
func (a *API) enterSlot(ctx context.Context, robotARN string) (release func(), err error) {
	if a.slots.tryEnter() {
		return a.slots.leave, nil
	}
	a.cfg.Robots.Waiting(robotARN)
	defer a.cfg.Robots.EndWait(robotARN)
	return a.slots.wait(ctx)
}

// Backlog counts the agent requests waiting now for their turn to do their
// work (deploy.Engine.AgentBacklog): how far behind this process is.
func (a *API) Backlog() int { return int(a.slots.waiting.Load()) }
