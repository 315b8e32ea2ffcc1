package storetest

import (
	"bytes"
	"math"
	"sync"
	"testing"

	"github.com/fleetsync/fleetsync/internal/fleet"
	"github.com/fleetsync/fleetsync/internal/store"
)

// testAgentsSeen: liveness recorded by any replica reaches the engine of
// another through the store, and never moves back in time.
func testAgentsSeen(t *testing.T, s store.Store) {
	ctx := t.Context()
	fx := newJobFixture(t, s)
	must(t, s.CreateJob(ctx, fx.job("arn:seen", 100, fleet.OpCreateDeploymentJob), 10))
	must(t, s.StartPreparing(ctx, "arn:seen"))
	var rows []fleet.RobotDeployment
	for i, r := range fx.robots {
		rows = append(rows, fleet.RobotDeployment{Robot: r.ARN, Seq: i, Status: fleet.RobotPendingNewDeployment})
	}
	must(t, s.Prepare(ctx, "arn:seen", rows, store.JobOutcome{}, 200))
	must(t, s.Apply(ctx, "arn:seen", store.Step{Start: []string{fx.robots[0].ARN, fx.robots[1].ARN}}, 300))

	seen := func() map[string]int64 {
		t.Helper()
		rows, err := s.Deploying(ctx, "arn:seen", store.DeployingCut{StartedBefore: math.MaxInt64, SilentBefore: math.MaxInt64})
		must(t, err)
		out := map[string]int64{}
		for i, d := range rows {
			if d.StartedMs != 300 || d.Robot != fx.robots[i].ARN {
				t.Fatalf("Deploying row %d = %+v, want robot %d started at 300, in start order", i, d, i)
			}
			out[d.Robot] = d.SeenMs
		}
		return out
	}
	got := seen()
	if len(got) != 2 || got[fx.robots[0].ARN] != 0 || got[fx.robots[1].ARN] != 0 {
		t.Fatalf("before any agent was heard: %v, want robots 0 and 1 at 0", got)
	}
	// Only rows started at or before the bound are read.
	for bound, want := range map[int64]int{299: 0, 300: 2} {
		rows, err := s.Deploying(ctx, "arn:seen", store.DeployingCut{StartedBefore: bound, SilentBefore: math.MinInt64})
		must(t, err)
		if len(rows) != want {
			t.Errorf("Deploying started at or before %d: %d rows, want %d", bound, len(rows), want)
		}
	}
	must(t, s.RecordAgentsSeen(ctx, map[string]int64{fx.robots[0].ARN: 500, fx.robots[2].ARN: 400, "arn:no-such-robot": 1}))
	must(t, s.RecordAgentsSeen(ctx, map[string]int64{fx.robots[0].ARN: 450})) // an older batch of another replica
	must(t, s.RecordAgentsSeen(ctx, nil))
	got = seen()
	if len(got) != 2 || got[fx.robots[0].ARN] != 500 || got[fx.robots[1].ARN] != 0 {
		t.Errorf("after recording: %v, want robot 0 at 500 (not moved back), robot 1 at 0, robot 2 absent (not deploying)", got)
	}
	// The silence rule reads a row only when its start and its agent's
	// last hearing are both at or before the bound; either rule selects.
	for _, c := range []struct {
		cut  store.DeployingCut
		want int // rows, from robot 0 in start order
		from int
	}{
		{store.DeployingCut{StartedBefore: math.MinInt64, SilentBefore: 299}, 0, 0},
		{store.DeployingCut{StartedBefore: math.MinInt64, SilentBefore: 400}, 1, 1}, // robot 0 heard at 500
		{store.DeployingCut{StartedBefore: math.MinInt64, SilentBefore: 500}, 2, 0},
		{store.DeployingCut{StartedBefore: 300, SilentBefore: 400}, 2, 0},
		{store.DeployingCut{StartedBefore: 299, SilentBefore: 400}, 1, 1},
	} {
		rows, err := s.Deploying(ctx, "arn:seen", c.cut)
		must(t, err)
		if len(rows) != c.want || (c.want > 0 && rows[0].Robot != fx.robots[c.from].ARN) {
			t.Errorf("Deploying %+v: %+v, want %d rows from robot %d", c.cut, rows, c.want, c.from)
		}
	}
}

