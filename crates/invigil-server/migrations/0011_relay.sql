-- Nodes on one PostgreSQL catch up on the alerts of sessions with recent
-- events (relay.rs) after a listener reconnects, and every 30 s.
CREATE INDEX sessions_last_event ON sessions (last_event_ms);
