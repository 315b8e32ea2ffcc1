-- +goose Up
ALTER TABLE robots ADD COLUMN deployed_fingerprint TEXT NOT NULL DEFAULT '';

CREATE TABLE deployment_jobs (
    arn            TEXT PRIMARY KEY,
    account        TEXT NOT NULL,
    fleet_arn      TEXT NOT NULL,
    fleet_name     TEXT NOT NULL,
    status         TEXT NOT NULL,
    failure_code   TEXT NOT NULL DEFAULT '',
    failure_reason TEXT NOT NULL DEFAULT '',
    spec           TEXT NOT NULL,
    fingerprint    TEXT NOT NULL,
    targets        INTEGER NOT NULL DEFAULT 0,
    created_ms     BIGINT NOT NULL,
    finished_ms    BIGINT NOT NULL DEFAULT 0,
    operation      TEXT NOT NULL,
    client_token   TEXT NOT NULL,
    params_hash    TEXT NOT NULL,
    lease_owner    TEXT NOT NULL DEFAULT '',
    lease_until_ms BIGINT NOT NULL DEFAULT 0,
    UNIQUE (account, operation, client_token)
);
-- At most one active job per fleet, settled by the database.
CREATE UNIQUE INDEX deployment_jobs_one_active ON deployment_jobs (fleet_arn)
    WHERE status IN ('Pending', 'Preparing', 'InProgress');
CREATE INDEX deployment_jobs_by_account ON deployment_jobs (account, created_ms, arn);
CREATE INDEX deployment_jobs_by_status ON deployment_jobs (status);

CREATE TABLE job_robots (
    job_arn        TEXT NOT NULL,
    robot_arn      TEXT NOT NULL,
    seq            INTEGER NOT NULL,
    status         TEXT NOT NULL,
    prior_status   TEXT NOT NULL,
    step           TEXT NOT NULL DEFAULT '',
    percent_done   DOUBLE PRECISION,
    eta_seconds    BIGINT,
    started_ms     BIGINT NOT NULL DEFAULT 0,
    finished_ms    BIGINT NOT NULL DEFAULT 0,
    failure_code   TEXT NOT NULL DEFAULT '',
    failure_reason TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (job_arn, robot_arn)
);
CREATE INDEX job_robots_by_status ON job_robots (job_arn, status, seq);
CREATE INDEX job_robots_by_robot ON job_robots (robot_arn);

-- +goose Down
DROP TABLE job_robots;
DROP TABLE deployment_jobs;
ALTER TABLE robots DROP COLUMN deployed_fingerprint;
