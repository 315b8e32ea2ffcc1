package server

import (
	"bytes"
	"context"
	"crypto/tls"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/fleetsync/fleetsync/internal/awsapi"
	"github.com/fleetsync/fleetsync/internal/config"
)

// The listener's defences against clients that hold resources without
// using them (docs/security.md): header and body deadlines, a header size
// cap, a cap on open connections (global and per client IP) that evicts the
// longest-stalled connection rather than running out of file descriptors,
// canonical paths only, and the AWS error envelope on the answers Go's HTTP
// server would otherwise write as plain text.

// fdReserve is how many file descriptors are kept out of the automatic
// connection cap for the database, bundle files and the process itself.
const fdReserve = 64

// guard applies lim to srv and returns ln wrapped so that connections are
// counted and capped, made TLS connections when tlsConf is set (srv's
// TLSConfig, which serve sets), and connections given back through back
// are served again. Call it once, before srv.Serve(ln).
func guard(srv *http.Server, ln net.Listener, lim config.Limits, back *returnedConns, tlsConf *tls.Config, log *slog.Logger) net.Listener {
	t := &tracker{max: lim.MaxConns, perClient: lim.MaxConnsPerClient, conns: map[*trackedConn]struct{}{},
		byClient: map[string]int{}, log: log}
	if t.max == 0 {
		t.max = autoMaxConns()
	}
	srv.ReadHeaderTimeout = lim.ReadHeaderTimeout
	srv.IdleTimeout = lim.IdleTimeout
	srv.MaxHeaderBytes = lim.MaxHeaderBytes
	prevState := srv.ConnState
	srv.ConnState = func(c net.Conn, s http.ConnState) {
		if tc := asTracked(c); tc != nil {
			tc.state.Store(int32(s))
			tc.stateSince.Store(time.Now().UnixNano())
		}
		if prevState != nil {
			prevState(c, s)
		}
	}
	prevCtx := srv.ConnContext
	srv.ConnContext = func(ctx context.Context, c net.Conn) context.Context {
		if prevCtx != nil {
			ctx = prevCtx(ctx, c)
		}
		if tc := asTracked(c); tc != nil {
			ctx = context.WithValue(ctx, connKey{}, tc)
		}
		return ctx
	}
	srv.Handler = &bodyDeadline{next: awsapi.CanonicalPaths(srv.Handler), timeout: lim.BodyTimeout}
	log.Info("connection limits", "max_conns", t.max, "max_conns_per_client", t.perClient,
		"body_timeout", lim.BodyTimeout, "read_header_timeout", lim.ReadHeaderTimeout, "max_header_bytes", lim.MaxHeaderBytes)
	return &limitedListener{Listener: ln, t: t, back: back, tls: tlsConf, accepted: make(chan acceptResult, 1)}
}

// returnedConns carries connections a handler took over (a parked long
// poll, agentapi's park.go) back to the listener once it answered on
// them, to be served again like a new connection: the agent keeps its
// connection, as it would have had the poll waited in its handler.
type returnedConns struct {
	ch   chan net.Conn
	done chan struct{}
	once sync.Once
}

func newReturnedConns() *returnedConns {
	return &returnedConns{ch: make(chan net.Conn), done: make(chan struct{})}
}

// give hands c back to be served; false when the listener is closed (the
// caller closes c).
func (r *returnedConns) give(c net.Conn) bool {
	select {
	case r.ch <- c:
		return true
	case <-r.done:
		return false
	}
}

func (r *returnedConns) close() { r.once.Do(func() { close(r.done) }) }

// autoMaxConns is half the open-file limit less fdReserve: every
// connection may hold a bundle file open while it downloads.
func autoMaxConns() int {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil || rl.Cur > 1<<30 {
		return 1 << 20
	}
	return max(8, (int(rl.Cur)-fdReserve)/2)
}

type connKey struct{}

// asTracked finds the trackedConn under c (c itself, or under TLS).
func asTracked(c net.Conn) *trackedConn {
	for c != nil {
		if tc, ok := c.(*trackedConn); ok {
			return tc
		}
		u, ok := c.(interface{ NetConn() net.Conn })
		if !ok {
			return nil
		}
		c = u.NetConn()
	}
	return nil
}

// tracker counts open connections and picks which one to evict.
type tracker struct {
	max, perClient int
	log            *slog.Logger

	mu       sync.Mutex
	conns    map[*trackedConn]struct{}
	byClient map[string]int
}

