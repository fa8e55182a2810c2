-- invigil server schema, version 4: removing media bodies safely across
-- processes (a server and `invigil sessions delete`, or several servers on
-- one database). Portable SQL.

-- Bodies being removed from the media store right now. An upload of the
-- same body waits until the removal is over, then stores it again.
CREATE TABLE media_removals (
    sha256  TEXT PRIMARY KEY,
    at_ms   BIGINT NOT NULL
);

-- One row that both a media row's insertion and a removal's "is the body
-- still listed?" check update first: the update's row lock puts the two in
-- one order on every engine.
CREATE TABLE media_guard (
    id      INTEGER PRIMARY KEY,
    at_ms   BIGINT NOT NULL
);
INSERT INTO media_guard (id, at_ms) VALUES (1, 0);
