-- MFA: TOTP enrollments, hashed recovery codes, and the second-factor state
-- of web sessions. The store methods that use the mfa_* tables are in
-- broker/mfa/mfasql (tested against this file). Times are Unix milliseconds (UTC).

-- One confirmed TOTP enrollment per user. secret_sealed is a secretbox
-- ciphertext (AES-256-GCM, key outside the database) bound to user_id; the
-- plaintext secret is never stored. last_step is the last accepted RFC 6238
-- time step (Unix seconds / 30): codes for it or earlier are replays.
CREATE TABLE mfa_totp (
  user_id       TEXT PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
  secret_sealed BLOB NOT NULL,
  last_step     INTEGER NOT NULL,
  enrolled_at   INTEGER NOT NULL
);

-- Single-use recovery codes, stored only as argon2id PHC strings with a
-- per-code salt. Deleting the enrollment (admin reset) deletes them.
CREATE TABLE mfa_recovery_codes (
  id         TEXT PRIMARY KEY,
  user_id    TEXT NOT NULL REFERENCES mfa_totp(user_id) ON DELETE CASCADE,
  hash       TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  used_at    INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX mfa_recovery_codes_user ON mfa_recovery_codes(user_id, used_at);

-- Login and step-up state of a browser session: mfa_pending = 1 while the
-- password is checked but the second factor is not (such a session may only
-- call the MFA endpoints); mfa_at is the time of the session's last
-- successful TOTP Verify, which mfa.StepUp checks before a support session.
ALTER TABLE web_sessions ADD COLUMN mfa_pending INTEGER NOT NULL DEFAULT 0;
ALTER TABLE web_sessions ADD COLUMN mfa_at INTEGER NOT NULL DEFAULT 0;
