-- An auto-charge sign-up made through the hosted page keeps its plan parameters (actp, acam, …) with
-- the order session until the card is charged, encoded as a query string.
ALTER TABLE link_orders ADD COLUMN plan TEXT NOT NULL DEFAULT '';
