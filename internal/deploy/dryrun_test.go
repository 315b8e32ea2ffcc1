package deploy

import (
	"reflect"
	"testing"

	"github.com/fleetsync/fleetsync/internal/agent/bundle"
	"github.com/fleetsync/fleetsync/internal/fleet"
)

func TestWaves(t *testing.T) {
	rows := func(statuses ...fleet.RobotStatus) []fleet.RobotDeployment {
		out := make([]fleet.RobotDeployment, len(statuses))
		for i, s := range statuses {
			out[i] = fleet.RobotDeployment{Seq: i, Status: s}
		}
		return out
	}
	const p, f = fleet.RobotPendingNewDeployment, fleet.RobotFailed
	for _, c := range []struct {
		name           string
		rows           []fleet.RobotDeployment
		canary, window int
		want           []int
	}{
		{"window of 2", rows(p, p, p, p, p), 0, 2, []int{1, 1, 2, 2, 3}},
		{"failed at preparation start no wave", rows(p, f, p, p), 0, 2, []int{1, 0, 1, 2}},
		{"canary of 1 alone first", rows(p, p, p, p), 1, 2, []int{1, 2, 2, 3}},
		{"canary wider than the window", rows(p, p, p, p, p), 3, 2, []int{1, 1, 2, 3, 3}},
		{"canary row failed at preparation", rows(f, p, p), 1, 2, []int{0, 1, 1}},
		{"window 0 counts as 1", rows(p, p), 0, 0, []int{1, 2}},
	} {
		if got := Waves(c.rows, c.canary, c.window); !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s: Waves = %v, want %v", c.name, got, c.want)
		}
	}
}

func TestDownloadBytes(t *testing.T) {
	l := v2Layout{head: 5000, overlays: []bundle.Overlay{{SHA256: "deps", Size: 3000000}, {SHA256: "ws", Size: 200000}}}
	for _, c := range []struct {
		name   string
		layout v2Layout
		cached []string
		want   int64
		reused int
	}{
		{"not v2: whole", v2Layout{}, []string{"deps"}, 9000000, 0},
		{"nothing cached: whole", l, nil, 9000000, 0},
		{"one cached: head and the other", l, []string{"deps", "old"}, 5000 + 200000, 1},
		{"all cached: head only", l, []string{"ws", "deps"}, 5000, 2},
	} {
		got, reused, _ := downloadBytes(9000000, c.layout, c.cached)
		if got != c.want || reused != c.reused {
			t.Errorf("%s: downloadBytes = %d (%d reused), want %d (%d)", c.name, got, reused, c.want, c.reused)
		}
	}
}
