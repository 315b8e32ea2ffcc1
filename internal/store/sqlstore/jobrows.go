package sqlstore

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"

	"github.com/fleetsync/fleetsync/internal/fleet"
)

// readJobRows runs query (a read of jobRowCols) on a connection of the
// operators' read pool and returns its rows as the job's, in a slice made
// for n of them. It reads them from the driver itself, not through
// database/sql's Rows.Scan: the first DescribeDeploymentJob of a job of
// 10,000 robots, and one after every row changed, spent a fifth of its
// read in Scan's conversions (reflection for every integer column, a
// second conversion for every nullable one) and per-row locking
// (BenchmarkJobRobots). Both drivers (modernc's SQLite and pgx's stdlib)
// give text as string, integers as int64 and floats as float64.
func (s *Store) readJobRows(ctx context.Context, jobARN string, n int, query string, args ...any) ([]fleet.RobotDeployment, error) {
	conn, err := s.readPool(ctx).Conn(ctx)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	named := make([]driver.NamedValue, len(args))
	for i, a := range args {
		named[i] = driver.NamedValue{Ordinal: i + 1, Value: a}
	}
	var out []fleet.RobotDeployment // nil when there are none, as callers expect
	if n > 0 {
		out = make([]fleet.RobotDeployment, 0, n)
	}
	err = conn.Raw(func(dc any) error {
		q, ok := dc.(driver.QueryerContext)
		if !ok {
			return fmt.Errorf("sqlstore: driver connection %T cannot query", dc)
		}
		rows, err := q.QueryContext(ctx, query, named)
		if err != nil {
			return err
		}
		defer rows.Close()
		dest := make([]driver.Value, len(rows.Columns()))
		for {
			if err := rows.Next(dest); errors.Is(err, io.EOF) {
				return nil
			} else if err != nil {
				return err
			}
			d, err := jobRowFrom(dest)
			if err != nil {
				return err
			}
			d.Job = jobARN
			out = append(out, d)
		}
	})
	return out, err
}

// jobRowFrom is a row of jobRowCols as the driver gave it.
func jobRowFrom(v []driver.Value) (fleet.RobotDeployment, error) {
	if len(v) != 11 {
		return fleet.RobotDeployment{}, fmt.Errorf("sqlstore: a job row has %d columns, want 11", len(v))
	}
	var d fleet.RobotDeployment
	c := columns{v: v}
	d.Robot = c.text(0)
	d.Seq = int(c.integer(1))
	d.Status, d.PriorStatus, d.Step = fleet.RobotStatus(c.text(2)), fleet.RobotStatus(c.text(3)), c.text(4)
	d.PercentDone = c.nullFloat(5)
	d.ETASeconds = c.nullInteger(6)
	d.StartedMs, d.FinishedMs = c.integer(7), c.integer(8)
	d.FailureCode, d.FailureReason = c.text(9), c.text(10)
	return d, c.err
}

// columns converts a row's driver values, keeping the first value of a
// type it cannot convert as err.
type columns struct {
	v   []driver.Value
	err error
}

func (c *columns) wrong(i int) {
	if c.err == nil {
		c.err = fmt.Errorf("sqlstore: column %d holds %T", i, c.v[i])
	}
}

func (c *columns) text(i int) string {
	switch x := c.v[i].(type) {
	case string:
		return x
	case []byte:
		return string(x)
	}
	c.wrong(i)
	return ""
}

func (c *columns) integer(i int) int64 {
	if x, ok := c.v[i].(int64); ok {
		return x
	}
	c.wrong(i)
	return 0
}

func (c *columns) nullInteger(i int) *int64 {
	if c.v[i] == nil {
		return nil
	}
	x := c.integer(i)
	return &x
}

func (c *columns) nullFloat(i int) *float64 {
	switch x := c.v[i].(type) {
	case nil:
		return nil
	case float64:
		return &x
	case int64: // as Scan into a sql.NullFloat64 takes it
		f := float64(x)
		return &f
	}
	c.wrong(i)
	return nil
}
