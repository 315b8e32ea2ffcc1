-- +goose Up
-- A job row's revision: set by every write that changes what
-- DescribeDeploymentJob shows of it, so that a Describe reads only the rows
-- changed since the one before (JobRobotsSince). Rows written before this
-- migration are at 0, which every first read includes.
ALTER TABLE job_robots ADD COLUMN rev BIGINT NOT NULL DEFAULT 0;
CREATE INDEX job_robots_by_rev ON job_robots (job_arn, rev);

-- +goose Down
DROP INDEX job_robots_by_rev;
ALTER TABLE job_robots DROP COLUMN rev;
