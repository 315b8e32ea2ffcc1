-- +goose Up
-- A job row's revision: set by every write that changes what
-- DescribeDeploymentJob shows of it, so that a Describe reads only the rows
-- changed since the one before (JobRobotsSince). Rows written before this
-- migration are at 0, which every first read includes.
ALTER TABLE job_robots ADD COLUMN rev BIGINT NOT NULL DEFAULT 0;
CREATE INDEX job_robots_by_rev ON job_robots (job_arn, rev);

-- The revision is the writer's transaction id. fleetsyncd sets it in its
-- own statements; the trigger sets it for every writer, including a replica
-- of an older version during a rolling upgrade, whose writes would
-- otherwise never reach a newer replica's Describe.
-- +goose StatementBegin
CREATE FUNCTION job_robots_rev() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	NEW.rev := pg_current_xact_id()::text::bigint;
	RETURN NEW;
END
$$;
-- +goose StatementEnd
CREATE TRIGGER job_robots_rev BEFORE INSERT OR UPDATE OF status, step, percent_done, eta_seconds,
	started_ms, finished_ms, failure_code, failure_reason ON job_robots
	FOR EACH ROW EXECUTE FUNCTION job_robots_rev();

-- +goose Down
DROP TRIGGER job_robots_rev ON job_robots;
DROP FUNCTION job_robots_rev();
DROP INDEX job_robots_by_rev;
ALTER TABLE job_robots DROP COLUMN rev;
