package sqlstore

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/fleetsync/fleetsync/internal/fleet"
	"github.com/fleetsync/fleetsync/internal/store"
)

var activeStatuses = `('Pending', 'Preparing', 'InProgress')`

// CreateJob implements store.Jobs.
func (s *Store) CreateJob(ctx context.Context, nj store.NewJob, maxActive int) error {
	j := nj.Job
	spec, err := json.Marshal(j.Spec)
	if err != nil {
		return err
	}
	err = s.tx(ctx, func(tx wtx) error {
		if err := s.dialect.lockAccount(ctx, tx, j.Account); err != nil {
			return err
		}
		n, err := count(ctx, tx, `SELECT COUNT(*) FROM deployment_jobs WHERE account = $1 AND operation = $2 AND client_token = $3`,
			j.Account, nj.Operation, nj.ClientToken)
		if err != nil {
			return err
		}
		if n > 0 {
			return store.ErrExists
		}
		var fleetName string
		if err := tx.QueryRowContext(ctx, `SELECT name FROM fleets WHERE account = $1 AND arn = $2`, j.Account, j.Fleet).Scan(&fleetName); err != nil {
			return notFound(err)
		}
		active, err := count(ctx, tx, `SELECT COUNT(*) FROM deployment_jobs WHERE fleet_arn = $1 AND status IN `+activeStatuses, j.Fleet)
		if err != nil {
			return err
		}
		if active > 0 {
			return store.ErrConflict
		}
		active, err = count(ctx, tx, `SELECT COUNT(*) FROM deployment_jobs WHERE account = $1 AND status IN `+activeStatuses, j.Account)
		if err != nil {
			return err
		}
		if active >= maxActive {
			return store.ErrLimit
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO deployment_jobs (arn, account, fleet_arn, fleet_name, status, spec, fingerprint, created_ms, operation, client_token, params_hash)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
			j.ARN, j.Account, j.Fleet, fleetName, fleet.JobPending, string(spec), j.Spec.Fingerprint(), j.CreatedMs, nj.Operation, nj.ClientToken, nj.ParamsHash)
		if err != nil {
			if s.dialect.isUnique(err) {
				return store.ErrConflict // a racing insert won; the caller re-reads by token
			}
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE fleets SET last_job_arn = $1, last_job_status = $2, last_job_ms = $3 WHERE arn = $4`,
			j.ARN, fleet.JobPending, j.CreatedMs, j.Fleet); err != nil {
			return err
		}
		return putTags(ctx, tx, j.ARN, j.Tags)
	})
	return err
}

const jobCols = `arn, account, fleet_arn, status, failure_code, failure_reason, spec, targets, created_ms, finished_ms, operation, paused_ms, paused_total_ms`

func scanJob(row interface{ Scan(...any) error }) (fleet.Job, error) {
	var js jobScan
	if err := row.Scan(js.dest()...); err != nil {
		return js.j, err
	}
	return js.job()
}

// jobScan holds jobCols as scanned, for a query that reads them with other
// columns; job decodes them.
type jobScan struct {
	j            fleet.Job
	status, spec string
}

// dest is where jobCols scan to, in order.
func (js *jobScan) dest() []any {
	j := &js.j
	return []any{&j.ARN, &j.Account, &j.Fleet, &js.status, &j.FailureCode, &j.FailureReason, &js.spec, &j.Targets, &j.CreatedMs, &j.FinishedMs, &j.Operation, &j.PausedMs, &j.PausedTotalMs}
}

// job is the job scanned, its spec decoded.
func (js *jobScan) job() (fleet.Job, error) {
	j := js.j
	j.Status = fleet.JobStatus(js.status)
	if err := json.Unmarshal([]byte(js.spec), &j.Spec); err != nil {
		return j, fmt.Errorf("sqlstore: corrupt job spec of %s: %w", j.ARN, err)
	}
	return j, nil
}

// JobByToken implements store.Jobs.
func (s *Store) JobByToken(ctx context.Context, account, operation, token string) (fleet.Job, string, error) {
	var hash string
	var j fleet.Job
	row := s.readRow(ctx, `SELECT `+jobCols+`, params_hash FROM deployment_jobs WHERE account = $1 AND operation = $2 AND client_token = $3`,
		account, operation, token)
	err := row.Scan(&j.ARN, &j.Account, &j.Fleet, new(string), new(string), new(string), new(string), new(int), new(int64), new(int64), new(string), new(int64), new(int64), &hash)
	if err != nil {
		return fleet.Job{}, "", notFound(err)
	}
	j, err = s.GetJob(ctx, account, j.ARN)
	return j, hash, err
}

// GetJob implements store.Jobs.
func (s *Store) GetJob(ctx context.Context, account, arn string) (fleet.Job, error) {
	q := `SELECT ` + jobCols + ` FROM deployment_jobs WHERE arn = $1`
	args := []any{arn}
	if account != "" {
		q += ` AND account = $2`
		args = append(args, account)
	}
	j, err := scanJob(s.readRow(ctx, q, args...))
	if err != nil {
		return fleet.Job{}, notFound(err)
	}
	j.Tags, err = s.ResourceTags(ctx, arn)
	return j, err
}

// ListJobs implements store.Jobs.
func (s *Store) ListJobs(ctx context.Context, q fleet.ListQuery) (fleet.Page[fleet.Job], error) {
	query, args, err := pageQuery(`SELECT `+jobCols+` FROM deployment_jobs WHERE account = $1`, []any{q.Account}, q,
		map[string]string{"status": "status", "fleetName": "fleet_name"}, "created_ms, arn")
	if err != nil {
		return fleet.Page[fleet.Job]{}, err
	}
	items, err := queryAll(ctx, reader{s}, scanJob, query, args...)
	return page(items, q.Limit, func(j fleet.Job) fleet.Cursor { return fleet.Cursor{CreatedMs: j.CreatedMs, ARN: j.ARN} }), err
}

const rowCols = `job_arn, robot_arn, seq, status, prior_status, step, percent_done, eta_seconds, started_ms, finished_ms, failure_code, failure_reason`

// rowColsOf is rowCols qualified by a table alias, for joins.
func rowColsOf(alias string) string { return qualified(alias, rowCols) }

// qualified is a column list qualified by a table alias, for joins.
func qualified(alias, cols string) string {
	list := strings.Split(cols, ", ")
	for i, c := range list {
		list[i] = alias + "." + c
	}
	return strings.Join(list, ", ")
}

// withExtra scans a row's columns into scanRow's fields, then the extra
// columns after them into extra.
type withExtra struct {
	row   interface{ Scan(...any) error }
	extra []any
}

// Scan implements the scanner scanRow reads from.
func (w withExtra) Scan(dest ...any) error { return w.row.Scan(append(dest, w.extra...)...) }

func scanRow(row interface{ Scan(...any) error }) (fleet.RobotDeployment, error) {
	return scanRowAnd(row)
}

// scanRowAnd scans rowCols and then the query's further columns into more.
func scanRowAnd(row interface{ Scan(...any) error }, more ...any) (fleet.RobotDeployment, error) {
	var d fleet.RobotDeployment
	var status, prior string
	var pct sql.NullFloat64
	var eta sql.NullInt64
	err := row.Scan(append([]any{&d.Job, &d.Robot, &d.Seq, &status, &prior, &d.Step, &pct, &eta, &d.StartedMs, &d.FinishedMs, &d.FailureCode, &d.FailureReason}, more...)...)
	d.Status, d.PriorStatus = fleet.RobotStatus(status), fleet.RobotStatus(prior)
	if pct.Valid {
		d.PercentDone = &pct.Float64
	}
	if eta.Valid {
		d.ETASeconds = &eta.Int64
	}
	return d, err
}

// JobRobots implements store.Jobs.
// Every row of the job carries the one ARN string the caller gave instead
// of a copy read per row: a Describe of 10,000 robots allocated 10,000.
// The rows are counted first (from the index) to size the result: 7.6 MB
// allocated per Describe of 10,000 robots instead of 12.6; 3.0 MB since
// they are read from the driver (BenchmarkJobRobots).
func (s *Store) JobRobots(ctx context.Context, jobARN string) ([]fleet.RobotDeployment, error) {
	var n int
	if err := s.readRow(ctx, `SELECT COUNT(*) FROM job_robots WHERE job_arn = $1`, jobARN).Scan(&n); err != nil {
		return nil, err
	}
	return s.readJobRows(ctx, jobARN, n, `SELECT `+jobRowCols+` FROM job_robots WHERE job_arn = $1 ORDER BY seq`, jobARN)
}

// jobRowCols are rowCols without job_arn, for the reads of one job's rows
// (readJobRows, jobRowFrom).
var jobRowCols = strings.TrimPrefix(rowCols, "job_arn, ")

// JobRobotsSince implements store.Jobs. The next is read before the rows,
// so a write that commits between the two is read again next time, never
// missed.
func (s *Store) JobRobotsSince(ctx context.Context, jobARN string, since int64) ([]fleet.RobotDeployment, int64, error) {
	q, args := s.dialect.rowWatermark(jobARN)
	var next int64
	if err := s.readRow(ctx, q, args...).Scan(&next); err != nil {
		return nil, 0, err
	}
	if since <= 0 {
		rows, err := s.JobRobots(ctx, jobARN)
		return rows, next, err
	}
	rows, err := s.readJobRows(ctx, jobARN, 0, `SELECT `+jobRowCols+` FROM job_robots WHERE job_arn = $1 AND rev >= $2 ORDER BY seq`, jobARN, since)
	return rows, next, err
}

// rev is the SET clause of a write to job_robots that changes what
// Describe shows of a row (JobRobotsSince).
func (s *Store) rev() string { return s.dialect.revSet }

// Rows implements store.Jobs.
func (s *Store) Rows(ctx context.Context, jobARN string, status fleet.RobotStatus, limit int) ([]fleet.RobotDeployment, error) {
	if status == "" {
		return queryAll(ctx, reader{s}, scanRow, `SELECT `+rowCols+` FROM job_robots WHERE job_arn = $1 ORDER BY seq LIMIT $2`, jobARN, limit)
	}
	return queryAll(ctx, reader{s}, scanRow, `SELECT `+rowCols+` FROM job_robots WHERE job_arn = $1 AND status = $2 ORDER BY seq LIMIT $3`, jobARN, status, limit)
}

// Counts implements store.Jobs.
func (s *Store) Counts(ctx context.Context, jobARN string, statuses ...fleet.RobotStatus) (store.JobCounts, error) {
	if len(statuses) == 0 {
		return s.countByStatus(ctx, `SELECT status, COUNT(*) FROM job_robots WHERE job_arn = $1 GROUP BY status`, jobARN)
	}
	// One range of job_robots_by_status per status.
	args, in := inList([]any{jobARN}, statuses)
	return s.countByStatus(ctx, `SELECT status, COUNT(*) FROM job_robots WHERE job_arn = $1 AND status IN (`+in+`) GROUP BY status`, args...)
}

// inList appends values to a query's args and returns the placeholders
// of an IN list of them ("$3, $4, …", numbered after the args before).
func inList[T any](args []any, values []T) ([]any, string) {
	marks := make([]string, len(values))
	for i, v := range values {
		args = append(args, v)
		marks[i] = fmt.Sprintf("$%d", len(args))
	}
	return args, strings.Join(marks, ", ")
}

// countByStatus runs a (status, count) query over a job's rows.
func (s *Store) countByStatus(ctx context.Context, query string, args ...any) (store.JobCounts, error) {
	rows, err := reader{s}.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	c := store.JobCounts{}
	for rows.Next() {
		var st string
		var n int
		if err := rows.Scan(&st, &n); err != nil {
			return nil, err
		}
		c[fleet.RobotStatus(st)] = n
	}
	return c, rows.Err()
}

// SourceJob implements store.Jobs.
func (s *Store) SourceJob(ctx context.Context, account, fleetARN string) (fleet.Job, error) {
	j, err := scanJob(s.readRow(ctx, `SELECT `+jobCols+` FROM deployment_jobs WHERE account = $1 AND fleet_arn = $2 AND status <> $3
		ORDER BY created_ms DESC, arn DESC LIMIT 1`, account, fleetARN, fleet.JobCanceled))
	return j, notFound(err)
}

// SyncTargets implements store.Jobs.
func (s *Store) SyncTargets(ctx context.Context, account, fleetARN, fingerprint string) ([]fleet.Robot, error) {
	return queryAll(ctx, reader{s}, scanRobot, `SELECT `+robotCols+` FROM robots WHERE account = $1 AND fleet_arn = $2
		AND NOT (status = $3 AND deployed_fingerprint = $4) ORDER BY created_ms, arn`, account, fleetARN, fleet.RobotInSync, fingerprint)
}

// ActiveJobs implements store.Jobs.
func (s *Store) ActiveJobs(ctx context.Context) ([]string, error) {
	return queryAll(ctx, reader{s}, func(r interface{ Scan(...any) error }) (string, error) {
		var a string
		return a, r.Scan(&a)
	}, `SELECT arn FROM deployment_jobs WHERE status IN `+activeStatuses+` ORDER BY created_ms`)
}

// AcquireLease implements store.Jobs.
func (s *Store) AcquireLease(ctx context.Context, jobARN, owner string, nowMs, untilMs int64) (bool, error) {
	res, err := s.exec(ctx, `UPDATE deployment_jobs SET lease_owner = $1, lease_until_ms = $2
		WHERE arn = $3 AND status IN `+activeStatuses+` AND (lease_owner = $1 OR lease_until_ms < $4)`, owner, untilMs, jobARN, nowMs)
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// setJobStatus moves a job between statuses with a compare-and-swap and
// mirrors it on the fleet's lastDeploymentStatus.
func setJobStatus(ctx context.Context, tx wtx, jobARN string, from, to fleet.JobStatus, code, reason string, nowMs int64) error {
	if !fleet.CanJob(from, to) {
		return fmt.Errorf("sqlstore: job %s cannot move %s → %s", jobARN, from, to)
	}
	finished := int64(0)
	if !to.Active() {
		finished = nowMs
	}
	res, err := tx.ExecContext(ctx, `UPDATE deployment_jobs SET status = $1, failure_code = $2, failure_reason = $3, finished_ms = $4 WHERE arn = $5 AND status = $6`,
		to, code, reason, finished, jobARN, from)
	if err := mustAffect(res, err); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return store.ErrConflict
		}
		return err
	}
	_, err = tx.ExecContext(ctx, `UPDATE fleets SET last_job_status = $1 WHERE last_job_arn = $2`, to, jobARN)
	return err
}

// jobStatus reads a job's status and locks its row until the transaction
// ends, so that a job's transactions (prepare, plan steps, cancel) run one
// after the other instead of deadlocking on its robots' rows.
func (s *Store) jobStatus(ctx context.Context, tx wtx, jobARN string) (fleet.JobStatus, error) {
	var st string
	err := tx.QueryRowContext(ctx, `SELECT status FROM deployment_jobs WHERE arn = $1`+s.dialect.forUpdate, jobARN).Scan(&st)
	return fleet.JobStatus(st), notFound(err)
}

// StartPreparing implements store.Jobs.
func (s *Store) StartPreparing(ctx context.Context, jobARN string) error {
	return s.tx(ctx, func(tx wtx) error {
		return setJobStatus(ctx, tx, jobARN, fleet.JobPending, fleet.JobPreparing, "", "", 0)
	})
}

// Prepare implements store.Jobs.
func (s *Store) Prepare(ctx context.Context, jobARN string, rows []fleet.RobotDeployment, finish store.JobOutcome, nowMs int64) error {
	return s.tx(ctx, func(tx wtx) error {
		st, err := s.jobStatus(ctx, tx, jobARN)
		if err != nil {
			return err
		}
		if st != fleet.JobPreparing {
			return store.ErrConflict
		}
		var jobFleet string
		if err := tx.QueryRowContext(ctx, `SELECT fleet_arn FROM deployment_jobs WHERE arn = $1`, jobARN).Scan(&jobFleet); err != nil {
			return err
		}
		// A robot deleted, deregistered or moved since the targets were
		// resolved is not one; the rest keep their order and are numbered
		// without a gap (a canary waits for the rows numbered below its
		// size).
		type target struct {
			row   fleet.RobotDeployment
			prior string
		}
		kept := make([]target, 0, len(rows))
		for _, r := range rows {
			var prior, inFleet string
			err := tx.QueryRowContext(ctx, `SELECT status, fleet_arn FROM robots WHERE arn = $1`+s.dialect.forUpdate, r.Robot).Scan(&prior, &inFleet)
			if errors.Is(err, sql.ErrNoRows) || (err == nil && inFleet != jobFleet) {
				continue
			} else if err != nil {
				return err
			}
			kept = append(kept, target{r, prior})
		}
		slices.SortStableFunc(kept, func(a, b target) int { return cmp.Compare(a.row.Seq, b.row.Seq) })
		for seq, t := range kept {
			r := t.row
			finished := int64(0)
			if r.Status.Finished() {
				finished = nowMs
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO job_robots (job_arn, robot_arn, seq, status, prior_status, step, finished_ms, failure_code, failure_reason, rev)
				VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, `+s.dialect.rowRev("$1")+`)`, jobARN, r.Robot, seq, r.Status, t.prior, r.Step, finished, r.FailureCode, r.FailureReason); err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, `UPDATE robots SET status = $1, last_job_arn = $2, last_job_ms = $3 WHERE arn = $4`,
				r.Status, jobARN, nowMs, r.Robot); err != nil {
				return err
			}
		}
		if _, err := tx.ExecContext(ctx, `UPDATE deployment_jobs SET targets = $1 WHERE arn = $2`, len(kept), jobARN); err != nil {
			return err
		}
		if finish.Status != "" {
			return setJobStatus(ctx, tx, jobARN, fleet.JobPreparing, finish.Status, finish.Code, finish.Reason, nowMs)
		}
		return setJobStatus(ctx, tx, jobARN, fleet.JobPreparing, fleet.JobInProgress, "", "", nowMs)
	})
}

