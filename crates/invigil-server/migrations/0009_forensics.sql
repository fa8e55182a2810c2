-- invigil server schema, version 9: data forensics on exam results
-- (docs/forensics.md). Portable SQL. Runs and flags are kept: a decision
-- cites flags by id, and a later upload adds a run rather than replacing.

-- Each upload of an exam's results and its analysis.
CREATE TABLE forensics_runs (
    id            TEXT PRIMARY KEY,
    exam_id       TEXT NOT NULL REFERENCES exams (id),
    at_ms         BIGINT NOT NULL,
    actor         TEXT NOT NULL,          -- the admin's name
    candidates    BIGINT NOT NULL,
    items         BIGINT NOT NULL,
    invalidations BIGINT NOT NULL,
    budget        DOUBLE PRECISION NOT NULL,
    review_level  DOUBLE PRECISION NOT NULL,
    notes         TEXT NOT NULL,          -- JSON array of strings
    report        TEXT NOT NULL           -- JSON: the whole analysis
);
CREATE INDEX forensics_runs_by_exam ON forensics_runs (exam_id, at_ms);

-- One row per flag and candidate: a pair's flag is two rows.
CREATE TABLE forensics_flags (
    id                  TEXT PRIMARY KEY,
    run_id              TEXT NOT NULL REFERENCES forensics_runs (id),
    exam_id             TEXT NOT NULL,
    candidate_id        TEXT NOT NULL,
    session_id          TEXT,
    partner_id          TEXT,
    partner_session_id  TEXT,
    idx                 TEXT NOT NULL,
    statistic           DOUBLE PRECISION NOT NULL,
    p                   DOUBLE PRECISION NOT NULL,
    invalidation_level  DOUBLE PRECISION,
    invalidation        BIGINT NOT NULL,  -- 0 or 1
    source              TEXT NOT NULL,
    detail              TEXT NOT NULL,
    corroboration       TEXT,
    ord                 BIGINT NOT NULL   -- the report's order
);
CREATE INDEX forensics_flags_by_run ON forensics_flags (run_id, ord);
CREATE INDEX forensics_flags_by_session ON forensics_flags (session_id);

-- Forensic flags an invalidation decision cites (JSON array of flag ids).
ALTER TABLE decisions ADD COLUMN cites TEXT NOT NULL DEFAULT '[]';
