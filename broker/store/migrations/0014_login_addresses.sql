-- Lockout that cannot be turned against users (ADR 0009).
--
-- login_addresses: where each user has completed a login from (addr is
-- mfa.IPKey: an IPv4 address or an IPv6 /64). Attempts on an account from
-- one of its addresses are slowed, never locked, so guessing from
-- elsewhere cannot lock the user out from their usual place. A few per
-- user, the least recently used dropped (store.RememberLoginAddress).
CREATE TABLE login_addresses (
  user_id TEXT    NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  addr    TEXT    NOT NULL,
  last_ok INTEGER NOT NULL,
  PRIMARY KEY (user_id, addr)
);

-- The account limiter's keys were "login:" + the name typed, for real
-- accounts and made-up names alike, so a flood of made-up names could
-- evict a real account's count. Real accounts are now keyed by user id in
-- scope "account" (bounded by the number of users, never evicted); names
-- of no account move to their own scope "unknown" (bounded, evictable).
UPDATE login_limits SET scope = 'unknown'
  WHERE scope = 'account' AND key LIKE 'login:%'
    AND NOT EXISTS (SELECT 1 FROM users WHERE 'login:' || users.username = login_limits.key);
UPDATE login_limits SET key = 'login:' || (SELECT id FROM users WHERE 'login:' || users.username = login_limits.key)
  WHERE scope = 'account' AND key LIKE 'login:%';
