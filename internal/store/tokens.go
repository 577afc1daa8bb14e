package store

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"time"
)

// Token is a card token handed to a merchant's page by CPToken.js: a reference to a sealed card,
// bound to one store, usable once before it expires, with the outcome of 3-D Secure when the
// merchant ran it. The card number itself lives only in cards, sealed by the vault.
type Token struct {
	Token        string
	AID          string
	CardID       int64
	Md           string
	CreatedAt    time.Time
	ExpiresAt    time.Time
	UsedAt       time.Time // zero while unused
	TDSStatus    string    // "" not run, or the 3-D Secure state (token.TDS…)
	TDSAm        int64     // amounts authenticated by 3-D Secure, -1 when none
	TDSTx        int64
	TDSSf        int64
	TDSChallenge string // the sandbox challenge's one-time code while a challenge is open
}

const tokenCols = `token, aid, card_id, md, created_at, expires_at, used_at, tds_status, tds_am, tds_tx, tds_sf, tds_challenge`

func scanToken(r rowScanner) (*Token, error) {
	var t Token
	var ca, ea, ua int64
	err := r.Scan(&t.Token, &t.AID, &t.CardID, &t.Md, &ca, &ea, &ua, &t.TDSStatus, &t.TDSAm, &t.TDSTx, &t.TDSSf, &t.TDSChallenge)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, classify(err)
	}
	t.CreatedAt, t.ExpiresAt, t.UsedAt = FromNS(ca), FromNS(ea), FromNS(ua)
	return &t, nil
}

// CreateToken stores a sealed card and the token that refers to it, in one durable transaction;
// it sets c.ID and t.CardID. ErrConflict when the token string is taken (practically never: 190
// random bits).
func (db *DB) CreateToken(ctx context.Context, c *Card, t *Token) error {
	err := db.Write(ctx, func(tx *Tx) error {
		id, err := tx.InsertCard(c)
		if err != nil {
			return err
		}
		c.ID, t.CardID = id, id
		_, err = tx.Exec(`INSERT INTO tokens(`+tokenCols+`) VALUES (?, ?, ?, ?, ?, ?, 0, ?, ?, ?, ?, ?)`,
			t.Token, t.AID, t.CardID, t.Md, NS(t.CreatedAt), NS(t.ExpiresAt), t.TDSStatus, t.TDSAm, t.TDSTx, t.TDSSf, t.TDSChallenge)
		if IsUnique(err) {
			return ErrConflict
		}
		return err
	})
	return err
}

// GetToken reads a token; ErrNotFound when unknown.
func (db *DB) GetToken(ctx context.Context, tkn string) (*Token, error) {
	return scanToken(db.QueryRow(ctx, `SELECT `+tokenCols+` FROM tokens WHERE token = ?`, tkn))
}

// GetToken reads a token inside a transaction; ErrNotFound when unknown.
func (t *Tx) GetToken(tkn string) (*Token, error) {
	return scanToken(t.QueryRow(`SELECT `+tokenCols+` FROM tokens WHERE token = ?`, tkn))
}

// UseToken marks a token used at at. It reports false when the token was already used (or does
// not exist): the conditional update is what makes a token single-use when two charges race.
func (t *Tx) UseToken(tkn string, at time.Time) (bool, error) {
	res, err := t.Exec(`UPDATE tokens SET used_at = ? WHERE token = ? AND used_at = 0`, NS(at), tkn)
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// SetTokenTDS records a 3-D Secure state on an unused token whose current state is one of from.
// It reports false when the token is used, unknown, or in another state.
func (t *Tx) SetTokenTDS(tkn string, from []string, status string, am, tx, sf int64, challenge string) (bool, error) {
	if len(from) == 0 {
		return false, nil
	}
	args := []any{status, am, tx, sf, challenge, tkn}
	for _, f := range from {
		args = append(args, f)
	}
	res, err := t.Exec(`UPDATE tokens SET tds_status = ?, tds_am = ?, tds_tx = ?, tds_sf = ?, tds_challenge = ?
		WHERE token = ? AND used_at = 0 AND tds_status IN (?`+strings.Repeat(", ?", len(from)-1)+`)`, args...)
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// PurgeTokens deletes tokens that expired before cutoff, and the sealed cards of those that were
// never used (nothing else refers to them): card data is not kept longer than its purpose.
func (db *DB) PurgeTokens(ctx context.Context, cutoff time.Time) (int64, error) {
	var n int64
	err := db.Write(ctx, func(tx *Tx) error {
		c := NS(cutoff)
		if _, err := tx.Exec(`DELETE FROM cards WHERE id IN (SELECT card_id FROM tokens WHERE used_at = 0 AND expires_at < ?)
			AND id NOT IN (SELECT card_id FROM payments WHERE card_id IS NOT NULL)
			AND id NOT IN (SELECT card_id FROM autocharges)`, c); err != nil {
			return err
		}
		res, err := tx.Exec(`DELETE FROM tokens WHERE expires_at < ?`, c)
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	return n, err
}

// BumpTokenTDSTries counts one wrong code on an unused token's open challenge and returns the
// count so far; false when the token is used, unknown or has no open challenge.
func (t *Tx) BumpTokenTDSTries(tkn string) (int, bool, error) {
	res, err := t.Exec(`UPDATE tokens SET tds_tries = tds_tries + 1 WHERE token = ? AND used_at = 0 AND tds_status = ?`, tkn, challengeStatus)
	if err != nil {
		return 0, false, err
	}
	if n, err := res.RowsAffected(); err != nil || n != 1 {
		return 0, false, err
	}
	var tries int
	if err := t.QueryRow(`SELECT tds_tries FROM tokens WHERE token = ?`, tkn).Scan(&tries); err != nil {
		return 0, false, err
	}
	return tries, true, nil
}

// challengeStatus is token.TDSChallenge: a challenge waiting for the cardholder.
const challengeStatus = "C"
