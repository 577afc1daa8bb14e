-- Kessai core schema, written once for SQLite and PostgreSQL: {{ID}} and {{BLOB}} are expanded per
-- dialect; every instant is BIGINT unix nanoseconds UTC; money is BIGINT yen.

CREATE TABLE meta (
  k TEXT PRIMARY KEY,
  v TEXT NOT NULL
);

CREATE TABLE stores (
  aid TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  result_url TEXT NOT NULL DEFAULT '',
  ac_result_url TEXT NOT NULL DEFAULT '',
  completion_url TEXT NOT NULL DEFAULT '',
  allow_ips TEXT NOT NULL DEFAULT '',
  allow_origins TEXT NOT NULL DEFAULT '',
  auth_code TEXT NOT NULL DEFAULT '',
  brands TEXT NOT NULL DEFAULT '',
  min_amount BIGINT NOT NULL DEFAULT 1,
  max_amount BIGINT NOT NULL DEFAULT 9999999,
  installments INTEGER NOT NULL DEFAULT 0,
  require_cvv INTEGER NOT NULL DEFAULT 1,
  suspended INTEGER NOT NULL DEFAULT 0,
  encoding TEXT NOT NULL DEFAULT 'auto',
  kickback_encoding TEXT NOT NULL DEFAULT 'utf-8',
  kickback_secret TEXT NOT NULL DEFAULT '',
  notify_email TEXT NOT NULL DEFAULT '',
  stop_notice TEXT NOT NULL DEFAULT 'immediate',
  created_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL
);

CREATE TABLE products (
  aid TEXT NOT NULL REFERENCES stores(aid),
  iid TEXT NOT NULL,
  name TEXT NOT NULL,
  am BIGINT NOT NULL,
  tx BIGINT NOT NULL DEFAULT 0,
  sf BIGINT NOT NULL DEFAULT 0,
  PRIMARY KEY (aid, iid)
);

CREATE TABLE cards (
  id {{ID}},
  aid TEXT NOT NULL,
  key_id TEXT NOT NULL,
  blob {{BLOB}} NOT NULL,
  first6 TEXT NOT NULL,
  last4 TEXT NOT NULL,
  brand TEXT NOT NULL,
  lookup {{BLOB}} NOT NULL,
  exp TEXT NOT NULL,
  holder TEXT NOT NULL DEFAULT '',
  em TEXT NOT NULL DEFAULT '',
  pn TEXT NOT NULL DEFAULT '',
  created_at BIGINT NOT NULL
);
CREATE INDEX cards_customer ON cards(aid, em, pn);

