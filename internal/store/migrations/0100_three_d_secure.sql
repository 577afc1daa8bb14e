-- 3-D Secure enforcement (issue 14 item 10). A store may require that token charges of cards that
-- need 3-D Secure have passed it; stores that exist keep working as before (0), stores created from
-- now on by the CLI, the operator console and the sandbox's demo store set it (1). Each payment
-- records the authentication result its card had: '' none, frictionless, challenged, attempted,
-- failed.
ALTER TABLE stores ADD COLUMN require_3ds INTEGER NOT NULL DEFAULT 0;
ALTER TABLE payments ADD COLUMN tds TEXT NOT NULL DEFAULT '';
