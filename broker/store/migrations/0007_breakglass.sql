-- Break-glass grants: temporary local administrator accounts asked of an
-- agent. The password is never stored: only who asked, the generated
-- username, the deadlines and where the account is in its life (pending,
-- active, used, expired, removed, failed), kept current by the agent's
-- outbox events.
CREATE TABLE breakglass_grants (
  id         TEXT PRIMARY KEY,
  device_id  TEXT NOT NULL,
  requester  TEXT NOT NULL,
  username   TEXT NOT NULL DEFAULT '',
  status     TEXT NOT NULL,
  detail     TEXT NOT NULL DEFAULT '',
  created_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL,
  use_by     INTEGER NOT NULL DEFAULT 0,
  updated_at INTEGER NOT NULL
);
CREATE INDEX breakglass_grants_device ON breakglass_grants(device_id, created_at);
