package sqlstore

import (
	"context"

	"github.com/fleetsync/fleetsync/internal/fleet"
	"github.com/fleetsync/fleetsync/internal/store"
)

// LastRows implements store.Reports.
func (s *Store) LastRows(ctx context.Context, account, fleetARN string) ([]fleet.RobotDeployment, error) {
	return queryAll(ctx, s.db, scanRow, `SELECT jr.job_arn, jr.robot_arn, jr.seq, jr.status, jr.prior_status, jr.step, jr.percent_done,
		jr.eta_seconds, jr.started_ms, jr.finished_ms, jr.failure_code, jr.failure_reason
		FROM robots r JOIN job_robots jr ON jr.job_arn = r.last_job_arn AND jr.robot_arn = r.arn
		WHERE r.account = $1 AND r.fleet_arn = $2 ORDER BY r.created_ms, r.arn`, account, fleetARN)
}

// InstalledRows implements store.Reports: each robot's InSync row with no
// later InSync row (by finish time, then job ARN) of the same robot.
func (s *Store) InstalledRows(ctx context.Context, account, fleetARN string) ([]fleet.RobotDeployment, error) {
	return queryAll(ctx, s.db, scanRow, `SELECT jr.job_arn, jr.robot_arn, jr.seq, jr.status, jr.prior_status, jr.step, jr.percent_done,
		jr.eta_seconds, jr.started_ms, jr.finished_ms, jr.failure_code, jr.failure_reason
		FROM robots r JOIN job_robots jr ON jr.robot_arn = r.arn AND jr.status = $3
		WHERE r.account = $1 AND r.fleet_arn = $2 AND NOT EXISTS (SELECT 1 FROM job_robots later
			WHERE later.robot_arn = r.arn AND later.status = $3
			AND (later.finished_ms > jr.finished_ms OR (later.finished_ms = jr.finished_ms AND later.job_arn > jr.job_arn)))
		ORDER BY r.created_ms, r.arn`, account, fleetARN, fleet.RobotInSync)
}

// AutoSyncCandidates implements store.Reports.
func (s *Store) AutoSyncCandidates(ctx context.Context, tagKey string) ([]fleet.TaggedFleet, error) {
	return queryAll(ctx, s.db, func(r interface{ Scan(...any) error }) (fleet.TaggedFleet, error) {
		var f fleet.TaggedFleet
		return f, r.Scan(&f.Account, &f.ARN, &f.TagValue, &f.Registered)
	}, `SELECT f.account, f.arn, t.value, COUNT(*) FROM fleets f JOIN tags t ON t.arn = f.arn AND t.key = $1
		JOIN robots r ON r.fleet_arn = f.arn AND r.status = $2
		GROUP BY f.account, f.arn, t.value, f.created_ms
		ORDER BY f.created_ms, f.arn`, tagKey, fleet.RobotRegistered)
}

// RobotStatusCounts implements store.Reports.
func (s *Store) RobotStatusCounts(ctx context.Context) (map[fleet.RobotStatus]int, error) {
	type pair struct {
		status string
		n      int
	}
	rows, err := queryAll(ctx, s.db, func(r interface{ Scan(...any) error }) (pair, error) {
		var p pair
		return p, r.Scan(&p.status, &p.n)
	}, `SELECT status, COUNT(*) FROM robots GROUP BY status`)
	out := map[fleet.RobotStatus]int{}
	for _, p := range rows {
		out[fleet.RobotStatus(p.status)] = p.n
	}
	return out, err
}

// FleetStatusCounts implements store.Reports.
func (s *Store) FleetStatusCounts(ctx context.Context, account string) (map[string]map[fleet.RobotStatus]int, error) {
	type triple struct {
		fleet, status string
		n             int
	}
	rows, err := queryAll(ctx, s.db, func(r interface{ Scan(...any) error }) (triple, error) {
		var t triple
		return t, r.Scan(&t.fleet, &t.status, &t.n)
	}, `SELECT fleet_arn, status, COUNT(*) FROM robots WHERE account = $1 AND fleet_arn <> '' GROUP BY fleet_arn, status`, account)
	out := map[string]map[fleet.RobotStatus]int{}
	for _, t := range rows {
		if out[t.fleet] == nil {
			out[t.fleet] = map[fleet.RobotStatus]int{}
		}
		out[t.fleet][fleet.RobotStatus(t.status)] = t.n
	}
	return out, err
}

// ControlCounts implements store.Reports.
func (s *Store) ControlCounts(ctx context.Context) (store.ControlCounts, error) {
	var c store.ControlCounts
	if err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM deployment_jobs WHERE paused_ms > 0 AND status IN `+activeStatuses).Scan(&c.PausedJobs); err != nil {
		return c, err
	}
	err := s.db.QueryRowContext(ctx, `SELECT COUNT(DISTINCT q.robot_arn) FROM robot_failures q JOIN robots r ON r.arn = q.robot_arn
		WHERE q.quarantined_ms > 0`).Scan(&c.QuarantinedRobots)
	return c, err
}
