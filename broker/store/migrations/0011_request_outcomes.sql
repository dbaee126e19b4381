-- When the end user's endpoint acknowledged a decided request's outcome
-- (ms; 0 = not yet): the broker resends unacknowledged outcomes each time
-- the device comes online, so an endpoint offline at the decision still
-- tells its end user.
ALTER TABLE requests ADD COLUMN outcome_acked_at INTEGER NOT NULL DEFAULT 0;
CREATE INDEX requests_outcomes ON requests(device_id, outcome_acked_at, decided_at);
-- Outcomes decided before this migration were sent the old way: whether
-- they arrived is unknown, and resending them all would show end users
-- dialogs they may have seen; count them as acknowledged.
UPDATE requests SET outcome_acked_at = MAX(decided_at, 1) WHERE status <> 'pending';
