package store

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"time"
)

// LinkOrder is an order as a merchant's form handed it to the hosted payment page, kept on the
// server under an unguessable ID so the card form never carries amounts the browser could change.
type LinkOrder struct {
	ID         string
	AID        string
	Jb         string
	Cod        string
	Am, Tx, Sf int64
	Inm        string
	Em, Pn     string
	Md         string
	Free       string // encoded free parameters, k=v&k2=v2
	Plan       string // auto-charge plan parameters (actp, acam, …) as a query string, "" for none
	CSRF       string // the card form's anti-forgery token
	Binding    string // digest of the browser cookie the order was opened with
	Status     string // open | busy | challenge | paid
	Token      string // the card token of an open 3-D Secure challenge
	Gid        string // the successful payment
	LastEc     string // the last attempt's error code, shown on the form
	Attempts   int
	// ReturnURL is where the shopper's browser goes back to after a 3-D Secure session opened
	// through /igateway/gateway.aspx; "" for hosted-page orders.
	ReturnURL string
	CreatedAt time.Time
	UpdatedAt time.Time
	ExpiresAt time.Time
}

// Link order statuses.
const (
	LinkOpen      = "open"
	LinkBusy      = "busy"
	LinkChallenge = "challenge"
	LinkPaid      = "paid"
	// LinkFailed ends an /igateway/ 3-D Secure session whose authentication failed (LastEc says
	// why); nothing was charged.
	LinkFailed = "failed"
)

const linkOrderCols = `id, aid, jb, cod, am, tx, sf, inm, em, pn, md, free, plan, csrf, binding, status, token, gid, last_ec, attempts, return_url, created_at, updated_at, expires_at`

func scanLinkOrder(r rowScanner) (*LinkOrder, error) {
	var o LinkOrder
	var ca, ua, ea int64
	err := r.Scan(&o.ID, &o.AID, &o.Jb, &o.Cod, &o.Am, &o.Tx, &o.Sf, &o.Inm, &o.Em, &o.Pn, &o.Md, &o.Free, &o.Plan, &o.CSRF, &o.Binding,
		&o.Status, &o.Token, &o.Gid, &o.LastEc, &o.Attempts, &o.ReturnURL, &ca, &ua, &ea)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, classify(err)
	}
	o.CreatedAt, o.UpdatedAt, o.ExpiresAt = FromNS(ca), FromNS(ua), FromNS(ea)
	return &o, nil
}

// InsertLinkOrder records a new order session. Now and then it also deletes sessions that expired
// a day before o was created, so the table does not grow without bound.
func (db *DB) InsertLinkOrder(ctx context.Context, o *LinkOrder, purge bool) error {
	return db.Write(ctx, func(tx *Tx) error {
		if purge {
			if _, err := tx.Exec(`DELETE FROM link_orders WHERE expires_at < ?`, NS(o.CreatedAt.Add(-24*time.Hour))); err != nil {
				return err
			}
		}
		_, err := tx.Exec(`INSERT INTO link_orders(`+linkOrderCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			o.ID, o.AID, o.Jb, o.Cod, o.Am, o.Tx, o.Sf, o.Inm, o.Em, o.Pn, o.Md, o.Free, o.Plan, o.CSRF, o.Binding, o.Status, o.Token,
			o.Gid, o.LastEc, o.Attempts, o.ReturnURL, NS(o.CreatedAt), NS(o.UpdatedAt), NS(o.ExpiresAt))
		if IsUnique(err) {
			return ErrConflict
		}
		return err
	})
}

// GetLinkOrder reads an order session; ErrNotFound when unknown.
func (db *DB) GetLinkOrder(ctx context.Context, id string) (*LinkOrder, error) {
	return scanLinkOrder(db.QueryRow(ctx, `SELECT `+linkOrderCols+` FROM link_orders WHERE id = ?`, id))
}

// MoveLinkOrder changes an unexpired order session's status from one of from to to, and reports
// whether it did: the conditional update that keeps two submissions of one form from charging
// twice. Non-empty token, gid and lastEc are recorded too; bump adds one attempt.
func (db *DB) MoveLinkOrder(ctx context.Context, id string, from []string, to string, now time.Time, token, gid, lastEc *string, bump bool) (bool, error) {
	var ok bool
	err := db.Write(ctx, func(tx *Tx) error {
		var err error
		ok, err = tx.MoveLinkOrder(id, from, to, now, token, gid, lastEc, bump)
		return err
	})
	return ok, err
}

// MoveLinkOrder is DB.MoveLinkOrder inside a transaction: a payment's, which records it together
// with the order turned paid. It runs beside the rows the batch has buffered (execBeside): an
// order session is never one of them, and no buffered row refers to one.
func (t *Tx) MoveLinkOrder(id string, from []string, to string, now time.Time, token, gid, lastEc *string, bump bool) (bool, error) {
	if len(from) == 0 {
		return false, nil
	}
	set := []string{"status = ?", "updated_at = ?"}
	args := []any{to, NS(now)}
	for _, f := range []struct {
		col string
		v   *string
	}{{"token", token}, {"gid", gid}, {"last_ec", lastEc}} {
		if f.v != nil {
			set = append(set, f.col+" = ?")
			args = append(args, *f.v)
		}
	}
	if bump {
		set = append(set, "attempts = attempts + 1")
	}
	args = append(args, id, NS(now))
	for _, f := range from {
		args = append(args, f)
	}
	res, err := t.execBeside(`UPDATE link_orders SET `+strings.Join(set, ", ")+` WHERE id = ? AND expires_at > ? AND status IN (?`+
		strings.Repeat(", ?", len(from)-1)+`)`, args...)
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// PaidLinkOrderOf returns the newest paid order session of store aid with order number cod opened
// by the browser whose binding digest is binding, or ErrNotFound.
func (db *DB) PaidLinkOrderOf(ctx context.Context, aid, cod, binding string) (*LinkOrder, error) {
	return scanLinkOrder(db.QueryRow(ctx, `SELECT `+linkOrderCols+` FROM link_orders
		WHERE aid = ? AND cod = ? AND binding = ? AND status = ? ORDER BY created_at DESC LIMIT 1`, aid, cod, binding, LinkPaid))
}

// LinkRedirect is the status of an order whose shopper authenticates at the processor's own page.
const LinkRedirect = "redirect"

// RedirectLinkOrder parks a busy order while its shopper authenticates at the processor: the card
// held as tkn, the authorisation's processor reference and the page to go to. False when the
// order is not busy.
func (db *DB) RedirectLinkOrder(ctx context.Context, id, tkn, ref, u string, now time.Time) (bool, error) {
	var ok bool
	err := db.Write(ctx, func(tx *Tx) error {
		res, err := tx.Exec(`UPDATE link_orders SET status = ?, token = ?, processor_ref = ?, processor_url = ?, updated_at = ?
			WHERE id = ? AND expires_at > ? AND status = ?`, LinkRedirect, tkn, ref, u, NS(now), id, NS(now), LinkBusy)
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		ok = n == 1
		return err
	})
	return ok, err
}

// LinkOrderProcessor returns an order's processor reference and authentication page
// (RedirectLinkOrder); empty when it has none.
func (db *DB) LinkOrderProcessor(ctx context.Context, id string) (ref, u string, err error) {
	err = db.QueryRow(ctx, `SELECT processor_ref, processor_url FROM link_orders WHERE id = ?`, id).Scan(&ref, &u)
	if errors.Is(err, sql.ErrNoRows) {
		return "", "", ErrNotFound
	}
	return ref, u, classify(err)
}
