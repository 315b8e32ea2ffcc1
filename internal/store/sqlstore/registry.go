package sqlstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/fleetsync/fleetsync/internal/fleet"
	"github.com/fleetsync/fleetsync/internal/store"
)

// pageQuery appends the keyset condition, the filters and the order to a
// SELECT whose first condition is already in base, and returns the args.
// cols maps filter names to column expressions; keyCols is the keyset,
// "created_ms, arn" or "created_ms, arn, seq".
func pageQuery(base string, args []any, q fleet.ListQuery, cols map[string]string, keyCols string) (string, []any, error) {
	var b strings.Builder
	b.WriteString(base)
	arg := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	names := make([]string, 0, len(q.Filters))
	for name := range q.Filters {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		col, ok := cols[name]
		if !ok {
			return "", nil, fmt.Errorf("sqlstore: unsupported filter %q", name)
		}
		fmt.Fprintf(&b, " AND %s = %s", col, arg(q.Filters[name]))
	}
	if q.After != nil {
		if strings.Count(keyCols, ",") == 2 {
			fmt.Fprintf(&b, " AND (%s) > (%s, %s, %s)", keyCols, arg(q.After.CreatedMs), arg(q.After.ARN), arg(q.After.Seq))
		} else {
			fmt.Fprintf(&b, " AND (%s) > (%s, %s)", keyCols, arg(q.After.CreatedMs), arg(q.After.ARN))
		}
	}
	fmt.Fprintf(&b, " ORDER BY %s LIMIT %s", keyCols, arg(q.Limit+1))
	return b.String(), args, nil
}

// page trims the one extra row a page query fetches and sets the cursor.
func page[T any](items []T, limit int, cursor func(T) fleet.Cursor) fleet.Page[T] {
	p := fleet.Page[T]{Items: items}
	if len(items) > limit {
		p.Items = items[:limit]
		c := cursor(items[limit-1])
		p.Next = &c
	}
	return p
}

// --- fleets ---

