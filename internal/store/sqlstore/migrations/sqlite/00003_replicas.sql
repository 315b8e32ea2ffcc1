-- +goose Up
-- When each robot's agent was last heard, by any replica (engine liveness).
-- A table of its own: replicas flush it in batches, and those writes must
-- never take the robot row locks the engine's transactions take.
CREATE TABLE agent_presence (
    robot_arn TEXT PRIMARY KEY,
    seen_ms   BIGINT NOT NULL
);

-- Agent request nonces seen recently, shared by every replica (replay
-- protection); the primary key settles races, a sweep forgets old ones.
CREATE TABLE agent_nonces (
    nonce   TEXT PRIMARY KEY,
    seen_ms BIGINT NOT NULL
);
CREATE INDEX agent_nonces_by_time ON agent_nonces (seen_ms);

-- Values every process on the database must agree on, such as a check of
-- the master key (replicas must share it).
CREATE TABLE settings (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

-- +goose Down
DROP TABLE settings;
DROP TABLE agent_nonces;
DROP TABLE agent_presence;
