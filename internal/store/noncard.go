package store

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"time"
)

// Payment methods (payments.method, maintenance scope method:X).
const (
	MethodCard = "card"
	MethodCVS  = "cvs"
	MethodBank = "bank"
)

// Slip states; the payment's status takes the same value.
const (
	SlipPending   = "pending"
	SlipPaid      = "paid"
	SlipExpired   = "expired"
	SlipCancelled = "cancelled"
)

// StoreMethods are a store's settings for the non-card methods (migration 0160).
type StoreMethods struct {
	AID          string
	Methods      []string // enabled methods: card, cvs, bank
	Chains       []string // enabled convenience-store chains (cv codes); empty = every chain
	CVSDays      int      // days a slip stays payable, cut at 23:59:59 JST
	BankDays     int      // days a virtual account takes a transfer, cut at 23:59:59 JST
	ExpiryNotice bool     // send a kickback when a slip expires (Kessai's own, wire.md §8 [D])
	HolidayHold  bool     // hold bank notices that fall on a Japanese public holiday
	UpdatedAt    time.Time
}

// DefaultStoreMethods is what a store without settings gets: cards only.
func DefaultStoreMethods(aid string) *StoreMethods {
	return &StoreMethods{AID: aid, Methods: []string{MethodCard}, CVSDays: 14, BankDays: 14, HolidayHold: true}
}

// Has reports whether the store takes method m.
func (m *StoreMethods) Has(method string) bool {
	for _, x := range m.Methods {
		if x == method {
			return true
		}
	}
	return false
}

// ChainEnabled reports whether the store takes chain cv (an empty list takes every chain).
func (m *StoreMethods) ChainEnabled(cv string) bool {
	if len(m.Chains) == 0 {
		return true
	}
	for _, x := range m.Chains {
		if x == cv {
			return true
		}
	}
	return false
}

// GetStoreMethods reads a store's method settings, the defaults when it has none.
func (db *DB) GetStoreMethods(ctx context.Context, aid string) (*StoreMethods, error) {
	m := &StoreMethods{AID: aid}
	var methods, chains string
	var exp, hold, ua int64
	err := db.QueryRow(ctx, `SELECT methods, chains, cvs_days, bank_days, expiry_notice, holiday_hold, updated_at FROM store_methods WHERE aid = ?`, aid).
		Scan(&methods, &chains, &m.CVSDays, &m.BankDays, &exp, &hold, &ua)
	if errors.Is(err, sql.ErrNoRows) {
		return DefaultStoreMethods(aid), nil
	}
	if err != nil {
		return nil, classify(err)
	}
	m.Methods, m.Chains = splitComma(methods), splitComma(chains)
	m.ExpiryNotice, m.HolidayHold, m.UpdatedAt = Bool(exp), Bool(hold), FromNS(ua)
	return m, nil
}

