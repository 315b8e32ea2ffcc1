package agentapi

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"runtime/debug"
	"time"
)

// Parking: a long poll that came over HTTP/1.1 (an agent behind a
// TLS-terminating proxy such as nginx, whose upstream connections are
// HTTP/1.1; an agent that chose HTTP/1.1 over TLS; or one on
// --insecure-http) gives up, while it is held, everything net/http keeps
// for a request: its goroutines (the handler's and the connection's
// reader), its 4 KB read and write buffers and the request itself. The
// handler takes the connection over (Hijack) and returns; the hub keeps
// the connection with the poll's state and runs resume (in one of its few
// resume workers) when the poll is woken, due or superseded. resume looks
// as a waiting poll would, writes the answer on the connection and gives the
// connection back to the server (Config.GiveBack), which serves the
// agent's next request on it as on a new connection (a TLS connection as
// it is, its handshake done); without GiveBack, or when the agent had
// sent more after its poll, the answer closes the connection
// (Connection: close).
//
// Over HTTP/2 (h2c, or h2 over TLS) a stream cannot be taken over: those
// polls wait in their handler's goroutine as before.

// parkedPoll is a held poll no goroutine waits for.
type parkedPoll struct {
	a    *API
	conn net.Conn
	ps   pollState
	// pipelined: the agent had sent more than its poll when it was
	// parked; those bytes went with net/http's reader, so the connection
	// cannot be served again.
	pipelined bool
	// done, when set, is told the answer's status (ParkObserver).
	done func(status int)
	// waiting: queued for a resume worker, the robot counted as heard
	// (deploy.Robots.Waiting) until the resume begins.
	waiting bool
}

// queued counts the robot as heard while the poll waits for a resume
// worker: a rollout that ends 100,000 parked polls at once queues them
// for longer than the agent silence limit.
func (pp *parkedPoll) queued() {
	pp.waiting = true
	pp.a.cfg.Robots.Waiting(pp.ps.arn)
}

// RequestObserver is implemented by a ResponseWriter wrapper that wants to
// hear what the agent endpoint learnt of a request (the server's access
// log). Authenticated is told the robot's agent id once the request has
// authenticated: the robot's own string, which the observer may keep (the
// request's copy, kept, would be one more per robot), and the id of a
// session-authenticated request, which carries none. Parked is called as a
// held poll is parked, and the func it returns with the status of the
// answer (0: the connection was closed unanswered, at shutdown).
type RequestObserver interface {
	Authenticated(agentID string)
	Parked() func(status int)
}

// observerOf finds a RequestObserver in w's chain of wrappers.
func observerOf(w http.ResponseWriter) RequestObserver {
	for {
		if o, ok := w.(RequestObserver); ok {
			return o
		}
		u, ok := w.(interface{ Unwrap() http.ResponseWriter })
		if !ok {
			return nil
		}
		w = u.Unwrap()
	}
}

// parkedWriteTimeout bounds writing a parked poll's answer: the agent may
// be long gone, its connection's buffers full.
const parkedWriteTimeout = 10 * time.Second

// park takes the connection of a poll that is to wait (pollLook found
// nothing, due is when it looks again without a wake-up) and leaves the
// wait to the hub. It returns false when the poll cannot be parked: it
// then waits in this goroutine.
func (a *API) park(w http.ResponseWriter, r *http.Request, ps *pollState, due int64) bool {
	if a.cfg.NoParking || r.ProtoMajor != 1 {
		return false
	}
	conn, brw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		return false // not a connection of its own (a test's recorder)
	}
	// The read and write buffers net/http hands over are dropped: the
	// body is read, and an agent sends nothing more before the answer.
	conn.SetDeadline(time.Time{})
	pp := &parkedPoll{a: a, conn: conn, ps: *ps, pipelined: brw.Reader.Buffered() > 0}
	if o := observerOf(w); o != nil {
		pp.done = o.Parked()
	}
	pp.ps.leave = nil
	if parked, why := a.cfg.Hub.park(pp.ps.held, due, pp); !parked {
		a.cfg.Hub.carryOn(pp, why) // ended while it looked: on at once
	}
	return true
}

