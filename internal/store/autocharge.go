package store

import (
	"context"
	"database/sql"
	"errors"
	"sort"
	"time"
)

// AutoCharge is a recurring-billing plan (自動課金): what to charge, on which card, on which
// schedule, and where the runner stands. The rules (schedule, retries, stops) belong to package
// autocharge; this is only its row.
type AutoCharge struct {
	Acid, AID string
	Gid, Cod  string // the sign-up payment
	CardID    int64
	Status    string // ACActive | ACStopped | ACFailed | ACCompleted
	Cycle     int    // actp
	Am        int64  // acam
	Tx        int64  // actx
	Sf        int64  // acsf
	// Day is the resolved charge day of the month for monthly-type cycles: 1–31 (a month without
	// that day charges on its last day) or 99 for the last day; 0 for weekly cycles.
	Day       int
	StopAfter int    // ac3: stop after this many charges, 0 never
	FirstDate string // YYYYMMDD of the first scheduled charge
	// Terms holds the rarely used terms (trial, end date) in a compact encoding owned by package
	// autocharge (column "trial").
	Terms    string
	Em, Pn   string
	Charges  int // successful charges so far
	Failures int // declined attempts of the current period (the next attempt's number)
	NextDate string
	NextAt   time.Time // when the next attempt is due
	// StopRequestedAt is when a customer, merchant or operator asked to stop; StoppedAt when the
	// plan stopped charging (also set on completion and on a stop after failed retries).
	StopRequestedAt, StoppedAt time.Time
	LeaseUntil                 time.Time
	CreatedAt, UpdatedAt       time.Time
}

// Auto-charge statuses. Only an active plan charges; every other status is final.
const (
	ACActive    = "active"
	ACStopped   = "stopped"   // stopped by the customer, the merchant or an operator
	ACFailed    = "failed"    // stopped automatically after the last retry was declined
	ACCompleted = "completed" // reached its stop count (ac3) or end date
)

const acCols = `acid, aid, gid, cod, card_id, status, actp, acam, actx, acsf, ac1, ac3, first_date, trial, em, pn, charges, failures, next_date, next_at, stop_requested_at, stopped_at, lease_until, created_at, updated_at`

func scanAutoCharge(r rowScanner) (*AutoCharge, error) {
	var a AutoCharge
	var na, sra, sa, lu, ca, ua int64
	err := r.Scan(&a.Acid, &a.AID, &a.Gid, &a.Cod, &a.CardID, &a.Status, &a.Cycle, &a.Am, &a.Tx, &a.Sf, &a.Day, &a.StopAfter,
		&a.FirstDate, &a.Terms, &a.Em, &a.Pn, &a.Charges, &a.Failures, &a.NextDate, &na, &sra, &sa, &lu, &ca, &ua)
	if err != nil {
		return nil, err
	}
	a.NextAt, a.StopRequestedAt, a.StoppedAt, a.LeaseUntil = FromNS(na), FromNS(sra), FromNS(sa), FromNS(lu)
	a.CreatedAt, a.UpdatedAt = FromNS(ca), FromNS(ua)
	return &a, nil
}

// InsertAutoCharge records a new plan, inside the sign-up payment's transaction.
func (t *Tx) InsertAutoCharge(a *AutoCharge) error {
	_, err := t.Exec(`INSERT INTO autocharges(`+acCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		a.Acid, a.AID, a.Gid, a.Cod, a.CardID, a.Status, a.Cycle, a.Am, a.Tx, a.Sf, a.Day, a.StopAfter, a.FirstDate, a.Terms,
		a.Em, a.Pn, a.Charges, a.Failures, a.NextDate, NS(a.NextAt), NS(a.StopRequestedAt), NS(a.StoppedAt), NS(a.LeaseUntil),
		NS(a.CreatedAt), NS(a.UpdatedAt))
	if IsUnique(err) {
		return ErrConflict
	}
	return err
}

// GetAutoCharge reads a store's plan by acid, in either form of an old ID (CanonicalID);
// ErrNotFound when absent or another store's.
func (db *DB) GetAutoCharge(ctx context.Context, aid, acid string) (*AutoCharge, error) {
	acid = CanonicalID(acid)
	a, err := scanAutoCharge(db.QueryRow(ctx, `SELECT `+acCols+` FROM autocharges WHERE acid = ? AND aid = ?`, acid, aid))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	return a, classify(err)
}

