-- invigil server schema, version 13: spot-check schedules in the database,
-- so that every node behind a load balancer follows one schedule per
-- session (docs/deploy.md). Portable SQL.

CREATE TABLE spot_schedules (
    session_id   TEXT PRIMARY KEY REFERENCES sessions (id),
    interval_ms  BIGINT NOT NULL,           -- mean interval; 0: spot checks off
    due_ms       BIGINT NOT NULL,           -- the next request, not before
    outstanding  TEXT,                      -- the request awaiting its snapshot
    asked_ms     BIGINT,                    -- ... asked then
    missed       BIGINT NOT NULL DEFAULT 0  -- requests unanswered in a row
);
