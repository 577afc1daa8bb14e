-- Control panel and operator console: the per-address login throttle counts an address's recent
-- failures in the audit log (shared by every instance), the audit page lists one store's entries,
-- and sessions are purged by deadline and ended per account (password change, user deleted).
CREATE INDEX audit_log_throttle ON audit_log(action, remote, at);
CREATE INDEX audit_log_store ON audit_log(aid, id);
CREATE INDEX sessions_expiry ON sessions(expires_at);
CREATE INDEX sessions_principal ON sessions(kind, principal);
