-- +goose Up
-- Bounded retries (issue 16): how often a row's assignment was handed out
-- to the robot's agent, and when it may be handed out again after a
-- transient failure (backoff).
ALTER TABLE job_robots ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0;
ALTER TABLE job_robots ADD COLUMN retry_at_ms BIGINT NOT NULL DEFAULT 0;

-- Quarantine (issue 16): each robot's count of failures of one deployment
-- (job fingerprint: applications, versions, launch configs), across jobs;
-- quarantined_ms is set once the count reached the quarantine setting, and
-- Sync, continuous sync, drift and the plan leave the robot out of that
-- deployment until an operator releases it (the rows are deleted).
CREATE TABLE robot_failures (
    robot_arn      TEXT NOT NULL,
    fingerprint    TEXT NOT NULL,
    account        TEXT NOT NULL,
    failures       INTEGER NOT NULL,
    last_job_arn   TEXT NOT NULL,
    last_code      TEXT NOT NULL,
    last_reason    TEXT NOT NULL,
    quarantined_ms BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (robot_arn, fingerprint)
);
CREATE INDEX robot_failures_quarantined ON robot_failures (account, quarantined_ms);

-- +goose Down
DROP TABLE robot_failures;
ALTER TABLE job_robots DROP COLUMN retry_at_ms;
ALTER TABLE job_robots DROP COLUMN attempts;