// testReplayWindows: each agent's window is one row, updated by one
// transaction at a time (racing updates of one agent, as from several
// replicas, lose nothing), unchanged when the update refuses, and swept by
// its newest date.
func testReplayWindows(t *testing.T, s store.Store) {
	ctx := t.Context()
	appendByte := func(b byte, newest int64) func([]byte) ([]byte, int64, bool) {
		return func(old []byte) ([]byte, int64, bool) { return append(bytes.Clone(old), b), newest, true }
	}
	var seen []byte
	ok, err := s.UpdateReplayWindow(ctx, "agent-a", func(old []byte) ([]byte, int64, bool) {
		seen = old
		return []byte{1}, 1000, true
	})
	must(t, err)
	if !ok || seen != nil {
		t.Fatalf("first update: ok=%v, old=%v; want ok and no stored window", ok, seen)
	}
	if ok, err = s.UpdateReplayWindow(ctx, "agent-a", func(old []byte) ([]byte, int64, bool) {
		seen = old
		return []byte{9, 9}, 9999, false
	}); err != nil || ok {
		t.Fatalf("refusing update = %v, %v; want not ok", ok, err)
	}
	if !bytes.Equal(seen, []byte{1}) {
		t.Errorf("second update read %v, want the first one's window [1]", seen)
	}
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Go(func() {
			if _, err := s.UpdateReplayWindow(ctx, "agent-race", appendByte(byte(i), 2000)); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	_, err = s.UpdateReplayWindow(ctx, "agent-race", func(old []byte) ([]byte, int64, bool) { seen = old; return nil, 0, false })
	must(t, err)
	if len(seen) != 20 {
		t.Errorf("20 racing updates of one agent's window left %d bytes, want 20 (updates lost)", len(seen))
	}
	deleted, err := s.DeleteReplayWindowsBefore(ctx, 1500)
	must(t, err)
	if deleted != 1 {
		t.Errorf("swept %d windows, want 1 (agent-a's)", deleted)
	}
	_, err = s.UpdateReplayWindow(ctx, "agent-a", func(old []byte) ([]byte, int64, bool) { seen = old; return nil, 0, false })
	must(t, err)
	if seen != nil {
		t.Errorf("a swept window is still there: %v", seen)
	}
}

// testSettings: the first value set wins, racing writers included.
func testSettings(t *testing.T, s store.Store) {
	ctx := t.Context()
	var wg sync.WaitGroup
	got := make([]string, 10)
	for i := range 10 {
		wg.Go(func() {
			v, err := s.EnsureSetting(ctx, "k", string(rune('a'+i)))
			if err != nil {
				t.Error(err)
			}
			got[i] = v
		})
	}
	wg.Wait()
	for i := range got {
		if got[i] == "" || got[i] != got[0] {
			t.Fatalf("racing EnsureSetting returned %q, want one value for all", got)
		}
	}
	if v, err := s.EnsureSetting(ctx, "k", "later"); err != nil || v != got[0] {
		t.Errorf("EnsureSetting after = %q, %v; want %q", v, err, got[0])
	}
	if v, _ := s.EnsureSetting(ctx, "other", "x"); v != "x" {
		t.Errorf("another key = %q, want x", v)
	}
}

// testLeaseFencing: a step fenced by an owner applies only while that owner
// holds the job's lease; once another took the lease over, the old owner's
// step changes nothing.
func testLeaseFencing(t *testing.T, s store.Store) {
	ctx := t.Context()
	fx := newJobFixture(t, s)
	must(t, s.CreateJob(ctx, fx.job("arn:fenced", 100, fleet.OpCreateDeploymentJob), 10))
	must(t, s.StartPreparing(ctx, "arn:fenced"))
	var rows []fleet.RobotDeployment
	for i, r := range fx.robots {
		rows = append(rows, fleet.RobotDeployment{Robot: r.ARN, Seq: i, Status: fleet.RobotPendingNewDeployment})
	}
	must(t, s.Prepare(ctx, "arn:fenced", rows, store.JobOutcome{}, 200))
	if ok, err := s.AcquireLease(ctx, "arn:fenced", "a", 1000, 2000); err != nil || !ok {
		t.Fatalf("first lease = %v, %v", ok, err)
	}
	must(t, s.Apply(ctx, "arn:fenced", store.Step{Owner: "a", Start: []string{fx.robots[0].ARN}}, 1100))
	if ok, _ := s.AcquireLease(ctx, "arn:fenced", "b", 1500, 2500); ok {
		t.Fatal("b took an unexpired lease")
	}
	if ok, _ := s.AcquireLease(ctx, "arn:fenced", "b", 2001, 3001); !ok {
		t.Fatal("b could not take a lapsed lease")
	}
	wantErr(t, "step of the old owner", s.Apply(ctx, "arn:fenced", store.Step{Owner: "a", Start: []string{fx.robots[1].ARN}}, 2100), store.ErrConflict)
	must(t, s.Apply(ctx, "arn:fenced", store.Step{Owner: "b", Start: []string{fx.robots[2].ARN}}, 2200))
	counts, err := s.Counts(ctx, "arn:fenced")
	must(t, err)
	if counts[fleet.RobotDeploying] != 2 || counts[fleet.RobotPendingNewDeployment] != 1 {
		t.Errorf("counts after a fenced-off step = %v, want robots 0 and 2 deploying, robot 1 pending", counts)
	}
}
