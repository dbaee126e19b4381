-- Temporary admin rights (elevation) as agents report them through their
-- outboxes. An elevation session is one grant on one device (a second code
-- for the same user extends it); a process row is one program that ran
-- elevated in it, keyed by the agent event that first reported it so a
-- re-delivered event changes nothing.
CREATE TABLE elevation_sessions (
  device_id  TEXT NOT NULL,
  session_id TEXT NOT NULL,
  username   TEXT NOT NULL,
  granted_at INTEGER NOT NULL,
  until      INTEGER NOT NULL,
  ended_at   INTEGER NOT NULL DEFAULT 0,
  end_reason TEXT NOT NULL DEFAULT '',
  -- self-approved grants (elevation.self_approve_groups) carry the user's reason
  self_approved INTEGER NOT NULL DEFAULT 0,
  note       TEXT NOT NULL DEFAULT '',
  PRIMARY KEY (device_id, session_id)
);

CREATE TABLE elevation_processes (
  device_id  TEXT NOT NULL,
  event_id   TEXT NOT NULL,
  session_id TEXT NOT NULL,
  pid        INTEGER NOT NULL,
  ppid       INTEGER NOT NULL,
  exe        TEXT NOT NULL,
  args       TEXT NOT NULL, -- JSON array, secrets redacted by the agent
  started_at INTEGER NOT NULL,
  seen_at    INTEGER NOT NULL,
  exited_at  INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (device_id, event_id)
);
CREATE INDEX elevation_processes_session ON elevation_processes(device_id, session_id, seen_at);

-- End users' requests for elevation (porthole-agent request-admin), one per
-- agent event; id is the broker's, so an agent cannot pick another
-- device's request.
CREATE TABLE elevation_requests (
  id           TEXT PRIMARY KEY,
  device_id    TEXT NOT NULL,
  event_id     TEXT NOT NULL,
  agent_ref    TEXT NOT NULL, -- the agent's request id, shown to the end user
  username     TEXT NOT NULL,
  note         TEXT NOT NULL,
  requested_at INTEGER NOT NULL,
  state        TEXT NOT NULL DEFAULT 'open', -- open | approved | denied
  decided_by   TEXT NOT NULL DEFAULT '',
  decided_at   INTEGER NOT NULL DEFAULT 0,
  minutes      INTEGER NOT NULL DEFAULT 0,
  UNIQUE (device_id, event_id)
);
CREATE INDEX elevation_requests_state ON elevation_requests(state, requested_at);