// resume carries a parked poll on from its end (why): as poll's loop would
// after pollWait, it looks, answers or parks again.
func (pp *parkedPoll) resume(why uint8) {
	a, ps := pp.a, &pp.ps
	ctx := context.Background()
	// A resume runs outside net/http, which would have recovered a
	// handler's panic: one poll's fault ends its connection (and gives back
	// what it holds), not the process serving every robot.
	defer func() {
		if v := recover(); v != nil {
			a.cfg.Log.Error("panic carrying on a parked poll", "robot", ps.arn, "panic", v, "stack", string(debug.Stack()))
			if ps.leave != nil {
				ps.leave()
				ps.leave = nil
			}
			a.cfg.Hub.release(ps.arn, ps.held)
			pp.conn.Close() // last: the agent sees the end once all is given back
			if pp.done != nil {
				pp.done(0)
			}
		}
	}()
	if pp.waiting {
		pp.waiting = false
		a.cfg.Robots.EndWait(ps.arn)
	}
	for {
		switch why {
		case superseded:
			var rw bufferedResponse
			writeSuperseded(&rw)
			pp.answer(&rw)
			a.cfg.Hub.release(ps.arn, ps.held)
			return
		case shutDown:
			pp.conn.Close()
			if pp.done != nil {
				pp.done(0)
			}
			a.cfg.Hub.release(ps.arn, ps.held)
			return
		case timeUp:
			ps.expired = monoNow() >= ps.deadline
		}
		a.cfg.Robots.Heard(ps.arn)
		ps.leave, _ = a.lookSlot(ctx, ps) // fails only with ctx
		var rw bufferedResponse
		due, answered := a.pollLook(&rw, ctx, ps)
		ps.leave()
		ps.leave = nil
		if answered {
			pp.answer(&rw)
			a.cfg.Hub.release(ps.arn, ps.held)
			return
		}
		var parked bool
		if parked, why = a.cfg.Hub.park(ps.held, due, pp); parked {
			return
		}
	}
}

// answer writes rw as the poll's HTTP/1.1 response, then gives the
// connection back to the server, or closes it.
func (pp *parkedPoll) answer(rw *bufferedResponse) {
	giveBack := pp.a.cfg.GiveBack != nil && !pp.pipelined
	h := rw.Header()
	h.Set("Date", time.Now().UTC().Format(http.TimeFormat))
	resp := &http.Response{StatusCode: rw.status, ProtoMajor: 1, ProtoMinor: 1, Header: h,
		ContentLength: int64(rw.body.Len()), Body: io.NopCloser(&rw.body), Close: !giveBack}
	if resp.StatusCode == 0 {
		resp.StatusCode = http.StatusOK
	}
	pp.conn.SetWriteDeadline(time.Now().Add(parkedWriteTimeout))
	bw := bufio.NewWriterSize(pp.conn, 512+rw.body.Len())
	err := resp.Write(bw)
	if err == nil {
		err = bw.Flush()
	}
	if err != nil {
		pp.a.cfg.Log.Debug("parked poll's answer not delivered (agent gone)", "robot", pp.ps.arn, "error", err)
		giveBack = false
	}
	pp.conn.SetWriteDeadline(time.Time{})
	if pp.done != nil {
		pp.done(resp.StatusCode)
	}
	if !giveBack || !pp.a.cfg.GiveBack(pp.conn) {
		pp.conn.Close()
	}
}

// bufferedResponse is the http.ResponseWriter a parked poll's look writes
// its answer to.
type bufferedResponse struct {
	header http.Header
	status int
	body   bytes.Buffer
}

// Header implements http.ResponseWriter.
func (b *bufferedResponse) Header() http.Header {
	if b.header == nil {
		b.header = http.Header{}
	}
	return b.header
}

// WriteHeader implements http.ResponseWriter.
func (b *bufferedResponse) WriteHeader(code int) {
	if b.status == 0 {
		b.status = code
	}
}

// Write implements http.ResponseWriter.
func (b *bufferedResponse) Write(p []byte) (int, error) {
	b.WriteHeader(http.StatusOK)
	return b.body.Write(p)
}
