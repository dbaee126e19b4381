-- The audit chain's signed head (broker/audit, ADR 0010): the newest
-- record's number and hash, and an Ed25519 signature over them by the
-- broker's audit key, which is not in the database. It is rewritten in the
-- transaction of every append, so an edit of the chain that recomputes the
-- hashes cannot produce a head that verifies, and deleting the newest rows
-- leaves a head that names a record that is gone.
CREATE TABLE audit_head (
  id   INTEGER PRIMARY KEY CHECK (id = 1),
  seq  INTEGER NOT NULL,
  hash TEXT NOT NULL,
  sig  BLOB NOT NULL
);
