// Package pgbus carries wake-ups between fleetsyncd replicas that share a
// PostgreSQL database, over LISTEN/NOTIFY: "this robot has work" (so its
// long poll returns at once on whichever replica it waits) and "a robot
// finished" (so the replica holding the job's lease plans the next step).
//
// Wake-ups are hints, never state: everything they point at is already
// committed, and a lost one only delays the next look (an agent's long poll
// ends within 30 s, the engine revisits every job each tick). After the
// listening connection is lost and restored, Run calls resync, since
// notifications sent meanwhile are gone.
package pgbus

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
)

// Channel is the PostgreSQL notification channel of every replica.
const Channel = "fleetsync_wake"

// maxPayload keeps a NOTIFY under PostgreSQL's 8000-byte payload limit.
const maxPayload = 7900

// Local is this replica's end of the wake-ups, which the bus delivers what
// other replicas sent to (agentapi.Hub).
type Local interface {
	// WakeRobot wakes the robot's long poll if it waits here.
	WakeRobot(robotARN string)
	// WakeEngine wakes this replica's engine.
	WakeEngine()
	// WakeAll wakes every long poll and the engine: wake-ups may have been
	// missed.
	WakeAll()
	// ForgetRobot drops what this replica remembers of a deleted robot.
	ForgetRobot(robotARN string)
}

// The wire encoding of a wake-up, private to the bus: "r <robot ARN>",
// "e", or "f <robot ARN>" (the robot was deleted).
const (
	robotPrefix  = "r "
	engineMsg    = "e"
	forgetPrefix = "f "
)

// Bus publishes and receives wake-ups; it implements deploy.Waker. On the
// wire a message is a short string without newlines; a replica does not
// receive its own.
type Bus struct {
	cfg  *pgx.ConnConfig
	node string
	log  *slog.Logger

	mu      sync.Mutex
	pending map[string]struct{}
	kick    chan struct{}
}

// New prepares a bus on the database URL for the replica named node; it
// connects in Run.
func New(databaseURL, node string, log *slog.Logger) (*Bus, error) {
	cfg, err := pgx.ParseConfig(databaseURL)
	if err != nil {
		return nil, fmt.Errorf("pgbus: %w", err)
	}
	// The listener waits for notifications indefinitely.
	delete(cfg.RuntimeParams, "statement_timeout")
	return &Bus{cfg: cfg, node: node, log: log, pending: map[string]struct{}{}, kick: make(chan struct{}, 1)}, nil
}

// WakeRobot tells the other replicas the robot has work (deploy.Waker).
func (b *Bus) WakeRobot(robotARN string) { b.queue(robotPrefix + robotARN) }

// WakeEngine tells the other replicas' engines to look (deploy.Waker).
func (b *Bus) WakeEngine() { b.queue(engineMsg) }

// ForgetRobot tells the other replicas the robot was deleted
// (deploy.Forgetter).
func (b *Bus) ForgetRobot(robotARN string) { b.queue(forgetPrefix + robotARN) }

// deliver hands one message of another replica to local.
func deliver(local Local, msg string) {
	if arn, ok := strings.CutPrefix(msg, robotPrefix); ok {
		local.WakeRobot(arn)
	} else if arn, ok := strings.CutPrefix(msg, forgetPrefix); ok {
		local.ForgetRobot(arn)
	} else if msg == engineMsg {
		local.WakeEngine()
	}
}

// queue queues msg for every other replica; it never blocks. Messages
// queued while a NOTIFY is in flight go together in the next one, and
// duplicates collapse.
func (b *Bus) queue(msg string) {
	b.mu.Lock()
	b.pending[msg] = struct{}{}
	b.mu.Unlock()
	select {
	case b.kick <- struct{}{}:
	default:
	}
}

