-- End users' elevation requests join the one requests queue (kind
-- 'elevation'), which lists, expires and audits every kind alike; the
-- payload keeps what the agent needs to hear the outcome.
INSERT INTO requests(id, kind, device_id, requester, reason, payload, status, created_at, expires_at, decided_by, decided_at)
SELECT id, 'elevation', device_id, username, note,
       json_object('agent_ref', agent_ref, 'event_id', event_id, 'user', username, 'minutes', minutes),
       CASE state WHEN 'open' THEN 'pending' ELSE state END,
       requested_at, requested_at + 1800000,
       CASE WHEN decided_by LIKE 'user:%' THEN substr(decided_by, 6) ELSE decided_by END, decided_at
FROM elevation_requests;
DROP TABLE elevation_requests;
