-- Usernames are case-folded (ADR 0009): stored, looked up and compared in
-- ASCII lower case (wire.FoldUsername), so "ADMIN" and "admin" are one
-- account with one lockout counter. This migration is refused while two
-- accounts differ only in case (store.foldUsernames names them and says
-- how to rename one), so no two accounts are ever merged. Names that still
-- decide something are folded too: access requesters here, approvals and
-- "user:NAME" approvers in Go. Audit records keep the names as they were.
UPDATE users SET username = lower(username) WHERE username <> lower(username);
UPDATE requests SET requester = lower(requester) WHERE kind = 'access';
CREATE TRIGGER users_username_folded_insert BEFORE INSERT ON users
  WHEN NEW.username <> lower(NEW.username)
  BEGIN SELECT RAISE(ABORT, 'username must be case-folded'); END;
CREATE TRIGGER users_username_folded_update BEFORE UPDATE OF username ON users
  WHEN NEW.username <> lower(NEW.username)
  BEGIN SELECT RAISE(ABORT, 'username must be case-folded'); END;
