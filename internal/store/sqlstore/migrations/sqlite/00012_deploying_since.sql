-- +goose Up
-- A job's Deploying rows by start time: the engine reads only those old
-- enough to time out, not every deploying row on every pass.
CREATE INDEX job_robots_by_started ON job_robots (job_arn, status, started_ms);

-- +goose Down
DROP INDEX job_robots_by_started;
