package sqlstore

import (
	"context"

	"github.com/fleetsync/fleetsync/internal/store"
)

// --- console sessions ---

// CreateSession implements store.Sessions.
func (s *Store) CreateSession(ctx context.Context, ss store.Session) error {
	_, err := s.exec(ctx, `INSERT INTO console_sessions (id, access_key_id, account, created_ms, expires_ms) VALUES ($1, $2, $3, $4, $5)`,
		ss.ID, ss.AccessKeyID, ss.Account, ss.CreatedMs, ss.ExpiresMs)
	return s.insertErr(err)
}

// GetSession implements store.Sessions. It reads the primary (never a
// read-only replica pool) so a sign-out is seen by the next request.
func (s *Store) GetSession(ctx context.Context, id string) (store.Session, error) {
	var ss store.Session
	err := s.db.QueryRowContext(ctx, `SELECT id, access_key_id, account, created_ms, expires_ms FROM console_sessions WHERE id = $1`, id).
		Scan(&ss.ID, &ss.AccessKeyID, &ss.Account, &ss.CreatedMs, &ss.ExpiresMs)
	return ss, notFound(err)
}

// DeleteSession implements store.Sessions.
func (s *Store) DeleteSession(ctx context.Context, id string) error {
	_, err := s.exec(ctx, `DELETE FROM console_sessions WHERE id = $1`, id)
	return err
}

// DeleteSessionsExpiredBefore implements store.Sessions.
func (s *Store) DeleteSessionsExpiredBefore(ctx context.Context, ms int64) (int, error) {
	res, err := s.exec(ctx, `DELETE FROM console_sessions WHERE expires_ms < $1`, ms)
	if err != nil {
		return 0, err
	}
	n, err := res.RowsAffected()
	return int(n), err
}

// --- bucket grants ---

// GrantBucket implements store.Buckets.
func (s *Store) GrantBucket(ctx context.Context, g store.BucketGrant) error {
	_, err := s.exec(ctx, `INSERT INTO bucket_grants (account, bucket, created_ms) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING`,
		g.Account, g.Bucket, g.CreatedMs)
	return err
}

// RevokeBucket implements store.Buckets.
func (s *Store) RevokeBucket(ctx context.Context, account, bucket string) error {
	return mustAffect(s.exec(ctx, `DELETE FROM bucket_grants WHERE account = $1 AND bucket = $2`, account, bucket))
}

// ListBucketGrants implements store.Buckets.
func (s *Store) ListBucketGrants(ctx context.Context, account string) ([]store.BucketGrant, error) {
	return queryAll(ctx, reader{s}, func(row interface{ Scan(...any) error }) (store.BucketGrant, error) {
		var g store.BucketGrant
		err := row.Scan(&g.Account, &g.Bucket, &g.CreatedMs)
		return g, err
	}, `SELECT account, bucket, created_ms FROM bucket_grants WHERE $1 = '' OR account = $1 ORDER BY account, bucket`, account)
}

// BucketGranted implements store.Buckets.
func (s *Store) BucketGranted(ctx context.Context, account, bucket string) (bool, error) {
	var n int
	err := s.readRow(ctx, `SELECT COUNT(*) FROM bucket_grants WHERE account = $1 AND bucket IN ($2, $3)`, account, bucket, store.AllBuckets).Scan(&n)
	return n > 0, err
}
