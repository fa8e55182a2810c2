-- invigil server schema, version 8: signed batch receipts (docs/receipts.md).
-- Portable SQL.

-- Every receipt the server signed: it held events 0..next_seq-1 of the
-- session, the last with hash `head`.
CREATE TABLE receipts (
    session_id  TEXT NOT NULL REFERENCES sessions (id),
    next_seq    BIGINT NOT NULL,
    head        TEXT NOT NULL,
    key_id      TEXT NOT NULL,
    signature   TEXT NOT NULL,
    issued_ms   BIGINT NOT NULL,
    PRIMARY KEY (session_id, next_seq)
);
