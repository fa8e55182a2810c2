-- invigil server schema, version 7: spot checks (docs/spot-checks.md).
-- Portable SQL.

-- Every snapshot the server asked a client for, and what it found.
CREATE TABLE spot_checks (
    session_id    TEXT NOT NULL REFERENCES sessions (id),
    id            TEXT NOT NULL,           -- the request id sent to the client
    requested_ms  BIGINT NOT NULL,
    answered_ms   BIGINT,                  -- its snapshot_taken event arrived
    t_ms          BIGINT,                  -- media time of the frame
    sha256        TEXT,                    -- the snapshot (media kind snapshot)
    client_faces  BIGINT,                  -- faces the client counted on it
    server_faces  BIGINT,                  -- faces the server found on it
    server_any    BIGINT,                  -- ... down to the benefit of the doubt
    fingerprint   TEXT,                    -- luma grid, to spot a repeat
    verdict       TEXT,                    -- agree, no_face, extra_faces, repeated,
                                           -- events_claim_presence, unreadable, missing
    PRIMARY KEY (session_id, id)
);
CREATE INDEX spot_checks_sha ON spot_checks (session_id, sha256);

-- The latest snapshot: the live card's thumbnail.
ALTER TABLE sessions ADD COLUMN last_snapshot TEXT;
