-- User lifecycle, API tokens and role bindings (issue 15, items 4-6).
-- Times are Unix milliseconds (UTC); 0 means "never".

-- A deleted user keeps a tombstone row (disabled, deleted_at set, no
-- sessions, tokens or MFA left) so that the user ids and names the audit log
-- holds stay resolvable and a name is never reused for someone else.
ALTER TABLE users ADD COLUMN deleted_at INTEGER NOT NULL DEFAULT 0;
-- group_bound = 1: the user's role gives device rights only on the device
-- groups in role_bindings (none left = on no device), not on every device.
ALTER TABLE users ADD COLUMN group_bound INTEGER NOT NULL DEFAULT 0;

-- Role bindings: "ann is technician on group A". A row goes with its group
-- (the user stays group_bound, so losing the last group never widens rights).
CREATE TABLE role_bindings (
  user_id  TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  group_id TEXT NOT NULL REFERENCES device_groups(id) ON DELETE CASCADE,
  role     TEXT NOT NULL,
  PRIMARY KEY (user_id, group_id)
);
CREATE INDEX role_bindings_group ON role_bindings(group_id);

-- API tokens: kind "cli" (porthole login: all of the owner's rights) or
-- "api" (created with scopes, a space-separated list; the owner's current
-- rights still bound them at every use). Only the SHA-256 of the value is
-- stored. last_used_* are updated at most once a minute.
ALTER TABLE api_tokens ADD COLUMN kind TEXT NOT NULL DEFAULT 'cli';
ALTER TABLE api_tokens ADD COLUMN scopes TEXT NOT NULL DEFAULT '';
ALTER TABLE api_tokens ADD COLUMN note TEXT NOT NULL DEFAULT '';
ALTER TABLE api_tokens ADD COLUMN last_used_at INTEGER NOT NULL DEFAULT 0;
ALTER TABLE api_tokens ADD COLUMN last_used_ip TEXT NOT NULL DEFAULT '';
ALTER TABLE api_tokens ADD COLUMN revoked_at INTEGER NOT NULL DEFAULT 0;
CREATE INDEX api_tokens_user ON api_tokens(user_id);
CREATE INDEX web_sessions_user ON web_sessions(user_id);
