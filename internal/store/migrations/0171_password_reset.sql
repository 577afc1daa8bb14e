-- Issue 15 item 11: password reset for panel users, by e-mail (to the user's own address) or by an
-- operator. Only a SHA-256 of each one-time token is kept.
ALTER TABLE users ADD COLUMN email TEXT NOT NULL DEFAULT '';
CREATE TABLE password_resets (
  token_hash TEXT PRIMARY KEY,
  user_id BIGINT NOT NULL,
  aid TEXT NOT NULL,
  created_at BIGINT NOT NULL,
  expires_at BIGINT NOT NULL,
  used_at BIGINT NOT NULL DEFAULT 0,
  issued_by TEXT NOT NULL DEFAULT ''
);
CREATE INDEX password_resets_user ON password_resets(user_id);
