-- Per-device elevation-code keys sealed at rest (broker/secretbox, under the
-- key outside the database, bound to the device id). secret_sealed holds
-- the key in force; the old plaintext column "secret" is emptied by the
-- broker at start once it has sealed each row (sealing needs the key,
-- which SQL does not have). A key rotation keeps the next key, sealed, in
-- next_secret_sealed, and its id in key_rotation, until the agent
-- acknowledges it has stored it; then that key is in force and
-- key_in_force names the rotation it came from ('' = the enrollment key),
-- which the broker re-confirms to the agent at each connection.
ALTER TABLE devices ADD COLUMN secret_sealed BLOB NOT NULL DEFAULT x'';
ALTER TABLE devices ADD COLUMN next_secret_sealed BLOB NOT NULL DEFAULT x'';
ALTER TABLE devices ADD COLUMN key_rotation TEXT NOT NULL DEFAULT '';
ALTER TABLE devices ADD COLUMN key_in_force TEXT NOT NULL DEFAULT '';
ALTER TABLE devices ADD COLUMN key_rotated_at INTEGER NOT NULL DEFAULT 0;
