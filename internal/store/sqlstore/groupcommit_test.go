package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// groupMember is one write transaction of a group under test: its fn, and
// what its caller got.
type groupMember struct {
	name string
	ctx  context.Context
	fn   func(wtx) error
	ran  bool
	err  error
	// panicked is the value the caller's s.tx panicked with, if it did.
	panicked any
}

// runAsGroup holds the writer while members queue for it in order, runs
// whileHeld (if not nil), then lets the writer go: the members are committed
// as one group. It returns once every caller has been answered.
func runAsGroup(t *testing.T, s *Store, members []*groupMember, whileHeld func()) {
	t.Helper()
	release := holdWriter(s)
	answered := make(chan struct{}, len(members))
	for i, m := range members {
		go func() {
			defer func() { answered <- struct{}{} }()
			defer func() { m.panicked = recover() }()
			m.err = s.tx(m.ctx, func(tx wtx) error {
				m.ran = true
				return m.fn(tx)
			})
		}()
		if err := waitFor(func() bool { return s.commits.len() == i+1 }); err != nil {
			release()
			t.Fatalf("member %s queued: %v", m.name, err)
		}
	}
	if whileHeld != nil {
		whileHeld()
	}
	release()
	for range members {
		<-answered
	}
}

// holdWriter takes the writer, as a write that does not end until release
// is called.
func holdWriter(s *Store) (release func()) {
	s.writer <- struct{}{}
	return s.releaseWriter
}

// waitFor polls cond until it holds, for 10 s at most.
func waitFor(cond func() bool) error {
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			return errors.New("timed out")
		}
		time.Sleep(time.Millisecond)
	}
	return nil
}

func openGroupStore(t *testing.T) *Store {
	t.Helper()
	s, err := OpenSQLite(t.Context(), filepath.Join(t.TempDir(), "test.db"), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func putSetting(ctx context.Context, tx wtx, key string) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO settings (key, value) VALUES ($1, 'v')`, key)
	return err
}

// settingsPresent is which of keys are in the settings table.
func settingsPresent(t *testing.T, s *Store, keys ...string) []string {
	t.Helper()
	var present []string
	for _, k := range keys {
		var n int
		if err := s.db.QueryRowContext(t.Context(), `SELECT COUNT(*) FROM settings WHERE key = $1`, k).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n > 0 {
			present = append(present, k)
		}
	}
	return present
}

// TestGroupCommitMembersStandAlone: in one group, a transaction that fails,
// breaks a constraint, panics or whose caller gave up keeps none of its
// changes and gets its own answer; the others keep theirs, see the changes
// of those before them, and are answered nil. A caller that cancels its
// context once its transaction runs does not interrupt the group.
func TestGroupCommitMembersStandAlone(t *testing.T) {
	s := openGroupStore(t)
	bg := context.Background()
	gaveUp, giveUp := context.WithCancel(bg)
	cancelsItself, cancel := context.WithCancel(bg)
	refused := errors.New("member refuses")
	members := []*groupMember{
		{name: "first", ctx: bg, fn: func(tx wtx) error { return putSetting(bg, tx, "g-first") }},
		{name: "refuses", ctx: bg, fn: func(tx wtx) error {
			if err := putSetting(bg, tx, "g-refuses"); err != nil {
				return err
			}
			return refused
		}},
		{name: "duplicate", ctx: bg, fn: func(tx wtx) error {
			if err := putSetting(bg, tx, "g-duplicate"); err != nil {
				return err
			}
			return putSetting(bg, tx, "g-first") // the first member's key: it sees that write
		}},
		{name: "panics", ctx: bg, fn: func(tx wtx) error {
			if err := putSetting(bg, tx, "g-panics"); err != nil {
				return err
			}
			panic("member panics")
		}},
		{name: "gave up", ctx: gaveUp, fn: func(tx wtx) error { return putSetting(bg, tx, "g-gave-up") }},
		{name: "cancels itself", ctx: cancelsItself, fn: func(tx wtx) error {
			if err := putSetting(cancelsItself, tx, "g-cancels-1"); err != nil {
				return err
			}
			cancel()
			return putSetting(cancelsItself, tx, "g-cancels-2")
		}},
		{name: "last", ctx: bg, fn: func(tx wtx) error { return putSetting(bg, tx, "g-last") }},
	}
	byName := map[string]*groupMember{}
	for _, m := range members {
		byName[m.name] = m
	}
	tx0, commits0 := s.WriteCommits()
	// The caller who gives up does so while it waits: it leaves the line.
	runAsGroup(t, s, members, func() {
		giveUp()
		if err := waitFor(func() bool { return s.commits.len() == len(members)-1 }); err != nil {
			t.Errorf("the member who gave up left the line: %v", err)
		}
	})

	for name, want := range map[string]error{"first": nil, "last": nil, "cancels itself": nil, "refuses": refused, "gave up": context.Canceled} {
		if m := byName[name]; !errors.Is(m.err, want) {
			t.Errorf("member %q: %v, want %v", name, m.err, want)
		}
	}
	if m := byName["duplicate"]; m.err == nil || !strings.Contains(m.err.Error(), "UNIQUE") {
		t.Errorf("member duplicate: %v, want its UNIQUE violation", m.err)
	}
	if m := byName["panics"]; !strings.Contains(fmt.Sprint(m.panicked), "member panics") {
		t.Errorf("member panics: its caller panicked with %v, want the fn's panic", m.panicked)
	}
	if byName["gave up"].ran {
		t.Error("the fn of the caller who gave up ran")
	}
	got := settingsPresent(t, s, "g-first", "g-refuses", "g-duplicate", "g-panics", "g-gave-up", "g-cancels-1", "g-cancels-2", "g-last")
	if want := []string{"g-first", "g-cancels-1", "g-cancels-2", "g-last"}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("settings written: %v, want %v", got, want)
	}
	if tx, commits := s.WriteCommits(); tx-tx0 != 3 || commits-commits0 != 1 {
		t.Errorf("%d transactions committed in %d COMMITs, want 3 (first, cancels itself, last) in 1", tx-tx0, commits-commits0)
	}
}

// TestGroupCommitFailedCommitFailsAll: when the group's COMMIT fails (here
// a deferred foreign key one member broke), every member is answered with
// its error and none of their changes is kept; the next write succeeds.
func TestGroupCommitFailedCommitFailsAll(t *testing.T) {
	s := openGroupStore(t)
	ctx := t.Context()
	// One connection, so that the pragma holds for the group's; no
	// statement cache, whose preparing would wait for that connection.
	s.db.SetMaxOpenConns(1)
	s.parseEachTime = true
	for _, q := range []string{
		`PRAGMA foreign_keys = ON`,
		`CREATE TABLE parent (id INTEGER PRIMARY KEY)`,
		`CREATE TABLE child (parent_id INTEGER REFERENCES parent (id) DEFERRABLE INITIALLY DEFERRED)`,
	} {
		if _, err := s.db.ExecContext(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	bg := context.Background()
	members := []*groupMember{
		{name: "before", ctx: bg, fn: func(tx wtx) error { return putSetting(bg, tx, "c-before") }},
		{name: "dangling", ctx: bg, fn: func(tx wtx) error {
			_, err := tx.ExecContext(bg, `INSERT INTO child (parent_id) VALUES (99)`)
			return err
		}},
		{name: "after", ctx: bg, fn: func(tx wtx) error { return putSetting(bg, tx, "c-after") }},
	}
	runAsGroup(t, s, members, nil)
	for _, m := range members {
		if m.err == nil || !strings.Contains(m.err.Error(), "FOREIGN KEY") {
			t.Errorf("member %q: %v, want the COMMIT's FOREIGN KEY failure", m.name, m.err)
		}
	}
	if got := settingsPresent(t, s, "c-before", "c-after"); len(got) != 0 {
		t.Errorf("settings kept from a group whose COMMIT failed: %v", got)
	}
	var n int
	if err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM child`).Scan(&n); err != nil || n != 0 {
		t.Errorf("child rows kept: %d, %v", n, err)
	}
	if err := s.tx(ctx, func(tx wtx) error { return putSetting(ctx, tx, "c-next") }); err != nil {
		t.Fatalf("the write after the failed group: %v", err)
	}
	if got := settingsPresent(t, s, "c-next"); len(got) != 1 {
		t.Error("the write after the failed group was not kept")
	}
}

