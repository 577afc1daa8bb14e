package store

import (
	"context"
	"strings"
	"time"
)

// AuditEntry is one line of the audit log: who did what, when, from where. Actor is
// "user:AID/login", "operator:login" or "cli"; AID is the store acted on, if any.
type AuditEntry struct {
	ID     int64
	At     time.Time
	Actor  string
	AID    string
	Action string
	Detail string
	Remote string
}

// Audit appends an entry to the audit log.
func (db *DB) Audit(ctx context.Context, e AuditEntry) error {
	if e.At.IsZero() {
		e.At = db.Now()
	}
	// the audit log must never miss an action because its text is odd: NUL (which PostgreSQL
	// refuses in text) and invalid UTF-8 are replaced, everything else is kept as it was
	clean := func(s string) string { return strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\x00", "\uFFFD") }
	return db.Tx(ctx, func(tx *Tx) error {
		_, err := tx.Exec(`INSERT INTO audit_log(at, actor, aid, action, detail, remote) VALUES (?, ?, ?, ?, ?, ?)`,
			NS(e.At), clean(e.Actor), clean(e.AID), clean(e.Action), clean(e.Detail), clean(e.Remote))
		return err
	})
}

// AuditFilter narrows an audit-log listing; empty fields match everything.
type AuditFilter struct {
	AID    string
	Actor  string
	Action string // prefix, e.g. "login"
	Before int64  // only entries with a smaller ID (paging backwards); 0 = newest
	Limit  int
}

// AuditLog lists audit entries, newest first.
func (db *DB) AuditLog(ctx context.Context, f AuditFilter) ([]AuditEntry, error) {
	q := `SELECT id, at, actor, aid, action, detail, remote FROM audit_log WHERE 1=1`
	var args []any
	if f.AID != "" {
		q += ` AND aid = ?`
		args = append(args, f.AID)
	}
	if f.Actor != "" {
		q += ` AND actor = ?`
		args = append(args, f.Actor)
	}
	if f.Action != "" {
		q += ` AND action LIKE ?`
		args = append(args, likePrefix(f.Action))
	}
	if f.Before > 0 {
		q += ` AND id < ?`
		args = append(args, f.Before)
	}
	if f.Limit <= 0 || f.Limit > 1000 {
		f.Limit = 100
	}
	q += ` ORDER BY id DESC LIMIT ?`
	args = append(args, f.Limit)
	rows, err := db.Query(ctx, q, args...)
	if err != nil {
		return nil, classify(err)
	}
	defer rows.Close()
	var out []AuditEntry
	for rows.Next() {
		var e AuditEntry
		var at int64
		if err := rows.Scan(&e.ID, &at, &e.Actor, &e.AID, &e.Action, &e.Detail, &e.Remote); err != nil {
			return nil, err
		}
		e.At = FromNS(at)
		out = append(out, e)
	}
	return out, rows.Err()
}

// CountAudit counts entries of one action from one remote address since an instant: the per-address
// login throttle reads its failures from the audit log, so every instance sees the same count.
func (db *DB) CountAudit(ctx context.Context, action, remote string, since time.Time) (int, error) {
	var n int
	err := db.QueryRow(ctx, `SELECT COUNT(*) FROM audit_log WHERE action = ? AND remote = ? AND at >= ?`, action, remote, NS(since)).Scan(&n)
	return n, classify(err)
}

// likePrefix makes a LIKE pattern matching values that start with p. A wildcard typed into p only
// widens an operator's own audit search, so it is left alone.
func likePrefix(p string) string { return p + "%" }
