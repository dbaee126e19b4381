-- Events from agents' outboxes (break glass, elevation) that reached the
-- audit log, by (device, event id): an agent resends a batch whose
-- acknowledgement it missed, and the broker records each event once. The
-- row is written in the same transaction as the audit record.
CREATE TABLE agent_events (
  device_id TEXT NOT NULL,
  event_id  TEXT NOT NULL,
  audit_seq INTEGER NOT NULL,
  PRIMARY KEY (device_id, event_id)
);
