package store

import (
	"context"
	"database/sql"
	"errors"
	"net/url"
	"strings"
	"time"
)

// Kickback categories, as the kickback API and the panel's delivery log filter them (issue 16).
const (
	CategoryPayment        = "payment"         // a payment's result (kind result)
	CategoryAutoChargeRun  = "autocharge.run"  // an auto-charge run: charged, declined, retried
	CategoryAutoChargeStop = "autocharge.stop" // an auto-charge stopped (rst=4)
	CategoryNotice         = "notice"          // a non-card payment's notice (any other kind)
)

// Categories lists the categories in display order.
var Categories = []string{CategoryPayment, CategoryAutoChargeRun, CategoryAutoChargeStop, CategoryNotice}

// Delivery states, as the API filters them.
const (
	StateDelivered = "delivered" // the receiver answered 2xx
	StateFailing   = "failing"   // at least one attempt failed and none succeeded (retrying, or given up)
	StatePending   = "pending"   // not tried yet
)

// Category is the category of a kickback.
func (k *Kickback) Category() string {
	switch {
	case k.Kind == "result":
		return CategoryPayment
	case k.Kind == "autocharge" && strings.Contains("&"+k.Query+"&", "&rst=4&"):
		return CategoryAutoChargeStop
	case k.Kind == "autocharge":
		return CategoryAutoChargeRun
	}
	return CategoryNotice
}

// State is the delivery state of a kickback: delivered, failing or pending.
func (k *Kickback) State() string {
	switch {
	case k.Status == KickbackDelivered:
		return StateDelivered
	case k.Status == KickbackFailed || k.Attempts > 0:
		return StateFailing
	}
	return StatePending
}

// Param is one parameter of the kickback's query (cod, rst, …); empty when absent.
func (k *Kickback) Param(name string) string {
	for _, kv := range strings.Split(k.Query, "&") {
		if n, v, ok := strings.Cut(kv, "="); ok && n == name {
			s, err := url.QueryUnescape(v)
			if err != nil {
				return v
			}
			return s
		}
	}
	return ""
}

// KickbackFilter selects kickbacks of one store. Zero fields do not filter.
type KickbackFilter struct {
	From, To time.Time // created at From ≤ t < To
	Gid, Cod string
	State    string // delivered | failing | pending
	Kind     string // a category: payment | autocharge.run | autocharge.stop | notice
}

// Empty reports whether the filter selects everything.
func (f KickbackFilter) Empty() bool {
	return f.From.IsZero() && f.To.IsZero() && f.Gid == "" && f.Cod == "" && f.State == "" && f.Kind == ""
}

var likeEsc = strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)

// where renders the filter as SQL conditions on the kickbacks table aliased k.
func (f KickbackFilter) where(aid string) (string, []any) {
	q := `k.aid = ?`
	args := []any{aid}
	if !f.From.IsZero() {
		q += ` AND k.created_at >= ?`
		args = append(args, NS(f.From))
	}
	if !f.To.IsZero() {
		q += ` AND k.created_at < ?`
		args = append(args, NS(f.To))
	}
	if f.Gid != "" {
		q += ` AND k.gid = ?`
		args = append(args, f.Gid)
	}
	if f.Cod != "" {
		q += ` AND k.query LIKE ? ESCAPE '\'`
		args = append(args, "%&cod="+likeEsc.Replace(url.QueryEscape(f.Cod))+"&%")
	}
	switch f.State {
	case StateDelivered:
		q += ` AND k.status = 'delivered'`
	case StateFailing:
		q += ` AND (k.status = 'failed' OR (k.status = 'pending' AND k.attempts > 0))`
	case StatePending:
		q += ` AND k.status = 'pending' AND k.attempts = 0`
	}
	switch f.Kind {
	case CategoryPayment:
		q += ` AND k.kind = 'result'`
	case CategoryAutoChargeRun:
		q += ` AND k.kind = 'autocharge' AND k.query NOT LIKE '%&rst=4&%'`
	case CategoryAutoChargeStop:
		q += ` AND k.kind = 'autocharge' AND k.query LIKE '%&rst=4&%'`
	case CategoryNotice:
		q += ` AND k.kind NOT IN ('result', 'autocharge')`
	}
	return q, args
}

var kbColsK = "k." + strings.ReplaceAll(kbCols, ", ", ", k.")

