package store

import (
	"context"
	"database/sql"
	"errors"
)

// 3-D Secure results recorded on a payment (payments.tds): what authentication the card had when
// it was charged.
const (
	TDSNone         = ""             // no 3-D Secure (a raw card, or a token that did not run it)
	TDSFrictionless = "frictionless" // the issuer authenticated without asking the cardholder
	TDSChallenged   = "challenged"   // the cardholder passed the issuer's challenge
	TDSAttempted    = "attempted"    // the issuer does not take part; the attempt is the proof
	TDSFailed       = "failed"       // authentication failed (never charged: such tokens are refused)
)

// SetPaymentTDS changes the 3-D Secure result of a payment already written, inside a transaction.
// A new payment carries its result in Payment.TDS, written with its row; this UPDATE is what the
// batch tests use to check that a statement after buffered rows sees them.
func (t *Tx) SetPaymentTDS(gid, result string) error {
	_, err := t.Exec(`UPDATE payments SET tds = ? WHERE gid = ?`, result, gid)
	return err
}

// PaymentTDS reads the 3-D Secure result of a store's payment; ErrNotFound when unknown.
func (db *DB) PaymentTDS(ctx context.Context, aid, gid string) (string, error) {
	var r string
	err := db.QueryRow(ctx, `SELECT tds FROM payments WHERE aid = ? AND gid = ?`, aid, gid).Scan(&r)
	if errors.Is(err, sql.ErrNoRows) {
		return "", ErrNotFound
	}
	return r, classify(err)
}