// FailJob implements store.Jobs.
func (s *Store) FailJob(ctx context.Context, jobARN, code, reason string, nowMs int64) error {
	return s.tx(ctx, func(tx wtx) error {
		st, err := s.jobStatus(ctx, tx, jobARN)
		if err != nil {
			return err
		}
		if st != fleet.JobPreparing {
			return store.ErrConflict
		}
		return setJobStatus(ctx, tx, jobARN, st, fleet.JobFailed, code, reason, nowMs)
	})
}

// finishRow moves a row (and its robot) between statuses with a
// compare-and-swap; it reports whether the row was in from.
func finishRow(ctx context.Context, tx wtx, jobARN, robotARN string, from, to fleet.RobotStatus, code, reason string, nowMs int64) (bool, error) {
	if !fleet.CanRobot(from, to) {
		return false, fmt.Errorf("sqlstore: robot %s cannot move %s → %s", robotARN, from, to)
	}
	res, err := tx.ExecContext(ctx, `UPDATE job_robots SET status = $1, failure_code = $2, failure_reason = $3, finished_ms = $4, `+tx.s.rev()+`
		WHERE job_arn = $5 AND robot_arn = $6 AND status = $7`, to, code, reason, nowMs, jobARN, robotARN, from)
	if err := mustAffect(res, err); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return false, nil
		}
		return false, err
	}
	// The robot's own status follows only its latest deployment, and only
	// while it is in that deployment's fleet (inJobFleet).
	_, err = tx.ExecContext(ctx, `UPDATE robots SET status = $1 WHERE arn = $2 AND last_job_arn = $3`+inJobFleet, to, robotARN, jobARN)
	return true, err
}