// CreateFleet implements store.Fleets.
func (s *Store) CreateFleet(ctx context.Context, f fleet.Fleet, maxPerAccount int) error {
	return s.tx(ctx, func(tx wtx) error {
		if err := s.dialect.lockAccount(ctx, tx, f.Account); err != nil {
			return err
		}
		n, err := count(ctx, tx, `SELECT COUNT(*) FROM fleets WHERE account = $1`, f.Account)
		if err != nil {
			return err
		}
		if n >= maxPerAccount {
			return store.ErrLimit
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO fleets (arn, account, name, created_ms) VALUES ($1, $2, $3, $4)`,
			f.ARN, f.Account, f.Name, f.CreatedMs)
		if err = s.insertErr(err); err != nil {
			return err
		}
		return putTags(ctx, tx, f.ARN, f.Tags)
	})
}

const fleetCols = `arn, account, name, created_ms, last_job_arn, last_job_status, last_job_ms`

func scanFleet(row interface{ Scan(...any) error }) (fleet.Fleet, error) {
	var f fleet.Fleet
	var status string
	err := row.Scan(&f.ARN, &f.Account, &f.Name, &f.CreatedMs, &f.LastDeploymentJob, &status, &f.LastDeploymentTimeMs)
	f.LastDeploymentStatus = fleet.JobStatus(status)
	return f, err
}

// GetFleet implements store.Fleets.
func (s *Store) GetFleet(ctx context.Context, account, arn string) (fleet.Fleet, error) {
	f, err := scanFleet(s.readRow(ctx, `SELECT `+fleetCols+` FROM fleets WHERE account = $1 AND arn = $2`, account, arn))
	if err != nil {
		return fleet.Fleet{}, notFound(err)
	}
	f.Tags, err = s.ResourceTags(ctx, arn)
	return f, err
}

// ListFleets implements store.Fleets.
func (s *Store) ListFleets(ctx context.Context, q fleet.ListQuery) (fleet.Page[fleet.Fleet], error) {
	query, args, err := pageQuery(`SELECT `+fleetCols+` FROM fleets WHERE account = $1`, []any{q.Account}, q,
		map[string]string{"name": "name"}, "created_ms, arn")
	if err != nil {
		return fleet.Page[fleet.Fleet]{}, err
	}
	items, err := queryAll(ctx, reader{s}, scanFleet, query, args...)
	return page(items, q.Limit, func(f fleet.Fleet) fleet.Cursor { return fleet.Cursor{CreatedMs: f.CreatedMs, ARN: f.ARN} }), err
}

// DeleteFleet implements store.Fleets.
func (s *Store) DeleteFleet(ctx context.Context, account, arn string) error {
	return s.tx(ctx, func(tx wtx) error {
		if err := mustAffect(tx.ExecContext(ctx, `DELETE FROM fleets WHERE account = $1 AND arn = $2`, account, arn)); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE robots SET fleet_arn = '', status = $1 WHERE fleet_arn = $2`, fleet.RobotAvailable, arn); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM robot_counts WHERE scope = $1`, fleetScope(arn)); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `DELETE FROM tags WHERE arn = $1`, arn)
		return err
	})
}

// queryAll runs a query and scans every row.
func queryAll[T any](ctx context.Context, q rowsQuerier, scan func(interface{ Scan(...any) error }) (T, error), query string, args ...any) ([]T, error) {
	return queryAllSized(ctx, q, 0, scan, query, args...)
}

// queryAllSized is queryAll into a slice made for about n rows: a result
// of 10,000 rows grown by appending allocated and copied it 20 times over.
func queryAllSized[T any](ctx context.Context, q rowsQuerier, n int, scan func(interface{ Scan(...any) error }) (T, error), query string, args ...any) ([]T, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []T // nil when there are none, as callers expect
	if n > 0 {
		out = make([]T, 0, n)
	}
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// --- robots ---

// CreateRobot implements store.Robots. The quota is the account's row in
// robot_counts, moved in the same transaction: no COUNT(*) per insert, and
// on PostgreSQL concurrent creators of one account serialise on that row
// (the upsert locks it and re-checks the bound on its latest version). The
// robot is inserted first so that every write takes a robot row before a
// count row, and no two transactions wait on each other in opposite order.
func (s *Store) CreateRobot(ctx context.Context, r fleet.Robot, maxPerAccount int) error {
	return s.tx(ctx, func(tx wtx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO robots (arn, account, name, architecture, agent_id, status, created_ms) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
			r.ARN, r.Account, r.Name, r.Architecture, r.AgentID, r.Status, r.CreatedMs)
		if err = s.insertErr(err); err != nil {
			return err
		}
		if err := incrCount(ctx, tx, accountScope(r.Account), maxPerAccount); err != nil {
			return err
		}
		return putTags(ctx, tx, r.ARN, r.Tags)
	})
}

func accountScope(account string) string { return "account:" + account }
func fleetScope(fleetARN string) string  { return "fleet:" + fleetARN }

// incrCount adds one to a robot count unless it is already max (ErrLimit).
func incrCount(ctx context.Context, tx wtx, scope string, max int) error {
	if max <= 0 {
		return store.ErrLimit
	}
	res, err := tx.ExecContext(ctx, `INSERT INTO robot_counts (scope, n) VALUES ($1, 1)
		ON CONFLICT (scope) DO UPDATE SET n = robot_counts.n + 1 WHERE robot_counts.n < $2`, scope, max)
	if err := mustAffect(res, err); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return store.ErrLimit
		}
		return err
	}
	return nil
}

// decrCount takes one from a robot count.
func decrCount(ctx context.Context, tx wtx, scope string) error {
	_, err := tx.ExecContext(ctx, `UPDATE robot_counts SET n = n - 1 WHERE scope = $1 AND n > 0`, scope)
	return err
}

const robotCols = `arn, account, name, architecture, agent_id, fleet_arn, status, created_ms, last_job_arn, last_job_ms`

func scanRobot(row interface{ Scan(...any) error }) (fleet.Robot, error) {
	var r fleet.Robot
	var arch, status string
	err := row.Scan(&r.ARN, &r.Account, &r.Name, &arch, &r.AgentID, &r.FleetARN, &status, &r.CreatedMs, &r.LastDeploymentJob, &r.LastDeploymentTimeMs)
	r.Architecture, r.Status = fleet.Architecture(arch), fleet.RobotStatus(status)
	return r, err
}

// GetRobot implements store.Robots.
func (s *Store) GetRobot(ctx context.Context, account, arn string) (fleet.Robot, error) {
	r, err := scanRobot(s.readRow(ctx, `SELECT `+robotCols+` FROM robots WHERE account = $1 AND arn = $2`, account, arn))
	if err != nil {
		return fleet.Robot{}, notFound(err)
	}
	r.Tags, err = s.ResourceTags(ctx, arn)
	return r, err
}

// ListRobots implements store.Robots.
func (s *Store) ListRobots(ctx context.Context, q fleet.ListQuery) (fleet.Page[fleet.Robot], error) {
	cols := map[string]string{
		"status":    "status",
		"fleetName": "(SELECT f.name FROM fleets f WHERE f.arn = robots.fleet_arn)",
	}
	query, args, err := pageQuery(`SELECT `+robotCols+` FROM robots WHERE account = $1`, []any{q.Account}, q, cols, "created_ms, arn")
	if err != nil {
		return fleet.Page[fleet.Robot]{}, err
	}
	items, err := queryAll(ctx, reader{s}, scanRobot, query, args...)
	return page(items, q.Limit, func(r fleet.Robot) fleet.Cursor { return fleet.Cursor{CreatedMs: r.CreatedMs, ARN: r.ARN} }), err
}

// FleetRobots implements store.Robots.
func (s *Store) FleetRobots(ctx context.Context, account, fleetARN string, limit int) ([]fleet.Robot, error) {
	return queryAll(ctx, reader{s}, scanRobot, `SELECT `+robotCols+` FROM robots WHERE account = $1 AND fleet_arn = $2 ORDER BY created_ms, arn LIMIT $3`,
		account, fleetARN, limit)
}

// DeleteRobot implements store.Robots.
func (s *Store) DeleteRobot(ctx context.Context, account, arn string) error {
	return s.tx(ctx, func(tx wtx) error {
		var fleetARN string
		if err := tx.QueryRowContext(ctx, `DELETE FROM robots WHERE account = $1 AND arn = $2 RETURNING fleet_arn`, account, arn).Scan(&fleetARN); err != nil {
			return notFound(err)
		}
		if err := decrCount(ctx, tx, accountScope(account)); err != nil {
			return err
		}
		if fleetARN != "" {
			if err := decrCount(ctx, tx, fleetScope(fleetARN)); err != nil {
				return err
			}
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM agent_presence WHERE robot_arn = $1`, arn); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM robot_logs WHERE robot_arn = $1`, arn); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `DELETE FROM tags WHERE arn = $1`, arn)
		return err
	})
}

// RegisterRobot implements store.Robots.
func (s *Store) RegisterRobot(ctx context.Context, account, fleetARN, robotARN string, maxPerFleet int) error {
	return s.tx(ctx, func(tx wtx) error {
		n, err := count(ctx, tx, `SELECT COUNT(*) FROM fleets WHERE account = $1 AND arn = $2`, account, fleetARN)
		if err != nil {
			return err
		}
		if n == 0 {
			return store.ErrNotFound
		}
		var current string
		err = tx.QueryRowContext(ctx, `SELECT fleet_arn FROM robots WHERE account = $1 AND arn = $2`+s.dialect.forUpdate, account, robotARN).Scan(&current)
		if err != nil {
			return notFound(err)
		}
		switch current {
		case fleetARN:
			return nil
		case "":
		default:
			return store.ErrConflict
		}
		// The fleet's count, moved with the robot row locked (as in every
		// write): no COUNT(*) of the fleet's robots per registration.
		if err := incrCount(ctx, tx, fleetScope(fleetARN), maxPerFleet); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `UPDATE robots SET fleet_arn = $1, status = $2 WHERE arn = $3`, fleetARN, fleet.RobotRegistered, robotARN)
		return err
	})
}

// DeregisterRobot implements store.Robots.
func (s *Store) DeregisterRobot(ctx context.Context, account, fleetARN, robotARN string) error {
	return s.tx(ctx, func(tx wtx) error {
		n, err := count(ctx, tx, `SELECT COUNT(*) FROM fleets WHERE account = $1 AND arn = $2`, account, fleetARN)
		if err != nil {
			return err
		}
		if n == 0 {
			return store.ErrNotFound
		}
		var current string
		err = tx.QueryRowContext(ctx, `SELECT fleet_arn FROM robots WHERE account = $1 AND arn = $2`+s.dialect.forUpdate, account, robotARN).Scan(&current)
		if err != nil {
			return notFound(err)
		}
		if current != fleetARN {
			return store.ErrConflict
		}
		if _, err = tx.ExecContext(ctx, `UPDATE robots SET fleet_arn = '', status = $1 WHERE arn = $2`, fleet.RobotAvailable, robotARN); err != nil {
			return err
		}
		return decrCount(ctx, tx, fleetScope(fleetARN))
	})
}

// --- robot applications ---

// storedSource is a source as kept in the sources JSON column.
type storedSource struct {
	Bucket       string `json:"bucket"`
	Key          string `json:"key"`
	Architecture string `json:"architecture"`
	ETag         string `json:"etag,omitempty"`
	SHA256       string `json:"sha256,omitempty"`
	HeadSHA256   string `json:"headSha256,omitempty"`
	HeadSize     int64  `json:"headSize,omitempty"`
}

func encodeSources(src []fleet.Source) string {
	out := make([]storedSource, len(src))
	for i, s := range src {
		out[i] = storedSource{s.Bucket, s.Key, string(s.Architecture), s.ETag, s.SHA256, s.HeadSHA256, s.HeadSize}
	}
	b, _ := json.Marshal(out)
	return string(b)
}

func decodeSources(s string) ([]fleet.Source, error) {
	var in []storedSource
	if err := json.Unmarshal([]byte(s), &in); err != nil {
		return nil, fmt.Errorf("sqlstore: corrupt sources column: %w", err)
	}
	out := make([]fleet.Source, len(in))
	for i, s := range in {
		out[i] = fleet.Source{Bucket: s.Bucket, Key: s.Key, Architecture: fleet.Architecture(s.Architecture), ETag: s.ETag, SHA256: s.SHA256,
			HeadSHA256: s.HeadSHA256, HeadSize: s.HeadSize}
	}
	return out, nil
}

// CreateApplication implements store.Applications.
func (s *Store) CreateApplication(ctx context.Context, a fleet.Application, maxPerAccount int) error {
	return s.tx(ctx, func(tx wtx) error {
		if err := s.dialect.lockAccount(ctx, tx, a.Account); err != nil {
			return err
		}
		n, err := count(ctx, tx, `SELECT COUNT(*) FROM applications WHERE account = $1`, a.Account)
		if err != nil {
			return err
		}
		if n >= maxPerAccount {
			return store.ErrLimit
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO applications (arn, account, name, created_ms, suite_name, suite_version, revision_id, last_updated_ms, sources)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
			a.ARN, a.Account, a.Name, a.CreatedMs, a.SoftwareSuite.Name, a.SoftwareSuite.Version, a.RevisionID, a.LastUpdatedMs, encodeSources(a.Sources))
		if err = s.insertErr(err); err != nil {
			return err
		}
		return putTags(ctx, tx, a.ARN, a.Tags)
	})
}

// appRow is the union of $LATEST rows (seq 0) and version rows (seq = number).
const appRows = `SELECT arn, account, name, created_ms, 0 AS seq, suite_name, suite_version, revision_id, last_updated_ms, sources FROM applications
	UNION ALL
	SELECT a.arn, a.account, a.name, a.created_ms, v.version AS seq, v.suite_name, v.suite_version, v.revision_id, v.created_ms AS last_updated_ms, v.sources
	FROM application_versions v JOIN applications a ON a.arn = v.app_arn`

func scanApplication(row interface{ Scan(...any) error }) (fleet.Application, error) {
	var a fleet.Application
	var seq int
	var sources string
	if err := row.Scan(&a.ARN, &a.Account, &a.Name, &a.CreatedMs, &seq, &a.SoftwareSuite.Name, &a.SoftwareSuite.Version, &a.RevisionID, &a.LastUpdatedMs, &sources); err != nil {
		return a, err
	}
	a.Version = fleet.LatestVersion
	if seq > 0 {
		a.Version = strconv.Itoa(seq)
	}
	var err error
	a.Sources, err = decodeSources(sources)
	return a, err
}

func versionSeq(version string) (int, error) {
	if version == fleet.LatestVersion {
		return 0, nil
	}
	// Versions are numbered in an INTEGER column: one past its range
	// cannot exist (PostgreSQL would refuse to compare it, a 500).
	n, err := strconv.Atoi(version)
	if err != nil || n < 1 || n > math.MaxInt32 {
		return 0, store.ErrNotFound
	}
	return n, nil
}

// GetApplication implements store.Applications.
func (s *Store) GetApplication(ctx context.Context, account, arn, version string) (fleet.Application, error) {
	seq, err := versionSeq(version)
	if err != nil {
		return fleet.Application{}, err
	}
	a, err := scanApplication(s.readRow(ctx, `SELECT * FROM (`+appRows+`) x WHERE account = $1 AND arn = $2 AND seq = $3`, account, arn, seq))
	if err != nil {
		return fleet.Application{}, notFound(err)
	}
	a.Tags, err = s.ResourceTags(ctx, arn)
	return a, err
}

// UpdateApplication implements store.Applications.
func (s *Store) UpdateApplication(ctx context.Context, a fleet.Application, expectRevision string) error {
	return s.tx(ctx, func(tx wtx) error {
		var rev string
		err := tx.QueryRowContext(ctx, `SELECT revision_id FROM applications WHERE account = $1 AND arn = $2`, a.Account, a.ARN).Scan(&rev)
		if err != nil {
			return notFound(err)
		}
		if rev != expectRevision {
			return store.ErrConflict
		}
		_, err = tx.ExecContext(ctx, `UPDATE applications SET suite_name = $1, suite_version = $2, revision_id = $3, last_updated_ms = $4, sources = $5 WHERE arn = $6`,
			a.SoftwareSuite.Name, a.SoftwareSuite.Version, a.RevisionID, a.LastUpdatedMs, encodeSources(a.Sources), a.ARN)
		return err
	})
}

// CreateApplicationVersion implements store.Applications.
func (s *Store) CreateApplicationVersion(ctx context.Context, account, arn, expectRevision string, sources []fleet.Source, createdMs int64, maxVersions int) (fleet.Application, error) {
	var out fleet.Application
	err := s.tx(ctx, func(tx wtx) error {
		latest, err := scanApplication(tx.QueryRowContext(ctx, `SELECT * FROM (`+appRows+`) x WHERE account = $1 AND arn = $2 AND seq = 0`, account, arn))
		if err != nil {
			return notFound(err)
		}
		if latest.RevisionID != expectRevision {
			return store.ErrConflict
		}
		n, err := count(ctx, tx, `SELECT COUNT(*) FROM application_versions WHERE app_arn = $1`, arn)
		if err != nil {
			return err
		}
		if n >= maxVersions {
			return store.ErrLimit
		}
		var next int
		if err := tx.QueryRowContext(ctx, `SELECT next_version FROM applications WHERE arn = $1`+s.dialect.forUpdate, arn).Scan(&next); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE applications SET next_version = $1 WHERE arn = $2`, next+1, arn); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO application_versions (app_arn, version, suite_name, suite_version, revision_id, sources, created_ms) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
			arn, next, latest.SoftwareSuite.Name, latest.SoftwareSuite.Version, latest.RevisionID, encodeSources(sources), createdMs)
		if err != nil {
			return err
		}
		out = latest
		out.Version, out.Sources, out.LastUpdatedMs = strconv.Itoa(next), sources, createdMs
		return nil
	})
	if err != nil {
		return fleet.Application{}, err
	}
	out.Tags, err = s.ResourceTags(ctx, arn)
	return out, err
}

