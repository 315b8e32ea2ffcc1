package console

import "sync"

// streamLimit bounds the live views (server-sent event streams) one
// session holds open at once: they are exempt from the listener's
// timeouts by design, so without a cap one signed-in browser (or a script
// with its cookie) could hold any number of connections and queries.
type streamLimit struct {
	mu   sync.Mutex
	open map[string]int // by session nonce
}

// acquire takes a stream slot of the session, false when it has max.
func (l *streamLimit) acquire(session string, max int) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.open == nil {
		l.open = map[string]int{}
	}
	if l.open[session] >= max {
		return false
	}
	l.open[session]++
	return true
}

// release gives a slot back.
func (l *streamLimit) release(session string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.open[session]--; l.open[session] <= 0 {
		delete(l.open, session)
	}
}
