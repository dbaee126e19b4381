-- Device groups (a settings scope between global and device) and the
-- generic requests queue: end-user support requests now, elevation and
-- access requests later. Times are Unix milliseconds (UTC).

CREATE TABLE device_groups (
  id         TEXT PRIMARY KEY,
  name       TEXT NOT NULL UNIQUE,
  created_at INTEGER NOT NULL
);

-- A device belongs to at most one group; no row means "no group" (only the
-- global settings apply). Kept out of the devices table so device code is untouched.
CREATE TABLE device_group_members (
  device_id TEXT PRIMARY KEY REFERENCES devices(id) ON DELETE CASCADE,
  group_id  TEXT NOT NULL REFERENCES device_groups(id) ON DELETE CASCADE
);
CREATE INDEX device_group_members_group ON device_group_members(group_id);

-- kind is support | elevation | access; payload is the kind-specific part
-- as JSON. status: pending, approved, denied, expired. session_id is the
-- support session an approval started.
CREATE TABLE requests (
  id            TEXT PRIMARY KEY,
  kind          TEXT NOT NULL,
  device_id     TEXT NOT NULL,
  requester     TEXT NOT NULL,
  contact_name  TEXT NOT NULL DEFAULT '',
  contact_email TEXT NOT NULL DEFAULT '',
  contact_phone TEXT NOT NULL DEFAULT '',
  reason        TEXT NOT NULL DEFAULT '',
  payload       TEXT NOT NULL DEFAULT '{}',
  status        TEXT NOT NULL,
  created_at    INTEGER NOT NULL,
  expires_at    INTEGER NOT NULL,
  decided_by    TEXT NOT NULL DEFAULT '',
  decided_at    INTEGER NOT NULL DEFAULT 0,
  comment       TEXT NOT NULL DEFAULT '',
  session_id    TEXT NOT NULL DEFAULT ''
);
CREATE INDEX requests_status ON requests(status, created_at);
