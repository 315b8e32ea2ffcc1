package deploy

import (
	"testing"

	"github.com/fleetsync/fleetsync/internal/fleet"
)

func TestIdentities(t *testing.T) {
	ttl := IdentityTTL.Milliseconds()
	robot := func(arn string) fleet.Robot {
		return fleet.Robot{ARN: arn, Account: "111111111111", Architecture: fleet.ARM64, AgentID: "fsa2-a", FleetARN: "arn:fleet",
			Status: fleet.RobotStatus("Deploying"), LastDeploymentJob: "arn:job", Tags: fleet.Tags{"k": "v"}}
	}
	type step struct {
		op      string // put, get, forget, forgetAll, read (a lookup's epoch, for a later "late put")
		account string
		arn     string
		at      int64
		want    string // get: the ARN found, "" for none
	}
	for _, tc := range []struct {
		name  string
		steps []step
		left  int
	}{
		{"found until the TTL ends", []step{
			{op: "put", account: "a", arn: "r1", at: 0},
			{op: "get", account: "a", at: ttl - 1, want: "r1"},
			{op: "get", account: "a", at: ttl},
		}, 1},
		{"keyed by account", []step{
			{op: "put", account: "a", arn: "r1", at: 0},
			{op: "get", account: "b", at: 1},
			{op: "get", account: "", at: 1},
		}, 1},
		{"one key per robot, and a deleted robot is forgotten", []step{
			{op: "put", account: "a", arn: "r1", at: 0},
			{op: "put", account: "", arn: "r1", at: 0}, // another key: the older goes
			{op: "get", account: "a", at: 1},
			{op: "get", account: "", at: 1, want: "r1"},
			{op: "put", account: "b", arn: "r2", at: 0},
			{op: "forget", arn: "r1"},
			{op: "get", account: "a", at: 1},
			{op: "get", account: "", at: 1},
			{op: "get", account: "b", at: 1, want: "r2"},
		}, 1},
		{"expired entries are swept on a later put", []step{
			{op: "put", account: "a", arn: "r1", at: 0},
			{op: "put", account: "b", arn: "r2", at: ttl + 1},
			{op: "get", account: "a", at: ttl + 1},
		}, 1},
		{"forget all after the bus lost messages", []step{
			{op: "put", account: "a", arn: "r1", at: 0},
			{op: "forgetAll"},
			{op: "get", account: "a", at: 1},
			{op: "put", account: "a", arn: "r1", at: 2},
			{op: "get", account: "a", at: 3, want: "r1"},
		}, 1},
		{"a lookup that read before a deletion's forget does not remember it", []step{
			{op: "read"},              // the store read finds r1 ...
			{op: "forget", arn: "r1"}, // ... which is deleted and forgotten before the read's put
			{op: "late put", account: "a", arn: "r1", at: 1},
			{op: "get", account: "a", at: 2},
			{op: "put", account: "a", arn: "r1", at: 3}, // a lookup after the forget is kept
			{op: "get", account: "a", at: 4, want: "r1"},
		}, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var c identities
			var read uint64
			for i, s := range tc.steps {
				switch s.op {
				case "put":
					c.put(s.account, "fsa2-a", robot(s.arn), s.at, c.epoch())
				case "read":
					read = c.epoch()
				case "late put":
					c.put(s.account, "fsa2-a", robot(s.arn), s.at, read)
				case "forget":
					c.forget(s.arn)
				case "forgetAll":
					c.forgetAll()
				case "get":
					got, ok := c.get(s.account, "fsa2-a", s.at)
					if got.ARN != s.want || ok != (s.want != "") {
						t.Fatalf("step %d: get(%q) = %q, %v; want %q", i, s.account, got.ARN, ok, s.want)
					}
					if ok && (got.FleetARN != "" || got.Status != "" || got.LastDeploymentJob != "" || got.Tags != nil || got.Architecture != fleet.ARM64) {
						t.Fatalf("step %d: remembered %+v: only what never changes may be kept", i, got)
					}
				}
			}
			if n := c.len(); n != tc.left {
				t.Errorf("%d entries left, want %d", n, tc.left)
			}
		})
	}
}