// Apply implements store.Jobs.
func (s *Store) Apply(ctx context.Context, jobARN string, step store.Step, nowMs int64) error {
	// The job's pending progress goes in with the step (a timed-out row
	// keeps the step it stopped in): each engine step also flushes it.
	pending := s.progress.takeJob(jobARN)
	err := s.tx(ctx, func(tx wtx) error {
		st, err := s.jobStatus(ctx, tx, jobARN)
		if err != nil {
			return err
		}
		if st != fleet.JobInProgress {
			return store.ErrConflict
		}
		var owner string
		var pausedMs int64
		if err := tx.QueryRowContext(ctx, `SELECT lease_owner, paused_ms FROM deployment_jobs WHERE arn = $1`, jobARN).Scan(&owner, &pausedMs); err != nil {
			return err
		}
		if step.Owner != "" && owner != step.Owner {
			return store.ErrConflict // the lease moved on: another replica drives the job now
		}
		if pausedMs > 0 {
			// Paused after the planner looked: the pause wins, no robot starts.
			step.Start = nil
		}
		// After the job's lock, as every transaction of the job takes it.
		if err := writeJobProgress(ctx, tx, pending); err != nil {
			return err
		}
		for _, t := range step.NoResponse {
			if _, err := finishRow(ctx, tx, jobARN, t.Robot, fleet.RobotDeploying, fleet.RobotNoResponse, t.Code, t.Reason, nowMs); err != nil {
				return err
			}
		}
		for _, r := range step.Start {
			res, err := tx.ExecContext(ctx, `UPDATE job_robots SET status = $1, started_ms = $2, step = '', `+s.rev()+` WHERE job_arn = $3 AND robot_arn = $4 AND status = $5`,
				fleet.RobotDeploying, nowMs, jobARN, r, fleet.RobotPendingNewDeployment)
			if err := mustAffect(res, err); err != nil {
				if errors.Is(err, store.ErrNotFound) {
					continue
				}
				return err
			}
			if _, err := tx.ExecContext(ctx, `UPDATE robots SET status = $1 WHERE arn = $2 AND last_job_arn = $3`+inJobFleet, fleet.RobotDeploying, r, jobARN); err != nil {
				return err
			}
		}
		if step.Finish.Status != "" {
			if err := restorePending(ctx, tx, jobARN); err != nil {
				return err
			}
			return setJobStatus(ctx, tx, jobARN, fleet.JobInProgress, step.Finish.Status, step.Finish.Code, step.Finish.Reason, nowMs)
		}
		return nil
	})
	if err != nil && len(pending) > 0 {
		s.progress.restore(pending)
	}
	return err
}

