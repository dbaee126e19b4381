-- Entitlements: named rights on a device group (remote_support,
-- unattended_access, break_glass, elevation_codes), each with its request
-- policy and optional emergency policy as JSON (broker/policy.Policy).
-- Access requests themselves live in the generic requests table (kind
-- 'access', device_id = the group, payload = the policy request).
CREATE TABLE entitlements (
  id         TEXT PRIMARY KEY,
  name       TEXT NOT NULL,
  group_id   TEXT NOT NULL REFERENCES device_groups(id) ON DELETE CASCADE,
  request    TEXT NOT NULL,             -- policy JSON
  emergency  TEXT NOT NULL DEFAULT '',  -- policy JSON, '' = no emergency path
  updated_at INTEGER NOT NULL,
  UNIQUE (name, group_id)
);
CREATE INDEX requests_kind_status ON requests(kind, status);
