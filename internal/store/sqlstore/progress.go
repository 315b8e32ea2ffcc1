package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/fleetsync/fleetsync/internal/fleet"
)

// ProgressFlush is how often progress reports held in memory are written,
// all in one transaction: a robot's steps are shown at most this late, and
// the one writer spends one transaction per flush instead of one per report
// (five of a deployment's seven agent requests were such writes). Results,
// the durable facts, are written at once.
const ProgressFlush = 250 * time.Millisecond

// progressKey is a job row: job ARN and robot ARN.
type progressKey struct{ job, robot string }

// progressRow is the latest progress of a row not yet written.
type progressRow struct {
	step    string
	percent *float64
	eta     *int64
}

// progressBuffer holds the latest progress of each deploying row until the
// next flush; at most one entry per deploying robot.
type progressBuffer struct {
	// cancel orders progress reports against a cancel: a report that saw
	// its row running is in the buffer before the cancel takes the job's
	// pending steps (reports hold it shared, CancelJob exclusively, for
	// its whole transaction).
	cancel  sync.RWMutex
	mu      sync.Mutex
	pending map[progressKey]progressRow
	stop    chan struct{}
	done    chan struct{}
}

func (b *progressBuffer) put(k progressKey, p progressRow) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.pending == nil {
		b.pending = map[progressKey]progressRow{}
	}
	b.pending[k] = p
}

// take removes and returns a row's pending progress.
func (b *progressBuffer) take(k progressKey) (progressRow, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	p, ok := b.pending[k]
	delete(b.pending, k)
	return p, ok
}

// takeJob removes and returns the pending progress of one job's rows.
func (b *progressBuffer) takeJob(job string) map[progressKey]progressRow {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out map[progressKey]progressRow
	for k, p := range b.pending {
		if k.job == job {
			if out == nil {
				out = map[progressKey]progressRow{}
			}
			out[k] = p
			delete(b.pending, k)
		}
	}
	return out
}

// writeJobProgress writes, inside a transaction that is about to finish
// some of a job's rows (cancel, time-outs), the progress still pending for
// the job, so those rows keep the step they stopped in. On failure the
// caller restores batch.
func writeJobProgress(ctx context.Context, tx wtx, batch map[progressKey]progressRow) error {
	for k, p := range batch {
		if err := writeProgress(ctx, tx, k, p); err != nil {
			return err
		}
	}
	return nil
}

// swap returns every pending progress and empties the buffer.
func (b *progressBuffer) swap() map[progressKey]progressRow {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := b.pending
	b.pending = nil
	return out
}

// restore puts back what a failed flush could not write, unless newer
// progress arrived meanwhile.
func (b *progressBuffer) restore(batch map[progressKey]progressRow) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.pending == nil {
		b.pending = map[progressKey]progressRow{}
	}
	for k, p := range batch {
		if _, newer := b.pending[k]; !newer {
			b.pending[k] = p
		}
	}
}

// startProgress runs the flusher until Close.
func (s *Store) startProgress() {
	s.progress.stop, s.progress.done = make(chan struct{}), make(chan struct{})
	go func() {
		defer close(s.progress.done)
		t := time.NewTicker(ProgressFlush)
		defer t.Stop()
		for {
			select {
			case <-s.progress.stop:
				return
			case <-t.C:
				ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
				if err := s.FlushProgress(ctx); err != nil {
					s.log.Warn("writing agent progress failed; retrying at the next flush", "error", err)
				}
				cancel()
			}
		}
	}()
}

// stopProgress ends the flusher and writes what it still holds.
func (s *Store) stopProgress() error {
	if s.progress.stop == nil {
		return nil
	}
	close(s.progress.stop)
	<-s.progress.done
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return s.FlushProgress(ctx)
}

// FlushProgress implements store.Agents: every progress report recorded so
// far, in one transaction. A row that finished meanwhile is left alone.
func (s *Store) FlushProgress(ctx context.Context) error {
	batch := s.progress.swap()
	if len(batch) == 0 {
		return nil
	}
	// A stable order keeps two replicas' batches from deadlocking on PostgreSQL.
	keys := make([]progressKey, 0, len(batch))
	for k := range batch {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b progressKey) int {
		if c := strings.Compare(a.job, b.job); c != 0 {
			return c
		}
		return strings.Compare(a.robot, b.robot)
	})
	err := s.tx(ctx, func(tx wtx) error {
		for _, k := range keys {
			if err := writeProgress(ctx, tx, k, batch[k]); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		s.progress.restore(batch)
	}
	return err
}

// writeProgress writes a row's latest progress while it runs (Deploying,
// or NoResponse at the engine's deadline: the robot may still be at work),
// but not once its agent gave up: that result's step is the last word,
// whatever progress another replica still held.
func writeProgress(ctx context.Context, tx wtx, k progressKey, p progressRow) error {
	_, err := tx.ExecContext(ctx, `UPDATE job_robots SET step = $1, percent_done = $2, eta_seconds = $3, `+tx.s.rev()+`
		WHERE job_arn = $4 AND robot_arn = $5 AND status IN ($6, $7) AND NOT agent_gave_up`, p.step, p.percent, p.eta, k.job, k.robot, fleet.RobotDeploying, fleet.RobotNoResponse)
	return err
}

// RecordProgress implements store.Agents. Whether the row still runs is
// read at once (the robot is told to abort otherwise); the progress itself
// is written by the next flush (ProgressFlush, FlushProgress).
func (s *Store) RecordProgress(ctx context.Context, jobARN, robotARN, step string, percent *float64, eta *int64) (bool, error) {
	s.progress.cancel.RLock()
	defer s.progress.cancel.RUnlock()
	st, err := s.rowStatus(ctx, jobARN, robotARN)
	if errors.Is(err, sql.ErrNoRows) {
		return true, nil
	}
	if err != nil {
		return false, err
	}
	if s := fleet.RobotStatus(st); s != fleet.RobotDeploying && s != fleet.RobotNoResponse {
		return true, nil
	}
	s.progress.put(progressKey{jobARN, robotARN}, progressRow{step, percent, eta})
	return false, nil
}

// rowStatus reads a job row's status for an agent's report (on a deep
// stack); sql.ErrNoRows if there is no such row.
func (s *Store) rowStatus(ctx context.Context, jobARN, robotARN string) (st string, err error) {
	s.deep.run(func() {
		err = s.readRow(forAgents(ctx), `SELECT status FROM job_robots WHERE job_arn = $1 AND robot_arn = $2`, jobARN, robotARN).Scan(&st)
	})
	return st, err
}
