// Package storetest is the conformance suite every store.Store backend must
// pass. Backends call Run from their own tests with a constructor of fresh,
// empty stores.
package storetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/fleetsync/fleetsync/internal/fleet"
	"github.com/fleetsync/fleetsync/internal/store"
)

// Run runs the whole suite; newStore returns a fresh, empty store.
func Run(t *testing.T, newStore func(t *testing.T) store.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s store.Store)
	}{
		{"FleetCRUD", testFleetCRUD},
		{"FleetPaging", testFleetPaging},
		{"RobotRegistration", testRobotRegistration},
		{"RobotFilters", testRobotFilters},
		{"ApplicationVersions", testApplicationVersions},
		{"Tags", testTags},
		{"Credentials", testCredentials},
		{"ConcurrentUniqueNames", testConcurrentUniqueNames},
		{"RobotQuotaAccounting", testRobotQuotaAccounting},
		{"ConcurrentRobotQuota", testConcurrentRobotQuota},
		{"JobLifecycle", testJobLifecycle},
		{"JobCancel", testJobCancel},
		{"JobCancelEarly", testJobCancelEarly},
		{"PrepareLeavesOutRobotsGone", testPrepareLeavesOutRobotsGone},
		{"FailJobOnlyWhilePreparing", testFailJobOnlyWhilePreparing},
		{"ConcurrentJobs", testConcurrentJobs},
		{"Reports", testReports},
		{"AgentsSeen", testAgentsSeen},
		{"ReplayWindows", testReplayWindows},
		{"FleetDeletedMidDeployment", testFleetDeletedMidDeployment},
		{"Settings", testSettings},
		{"LeaseFencing", testLeaseFencing},
		{"AgentIDsPerAccount", testAgentIDsPerAccount},
		{"Sessions", testSessions},
		{"BucketGrants", testBucketGrants},
		{"FailureEvidence", testFailureEvidence},
		{"RobotLogs", testRobotLogs},
		{"JobPause", testJobPause},
		{"CountsBefore", testCountsBefore},
		{"CountsFollowRows", testCountsFollowRows},
		{"Retries", testRetries},
		{"RobotPoll", testRobotPoll},
		{"Quarantine", testQuarantine},
		{"DryRuns", testDryRuns},
		{"RowRevisions", testRowRevisions},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, newStore(t)) })
	}
}

const acct, other = "111111111111", "222222222222"

func arn(account string, typ fleet.ResourceType, name string, ms int64) string {
	return fleet.ARN{Region: "us-east-1", Account: account, Type: typ, Name: name, CreatedMs: ms}.String()
}

func newFleet(account, name string, ms int64) fleet.Fleet {
	return fleet.Fleet{ARN: arn(account, fleet.TypeFleet, name, ms), Account: account, Name: name, CreatedMs: ms, Tags: fleet.Tags{}}
}

func newRobot(account, name string, ms int64) fleet.Robot {
	return fleet.Robot{ARN: arn(account, fleet.TypeRobot, name, ms), Account: account, Name: name, Architecture: fleet.ARM64,
		AgentID: "agent-" + account + "-" + name, Status: fleet.RobotAvailable, CreatedMs: ms, Tags: fleet.Tags{}}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func wantErr(t *testing.T, what string, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("%s: error %v, want %v", what, err, want)
	}
}

func testFleetCRUD(t *testing.T, s store.Store) {
	ctx := t.Context()
	f := newFleet(acct, "f1", 1000)
	f.Tags = fleet.Tags{"k": "v"}
	must(t, s.CreateFleet(ctx, f, 2))
	wantErr(t, "duplicate name", s.CreateFleet(ctx, newFleet(acct, "f1", 2000), 2), store.ErrExists)
	must(t, s.CreateFleet(ctx, newFleet(other, "f1", 1000), 2)) // names are per account
	must(t, s.CreateFleet(ctx, newFleet(acct, "f2", 1001), 2))
	wantErr(t, "quota", s.CreateFleet(ctx, newFleet(acct, "f3", 1002), 2), store.ErrLimit)

	got, err := s.GetFleet(ctx, acct, f.ARN)
	must(t, err)
	if got.Name != "f1" || got.CreatedMs != 1000 || got.Tags["k"] != "v" {
		t.Errorf("GetFleet = %+v", got)
	}
	_, err = s.GetFleet(ctx, other, f.ARN)
	wantErr(t, "other account", err, store.ErrNotFound)

	r := newRobot(acct, "r1", 1500)
	must(t, s.CreateRobot(ctx, r, 10))
	must(t, s.RegisterRobot(ctx, acct, f.ARN, r.ARN, 10))
	must(t, s.DeleteFleet(ctx, acct, f.ARN))
	_, err = s.GetFleet(ctx, acct, f.ARN)
	wantErr(t, "deleted fleet", err, store.ErrNotFound)
	wantErr(t, "delete twice", s.DeleteFleet(ctx, acct, f.ARN), store.ErrNotFound)
	gr, err := s.GetRobot(ctx, acct, r.ARN)
	must(t, err)
	if gr.FleetARN != "" || gr.Status != fleet.RobotAvailable {
		t.Errorf("robot of a deleted fleet = %+v, want deregistered and Available", gr)
	}
	tags, err := s.ResourceTags(ctx, f.ARN)
	must(t, err)
	if len(tags) != 0 {
		t.Errorf("tags of a deleted fleet = %v", tags)
	}
}