// admit registers c, evicting a stalled connection when a cap is reached;
// it returns nil when c is to be refused.
func (t *tracker) admit(c net.Conn) *trackedConn {
	client := clientIP(c.RemoteAddr())
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.perClient > 0 && t.byClient[client] >= t.perClient {
		if !t.evictLocked(client) {
			return nil
		}
	}
	if len(t.conns) >= t.max && !t.evictLocked("") {
		return nil
	}
	now := time.Now().UnixNano()
	tc := &trackedConn{Conn: c, t: t, client: client, accepted: now}
	tc.state.Store(int32(http.StateNew))
	tc.stateSince.Store(now)
	t.conns[tc] = struct{}{}
	t.byClient[client]++
	return tc
}

// evictLocked closes the connection (of client, when not "") stalled the
// longest: one with no complete request yet, one idle between requests, or
// one whose handler waits for a body. Connections doing work (a handler
// running with its body read: a long poll, a download, a live view) are
// never evicted.
func (t *tracker) evictLocked(client string) bool {
	var victim *trackedConn
	var oldest int64
	for tc := range t.conns {
		if client != "" && tc.client != client {
			continue
		}
		since, ok := tc.stalledSince()
		if ok && (victim == nil || since < oldest) {
			victim, oldest = tc, since
		}
	}
	if victim == nil {
		return false
	}
	t.releaseLocked(victim)
	victim.Conn.Close()
	t.log.Debug("connection evicted at the connection cap", "client", victim.client,
		"stalled", time.Duration(time.Now().UnixNano()-oldest).Round(time.Millisecond))
	return true
}

func (t *tracker) releaseLocked(tc *trackedConn) {
	if _, ok := t.conns[tc]; !ok {
		return
	}
	delete(t.conns, tc)
	if t.byClient[tc.client]--; t.byClient[tc.client] <= 0 {
		delete(t.byClient, tc.client)
	}
}

func clientIP(a net.Addr) string {
	if ta, ok := a.(*net.TCPAddr); ok {
		return ta.IP.String()
	}
	host, _, err := net.SplitHostPort(a.String())
	if err != nil {
		return a.String()
	}
	return host
}

// limitedListener admits connections through a tracker, and serves again
// the connections given back (returnedConns), already admitted. With tls
// set it makes each admitted connection a TLS server connection (as
// http.Server.ServeTLS would); those given back are TLS connections
// already, their handshake done, and are served again as they are.
type limitedListener struct {
	net.Listener
	t    *tracker
	back *returnedConns
	tls  *tls.Config
	// accepted carries what the pump's Accept returned.
	accepted chan acceptResult
	pumping  sync.Once
}

type acceptResult struct {
	c   net.Conn
	err error
}

// Accept implements net.Listener.
func (l *limitedListener) Accept() (net.Conn, error) {
	l.pumping.Do(func() { go l.pump() })
	select {
	case c := <-l.back.ch:
		return c, nil
	case a := <-l.accepted:
		return a.c, a.err
	}
}

// Close implements net.Listener; connections given back afterwards are
// closed by their givers.
func (l *limitedListener) Close() error {
	l.back.close()
	return l.Listener.Close()
}

// pump accepts new connections for Accept until the listener fails for
// good.
func (l *limitedListener) pump() {
	for {
		c, err := l.accept()
		l.accepted <- acceptResult{c, err}
		if ne, ok := err.(net.Error); err != nil && (!ok || !ne.Temporary()) { //lint:ignore SA1019 net/http's own test of an Accept error
			return
		}
	}
}

// accept is the next admitted connection. A connection over the cap with
// nothing to evict gets a 503 in the AWS envelope and is closed.
func (l *limitedListener) accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		if tc := l.t.admit(c); tc != nil {
			if l.tls != nil {
				return tls.Server(tc, l.tls), nil
			}
			return tc, nil
		}
		l.t.log.Warn("connection refused: connection cap reached and none stalled", "client", clientIP(c.RemoteAddr()), "max_conns", l.t.max)
		c.SetWriteDeadline(time.Now().Add(100 * time.Millisecond))
		c.Write(awsapi.RawErrorResponse(http.StatusServiceUnavailable, "too many open connections; retry later"))
		c.Close()
	}
}

// trackedConn is a counted connection with what eviction needs to know.
type trackedConn struct {
	net.Conn
	t        *tracker
	client   string
	accepted int64
	// state and stateSince follow http.Server's ConnState.
	state      atomic.Int32
	stateSince atomic.Int64
	// bodySince is when a handler on this connection started waiting for
	// a request body (0: not waiting).
	bodySince atomic.Int64
}

