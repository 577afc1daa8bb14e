package store

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"time"
)

// Payment is one recorded payment (the gid of the wire). Card data is only ever its masked parts
// here; the encrypted number lives in cards.
type Payment struct {
	Gid, AID, Cod, Job, Status, Rst, Ec, Ap, God string
	Am, Tx, Sf, Ta                               int64
	Captured, Refunded                           int64
	CardID                                       int64
	First6, Last4, Brand, Md                     string
	Em, Pn, Inm, Free, Acid, Source, Fingerprint string
	NetRef                                       string // acquirer reference for capture / void / refund
	AcceptedAt, CreatedAt, UpdatedAt             time.Time
	// Method is card, cvs or bank (migration 0160); written by the non-card service, read here.
	Method string
	// TDS is the card's 3-D Secure result (tds.go), written with the row (PaymentTDS reads it)
	TDS string
}

// Payment statuses.
const (
	StatusAuthorized        = "authorized"
	StatusCaptured          = "captured"
	StatusChecked           = "checked"
	StatusVoided            = "voided"
	StatusRefunded          = "refunded"
	StatusPartiallyRefunded = "partially_refunded"
	StatusDeclined          = "declined"
	StatusRegistered        = "registered" // auto-charge sign-up without a charge now (am=0)
)

const paymentCols = `gid, aid, cod, job, status, rst, ec, ap, god, am, tx, sf, ta, captured, refunded, COALESCE(card_id, 0), first6, last4, brand, md, em, pn, inm, free, acid, source, fingerprint, net_ref, accepted_at, created_at, updated_at, method`

// ScanPayment reads a payment row selected with PaymentCols.
func scanPayment(r rowScanner) (*Payment, error) {
	var p Payment
	var acc, ca, ua int64
	err := r.Scan(&p.Gid, &p.AID, &p.Cod, &p.Job, &p.Status, &p.Rst, &p.Ec, &p.Ap, &p.God, &p.Am, &p.Tx, &p.Sf, &p.Ta,
		&p.Captured, &p.Refunded, &p.CardID, &p.First6, &p.Last4, &p.Brand, &p.Md, &p.Em, &p.Pn, &p.Inm, &p.Free, &p.Acid,
		&p.Source, &p.Fingerprint, &p.NetRef, &acc, &ca, &ua, &p.Method)
	if err != nil {
		return nil, err
	}
	p.AcceptedAt, p.CreatedAt, p.UpdatedAt = FromNS(acc), FromNS(ca), FromNS(ua)
	return &p, nil
}

// InsertPayment records a payment; ErrConflict when its (store, cod) already has a successful one.
// In a group commit's optimistic pass the row is buffered and written with the batch's others
// (batchrows.go); a conflict there sends the batch to its savepoint pass, where this returns it.
func (t *Tx) InsertPayment(p *Payment) error {
	if t.rows != nil {
		t.rows.payments = append(t.rows.payments, *p)
		return nil
	}
	_, err := t.Exec(paymentInsert, appendPaymentArgs(make([]any, 0, paymentInsertN), p)...)
	if IsUnique(err) {
		return ErrConflict
	}
	return err
}

const paymentInsertCols = `gid, aid, cod, job, status, rst, ec, ap, god, am, tx, sf, ta, captured, refunded, card_id, first6, last4, brand, md, em, pn, inm, free, acid, source, fingerprint, net_ref, accepted_at, created_at, updated_at, tds`

// paymentInsertN is the number of paymentInsertCols (appendPaymentArgs appends as many values).
const paymentInsertN = 32

// paymentInsert inserts one payment row.
var paymentInsert = `INSERT INTO payments(` + paymentInsertCols + `) VALUES (?` + strings.Repeat(", ?", paymentInsertN-1) + `)`

// SuccessfulByCod finds the successful payment of (aid, cod) inside a transaction.
func (t *Tx) SuccessfulByCod(aid, cod string) (*Payment, error) {
	p, err := scanPayment(t.QueryRow(`SELECT `+paymentCols+` FROM payments WHERE aid = ? AND cod = ? AND cod <> '' AND rst = '1'`, aid, cod))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	return p, err
}

// SuccessfulByCod finds the successful payment of (aid, cod).
func (db *DB) SuccessfulByCod(ctx context.Context, aid, cod string) (*Payment, error) {
	p, err := scanPayment(db.QueryRow(ctx, `SELECT `+paymentCols+` FROM payments WHERE aid = ? AND cod = ? AND cod <> '' AND rst = '1'`, aid, cod))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	return p, classify(err)
}

