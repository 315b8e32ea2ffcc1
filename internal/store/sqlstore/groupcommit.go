package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fleetsync/fleetsync/internal/store"
)

// On SQLite the write transactions that wait for the writer at the same
// time share one BEGIN…COMMIT (group commit): whoever gets the writer runs
// every waiting transaction, up to maxGroup, each in a SAVEPOINT of its own,
// and commits them together. In a rollout hundreds of agents report at
// once, and the pages their results change are mostly the same few: 64
// concurrent results on two CPUs took 281-313 µs each with a COMMIT each
// and 110-171 µs in groups of about 40, writing 42 KB each to the WAL and
// checkpoints alone, 5 KB grouped (BenchmarkRecordResultConcurrent).
//
// What a caller sees does not change:
//   - a transaction whose fn fails is rolled back to its savepoint: the
//     others in its group keep their changes, it keeps none;
//   - a caller is answered only once its group's COMMIT has returned, and a
//     COMMIT that fails fails every transaction of the group;
//   - a caller whose context is done before its group starts is answered
//     with the context's error and its fn never runs; once started, its
//     statements run to the end whatever happens to its context, since
//     SQLite's interrupt would roll back the whole group's transaction;
//   - a caller waits for the writer at most writeWait (store.ErrBusy), as
//     before, unless its transaction has already been taken into a group,
//     which it then waits for.
//
// PostgreSQL runs each transaction on its own: its writers do not exclude
// each other, so there is no line to share.

// maxGroup bounds a group: its first caller waits for every other's fn
// before it is answered (64 rollout results take 6-10 ms).
const maxGroup = 64

// pendingTx is a write transaction waiting for the writer.
type pendingTx struct {
	ctx  context.Context
	fn   func(wtx) error
	done chan error // buffered: the group never waits for its caller
	// prev and next link the transactions that wait (under commitQueue.mu);
	// queued is whether this one still does.
	prev, next *pendingTx
	queued     bool
}

// commitQueue is the line of write transactions waiting for the writer, in
// arrival order: a doubly linked list, so that a caller who gives up
// leaves it in constant time however many wait (100,000 agents starting
// at once put tens of thousands in line).
type commitQueue struct {
	mu         sync.Mutex
	head, tail *pendingTx
	n          int
	// limit is the most transactions a group holds: maxGroup, 1 for the
	// benchmark of transactions alone.
	limit int
	// committed counts the transactions committed, commits the COMMITs
	// that committed them (WriteCommits).
	committed, commits atomic.Int64
}

func (q *commitQueue) push(p *pendingTx) {
	q.mu.Lock()
	defer q.mu.Unlock()
	p.prev, p.next, p.queued = q.tail, nil, true
	if q.tail != nil {
		q.tail.next = p
	} else {
		q.head = p
	}
	q.tail = p
	q.n++
}

// unlink removes p, which waits, from the line. q.mu is held.
func (q *commitQueue) unlink(p *pendingTx) {
	if p.prev != nil {
		p.prev.next = p.next
	} else {
		q.head = p.next
	}
	if p.next != nil {
		p.next.prev = p.prev
	} else {
		q.tail = p.prev
	}
	p.prev, p.next, p.queued = nil, nil, false
	q.n--
}

// take removes and returns the first n waiting transactions at most.
func (q *commitQueue) take(n int) []*pendingTx {
	q.mu.Lock()
	defer q.mu.Unlock()
	group := make([]*pendingTx, 0, min(n, q.n))
	for q.head != nil && len(group) < n {
		p := q.head
		q.unlink(p)
		group = append(group, p)
	}
	return group
}

// withdraw removes p if it still waits, and reports whether it did: false
// means a group has taken it and will answer it.
func (q *commitQueue) withdraw(p *pendingTx) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	if !p.queued {
		return false
	}
	q.unlink(p)
	return true
}

// len is how many transactions wait.
func (q *commitQueue) len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.n
}

// groupTx is tx1 on SQLite: fn joins the line, and whichever caller gets the
// writer first commits the group at the head of it (on a deep-stack worker
// when one is idle, deep.go, while the caller waits).
func (s *Store) groupTx(ctx context.Context, fn func(wtx) error) error {
	p := &pendingTx{ctx: ctx, fn: fn, done: make(chan error, 1)}
	s.commits.push(p)
	t := time.NewTimer(s.writeWait)
	defer t.Stop()
	for {
		// Answered already (by the group this caller committed, or by
		// another's): done, rather than lead a group of later callers.
		select {
		case err := <-p.done:
			return s.answer(err)
		default:
		}
		select {
		case err := <-p.done:
			return s.answer(err)
		case s.writer <- struct{}{}:
			s.deep.run(s.leadGroup)
		case <-t.C:
			if s.commits.withdraw(p) {
				return store.ErrBusy
			}
			return s.answer(<-p.done)
		case <-ctx.Done():
			if s.commits.withdraw(p) {
				return ctx.Err()
			}
			return s.answer(<-p.done)
		}
	}
}