// SetPaused implements store.Jobs.
func (s *Store) SetPaused(ctx context.Context, account, jobARN string, paused bool, nowMs int64) (fleet.Job, error) {
	err := s.tx(ctx, func(tx wtx) error {
		var st string
		var pausedMs int64
		if err := tx.QueryRowContext(ctx, `SELECT status, paused_ms FROM deployment_jobs WHERE account = $1 AND arn = $2`+s.dialect.forUpdate,
			account, jobARN).Scan(&st, &pausedMs); err != nil {
			return notFound(err)
		}
		if !fleet.JobStatus(st).Active() {
			return store.ErrConflict
		}
		switch {
		case paused && pausedMs == 0:
			_, err := tx.ExecContext(ctx, `UPDATE deployment_jobs SET paused_ms = $1 WHERE arn = $2`, max(nowMs, 1), jobARN)
			return err
		case !paused && pausedMs > 0:
			_, err := tx.ExecContext(ctx, `UPDATE deployment_jobs SET paused_ms = 0, paused_total_ms = paused_total_ms + $1 WHERE arn = $2`,
				max(nowMs-pausedMs, 0), jobARN)
			return err
		}
		return nil // already so: nothing changes
	})
	if err != nil {
		return fleet.Job{}, err
	}
	return s.GetJob(ctx, account, jobARN)
}

