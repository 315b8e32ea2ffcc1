package deploy

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// PresenceStore is where Presence records agent liveness
// (store.Agents.RecordAgentsSeen).
type PresenceStore interface {
	RecordAgentsSeen(ctx context.Context, seen map[string]int64) error
}

// Presence remembers when each robot's agent was last heard by this
// process, and hands that to the store in batches (Flush) so that the
// replica driving a job knows of agents that talk to another replica.
//
// A robot whose request waits here for its turn (a saturated server's
// queue: Waiting) is heard for as long as it waits. The silence that makes
// a deploying robot NoResponse is the agent's, never the server's own
// backlog: a rollout that wakes 100,000 robots at once queues their
// requests for tens of seconds, and counting that wait as silence failed
// live robots.
type Presence struct {
	// KeepAliveMs is how stale a waiting robot's stored stamp may grow
	// before a flush stamps it again (for the other replicas' engines,
	// which read the store); 0 stamps it at every flush. Well under the
	// agent silence limit, so that no robot waiting here looks silent
	// there.
	KeepAliveMs int64
	// Now is Run's clock; nil means time.Now.
	Now func() time.Time

	mu    sync.Mutex
	seen  map[string]int64
	dirty map[string]int64
	// waiting counts each robot's requests now waiting for their turn.
	waiting map[string]int32
}

func (p *Presence) init() {
	if p.seen == nil {
		p.seen, p.dirty, p.waiting = map[string]int64{}, map[string]int64{}, map[string]int32{}
	}
}

// Seen records that a robot's agent was heard at ms.
func (p *Presence) Seen(robotARN string, ms int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.init()
	p.stamp(robotARN, ms)
}

func (p *Presence) stamp(robotARN string, ms int64) {
	if p.seen[robotARN] < ms {
		p.seen[robotARN] = ms
		p.dirty[robotARN] = ms
	}
}

// Waiting records that a request of the robot's agent, heard at ms, now
// waits here for its turn; EndWait, called once for each Waiting, ends
// the wait.
func (p *Presence) Waiting(robotARN string, ms int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.init()
	p.stamp(robotARN, ms)
	p.waiting[robotARN]++
}

// EndWait ends a wait that Waiting began: the robot was heard until ms.
func (p *Presence) EndWait(robotARN string, ms int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.init()
	p.stamp(robotARN, ms)
	if p.waiting[robotARN]--; p.waiting[robotARN] <= 0 {
		delete(p.waiting, robotARN)
	}
}

// Last returns when a robot's agent was last heard here as of nowMs: nowMs
// while one of its requests waits here, 0 if never heard.
func (p *Presence) Last(robotARN string, nowMs int64) int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.waiting[robotARN] > 0 {
		return max(nowMs, p.seen[robotARN])
	}
	return p.seen[robotARN]
}

// Flush stores what was heard since the last flush, as of nowMs (a robot
// waiting here since longer than KeepAliveMs is heard at nowMs); on
// failure the batch is kept for the next one.
func (p *Presence) Flush(ctx context.Context, st PresenceStore, nowMs int64) error {
	p.mu.Lock()
	p.init()
	for r := range p.waiting {
		if p.seen[r] <= nowMs-p.KeepAliveMs {
			p.stamp(r, nowMs)
		}
	}
	batch := p.dirty
	p.dirty = map[string]int64{}
	p.mu.Unlock()
	if len(batch) == 0 {
		return nil
	}
	err := st.RecordAgentsSeen(ctx, batch)
	if err != nil {
		p.mu.Lock()
		for r, ms := range batch {
			if p.dirty[r] < ms {
				p.dirty[r] = ms
			}
		}
		p.mu.Unlock()
	}
	return err
}

func (p *Presence) now() int64 {
	if p.Now == nil {
		return time.Now().UnixMilli()
	}
	return p.Now().UnixMilli()
}

// Run flushes every interval until ctx ends, then once more.
func (p *Presence) Run(ctx context.Context, st PresenceStore, every time.Duration, log *slog.Logger) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			final, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			defer cancel()
			p.Flush(final, st, p.now())
			return
		case <-t.C:
			if err := p.Flush(ctx, st, p.now()); err != nil && ctx.Err() == nil {
				log.Warn("recording agent liveness failed; retrying at the next flush", "error", err)
			}
		}
	}
}
