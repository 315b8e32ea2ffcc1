package sqlstore

import (
	"context"
	"database/sql"
	"errors"

	"github.com/fleetsync/fleetsync/internal/fleet"
	"github.com/fleetsync/fleetsync/internal/store"
)

// putFailureOutput keeps a failed row's output ("" keeps what is there).
func putFailureOutput(ctx context.Context, tx wtx, jobARN, robotARN, output string) error {
	if output == "" {
		return nil
	}
	_, err := tx.ExecContext(ctx, `INSERT INTO robot_failure_output (job_arn, robot_arn, output) VALUES ($1, $2, $3)
		ON CONFLICT (job_arn, robot_arn) DO UPDATE SET output = excluded.output`, jobARN, robotARN, output)
	return err
}

// Failures implements store.Evidence: one range of job_robots_by_status
// per status, merged in start order, the output joined on its key.
func (s *Store) Failures(ctx context.Context, jobARN string, from, limit int) ([]store.Failure, error) {
	return queryAll(ctx, reader{s}, func(r interface{ Scan(...any) error }) (store.Failure, error) {
		var out sql.NullString
		d, err := scanRowAnd(r, &out)
		return store.Failure{RobotDeployment: d, Output: out.String}, err
	}, `SELECT `+rowColsOf("r")+`, o.output FROM job_robots r
		LEFT JOIN robot_failure_output o ON o.job_arn = r.job_arn AND o.robot_arn = r.robot_arn
		WHERE r.job_arn = $1 AND r.status IN ($2, $3) AND r.seq >= $4 ORDER BY r.seq LIMIT $5`,
		jobARN, fleet.RobotFailed, fleet.RobotNoResponse, from, limit)
}

// FailureOutputs implements store.Evidence.
func (s *Store) FailureOutputs(ctx context.Context, jobARN string, robots []string) (map[string]string, error) {
	out := make(map[string]string, len(robots))
	if len(robots) == 0 {
		return out, nil
	}
	args, in := inList([]any{jobARN}, robots)
	type pair struct{ robot, output string }
	rows, err := queryAll(ctx, reader{s}, func(r interface{ Scan(...any) error }) (pair, error) {
		var p pair
		return p, r.Scan(&p.robot, &p.output)
	}, `SELECT robot_arn, output FROM robot_failure_output WHERE job_arn = $1 AND robot_arn IN (`+in+`)`, args...)
	for _, p := range rows {
		out[p.robot] = p.output
	}
	return out, err
}

// RequestRobotLog implements store.Evidence.
func (s *Store) RequestRobotLog(ctx context.Context, robotARN string, maxBytes int, nowMs, minGapMs int64) error {
	return s.tx(ctx, func(tx wtx) error {
		var last int64
		err := tx.QueryRowContext(ctx, `SELECT requested_ms FROM robot_logs WHERE robot_arn = $1`, robotARN).Scan(&last)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			_, err = tx.ExecContext(ctx, `INSERT INTO robot_logs (robot_arn, requested_ms, max_bytes) VALUES ($1, $2, $3)`, robotARN, nowMs, maxBytes)
			return err
		case err != nil:
			return err
		case nowMs-last < minGapMs:
			return store.ErrConflict
		}
		_, err = tx.ExecContext(ctx, `UPDATE robot_logs SET requested_ms = $1, max_bytes = $2, taken_ms = 0, content = '', error = ''
			WHERE robot_arn = $3`, nowMs, maxBytes, robotARN)
		return err
	})
}

// PendingRobotLog implements store.Evidence.
func (s *Store) PendingRobotLog(ctx context.Context, robotARN string) (store.RobotLog, error) {
	l, err := s.GetRobotLog(ctx, robotARN)
	if err == nil && l.TakenMs != 0 {
		return store.RobotLog{}, store.ErrNotFound
	}
	return l, err
}

// PutRobotLog implements store.Evidence.
func (s *Store) PutRobotLog(ctx context.Context, l store.RobotLog) error {
	return mustAffect(s.exec(ctx, `UPDATE robot_logs SET taken_ms = $1, content = $2, error = $3
		WHERE robot_arn = $4 AND requested_ms = $5 AND taken_ms = 0`, l.TakenMs, l.Content, l.Error, l.Robot, l.RequestedMs))
}

// GetRobotLog implements store.Evidence.
func (s *Store) GetRobotLog(ctx context.Context, robotARN string) (store.RobotLog, error) {
	l := store.RobotLog{Robot: robotARN}
	err := s.readRow(ctx, `SELECT requested_ms, max_bytes, taken_ms, content, error FROM robot_logs WHERE robot_arn = $1`,
		robotARN).Scan(&l.RequestedMs, &l.MaxBytes, &l.TakenMs, &l.Content, &l.Error)
	if errors.Is(err, sql.ErrNoRows) {
		return l, store.ErrNotFound
	}
	return l, err
}
