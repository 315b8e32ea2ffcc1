package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"maps"
	"slices"

	"github.com/fleetsync/fleetsync/internal/fleet"
	"github.com/fleetsync/fleetsync/internal/store"
)

// RecordAgentsSeen implements store.Agents. One transaction for the whole
// batch: a replica flushes what its agents did since the last flush.
func (s *Store) RecordAgentsSeen(ctx context.Context, seen map[string]int64) error {
	if len(seen) == 0 {
		return nil
	}
	return s.tx(ctx, func(tx wtx) error {
		// A stable order keeps two replicas' batches from deadlocking on PostgreSQL.
		for _, arn := range slices.Sorted(maps.Keys(seen)) {
			if _, err := tx.ExecContext(ctx, `INSERT INTO agent_presence (robot_arn, seen_ms) VALUES ($1, $2)
				ON CONFLICT (robot_arn) DO UPDATE SET seen_ms = excluded.seen_ms WHERE agent_presence.seen_ms < excluded.seen_ms`, arn, seen[arn]); err != nil {
				return err
			}
		}
		return nil
	})
}

// Deploying implements store.Agents.
func (s *Store) Deploying(ctx context.Context, jobARN string, cut store.DeployingCut) ([]store.Deploying, error) {
	// The index bounds the start ($5, the later cut); the silence rule is
	// a filter of that range.
	rows, err := reader{s}.QueryContext(ctx, `SELECT jr.robot_arn, jr.started_ms, COALESCE(p.seen_ms, 0) FROM job_robots jr
		LEFT JOIN agent_presence p ON p.robot_arn = jr.robot_arn
		WHERE jr.job_arn = $1 AND jr.status = $2 AND jr.started_ms <= $5 AND (jr.started_ms <= $3 OR COALESCE(p.seen_ms, 0) <= $4)
		ORDER BY jr.started_ms, jr.seq`, jobARN, fleet.RobotDeploying, cut.StartedBefore, cut.SilentBefore, max(cut.StartedBefore, cut.SilentBefore))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []store.Deploying
	for rows.Next() {
		var d store.Deploying
		if err := rows.Scan(&d.Robot, &d.StartedMs, &d.SeenMs); err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, rows.Err()
}

// UpdateReplayWindow implements store.ReplayWindows: the agent's row is
// read FOR UPDATE (on SQLite the write transaction excludes the others),
// created first when it does not exist yet, and rewritten in place.
func (s *Store) UpdateReplayWindow(ctx context.Context, agentID string, update func(old []byte) ([]byte, int64, bool)) (bool, error) {
	ok := false
	err := s.tx(ctx, func(tx wtx) error {
		ok = false
		var old []byte
		sel := `SELECT win FROM agent_replay WHERE agent_id = $1` + s.dialect.forUpdate
		err := tx.QueryRowContext(ctx, sel, agentID).Scan(&old)
		if errors.Is(err, sql.ErrNoRows) {
			// Racing first requests of one agent: one insert wins, the
			// others wait for its row lock and read its window.
			if _, err := tx.ExecContext(ctx, `INSERT INTO agent_replay (agent_id, win, newest_ms) VALUES ($1, NULL, 0) ON CONFLICT (agent_id) DO NOTHING`, agentID); err != nil {
				return err
			}
			err = tx.QueryRowContext(ctx, sel, agentID).Scan(&old)
		}
		if err != nil {
			return err
		}
		win, newest, accept := update(old)
		if !accept {
			return nil
		}
		ok = true
		_, err = tx.ExecContext(ctx, `UPDATE agent_replay SET win = $1, newest_ms = $2 WHERE agent_id = $3`, win, newest, agentID)
		return err
	})
	return ok, err
}

// DeleteReplayWindowsBefore implements store.ReplayWindows.
func (s *Store) DeleteReplayWindowsBefore(ctx context.Context, ms int64) (int, error) {
	res, err := s.exec(ctx, `DELETE FROM agent_replay WHERE newest_ms < $1`, ms)
	if err != nil {
		return 0, err
	}
	n, err := res.RowsAffected()
	return int(n), err
}

// EnsureSetting implements store.Settings.
func (s *Store) EnsureSetting(ctx context.Context, key, value string) (string, error) {
	if _, err := s.exec(ctx, `INSERT INTO settings (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING`, key, value); err != nil {
		return "", err
	}
	var stored string
	err := s.db.QueryRowContext(ctx, `SELECT value FROM settings WHERE key = $1`, key).Scan(&stored)
	return stored, err
}
