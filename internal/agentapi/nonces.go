package agentapi

import (
	"context"
	"encoding/binary"
	"errors"
	"hash/fnv"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fleetsync/fleetsync/internal/proto"
)

// Replay protection of signed agent requests (session requests have their
// own window of sequence numbers, session.go). Each agent has one
// ReplayWindow: the date and nonce of its last ReplayWindowSize accepted
// requests, and a floor, the latest date it forgot. A request is new when
// it is dated after the floor and is not in the window; accepting it into
// a full window forgets the oldest entry and raises the floor to its date.
// A request accepted once is therefore refused ever after: either it is
// still in the window or its date is at or below the floor. What an agent
// costs is bounded by the window's size, however many requests it sends
// (it used to be every nonce for ten minutes: ~370 bytes per request).
//
// The price: an agent whose requests arrive more than ReplayWindowSize out
// of their signing order has the stragglers refused (401; the agent signs
// again), and an agent whose clock steps back behind its floor is refused
// until its clock passes it. The floor trails the agent's last
// ReplayWindowSize signed requests, which for an agent on session
// credentials (one signed request per session) is hours.

// ReplayWindowSize is how many recent signed requests of an agent are
// remembered: as the session window, room for an agent's concurrent
// requests (a held poll, reports, ranged downloads) arriving out of order.
const ReplayWindowSize = 64

// replayForget is how long an agent's window is kept after its newest
// entry: past it, every request the window holds fails the date check
// (proto.MaxSkew either side of the server's clock) anyway.
var replayForget = 2 * proto.MaxSkew.Milliseconds()

// ReplayWindow is one agent's replay state; Check is the whole rule.
type ReplayWindow struct {
	// FloorMs: requests dated at or before it are refused.
	FloorMs int64
	// Entries are the remembered requests, at most ReplayWindowSize. They
	// grow as needed: an agent on session credentials signs a request or
	// two per session, so its window is a few dozen bytes, not the full
	// window's kilobyte.
	Entries []replayEntry
}

// replayEntry is an accepted request: its signed date and a 64-bit hash of
// its nonce (a collision can only refuse a request of the agent that
// signed both, never accept a replay: a replay has the very same nonce).
type replayEntry struct {
	DateMs int64
	Nonce  uint64
}

// Check reports whether the request dated dateMs with nonce is new, and if
// so records it.
func (w *ReplayWindow) Check(dateMs int64, nonce string) bool {
	if dateMs <= w.FloorMs {
		return false
	}
	h := nonceHash(nonce)
	oldest := 0
	for i, e := range w.Entries {
		if e.DateMs == dateMs && e.Nonce == h {
			return false
		}
		if e.DateMs < w.Entries[oldest].DateMs {
			oldest = i
		}
	}
	if len(w.Entries) < ReplayWindowSize {
		w.Entries = append(w.Entries, replayEntry{dateMs, h})
		return true
	}
	w.FloorMs = max(w.FloorMs, w.Entries[oldest].DateMs)
	w.Entries[oldest] = replayEntry{dateMs, h}
	return true
}

// NewestMs is the latest date in the window (0 when empty).
func (w *ReplayWindow) NewestMs() int64 {
	var m int64
	for _, e := range w.Entries {
		m = max(m, e.DateMs)
	}
	return m
}

func nonceHash(nonce string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(nonce))
	return h.Sum64()
}

// MarshalBinary encodes the window for the database: the floor, then each
// entry's date and hash (8 + 16 per entry bytes, at most 1,032).
func (w *ReplayWindow) MarshalBinary() ([]byte, error) {
	b := make([]byte, 0, 8+16*len(w.Entries))
	b = binary.BigEndian.AppendUint64(b, uint64(w.FloorMs))
	for _, e := range w.Entries {
		b = binary.BigEndian.AppendUint64(b, uint64(e.DateMs))
		b = binary.BigEndian.AppendUint64(b, e.Nonce)
	}
	return b, nil
}

