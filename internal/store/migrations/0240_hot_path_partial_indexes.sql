-- Issue 18. Two indexes held a row for every payment although only a few rows are ever looked up
-- through them; each cost a b-tree insert (and on SQLite a WAL page) per payment at every group
-- commit.
--   * cards_customer finds a one-touch customer's card by e-mail + phone (CardByCustomer, which
--     always has both — one-touch needs e-mail and phone): a card stored without both is never
--     found through it.
--   * payments_method serves the panel's method filter; card payments (nearly all of them) are
--     listed through payments_store_time, so the index keeps the convenience-store and bank ones.
-- The queries name the same conditions, so SQLite can use the partial indexes.
DROP INDEX cards_customer;
CREATE INDEX cards_customer ON cards(aid, em, pn) WHERE em <> '' AND pn <> '';
DROP INDEX payments_method;
CREATE INDEX payments_method ON payments(aid, method, created_at) WHERE method <> 'card';
