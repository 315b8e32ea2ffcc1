// Package authguard bounds credential guessing on every door of fleetsyncd
// (the SigV4 API, the console sign-in and the agent endpoint) without
// letting one attacker lock legitimate callers out.
//
// Failed authentications are charged to three budgets, each a token bucket
// that refills over time:
//
//   - the pair (client address, key): when it is spent, that address may
//     not try that key at all until it refills;
//   - the key, from every address together;
//   - the client address, for every key together.
//
// The key and address budgets only ever hold back pairs that have failed
// themselves: when one of them is spent, a pair with a recent failure is
// refused before its credentials are even checked, while a pair with a
// clean record is still checked (and served when right). So an attacker
// behind the same proxy as the operators, or guessing an operator's key
// from many addresses, gets about one guess per fresh address, and the
// operator who signs correctly from anywhere else keeps working.
//
// The client address is the host of http.Request.RemoteAddr. Behind a
// reverse proxy, the middleware that trusts X-Forwarded-For from configured
// proxies (fleetsyncd --trusted-proxies) rewrites RemoteAddr before the
// request gets here; without it every client behind the proxy shares one
// address and only the per-key pair budget tells them apart.
//
// Budgets live in the memory of each replica: with N replicas a guesser
// gets at most N times the budget.
package authguard

import (
	"net/http"
	"sync"
	"time"

	"github.com/fleetsync/fleetsync/internal/forwarded"
)

// Limits are the budgets: Burst failures at once, then one more every Every.
type Limits struct {
	PairBurst int
	PairEvery time.Duration
	KeyBurst  int
	KeyEvery  time.Duration
	AddrBurst int
	AddrEvery time.Duration
	// MaxEntries bounds each table; entries that refilled completely carry
	// no information and are swept first.
	MaxEntries int
}

// DefaultLimits: ten failures per address and key, then one every six
// seconds; a hundred per key or per address across the others, then one a
// second.
func DefaultLimits() Limits {
	return Limits{
		PairBurst: 10, PairEvery: 6 * time.Second,
		KeyBurst: 100, KeyEvery: time.Second,
		AddrBurst: 100, AddrEvery: time.Second,
		MaxEntries: 100000,
	}
}

// Guard is a set of failure budgets; the zero value is not usable, see New.
type Guard struct {
	lim Limits
	now func() time.Time

	mu               sync.Mutex
	pairs, keys, ips *table
}

// table is one budget's buckets, and when its full buckets were last
// swept.
type table struct {
	m       map[string]*bucket
	sweptAt time.Time
}

// MaxKeyBytes bounds the part of a claimed key (an access key id, an agent
// id, a user name) a budget is kept for: a longer one is no real
// credential, and is charged as its first MaxKeyBytes, so that strangers
// cannot make the tables hold the 64 KB a header may carry per entry.
const MaxKeyBytes = 256

// boundKey is key as budgets know it (MaxKeyBytes).
func boundKey(key string) string {
	if len(key) > MaxKeyBytes {
		return key[:MaxKeyBytes]
	}
	return key
}

// sweepEvery is how often a full table is swept at most: a sweep walks
// every entry under the guard's lock, and a table full of live entries
// would otherwise be walked again for each new key a stranger sends.
const sweepEvery = time.Second

// New builds a guard; now nil means time.Now.
func New(lim Limits, now func() time.Time) *Guard {
	if now == nil {
		now = time.Now
	}
	if lim.MaxEntries <= 0 {
		lim.MaxEntries = DefaultLimits().MaxEntries
	}
	newTable := func() *table { return &table{m: map[string]*bucket{}} }
	return &Guard{lim: lim, now: now, pairs: newTable(), keys: newTable(), ips: newTable()}
}

// bucket is a token bucket of failures: tokens left at time last.
type bucket struct {
	tokens float64
	last   time.Time
}

// level returns the tokens of b at now, refilled at one per every up to burst.
func level(b *bucket, burst int, every time.Duration, now time.Time) float64 {
	if b == nil {
		return float64(burst)
	}
	t := b.tokens + float64(now.Sub(b.last))/float64(every)
	return min(t, float64(burst))
}

func pairKey(addr, key string) string { return addr + "\x00" + key }

// Allow reports whether a request from addr for key may have its
// credentials checked now. It charges nothing.
func (g *Guard) Allow(addr, key string) bool {
	key = boundKey(key)
	g.mu.Lock()
	defer g.mu.Unlock()
	now := g.now()
	pair := level(g.pairs.m[pairKey(addr, key)], g.lim.PairBurst, g.lim.PairEvery, now)
	if pair < 1 {
		return false
	}
	clean := pair >= float64(g.lim.PairBurst)
	if clean {
		return true
	}
	return level(g.keys.m[key], g.lim.KeyBurst, g.lim.KeyEvery, now) >= 1 &&
		level(g.ips.m[addr], g.lim.AddrBurst, g.lim.AddrEvery, now) >= 1
}

// Fail charges one failed authentication of key from addr to its budgets.
func (g *Guard) Fail(addr, key string) {
	key = boundKey(key)
	g.mu.Lock()
	defer g.mu.Unlock()
	now := g.now()
	g.charge(g.pairs, pairKey(addr, key), g.lim.PairBurst, g.lim.PairEvery, now)
	g.charge(g.keys, key, g.lim.KeyBurst, g.lim.KeyEvery, now)
	g.charge(g.ips, addr, g.lim.AddrBurst, g.lim.AddrEvery, now)
}

func (g *Guard) charge(tab *table, k string, burst int, every time.Duration, now time.Time) {
	b := tab.m[k]
	t := level(b, burst, every, now)
	if b == nil {
		if len(tab.m) >= g.lim.MaxEntries && now.Sub(tab.sweptAt) >= sweepEvery {
			sweep(tab.m, burst, every, now)
			tab.sweptAt = now
		}
		if len(tab.m) >= g.lim.MaxEntries {
			// Full of live entries: forgetting one gives its owner a
			// fresh budget, never unbounded memory.
			for victim := range tab.m {
				delete(tab.m, victim)
				break
			}
		}
		b = &bucket{}
		tab.m[k] = b
	}
	b.tokens, b.last = max(t-1, 0), now
}

// sweep forgets entries that refilled completely.
func sweep(table map[string]*bucket, burst int, every time.Duration, now time.Time) {
	for k, b := range table {
		if level(b, burst, every, now) >= float64(burst) {
			delete(table, k)
		}
	}
}

// ClientAddr is the address budgets are kept for: the client's host as
// package forwarded gives it (the connection's peer, or the client a
// trusted proxy named in X-Forwarded-For).
func ClientAddr(r *http.Request) string { return forwarded.Client(r) }
