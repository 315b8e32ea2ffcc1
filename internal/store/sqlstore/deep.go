package sqlstore

import (
	"runtime"
	"sync"
)

// deepStacks runs the store's hottest statements on a few long-lived
// goroutines whose stacks have already grown to what SQLite's engine
// needs. modernc.org/sqlite is C translated to Go, with large frames:
// a request's goroutine (net/http's HTTP/2 server starts one per stream)
// begins with a small stack and copied it four or five times on its way
// into the engine, every request. At a 10,000-robot rollout that copying
// was 6.3 % of fleetsyncd's CPU (runtime.copystack, 2026-12-03 profile),
// 2.6 % with these workers, and the rollout's peak RSS fell by a sixth:
// fewer stacks grew large at once.
//
// A call goes to an idle worker or, when none is idle, runs on the
// caller's goroutine as before: nothing ever waits for a worker, so a
// call made from a worker (or while every worker is busy) cannot
// deadlock. A panic in fn is raised again in the caller.
//
// One pool serves every store of the process (deep).
type deepStacks struct {
	once  sync.Once
	calls chan *deepCall
}

// deepCall is one call handed to a worker: done receives the panic
// value (nil when fn returned).
type deepCall struct {
	fn   func()
	done chan any
}

// deep is the process's pool.
var deep deepStacks

var deepCalls = sync.Pool{New: func() any { return &deepCall{done: make(chan any, 1)} }}

// deepWorkers is how many workers run: the agent endpoint's work slots
// (4 per core) and the engine, the API and the write leader beside them.
var deepWorkers = 8 * runtime.GOMAXPROCS(0)

// run runs fn on a worker if one is idle, else on this goroutine.
func (d *deepStacks) run(fn func()) {
	d.once.Do(d.start)
	c := deepCalls.Get().(*deepCall)
	c.fn = fn
	select {
	case d.calls <- c:
	default:
		c.fn = nil
		deepCalls.Put(c)
		fn()
		return
	}
	p := <-c.done
	deepCalls.Put(c)
	switch {
	case p == errGoexit:
		runtime.Goexit()
	case p != nil:
		panic(p)
	}
}

func (d *deepStacks) start() {
	d.calls = make(chan *deepCall)
	for range deepWorkers {
		go d.work()
	}
}

// work runs calls until the process ends (idle, a worker costs its stack).
func (d *deepStacks) work() {
	for c := range d.calls {
		if !d.call(c) {
			return
		}
	}
}

// errGoexit is a call's answer when fn called runtime.Goexit (a test's
// FailNow): the caller exits as well, and the worker is replaced.
var errGoexit = &struct{ goexit bool }{true}

// call runs c.fn and answers c.done with what it panicked with (nil if
// nothing). It reports false when fn called runtime.Goexit, which ends
// this worker whatever it does.
func (d *deepStacks) call(c *deepCall) (alive bool) {
	returned := false
	defer func() {
		p := recover()
		if !returned && p == nil {
			p = errGoexit
			go d.work()
		}
		c.fn = nil
		c.done <- p
		alive = p != errGoexit // a recovered panic leaves the worker running
	}()
	c.fn()
	returned = true
	return true
}
