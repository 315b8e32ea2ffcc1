package deploy

import (
	"sync"
	"time"

	"github.com/fleetsync/fleetsync/internal/fleet"
)

// Forgetter is told that a robot was deleted, so that whatever is
// remembered of it goes at once: Robots' identity cache in this process,
// and (pgbus.Bus) the other replicas'.
type Forgetter interface {
	ForgetRobot(robotARN string)
}

// Forgetters tells each of its forgetters.
type Forgetters []Forgetter

// ForgetRobot implements Forgetter.
func (fs Forgetters) ForgetRobot(robotARN string) {
	for _, f := range fs {
		if f != nil {
			f.ForgetRobot(robotARN)
		}
	}
}

// IdentityTTL is how long a robot found by its agent id is believed to
// exist without asking the store again. Deleting a robot forgets it at once
// in this process and, over pgbus, on the other replicas; the TTL bounds
// how long a lost bus message could let a deleted robot's agent go on.
const IdentityTTL = 10 * time.Second

// identities remembers which robot an agent id (within an account) names.
// Only what never changes for a robot is kept (ARN, account, name,
// architecture, agent id, creation time): its fleet, status, last job and
// tags change, so they are not, and the cached robot carries none of them.
// A robot is looked up on every agent request; during a rollout each robot
// makes about seven within seconds, and this saves the store reads of all
// but the first.
type identities struct {
	known memo[identityKey, fleet.Robot]
	mu    sync.Mutex
	// byARN are the keys each robot is remembered under, for forget.
	byARN map[string][]identityKey
	once  sync.Once
}

type identityKey struct{ account, agentID string }

func (c *identities) init() {
	c.once.Do(func() {
		c.known.onDrop = func(k identityKey, r fleet.Robot) { c.dropKey(r.ARN, k) }
	})
}

// get returns the robot remembered for the key, if not expired.
func (c *identities) get(account, agentID string, nowMs int64) (fleet.Robot, bool) {
	return c.known.get(identityKey{account, agentID}, nowMs)
}

// put remembers robot under the key until nowMs + IdentityTTL, keeping
// only its unchanging fields.
func (c *identities) put(account, agentID string, robot fleet.Robot, nowMs int64) {
	c.init()
	keep := fleet.Robot{ARN: robot.ARN, Account: robot.Account, Name: robot.Name, Architecture: robot.Architecture,
		AgentID: robot.AgentID, CreatedMs: robot.CreatedMs}
	k := identityKey{account, agentID}
	ttl := IdentityTTL.Milliseconds()
	if c.known.put(k, keep, nowMs, nowMs+ttl, ttl) {
		c.mu.Lock()
		if c.byARN == nil {
			c.byARN = map[string][]identityKey{}
		}
		c.byARN[keep.ARN] = append(c.byARN[keep.ARN], k)
		c.mu.Unlock()
	}
}

// forget drops every key naming the robot.
func (c *identities) forget(robotARN string) {
	c.mu.Lock()
	keys := c.byARN[robotARN]
	delete(c.byARN, robotARN)
	c.mu.Unlock()
	for _, k := range keys {
		c.known.drop(k)
	}
}

// forgetAll drops every key.
func (c *identities) forgetAll() {
	c.mu.Lock()
	c.byARN = nil
	c.mu.Unlock()
	c.known.clear()
}

// dropKey forgets that the robot is remembered under k (a sweep dropped it).
func (c *identities) dropKey(robotARN string, k identityKey) {
	c.mu.Lock()
	defer c.mu.Unlock()
	keys := c.byARN[robotARN]
	for i, o := range keys {
		if o == k {
			keys = append(keys[:i], keys[i+1:]...)
			break
		}
	}
	if len(keys) == 0 {
		delete(c.byARN, robotARN)
	} else {
		c.byARN[robotARN] = keys
	}
}

// len is how many keys are remembered (for tests).
func (c *identities) len() int { return c.known.len() }
