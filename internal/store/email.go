package store

import (
	"context"
	"time"
)

// Email is one message owed to a store, deduplicated by a key so it is sent once even across
// restarts and several instances.
type Email struct {
	ID        int64
	Dedupe    string
	AID       string
	Rcpt      string
	Subject   string
	Kind      string
	WindowID  int64
	Status    string // pending | sent | failed | skipped
	Attempts  int
	NextAt    time.Time
	LastError string
	CreatedAt time.Time
	SentAt    time.Time
	Body      string
}

// QueueEmail records a message to send unless its dedupe key exists; it reports whether it was new.
func (db *DB) QueueEmail(ctx context.Context, e *Email) (bool, error) {
	var added bool
	err := db.Write(ctx, func(tx *Tx) error {
		added = false
		var n int
		if err := tx.QueryRow(`SELECT COUNT(*) FROM email_log WHERE dedupe = ?`, e.Dedupe).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return nil
		}
		id, err := tx.InsertID(`INSERT INTO email_log(dedupe, aid, rcpt, subject, kind, window_id, status, attempts, next_at, created_at, body) VALUES (?, ?, ?, ?, ?, ?, ?, 0, ?, ?, ?)`,
			e.Dedupe, e.AID, e.Rcpt, e.Subject, e.Kind, e.WindowID, e.Status, NS(e.NextAt), NS(e.CreatedAt), e.Body)
		if IsUnique(err) {
			return nil
		}
		e.ID, added = id, err == nil
		return err
	})
	return added, err
}

// DueEmails lists pending messages due at now.
func (db *DB) DueEmails(ctx context.Context, now time.Time, limit int) ([]*Email, error) {
	rows, err := db.Query(ctx, `SELECT id, dedupe, aid, rcpt, subject, kind, window_id, status, attempts, next_at, last_error, created_at, sent_at, body FROM email_log WHERE status = 'pending' AND next_at <= ? ORDER BY id LIMIT ?`, NS(now), limit)
	if err != nil {
		return nil, classify(err)
	}
	defer rows.Close()
	var out []*Email
	for rows.Next() {
		e, err := scanEmail(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

func scanEmail(r rowScanner) (*Email, error) {
	var e Email
	var na, ca, sa int64
	err := r.Scan(&e.ID, &e.Dedupe, &e.AID, &e.Rcpt, &e.Subject, &e.Kind, &e.WindowID, &e.Status, &e.Attempts, &na, &e.LastError, &ca, &sa, &e.Body)
	e.NextAt, e.CreatedAt, e.SentAt = FromNS(na), FromNS(ca), FromNS(sa)
	return &e, err
}

// MarkEmail records a send attempt: sent, or failed with a retry time (or given up).
func (db *DB) MarkEmail(ctx context.Context, id int64, sent bool, at time.Time, errText string, next time.Time, giveUp bool) error {
	return db.Write(ctx, func(tx *Tx) error {
		status := "pending"
		var sentAt int64
		switch {
		case sent:
			status, sentAt = "sent", NS(at)
		case giveUp:
			status = "failed"
		}
		_, err := tx.Exec(`UPDATE email_log SET status = ?, attempts = attempts + 1, sent_at = ?, last_error = ?, next_at = ? WHERE id = ? AND status = 'pending'`,
			status, sentAt, errText, NS(next), id)
		return err
	})
}

// Emails lists the e-mail log, newest first (the operator console's view).
func (db *DB) Emails(ctx context.Context, limit int) ([]*Email, error) {
	rows, err := db.Query(ctx, `SELECT id, dedupe, aid, rcpt, subject, kind, window_id, status, attempts, next_at, last_error, created_at, sent_at, body FROM email_log ORDER BY id DESC LIMIT ?`, limit)
	if err != nil {
		return nil, classify(err)
	}
	defer rows.Close()
	var out []*Email
	for rows.Next() {
		e, err := scanEmail(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, rows.Err()
}
