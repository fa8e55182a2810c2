-- invigil server schema, version 6: exams, enrolments and launch codes.
-- Portable SQL. Times are milliseconds since the Unix epoch.

CREATE TABLE exams (
    id          TEXT PRIMARY KEY,
    title       TEXT NOT NULL,
    opens_ms    BIGINT NOT NULL,          -- launch codes work from ...
    closes_ms   BIGINT NOT NULL,          -- ... until
    policy      TEXT NOT NULL,            -- JSON object: the policy keys set
    checkin     TEXT NOT NULL,            -- JSON: CheckinRequirements
    aids        TEXT NOT NULL,            -- JSON: Aids
    created_by  TEXT NOT NULL,
    created_ms  BIGINT NOT NULL,
    updated_ms  BIGINT NOT NULL
);

CREATE TABLE enrolments (
    exam_id      TEXT NOT NULL REFERENCES exams (id),
    candidate_id TEXT NOT NULL,
    name         TEXT NOT NULL,
    email        TEXT NOT NULL,
    overrides    TEXT NOT NULL,           -- JSON object: accommodations
    code_hash    TEXT NOT NULL UNIQUE,    -- sha256 of the canonical launch code
    created_ms   BIGINT NOT NULL,
    session_id   TEXT,                    -- set when the code is redeemed
    token_hash   TEXT,                    -- the redeeming client's token
    redeemed_ms  BIGINT,
    PRIMARY KEY (exam_id, candidate_id)
);

-- Who changed what about an exam or an enrolment, and why.
CREATE TABLE exam_audit (
    id           TEXT PRIMARY KEY,
    exam_id      TEXT NOT NULL,
    candidate_id TEXT,
    at_ms        BIGINT NOT NULL,
    actor        TEXT NOT NULL,           -- proctor:<name> (an admin)
    action       TEXT NOT NULL,           -- created | updated | enrolled | codes_issued | accommodations
    detail       TEXT NOT NULL            -- JSON object
);
CREATE INDEX exam_audit_by_exam ON exam_audit (exam_id, at_ms);
