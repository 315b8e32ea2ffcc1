package agentapi

import "testing"

// TestGenerations: an entry is kept at least one period after it was last
// touched and forgotten within two; reading an old entry keeps it.
func TestGenerations(t *testing.T) {
	const period = 100
	type step struct {
		atMs int64
		op   string // put, get (touch), check
		key  string
		want bool // check: kept
	}
	cases := []struct {
		name  string
		steps []step
	}{
		{"kept within one period", []step{{0, "put", "a", false}, {99, "check", "a", true}}},
		{"kept across one rotation", []step{{0, "put", "a", false}, {100, "check", "a", true}, {150, "check", "a", true}}},
		{"forgotten after two rotations", []step{{0, "put", "a", false}, {100, "check", "b", false}, {200, "check", "a", false}}},
		{"a touch keeps it", []step{{0, "put", "a", false}, {100, "get", "a", false}, {200, "check", "a", true}, {300, "check", "b", false}, {400, "check", "a", false}}},
		{"put late in a generation", []step{{0, "check", "x", false}, {99, "put", "a", false}, {100, "check", "x", false}, {198, "check", "a", true}}},
		{"long silence forgets all", []step{{0, "put", "a", false}, {50, "put", "b", false}, {250, "check", "a", false}, {250, "check", "b", false}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var g generations[string, int]
			for _, s := range c.steps {
				g.rotate(s.atMs, period)
				switch s.op {
				case "put":
					g.put(s.key, 1)
				case "get":
					g.get(s.key)
				case "check":
					if _, ok := g.get(s.key); ok != s.want {
						t.Fatalf("at %d ms %q kept %v, want %v", s.atMs, s.key, ok, s.want)
					}
				}
			}
		})
	}
	var g generations[string, int]
	g.rotate(0, period)
	g.put("a", 1)
	g.rotate(100, period)
	g.put("a", 2) // in both generations once: counted once
	g.put("b", 3)
	if g.len() != 2 {
		t.Fatalf("len %d, want 2", g.len())
	}
	g.remove("a")
	if _, ok := g.get("a"); ok || g.len() != 1 {
		t.Fatal("removed entry still kept")
	}
}