// restorePending gives robots the job never started their prior status; the
// rows stay PendingNewDeployment as the record that they were never reached.
func restorePending(ctx context.Context, tx wtx, jobARN string) error {
	_, err := tx.ExecContext(ctx, `UPDATE robots SET status = (SELECT jr.prior_status FROM job_robots jr WHERE jr.job_arn = $1 AND jr.robot_arn = robots.arn)
		WHERE last_job_arn = $1 AND arn IN (SELECT robot_arn FROM job_robots WHERE job_arn = $1 AND status = $2)
		AND fleet_arn = (SELECT fleet_arn FROM deployment_jobs WHERE arn = $1)`, jobARN, fleet.RobotPendingNewDeployment)
	return err
}

// inJobFleet ends an UPDATE of robots whose last_job_arn is compared with
// the job ARN: the robot's status follows the job only while the robot is
// still in the job's fleet. A robot deregistered, or whose fleet was
// deleted, while the job deployed to it is Available (in no fleet) or
// Registered (in its new fleet), whatever the job does with its row later.
const inJobFleet = ` AND robots.fleet_arn = (SELECT j.fleet_arn FROM deployment_jobs j WHERE j.arn = robots.last_job_arn)`

// CancelJob implements store.Jobs.
func (s *Store) CancelJob(ctx context.Context, account, jobARN, abortCode, abortReason string, nowMs int64) error {
	// Rows aborted keep the step they were in: the job's pending progress
	// is written first, and no report slips between (progressBuffer.cancel).
	s.progress.cancel.Lock()
	defer s.progress.cancel.Unlock()
	pending := s.progress.takeJob(jobARN)
	err := s.tx(ctx, func(tx wtx) error {
		var st string
		if err := tx.QueryRowContext(ctx, `SELECT status FROM deployment_jobs WHERE account = $1 AND arn = $2`+s.dialect.forUpdate, account, jobARN).Scan(&st); err != nil {
			return notFound(err)
		}
		if !fleet.JobStatus(st).Active() {
			return store.ErrConflict
		}
		// After the job's lock, as every transaction of the job takes it.
		if err := writeJobProgress(ctx, tx, pending); err != nil {
			return err
		}
		deploying, err := queryAll(ctx, tx, func(r interface{ Scan(...any) error }) (string, error) {
			var a string
			return a, r.Scan(&a)
		}, `SELECT robot_arn FROM job_robots WHERE job_arn = $1 AND status = $2`, jobARN, fleet.RobotDeploying)
		if err != nil {
			return err
		}
		for _, r := range deploying {
			if _, err := finishRow(ctx, tx, jobARN, r, fleet.RobotDeploying, fleet.RobotFailed, abortCode, abortReason, nowMs); err != nil {
				return err
			}
		}
		if err := restorePending(ctx, tx, jobARN); err != nil {
			return err
		}
		return setJobStatus(ctx, tx, jobARN, fleet.JobStatus(st), fleet.JobCanceled, "", "", nowMs)
	})
	if err != nil && len(pending) > 0 {
		s.progress.restore(pending)
	}
	return err
}