// ListKickbacks lists a store's kickbacks matching f, newest first, starting below the id before
// (0: from the newest); at most limit.
func (db *DB) ListKickbacks(ctx context.Context, aid string, f KickbackFilter, before int64, limit int) ([]*Kickback, error) {
	w, args := f.where(aid)
	if before > 0 {
		w += ` AND k.id < ?`
		args = append(args, before)
	}
	args = append(args, limit)
	rows, err := db.Query(ctx, `SELECT `+kbColsK+` FROM kickbacks k WHERE `+w+` ORDER BY k.id DESC LIMIT ?`, args...)
	if err != nil {
		return nil, classify(err)
	}
	defer rows.Close()
	var out []*Kickback
	for rows.Next() {
		k, err := scanKickback(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, k)
	}
	return out, rows.Err()
}

// ResendMatching queues again, now, up to max kickbacks of a store matching f (the bulk resend);
// it returns their ids, oldest first.
func (db *DB) ResendMatching(ctx context.Context, aid string, f KickbackFilter, now time.Time, max int) ([]int64, error) {
	ks, err := db.ListKickbacks(ctx, aid, f, 0, max)
	if err != nil {
		return nil, err
	}
	ids := make([]int64, 0, len(ks))
	for i := len(ks) - 1; i >= 0; i-- {
		ids = append(ids, ks[i].ID)
	}
	if len(ids) == 0 {
		return ids, nil
	}
	err = db.Write(ctx, func(tx *Tx) error {
		for _, id := range ids {
			if _, err := tx.Exec(`UPDATE kickbacks SET status = 'pending', next_at = ?, lease_until = 0 WHERE id = ? AND aid = ?`, NS(now), id, aid); err != nil {
				return err
			}
			if err := tx.feed(aid, id, now, "resend"); err != nil {
				return err
			}
		}
		return nil
	})
	return ids, err
}

func (t *Tx) feed(aid string, id int64, at time.Time, reason string) error {
	_, err := t.Exec(`INSERT INTO kickback_feed(aid, kickback_id, at, reason) VALUES (?, ?, ?, ?)`, aid, id, NS(at), reason)
	return err
}

// FeedEntry is one entry of a store's kickback feed: a kickback queued, or queued again.
type FeedEntry struct {
	Seq    int64
	At     time.Time // when it is (was) due to be sent
	Reason string    // created | resend
	*Kickback
}

// Feed lists a store's feed entries after seq, in order, due at or after since and not after
// until; at most limit. The entries stop before the first one not yet due (an auto-charge stop
// notice may be owed later), so a stream never skips ahead of it.
func (db *DB) Feed(ctx context.Context, aid string, after int64, since, until time.Time, limit int) ([]FeedEntry, error) {
	q := `SELECT f.seq, f.at, f.reason, ` + kbColsK + ` FROM kickback_feed f JOIN kickbacks k ON k.id = f.kickback_id WHERE f.aid = ? AND f.seq > ?`
	args := []any{aid, after}
	if !since.IsZero() {
		q += ` AND f.at >= ?`
		args = append(args, NS(since))
	}
	q += ` ORDER BY f.seq LIMIT ?`
	args = append(args, limit)
	rows, err := db.Query(ctx, q, args...)
	if err != nil {
		return nil, classify(err)
	}
	defer rows.Close()
	var out []FeedEntry
	for rows.Next() {
		var e FeedEntry
		var at int64
		var k Kickback
		var na, ca, da int64
		if err := rows.Scan(&e.Seq, &at, &e.Reason, &k.ID, &k.AID, &k.Gid, &k.Acid, &k.Kind, &k.URL, &k.Query, &k.Status, &k.Attempts, &na, &ca, &da, &k.LastError); err != nil {
			return nil, err
		}
		k.NextAt, k.CreatedAt, k.DeliveredAt = FromNS(na), FromNS(ca), FromNS(da)
		e.At, e.Kickback = FromNS(at), &k
		if e.At.After(until) {
			break
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

// LastFeedSeq is the newest feed position of a store (0 when it has none).
func (db *DB) LastFeedSeq(ctx context.Context, aid string) (int64, error) {
	var n sql.NullInt64
	err := db.QueryRow(ctx, `SELECT MAX(seq) FROM kickback_feed WHERE aid = ?`, aid).Scan(&n)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	return n.Int64, classify(err)
}