// Run listens and publishes until ctx ends: local gets each wake-up of
// another replica, and WakeAll after the listening connection was restored
// (notifications may have been missed). ready, if not nil, is closed once
// the first LISTEN is in place.
func (b *Bus) Run(ctx context.Context, local Local, ready chan<- struct{}) {
	var wg sync.WaitGroup
	wg.Go(func() { b.listen(ctx, local, ready) })
	wg.Go(func() { b.publish(ctx) })
	wg.Wait()
}

func (b *Bus) connect(ctx context.Context) (*pgx.Conn, error) {
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	return pgx.ConnectConfig(cctx, b.cfg)
}

// backoff sleeps before reconnect attempt n; false when ctx ended.
func backoff(ctx context.Context, n int) bool {
	d := min(100*time.Millisecond<<min(n, 6), 5*time.Second)
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

func (b *Bus) listen(ctx context.Context, local Local, ready chan<- struct{}) {
	prefix := b.node + " "
	for attempt, connected := 0, false; ctx.Err() == nil; attempt++ {
		if attempt > 0 && !backoff(ctx, attempt) {
			return
		}
		conn, err := b.connect(ctx)
		if err == nil {
			_, err = conn.Exec(ctx, "LISTEN "+Channel)
		}
		if err != nil {
			if conn != nil {
				conn.Close(context.WithoutCancel(ctx))
			}
			if ctx.Err() == nil {
				b.log.Warn("wake-up listener cannot connect; retrying", "error", err)
			}
			continue
		}
		if connected {
			b.log.Info("wake-up listener reconnected")
			local.WakeAll()
		} else if ready != nil {
			close(ready)
		}
		connected, attempt = true, 0
		for {
			n, err := conn.WaitForNotification(ctx)
			if err != nil {
				if ctx.Err() == nil {
					b.log.Warn("wake-up listener lost its connection; reconnecting", "error", err)
				}
				break
			}
			if strings.HasPrefix(n.Payload, prefix) {
				continue // our own
			}
			_, body, _ := strings.Cut(n.Payload, " ")
			for msg := range strings.SplitSeq(body, "\n") {
				if msg != "" {
					deliver(local, msg)
				}
			}
		}
		conn.Close(context.WithoutCancel(ctx))
	}
}

// batches splits messages into payloads under the size limit, each starting
// with the sender's node id.
func (b *Bus) batches(msgs []string) []string {
	var out []string
	var sb strings.Builder
	for _, m := range msgs {
		if sb.Len() > 0 && sb.Len()+1+len(m) > maxPayload {
			out = append(out, sb.String())
			sb.Reset()
		}
		if sb.Len() == 0 {
			sb.WriteString(b.node + " ")
		} else {
			sb.WriteByte('\n')
		}
		sb.WriteString(m)
	}
	if sb.Len() > 0 {
		out = append(out, sb.String())
	}
	return out
}

func (b *Bus) publish(ctx context.Context) {
	var conn *pgx.Conn
	defer func() {
		if conn != nil {
			conn.Close(context.WithoutCancel(ctx))
		}
	}()
	failures := 0
	for {
		select {
		case <-ctx.Done():
			return
		case <-b.kick:
		}
		b.mu.Lock()
		msgs := make([]string, 0, len(b.pending))
		for m := range b.pending {
			msgs = append(msgs, m)
		}
		clear(b.pending)
		b.mu.Unlock()
		for _, payload := range b.batches(msgs) {
			err := errors.New("not connected")
			if conn == nil {
				conn, err = b.connect(ctx)
			}
			if conn != nil {
				_, err = conn.Exec(ctx, "SELECT pg_notify($1, $2)", Channel, payload)
			}
			if err != nil {
				if conn != nil {
					conn.Close(context.WithoutCancel(ctx))
					conn = nil
				}
				if ctx.Err() != nil {
					return
				}
				// Dropped: a wake-up is a hint; polls and ticks catch up.
				failures++
				b.log.Warn("publishing a wake-up failed; it is dropped", "error", err)
				if !backoff(ctx, failures) {
					return
				}
				continue
			}
			failures = 0
		}
	}
}
