-- A follow-up (SALES, CANCEL, refund) claims its payment before it calls the card network, so of two
-- racing follow-ups only one reaches the network; the claim expires if its holder dies.
ALTER TABLE payments ADD COLUMN follow_lock BIGINT NOT NULL DEFAULT 0;
