-- invigil server schema, version 3: deleting sessions. Portable SQL.

-- One row per session deleted, by the retention period or an operator: what
-- went and why, so a missing session can be accounted for. Nothing about the
-- candidate is kept (no exam or candidate id), only the random session id.
CREATE TABLE purges (
    id          TEXT PRIMARY KEY,
    session_id  TEXT NOT NULL,
    at_ms       BIGINT NOT NULL,
    reason      TEXT NOT NULL,            -- retention | operator
    events      BIGINT NOT NULL,
    media       BIGINT NOT NULL,          -- media items (clips, photos)
    bytes       BIGINT NOT NULL           -- their total size
);
CREATE INDEX purges_by_session ON purges (session_id);