// DeleteJobsFinishedBefore implements store.Jobs.
func (s *Store) DeleteJobsFinishedBefore(ctx context.Context, ms int64) (int, error) {
	var n int
	err := s.tx(ctx, func(tx wtx) error {
		old := `SELECT arn FROM deployment_jobs WHERE finished_ms > 0 AND finished_ms < $1`
		if _, err := tx.ExecContext(ctx, `DELETE FROM job_robots WHERE job_arn IN (`+old+`)`, ms); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM robot_failure_output WHERE job_arn IN (`+old+`)`, ms); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM tags WHERE arn IN (`+old+`)`, ms); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, `DELETE FROM deployment_jobs WHERE finished_ms > 0 AND finished_ms < $1`, ms)
		if err != nil {
			return err
		}
		c, err := res.RowsAffected()
		n = int(c)
		return err
	})
	return n, err
}

// --- agents ---

// RobotByAgent implements store.Agents.
func (s *Store) RobotByAgent(ctx context.Context, account, agentID string) (fleet.Robot, error) {
	ctx = forAgents(ctx)
	r, err := scanRobot(s.readRow(ctx, `SELECT `+robotCols+` FROM robots WHERE agent_id = $1 AND ($2 = '' OR account = $2)
		ORDER BY created_ms, arn LIMIT 1`, agentID, account))
	return r, notFound(err)
}

