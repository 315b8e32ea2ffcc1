package launch

import "testing"

func TestParseProcStat(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		in    string
		state byte
		ppid  int
		pgrp  int
		ok    bool
	}{
		{"123 (sleep) S 1 456 456 0 -1 4194560", 'S', 1, 456, true},
		{"7 (a) b) c ) Z 1 99 99", 'Z', 1, 99, true},
		{"7 (x y) R 3 12", 'R', 3, 12, true},
		{"7 (x) R 1", 0, 0, 0, false},
		{"garbage", 0, 0, 0, false},
	} {
		p, ok := parseProcStat(7, []byte(c.in))
		if p.state != c.state || p.pgrp != c.pgrp || p.ppid != c.ppid || ok != c.ok {
			t.Errorf("parseProcStat(%q) = %+v %v", c.in, p, ok)
		}
	}
}
