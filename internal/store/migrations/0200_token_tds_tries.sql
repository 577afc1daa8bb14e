-- 3-D Secure on the hosted page gives the cardholder a few attempts at the challenge code (issue 15
-- item 4): the wrong codes typed so far on a token's open challenge.
ALTER TABLE tokens ADD COLUMN tds_tries INTEGER NOT NULL DEFAULT 0;
