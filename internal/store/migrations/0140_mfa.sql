-- Multi-factor sign-in (issue 14 item 9): a TOTP secret per account (sealed by the vault, bound to
-- the account; enabled_at 0 while enrolment awaits its first code), the last time step used (so a
-- code is never accepted twice), single-use recovery codes (SHA-256 of 80-bit random codes), a
-- stage on sessions (password done, second factor or enrolment still due), and a store's panel
-- access rules (MFA for every user, IP allow-list).
CREATE TABLE mfa (
  kind TEXT NOT NULL,
  principal BIGINT NOT NULL,
  key_id TEXT NOT NULL,
  secret {{BLOB}} NOT NULL,
  enabled_at BIGINT NOT NULL DEFAULT 0,
  last_step BIGINT NOT NULL DEFAULT 0,
  created_at BIGINT NOT NULL,
  PRIMARY KEY (kind, principal)
);

CREATE TABLE mfa_recovery (
  kind TEXT NOT NULL,
  principal BIGINT NOT NULL,
  hash TEXT NOT NULL,
  used_at BIGINT NOT NULL DEFAULT 0,
  PRIMARY KEY (kind, principal, hash)
);

CREATE TABLE store_access (
  aid TEXT PRIMARY KEY,
  require_mfa INTEGER NOT NULL DEFAULT 0,
  allow_cidrs TEXT NOT NULL DEFAULT '',
  updated_at BIGINT NOT NULL DEFAULT 0
);

ALTER TABLE sessions ADD COLUMN stage TEXT NOT NULL DEFAULT '';