// CurrentAssignment implements store.Agents.
func (s *Store) CurrentAssignment(ctx context.Context, robotARN string) (store.Assignment, error) {
	p, err := s.RobotPoll(ctx, robotARN)
	switch {
	case err != nil:
		return store.Assignment{}, err
	case p.Assignment == nil:
		return store.Assignment{}, store.ErrNotFound
	}
	return *p.Assignment, nil
}

// robotPollQuery reads a robot's latest row through its last job, with
// the job, the row's attempts and the robot's unanswered log request.
var robotPollQuery = `SELECT ` + rowColsOf("jr") + `, jr.agent_gave_up, jr.attempts, jr.retry_at_ms, ` + qualified("j", jobCols) + `,
	l.requested_ms, l.max_bytes
	FROM robots r JOIN job_robots jr ON jr.job_arn = r.last_job_arn AND jr.robot_arn = r.arn
	JOIN deployment_jobs j ON j.arn = jr.job_arn
	LEFT JOIN robot_logs l ON l.robot_arn = r.arn AND l.taken_ms = 0 WHERE r.arn = $1`

// RobotPoll implements store.Agents: one read for a robot that was ever
// deployed to (two when it hands out an assignment: the job's tags; two
// for a robot that never was deployed to, or is unknown).
func (s *Store) RobotPoll(ctx context.Context, robotARN string) (p store.RobotPoll, err error) {
	s.deep.run(func() { p, err = s.robotPoll(forAgents(ctx), robotARN) })
	return p, err
}

func (s *Store) robotPoll(ctx context.Context, robotARN string) (store.RobotPoll, error) {
	var gaveUp bool
	var attempts int
	var retryAt int64
	var js jobScan
	var logAt, logMax sql.NullInt64
	extra := append([]any{&gaveUp, &attempts, &retryAt}, js.dest()...)
	row, err := scanRow(withExtra{s.readRow(ctx, robotPollQuery, robotARN), append(extra, &logAt, &logMax)})
	if errors.Is(err, sql.ErrNoRows) {
		// No latest row: only a log request may be pending.
		var p store.RobotPoll
		l, err := s.PendingRobotLog(ctx, robotARN)
		if err == nil {
			p.Log = &l
		} else if !errors.Is(err, store.ErrNotFound) {
			return p, err
		}
		return p, nil
	}
	if err != nil {
		return store.RobotPoll{}, err
	}
	p := store.RobotPoll{Latest: row}
	if logAt.Valid {
		p.Log = &store.RobotLog{Robot: robotARN, RequestedMs: logAt.Int64, MaxBytes: int(logMax.Int64)}
	}
	if row.Status != fleet.RobotDeploying && (row.Status != fleet.RobotNoResponse || gaveUp) {
		return p, nil
	}
	j, err := js.job()
	if err != nil {
		return store.RobotPoll{}, err
	}
	if j.Tags, err = s.resourceTags(ctx, j.ARN); err != nil { // already on a deep stack
		return store.RobotPoll{}, err
	}
	p.Assignment = &store.Assignment{Job: j, Row: row, Attempts: attempts, RetryAtMs: retryAt}
	return p, nil
}

// RecordResult implements store.Agents. A result that changes nothing (the
// row already finished, as every poll of an agent that runs a finished
// deployment says again, or no such row) is answered from one read, with no
// write transaction.
func (s *Store) RecordResult(ctx context.Context, jobARN, robotARN string, res store.Result) (bool, error) {
	to := res.Status
	switch {
	case res.Success:
		to = fleet.RobotInSync
	case to == "":
		to = fleet.RobotFailed
	}
	st, err := s.rowStatus(ctx, jobARN, robotARN)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return true, nil
	case err == nil && fleet.RobotStatus(st) == fleet.RobotPendingNewDeployment:
		return true, nil // not started: not the robot's to finish (recordResultTx)
	case err == nil && to != fleet.RobotNoResponse && !fleet.CanRobot(fleet.RobotStatus(st), to):
		// No allowed change: the transaction would answer the same (a
		// finished row never changes again; a row not started is not the
		// robot's to finish). A NoResponse result always goes to the
		// transaction, which records the agent's evidence.
		return fleet.RobotStatus(st) != to, nil
	}
	return s.recordResultTx(ctx, jobARN, robotARN, res)
}

