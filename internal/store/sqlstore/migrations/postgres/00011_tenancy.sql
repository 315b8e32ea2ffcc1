-- +goose Up
-- Console sign-ins, kept here so that a sign-out (or a revoked key) ends a
-- session on every replica at once. id is the SHA-256 of the cookie's token.
CREATE TABLE console_sessions (
    id            TEXT PRIMARY KEY,
    access_key_id TEXT NOT NULL,
    account       TEXT NOT NULL,
    created_ms    BIGINT NOT NULL,
    expires_ms    BIGINT NOT NULL
);
CREATE INDEX console_sessions_by_key ON console_sessions (access_key_id);
CREATE INDEX console_sessions_by_expiry ON console_sessions (expires_ms);

-- The buckets each account may name; bucket '*' is every bucket.
CREATE TABLE bucket_grants (
    account    TEXT NOT NULL,
    bucket     TEXT NOT NULL,
    created_ms BIGINT NOT NULL,
    PRIMARY KEY (account, bucket)
);

-- Upgrade of an install that has credentials already. On one account, that
-- account keeps every bucket. On several, each account keeps exactly the
-- buckets its applications, versions and deployment jobs name now: nothing
-- it did not use before becomes reachable, and `fleetsyncd buckets list`
-- shows what to review.
INSERT INTO bucket_grants (account, bucket, created_ms)
SELECT MIN(account), '*', 0 FROM (SELECT account FROM credentials UNION SELECT account FROM applications) accounts
HAVING COUNT(DISTINCT account) = 1;
INSERT INTO bucket_grants (account, bucket, created_ms)
SELECT DISTINCT account, bucket, 0 FROM (
    SELECT a.account, s ->> 'bucket' AS bucket FROM applications a, jsonb_array_elements(a.sources::jsonb) s
    UNION SELECT a.account, s ->> 'bucket' FROM application_versions v JOIN applications a ON a.arn = v.app_arn, jsonb_array_elements(v.sources::jsonb) s
    UNION SELECT account, spec::jsonb -> 'config' -> 'downloadConditionFile' ->> 'bucket' FROM deployment_jobs
) used WHERE bucket IS NOT NULL AND bucket <> ''
  AND (SELECT COUNT(DISTINCT account) FROM (SELECT account FROM credentials UNION SELECT account FROM applications) accounts) > 1;
-- The first account rule (CreateCredential grants every bucket to the first
-- account of a fresh install) is spent on an install that had one already.
INSERT INTO settings (key, value)
SELECT 'bucket-grants.first-account', MIN(account) FROM credentials HAVING COUNT(*) > 0
ON CONFLICT (key) DO NOTHING;

-- Agent ids are unique per account, no longer across accounts, so that no
-- account can block or detect another's robot.
ALTER TABLE robots DROP CONSTRAINT robots_agent_id_key;
CREATE UNIQUE INDEX robots_agent_per_account ON robots (account, agent_id);
CREATE INDEX robots_by_agent ON robots (agent_id);

-- +goose Down
DROP INDEX robots_by_agent;
DROP INDEX robots_agent_per_account;
ALTER TABLE robots ADD CONSTRAINT robots_agent_id_key UNIQUE (agent_id);
DELETE FROM settings WHERE key = 'bucket-grants.first-account';
DROP TABLE bucket_grants;
DROP TABLE console_sessions;
