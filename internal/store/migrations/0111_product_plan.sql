-- A product may define an auto-charge plan (wire.md §2.1 iid, §2.2): its parameters (actp, acam, …,
-- trtp, …) encoded as a query string, "" for a one-off product. A sign-up by the product's iid
-- alone creates that plan.
ALTER TABLE products ADD COLUMN plan TEXT NOT NULL DEFAULT '';
