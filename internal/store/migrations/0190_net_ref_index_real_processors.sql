-- Issue 18. Payments are looked up by their processor reference only for a real processor (the
-- Stripe reconciler and webhooks: store.PaymentByNetRef); the sandbox simulator's references
-- ("SBX…") are never looked up. They are random, so indexing them cost a b-tree page written per
-- payment at every group commit (about a tenth of a sandbox payment's CPU on SQLite). The index
-- now holds the references that are looked up; PaymentByNetRef names the same condition.
DROP INDEX payments_net_ref;
CREATE INDEX payments_net_ref ON payments(net_ref) WHERE net_ref <> '' AND net_ref NOT LIKE 'SBX%';
