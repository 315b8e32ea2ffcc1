package deploy

import "sync"

// memo remembers values by key until each one's expiry (epoch ms). It is
// the one expiring cache of the robot side: agent identities, and what
// every robot of a job is handed alike. Expired entries are dropped at most
// once per sweepMs, on a put, so keys seen once do not stay.
type memo[K comparable, V any] struct {
	mu      sync.Mutex
	entries map[K]memoEntry[V]
	swept   int64
	// onDrop, when set, is told of every entry a sweep drops (mu is held).
	onDrop func(K, V)
}

type memoEntry[V any] struct {
	v       V
	untilMs int64
}

// get returns the value of k unless it expired by nowMs.
func (m *memo[K, V]) get(k K, nowMs int64) (V, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	e, ok := m.entries[k]
	if !ok || nowMs >= e.untilMs {
		var zero V
		return zero, false
	}
	return e.v, true
}

// put remembers v under k until untilMs; it reports whether k is new (not
// remembered before, expired or not). sweepMs spaces the sweeps.
func (m *memo[K, V]) put(k K, v V, nowMs, untilMs, sweepMs int64) (added bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.entries == nil {
		m.entries = map[K]memoEntry[V]{}
	}
	if nowMs-m.swept >= sweepMs {
		m.swept = nowMs
		for ek, e := range m.entries {
			if nowMs >= e.untilMs {
				delete(m.entries, ek)
				if m.onDrop != nil {
					m.onDrop(ek, e.v)
				}
			}
		}
	}
	_, had := m.entries[k]
	m.entries[k] = memoEntry[V]{v, untilMs}
	return !had
}

// drop forgets k.
func (m *memo[K, V]) drop(k K) {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.entries, k)
}

// clear forgets everything.
func (m *memo[K, V]) clear() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.entries = nil
}

// len is how many entries are remembered, expired or not (for tests).
func (m *memo[K, V]) len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.entries)
}
