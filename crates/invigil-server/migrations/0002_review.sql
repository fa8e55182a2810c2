-- invigil server schema, version 2: proctors' review. Portable SQL.

-- Review priority (0-100, see docs/console.md), violations no proctor has
-- decided on yet, the proctor's verdict on the whole session, and when the
-- candidate's client last reached the server (any request with its token).
ALTER TABLE sessions ADD COLUMN priority DOUBLE PRECISION NOT NULL DEFAULT 0;
ALTER TABLE sessions ADD COLUMN open_alerts BIGINT NOT NULL DEFAULT 0;
ALTER TABLE sessions ADD COLUMN verdict TEXT;
ALTER TABLE sessions ADD COLUMN last_seen_ms BIGINT;

-- Every decision a proctor takes, never updated or deleted: the audit
-- trail. On an alert (event_seq set): acknowledge | dismiss | confirm; the
-- latest decision on an event is the one in force. On the session
-- (event_seq NULL): end | invalidate.
CREATE TABLE decisions (
    id          TEXT PRIMARY KEY,
    session_id  TEXT NOT NULL REFERENCES sessions (id),
    event_seq   BIGINT,
    action      TEXT NOT NULL,
    note        TEXT NOT NULL,
    proctor     TEXT NOT NULL,
    at_ms       BIGINT NOT NULL
);
CREATE INDEX decisions_by_session ON decisions (session_id, at_ms);
