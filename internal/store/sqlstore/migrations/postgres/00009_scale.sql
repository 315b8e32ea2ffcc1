-- +goose Up
-- Robots per account ('account:<id>') and per fleet ('fleet:<arn>'), kept
-- in the same transaction by every write that changes them, so that quota
-- checks read one row instead of counting robots (CreateRobot and
-- RegisterRobot were quadratic in the account's size).
CREATE TABLE robot_counts (
    scope TEXT PRIMARY KEY,
    n     BIGINT NOT NULL
);
INSERT INTO robot_counts (scope, n) SELECT 'account:' || account, COUNT(*) FROM robots GROUP BY account;
INSERT INTO robot_counts (scope, n) SELECT 'fleet:' || fleet_arn, COUNT(*) FROM robots WHERE fleet_arn <> '' GROUP BY fleet_arn;

-- A job's rows in start order (DescribeDeploymentJob, the console's job
-- page) read from an index instead of sorted per request.
CREATE INDEX job_robots_by_seq ON job_robots (job_arn, seq);

-- +goose Down
DROP INDEX job_robots_by_seq;
DROP TABLE robot_counts;
