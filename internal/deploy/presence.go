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
type Presence struct {
	mu    sync.Mutex
	seen  map[string]int64
	dirty map[string]int64
}

// Seen records that a robot's agent was heard at ms.
func (p *Presence) Seen(robotARN string, ms int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.seen == nil {
		p.seen, p.dirty = map[string]int64{}, map[string]int64{}
	}
	p.seen[robotARN] = ms
	p.dirty[robotARN] = ms
}

// Last returns when a robot's agent was last heard here, 0 if never.
func (p *Presence) Last(robotARN string) int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.seen[robotARN]
}

// Flush stores what was heard since the last flush; on failure the batch is
// kept for the next one.
func (p *Presence) Flush(ctx context.Context, st PresenceStore) error {
	p.mu.Lock()
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

// Run flushes every interval until ctx ends, then once more.
func (p *Presence) Run(ctx context.Context, st PresenceStore, every time.Duration, log *slog.Logger) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			final, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			defer cancel()
			p.Flush(final, st)
			return
		case <-t.C:
			if err := p.Flush(ctx, st); err != nil && ctx.Err() == nil {
				log.Warn("recording agent liveness failed; retrying at the next flush", "error", err)
			}
		}
	}
}
