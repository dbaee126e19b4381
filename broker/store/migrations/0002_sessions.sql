-- Remote-support sessions: one row per session, updated at each transition.
CREATE TABLE sessions (
  id           TEXT PRIMARY KEY,
  device_id    TEXT NOT NULL,
  hostname     TEXT NOT NULL,
  requester    TEXT NOT NULL,
  state        TEXT NOT NULL,
  view_only    INTEGER NOT NULL,
  display      INTEGER NOT NULL,
  consent      TEXT NOT NULL DEFAULT '',
  started_at   INTEGER NOT NULL,
  ended_at     INTEGER NOT NULL DEFAULT 0,
  end_reason   TEXT NOT NULL DEFAULT '',
  details      TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX sessions_device ON sessions(device_id, started_at);
