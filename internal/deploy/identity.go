package deploy

import (
	"sync"
	"sync/atomic"
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
// exist without asking the store again: longer than an idle poll is held
// (4 minutes), so that an idle robot's next poll reads nothing from the
// database. Deleting a robot forgets it at once in this process and, over
// pgbus, on the other replicas; a replica whose bus connection was lost
// forgets every robot when it is back (messages may have been lost). The
// TTL bounds what is left: a robot removed from the database behind the
// server's back.
const IdentityTTL = 10 * time.Minute

// identities remembers which robot an agent id (within an account) names.
// Only what never changes for a robot is kept (ARN, account, name,
// architecture, agent id, creation time): its fleet, status, last job and
// tags change, so they are not, and the cached robot carries none of them.
// A robot is looked up on every agent request: during a rollout each robot
// makes about seven within seconds, and an idle one polls every few
// minutes; this saves the store reads of all but the first.
type identities struct {
	known memo[identityKey, identity]
	mu    sync.Mutex
	// byARN is the key each robot is remembered under, for forget. A
	// robot's agent id never changes, and the account of its key is a
	// function of the id (the bound account, or "" for a v1 id), so there
	// is one; were there another, the older entry is dropped (a cache
	// entry dropped is only a store read later).
	byARN map[string]identityKey
	once  sync.Once
	// forgets counts forget and forgetAll calls: a lookup that began
	// before one (its read may have found a robot deleted since) does
	// not remember what it read (put).
	forgets atomic.Uint64
}

type identityKey struct{ account, agentID string }

// identity is what is kept of a robot: its unchanging fields, 88 bytes
// where a whole fleet.Robot in each slot would be 152.
type identity struct {
	arn, account, name, agentID string
	arch                        fleet.Architecture
	createdMs                   int64
}

func (id identity) robot() fleet.Robot {
	return fleet.Robot{ARN: id.arn, Account: id.account, Name: id.name, Architecture: id.arch, AgentID: id.agentID, CreatedMs: id.createdMs}
}

func (c *identities) init() {
	c.once.Do(func() {
		c.known.onDrop = func(k identityKey, id identity) { c.dropKey(id.arn, k) }
	})
}

// get returns the robot remembered for the key, if not expired.
func (c *identities) get(account, agentID string, nowMs int64) (fleet.Robot, bool) {
	id, ok := c.known.get(identityKey{account, agentID}, nowMs)
	return id.robot(), ok
}

// epoch is what a lookup passes to put: the forgets so far, read before
// the store is.
func (c *identities) epoch() uint64 { return c.forgets.Load() }

// put remembers robot (found by agentID within account, by a read begun
// at epoch) under the key until nowMs + IdentityTTL, keeping only its
// unchanging fields, and returns the robot as remembered (what get
// returns, whatever a concurrent forget does meanwhile). When a robot was
// forgotten since epoch, what was read may be a robot deleted meanwhile,
// whose forget found nothing to drop: it is not kept. The key
// is made of the robot's own strings, which the entry keeps anyway, not
// the caller's (those of a request, an agent id header of 70 bytes and
// more: kept, each would be a copy per robot).
func (c *identities) put(account, agentID string, robot fleet.Robot, nowMs int64, epoch uint64) fleet.Robot {
	c.init()
	keep := identity{arn: robot.ARN, account: robot.Account, name: robot.Name, arch: robot.Architecture,
		agentID: robot.AgentID, createdMs: robot.CreatedMs}
	k := identityKey{account, agentID}
	if robot.AgentID == agentID {
		k.agentID = robot.AgentID
	}
	if robot.Account == account {
		k.account = robot.Account
	}
	ttl := IdentityTTL.Milliseconds()
	if c.known.put(k, keep, nowMs, nowMs+ttl, ttl) {
		c.mu.Lock()
		if c.byARN == nil {
			c.byARN = map[string]identityKey{}
		}
		old, had := c.byARN[keep.arn]
		c.byARN[keep.arn] = k
		c.mu.Unlock()
		if had && old != k {
			c.known.drop(old) // outside c.mu: a sweep holds the memo's lock, then c.mu
		}
	}
	// Checked after the entry and its byARN key are in: a forget that
	// counted after this read dropped them itself (it reads byARN after
	// counting); one that counted before is seen here.
	if c.forgets.Load() != epoch {
		c.dropKey(keep.arn, k)
		c.known.drop(k)
	}
	return keep.robot()
}

// forget drops the key naming the robot.
func (c *identities) forget(robotARN string) {
	c.forgets.Add(1)
	c.mu.Lock()
	k, ok := c.byARN[robotARN]
	delete(c.byARN, robotARN)
	c.mu.Unlock()
	if ok {
		c.known.drop(k)
	}
}

// forgetAll drops every key.
func (c *identities) forgetAll() {
	c.forgets.Add(1)
	c.mu.Lock()
	c.byARN = nil
	c.mu.Unlock()
	c.known.clear()
}

// dropKey forgets that the robot is remembered under k (a sweep dropped it).
func (c *identities) dropKey(robotARN string, k identityKey) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.byARN[robotARN] == k {
		delete(c.byARN, robotARN)
	}
}

// len is how many keys are remembered (for tests).
func (c *identities) len() int { return c.known.len() }