// LockAutoCharge reads a plan for update inside a transaction (row-locked on PostgreSQL; SQLite's
// single writer serialises anyway); ErrNotFound when absent or another store's.
func (t *Tx) LockAutoCharge(aid, acid string) (*AutoCharge, error) {
	acid = CanonicalID(acid)
	q := `SELECT ` + acCols + ` FROM autocharges WHERE acid = ? AND aid = ?`
	if t.db.Dialect == Postgres {
		q += ` FOR UPDATE`
	}
	a, err := scanAutoCharge(t.QueryRow(q, acid, aid))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	return a, err
}

// SaveAutoCharge writes every mutable column of a plan read with LockAutoCharge.
func (t *Tx) SaveAutoCharge(a *AutoCharge) error {
	_, err := t.Exec(`UPDATE autocharges SET card_id = ?, status = ?, actp = ?, acam = ?, actx = ?, acsf = ?, ac1 = ?, ac3 = ?, first_date = ?, trial = ?, charges = ?, failures = ?, next_date = ?, next_at = ?, stop_requested_at = ?, stopped_at = ?, lease_until = ?, updated_at = ? WHERE acid = ?`,
		a.CardID, a.Status, a.Cycle, a.Am, a.Tx, a.Sf, a.Day, a.StopAfter, a.FirstDate, a.Terms, a.Charges, a.Failures, a.NextDate,
		NS(a.NextAt), NS(a.StopRequestedAt), NS(a.StoppedAt), NS(a.LeaseUntil), NS(a.UpdatedAt), a.Acid)
	return err
}

// UpdateAutoChargeIf saves a plan like SaveAutoCharge, but only if the stored plan still stands
// where the caller last saw it: active, at period and attempt, unchanged since updatedAt. It
// reports false when the plan moved on (a stop, a change, another runner).
func (t *Tx) UpdateAutoChargeIf(a *AutoCharge, period string, attempt int, updatedAt time.Time) (bool, error) {
	res, err := t.Exec(`UPDATE autocharges SET card_id = ?, status = ?, actp = ?, acam = ?, actx = ?, acsf = ?, ac1 = ?, ac3 = ?, first_date = ?, trial = ?, charges = ?, failures = ?, next_date = ?, next_at = ?, stop_requested_at = ?, stopped_at = ?, lease_until = ?, updated_at = ? WHERE acid = ? AND status = 'active' AND next_date = ? AND failures = ? AND updated_at = ?`,
		a.CardID, a.Status, a.Cycle, a.Am, a.Tx, a.Sf, a.Day, a.StopAfter, a.FirstDate, a.Terms, a.Charges, a.Failures, a.NextDate,
		NS(a.NextAt), NS(a.StopRequestedAt), NS(a.StoppedAt), NS(a.LeaseUntil), NS(a.UpdatedAt), a.Acid, period, attempt, NS(updatedAt))
	if err != nil {
		return false, err
	}
	n, _ := res.RowsAffected()
	return n == 1, nil
}

// AutoChargeFilter narrows a listing; empty fields match everything.
type AutoChargeFilter struct {
	AID    string
	Status string
	Limit  int
	Offset int // rows to skip, for paging
}

// ListAutoCharges lists plans, newest first.
func (db *DB) ListAutoCharges(ctx context.Context, f AutoChargeFilter) ([]*AutoCharge, error) {
	q := `SELECT ` + acCols + ` FROM autocharges WHERE 1=1`
	var args []any
	if f.AID != "" {
		q += ` AND aid = ?`
		args = append(args, f.AID)
	}
	if f.Status != "" {
		q += ` AND status = ?`
		args = append(args, f.Status)
	}
	if f.Limit <= 0 {
		f.Limit = 100
	}
	if f.Offset < 0 {
		f.Offset = 0
	}
	q += ` ORDER BY created_at DESC, acid DESC LIMIT ? OFFSET ?`
	args = append(args, f.Limit, f.Offset)
	rows, err := db.Query(ctx, q, args...)
	if err != nil {
		return nil, classify(err)
	}
	defer rows.Close()
	var out []*AutoCharge
	for rows.Next() {
		a, err := scanAutoCharge(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, rows.Err()
}

// ClaimAutoCharges leases up to limit active plans due at now to the caller until now+lease and
// returns them as they stand after the claim, oldest due first. One statement does it, a
// compare-and-set on lease_until: the conditions are repeated outside the sub-select so that, on
// PostgreSQL, a row another runner leased meanwhile is re-checked and skipped (and rows being
// claimed right now are skipped outright), so two runners — in one process or several — never
// hold the same plan at once. The charge itself is still guarded by the database
// (autocharge_runs' unique key, payments' unique cod, the plan's compare-and-set).
func (db *DB) ClaimAutoCharges(ctx context.Context, now time.Time, limit int, lease time.Duration) ([]*AutoCharge, error) {
	sub := `SELECT acid FROM autocharges WHERE status = 'active' AND next_at <= ? AND lease_until < ? ORDER BY next_at LIMIT ?`
	if db.Dialect == Postgres {
		sub += ` FOR UPDATE SKIP LOCKED` // rows another claim is taking right now are left to it
	}
	// An idle poll stays a cheap read: the write transaction only when something is due.
	var one int
	err := db.QueryRow(ctx, `SELECT 1 FROM autocharges WHERE status = 'active' AND next_at <= ? AND lease_until < ? LIMIT 1`, NS(now), NS(now)).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, classify(err)
	}
	var got []*AutoCharge
	err = db.Write(ctx, func(tx *Tx) error {
		got = got[:0]
		rows, err := tx.Query(`UPDATE autocharges SET lease_until = ? WHERE acid IN (`+sub+`) AND status = 'active' AND next_at <= ? AND lease_until < ? RETURNING `+acCols,
			NS(now.Add(lease)), NS(now), NS(now), limit, NS(now), NS(now))
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			a, err := scanAutoCharge(rows)
			if err != nil {
				return err
			}
			got = append(got, a)
		}
		return rows.Err()
	})
	sort.Slice(got, func(i, j int) bool { return got[i].NextAt.Before(got[j].NextAt) })
	return got, err
}