func testFleetPaging(t *testing.T, s store.Store) {
	ctx := t.Context()
	var want []string
	for i := range 7 {
		// Two fleets share a creation time: the ARN breaks the tie.
		f := newFleet(acct, fmt.Sprintf("f%d", i), int64(1000+i/2))
		must(t, s.CreateFleet(ctx, f, 100))
		want = append(want, f.ARN)
	}
	must(t, s.CreateFleet(ctx, newFleet(other, "x", 1000), 100))
	var got []string
	var after *fleet.Cursor
	pages := 0
	for {
		p, err := s.ListFleets(ctx, fleet.ListQuery{Account: acct, After: after, Limit: 3})
		must(t, err)
		pages++
		for _, f := range p.Items {
			got = append(got, f.ARN)
		}
		if p.Next == nil {
			break
		}
		after = p.Next
	}
	if pages != 3 || len(got) != 7 {
		t.Fatalf("paging gave %d pages, %d items; want 3 pages, 7 items", pages, len(got))
	}
	// Expected order: creation time, then ARN (here: the creation order).
	if !slices.Equal(got, want) {
		t.Errorf("pages = %v, want %v", got, want)
	}
	for i := 1; i < len(got); i++ {
		a, _ := fleet.ParseARN(got[i-1])
		b, _ := fleet.ParseARN(got[i])
		if a.CreatedMs > b.CreatedMs || (a.CreatedMs == b.CreatedMs && got[i-1] >= got[i]) {
			t.Errorf("order broken at %d: %s then %s", i, got[i-1], got[i])
		}
	}
	p, err := s.ListFleets(ctx, fleet.ListQuery{Account: acct, Filters: map[string]string{"name": "f3"}, Limit: 10})
	must(t, err)
	if len(p.Items) != 1 || p.Items[0].Name != "f3" || p.Next != nil {
		t.Errorf("filter name=f3 = %+v", p)
	}
}

func testRobotRegistration(t *testing.T, s store.Store) {
	ctx := t.Context()
	f1, f2 := newFleet(acct, "f1", 1), newFleet(acct, "f2", 2)
	must(t, s.CreateFleet(ctx, f1, 10))
	must(t, s.CreateFleet(ctx, f2, 10))
	r1, r2 := newRobot(acct, "r1", 3), newRobot(acct, "r2", 4)
	must(t, s.CreateRobot(ctx, r1, 10))
	must(t, s.CreateRobot(ctx, r2, 10))
	dupAgent := newRobot(acct, "r3", 5)
	dupAgent.AgentID = r1.AgentID
	wantErr(t, "duplicate agent id", s.CreateRobot(ctx, dupAgent, 10), store.ErrExists)
	wantErr(t, "robot quota", s.CreateRobot(ctx, newRobot(acct, "r4", 6), 2), store.ErrLimit)

	must(t, s.RegisterRobot(ctx, acct, f1.ARN, r1.ARN, 1))
	must(t, s.RegisterRobot(ctx, acct, f1.ARN, r1.ARN, 1)) // idempotent
	wantErr(t, "fleet full", s.RegisterRobot(ctx, acct, f1.ARN, r2.ARN, 1), store.ErrLimit)
	wantErr(t, "other fleet", s.RegisterRobot(ctx, acct, f2.ARN, r1.ARN, 10), store.ErrConflict)
	wantErr(t, "foreign account", s.RegisterRobot(ctx, other, f1.ARN, r1.ARN, 10), store.ErrNotFound)
	wantErr(t, "missing robot", s.RegisterRobot(ctx, acct, f1.ARN, r1.ARN+"0", 10), store.ErrNotFound)
	got, err := s.GetRobot(ctx, acct, r1.ARN)
	must(t, err)
	if got.FleetARN != f1.ARN || got.Status != fleet.RobotRegistered {
		t.Errorf("registered robot = %+v", got)
	}
	robots, err := s.FleetRobots(ctx, acct, f1.ARN, 1000)
	must(t, err)
	if len(robots) != 1 || robots[0].ARN != r1.ARN {
		t.Errorf("FleetRobots = %+v", robots)
	}
	wantErr(t, "deregister from the wrong fleet", s.DeregisterRobot(ctx, acct, f2.ARN, r1.ARN), store.ErrConflict)
	must(t, s.DeregisterRobot(ctx, acct, f1.ARN, r1.ARN))
	got, _ = s.GetRobot(ctx, acct, r1.ARN)
	if got.FleetARN != "" || got.Status != fleet.RobotAvailable {
		t.Errorf("deregistered robot = %+v", got)
	}
	must(t, s.DeleteRobot(ctx, acct, r2.ARN))
	wantErr(t, "deleted robot", s.DeleteRobot(ctx, acct, r2.ARN), store.ErrNotFound)
}

