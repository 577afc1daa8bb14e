-- Authorisations whose payment is not recorded (a lost race on one cod, a failed commit) are voided
-- at the acquirer. Each void is recorded here first and retried until the network acknowledges it.
CREATE TABLE acquirer_voids (
  id {{ID}},
  aid TEXT NOT NULL,
  gid TEXT NOT NULL,
  cod TEXT NOT NULL DEFAULT '',
  net_ref TEXT NOT NULL,
  reason TEXT NOT NULL,
  status TEXT NOT NULL DEFAULT 'pending',
  attempts INTEGER NOT NULL DEFAULT 0,
  next_at BIGINT NOT NULL,
  lease_until BIGINT NOT NULL DEFAULT 0,
  created_at BIGINT NOT NULL,
  done_at BIGINT NOT NULL DEFAULT 0,
  last_error TEXT NOT NULL DEFAULT ''
);
CREATE UNIQUE INDEX acquirer_voids_ref ON acquirer_voids(net_ref);
CREATE INDEX acquirer_voids_due ON acquirer_voids(status, next_at);
