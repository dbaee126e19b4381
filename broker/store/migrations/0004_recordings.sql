-- Session recordings: one row per recording (its id is the session's),
-- written when it starts and updated when it ends; the files themselves
-- live in the recordings directory and their digests in the audit log.
CREATE TABLE recordings (
  id           TEXT PRIMARY KEY,
  device_id    TEXT NOT NULL,
  hostname     TEXT NOT NULL,
  requester    TEXT NOT NULL,
  state        TEXT NOT NULL,
  started_at   INTEGER NOT NULL,
  ended_at     INTEGER NOT NULL DEFAULT 0,
  duration_ms  INTEGER NOT NULL DEFAULT 0,
  size         INTEGER NOT NULL DEFAULT 0,
  files        INTEGER NOT NULL DEFAULT 0,
  error        TEXT NOT NULL DEFAULT ''
);
CREATE INDEX recordings_started ON recordings(started_at);
CREATE INDEX recordings_device ON recordings(device_id, started_at);
