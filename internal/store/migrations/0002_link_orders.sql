-- Hosted payment page (link method) order sessions: the merchant's order as it arrived, kept on the
-- server so the card form carries only an unguessable session ID and the amounts cannot be changed
-- in the browser. One row per visit to /link/creditcard or /gateway/payform.aspx; a declined card
-- leaves the row open so the shopper can try another card for the same order.

CREATE TABLE link_orders (
  id TEXT PRIMARY KEY,
  aid TEXT NOT NULL,
  jb TEXT NOT NULL,
  cod TEXT NOT NULL DEFAULT '',
  am BIGINT NOT NULL,
  tx BIGINT NOT NULL,
  sf BIGINT NOT NULL,
  inm TEXT NOT NULL DEFAULT '',
  em TEXT NOT NULL DEFAULT '',
  pn TEXT NOT NULL DEFAULT '',
  md TEXT NOT NULL DEFAULT '10',
  free TEXT NOT NULL DEFAULT '',
  csrf TEXT NOT NULL,
  binding TEXT NOT NULL,
  status TEXT NOT NULL DEFAULT 'open',
  token TEXT NOT NULL DEFAULT '',
  gid TEXT NOT NULL DEFAULT '',
  last_ec TEXT NOT NULL DEFAULT '',
  attempts INTEGER NOT NULL DEFAULT 0,
  created_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL,
  expires_at BIGINT NOT NULL
);
CREATE INDEX link_orders_expiry ON link_orders(expires_at);
CREATE INDEX tokens_expiry ON tokens(expires_at);
