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
// A robot is written to the store at most once per WriteEveryMs: the
// stored stamps, which only the other replicas' engines need (this one's
// reads Last), are at most WriteEveryMs and a flush behind. A rollout to
// 100,000 robots hears each of them every few seconds, and writing every
// robot heard at every flush was 6 % of the server's CPU.
//
// A robot whose request waits here for its turn (a saturated server's
// queue: Waiting) is heard for as long as it waits. The silence that makes
// a deploying robot NoResponse is the agent's, never the server's own
// backlog: a rollout that wakes 100,000 robots at once queues their
// requests for tens of seconds, and counting that wait as silence failed
// live robots.
type Presence struct {
	// WriteEveryMs is how far behind what this process heard a robot's
	// stored stamp may fall (0: written at every flush). Well under the
	// agent silence limit: another replica's engine judges silence from
	// the stored stamps.
	WriteEveryMs int64
	// KeepAliveMs is how old the stored stamp of a robot still waiting
	// here may grow before a flush stamps it again: under the silence
	// limit, but not much (a saturated server has most robots waiting,
	// and stamping them as often as WriteEveryMs doubled the writes).
	KeepAliveMs int64
	// Now is Run's clock; nil means time.Now.
	Now func() time.Time

	mu sync.Mutex
	at map[string]stamp
	// dirty are the robots heard since their stamp was last written.
	dirty map[string]struct{}
	// waiting counts each robot's requests now waiting for their turn.
	waiting map[string]int32
}

// stamp is when a robot was last heard here, and the stamp last written
// (0: never).
type stamp struct{ seen, flushed int64 }

func (p *Presence) init() {
	if p.at == nil {
		p.at, p.dirty, p.waiting = map[string]stamp{}, map[string]struct{}{}, map[string]int32{}
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
	if st := p.at[robotARN]; st.seen < ms {
		st.seen = ms
		p.at[robotARN] = st
		p.dirty[robotARN] = struct{}{}
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
		return max(nowMs, p.at[robotARN].seen)
	}
	return p.at[robotARN].seen
}

// due reports whether a robot's stamp written after, at least, ms ago is
// to be written again at nowMs.
func due(st stamp, nowMs, after int64) bool {
	return st.flushed == 0 || nowMs-st.flushed >= after
}

// Flush stores, as of nowMs, what was heard of the robots whose stored
// stamp is due (a robot waiting here since its stamp is KeepAliveMs old
// is heard at nowMs); on failure the batch is written at the next one.
func (p *Presence) Flush(ctx context.Context, st PresenceStore, nowMs int64) error {
	p.mu.Lock()
	p.init()
	for r := range p.waiting {
		if due(p.at[r], nowMs, p.KeepAliveMs) {
			p.stamp(r, nowMs)
		}
	}
	batch := map[string]int64{}
	for r := range p.dirty {
		if s := p.at[r]; due(s, nowMs, p.WriteEveryMs) {
			batch[r] = s.seen
			delete(p.dirty, r)
		}
	}
	p.mu.Unlock()
	if len(batch) == 0 {
		return nil
	}
	err := st.RecordAgentsSeen(ctx, batch)
	p.mu.Lock()
	defer p.mu.Unlock()
	for r, ms := range batch {
		if err != nil {
			p.dirty[r] = struct{}{}
			continue
		}
		s := p.at[r]
		s.flushed = ms
		p.at[r] = s
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
