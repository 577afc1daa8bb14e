package store

import (
	"context"
	"database/sql"
	"errors"
	"time"
)

// StoreAcquirer is a store's processor setting: which acquirer ("" for the server's) and the
// store's account there (a Stripe Connect account ID, "" for the platform's own).
type StoreAcquirer struct {
	AID      string
	Acquirer string
	Account  string
}

// GetStoreAcquirer reads a store's processor setting; the zero setting when it has none.
func (db *DB) GetStoreAcquirer(ctx context.Context, aid string) (StoreAcquirer, error) {
	a := StoreAcquirer{AID: aid}
	err := db.QueryRow(ctx, `SELECT acquirer, account FROM store_acquirers WHERE aid = ?`, aid).Scan(&a.Acquirer, &a.Account)
	if errors.Is(err, sql.ErrNoRows) {
		return a, nil
	}
	return a, classify(err)
}

// SetStoreAcquirer records a store's processor setting.
func (db *DB) SetStoreAcquirer(ctx context.Context, a StoreAcquirer, at time.Time) error {
	return db.Write(ctx, func(tx *Tx) error {
		_, err := tx.Exec(`INSERT INTO store_acquirers(aid, acquirer, account, updated_at) VALUES (?, ?, ?, ?)
			ON CONFLICT (aid) DO UPDATE SET acquirer = excluded.acquirer, account = excluded.account, updated_at = excluded.updated_at`,
			a.AID, a.Acquirer, a.Account, NS(at))
		return err
	})
}

// SetCardProcessorRef records the processor's stored card for a vault card.
func (t *Tx) SetCardProcessorRef(aid string, cardID int64, ref string) error {
	_, err := t.Exec(`INSERT INTO card_processor_refs(card_id, aid, ref) VALUES (?, ?, ?)
		ON CONFLICT (card_id) DO UPDATE SET ref = excluded.ref`, cardID, aid, ref)
	return err
}

// CardProcessorRef reads the processor's stored card of a vault card; "" when none.
func (db *DB) CardProcessorRef(ctx context.Context, aid string, cardID int64) (string, error) {
	var ref string
	err := db.QueryRow(ctx, `SELECT ref FROM card_processor_refs WHERE card_id = ? AND aid = ?`, cardID, aid).Scan(&ref)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	return ref, classify(err)
}

// SetProcessorCode keeps the processor's own code for a payment (a decline's reason at Stripe).
func (t *Tx) SetProcessorCode(gid, code string) error {
	_, err := t.Exec(`INSERT INTO payment_processor_codes(gid, code) VALUES (?, ?) ON CONFLICT (gid) DO UPDATE SET code = excluded.code`, gid, code)
	return err
}

// ProcessorCode reads the processor's code of a payment; "" when none.
func (db *DB) ProcessorCode(ctx context.Context, gid string) (string, error) {
	var code string
	err := db.QueryRow(ctx, `SELECT code FROM payment_processor_codes WHERE gid = ?`, gid).Scan(&code)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	return code, classify(err)
}

// PaymentByNetRef finds the payment holding a real processor's reference; ErrNotFound when none
// (the sandbox simulator's references, "SBX…", are not indexed: migration 0190).
func (db *DB) PaymentByNetRef(ctx context.Context, netRef string) (*Payment, error) {
	p, err := scanPayment(db.QueryRow(ctx, `SELECT `+paymentCols+` FROM payments WHERE net_ref = ? AND net_ref <> '' AND net_ref NOT LIKE 'SBX%'`, netRef))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	return p, classify(err)
}

// RecordProcessorEvent records a processor webhook event as received, inside the transaction
// that applies it; false when it was recorded before (a duplicate delivery: apply nothing).
func (t *Tx) RecordProcessorEvent(id, kind, outcome string, at time.Time) (bool, error) {
	res, err := t.Exec(`INSERT INTO processor_events(id, kind, received_at, outcome) VALUES (?, ?, ?, ?) ON CONFLICT (id) DO NOTHING`, id, kind, NS(at), outcome)
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// ProcessorEventSeen reports whether an event ID was recorded.
func (db *DB) ProcessorEventSeen(ctx context.Context, id string) (bool, error) {
	var n int
	err := db.QueryRow(ctx, `SELECT COUNT(*) FROM processor_events WHERE id = ?`, id).Scan(&n)
	return n > 0, classify(err)
}
