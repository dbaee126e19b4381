-- Brute-force limiter state (broker/mfa.Limiter) that must survive a
-- restart: an account locked out for guessing stays locked out when the
-- broker restarts. scope names the limiter ("account"); key is what it
-- limits (a username or user id, never a secret). Times in ms.
CREATE TABLE login_limits (
  scope        TEXT    NOT NULL,
  key          TEXT    NOT NULL,
  failures     INTEGER NOT NULL,
  last_fail    INTEGER NOT NULL,
  locked_until INTEGER NOT NULL,
  PRIMARY KEY (scope, key)
);
