package sqlstore

import (
	"log/slog"
	"runtime"
	"runtime/debug"
	"sync"
)

// deepStacks runs a SQLite store's hottest statements on a few long-lived
// goroutines whose stacks have grown to what SQLite's engine needs.
// modernc.org/sqlite is C translated to Go, with large frames: a request's
// goroutine (net/http's HTTP/2 server starts one per stream) begins with a
// small stack and copied it four or five times on its way into the
// engine, every request. At a 10,000-robot rollout that copying was 6.3 %
// of fleetsyncd's CPU (runtime.copystack, 2026-12-03 profile), 2.6 % with
// these workers (the GC halves an idle worker's stack, so a worker grows
// again now and then), and the rollout's peak RSS fell by a sixth.
//
// A call goes to an idle worker or, when none is idle, runs on the
// caller's goroutine as before: nothing ever waits for a worker, so a
// call made from a worker (or while every worker is busy) cannot
// deadlock. A panic in fn is logged with its stack and raised again in
// the caller.
//
// The workers belong to their store: started when it opens, stopped when
// it closes (so a store opened in a testing/synctest bubble keeps its
// goroutines and channels in it, as database/sql's own do). A nil
// *deepStacks (PostgreSQL, whose driver is native Go) runs every call on
// the caller's goroutine.
type deepStacks struct {
	calls   chan *deepCall
	quit    chan struct{}
	workers sync.WaitGroup
	stopped sync.Once
	log     *slog.Logger
}

// deepCall is one call handed to a worker; done receives how it ended.
type deepCall struct {
	fn   func()
	done chan deepEnd
}

// deepEnd is how a call ended on a worker: returned (the zero deepEnd),
// panicked (value, never nil since Go 1.21, and the worker's stack), or
// runtime.Goexit (a test's FailNow).
type deepEnd struct {
	goexit bool
	value  any
	stack  []byte
}

// deepWorkers is how many workers a store runs: the agent endpoint's work
// slots are 4 per core; as many again serve the engine, the API and the
// write groups' leader.
var deepWorkers = 8 * runtime.GOMAXPROCS(0)

// newDeepStacks starts n workers.
func newDeepStacks(n int, log *slog.Logger) *deepStacks {
	d := &deepStacks{calls: make(chan *deepCall), quit: make(chan struct{}), log: log}
	for range n {
		d.spawn()
	}
	return d
}

func (d *deepStacks) spawn() {
	d.workers.Add(1)
	go d.work()
}

// stop ends the workers once they are idle; calls made afterwards run on
// their callers. Safe on nil.
func (d *deepStacks) stop() {
	if d == nil {
		return
	}
	d.stopped.Do(func() { close(d.quit) })
	d.workers.Wait()
}

// run runs fn on a worker if one is idle, else on this goroutine.
func (d *deepStacks) run(fn func()) {
	if d == nil {
		fn()
		return
	}
	c := &deepCall{fn: fn, done: make(chan deepEnd, 1)}
	select {
	case d.calls <- c:
	default:
		fn()
		return
	}
	end := <-c.done
	switch {
	case end.goexit:
		runtime.Goexit()
	case end.value != nil:
		d.log.Error("a statement run on a deep-stack worker panicked", "panic", end.value, "stack", string(end.stack))
		panic(end.value)
	}
}

// work runs calls until the store stops the workers. A worker that ends
// otherwise (its fn called runtime.Goexit) is replaced as it goes.
func (d *deepStacks) work() {
	stopped := false
	defer func() {
		if !stopped {
			d.spawn() // before Done, so that stop's Wait counts the new one
		}
		d.workers.Done()
	}()
	for {
		select {
		case c := <-d.calls:
			d.call(c)
		case <-d.quit:
			stopped = true
			return
		}
	}
}

// call runs c.fn and answers c.done with how it ended.
func (d *deepStacks) call(c *deepCall) {
	returned := false
	defer func() {
		var end deepEnd
		if p := recover(); !returned {
			// recover is nil while runtime.Goexit unwinds; a panic
			// raised by a deferred call during it is recovered here,
			// and the Goexit goes on regardless.
			end = deepEnd{goexit: p == nil, value: p}
			if p != nil {
				end.stack = debug.Stack()
			}
		}
		c.done <- end
	}()
	c.fn()
	returned = true
}
