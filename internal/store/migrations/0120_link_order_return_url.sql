-- A 3-D Secure session opened server-to-server through /igateway/gateway.aspx is a link order
-- without a browser binding: it keeps the merchant's `url`, where the shopper's browser returns
-- with the result once authentication and the charge are done. Empty for hosted-page orders.
ALTER TABLE link_orders ADD COLUMN return_url TEXT NOT NULL DEFAULT '';
