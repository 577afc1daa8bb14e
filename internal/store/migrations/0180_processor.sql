-- A real processor behind the gateway (issue 17). Per store: which acquirer and its account there
-- (a Stripe Connect account ID). Per card: the processor's stored card (Stripe customer/payment
-- method), charged off-session. Per payment: the processor's own decline/error code, for the panel.
-- Processor webhook events already applied (deduplicated by event ID, durably). Payments are found
-- by their processor reference when an event names it.
CREATE TABLE store_acquirers (
  aid TEXT PRIMARY KEY,
  acquirer TEXT NOT NULL DEFAULT '',
  account TEXT NOT NULL DEFAULT '',
  updated_at BIGINT NOT NULL DEFAULT 0
);
CREATE TABLE card_processor_refs (
  card_id BIGINT PRIMARY KEY,
  aid TEXT NOT NULL,
  ref TEXT NOT NULL
);
CREATE TABLE payment_processor_codes (
  gid TEXT PRIMARY KEY,
  code TEXT NOT NULL
);
CREATE TABLE processor_events (
  id TEXT PRIMARY KEY,
  kind TEXT NOT NULL,
  received_at BIGINT NOT NULL,
  outcome TEXT NOT NULL DEFAULT ''
);
CREATE INDEX payments_net_ref ON payments(net_ref);