func testRobotFilters(t *testing.T, s store.Store) {
	ctx := t.Context()
	f := newFleet(acct, "fleetA", 1)
	must(t, s.CreateFleet(ctx, f, 10))
	for i := range 4 {
		r := newRobot(acct, fmt.Sprintf("r%d", i), int64(10+i))
		must(t, s.CreateRobot(ctx, r, 10))
		if i%2 == 0 {
			must(t, s.RegisterRobot(ctx, acct, f.ARN, r.ARN, 10))
		}
	}
	for _, c := range []struct {
		filters map[string]string
		want    int
	}{
		{map[string]string{"fleetName": "fleetA"}, 2},
		{map[string]string{"status": "Registered"}, 2},
		{map[string]string{"status": "Available"}, 2},
		{map[string]string{"status": "Available", "fleetName": "fleetA"}, 0},
		{map[string]string{"fleetName": "fleet"}, 0}, // exact match only
		{nil, 4},
	} {
		p, err := s.ListRobots(ctx, fleet.ListQuery{Account: acct, Filters: c.filters, Limit: 100})
		must(t, err)
		if len(p.Items) != c.want {
			t.Errorf("ListRobots(%v) = %d robots, want %d", c.filters, len(p.Items), c.want)
		}
	}
}

func testApplicationVersions(t *testing.T, s store.Store) {
	ctx := t.Context()
	a := fleet.Application{ARN: arn(acct, fleet.TypeRobotApplication, "app", 100), Account: acct, Name: "app", Version: fleet.LatestVersion,
		Sources:       []fleet.Source{{Bucket: "b", Key: "k", Architecture: fleet.ARM64}},
		SoftwareSuite: fleet.SoftwareSuite{Name: "General"}, RevisionID: "rev1", CreatedMs: 100, LastUpdatedMs: 100, Tags: fleet.Tags{}}
	must(t, s.CreateApplication(ctx, a, 10))
	wantErr(t, "duplicate", s.CreateApplication(ctx, a, 10), store.ErrExists)
	snap := []fleet.Source{{Bucket: "b", Key: "k", Architecture: fleet.ARM64, ETag: `"e1"`, SHA256: "s1", HeadSHA256: "h1", HeadSize: 9000}}
	_, err := s.CreateApplicationVersion(ctx, acct, a.ARN, "stale", snap, 200, 2)
	wantErr(t, "stale revision", err, store.ErrConflict)
	v1, err := s.CreateApplicationVersion(ctx, acct, a.ARN, "rev1", snap, 200, 2)
	must(t, err)
	v2, err := s.CreateApplicationVersion(ctx, acct, a.ARN, "rev1", snap, 300, 2)
	must(t, err)
	if v1.Version != "1" || v2.Version != "2" || v1.Sources[0].ETag != `"e1"` {
		t.Errorf("versions = %+v, %+v", v1, v2)
	}
	_, err = s.CreateApplicationVersion(ctx, acct, a.ARN, "rev1", snap, 400, 2)
	wantErr(t, "version cap", err, store.ErrLimit)
	must(t, s.DeleteApplicationVersion(ctx, acct, a.ARN, "2"))
	v3, err := s.CreateApplicationVersion(ctx, acct, a.ARN, "rev1", snap, 500, 2)
	must(t, err)
	if v3.Version != "3" {
		t.Errorf("after deleting version 2 the next is %s, want 3 (numbers are never reused)", v3.Version)
	}
	got, err := s.GetApplication(ctx, acct, a.ARN, "1")
	must(t, err)
	if got.Sources[0].SHA256 != "s1" || got.Sources[0].HeadSHA256 != "h1" || got.Sources[0].HeadSize != 9000 || got.RevisionID != "rev1" {
		t.Errorf("GetApplication(1) = %+v", got)
	}
	_, err = s.GetApplication(ctx, acct, a.ARN, "2")
	wantErr(t, "deleted version", err, store.ErrNotFound)
	for _, v := range []string{"2147483648", "99999999999999999999"} { // past the versions' 32-bit column
		_, err = s.GetApplication(ctx, acct, a.ARN, v)
		wantErr(t, "version "+v, err, store.ErrNotFound)
		wantErr(t, "delete version "+v, s.DeleteApplicationVersion(ctx, acct, a.ARN, v), store.ErrNotFound)
	}

	upd := a
	upd.RevisionID, upd.Sources = "rev2", []fleet.Source{{Bucket: "b", Key: "k2", Architecture: fleet.X86_64}}
	wantErr(t, "update with stale revision", s.UpdateApplication(ctx, upd, "rev0"), store.ErrConflict)
	must(t, s.UpdateApplication(ctx, upd, "rev1"))
	latest, err := s.GetApplication(ctx, acct, a.ARN, fleet.LatestVersion)
	must(t, err)
	if latest.RevisionID != "rev2" || latest.Sources[0].Key != "k2" {
		t.Errorf("updated $LATEST = %+v", latest)
	}
	v1again, _ := s.GetApplication(ctx, acct, a.ARN, "1")
	if v1again.Sources[0].Key != "k" {
		t.Errorf("a version changed with $LATEST: %+v", v1again)
	}

	all, err := s.ListApplications(ctx, fleet.ListQuery{Account: acct, Limit: 2}, true)
	must(t, err)
	if len(all.Items) != 2 || all.Items[0].Version != fleet.LatestVersion || all.Items[1].Version != "1" || all.Next == nil {
		t.Fatalf("ListApplications(ALL) page 1 = %+v", all)
	}
	rest, err := s.ListApplications(ctx, fleet.ListQuery{Account: acct, Limit: 2, After: all.Next}, true)
	must(t, err)
	if len(rest.Items) != 1 || rest.Items[0].Version != "3" || rest.Next != nil {
		t.Errorf("ListApplications(ALL) page 2 = %+v", rest)
	}
	must(t, s.DeleteApplication(ctx, acct, a.ARN))
	_, err = s.GetApplication(ctx, acct, a.ARN, "1")
	wantErr(t, "version of a deleted app", err, store.ErrNotFound)
}

