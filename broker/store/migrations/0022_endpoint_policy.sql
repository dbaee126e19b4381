-- The endpoint's own policy as its agent reports it in every inventory
-- (set where the agent is installed, never by the broker): whether a
-- session may skip the end user's consent ('deny' | 'allow'; '' = an agent
-- from before endpoint policies, which refuses nothing itself).
ALTER TABLE devices ADD COLUMN unattended_policy TEXT NOT NULL DEFAULT '';