// ListApplications implements store.Applications.
func (s *Store) ListApplications(ctx context.Context, q fleet.ListQuery, allVersions bool) (fleet.Page[fleet.Application], error) {
	base := `SELECT * FROM (` + appRows + `) x WHERE account = $1`
	if !allVersions {
		base += ` AND seq = 0`
	}
	query, args, err := pageQuery(base, []any{q.Account}, q, map[string]string{"name": "name"}, "created_ms, arn, seq")
	if err != nil {
		return fleet.Page[fleet.Application]{}, err
	}
	items, err := queryAll(ctx, reader{s}, scanApplication, query, args...)
	return page(items, q.Limit, func(a fleet.Application) fleet.Cursor {
		seq, _ := versionSeq(a.Version)
		return fleet.Cursor{CreatedMs: a.CreatedMs, ARN: a.ARN, Seq: seq}
	}), err
}

// DeleteApplication implements store.Applications.
func (s *Store) DeleteApplication(ctx context.Context, account, arn string) error {
	return s.tx(ctx, func(tx wtx) error {
		if err := mustAffect(tx.ExecContext(ctx, `DELETE FROM applications WHERE account = $1 AND arn = $2`, account, arn)); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM application_versions WHERE app_arn = $1`, arn); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `DELETE FROM tags WHERE arn = $1`, arn)
		return err
	})
}

// DeleteApplicationVersion implements store.Applications.
func (s *Store) DeleteApplicationVersion(ctx context.Context, account, arn, version string) error {
	seq, err := versionSeq(version)
	if err != nil || seq == 0 {
		return store.ErrNotFound
	}
	return mustAffect(s.exec(ctx, `DELETE FROM application_versions WHERE version = $1 AND app_arn IN (SELECT arn FROM applications WHERE account = $2 AND arn = $3)`,
		seq, account, arn))
}

// --- tags ---

func putTags(ctx context.Context, q querier, arn string, tags fleet.Tags) error {
	for k, v := range tags {
		if _, err := q.ExecContext(ctx, `INSERT INTO tags (arn, key, value) VALUES ($1, $2, $3) ON CONFLICT (arn, key) DO UPDATE SET value = excluded.value`, arn, k, v); err != nil {
			return err
		}
	}
	return nil
}

// TagResource implements store.Tags.
func (s *Store) TagResource(ctx context.Context, arn string, tags fleet.Tags, maxTags int) error {
	return s.tx(ctx, func(tx wtx) error {
		if err := s.dialect.lockAccount(ctx, tx, arn); err != nil {
			return err
		}
		if err := putTags(ctx, tx, arn, tags); err != nil {
			return err
		}
		n, err := count(ctx, tx, `SELECT COUNT(*) FROM tags WHERE arn = $1`, arn)
		if err != nil {
			return err
		}
		if n > maxTags {
			return store.ErrLimit
		}
		return nil
	})
}

// UntagResource implements store.Tags.
func (s *Store) UntagResource(ctx context.Context, arn string, keys []string) error {
	return s.tx(ctx, func(tx wtx) error {
		for _, k := range keys {
			if _, err := tx.ExecContext(ctx, `DELETE FROM tags WHERE arn = $1 AND key = $2`, arn, k); err != nil {
				return err
			}
		}
		return nil
	})
}

// ResourceTags implements store.Tags.
func (s *Store) ResourceTags(ctx context.Context, arn string) (tags fleet.Tags, err error) {
	// Read on a deep stack: every hand-out of a deployment reads its
	// robot's tags (deep.go).
	s.deep.run(func() { tags, err = s.resourceTags(ctx, arn) })
	return tags, err
}

func (s *Store) resourceTags(ctx context.Context, arn string) (fleet.Tags, error) {
	rows, err := reader{s}.QueryContext(ctx, `SELECT key, value FROM tags WHERE arn = $1`, arn)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	tags := fleet.Tags{}
	for rows.Next() {
		var k, v string
		if err := rows.Scan(&k, &v); err != nil {
			return nil, err
		}
		tags[k] = v
	}
	return tags, rows.Err()
}

// --- credentials ---

// firstAccountKey is the setting that records the install's first
// account, the one granted every bucket.
const firstAccountKey = "bucket-grants.first-account"

// CreateCredential implements store.Credentials.
func (s *Store) CreateCredential(ctx context.Context, c store.Credential) error {
	return s.tx(ctx, func(tx wtx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO credentials (access_key_id, account, secret_sealed, created_ms) VALUES ($1, $2, $3, $4)`,
			c.AccessKeyID, c.Account, c.SecretSealed, c.CreatedMs)
		if err != nil {
			return s.insertErr(err)
		}
		// The primary key of settings settles which credential was first.
		res, err := tx.ExecContext(ctx, `INSERT INTO settings (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING`, firstAccountKey, c.Account)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			return err
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO bucket_grants (account, bucket, created_ms) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING`,
			c.Account, store.AllBuckets, c.CreatedMs)
		return err
	})
}

func scanCredential(row interface{ Scan(...any) error }) (store.Credential, error) {
	var c store.Credential
	err := row.Scan(&c.AccessKeyID, &c.Account, &c.SecretSealed, &c.CreatedMs, &c.RevokedMs)
	return c, err
}

// GetCredential implements store.Credentials.
func (s *Store) GetCredential(ctx context.Context, accessKeyID string) (store.Credential, error) {
	c, err := scanCredential(s.readRow(ctx, `SELECT access_key_id, account, secret_sealed, created_ms, revoked_ms FROM credentials WHERE access_key_id = $1`, accessKeyID))
	return c, notFound(err)
}

// ListCredentials implements store.Credentials.
func (s *Store) ListCredentials(ctx context.Context) ([]store.Credential, error) {
	return queryAll(ctx, reader{s}, scanCredential, `SELECT access_key_id, account, secret_sealed, created_ms, revoked_ms FROM credentials ORDER BY created_ms, access_key_id`)
}

// RevokeCredential implements store.Credentials.
func (s *Store) RevokeCredential(ctx context.Context, accessKeyID string, nowMs int64) error {
	return s.tx(ctx, func(tx wtx) error {
		if err := mustAffect(tx.ExecContext(ctx, `UPDATE credentials SET revoked_ms = $1 WHERE access_key_id = $2 AND revoked_ms = 0`, nowMs, accessKeyID)); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `DELETE FROM console_sessions WHERE access_key_id = $1`, accessKeyID)
		return err
	})
}
