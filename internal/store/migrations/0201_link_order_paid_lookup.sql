-- A shopper who goes back to the merchant's form after paying and submits it again (browser back,
-- reload) is shown the paid order's result, not a second card form (issue 15 item 7): the hosted
-- page looks up this browser's paid order of the same store and order number.
CREATE INDEX link_orders_store_cod ON link_orders(aid, cod);
