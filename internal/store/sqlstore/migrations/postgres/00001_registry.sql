-- +goose Up
CREATE TABLE credentials (
    access_key_id TEXT PRIMARY KEY,
    account       TEXT NOT NULL,
    secret_sealed BYTEA NOT NULL,
    created_ms    BIGINT NOT NULL,
    revoked_ms    BIGINT NOT NULL DEFAULT 0
);

CREATE TABLE fleets (
    arn             TEXT PRIMARY KEY,
    account         TEXT NOT NULL,
    name            TEXT NOT NULL,
    created_ms      BIGINT NOT NULL,
    last_job_arn    TEXT NOT NULL DEFAULT '',
    last_job_status TEXT NOT NULL DEFAULT '',
    last_job_ms     BIGINT NOT NULL DEFAULT 0,
    UNIQUE (account, name)
);
CREATE INDEX fleets_by_account ON fleets (account, created_ms, arn);

CREATE TABLE robots (
    arn          TEXT PRIMARY KEY,
    account      TEXT NOT NULL,
    name         TEXT NOT NULL,
    architecture TEXT NOT NULL,
    agent_id     TEXT NOT NULL UNIQUE,
    fleet_arn    TEXT NOT NULL DEFAULT '',
    status       TEXT NOT NULL,
    created_ms   BIGINT NOT NULL,
    last_job_arn TEXT NOT NULL DEFAULT '',
    last_job_ms  BIGINT NOT NULL DEFAULT 0,
    UNIQUE (account, name)
);
CREATE INDEX robots_by_account ON robots (account, created_ms, arn);
CREATE INDEX robots_by_fleet ON robots (fleet_arn, created_ms, arn);

CREATE TABLE applications (
    arn             TEXT PRIMARY KEY,
    account         TEXT NOT NULL,
    name            TEXT NOT NULL,
    created_ms      BIGINT NOT NULL,
    suite_name      TEXT NOT NULL,
    suite_version   TEXT NOT NULL DEFAULT '',
    revision_id     TEXT NOT NULL,
    last_updated_ms BIGINT NOT NULL,
    sources         TEXT NOT NULL,
    next_version    INTEGER NOT NULL DEFAULT 1,
    UNIQUE (account, name)
);
CREATE INDEX applications_by_account ON applications (account, created_ms, arn);

CREATE TABLE application_versions (
    app_arn       TEXT NOT NULL,
    version       INTEGER NOT NULL,
    suite_name    TEXT NOT NULL,
    suite_version TEXT NOT NULL DEFAULT '',
    revision_id   TEXT NOT NULL,
    sources       TEXT NOT NULL,
    created_ms    BIGINT NOT NULL,
    PRIMARY KEY (app_arn, version)
);

CREATE TABLE tags (
    arn   TEXT NOT NULL,
    key   TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (arn, key)
);

-- +goose Down
DROP TABLE tags;
DROP TABLE application_versions;
DROP TABLE applications;
DROP TABLE robots;
DROP TABLE fleets;
DROP TABLE credentials;
