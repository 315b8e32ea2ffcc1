package sqlstore

import (
	"context"
	"log/slog"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// onWorker reports whether the calling goroutine is a deepStacks worker.
func onWorker() bool {
	buf := make([]byte, 64<<10)
	return strings.Contains(string(buf[:runtime.Stack(buf, false)]), "(*deepStacks).call")
}

func testDeep(t *testing.T, n int) *deepStacks {
	d := newDeepStacks(n, slog.New(slog.DiscardHandler))
	t.Cleanup(d.stop)
	return d
}

// onAWorker runs fn on a worker: until a call lands on one (workers just
// started or just done are idle again a moment later), calls that ran
// inline do nothing. It reports false if none landed.
func onAWorker(d *deepStacks, fn func()) bool {
	for range 1000 {
		landed := false
		d.run(func() {
			if landed = onWorker(); landed {
				fn()
			}
		})
		if landed {
			return true
		}
		time.Sleep(time.Millisecond)
	}
	return false
}

func TestDeepStacksRunOnAWorker(t *testing.T) {
	d := testDeep(t, 2)
	if !onAWorker(d, func() {}) {
		t.Fatal("no call ran on a worker")
	}
	if onWorker() {
		t.Fatal("onWorker is true outside the workers")
	}
	var nilPool *deepStacks
	ran := false
	nilPool.run(func() { ran = !onWorker() })
	if !ran {
		t.Error("a nil pool (PostgreSQL) did not run the call on its caller")
	}
}

// holdWorkers keeps n of d's workers busy until release is closed.
func holdWorkers(t *testing.T, d *deepStacks, n int, release chan struct{}) {
	var busy, ended sync.WaitGroup
	busy.Add(n)
	for range n {
		ended.Go(func() {
			onAWorker(d, func() {
				busy.Done()
				<-release
			})
		})
	}
	busy.Wait()
	t.Cleanup(ended.Wait)
}

func TestDeepStacksRunInlineWhenEveryWorkerIsBusy(t *testing.T) {
	const n = 4
	d := testDeep(t, n)
	release := make(chan struct{})
	holdWorkers(t, d, n-1, release)
	t.Cleanup(func() { close(release) }) // before holdWorkers' wait, on a failure too
	// One worker is left: a call made on it finds none idle and must run
	// at once on that worker rather than wait for one.
	ran := make(chan bool, 1)
	go onAWorker(d, func() {
		inline := false
		d.run(func() { inline = onWorker() })
		ran <- inline
	})
	select {
	case inline := <-ran:
		if !inline {
			t.Error("a nested call did not run on its caller, the last worker")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a nested call waited for a busy worker")
	}
}

func TestDeepStacksRaiseAPanicInTheCaller(t *testing.T) {
	const n = 2
	d := testDeep(t, n)
	for range 2 * n { // the workers outlive the panics they recover
		func() {
			defer func() {
				if p := recover(); p != "boom" {
					t.Fatalf("recovered %v, want the panic of fn", p)
				}
			}()
			onAWorker(d, func() { panic("boom") })
			t.Fatal("run returned after fn panicked")
		}()
	}
	if !onAWorker(d, func() {}) {
		t.Error("after the panics no worker was left")
	}
}

func TestDeepStacksGoexitEndsTheCallerAndTheWorkerIsReplaced(t *testing.T) {
	const n = 2
	d := testDeep(t, n)
	for range 2 * n {
		after, landed := false, false
		done := make(chan struct{})
		go func() {
			defer close(done)
			landed = onAWorker(d, runtime.Goexit)
			after = true
		}()
		<-done
		if after {
			t.Fatalf("the caller went on after fn called runtime.Goexit (on a worker: %v)", landed)
		}
	}
	if !onAWorker(d, func() {}) {
		t.Error("the workers that ran runtime.Goexit were not replaced")
	}
}

func TestDeepStacksStop(t *testing.T) {
	d := newDeepStacks(2, slog.New(slog.DiscardHandler))
	d.stop() // waits for the workers to end
	d.stop() // a second Close is harmless
	inline := false
	d.run(func() { inline = !onWorker() })
	if !inline {
		t.Error("a call after stop did not run on its caller")
	}
}

// A store opened in a synctest bubble (as the in-process e2e tests do)
// keeps its workers in the bubble, and Close ends them: a worker left
// blocked, or a channel of another bubble, fails the test.
func TestDeepStacksStayInTheirStoresBubble(t *testing.T) {
	dir := t.TempDir()
	for i := range 2 {
		synctest.Test(t, func(t *testing.T) {
			s, err := OpenSQLite(context.Background(), filepath.Join(dir, "bubble"+string(rune('a'+i))+".db"), slog.New(slog.DiscardHandler))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := s.RobotPoll(context.Background(), "arn:aws:robomaker:us-east-1:123456789012:robot/nobody/1"); err != nil {
				t.Fatal(err)
			}
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
		})
	}
}
