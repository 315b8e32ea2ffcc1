package launch

import "testing"

func TestParseStat(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		in    string
		state byte
		pgrp  int
		ok    bool
	}{
		{"123 (sleep) S 1 456 456 0 -1 4194560", 'S', 456, true},
		{"7 (a) b) c ) Z 1 99 99", 'Z', 99, true},
		{"7 (x y) R 1 12", 'R', 12, true},
		{"7 (x) R 1", 0, 0, false},
		{"garbage", 0, 0, false},
	} {
		state, pgrp, ok := parseStat([]byte(c.in))
		if state != c.state || pgrp != c.pgrp || ok != c.ok {
			t.Errorf("parseStat(%q) = %c %d %v", c.in, state, pgrp, ok)
		}
	}
}
