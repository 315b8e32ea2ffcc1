package sqlstore

import (
	"context"

	"github.com/fleetsync/fleetsync/internal/fleet"
	"github.com/fleetsync/fleetsync/internal/store"
)

// CountsBefore implements store.Jobs.
func (s *Store) CountsBefore(ctx context.Context, jobARN string, seq int) (store.JobCounts, error) {
	rows, err := reader{s}.QueryContext(ctx, `SELECT status, COUNT(*) FROM job_robots WHERE job_arn = $1 AND seq < $2 GROUP BY status`, jobARN, seq)
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
