package store

import (
	"context"
	"errors"
	"strings"
	"time"
)

// PaymentFilter is a control-panel search. AID is required: every query of the panel is bound to
// the signed-in user's store, so one store can never list another's payments.
type PaymentFilter struct {
	AID    string
	From   time.Time // created at or after (zero = no bound)
	To     time.Time // created before (zero = no bound)
	Status string    // one of the Status* values, "" = any
	Cod    string    // order number, prefix match
	Gid    string    // payment number, exact (an old one also without its leading zeros)
	Amount int64     // total (ta), exact; 0 = any
	Last4  string    // last four card digits, exact
	Em     string    // customer e-mail, exact, case-insensitive
	Method string    // card | cvs | bank, "" = any
	SlipNo string    // convenience-store payment number or bank reference, exact
	Limit  int
	Offset int
}

// ErrNoStore is returned by a search without a store: a programming error the panel must never make.
var ErrNoStore = errors.New("payment search without a store ID")

func (f *PaymentFilter) where() (string, []any, error) {
	if f.AID == "" {
		return "", nil, ErrNoStore
	}
	q := ` WHERE aid = ?`
	args := []any{f.AID}
	if !f.From.IsZero() {
		q += ` AND created_at >= ?`
		args = append(args, NS(f.From))
	}
	if !f.To.IsZero() {
		q += ` AND created_at < ?`
		args = append(args, NS(f.To))
	}
	if f.Status != "" {
		q += ` AND status = ?`
		args = append(args, f.Status)
	}
	if f.Cod != "" {
		q += ` AND cod LIKE ? ESCAPE '!'`
		args = append(args, escapeLike(f.Cod)+"%")
	}
	if f.Gid != "" {
		q += ` AND gid = ?`
		args = append(args, CanonicalID(f.Gid))
	}
	if f.Amount > 0 {
		q += ` AND ta = ?`
		args = append(args, f.Amount)
	}
	if f.Last4 != "" {
		q += ` AND last4 = ?`
		args = append(args, f.Last4)
	}
	if f.Em != "" {
		q += ` AND LOWER(em) = ?`
		args = append(args, strings.ToLower(f.Em))
	}
	if f.Method != "" {
		q += ` AND method = ?`
		args = append(args, f.Method)
		if f.Method != MethodCard {
			q += ` AND method <> 'card'` // lets SQLite use the partial index payments_method
		}
	}
	if f.SlipNo != "" {
		q += ` AND gid IN (SELECT gid FROM slips WHERE aid = ? AND pay_no = ?)`
		args = append(args, f.AID, f.SlipNo)
	}
	return q, args, nil
}

func escapeLike(s string) string {
	return strings.NewReplacer("!", "!!", "%", "!%", "_", "!_").Replace(s)
}

// SearchPayments lists one page of a store's payments matching f, newest first, and how many
// match in all.
func (db *DB) SearchPayments(ctx context.Context, f PaymentFilter) ([]*Payment, int, error) {
	w, args, err := f.where()
	if err != nil {
		return nil, 0, err
	}
	var total int
	if err := db.QueryRow(ctx, `SELECT COUNT(*) FROM payments`+w, args...).Scan(&total); err != nil {
		return nil, 0, classify(err)
	}
	if f.Limit <= 0 || f.Limit > 500 {
		f.Limit = 50
	}
	if f.Offset < 0 {
		f.Offset = 0
	}
	rows, err := db.Query(ctx, `SELECT `+paymentCols+` FROM payments`+w+` ORDER BY created_at DESC, gid DESC LIMIT ? OFFSET ?`,
		append(args, f.Limit, f.Offset)...)
	if err != nil {
		return nil, 0, classify(err)
	}
	defer rows.Close()
	var out []*Payment
	for rows.Next() {
		p, err := scanPayment(rows)
		if err != nil {
			return nil, 0, err
		}
		out = append(out, p)
	}
	return out, total, rows.Err()
}

// StreamPayments calls fn for every payment matching f (Limit and Offset ignored), newest first,
// without holding the whole set in memory: the CSV export streams through it.
func (db *DB) StreamPayments(ctx context.Context, f PaymentFilter, fn func(*Payment) error) error {
	w, args, err := f.where()
	if err != nil {
		return err
	}
	rows, err := db.Query(ctx, `SELECT `+paymentCols+` FROM payments`+w+` ORDER BY created_at DESC, gid DESC`, args...)
	if err != nil {
		return classify(err)
	}
	defer rows.Close()
	for rows.Next() {
		p, err := scanPayment(rows)
		if err != nil {
			return err
		}
		if err := fn(p); err != nil {
			return err
		}
	}
	return rows.Err()
}

// Totals sums a store's successful payments created in [from, to).
type Totals struct {
	Count      int   // successful payments (rst=1)
	Sales      int64 // captured minus refunded
	Authorized int64 // authorised and not yet captured
	Refunded   int64
}

// PaymentTotals sums a store's successful payments created in [from, to).
func (db *DB) PaymentTotals(ctx context.Context, aid string, from, to time.Time) (Totals, error) {
	var t Totals
	err := db.QueryRow(ctx, `SELECT COUNT(*), COALESCE(SUM(captured - refunded), 0),
		COALESCE(SUM(CASE WHEN status = 'authorized' THEN ta ELSE 0 END), 0), COALESCE(SUM(refunded), 0)
		FROM payments WHERE aid = ? AND rst = '1' AND created_at >= ? AND created_at < ?`, aid, NS(from), NS(to)).
		Scan(&t.Count, &t.Sales, &t.Authorized, &t.Refunded)
	return t, classify(err)
}

// DayTotal is one day's net sales and count.
type DayTotal struct {
	Day   time.Time // midnight of the day in the requested zone
	Count int
	Sales int64
}

// DailyTotals returns one entry per day of [from, to) in loc (days without payments included, as
// zeros). Days are cut at loc's offset at from, which is exact for zones without daylight saving
// such as Asia/Tokyo.
func (db *DB) DailyTotals(ctx context.Context, aid string, from, to time.Time, loc *time.Location) ([]DayTotal, error) {
	_, off := from.In(loc).Zone()
	offNS := int64(off) * int64(time.Second)
	const dayNS = int64(24 * time.Hour)
	rows, err := db.Query(ctx, `SELECT (created_at + ?) / ? AS d, COUNT(*), COALESCE(SUM(captured - refunded), 0)
		FROM payments WHERE aid = ? AND rst = '1' AND created_at >= ? AND created_at < ? GROUP BY d`,
		offNS, dayNS, aid, NS(from), NS(to))
	if err != nil {
		return nil, classify(err)
	}
	defer rows.Close()
	byDay := map[int64]DayTotal{}
	for rows.Next() {
		var d int64
		var t DayTotal
		if err := rows.Scan(&d, &t.Count, &t.Sales); err != nil {
			return nil, err
		}
		byDay[d] = t
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	var out []DayTotal
	f := from.In(loc)
	for day := time.Date(f.Year(), f.Month(), f.Day(), 0, 0, 0, 0, loc); day.Before(to); day = day.AddDate(0, 0, 1) {
		k := (day.UnixNano() + offNS) / dayNS
		t := byDay[k]
		t.Day = day
		out = append(out, t)
	}
	return out, nil
}
