-- Convenience-store (コンビニ決済) and bank-transfer (銀行振込) payments (issue 13, wire.md §8).
-- A payment row records every method; `method` says which (card | cvs | bank), so every list,
-- filter and CSV of the panel shows it. A non-card payment also has a slip: the chain's payment
-- number or the virtual account, its deadline, and what arrived. payments.status and slips.state
-- move together, in one transaction: pending → paid | expired | cancelled, never backwards.

ALTER TABLE payments ADD COLUMN method TEXT NOT NULL DEFAULT 'card';
CREATE INDEX payments_method ON payments(aid, method, created_at);

-- Per-store settings of the non-card methods; a store without a row takes the defaults
-- (card only; deadlines 14 days; holiday hold on; no expiry notice).
CREATE TABLE store_methods (
  aid TEXT PRIMARY KEY,
  methods TEXT NOT NULL DEFAULT 'card',
  chains TEXT NOT NULL DEFAULT '',
  cvs_days INTEGER NOT NULL DEFAULT 14,
  bank_days INTEGER NOT NULL DEFAULT 14,
  expiry_notice INTEGER NOT NULL DEFAULT 0,
  holiday_hold INTEGER NOT NULL DEFAULT 1,
  updated_at BIGINT NOT NULL
);

CREATE TABLE slips (
  gid TEXT PRIMARY KEY,
  aid TEXT NOT NULL,
  method TEXT NOT NULL,
  state TEXT NOT NULL,
  chain TEXT NOT NULL DEFAULT '',
  pay_no TEXT NOT NULL,
  slip_url TEXT NOT NULL DEFAULT '',
  view_key TEXT NOT NULL DEFAULT '',
  bank TEXT NOT NULL DEFAULT '',
  kana TEXT NOT NULL DEFAULT '',
  postal TEXT NOT NULL DEFAULT '',
  deadline BIGINT NOT NULL,
  billed BIGINT NOT NULL,
  received BIGINT NOT NULL DEFAULT 0,
  received_date TEXT NOT NULL DEFAULT '',
  mf TEXT NOT NULL DEFAULT '',
  note TEXT NOT NULL DEFAULT '',
  settle_at BIGINT NOT NULL DEFAULT 0,
  settle_amount BIGINT NOT NULL DEFAULT 0,
  created_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX slips_pay_no ON slips(method, pay_no);
CREATE INDEX slips_deadline ON slips(state, deadline);
CREATE INDEX slips_settle ON slips(state, settle_at);
CREATE INDEX slips_store ON slips(aid, created_at);
