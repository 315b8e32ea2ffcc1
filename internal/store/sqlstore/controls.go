package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/fleetsync/fleetsync/internal/fleet"
	"github.com/fleetsync/fleetsync/internal/store"
)

// CountsBefore implements store.Jobs.
func (s *Store) CountsBefore(ctx context.Context, jobARN string, seq int) (store.JobCounts, error) {
	return s.countByStatus(ctx, `SELECT status, COUNT(*) FROM job_robots WHERE job_arn = $1 AND seq < $2 GROUP BY status`, jobARN, seq)
}

// RowAttempts implements store.Retries.
func (s *Store) RowAttempts(ctx context.Context, jobARN, robotARN string) (int, int64, error) {
	var n int
	var at int64
	err := s.readRow(ctx, `SELECT attempts, retry_at_ms FROM job_robots WHERE job_arn = $1 AND robot_arn = $2`, jobARN, robotARN).Scan(&n, &at)
	return n, at, notFound(err)
}

// CountAttempt implements store.Retries.
func (s *Store) CountAttempt(ctx context.Context, jobARN, robotARN string, expect int) (bool, error) {
	res, err := s.exec(ctx, `UPDATE job_robots SET attempts = attempts + 1 WHERE job_arn = $1 AND robot_arn = $2 AND attempts = $3`,
		jobARN, robotARN, expect)
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// DeferRetry implements store.Retries.
func (s *Store) DeferRetry(ctx context.Context, jobARN, robotARN string, retryAtMs int64) (bool, error) {
	res, err := s.exec(ctx, `UPDATE job_robots SET retry_at_ms = $1, step = '', percent_done = NULL, eta_seconds = NULL, `+s.rev()+`
		WHERE job_arn = $2 AND robot_arn = $3 AND status = $4`, retryAtMs, jobARN, robotARN, fleet.RobotDeploying)
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// RecordRobotFailure implements store.Quarantine.
func (s *Store) RecordRobotFailure(ctx context.Context, f store.RobotFailures, quarantineAfter int, nowMs int64) (store.RobotFailures, error) {
	var out store.RobotFailures
	err := s.tx(ctx, func(tx wtx) error {
		out = f
		err := tx.QueryRowContext(ctx, `SELECT failures, quarantined_ms FROM robot_failures WHERE robot_arn = $1 AND fingerprint = $2`+s.dialect.forUpdate,
			f.Robot, f.Fingerprint).Scan(&out.Failures, &out.QuarantinedMs)
		exists := err == nil
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		out.Failures++
		if out.QuarantinedMs == 0 && quarantineAfter > 0 && out.Failures >= quarantineAfter {
			out.QuarantinedMs = nowMs
		}
		if exists {
			_, err = tx.ExecContext(ctx, `UPDATE robot_failures SET failures = $1, last_job_arn = $2, last_code = $3, last_reason = $4, quarantined_ms = $5
				WHERE robot_arn = $6 AND fingerprint = $7`, out.Failures, f.LastJob, f.LastCode, f.LastReason, out.QuarantinedMs, f.Robot, f.Fingerprint)
		} else {
			_, err = tx.ExecContext(ctx, `INSERT INTO robot_failures (robot_arn, fingerprint, account, failures, last_job_arn, last_code, last_reason, quarantined_ms)
				VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`, f.Robot, f.Fingerprint, f.Account, out.Failures, f.LastJob, f.LastCode, f.LastReason, out.QuarantinedMs)
		}
		return err
	})
	return out, err
}

// QuarantinedRobots implements store.Quarantine.
func (s *Store) QuarantinedRobots(ctx context.Context, account, fleetARN string) ([]store.RobotFailures, error) {
	q := `SELECT q.account, q.robot_arn, q.fingerprint, q.failures, q.last_job_arn, q.last_code, q.last_reason, q.quarantined_ms
		FROM robot_failures q JOIN robots r ON r.arn = q.robot_arn AND r.account = q.account
		WHERE q.account = $1 AND q.quarantined_ms > 0`
	args := []any{account}
	if fleetARN != "" {
		q += ` AND r.fleet_arn = $2`
		args = append(args, fleetARN)
	}
	return queryAll(ctx, s.db, func(r interface{ Scan(...any) error }) (store.RobotFailures, error) {
		var f store.RobotFailures
		return f, r.Scan(&f.Account, &f.Robot, &f.Fingerprint, &f.Failures, &f.LastJob, &f.LastCode, &f.LastReason, &f.QuarantinedMs)
	}, q+` ORDER BY q.quarantined_ms, q.robot_arn`, args...)
}

// ReleaseRobot implements store.Quarantine.
func (s *Store) ReleaseRobot(ctx context.Context, account, robotARN string) (bool, error) {
	var was bool
	err := s.tx(ctx, func(tx wtx) error {
		n, err := count(ctx, tx, `SELECT COUNT(*) FROM robot_failures WHERE account = $1 AND robot_arn = $2 AND quarantined_ms > 0`, account, robotARN)
		if err != nil {
			return err
		}
		was = n > 0
		_, err = tx.ExecContext(ctx, `DELETE FROM robot_failures WHERE account = $1 AND robot_arn = $2`, account, robotARN)
		return err
	})
	return was, err
}

// RecordOverlays implements store.DryRuns.
func (s *Store) RecordOverlays(ctx context.Context, robotARN string, overlays []string, nowMs int64) error {
	b, err := json.Marshal(overlays)
	if err != nil {
		return err
	}
	_, err = s.exec(ctx, `INSERT INTO robot_overlays (robot_arn, overlays, updated_ms) VALUES ($1, $2, $3)
		ON CONFLICT (robot_arn) DO UPDATE SET overlays = excluded.overlays, updated_ms = excluded.updated_ms`, robotARN, string(b), nowMs)
	return err
}

// FleetOverlays implements store.DryRuns.
func (s *Store) FleetOverlays(ctx context.Context, account, fleetARN string) (map[string][]string, error) {
	type pair struct {
		robot, overlays string
	}
	rows, err := queryAll(ctx, s.db, func(r interface{ Scan(...any) error }) (pair, error) {
		var p pair
		return p, r.Scan(&p.robot, &p.overlays)
	}, `SELECT o.robot_arn, o.overlays FROM robot_overlays o JOIN robots r ON r.arn = o.robot_arn
		WHERE r.account = $1 AND r.fleet_arn = $2`, account, fleetARN)
	if err != nil {
		return nil, err
	}
	out := make(map[string][]string, len(rows))
	for _, p := range rows {
		var list []string
		if err := json.Unmarshal([]byte(p.overlays), &list); err != nil {
			return nil, fmt.Errorf("sqlstore: corrupt overlays of %s: %w", p.robot, err)
		}
		out[p.robot] = list
	}
	return out, nil
}

// RecentDurations implements store.DryRuns.
func (s *Store) RecentDurations(ctx context.Context, account, fleetARN string, limit int) ([]int64, error) {
	return queryAll(ctx, s.db, func(r interface{ Scan(...any) error }) (int64, error) {
		var d int64
		return d, r.Scan(&d)
	}, `SELECT jr.finished_ms - jr.started_ms FROM job_robots jr JOIN deployment_jobs j ON j.arn = jr.job_arn
		WHERE j.account = $1 AND j.fleet_arn = $2 AND jr.status = $3 AND jr.started_ms > 0 AND jr.finished_ms >= jr.started_ms
		ORDER BY jr.finished_ms DESC LIMIT $4`, account, fleetARN, fleet.RobotInSync, limit)
}
