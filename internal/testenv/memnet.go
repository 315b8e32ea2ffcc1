package testenv

import (
	"context"
	"net"
	"net/http"
	"sync"
)

// memListener is an in-memory network of one server: Dial hands one end of
// a net.Pipe to Accept. Inside a testing/synctest bubble a goroutine blocked
// on it is durably blocked (a real socket's would not be), so the fake clock
// can advance while clients wait on the server.
type memListener struct {
	conns  chan net.Conn
	closed chan struct{}
	once   sync.Once
}

func newMemListener() *memListener {
	return &memListener{conns: make(chan net.Conn), closed: make(chan struct{})}
}

// memAddr is the listener's address (and both ends' of each connection).
type memAddr struct{}

func (memAddr) Network() string { return "memory" }
func (memAddr) String() string  { return "fleetsyncd.test:80" }

func (l *memListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.closed:
		return nil, net.ErrClosed
	}
}

func (l *memListener) Close() error {
	l.once.Do(func() { close(l.closed) })
	return nil
}

func (l *memListener) Addr() net.Addr { return memAddr{} }

// DialContext connects to the listener, whatever address is asked for.
func (l *memListener) DialContext(ctx context.Context, _, _ string) (net.Conn, error) {
	client, server := net.Pipe()
	select {
	case l.conns <- server:
		return client, nil
	case <-l.closed:
		return nil, &net.OpError{Op: "dial", Net: "memory", Err: net.ErrClosed}
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// transport is an HTTP client transport whose every connection is a pipe
// to this listener.
func (l *memListener) transport() *http.Transport {
	return &http.Transport{DialContext: l.DialContext, MaxIdleConnsPerHost: 64}
}