// leadGroup commits the group at the head of the line, holding the
// writer, and releases the writer however commitGroup ends.
func (s *Store) leadGroup() {
	defer s.releaseWriter()
	s.commitGroup(s.commits.take(s.commits.limit))
}

// fnPanic is the answer of a transaction whose fn panicked: its caller
// panics again with the value, in its own goroutine (the stack, of the
// goroutine that ran the group, is logged).
type fnPanic struct {
	value any
	stack []byte
}

func (p *fnPanic) Error() string { return fmt.Sprintf("write transaction panicked: %v", p.value) }

// answer is what groupTx returns for err, the group's answer: a panic of
// the caller's own fn is raised again.
func (s *Store) answer(err error) error {
	if p, ok := err.(*fnPanic); ok {
		s.log.Error("write transaction panicked", "panic", fmt.Sprint(p.value), "stack", string(p.stack))
		panic(p.value)
	}
	return err
}

// commitGroup runs group in one transaction and answers each of its
// callers. It holds the writer.
func (s *Store) commitGroup(group []*pendingTx) {
	live := group[:0]
	for _, p := range group {
		if err := p.ctx.Err(); err != nil {
			p.done <- err
			continue
		}
		live = append(live, p)
	}
	if len(live) == 0 {
		return
	}
	own := make([]error, len(live))
	answered := false
	defer func() {
		// A panic outside the fns (database/sql, the driver) or a
		// runtime.Goexit: every caller still gets an answer.
		if !answered {
			for _, p := range live {
				p.done <- errGroupAborted
			}
		}
	}()
	err := s.runGroup(live, own)
	answered = true
	for i, p := range live {
		switch {
		case own[i] != nil:
			p.done <- own[i]
		default:
			p.done <- err
		}
	}
	if err == nil {
		n := 0
		for _, e := range own {
			if e == nil {
				n++
			}
		}
		if n > 0 {
			s.commits.commits.Add(1)
			s.commits.committed.Add(int64(n))
		}
	}
}

// WriteCommits returns how many write transactions this process has
// committed on SQLite and in how many COMMITs: fewer when waiting ones
// were committed in groups. Both are 0 on PostgreSQL.
func (s *Store) WriteCommits() (transactions, commits int64) {
	return s.commits.committed.Load(), s.commits.commits.Load()
}

// errGroupAborted answers the callers of a group whose runner stopped
// outside their fns.
var errGroupAborted = errors.New("write group aborted")

// runGroup runs the fns of group in one transaction, each one's own error
// in own (its changes rolled back to its savepoint), and returns the
// error that fails them all: BEGIN's, a savepoint's or COMMIT's. A group
// of one runs without a savepoint, as a transaction alone.
func (s *Store) runGroup(group []*pendingTx, own []error) error {
	bg := context.Background()
	tx, err := s.begin(bg)
	if err != nil {
		return err
	}
	tx.detached = true
	// Every return but a COMMIT's rolls back, a panic's too.
	committed := false
	defer func() {
		if !committed {
			tx.Rollback()
		}
	}()
	if len(group) == 1 {
		if own[0] = s.busy(runFn(group[0].fn, tx)); own[0] != nil {
			return nil
		}
		committed = true
		return s.busy(tx.Commit())
	}
	for i, p := range group {
		if _, err := tx.ExecContext(bg, `SAVEPOINT grouped`); err != nil {
			return s.busy(err)
		}
		if own[i] = s.busy(runFn(p.fn, tx)); own[i] != nil {
			if _, err := tx.ExecContext(bg, `ROLLBACK TO grouped`); err != nil {
				return s.busy(err)
			}
		}
		if _, err := tx.ExecContext(bg, `RELEASE grouped`); err != nil {
			return s.busy(err)
		}
	}
	committed = true
	return s.busy(tx.Commit())
}

// runFn runs fn, a panic turned into a *fnPanic for its own caller.
func runFn(fn func(wtx) error, tx wtx) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = &fnPanic{value: v, stack: debug.Stack()}
		}
	}()
	return fn(tx)
}