// stalledSince reports whether the connection is holding a slot without
// doing work, and since when.
func (tc *trackedConn) stalledSince() (int64, bool) {
	switch http.ConnState(tc.state.Load()) {
	case http.StateNew, http.StateIdle:
		return tc.stateSince.Load(), true
	case http.StateActive:
		if b := tc.bodySince.Load(); b != 0 {
			return b, true
		}
	}
	return 0, false
}

// Close implements net.Conn.
func (tc *trackedConn) Close() error {
	tc.t.mu.Lock()
	tc.t.releaseLocked(tc)
	tc.t.mu.Unlock()
	return tc.Conn.Close()
}

// goErrorHeaders is what follows the status line of every error response
// Go's HTTP server writes by itself on the bare connection (malformed
// request, 431, unsupported transfer encoding…), before any handler runs.
const goErrorHeaders = "\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n"

// Write implements net.Conn, putting Go's own plain-text error responses
// in the AWS envelope. Responses from handlers always carry a Date header
// and sorted headers, so they never match.
func (tc *trackedConn) Write(p []byte) (int, error) {
	if bytes.HasPrefix(p, []byte("HTTP/1.1 ")) {
		if i := bytes.Index(p, []byte("\r\n")); i > 0 && bytes.HasPrefix(p[i:], []byte(goErrorHeaders)) {
			status, err := strconv.Atoi(string(p[9:min(12, i)]))
			if err == nil && status >= 400 {
				text := string(p[i+len(goErrorHeaders):])
				if _, err := tc.Conn.Write(awsapi.RawErrorResponse(status, "the request could not be read: "+text)); err != nil {
					return 0, err
				}
				return len(p), nil
			}
		}
	}
	return tc.Conn.Write(p)
}

// ReadFrom implements io.ReaderFrom, so that net/http still hands bundle
// downloads to the kernel (sendfile) through the wrapper; it carries
// response bodies only, never Go's own error answers.
func (tc *trackedConn) ReadFrom(r io.Reader) (int64, error) {
	if rf, ok := tc.Conn.(io.ReaderFrom); ok {
		return rf.ReadFrom(r)
	}
	return io.Copy(struct{ io.Writer }{tc}, r)
}

// bodyDeadline gives a request body BodyTimeout to arrive: without it a
// client that sends headers then stalls holds its connection forever. The
// deadline is lifted as soon as the body is read, so long polls and
// server-sent event streams after it are unaffected.
type bodyDeadline struct {
	next    http.Handler
	timeout time.Duration
}

func (b *bodyDeadline) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	tc, _ := r.Context().Value(connKey{}).(*trackedConn)
	if r.Body == nil || r.Body == http.NoBody || r.ContentLength == 0 {
		b.next.ServeHTTP(w, r)
		return
	}
	rc := http.NewResponseController(w)
	if err := rc.SetReadDeadline(time.Now().Add(b.timeout)); err != nil {
		b.next.ServeHTTP(w, r)
		return
	}
	// Over HTTP/2 many requests share the connection: only the stream
	// times out, and the connection is not an eviction candidate.
	if tc != nil && r.ProtoMajor == 1 {
		tc.bodySince.Store(time.Now().UnixNano())
	}
	// One allocation per request (it lives as long as the request: for a
	// held long poll, minutes), not a closure, a sync.Once and a wrapper.
	r.Body = &deadlineBody{ReadCloser: r.Body, rc: rc, tc: tc}
	b.next.ServeHTTP(w, r)
	if tc != nil {
		tc.bodySince.Store(0)
	}
}

// deadlineBody lifts the body deadline when the body has been read to its
// end. A body is read by one goroutine at a time (the handler's), so done
// needs no lock.
type deadlineBody struct {
	io.ReadCloser
	rc   *http.ResponseController
	tc   *trackedConn
	done bool
}

func (d *deadlineBody) Read(p []byte) (int, error) {
	n, err := d.ReadCloser.Read(p)
	if err == io.EOF && !d.done {
		d.done = true
		d.rc.SetReadDeadline(time.Time{})
		if d.tc != nil {
			d.tc.bodySince.Store(0)
		}
	}
	return n, err
}

// databaseSetUp reports, for a SQLite file, whether a database must already
// exist there: the data directory beside it holds a master key, so a server
// ran on it and a missing or empty file is a lost database (see
// sqlstore.SQLiteOptions). It is evaluated before the key is created.
func databaseSetUp(cfg config.Config) func(dbPath string) bool {
	_, err := os.Stat(filepath.Join(cfg.DataDir, "master.key"))
	hasKey := err == nil
	return func(dbPath string) bool {
		return hasKey && filepath.Clean(filepath.Dir(dbPath)) == filepath.Clean(cfg.DataDir)
	}
}