CREATE TABLE payments (
  gid TEXT PRIMARY KEY,
  aid TEXT NOT NULL,
  cod TEXT NOT NULL DEFAULT '',
  job TEXT NOT NULL,
  status TEXT NOT NULL,
  rst TEXT NOT NULL,
  ec TEXT NOT NULL DEFAULT '',
  ap TEXT NOT NULL DEFAULT '',
  god TEXT NOT NULL DEFAULT '',
  am BIGINT NOT NULL,
  tx BIGINT NOT NULL,
  sf BIGINT NOT NULL,
  ta BIGINT NOT NULL,
  captured BIGINT NOT NULL DEFAULT 0,
  refunded BIGINT NOT NULL DEFAULT 0,
  card_id BIGINT,
  first6 TEXT NOT NULL DEFAULT '',
  last4 TEXT NOT NULL DEFAULT '',
  brand TEXT NOT NULL DEFAULT '',
  md TEXT NOT NULL DEFAULT '10',
  em TEXT NOT NULL DEFAULT '',
  pn TEXT NOT NULL DEFAULT '',
  inm TEXT NOT NULL DEFAULT '',
  free TEXT NOT NULL DEFAULT '',
  acid TEXT NOT NULL DEFAULT '',
  source TEXT NOT NULL DEFAULT 'gateway',
  fingerprint TEXT NOT NULL DEFAULT '',
  net_ref TEXT NOT NULL DEFAULT '',
  accepted_at BIGINT NOT NULL,
  created_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX payments_cod ON payments(aid, cod) WHERE cod <> '' AND rst = '1';
CREATE INDEX payments_store_time ON payments(aid, created_at);

CREATE TABLE payment_events (
  id {{ID}},
  gid TEXT NOT NULL,
  at BIGINT NOT NULL,
  kind TEXT NOT NULL,
  from_status TEXT NOT NULL DEFAULT '',
  to_status TEXT NOT NULL,
  amount BIGINT NOT NULL DEFAULT 0,
  actor TEXT NOT NULL DEFAULT ''
);
CREATE INDEX payment_events_gid ON payment_events(gid);

CREATE TABLE kickbacks (
  id {{ID}},
  aid TEXT NOT NULL,
  gid TEXT NOT NULL,
  acid TEXT NOT NULL DEFAULT '',
  kind TEXT NOT NULL DEFAULT 'result',
  url TEXT NOT NULL,
  query TEXT NOT NULL,
  status TEXT NOT NULL DEFAULT 'pending',
  attempts INTEGER NOT NULL DEFAULT 0,
  next_at BIGINT NOT NULL,
  lease_until BIGINT NOT NULL DEFAULT 0,
  created_at BIGINT NOT NULL,
  delivered_at BIGINT NOT NULL DEFAULT 0,
  last_error TEXT NOT NULL DEFAULT ''
);
CREATE INDEX kickbacks_due ON kickbacks(status, next_at);
CREATE INDEX kickbacks_gid ON kickbacks(gid);

CREATE TABLE kickback_attempts (
  id {{ID}},
  kickback_id BIGINT NOT NULL,
  at BIGINT NOT NULL,
  status_code INTEGER NOT NULL DEFAULT 0,
  latency_ms BIGINT NOT NULL DEFAULT 0,
  body TEXT NOT NULL DEFAULT '',
  error TEXT NOT NULL DEFAULT ''
);
CREATE INDEX kickback_attempts_kb ON kickback_attempts(kickback_id);

CREATE TABLE maintenance_windows (
  id {{ID}},
  uid TEXT NOT NULL UNIQUE,
  start_ns BIGINT NOT NULL,
  end_ns BIGINT NOT NULL,
  reserve_end_ns BIGINT NOT NULL DEFAULT 0,
  zone TEXT NOT NULL,
  kind TEXT NOT NULL,
  status TEXT NOT NULL,
  revision INTEGER NOT NULL DEFAULT 0,
  scope TEXT NOT NULL,
  title_ja TEXT NOT NULL DEFAULT '',
  title_en TEXT NOT NULL DEFAULT '',
  notes_ja TEXT NOT NULL DEFAULT '',
  notes_en TEXT NOT NULL DEFAULT '',
  created_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL
);
CREATE INDEX maintenance_windows_start ON maintenance_windows(start_ns);

CREATE TABLE maintenance_changes (
  id {{ID}},
  window_id BIGINT NOT NULL,
  revision INTEGER NOT NULL,
  kind TEXT NOT NULL,
  old_start BIGINT NOT NULL DEFAULT 0,
  old_end BIGINT NOT NULL DEFAULT 0,
  new_start BIGINT NOT NULL DEFAULT 0,
  new_end BIGINT NOT NULL DEFAULT 0,
  at BIGINT NOT NULL,
  actor TEXT NOT NULL DEFAULT '',
  reason TEXT NOT NULL DEFAULT ''
);

CREATE TABLE tokens (
  token TEXT PRIMARY KEY,
  aid TEXT NOT NULL,
  card_id BIGINT NOT NULL,
  md TEXT NOT NULL DEFAULT '10',
  created_at BIGINT NOT NULL,
  expires_at BIGINT NOT NULL,
  used_at BIGINT NOT NULL DEFAULT 0,
  tds_status TEXT NOT NULL DEFAULT '',
  tds_am BIGINT NOT NULL DEFAULT -1,
  tds_tx BIGINT NOT NULL DEFAULT -1,
  tds_sf BIGINT NOT NULL DEFAULT -1,
  tds_challenge TEXT NOT NULL DEFAULT ''
);

CREATE TABLE autocharges (
  acid TEXT PRIMARY KEY,
  aid TEXT NOT NULL,
  gid TEXT NOT NULL DEFAULT '',
  cod TEXT NOT NULL DEFAULT '',
  card_id BIGINT NOT NULL,
  status TEXT NOT NULL,
  actp INTEGER NOT NULL,
  acam BIGINT NOT NULL,
  actx BIGINT NOT NULL DEFAULT 0,
  acsf BIGINT NOT NULL DEFAULT 0,
  ac1 INTEGER NOT NULL DEFAULT 0,
  ac3 INTEGER NOT NULL DEFAULT 0,
  first_date TEXT NOT NULL DEFAULT '',
  trial TEXT NOT NULL DEFAULT '',
  em TEXT NOT NULL DEFAULT '',
  pn TEXT NOT NULL DEFAULT '',
  charges INTEGER NOT NULL DEFAULT 0,
  failures INTEGER NOT NULL DEFAULT 0,
  next_date TEXT NOT NULL DEFAULT '',
  next_at BIGINT NOT NULL DEFAULT 0,
  stop_requested_at BIGINT NOT NULL DEFAULT 0,
  stopped_at BIGINT NOT NULL DEFAULT 0,
  lease_until BIGINT NOT NULL DEFAULT 0,
  created_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL
);
CREATE INDEX autocharges_due ON autocharges(status, next_at);

CREATE TABLE autocharge_runs (
  id {{ID}},
  acid TEXT NOT NULL,
  period TEXT NOT NULL,
  attempt INTEGER NOT NULL DEFAULT 0,
  gid TEXT NOT NULL DEFAULT '',
  rst TEXT NOT NULL,
  ec TEXT NOT NULL DEFAULT '',
  am BIGINT NOT NULL,
  at BIGINT NOT NULL,
  UNIQUE (acid, period, attempt)
);

CREATE TABLE users (
  id {{ID}},
  aid TEXT NOT NULL,
  login TEXT NOT NULL,
  pw_hash TEXT NOT NULL,
  role TEXT NOT NULL,
  failed INTEGER NOT NULL DEFAULT 0,
  locked_until BIGINT NOT NULL DEFAULT 0,
  created_at BIGINT NOT NULL,
  UNIQUE (aid, login)
);

CREATE TABLE operators (
  id {{ID}},
  login TEXT NOT NULL UNIQUE,
  pw_hash TEXT NOT NULL,
  failed INTEGER NOT NULL DEFAULT 0,
  locked_until BIGINT NOT NULL DEFAULT 0,
  created_at BIGINT NOT NULL
);

CREATE TABLE sessions (
  id TEXT PRIMARY KEY,
  kind TEXT NOT NULL,
  principal BIGINT NOT NULL,
  aid TEXT NOT NULL DEFAULT '',
  csrf TEXT NOT NULL,
  lang TEXT NOT NULL DEFAULT 'ja',
  created_at BIGINT NOT NULL,
  expires_at BIGINT NOT NULL
);

CREATE TABLE audit_log (
  id {{ID}},
  at BIGINT NOT NULL,
  actor TEXT NOT NULL,
  aid TEXT NOT NULL DEFAULT '',
  action TEXT NOT NULL,
  detail TEXT NOT NULL DEFAULT '',
  remote TEXT NOT NULL DEFAULT ''
);

CREATE TABLE email_log (
  id {{ID}},
  dedupe TEXT NOT NULL UNIQUE,
  aid TEXT NOT NULL,
  rcpt TEXT NOT NULL,
  subject TEXT NOT NULL,
  kind TEXT NOT NULL,
  window_id BIGINT NOT NULL DEFAULT 0,
  status TEXT NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0,
  next_at BIGINT NOT NULL DEFAULT 0,
  last_error TEXT NOT NULL DEFAULT '',
  created_at BIGINT NOT NULL,
  sent_at BIGINT NOT NULL DEFAULT 0
);
