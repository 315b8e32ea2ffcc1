package agentapi

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fleetsync/fleetsync/internal/proto"
)

// Nonces decides whether an agent request's nonce is new.
type Nonces interface {
	// Fresh records the nonce at nowMs and reports whether it was unseen.
	Fresh(ctx context.Context, nonce string, nowMs int64) (bool, error)
}

// nonceWindow is how long a nonce must be remembered: a request older than
// the allowed clock skew fails verification anyway.
var nonceWindow = 2 * proto.MaxSkew.Milliseconds()

// NonceStore is the database's replay protection, shared by replicas.
type NonceStore interface {
	// ClaimNonce records a nonce first seen at nowMs; false for a replay.
	ClaimNonce(ctx context.Context, nonce string, nowMs int64) (bool, error)
	// DeleteNoncesBefore forgets nonces recorded before ms.
	DeleteNoncesBefore(ctx context.Context, ms int64) (int, error)
}

// StoreNonces keeps nonces in the database, so a request replayed to
// another replica is refused too; the database's unique key settles races.
type StoreNonces struct {
	Store NonceStore
	Log   *slog.Logger

	swept    atomic.Int64
	sweeping atomic.Bool
}

// Fresh implements Nonces. Old nonces are swept now and then in the
// background, by whichever replica notices first.
func (n *StoreNonces) Fresh(ctx context.Context, nonce string, nowMs int64) (bool, error) {
	if nowMs-n.swept.Load() > nonceWindow && n.sweeping.CompareAndSwap(false, true) {
		n.swept.Store(nowMs)
		go func() {
			defer n.sweeping.Store(false)
			sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
			defer cancel()
			if _, err := n.Store.DeleteNoncesBefore(sctx, nowMs-nonceWindow); err != nil {
				n.Log.Warn("sweeping old agent nonces failed", "error", err)
			}
		}()
	}
	return n.Store.ClaimNonce(ctx, nonce, nowMs)
}

// nonceCache refuses a nonce seen within twice the allowed clock skew, in
// this process's memory.
type nonceCache struct {
	mu    sync.Mutex
	seen  map[string]int64
	swept int64
}

func (c *nonceCache) Fresh(_ context.Context, nonce string, nowMs int64) (bool, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if nowMs-c.swept > nonceWindow {
		for n, t := range c.seen {
			if nowMs-t > nonceWindow {
				delete(c.seen, n)
			}
		}
		c.swept = nowMs
	}
	if _, dup := c.seen[nonce]; dup {
		return false, nil
	}
	c.seen[nonce] = nowMs
	return true, nil
}
