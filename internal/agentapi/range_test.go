package agentapi

import "testing"

func TestRangeStart(t *testing.T) {
	for _, tc := range []struct {
		h    string
		want int64
	}{
		{"", 0}, {"bytes=0-", 0}, {"bytes=100-", 100}, {"bytes=100-199", 100}, {"bytes=-10", 990}, {"bytes=-5000", 0},
		{"bytes=1000-", 0}, {"bytes=5-9,20-29", 0}, {"bytes=x-", 0}, {"items=5-", 0}, {"bytes=-0", 0}, {"bytes=7", 0},
	} {
		if got := rangeStart(tc.h, 1000); got != tc.want {
			t.Errorf("rangeStart(%q, 1000) = %d, want %d", tc.h, got, tc.want)
		}
	}
}
