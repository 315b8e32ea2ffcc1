package agentapi

// generations is a map that forgets, all at once, the entries left
// untouched for a period: two maps, the current generation and the
// previous one. Each period the previous generation is dropped whole and
// the current one becomes it; an entry read from the previous generation
// moves to the current one. So an entry is kept at least one period after
// it was last touched (and at most about two), and forgetting costs O(1)
// under the caller's lock however many entries there are (the garbage
// collector frees them), where a sweep would hold the lock over every
// entry. It is not safe for concurrent use: the caller locks.
type generations[K comparable, V any] struct {
	cur, prev map[K]V
	// rotatedMs is when cur was started.
	rotatedMs int64
}

// rotate starts a new generation when the current one is periodMs old.
func (g *generations[K, V]) rotate(nowMs, periodMs int64) {
	switch {
	case g.cur == nil:
		g.cur, g.rotatedMs = map[K]V{}, nowMs
		return
	case nowMs-g.rotatedMs < periodMs:
		return
	case nowMs-g.rotatedMs >= 2*periodMs:
		// Nothing was touched for two periods: both generations are old.
		g.prev = nil
	default:
		g.prev = g.cur
	}
	// Not sized like prev: only the entries touched again move over.
	g.cur, g.rotatedMs = map[K]V{}, nowMs
}

// get returns k's entry, moving it to the current generation.
func (g *generations[K, V]) get(k K) (V, bool) {
	if v, ok := g.cur[k]; ok {
		return v, true
	}
	v, ok := g.prev[k]
	if ok {
		delete(g.prev, k)
		if g.cur == nil {
			g.cur = map[K]V{}
		}
		g.cur[k] = v
	}
	return v, ok
}

// put sets k's entry in the current generation.
func (g *generations[K, V]) put(k K, v V) {
	if g.cur == nil {
		g.cur = map[K]V{}
	}
	delete(g.prev, k)
	g.cur[k] = v
}

// remove forgets k.
func (g *generations[K, V]) remove(k K) {
	delete(g.cur, k)
	delete(g.prev, k)
}

// len is how many entries are kept.
func (g *generations[K, V]) len() int { return len(g.cur) + len(g.prev) }

// each calls f for every entry (tests).
func (g *generations[K, V]) each(f func(K, V)) {
	for k, v := range g.cur {
		f(k, v)
	}
	for k, v := range g.prev {
		f(k, v)
	}
}
