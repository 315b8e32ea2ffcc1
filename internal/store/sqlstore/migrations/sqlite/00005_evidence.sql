-- +goose Up
-- The last lines of the output of a robot's failed step (script or
-- application), sent by its agent with the failed result.
CREATE TABLE robot_failure_output (
    job_arn   TEXT NOT NULL,
    robot_arn TEXT NOT NULL,
    output    TEXT NOT NULL,
    PRIMARY KEY (job_arn, robot_arn)
);

-- An operator's latest request for a robot's application log tail, and
-- the agent's answer (taken_ms 0 until it answers).
CREATE TABLE robot_logs (
    robot_arn    TEXT PRIMARY KEY,
    requested_ms BIGINT NOT NULL,
    max_bytes    INTEGER NOT NULL,
    taken_ms     BIGINT NOT NULL DEFAULT 0,
    content      TEXT NOT NULL DEFAULT '',
    error        TEXT NOT NULL DEFAULT ''
);

-- A NoResponse row whose agent reported that it gave up at its own
-- deadline (the robot deployment timeout): not offered to the robot again,
-- unlike the row of a robot that was unreachable and comes back.
ALTER TABLE job_robots ADD COLUMN agent_gave_up BOOLEAN NOT NULL DEFAULT FALSE;

-- +goose Down
ALTER TABLE job_robots DROP COLUMN agent_gave_up;
DROP TABLE robot_logs;
DROP TABLE robot_failure_output;
