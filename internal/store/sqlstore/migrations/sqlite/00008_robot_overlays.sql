-- +goose Up
-- The colcon v2 overlays each robot's agent says it holds (SHA-256s, a
-- JSON array), so that the sync plan can tell what an update costs each
-- robot. Written only when a robot's set changes.
CREATE TABLE robot_overlays (
    robot_arn  TEXT PRIMARY KEY,
    overlays   TEXT NOT NULL,
    updated_ms BIGINT NOT NULL
);

-- +goose Down
DROP TABLE robot_overlays;