func testTags(t *testing.T, s store.Store) {
	ctx := t.Context()
	const res = "arn:aws:robomaker:us-east-1:111111111111:robot/r/1"
	must(t, s.TagResource(ctx, res, fleet.Tags{"a": "1", "b": "2"}, 3))
	must(t, s.TagResource(ctx, res, fleet.Tags{"a": "one"}, 3))
	wantErr(t, "tag cap", s.TagResource(ctx, res, fleet.Tags{"c": "3", "d": "4"}, 3), store.ErrLimit)
	must(t, s.UntagResource(ctx, res, []string{"b", "missing"}))
	tags, err := s.ResourceTags(ctx, res)
	must(t, err)
	if len(tags) != 1 || tags["a"] != "one" {
		t.Errorf("tags = %v, want a=one only (the refused write left nothing behind)", tags)
	}
}

func testCredentials(t *testing.T, s store.Store) {
	ctx := t.Context()
	c := store.Credential{AccessKeyID: "AK1", Account: acct, SecretSealed: []byte{1, 2, 3}, CreatedMs: 5}
	must(t, s.CreateCredential(ctx, c))
	wantErr(t, "duplicate key", s.CreateCredential(ctx, c), store.ErrExists)
	got, err := s.GetCredential(ctx, "AK1")
	must(t, err)
	if got.Account != acct || string(got.SecretSealed) != "\x01\x02\x03" || got.RevokedMs != 0 {
		t.Errorf("GetCredential = %+v", got)
	}
	must(t, s.RevokeCredential(ctx, "AK1", 9))
	got, _ = s.GetCredential(ctx, "AK1")
	if got.RevokedMs != 9 {
		t.Errorf("revoked credential = %+v", got)
	}
	wantErr(t, "revoke unknown", s.RevokeCredential(ctx, "nope", 9), store.ErrNotFound)
	list, err := s.ListCredentials(ctx)
	must(t, err)
	if len(list) != 1 {
		t.Errorf("ListCredentials = %+v", list)
	}
}

// testConcurrentUniqueNames races creates of one name: the database, not the
// process, decides, so exactly one wins.
func testConcurrentUniqueNames(t *testing.T, s store.Store) {
	ctx := context.Background()
	const n = 20
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() { errs[i] = s.CreateFleet(ctx, newFleet(acct, "same", int64(1000+i)), 1000) })
	}
	wg.Wait()
	won := 0
	for _, err := range errs {
		switch {
		case err == nil:
			won++
		case !errors.Is(err, store.ErrExists):
			t.Errorf("racing create: %v", err)
		}
	}
	if won != 1 {
		t.Errorf("%d of %d racing creates of one name succeeded, want 1", won, n)
	}
}
