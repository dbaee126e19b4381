-- Identity (issue 20): OIDC sign-in, passkeys, step-up by identity.
-- Times are Unix milliseconds (UTC); 0 means "never".

-- An OIDC identity is (issuer, subject), never an email or a name
-- (docs/adr/0015-identity.md). A user has at most one identity per issuer;
-- provider is the configured provider's id (its display name may change).
CREATE TABLE oidc_identities (
  issuer        TEXT NOT NULL,
  subject       TEXT NOT NULL,
  user_id       TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  provider      TEXT NOT NULL,
  created_at    INTEGER NOT NULL,
  last_login_at INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (issuer, subject)
);
CREATE UNIQUE INDEX oidc_identities_user ON oidc_identities(user_id, issuer);

-- Passkeys and security keys (WebAuthn). id is the credential id
-- (base64url), public_key the COSE key the authenticator gave at
-- registration; sign_count the last counter seen (a lower one is a cloned
-- authenticator and is refused). transports is a space-separated list.
CREATE TABLE webauthn_credentials (
  id           TEXT PRIMARY KEY,
  user_id      TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  name         TEXT NOT NULL,
  public_key   BLOB NOT NULL,
  attestation  TEXT NOT NULL DEFAULT '',
  aaguid       BLOB NOT NULL,
  sign_count   INTEGER NOT NULL DEFAULT 0,
  transports   TEXT NOT NULL DEFAULT '',
  flags        INTEGER NOT NULL DEFAULT 0,
  created_at   INTEGER NOT NULL,
  last_used_at INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX webauthn_credentials_user ON webauthn_credentials(user_id);

-- How a browser session logged in and what its last step-up was:
-- login_method is "password", "password+totp", "password+passkey",
-- "passkey" or "sso:PROVIDER"; mfa_method is what set mfa_at ("totp",
-- "passkey" or "idp"). pending_factor says what a pending session still
-- owes: "" (a TOTP code, as before) or "passkey".
ALTER TABLE web_sessions ADD COLUMN login_method TEXT NOT NULL DEFAULT 'password';
ALTER TABLE web_sessions ADD COLUMN mfa_method TEXT NOT NULL DEFAULT '';
ALTER TABLE web_sessions ADD COLUMN pending_factor TEXT NOT NULL DEFAULT '';
