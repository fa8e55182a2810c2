-- invigil server schema, version 1. Portable SQL: runs unchanged on SQLite
-- and PostgreSQL. Times are milliseconds since the Unix epoch (server clock).

CREATE TABLE sessions (
    id            TEXT PRIMARY KEY,
    exam_id       TEXT NOT NULL,
    candidate_id  TEXT NOT NULL,
    policy        TEXT NOT NULL,          -- JSON object, as given at creation
    token_hash    TEXT NOT NULL UNIQUE,   -- sha256 of the candidate token
    state         TEXT NOT NULL,          -- live | ended
    created_ms    BIGINT NOT NULL,
    ended_ms      BIGINT,
    end_reason    TEXT,
    next_seq      BIGINT NOT NULL,        -- events held: seq 0 .. next_seq-1
    head          TEXT NOT NULL,          -- hash of the last event (chain origin when none)
    last_event_ms BIGINT,                 -- when the last new event arrived
    violations    BIGINT NOT NULL,
    warnings      BIGINT NOT NULL
);
CREATE INDEX sessions_by_created ON sessions (created_ms);

CREATE TABLE events (
    session_id  TEXT NOT NULL REFERENCES sessions (id),
    seq         BIGINT NOT NULL,
    t_ms        BIGINT NOT NULL,
    kind        TEXT NOT NULL,
    severity    TEXT NOT NULL,
    body        TEXT NOT NULL,            -- canonical JSON of the event
    hash        TEXT NOT NULL,
    received_ms BIGINT NOT NULL,
    PRIMARY KEY (session_id, seq)
);

CREATE TABLE media (
    session_id   TEXT NOT NULL REFERENCES sessions (id),
    sha256       TEXT NOT NULL,
    name         TEXT NOT NULL,
    kind         TEXT NOT NULL,           -- clip | face_photo | id_photo | room_scan | other
    content_type TEXT NOT NULL,
    bytes        BIGINT NOT NULL,
    received_ms  BIGINT NOT NULL,
    PRIMARY KEY (session_id, sha256)
);

-- Things the server noticed about a session that are not candidate events:
-- rejected batches (broken chain), session ended by a proctor, ...
CREATE TABLE notes (
    id          TEXT PRIMARY KEY,
    session_id  TEXT NOT NULL REFERENCES sessions (id),
    at_ms       BIGINT NOT NULL,
    kind        TEXT NOT NULL,
    actor       TEXT NOT NULL,            -- candidate | server | proctor:<name>
    detail      TEXT NOT NULL             -- JSON object
);
CREATE INDEX notes_by_session ON notes (session_id, at_ms);

CREATE TABLE proctors (
    username      TEXT PRIMARY KEY,
    password_hash TEXT NOT NULL,          -- argon2id PHC string
    created_ms    BIGINT NOT NULL
);

CREATE TABLE proctor_tokens (
    token_hash  TEXT PRIMARY KEY,         -- sha256 of the bearer token
    username    TEXT NOT NULL REFERENCES proctors (username),
    created_ms  BIGINT NOT NULL,
    expires_ms  BIGINT NOT NULL
);
