-- A hosted-page charge that a processor authenticates on its own page (Stripe's 3-D Secure,
-- next_action.redirect_to_url): while the shopper is there the order keeps the processor's
-- reference of the authorisation and the page to send the shopper to; the return reads that
-- authorisation's outcome (issue 15, Stripe acquirer).
ALTER TABLE link_orders ADD COLUMN processor_ref TEXT NOT NULL DEFAULT '';
ALTER TABLE link_orders ADD COLUMN processor_url TEXT NOT NULL DEFAULT '';
