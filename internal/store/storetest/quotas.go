package storetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/fleetsync/fleetsync/internal/fleet"
	"github.com/fleetsync/fleetsync/internal/store"
)

// testRobotQuotaAccounting checks the robot quotas through every write that
// moves them: failed inserts consume nothing, deletes and deregistrations
// free their slot, a deleted fleet takes its count with it, and each
// account and fleet counts only its own robots.
func testRobotQuotaAccounting(t *testing.T, s store.Store) {
	ctx := t.Context()
	const max = 3
	for i := range max {
		must(t, s.CreateRobot(ctx, newRobot(acct, fmt.Sprintf("q%d", i), int64(10+i)), max))
	}
	wantErr(t, "account full", s.CreateRobot(ctx, newRobot(acct, "q-over", 20), max), store.ErrLimit)
	// Another account has quotas of its own.
	must(t, s.CreateRobot(ctx, newRobot(other, "q0", 21), 1))
	// A refused duplicate takes no slot: after deleting one robot, exactly
	// one more fits even though duplicates were tried in between.
	wantErr(t, "duplicate name", s.CreateRobot(ctx, newRobot(acct, "q0", 22), 10), store.ErrExists)
	must(t, s.DeleteRobot(ctx, acct, newRobot(acct, "q0", 10).ARN))
	dup := newRobot(acct, "q-dup", 23)
	dup.AgentID = newRobot(acct, "q1", 11).AgentID
	wantErr(t, "duplicate agent id", s.CreateRobot(ctx, dup, max), store.ErrExists)
	must(t, s.CreateRobot(ctx, newRobot(acct, "q3", 24), max))
	wantErr(t, "account full again", s.CreateRobot(ctx, newRobot(acct, "q4", 25), max), store.ErrLimit)

	f, g := newFleet(acct, "qf", 30), newFleet(acct, "qg", 31)
	must(t, s.CreateFleet(ctx, f, 10))
	must(t, s.CreateFleet(ctx, g, 10))
	r1, r2, r3 := newRobot(acct, "q1", 11).ARN, newRobot(acct, "q2", 12).ARN, newRobot(acct, "q3", 24).ARN
	must(t, s.RegisterRobot(ctx, acct, f.ARN, r1, 2))
	must(t, s.RegisterRobot(ctx, acct, f.ARN, r1, 2)) // already there: no second slot
	must(t, s.RegisterRobot(ctx, acct, f.ARN, r2, 2))
	wantErr(t, "fleet full", s.RegisterRobot(ctx, acct, f.ARN, r3, 2), store.ErrLimit)
	must(t, s.RegisterRobot(ctx, acct, g.ARN, r3, 1)) // the other fleet counts its own
	must(t, s.DeregisterRobot(ctx, acct, f.ARN, r1))
	must(t, s.RegisterRobot(ctx, acct, f.ARN, r1, 2)) // the freed slot
	// Deleting a registered robot frees both its account and fleet slots.
	must(t, s.DeleteRobot(ctx, acct, r2))
	must(t, s.CreateRobot(ctx, newRobot(acct, "q5", 26), max))
	wantErr(t, "fleet slot freed by the delete, then retaken", s.RegisterRobot(ctx, acct, f.ARN, newRobot(acct, "q5", 26).ARN, 1), store.ErrLimit)
	must(t, s.RegisterRobot(ctx, acct, f.ARN, newRobot(acct, "q5", 26).ARN, 2))
	// A deleted fleet's robots are deregistered; a fleet made again starts empty.
	must(t, s.DeleteFleet(ctx, acct, f.ARN))
	must(t, s.CreateFleet(ctx, f, 10))
	must(t, s.RegisterRobot(ctx, acct, f.ARN, r1, 1))
}

// testConcurrentRobotQuota races creates and registrations at a quota: the
// database settles the bound, so exactly the quota succeeds and nobody sees
// another error.
func testConcurrentRobotQuota(t *testing.T, s store.Store) {
	ctx := context.Background()
	const n, max = 24, 10
	f := newFleet(acct, "race", 1)
	must(t, s.CreateFleet(ctx, f, 10))
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() { errs[i] = s.CreateRobot(ctx, newRobot(acct, fmt.Sprintf("race-%02d", i), int64(100+i)), max) })
	}
	wg.Wait()
	var created []string
	for i, err := range errs {
		switch {
		case err == nil:
			created = append(created, newRobot(acct, fmt.Sprintf("race-%02d", i), int64(100+i)).ARN)
		case !errors.Is(err, store.ErrLimit):
			t.Errorf("racing create: %v", err)
		}
	}
	if len(created) != max {
		t.Fatalf("%d of %d racing creates under a quota of %d succeeded", len(created), n, max)
	}
	page, err := s.ListRobots(ctx, fleet.ListQuery{Account: acct, Limit: 100})
	must(t, err)
	if len(page.Items) != max {
		t.Errorf("the account has %d robots, want %d", len(page.Items), max)
	}
	const fleetMax = 4
	for i, r := range created {
		wg.Go(func() { errs[i] = s.RegisterRobot(ctx, acct, f.ARN, r, fleetMax) })
	}
	wg.Wait()
	registered := 0
	for _, err := range errs[:len(created)] {
		switch {
		case err == nil:
			registered++
		case !errors.Is(err, store.ErrLimit):
			t.Errorf("racing register: %v", err)
		}
	}
	members, err := s.FleetRobots(ctx, acct, f.ARN, 100)
	must(t, err)
	if registered != fleetMax || len(members) != fleetMax {
		t.Errorf("%d registrations succeeded and the fleet has %d robots, want %d", registered, len(members), fleetMax)
	}
	for _, m := range members {
		if m.Status != fleet.RobotRegistered {
			t.Errorf("member %s is %s", m.ARN, m.Status)
		}
	}
}
