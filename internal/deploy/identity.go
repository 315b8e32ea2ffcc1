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
	mu    sync.Mutex
	byKey map[identityKey]identity
	byARN map[string][]identityKey
	// swept is when expired entries were last dropped (epoch ms).
	swept int64
}

type identityKey struct{ account, agentID string }

type identity struct {
	robot   fleet.Robot
	untilMs int64
}

// get returns the robot remembered for the key, if not expired.
func (c *identities) get(account, agentID string, nowMs int64) (fleet.Robot, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	id, ok := c.byKey[identityKey{account, agentID}]
	if !ok || nowMs >= id.untilMs {
		return fleet.Robot{}, false
	}
	return id.robot, true
}

// put remembers robot under the key until nowMs + IdentityTTL, keeping
// only its unchanging fields.
func (c *identities) put(account, agentID string, robot fleet.Robot, nowMs int64) {
	keep := fleet.Robot{ARN: robot.ARN, Account: robot.Account, Name: robot.Name, Architecture: robot.Architecture,
		AgentID: robot.AgentID, CreatedMs: robot.CreatedMs}
	k := identityKey{account, agentID}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.byKey == nil {
		c.byKey, c.byARN = map[identityKey]identity{}, map[string][]identityKey{}
	}
	c.sweep(nowMs)
	if _, ok := c.byKey[k]; !ok {
		c.byARN[keep.ARN] = append(c.byARN[keep.ARN], k)
	}
	c.byKey[k] = identity{robot: keep, untilMs: nowMs + IdentityTTL.Milliseconds()}
}

// sweep drops expired entries, at most once per TTL, so that robots heard
// once do not stay in memory. c.mu is held.
func (c *identities) sweep(nowMs int64) {
	if nowMs-c.swept < IdentityTTL.Milliseconds() {
		return
	}
	c.swept = nowMs
	for k, id := range c.byKey {
		if nowMs >= id.untilMs {
			c.dropLocked(id.robot.ARN, k)
		}
	}
}

// forget drops every key naming the robot.
func (c *identities) forget(robotARN string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, k := range c.byARN[robotARN] {
		delete(c.byKey, k)
	}
	delete(c.byARN, robotARN)
}

// forgetAll drops every key.
func (c *identities) forgetAll() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.byKey, c.byARN = nil, nil
}

// dropLocked drops one key of a robot. c.mu is held.
func (c *identities) dropLocked(robotARN string, k identityKey) {
	delete(c.byKey, k)
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
func (c *identities) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.byKey)
}
