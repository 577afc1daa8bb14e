-- Issue 17. A charge whose answer was lost (ER990) is settled by whichever comes first: the
-- merchant's retry of the same cod recording it, or the reconciler deciding to void it. Both claim
-- the processor's reference here (the primary key makes one of them the winner, also across
-- instances on one PostgreSQL database), and the loser gives way: the retry answers ER990 again,
-- the reconciler leaves the recorded charge alone. Only references of outcome-unknown charges are
-- claimed.
CREATE TABLE unknown_outcome_claims (
  net_ref TEXT PRIMARY KEY,
  outcome TEXT NOT NULL,
  gid TEXT NOT NULL DEFAULT '',
  claimed_at BIGINT NOT NULL
);