// recordResultTx is RecordResult's write transaction. The row's progress
// not yet flushed is written first, so a failed row shows the step it
// failed at.
func (s *Store) recordResultTx(ctx context.Context, jobARN, robotARN string, res store.Result) (bool, error) {
	abort := false
	k := progressKey{jobARN, robotARN}
	pending, hasPending := s.progress.take(k)
	err := s.tx(ctx, func(tx wtx) error {
		abort = false // a retried transaction starts over
		// A success overwrites the row's progress (step Finished): what is
		// pending of it is not written first.
		if hasPending && !res.Success {
			if err := writeProgress(ctx, tx, k, pending); err != nil {
				return err
			}
		}
		var st, fp string
		err := tx.QueryRowContext(ctx, `SELECT jr.status, j.fingerprint FROM job_robots jr JOIN deployment_jobs j ON j.arn = jr.job_arn
			WHERE jr.job_arn = $1 AND jr.robot_arn = $2`, jobARN, robotARN).Scan(&st, &fp)
		if errors.Is(err, sql.ErrNoRows) {
			abort = true
			return nil
		}
		if err != nil {
			return err
		}
		from := fleet.RobotStatus(st)
		if from == fleet.RobotPendingNewDeployment {
			// Not started: not the robot's to finish (the engine's Apply
			// ends rows that were never handed out), and not its to work on.
			abort = true
			return nil
		}
		to := res.Status
		switch {
		case res.Success:
			to = fleet.RobotInSync
		case to == "":
			to = fleet.RobotFailed
		}
		if to == fleet.RobotNoResponse && (from == fleet.RobotDeploying || from == fleet.RobotNoResponse) {
			// The agent gave up at its own deadline: the robot is not sent
			// this deployment again.
			if _, err := tx.ExecContext(ctx, `UPDATE job_robots SET agent_gave_up = TRUE WHERE job_arn = $1 AND robot_arn = $2`, jobARN, robotARN); err != nil {
				return err
			}
		}
		if from == to && to == fleet.RobotNoResponse {
			// The agent's own deadline after the engine's: the row says
			// so already; only the robot's evidence is new.
			return putFailureOutput(ctx, tx, jobARN, robotARN, res.Output)
		}
		if !fleet.CanRobot(from, to) {
			abort = from != to // a repeated report of the same outcome is fine
			return nil
		}
		if res.Success {
			// Most results of a rollout: one statement per table. The row
			// finishes at step Finished; the robot runs the job's
			// fingerprint, and its own status follows only its latest
			// deployment while it is in that deployment's fleet (as
			// finishRow's).
			r, err := tx.ExecContext(ctx, `UPDATE job_robots SET status = $1, failure_code = '', failure_reason = '', finished_ms = $2,
				step = 'Finished', percent_done = NULL, eta_seconds = NULL, `+s.rev()+` WHERE job_arn = $3 AND robot_arn = $4 AND status = $5`,
				to, res.NowMs, jobARN, robotARN, from)
			if err := mustAffect(r, err); err != nil {
				if errors.Is(err, store.ErrNotFound) {
					return nil
				}
				return err
			}
			_, err = tx.ExecContext(ctx, `UPDATE robots SET deployed_fingerprint = $1,
				status = CASE WHEN robots.fleet_arn = (SELECT j.fleet_arn FROM deployment_jobs j WHERE j.arn = robots.last_job_arn) THEN $2 ELSE robots.status END
				WHERE arn = $3 AND last_job_arn = $4`, fp, to, robotARN, jobARN)
			return err
		}
		if _, err := finishRow(ctx, tx, jobARN, robotARN, from, to, res.Code, res.Reason, res.NowMs); err != nil {
			return err
		}
		switch {
		case res.Step != "":
			// The step the robot failed in, even when its last progress
			// report (coalesced) named an earlier one.
			if _, err = tx.ExecContext(ctx, `UPDATE job_robots SET step = $1, `+s.rev()+` WHERE job_arn = $2 AND robot_arn = $3`, res.Step, jobARN, robotARN); err != nil {
				return err
			}
		}
		return putFailureOutput(ctx, tx, jobARN, robotARN, res.Output)
	})
	if err != nil && hasPending {
		s.progress.restore(map[progressKey]progressRow{k: pending})
	}
	return abort, err
}
