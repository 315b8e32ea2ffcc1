package storetest

import (
	"slices"
	"testing"

	"github.com/fleetsync/fleetsync/internal/store"
)

// testAgentIDsPerAccount: an agent id is unique within an account only, so
// one account can neither block nor detect another's robot; the lookup is
// per account, and the account-less lookup (v1 ids) finds the oldest.
func testAgentIDsPerAccount(t *testing.T, s store.Store) {
	ctx := t.Context()
	a := newRobot(acct, "r", 1)
	a.AgentID = "fsa2-shared"
	must(t, s.CreateRobot(ctx, a, 10))
	dup := newRobot(acct, "r2", 2)
	dup.AgentID = a.AgentID
	wantErr(t, "same agent id twice in one account", s.CreateRobot(ctx, dup, 10), store.ErrExists)
	b := newRobot(other, "r", 3)
	b.AgentID = a.AgentID
	must(t, s.CreateRobot(ctx, b, 10))

	got, err := s.RobotByAgent(ctx, acct, a.AgentID)
	if err != nil || got.ARN != a.ARN {
		t.Fatalf("RobotByAgent(acct) = %v, %v; want %s", got.ARN, err, a.ARN)
	}
	got, err = s.RobotByAgent(ctx, other, a.AgentID)
	if err != nil || got.ARN != b.ARN {
		t.Fatalf("RobotByAgent(other) = %v, %v; want %s", got.ARN, err, b.ARN)
	}
	_, err = s.RobotByAgent(ctx, "333333333333", a.AgentID)
	wantErr(t, "RobotByAgent of an account without it", err, store.ErrNotFound)
	got, err = s.RobotByAgent(ctx, "", a.AgentID)
	if err != nil || got.ARN != a.ARN {
		t.Fatalf("RobotByAgent(any account) = %v, %v; want the oldest, %s", got.ARN, err, a.ARN)
	}
}

// testSessions: created, read, deleted (sign-out), swept when expired, and
// deleted with their key's revocation.
func testSessions(t *testing.T, s store.Store) {
	ctx := t.Context()
	must(t, s.CreateCredential(ctx, store.Credential{AccessKeyID: "AK1", Account: acct, SecretSealed: []byte{1}, CreatedMs: 1}))
	s1 := store.Session{ID: "h1", AccessKeyID: "AK1", Account: acct, CreatedMs: 10, ExpiresMs: 100}
	s2 := store.Session{ID: "h2", AccessKeyID: "AK1", Account: acct, CreatedMs: 10, ExpiresMs: 1000}
	s3 := store.Session{ID: "h3", AccessKeyID: "AK2", Account: other, CreatedMs: 10, ExpiresMs: 1000}
	for _, ss := range []store.Session{s1, s2, s3} {
		must(t, s.CreateSession(ctx, ss))
	}
	wantErr(t, "duplicate session id", s.CreateSession(ctx, s1), store.ErrExists)
	got, err := s.GetSession(ctx, "h1")
	if err != nil || got != s1 {
		t.Fatalf("GetSession = %+v, %v; want %+v", got, err, s1)
	}
	_, err = s.GetSession(ctx, "nope")
	wantErr(t, "unknown session", err, store.ErrNotFound)

	n, err := s.DeleteSessionsExpiredBefore(ctx, 500)
	if err != nil || n != 1 {
		t.Fatalf("DeleteSessionsExpiredBefore = %d, %v; want 1", n, err)
	}
	_, err = s.GetSession(ctx, "h1")
	wantErr(t, "expired session after the sweep", err, store.ErrNotFound)

	must(t, s.DeleteSession(ctx, "h3"))
	must(t, s.DeleteSession(ctx, "h3")) // signing out twice is fine
	_, err = s.GetSession(ctx, "h3")
	wantErr(t, "signed-out session", err, store.ErrNotFound)

	must(t, s.RevokeCredential(ctx, "AK1", 20))
	_, err = s.GetSession(ctx, "h2")
	wantErr(t, "session of a revoked key", err, store.ErrNotFound)
}

// testBucketGrants: the first credential's account gets every bucket, later
// accounts none; grants, revocations and the list; '*' covers any bucket.
func testBucketGrants(t *testing.T, s store.Store) {
	ctx := t.Context()
	granted := func(account, bucket string) bool {
		t.Helper()
		ok, err := s.BucketGranted(ctx, account, bucket)
		must(t, err)
		return ok
	}
	if granted(acct, "b") {
		t.Fatal("a bucket granted before any credential exists")
	}
	must(t, s.CreateCredential(ctx, store.Credential{AccessKeyID: "AK1", Account: acct, SecretSealed: []byte{1}, CreatedMs: 1}))
	must(t, s.CreateCredential(ctx, store.Credential{AccessKeyID: "AK2", Account: other, SecretSealed: []byte{1}, CreatedMs: 2}))
	must(t, s.CreateCredential(ctx, store.Credential{AccessKeyID: "AK3", Account: acct, SecretSealed: []byte{1}, CreatedMs: 3}))
	if !granted(acct, "any-bucket") {
		t.Error("the first credential's account is not granted every bucket")
	}
	if granted(other, "any-bucket") {
		t.Error("a later account is granted a bucket nobody gave it")
	}
	must(t, s.GrantBucket(ctx, store.BucketGrant{Account: other, Bucket: "b-of-other", CreatedMs: 4}))
	must(t, s.GrantBucket(ctx, store.BucketGrant{Account: other, Bucket: "b-of-other", CreatedMs: 5})) // twice: no change
	if !granted(other, "b-of-other") || granted(other, "b-other-still") {
		t.Error("a grant covers the wrong buckets")
	}
	list, err := s.ListBucketGrants(ctx, "")
	must(t, err)
	want := []store.BucketGrant{{Account: acct, Bucket: store.AllBuckets, CreatedMs: 1}, {Account: other, Bucket: "b-of-other", CreatedMs: 4}}
	if !slices.Equal(list, want) {
		t.Errorf("ListBucketGrants = %+v, want %+v", list, want)
	}
	list, err = s.ListBucketGrants(ctx, other)
	must(t, err)
	if !slices.Equal(list, want[1:]) {
		t.Errorf("ListBucketGrants(other) = %+v, want %+v", list, want[1:])
	}
	must(t, s.RevokeBucket(ctx, other, "b-of-other"))
	wantErr(t, "revoke twice", s.RevokeBucket(ctx, other, "b-of-other"), store.ErrNotFound)
	if granted(other, "b-of-other") {
		t.Error("a revoked grant still covers its bucket")
	}
	must(t, s.RevokeBucket(ctx, acct, store.AllBuckets))
	if granted(acct, "any-bucket") {
		t.Error("revoking * left every bucket granted")
	}
	// The first-account rule fires once per install, never again.
	must(t, s.CreateCredential(ctx, store.Credential{AccessKeyID: "AK4", Account: "444444444444", SecretSealed: []byte{1}, CreatedMs: 6}))
	if granted("444444444444", "any-bucket") {
		t.Error("a credential created after the first got every bucket")
	}
}