// GetPayment reads a payment of a store by gid, in either form of an old ID (CanonicalID);
// ErrNotFound when absent or another store's.
func (db *DB) GetPayment(ctx context.Context, aid, gid string) (*Payment, error) {
	gid = CanonicalID(gid)
	p, err := scanPayment(db.QueryRow(ctx, `SELECT `+paymentCols+` FROM payments WHERE gid = ? AND aid = ?`, gid, aid))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	return p, classify(err)
}

// GetPayment reads a payment by gid inside a transaction.
func (t *Tx) GetPayment(aid, gid string) (*Payment, error) {
	gid = CanonicalID(gid)
	q := `SELECT ` + paymentCols + ` FROM payments WHERE gid = ? AND aid = ?`
	if t.db.Dialect == Postgres {
		q += ` FOR UPDATE`
	}
	p, err := scanPayment(t.QueryRow(q, gid, aid))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	return p, err
}

// SetPaymentState moves a payment from one status to another (compare-and-set on the status).
// It reports false when the payment was no longer in from.
func (t *Tx) SetPaymentState(gid, from, to string, captured, refunded int64, at time.Time) (bool, error) {
	return setPaymentState(t.Exec, gid, from, to, captured, refunded, at)
}

// SetCommittedPaymentState is SetPaymentState for a payment an earlier batch committed (one read
// or claimed before this write began), with AddCommittedEvent its timeline step: both run beside
// the rows this batch has buffered (Tx.execBeside). A payment's follow-ups (SALES, changes,
// cancels) use them, so that a batch mixing new payments and follow-ups still writes all its new
// rows in one statement.
func (t *Tx) SetCommittedPaymentState(gid, from, to string, captured, refunded int64, at time.Time) (bool, error) {
	return setPaymentState(t.execBeside, gid, from, to, captured, refunded, at)
}

func setPaymentState(exec func(string, ...any) (sql.Result, error), gid, from, to string, captured, refunded int64, at time.Time) (bool, error) {
	res, err := exec(`UPDATE payments SET status = ?, captured = ?, refunded = ?, updated_at = ?, follow_lock = 0 WHERE gid = ? AND status = ?`,
		to, captured, refunded, NS(at), gid, from)
	if err != nil {
		return false, err
	}
	n, _ := res.RowsAffected()
	return n == 1, nil
}

// Event is one step of a payment's timeline.
type Event struct {
	ID             int64
	Gid            string
	At             time.Time
	Kind, From, To string
	Amount         int64
	Actor          string
}

// AddEvent appends a timeline step.
func (t *Tx) AddEvent(e Event) error { return addEvent(t.Exec, e) }

// AddCommittedEvent is AddEvent for a payment an earlier batch committed (SetCommittedPaymentState).
func (t *Tx) AddCommittedEvent(e Event) error { return addEvent(t.execBeside, e) }

func addEvent(exec func(string, ...any) (sql.Result, error), e Event) error {
	_, err := exec(`INSERT INTO payment_events(gid, at, kind, from_status, to_status, amount, actor) VALUES (?, ?, ?, ?, ?, ?, ?)`,
		e.Gid, NS(e.At), e.Kind, e.From, e.To, e.Amount, e.Actor)
	return err
}

// Events lists a payment's timeline. Its first step is the payment row itself (what was asked
// and how it ended), so a new payment costs no separate event row: one statement fewer per
// payment, which is a round trip to PostgreSQL.
func (db *DB) Events(ctx context.Context, gid string) ([]Event, error) {
	gid = CanonicalID(gid)
	var first Event
	var at int64
	var rst, source string
	err := db.QueryRow(ctx, `SELECT gid, created_at, job, rst, status, ta, source FROM payments WHERE gid = ?`, gid).
		Scan(&first.Gid, &at, &first.Kind, &rst, &first.To, &first.Amount, &source)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return nil, classify(err)
	}
	rows, err := db.Query(ctx, `SELECT id, gid, at, kind, from_status, to_status, amount, actor FROM payment_events WHERE gid = ? ORDER BY id`, gid)
	if err != nil {
		return nil, classify(err)
	}
	defer rows.Close()
	var out []Event
	for rows.Next() {
		var e Event
		var at int64
		if err := rows.Scan(&e.ID, &e.Gid, &at, &e.Kind, &e.From, &e.To, &e.Amount, &e.Actor); err != nil {
			return nil, err
		}
		e.At = FromNS(at)
		out = append(out, e)
	}
	if first.Gid != "" {
		first.At, first.Actor = FromNS(at), source
		first.To = InitialStatus(first.Kind, rst, first.To)
		out = append([]Event{first}, out...)
	}
	return out, rows.Err()
}