// TestGroupCommitSkipsCallersGone: a transaction whose caller's context is
// done by the time its group starts is answered with the context's error
// and does not run (a caller that gives up while it waits usually leaves
// the line itself first; this is the race it loses).
func TestGroupCommitSkipsCallersGone(t *testing.T) {
	s := openGroupStore(t)
	gone, cancel := context.WithCancel(context.Background())
	cancel()
	ran := false
	p := &pendingTx{ctx: gone, fn: func(tx wtx) error { ran = true; return putSetting(gone, tx, "s-gone") }, done: make(chan error, 1)}
	q := &pendingTx{ctx: context.Background(), fn: func(tx wtx) error { return putSetting(context.Background(), tx, "s-here") }, done: make(chan error, 1)}
	release := holdWriter(s)
	s.commitGroup([]*pendingTx{p, q})
	release()
	if err := <-p.done; !errors.Is(err, context.Canceled) || ran {
		t.Errorf("caller gone: %v (ran %v), want context.Canceled and not run", err, ran)
	}
	if err := <-q.done; err != nil {
		t.Errorf("the other caller: %v", err)
	}
	if got := settingsPresent(t, s, "s-gone", "s-here"); fmt.Sprint(got) != "[s-here]" {
		t.Errorf("settings written: %v, want [s-here]", got)
	}
}

// TestCommitQueueOrder: the line keeps arrival order through callers
// leaving it from its head, middle and tail, and a caller taken into a
// group can no longer leave it.
func TestCommitQueueOrder(t *testing.T) {
	var q commitQueue
	ps := make([]*pendingTx, 7)
	for i := range ps {
		ps[i] = &pendingTx{fn: func(wtx) error { return fmt.Errorf("%d", i) }}
		q.push(ps[i])
	}
	for _, i := range []int{0, 3, 6} {
		if !q.withdraw(ps[i]) {
			t.Fatalf("waiting %d could not leave", i)
		}
		if q.withdraw(ps[i]) {
			t.Fatalf("%d left twice", i)
		}
	}
	names := func(group []*pendingTx) string {
		var out []string
		for _, p := range group {
			out = append(out, p.fn(wtx{}).Error())
		}
		return strings.Join(out, " ")
	}
	if got := names(q.take(2)); got != "1 2" {
		t.Errorf("first group %q, want \"1 2\"", got)
	}
	if q.withdraw(ps[1]) {
		t.Error("a taken transaction left the line")
	}
	q.push(ps[0])
	if n := q.len(); n != 3 {
		t.Errorf("%d waiting, want 3", n)
	}
	if got := names(q.take(maxGroup)); got != "4 5 0" {
		t.Errorf("second group %q, want \"4 5 0\"", got)
	}
	if got := q.take(maxGroup); len(got) != 0 || q.len() != 0 {
		t.Errorf("after the line emptied: took %d, %d waiting", len(got), q.len())
	}
}
