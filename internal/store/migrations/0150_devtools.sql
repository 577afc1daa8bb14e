-- Store API keys (issue 16): authenticate the JSON API, never the panel. Only a SHA-256 of the key is
-- kept; the prefix is shown so a merchant can tell keys apart.
CREATE TABLE api_keys (
  id {{ID}},
  aid TEXT NOT NULL,
  name TEXT NOT NULL,
  prefix TEXT NOT NULL,
  hash TEXT NOT NULL UNIQUE,
  created_at BIGINT NOT NULL,
  created_by TEXT NOT NULL DEFAULT '',
  last_used_at BIGINT NOT NULL DEFAULT 0,
  revoked_at BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX api_keys_aid ON api_keys(aid);

-- The kickback feed: one row when a kickback is queued and one per resend, in order. kessai listen
-- streams it (a resend reaches the listener as well as the result URL); at is when it is due.
CREATE TABLE kickback_feed (
  seq {{ID}},
  aid TEXT NOT NULL,
  kickback_id BIGINT NOT NULL,
  at BIGINT NOT NULL,
  reason TEXT NOT NULL DEFAULT 'created'
);
CREATE INDEX kickback_feed_aid ON kickback_feed(aid, seq);
INSERT INTO kickback_feed(aid, kickback_id, at, reason) SELECT aid, id, created_at, 'created' FROM kickbacks ORDER BY id;
CREATE INDEX kickbacks_aid_created ON kickbacks(aid, created_at);