// UnmarshalBinary decodes what MarshalBinary encoded.
func (w *ReplayWindow) UnmarshalBinary(b []byte) error {
	if len(b) < 8 || (len(b)-8)%16 != 0 || (len(b)-8)/16 > ReplayWindowSize {
		return errors.New("agentapi: malformed replay window")
	}
	*w = ReplayWindow{FloorMs: int64(binary.BigEndian.Uint64(b))}
	if n := (len(b) - 8) / 16; n > 0 {
		w.Entries = make([]replayEntry, 0, n)
	}
	for b = b[8:]; len(b) > 0; b = b[16:] {
		w.Entries = append(w.Entries, replayEntry{int64(binary.BigEndian.Uint64(b)), binary.BigEndian.Uint64(b[8:])})
	}
	return nil
}

// Nonces decides whether an agent's signed request is new.
type Nonces interface {
	// Fresh records the request of agentID dated dateMs with nonce, at
	// nowMs, and reports whether it was new.
	Fresh(ctx context.Context, agentID, nonce string, dateMs, nowMs int64) (bool, error)
}

// ReplayStore is the database's replay protection, shared by replicas.
type ReplayStore interface {
	// UpdateReplayWindow runs update on agentID's stored window (nil for
	// none) in a transaction that excludes every other update of the same
	// agent's window, on any replica, and stores the window update returns
	// with newestMs when update reports ok.
	UpdateReplayWindow(ctx context.Context, agentID string, update func(old []byte) (window []byte, newestMs int64, ok bool)) (bool, error)
	// DeleteReplayWindowsBefore forgets the windows whose newest entry is
	// before ms.
	DeleteReplayWindowsBefore(ctx context.Context, ms int64) (int, error)
}

// StoreNonces keeps each agent's window in the database, so a request
// replayed to another replica is refused too: one row per agent, however
// many requests it sends.
type StoreNonces struct {
	Store ReplayStore
	Log   *slog.Logger

	swept    atomic.Int64
	sweeping atomic.Bool
}

// Fresh implements Nonces. Windows of agents gone quiet are swept now and
// then in the background, by whichever replica notices first.
func (n *StoreNonces) Fresh(ctx context.Context, agentID, nonce string, dateMs, nowMs int64) (bool, error) {
	if nowMs-n.swept.Load() > replayForget && n.sweeping.CompareAndSwap(false, true) {
		n.swept.Store(nowMs)
		go func() {
			defer n.sweeping.Store(false)
			sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
			defer cancel()
			if _, err := n.Store.DeleteReplayWindowsBefore(sctx, nowMs-replayForget); err != nil {
				n.Log.Warn("sweeping old agent replay windows failed", "error", err)
			}
		}()
	}
	return n.Store.UpdateReplayWindow(ctx, agentID, func(old []byte) ([]byte, int64, bool) {
		var w ReplayWindow
		if old != nil && w.UnmarshalBinary(old) != nil {
			w = ReplayWindow{} // cannot happen short of damage: start over, as after a sweep
		}
		if !w.Check(dateMs, nonce) {
			return nil, 0, false
		}
		b, _ := w.MarshalBinary()
		return b, w.NewestMs(), true
	})
}

// nonceCache is the replay protection in this process's memory (one
// replica): a window per agent heard in the last replayForget (kept in
// generations of that period, so forgetting the quiet ones never walks
// them all under the lock). A window is needed no longer than that after
// its last request: every request it holds is dated at most proto.MaxSkew
// after it arrived, and fails the date check MaxSkew after its date.
type nonceCache struct {
	mu      sync.Mutex
	windows generations[string, ReplayWindow]
}

func (c *nonceCache) Fresh(_ context.Context, agentID, nonce string, dateMs, nowMs int64) (bool, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.windows.rotate(nowMs, replayForget)
	w, _ := c.windows.get(agentID)
	if !w.Check(dateMs, nonce) {
		return false, nil
	}
	c.windows.put(agentID, w)
	return true, nil
}
