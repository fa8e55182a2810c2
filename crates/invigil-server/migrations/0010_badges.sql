-- invigil server schema, version 10: verifiable badges (docs/badges.md).
-- Portable SQL. A badge's revocation and suspension bits are not stored
-- apart: the status lists are made from `badges.status` when fetched.

-- The exam's achievement (JSON: name, description, criteria); NULL: the
-- exam gives no badge. The badge image, a PNG as base64 (NULL: the
-- server's plain medal).
ALTER TABLE exams ADD COLUMN achievement TEXT;
ALTER TABLE exams ADD COLUMN achievement_image TEXT;

-- Status lists: 131,072 entries each, signed with the key that was
-- current when the list was opened (a did:key issuer's lists must be
-- signed by the key that signed their badges).
CREATE TABLE badge_lists (
    id          BIGINT PRIMARY KEY,
    key_id      TEXT NOT NULL,
    next_index  BIGINT NOT NULL,
    created_ms  BIGINT NOT NULL
);

CREATE TABLE badges (
    id            TEXT PRIMARY KEY,          -- the uuid of urn:uuid:...
    exam_id       TEXT NOT NULL REFERENCES exams (id),
    candidate_id  TEXT NOT NULL,
    session_id    TEXT NOT NULL UNIQUE,      -- one badge per session
    list_id       BIGINT NOT NULL REFERENCES badge_lists (id),
    list_index    BIGINT NOT NULL,
    key_id        TEXT NOT NULL,             -- the key that signed it
    status        TEXT NOT NULL,             -- valid | suspended | revoked
    status_reason TEXT,
    status_ms     BIGINT,
    status_actor  TEXT,
    issued_ms     BIGINT NOT NULL,
    issued_by     TEXT NOT NULL,             -- the admin's name
    valid_until_ms BIGINT,
    credential    TEXT NOT NULL,             -- the signed credential (JSON)
    UNIQUE (list_id, list_index)
);
CREATE INDEX badges_by_exam ON badges (exam_id, issued_ms);
CREATE INDEX badges_by_list ON badges (list_id, status);
