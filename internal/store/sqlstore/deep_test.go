package sqlstore

import (
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// onWorker reports whether the calling goroutine is one of deepStacks'
// workers.
func onWorker() bool {
	buf := make([]byte, 64<<10)
	return strings.Contains(string(buf[:runtime.Stack(buf, false)]), "(*deepStacks).call")
}

// reachesAWorker reports whether a call soon runs on a worker (workers
// just started or just done are idle again a moment later).
func reachesAWorker(d *deepStacks) bool {
	for range 1000 {
		var worker bool
		d.run(func() { worker = onWorker() })
		if worker {
			return true
		}
		time.Sleep(time.Millisecond)
	}
	return false
}

func TestDeepStacksRunOnAWorker(t *testing.T) {
	var d deepStacks
	if !reachesAWorker(&d) {
		t.Fatal("no call ran on a worker")
	}
	if onWorker() {
		t.Fatal("onWorker is true outside the workers")
	}
}

func TestDeepStacksRunInlineWhenEveryWorkerIsBusy(t *testing.T) {
	var d deepStacks
	release := make(chan struct{})
	var busy sync.WaitGroup
	busy.Add(deepWorkers)
	var ended sync.WaitGroup
	for range deepWorkers {
		ended.Go(func() {
			for { // until this goroutine holds a worker
				held := false
				d.run(func() {
					if held = onWorker(); held {
						busy.Done()
						<-release
					}
				})
				if held {
					return
				}
				time.Sleep(time.Millisecond)
			}
		})
	}
	busy.Wait()
	// Every worker waits on release: a call, and one made from within it,
	// must run at once on the caller rather than wait for a worker.
	ran := make(chan bool, 1)
	go d.run(func() {
		nested := true
		d.run(func() { nested = !onWorker() })
		ran <- !onWorker() && nested
	})
	select {
	case inline := <-ran:
		if !inline {
			t.Error("a call ran on a worker while every worker was busy")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a call waited for a busy worker")
	}
	close(release)
	ended.Wait()
}

func TestDeepStacksRaiseAPanicInTheCaller(t *testing.T) {
	var d deepStacks
	for range 2 * deepWorkers { // the workers outlive the panics they recover
		func() {
			defer func() {
				if p := recover(); p != "boom" {
					t.Fatalf("recovered %v, want the panic of fn", p)
				}
			}()
			d.run(func() { panic("boom") })
			t.Fatal("run returned after fn panicked")
		}()
	}
	if !reachesAWorker(&d) {
		t.Error("after the panics no worker was left")
	}
}

func TestDeepStacksGoexitEndsTheCaller(t *testing.T) {
	var d deepStacks
	for range 2 * deepWorkers {
		after := false
		done := make(chan struct{})
		go func() {
			defer close(done)
			d.run(runtime.Goexit)
			after = true
		}()
		<-done
		if after {
			t.Fatal("the caller went on after fn called runtime.Goexit")
		}
	}
	if !reachesAWorker(&d) {
		t.Error("the workers that ran runtime.Goexit were not replaced")
	}
}