// HoldAutoCharge sets a claimed plan's lease to until: 0 releases it at once, a later instant
// keeps other runners off it until then (e.g. its store is suspended).
func (db *DB) HoldAutoCharge(ctx context.Context, acid string, until time.Time) error {
	return db.Write(ctx, func(tx *Tx) error {
		_, err := tx.Exec(`UPDATE autocharges SET lease_until = ? WHERE acid = ?`, NS(until), acid)
		return err
	})
}

// ACRun is one charge attempt of a plan for one period. (acid, period, attempt) is unique, so
// an attempt is recorded — and notified — once, whatever runs it.
type ACRun struct {
	ID      int64
	Acid    string
	Period  string // YYYYMMDD of the scheduled charge
	Attempt int    // 0 for the scheduled charge, 1… for retries
	Gid     string
	Rst     string // 1 charged, 2 declined
	Ec      string
	Am      int64 // total charged or attempted
	At      time.Time
}

// InsertACRun records an attempt; it reports false when this attempt was already recorded.
func (t *Tx) InsertACRun(r *ACRun) (bool, error) {
	res, err := t.Exec(`INSERT INTO autocharge_runs(acid, period, attempt, gid, rst, ec, am, at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
		r.Acid, r.Period, r.Attempt, r.Gid, r.Rst, r.Ec, r.Am, NS(r.At))
	if err != nil {
		return false, err
	}
	n, _ := res.RowsAffected()
	return n == 1, nil
}

// ACRuns lists a plan's attempts, oldest first.
func (db *DB) ACRuns(ctx context.Context, acid string) ([]ACRun, error) {
	acid = CanonicalID(acid)
	rows, err := db.Query(ctx, `SELECT id, acid, period, attempt, gid, rst, ec, am, at FROM autocharge_runs WHERE acid = ? ORDER BY id`, acid)
	if err != nil {
		return nil, classify(err)
	}
	defer rows.Close()
	var out []ACRun
	for rows.Next() {
		var r ACRun
		var at int64
		if err := rows.Scan(&r.ID, &r.Acid, &r.Period, &r.Attempt, &r.Gid, &r.Rst, &r.Ec, &r.Am, &at); err != nil {
			return nil, err
		}
		r.At = FromNS(at)
		out = append(out, r)
	}
	return out, rows.Err()
}

// SetPaymentAcid links a payment to its plan after the fact (a declined run's payment is recorded
// before the runner knows the outcome).
func (t *Tx) SetPaymentAcid(gid, acid string) error {
	_, err := t.Exec(`UPDATE payments SET acid = ? WHERE gid = ?`, acid, gid)
	return err
}

// AuditAutoCharge appends an audit-log entry for a plan inside a transaction, so the entry and the
// change it records commit together.
func (t *Tx) AuditAutoCharge(at time.Time, actor, aid, action, detail string) error {
	_, err := t.Exec(`INSERT INTO audit_log(at, actor, aid, action, detail, remote) VALUES (?, ?, ?, ?, ?, '')`,
		NS(at), actor, aid, action, detail)
	return err
}
