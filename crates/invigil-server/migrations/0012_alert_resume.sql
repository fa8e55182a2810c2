-- A console resuming its alert stream (Last-Event-ID) reads the alerts
-- stored since the last it saw.
CREATE INDEX events_received ON events (received_ms);
