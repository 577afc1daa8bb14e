package store

import (
	"context"
	"database/sql"
	"errors"
	"time"
)

// Void is an authorisation to be voided at the acquirer because its payment is not recorded.
type Void struct {
	ID        int64
	AID, Gid  string
	Cod       string
	NetRef    string
	Reason    string // lost-race | lost-race-unread (checked before voiding) | not-recorded | unknown-outcome
	Status    string // pending | done
	Attempts  int
	NextAt    time.Time
	CreatedAt time.Time
	DoneAt    time.Time
	LastError string
}

// QueueVoid records that v.NetRef must be voided (again pending if it was queued before) — or,
// with v.Status "done", that it was voided already (sent while the database was away: the
// record only catches up, and the worker does not send it again).
func (db *DB) QueueVoid(ctx context.Context, v *Void) error {
	status, attempts := "pending", 0
	if v.Status == "done" {
		status, attempts = "done", 1
	}
	return db.Write(ctx, func(tx *Tx) error {
		_, err := tx.Exec(`INSERT INTO acquirer_voids(aid, gid, cod, net_ref, reason, status, attempts, next_at, created_at, done_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (net_ref) DO UPDATE SET status = excluded.status, next_at = excluded.next_at, done_at = excluded.done_at, lease_until = 0`,
			v.AID, v.Gid, v.Cod, v.NetRef, v.Reason, status, attempts, NS(v.NextAt), NS(v.CreatedAt), NS(v.DoneAt))
		return err
	})
}

const voidCols = `id, aid, gid, cod, net_ref, reason, status, attempts, next_at, created_at, done_at, last_error`

// ClaimVoids leases up to limit due voids to the caller until now+lease.
func (db *DB) ClaimVoids(ctx context.Context, now time.Time, limit int, lease time.Duration) ([]*Void, error) {
	rows, err := db.Query(ctx, `SELECT `+voidCols+` FROM acquirer_voids WHERE status = 'pending' AND next_at <= ? AND lease_until < ? ORDER BY next_at LIMIT ?`,
		NS(now), NS(now), limit)
	if err != nil {
		return nil, classify(err)
	}
	var cands []*Void
	for rows.Next() {
		var v Void
		var na, ca, da int64
		if err := rows.Scan(&v.ID, &v.AID, &v.Gid, &v.Cod, &v.NetRef, &v.Reason, &v.Status, &v.Attempts, &na, &ca, &da, &v.LastError); err != nil {
			rows.Close()
			return nil, err
		}
		v.NextAt, v.CreatedAt, v.DoneAt = FromNS(na), FromNS(ca), FromNS(da)
		cands = append(cands, &v)
	}
	rows.Close()
	if len(cands) == 0 {
		return nil, rows.Err()
	}
	var got []*Void
	err = db.Write(ctx, func(tx *Tx) error {
		got = got[:0]
		for _, v := range cands {
			res, err := tx.Exec(`UPDATE acquirer_voids SET lease_until = ? WHERE id = ? AND status = 'pending' AND lease_until < ?`, NS(now.Add(lease)), v.ID, NS(now))
			if err != nil {
				return err
			}
			if n, _ := res.RowsAffected(); n == 1 {
				got = append(got, v)
			}
		}
		return nil
	})
	return got, err
}

// FinishVoid records one attempt: done when the network acknowledged it, else due again at next.
func (db *DB) FinishVoid(ctx context.Context, id int64, done bool, at, next time.Time, errText string) error {
	return db.Write(ctx, func(tx *Tx) error {
		if done {
			_, err := tx.Exec(`UPDATE acquirer_voids SET status = 'done', attempts = attempts + 1, done_at = ?, lease_until = 0, last_error = '' WHERE id = ?`, NS(at), id)
			return err
		}
		_, err := tx.Exec(`UPDATE acquirer_voids SET attempts = attempts + 1, next_at = ?, lease_until = 0, last_error = ? WHERE id = ?`, NS(next), errText, id)
		return err
	})
}

// PendingVoids counts voids not yet acknowledged.
func (db *DB) PendingVoids(ctx context.Context) (int, error) {
	var n int
	err := db.QueryRow(ctx, `SELECT COUNT(*) FROM acquirer_voids WHERE status = 'pending'`).Scan(&n)
	return n, classify(err)
}