// PutStoreMethods writes a store's method settings.
func (db *DB) PutStoreMethods(ctx context.Context, m *StoreMethods) error {
	m.UpdatedAt = time.Now()
	return db.Tx(ctx, func(tx *Tx) error {
		if _, err := tx.Exec(`DELETE FROM store_methods WHERE aid = ?`, m.AID); err != nil {
			return err
		}
		_, err := tx.Exec(`INSERT INTO store_methods(aid, methods, chains, cvs_days, bank_days, expiry_notice, holiday_hold, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
			m.AID, strings.Join(m.Methods, ","), strings.Join(m.Chains, ","), m.CVSDays, m.BankDays, Int(m.ExpiryNotice), Int(m.HolidayHold), NS(m.UpdatedAt))
		return err
	})
}

func splitComma(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// Slip is a non-card payment's instrument: a convenience-store payment number or a bank virtual
// account, with its deadline and what arrived.
type Slip struct {
	Gid, AID, Method, State string
	Chain                   string // cv code, convenience store only
	PayNo                   string // 受付番号 / 払込票番号, or the bank reference (branch + account number)
	SlipURL                 string // the slip the shopper prints (none for FamilyMart)
	ViewKey                 string // secret part of the shopper's result-page link
	Bank                    string // the seven-field bank string (UTF-8), bank transfer only
	Kana                    string // na / nmf as given
	Postal                  string // po
	Deadline                time.Time
	Billed                  int64
	Received                int64
	ReceivedDate            string // YYYYMMDD (JST)
	Mf                      string // 1 exact, 2 less, 3 more
	Note                    string // the merchant's note on a bank difference
	SettleAt                time.Time
	SettleAmount            int64
	CreatedAt, UpdatedAt    time.Time
}

const slipCols = `gid, aid, method, state, chain, pay_no, slip_url, view_key, bank, kana, postal, deadline, billed, received, received_date, mf, note, settle_at, settle_amount, created_at, updated_at`

func scanSlip(r rowScanner) (*Slip, error) {
	var s Slip
	var dl, sa, ca, ua int64
	err := r.Scan(&s.Gid, &s.AID, &s.Method, &s.State, &s.Chain, &s.PayNo, &s.SlipURL, &s.ViewKey, &s.Bank, &s.Kana, &s.Postal,
		&dl, &s.Billed, &s.Received, &s.ReceivedDate, &s.Mf, &s.Note, &sa, &s.SettleAmount, &ca, &ua)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	s.Deadline, s.CreatedAt, s.UpdatedAt = FromNS(dl), FromNS(ca), FromNS(ua)
	if sa != 0 {
		s.SettleAt = FromNS(sa)
	}
	return &s, nil
}

// InsertSlip records a new slip, in the payment's transaction.
func (t *Tx) InsertSlip(s *Slip) error {
	var sa int64
	if !s.SettleAt.IsZero() {
		sa = NS(s.SettleAt)
	}
	_, err := t.Exec(`INSERT INTO slips(`+slipCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		s.Gid, s.AID, s.Method, s.State, s.Chain, s.PayNo, s.SlipURL, s.ViewKey, s.Bank, s.Kana, s.Postal, NS(s.Deadline), s.Billed,
		s.Received, s.ReceivedDate, s.Mf, s.Note, sa, s.SettleAmount, NS(s.CreatedAt), NS(s.UpdatedAt))
	if IsUnique(err) {
		return ErrConflict
	}
	return err
}

// SetPaymentMethod marks a payment's method (payments.method), in its transaction.
func (t *Tx) SetPaymentMethod(gid, method string) error {
	_, err := t.Exec(`UPDATE payments SET method = ? WHERE gid = ?`, method, gid)
	return err
}

// GetSlip reads a slip by gid (any store); ErrNotFound when absent.
func (db *DB) GetSlip(ctx context.Context, gid string) (*Slip, error) {
	return scanSlip(db.QueryRow(ctx, `SELECT `+slipCols+` FROM slips WHERE gid = ?`, CanonicalID(gid)))
}

// GetSlip reads a slip inside a transaction, locking it on PostgreSQL.
func (t *Tx) GetSlip(gid string) (*Slip, error) {
	q := `SELECT ` + slipCols + ` FROM slips WHERE gid = ?`
	if t.db.Dialect == Postgres {
		q += ` FOR UPDATE`
	}
	return scanSlip(t.QueryRow(q, CanonicalID(gid)))
}

// SlipByPayNo finds a slip by its payment number or bank reference.
func (db *DB) SlipByPayNo(ctx context.Context, aid, no string) (*Slip, error) {
	return scanSlip(db.QueryRow(ctx, `SELECT `+slipCols+` FROM slips WHERE aid = ? AND pay_no = ?`, aid, no))
}

// MoveSlip moves a slip and its payment from state from to to (compare-and-set) and records what
// arrived; it reports false when the slip was no longer in from.
func (t *Tx) MoveSlip(s *Slip, from string, captured int64, at time.Time) (bool, error) {
	res, err := t.Exec(`UPDATE slips SET state = ?, received = ?, received_date = ?, mf = ?, updated_at = ? WHERE gid = ? AND state = ?`,
		s.State, s.Received, s.ReceivedDate, s.Mf, NS(at), s.Gid, from)
	if err != nil {
		return false, err
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return false, nil
	}
	_, err = t.Exec(`UPDATE payments SET status = ?, captured = ?, updated_at = ? WHERE gid = ?`, s.State, captured, NS(at), s.Gid)
	return err == nil, err
}

// SetSlipNote keeps the merchant's note on a slip of its store.
func (db *DB) SetSlipNote(ctx context.Context, aid, gid, note string) error {
	return db.Tx(ctx, func(tx *Tx) error {
		res, err := tx.Exec(`UPDATE slips SET note = ? WHERE gid = ? AND aid = ?`, note, CanonicalID(gid), aid)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return ErrNotFound
		}
		return nil
	})
}

// DueSlips lists pending slips whose deadline is before now, or whose automatic settlement (a
// sandbox test value) is due, at most limit.
func (db *DB) DueSlips(ctx context.Context, now time.Time, limit int) ([]*Slip, error) {
	rows, err := db.Query(ctx, `SELECT `+slipCols+` FROM slips WHERE state = 'pending' AND (deadline < ? OR (settle_at > 0 AND settle_at <= ?)) ORDER BY deadline LIMIT ?`,
		NS(now), NS(now), limit)
	if err != nil {
		return nil, classify(err)
	}
	defer rows.Close()
	var out []*Slip
	for rows.Next() {
		s, err := scanSlip(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, rows.Err()
}

// PaymentMethod reads a payment's method.
func (db *DB) PaymentMethod(ctx context.Context, gid string) (string, error) {
	var m string
	err := db.QueryRow(ctx, `SELECT method FROM payments WHERE gid = ?`, CanonicalID(gid)).Scan(&m)
	if errors.Is(err, sql.ErrNoRows) {
		return "", ErrNotFound
	}
	return m, classify(err)
}

// MethodDayTotal is one day's net sales of one payment method.
type MethodDayTotal struct {
	Day    time.Time
	Method string
	Count  int
	Sales  int64
}

// DailyTotalsByMethod is DailyTotals split by payment method: one entry per day of [from, to) and
// method (days without payments as zeros), for methods card, cvs and bank.
func (db *DB) DailyTotalsByMethod(ctx context.Context, aid string, from, to time.Time, loc *time.Location) ([]MethodDayTotal, error) {
	_, off := from.In(loc).Zone()
	offNS := int64(off) * int64(time.Second)
	const dayNS = int64(24 * time.Hour)
	rows, err := db.Query(ctx, `SELECT (created_at + ?) / ? AS d, method, COUNT(*), COALESCE(SUM(captured - refunded), 0)
		FROM payments WHERE aid = ? AND rst = '1' AND created_at >= ? AND created_at < ? GROUP BY d, method`,
		offNS, dayNS, aid, NS(from), NS(to))
	if err != nil {
		return nil, classify(err)
	}
	defer rows.Close()
	type key struct {
		d int64
		m string
	}
	got := map[key]MethodDayTotal{}
	for rows.Next() {
		var d int64
		var t MethodDayTotal
		if err := rows.Scan(&d, &t.Method, &t.Count, &t.Sales); err != nil {
			return nil, err
		}
		got[key{d, t.Method}] = t
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	var out []MethodDayTotal
	f := from.In(loc)
	for day := time.Date(f.Year(), f.Month(), f.Day(), 0, 0, 0, 0, loc); day.Before(to); day = day.AddDate(0, 0, 1) {
		k := (day.UnixNano() + offNS) / dayNS
		for _, m := range []string{MethodCard, MethodCVS, MethodBank} {
			t := got[key{k, m}]
			t.Day, t.Method = day, m
			out = append(out, t)
		}
	}
	return out, nil
}
