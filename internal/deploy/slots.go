package deploy

import (
	"context"
	"runtime"
	"sync"
)

// slots bounds how many agent requests do their work (store reads and
// writes, checks) at once. When a rollout wakes 10,000 long polls at once,
// 10,000 runnable goroutines would share two cores with everything else,
// and an operator's DescribeDeploymentJob waited seconds for its turn (its
// p99 was over 2 s while its own work takes 25 ms). With the work bounded,
// the rest of the polls wait blocked, costing no CPU, in arrival order.
// A held long poll waits outside any slot.
type slots struct {
	once sync.Once
	ch   chan struct{}
}

// slotsPerCPU is how many agent requests work at once per core: enough to
// keep the cores busy while some wait for the database.
const slotsPerCPU = 4

// enter waits for a slot; release gives it back. It fails only when ctx
// ends first (the agent went away).
func (s *slots) enter(ctx context.Context) (release func(), err error) {
	s.once.Do(func() { s.ch = make(chan struct{}, slotsPerCPU*runtime.GOMAXPROCS(0)) })
	select {
	case s.ch <- struct{}{}:
		return s.leave, nil
	default:
	}
	select {
	case s.ch <- struct{}{}:
		return s.leave, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (s *slots) leave() { <-s.ch }
