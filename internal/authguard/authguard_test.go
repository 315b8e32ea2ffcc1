package authguard

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func small() Limits {
	return Limits{PairBurst: 3, PairEvery: time.Second, KeyBurst: 5, KeyEvery: time.Second, AddrBurst: 5, AddrEvery: time.Second, MaxEntries: 100}
}

// failN charges n failures of key from addr, each allowed first; it reports
// how many were allowed.
func failN(g *Guard, addr, key string, n int) int {
	allowed := 0
	for range n {
		if g.Allow(addr, key) {
			allowed++
			g.Fail(addr, key)
		}
	}
	return allowed
}

func TestPairBudget(t *testing.T) {
	c := &clock{time.Unix(1000, 0)}
	g := New(small(), c.now)
	if got := failN(g, "a", "K", 10); got != 3 {
		t.Fatalf("allowed %d failures from one address, want the pair burst 3", got)
	}
	if g.Allow("a", "K") {
		t.Fatal("spent pair allowed")
	}
	if !g.Allow("b", "K") {
		t.Fatal("another address with a clean record refused (lockout)")
	}
	if !g.Allow("a", "OTHER") {
		t.Fatal("the same address with another key refused (shared proxy lockout)")
	}
	c.t = c.t.Add(time.Second)
	if !g.Allow("a", "K") {
		t.Fatal("pair not refilled after its interval")
	}
}

func TestKeyBudgetHoldsBackOnlyFailingPairs(t *testing.T) {
	c := &clock{time.Unix(1000, 0)}
	g := New(small(), c.now)
	// Five addresses spend the key's budget of 5 failures, one each.
	for i := range 5 {
		failN(g, fmt.Sprint("attacker", i), "K", 1)
	}
	// A sixth fresh address still gets its one check (clean record), then
	// is held back: about one guess per fresh address.
	if got := failN(g, "attacker-new", "K", 5); got != 1 {
		t.Fatalf("fresh address while the key is under attack: %d checks, want 1", got)
	}
	if !g.Allow("operator", "K") {
		t.Fatal("the operator's clean address is refused while its key is under attack")
	}
}

func TestAddrBudgetHoldsBackOnlyFailingPairs(t *testing.T) {
	c := &clock{time.Unix(1000, 0)}
	g := New(small(), c.now)
	for i := range 5 {
		failN(g, "proxy", fmt.Sprint("key", i), 1)
	}
	if got := failN(g, "proxy", "key-new", 5); got != 1 {
		t.Fatalf("spraying keys from one address: %d checks for a new key, want 1", got)
	}
	if !g.Allow("proxy", "operator-key") {
		t.Fatal("an operator's key behind the same proxy is refused")
	}
}

func TestTableBounded(t *testing.T) {
	c := &clock{time.Unix(1000, 0)}
	lim := small()
	lim.MaxEntries = 10
	g := New(lim, c.now)
	for i := range 1000 {
		g.Fail(fmt.Sprint("a", i), fmt.Sprint("k", i))
	}
	if len(g.pairs.m) > 10 || len(g.keys.m) > 10 || len(g.ips.m) > 10 {
		t.Fatalf("tables grew past their bound: %d %d %d", len(g.pairs.m), len(g.keys.m), len(g.ips.m))
	}
}

// TestLongKeysBounded: a stranger's claimed keys of a header's size are
// kept as their first MaxKeyBytes only, and share that budget.
func TestLongKeysBounded(t *testing.T) {
	c := &clock{time.Unix(1000, 0)}
	g := New(small(), c.now)
	long := strings.Repeat("k", 60<<10)
	for i := range 50 {
		g.Fail("203.0.113.9", long+fmt.Sprint(i))
	}
	for k := range g.keys.m {
		if len(k) > MaxKeyBytes {
			t.Fatalf("a key of %d bytes is kept", len(k))
		}
	}
	if len(g.keys.m) != 1 {
		t.Fatalf("%d keys kept for one long prefix, want 1", len(g.keys.m))
	}
	if g.Allow("203.0.113.9", long+"fresh") {
		t.Fatal("a long key sharing a spent prefix was allowed")
	}
}

// TestFullTableSweptAtMostOncePerSecond: a table full of live entries is
// not walked again for every new key (each walk holds the guard's lock).
func TestFullTableSweptAtMostOncePerSecond(t *testing.T) {
	c := &clock{time.Unix(1000, 0)}
	lim := small()
	lim.MaxEntries = 10
	g := New(lim, c.now)
	for i := range 10 {
		g.Fail("a", fmt.Sprint("k", i))
	}
	g.Fail("a", "k10") // full: swept now
	swept := g.keys.sweptAt
	if !swept.Equal(c.now()) {
		t.Fatalf("a full table was not swept (sweptAt %v)", swept)
	}
	c.t = c.t.Add(500 * time.Millisecond)
	g.Fail("a", "k11")
	if !g.keys.sweptAt.Equal(swept) {
		t.Fatal("swept again within a second")
	}
	c.t = c.t.Add(600 * time.Millisecond)
	g.Fail("a", "k12")
	if g.keys.sweptAt.Equal(swept) {
		t.Fatal("not swept again after a second")
	}
	if len(g.keys.m) > 10 {
		t.Fatalf("%d keys, bound 10", len(g.keys.m))
	}
}