// InitialStatus is the status a payment had when it was recorded, from its job and result.
func InitialStatus(job, rst, current string) string {
	switch {
	case rst != "1":
		return StatusDeclined
	case current == StatusRegistered:
		return StatusRegistered
	case job == "AUTH":
		return StatusAuthorized
	case job == "CHECK":
		return StatusChecked
	}
	return StatusCaptured
}

// Card is a stored card: the number sealed by the vault, only masked parts in clear.
type Card struct {
	ID                   int64
	AID                  string
	KeyID                string
	Blob                 []byte
	First6, Last4, Brand string
	Lookup               []byte
	Exp, Holder, Em, Pn  string
	CreatedAt            time.Time
}

// InsertCard stores a sealed card and returns its id. In a group commit's optimistic pass the
// id is reserved at once and the row buffered (batchrows.go).
func (t *Tx) InsertCard(c *Card) (int64, error) {
	if t.rows != nil {
		id, err := t.cardID()
		if err != nil {
			return 0, err
		}
		row := *c
		row.ID = id
		t.rows.cards = append(t.rows.cards, row)
		return id, nil
	}
	return t.InsertID(`INSERT INTO cards(aid, key_id, blob, first6, last4, brand, lookup, exp, holder, em, pn, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		c.AID, c.KeyID, c.Blob, c.First6, c.Last4, c.Brand, c.Lookup, c.Exp, c.Holder, c.Em, c.Pn, NS(c.CreatedAt))
}

// AttachCustomer names the customer (e-mail + phone) of a stored card that has none yet.
func (t *Tx) AttachCustomer(aid string, cardID int64, em, pn string) error {
	_, err := t.Exec(`UPDATE cards SET em = ?, pn = ? WHERE id = ? AND aid = ? AND em = '' AND pn = ''`, em, pn, cardID, aid)
	return err
}

const cardCols = `id, aid, key_id, blob, first6, last4, brand, lookup, exp, holder, em, pn, created_at`

func scanCard(r rowScanner) (*Card, error) {
	var c Card
	var ca int64
	if err := r.Scan(&c.ID, &c.AID, &c.KeyID, &c.Blob, &c.First6, &c.Last4, &c.Brand, &c.Lookup, &c.Exp, &c.Holder, &c.Em, &c.Pn, &ca); err != nil {
		return nil, err
	}
	c.CreatedAt = FromNS(ca)
	return &c, nil
}

// GetCard reads a stored card of a store.
func (db *DB) GetCard(ctx context.Context, aid string, id int64) (*Card, error) {
	c, err := scanCard(db.QueryRow(ctx, `SELECT `+cardCols+` FROM cards WHERE id = ? AND aid = ?`, id, aid))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	return c, classify(err)
}

// cardByCustomerQuery names the partial index's condition (em and pn set) so SQLite uses it.
const cardByCustomerQuery = `SELECT ` + cardCols + ` FROM cards WHERE aid = ? AND em = ? AND pn = ? AND em <> '' AND pn <> '' ORDER BY created_at DESC, id DESC LIMIT 1`

// CardByCustomer finds the newest card a store's customer (e-mail + phone) used.
func (db *DB) CardByCustomer(ctx context.Context, aid, em, pn string) (*Card, error) {
	c, err := scanCard(db.QueryRow(ctx, cardByCustomerQuery, aid, em, pn))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	return c, classify(err)
}

// AllCards streams every stored card to fn (for key rotation).
func (db *DB) AllCards(ctx context.Context, fn func(*Card) error) error {
	rows, err := db.Query(ctx, `SELECT `+cardCols+` FROM cards ORDER BY id`)
	if err != nil {
		return classify(err)
	}
	var cards []*Card
	for rows.Next() {
		c, err := scanCard(rows)
		if err != nil {
			rows.Close()
			return err
		}
		cards = append(cards, c)
	}
	rows.Close()
	for _, c := range cards {
		if err := fn(c); err != nil {
			return err
		}
	}
	return nil
}

// ResealCard replaces a card's ciphertext (key rotation).
func (t *Tx) ResealCard(id int64, keyID string, blob []byte) error {
	_, err := t.Exec(`UPDATE cards SET key_id = ?, blob = ? WHERE id = ?`, keyID, blob, id)
	return err
}
