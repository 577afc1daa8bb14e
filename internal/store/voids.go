package store

import (
	"context"
	"errors"
	"math/rand/v2"
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
	// LeaseUntil is, on a void returned by ClaimVoids or renewed by RenewVoidClaim, the end of the
	// caller's lease: also its claim token, since lease_until changes whenever anyone else claims
	// the void (see RenewVoidClaim).
	LeaseUntil time.Time
}

// QueueVoid records that v.NetRef must be voided (again pending if it was queued before).
func (db *DB) QueueVoid(ctx context.Context, v *Void) error {
	return db.Write(ctx, func(tx *Tx) error {
		_, err := tx.Exec(`INSERT INTO acquirer_voids(aid, gid, cod, net_ref, reason, status, attempts, next_at, created_at) VALUES (?, ?, ?, ?, ?, 'pending', 0, ?, ?)
			ON CONFLICT (net_ref) DO UPDATE SET status = 'pending', next_at = excluded.next_at, lease_until = 0`,
			v.AID, v.Gid, v.Cod, v.NetRef, v.Reason, NS(v.NextAt), NS(v.CreatedAt))
		return err
	})
}

const voidCols = `id, aid, gid, cod, net_ref, reason, status, attempts, next_at, created_at, done_at, last_error`

// ClaimVoids leases up to limit due voids to the caller until now+lease (each one's LeaseUntil, with
// a random part of a millisecond: leaseEnd); no one else claims them before then.
// An error wrapping ErrOutcomeUnknown (the COMMIT's answer was lost) comes with the voids it tried
// to claim, each with the LeaseUntil it would have: whether the caller holds them is unknown until
// RenewVoidClaim says so.
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
	until := leaseEnd(now, lease)
	for _, v := range cands {
		v.LeaseUntil = until
	}
	var got []*Void
	err = db.Write(ctx, func(tx *Tx) error {
		got = got[:0]
		for _, v := range cands {
			// lease_until = until: this very claim, when a first attempt of the batch committed
			// but its answer was lost and the writer ran the batch again
			res, err := tx.Exec(`UPDATE acquirer_voids SET lease_until = ? WHERE id = ? AND status = 'pending' AND (lease_until < ? OR lease_until = ?)`,
				NS(until), v.ID, NS(now), NS(until))
			if err != nil {
				return err
			}
			if n, _ := res.RowsAffected(); n == 1 {
				got = append(got, v)
			}
		}
		return nil
	})
	if errors.Is(err, ErrOutcomeUnknown) {
		return cands, err
	}
	return got, err
}

// leaseEnd is the end of a void's lease taken at now, which is also its holder's token: now+lease
// and a random part of a millisecond, so that two claimers' tokens differ even when their clocks
// read the same instant (coarse clocks do, and tests' fixed ones).
func leaseEnd(now time.Time, lease time.Duration) time.Time {
	return now.Add(lease + rand.N(time.Millisecond))
}

// RenewVoidClaim extends the caller's claim on void id to now+lease and returns that new end (the
// new token). The claim holds when the void is still pending and either still the caller's — its
// lease_until is token, the end its claim or last renewal wrote, or maybe (when not zero) one a
// renewal whose outcome is unknown may have written — or lapsed and claimable by anyone, as
// ClaimVoids would claim it (lease_until < now, due). It is refused (false) when another claimer
// holds it, when it is done, or when an attempt was recorded since (it is due again later).
//
// Why a token is safe: a claimer other than the holder writes lease_until only once the lease
// lapsed (lease_until < its now), and writes its now+lease, greater than the end it displaced; so
// a void claimed by someone else shows the holder's token (or the end its own renewal writes, also
// accepted, for a renewal whose first attempt committed unseen) only if two lease ends coincide
// to the nanosecond, random part included (leaseEnd) — and at worst the void is then sent twice,
// which the network takes. When the error wraps ErrOutcomeUnknown, the returned end may have been
// written: pass it as maybe to the next renewal.
func (db *DB) RenewVoidClaim(ctx context.Context, id int64, token, maybe, now time.Time, lease time.Duration) (time.Time, bool, error) {
	if maybe.IsZero() {
		maybe = token
	}
	until := leaseEnd(now, lease)
	var ok bool
	err := db.Write(ctx, func(tx *Tx) error {
		// lease_until = until: this very renewal, when a first attempt of the batch committed but
		// its answer was lost and the writer ran the batch again
		res, err := tx.Exec(`UPDATE acquirer_voids SET lease_until = ? WHERE id = ? AND status = 'pending'
			AND (lease_until IN (?, ?, ?) OR (lease_until < ? AND next_at <= ?))`,
			NS(until), id, NS(token), NS(maybe), NS(until), NS(now), NS(now))
		if err != nil {
			return err
		}
		n, _ := res.RowsAffected()
		ok = n == 1
		return nil
	})
	if err != nil {
		if !errors.Is(err, ErrOutcomeUnknown) {
			err = classify(err) // (classify would hide ErrOutcomeUnknown)
		}
		return until, false, err
	}
	return until, ok, nil
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