// ClaimFollowUp takes a payment for one follow-up (SALES, CANCEL, refund) until until, when it is
// in state from and no other follow-up holds it; false when another holds it or it changed.
func (db *DB) ClaimFollowUp(ctx context.Context, aid, gid, from string, now, until time.Time) (bool, error) {
	var ok bool
	err := db.Write(ctx, func(tx *Tx) error {
		res, err := tx.Exec(`UPDATE payments SET follow_lock = ? WHERE gid = ? AND aid = ? AND status = ? AND follow_lock < ?`, NS(until), gid, aid, from, NS(now))
		if err != nil {
			return err
		}
		n, _ := res.RowsAffected()
		ok = n == 1
		return nil
	})
	return ok, classify(err)
}

// ClaimFollowUpPayment claims payment gid of store aid for a follow-up, as ClaimFollowUp does,
// and returns the payment as the claim left it, from the same statement (UPDATE … RETURNING): a
// capture needs no read before its claim. ErrNotFound when nothing was claimed — no such
// payment, another status, or held by another follow-up; the caller reads the payment to say
// which.
func (db *DB) ClaimFollowUpPayment(ctx context.Context, aid, gid, from string, now, until time.Time) (*Payment, error) {
	gid = CanonicalID(gid)
	var p *Payment
	err := db.Write(ctx, func(tx *Tx) error {
		var err error
		p, err = tx.ClaimCommittedPayment(aid, gid, from, now, until)
		return err
	})
	if err != nil {
		return nil, classify(err)
	}
	if p == nil {
		return nil, ErrNotFound
	}
	return p, nil
}

// ClaimCommittedPayment is ClaimFollowUpPayment's statement: it returns the claimed payment, or
// nil when none was claimed. The payment is one an earlier batch committed (its gid was answered),
// so the claim runs beside the rows this batch has buffered (Tx.execBeside).
func (t *Tx) ClaimCommittedPayment(aid, gid, from string, now, until time.Time) (*Payment, error) {
	p, err := scanPayment(t.queryRowBeside(`UPDATE payments SET follow_lock = ? WHERE gid = ? AND aid = ? AND status = ? AND follow_lock < ? RETURNING `+paymentCols,
		NS(until), gid, aid, from, NS(now)))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	return p, err
}

// ReleaseFollowUp gives a claimed payment back (the network refused the follow-up).
func (db *DB) ReleaseFollowUp(ctx context.Context, gid string) error {
	return db.Write(ctx, func(tx *Tx) error {
		_, err := tx.Exec(`UPDATE payments SET follow_lock = 0 WHERE gid = ?`, gid)
		return err
	})
}

// Claim outcomes of an outcome-unknown charge (unknown_outcome_claims).
const (
	ClaimRecorded = "recorded" // a payment records the charge
	ClaimVoid     = "void"     // the reconciler voids it
)

// UnknownQueued reports whether a reconciliation was ever queued for keyRef (an outcome-unknown
// charge's acquirer.KeyRef), pending or done: a payment recording a charge made under that key
// must then claim it first (ClaimUnknown).
func (t *Tx) UnknownQueued(keyRef string) (bool, error) {
	var n int
	err := t.QueryRow(`SELECT COUNT(*) FROM acquirer_voids WHERE net_ref = ?`, keyRef).Scan(&n)
	return n > 0, err
}

// ClaimUnknown claims the processor reference netRef of an outcome-unknown charge for outcome
// (ClaimRecorded or ClaimVoid) and returns the outcome that holds: the first claim's. Two claims
// racing on PostgreSQL serialise on the primary key (the second waits for the first to commit).
func (t *Tx) ClaimUnknown(netRef, outcome, gid string, at time.Time) (string, error) {
	if _, err := t.Exec(`INSERT INTO unknown_outcome_claims(net_ref, outcome, gid, claimed_at) VALUES (?, ?, ?, ?) ON CONFLICT (net_ref) DO NOTHING`,
		netRef, outcome, gid, NS(at)); err != nil {
		return "", err
	}
	var won string
	err := t.QueryRow(`SELECT outcome FROM unknown_outcome_claims WHERE net_ref = ?`, netRef).Scan(&won)
	return won, err
}
