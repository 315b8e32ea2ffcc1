-- +goose Up
-- An operator's pause of a running job (issue 16): paused_ms is when the
-- current pause began (0 while the job runs), paused_total_ms the time of
-- earlier pauses, so that a pause counts against no timeout. Columns of the
-- job row: the engine's transactions already lock it, so a pause and a plan
-- step are ordered by the database, on one replica or several.
ALTER TABLE deployment_jobs ADD COLUMN paused_ms BIGINT NOT NULL DEFAULT 0;
ALTER TABLE deployment_jobs ADD COLUMN paused_total_ms BIGINT NOT NULL DEFAULT 0;

-- +goose Down
ALTER TABLE deployment_jobs DROP COLUMN paused_total_ms;
ALTER TABLE deployment_jobs DROP COLUMN paused_ms;
