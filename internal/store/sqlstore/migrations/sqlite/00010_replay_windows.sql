-- +goose Up
-- Each agent's replay window (agentapi.ReplayWindow: the dates and nonce
-- hashes of its last 64 signed requests and a floor), one row per agent,
-- replacing a row per request kept ten minutes (agent_nonces), which let
-- one key grow the table without bound.
CREATE TABLE agent_replay (
    agent_id  TEXT PRIMARY KEY,
    win       BLOB,
    newest_ms BIGINT NOT NULL
);
-- No index on newest_ms: every signed request rewrites it, and on
-- PostgreSQL a rewrite of an indexed column is a new index entry and a dead
-- row left for VACUUM, while one of unindexed columns is a HOT update,
-- pruned within its page (the fillfactor leaves the room). The sweep, every
-- ten minutes, reads the table: one row per agent.
DROP TABLE agent_nonces;

-- +goose Down
CREATE TABLE agent_nonces (
    nonce   TEXT PRIMARY KEY,
    seen_ms BIGINT NOT NULL
);
CREATE INDEX agent_nonces_by_time ON agent_nonces (seen_ms);
DROP TABLE agent_replay;
