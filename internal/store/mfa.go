package store

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"time"
)

// MFA is an account's second factor: a TOTP secret sealed by the vault (KeyID names the key),
// enabled once its first code was confirmed, and the last time step a code was accepted for.
type MFA struct {
	Kind      string
	Principal int64
	KeyID     string
	Secret    []byte // sealed
	EnabledAt time.Time
	LastStep  int64
	CreatedAt time.Time
}

// Enabled reports whether enrolment was confirmed.
func (m *MFA) Enabled() bool { return m != nil && !m.EnabledAt.IsZero() }

// GetMFA reads an account's second factor (enabled or awaiting confirmation); ErrNotFound when it
// has none.
func (db *DB) GetMFA(ctx context.Context, kind string, principal int64) (*MFA, error) {
	var m MFA
	var en, ca int64
	err := db.QueryRow(ctx, `SELECT kind, principal, key_id, secret, enabled_at, last_step, created_at FROM mfa WHERE kind = ? AND principal = ?`,
		kind, principal).Scan(&m.Kind, &m.Principal, &m.KeyID, &m.Secret, &en, &m.LastStep, &ca)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, classify(err)
	}
	if en != 0 {
		m.EnabledAt = FromNS(en)
	}
	m.CreatedAt = FromNS(ca)
	return &m, nil
}

// PutPendingMFA stores a new secret awaiting its first code, replacing an earlier unconfirmed one;
// ErrConflict when the account already has an enabled second factor.
func (db *DB) PutPendingMFA(ctx context.Context, m *MFA) error {
	return db.Tx(ctx, func(tx *Tx) error {
		var en int64
		err := tx.QueryRow(`SELECT enabled_at FROM mfa WHERE kind = ? AND principal = ?`, m.Kind, m.Principal).Scan(&en)
		switch {
		case err == nil && en != 0:
			return ErrConflict
		case err == nil:
			if _, err := tx.Exec(`DELETE FROM mfa WHERE kind = ? AND principal = ?`, m.Kind, m.Principal); err != nil {
				return err
			}
		case !errors.Is(err, sql.ErrNoRows):
			return err
		}
		_, err = tx.Exec(`INSERT INTO mfa(kind, principal, key_id, secret, enabled_at, last_step, created_at) VALUES (?, ?, ?, ?, 0, 0, ?)`,
			m.Kind, m.Principal, m.KeyID, m.Secret, NS(m.CreatedAt))
		return err
	})
}

// EnableMFA confirms a pending second factor: the step of its first code is recorded as used, and
// the recovery codes (their hashes) replace any earlier ones. ErrConflict when there is no pending
// secret (already enabled, or reset meanwhile).
func (db *DB) EnableMFA(ctx context.Context, kind string, principal int64, step int64, now time.Time, recovery []string) error {
	return db.Tx(ctx, func(tx *Tx) error {
		res, err := tx.Exec(`UPDATE mfa SET enabled_at = ?, last_step = ? WHERE kind = ? AND principal = ? AND enabled_at = 0`,
			NS(now), step, kind, principal)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return ErrConflict
		}
		return putRecovery(tx, kind, principal, recovery)
	})
}

func putRecovery(tx *Tx, kind string, principal int64, hashes []string) error {
	if _, err := tx.Exec(`DELETE FROM mfa_recovery WHERE kind = ? AND principal = ?`, kind, principal); err != nil {
		return err
	}
	for _, h := range hashes {
		if _, err := tx.Exec(`INSERT INTO mfa_recovery(kind, principal, hash, used_at) VALUES (?, ?, ?, 0)`, kind, principal, h); err != nil {
			return err
		}
	}
	return nil
}

// ReplaceRecoveryCodes gives an enabled account a new set of recovery codes (the old ones stop
// working); ErrNotFound when the account has no enabled second factor.
func (db *DB) ReplaceRecoveryCodes(ctx context.Context, kind string, principal int64, hashes []string) error {
	return db.Tx(ctx, func(tx *Tx) error {
		var en int64
		err := tx.QueryRow(`SELECT enabled_at FROM mfa WHERE kind = ? AND principal = ?`, kind, principal).Scan(&en)
		if errors.Is(err, sql.ErrNoRows) || (err == nil && en == 0) {
			return ErrNotFound
		}
		if err != nil {
			return err
		}
		return putRecovery(tx, kind, principal, hashes)
	})
}

// UseMFAStep records that a code of time step step was accepted. It succeeds only when step is
// later than every step accepted before, in one statement, so a code (or an older one) is never
// accepted twice, even by two instances at once.
func (db *DB) UseMFAStep(ctx context.Context, kind string, principal int64, step int64) (bool, error) {
	ok := false
	err := db.Tx(ctx, func(tx *Tx) error {
		res, err := tx.Exec(`UPDATE mfa SET last_step = ? WHERE kind = ? AND principal = ? AND enabled_at <> 0 AND last_step < ?`,
			step, kind, principal, step)
		if err != nil {
			return err
		}
		n, _ := res.RowsAffected()
		ok = n == 1
		return nil
	})
	return ok, classify(err)
}

// UseRecoveryCode spends the recovery code with this hash; false when it is unknown or spent.
func (db *DB) UseRecoveryCode(ctx context.Context, kind string, principal int64, hash string, now time.Time) (bool, error) {
	ok := false
	err := db.Tx(ctx, func(tx *Tx) error {
		res, err := tx.Exec(`UPDATE mfa_recovery SET used_at = ? WHERE kind = ? AND principal = ? AND hash = ? AND used_at = 0`,
			NS(now), kind, principal, hash)
		if err != nil {
			return err
		}
		n, _ := res.RowsAffected()
		ok = n == 1
		return nil
	})
	return ok, classify(err)
}

// RecoveryCodesLeft counts an account's unspent recovery codes.
func (db *DB) RecoveryCodesLeft(ctx context.Context, kind string, principal int64) (int, error) {
	var n int
	err := db.QueryRow(ctx, `SELECT COUNT(*) FROM mfa_recovery WHERE kind = ? AND principal = ? AND used_at = 0`, kind, principal).Scan(&n)
	return n, classify(err)
}

// DeleteMFA removes an account's second factor and recovery codes. With signOut, every session
// of the account ends too (a reset by an operator: whoever holds the old factor is out).
// It reports whether there was a second factor to remove.
func (db *DB) DeleteMFA(ctx context.Context, kind string, principal int64, signOut bool) (bool, error) {
	had := false
	err := db.Tx(ctx, func(tx *Tx) error {
		var n int
		if err := tx.QueryRow(`SELECT COUNT(*) FROM mfa WHERE kind = ? AND principal = ?`, kind, principal).Scan(&n); err != nil {
			return err
		}
		had = n > 0
		if signOut {
			if _, err := tx.Exec(`DELETE FROM sessions WHERE kind = ? AND principal = ?`, kind, principal); err != nil {
				return err
			}
		}
		return deleteMFA(tx, kind, principal)
	})
	return had, classify(err)
}

func deleteMFA(tx *Tx, kind string, principal int64) error {
	if _, err := tx.Exec(`DELETE FROM mfa_recovery WHERE kind = ? AND principal = ?`, kind, principal); err != nil {
		return err
	}
	_, err := tx.Exec(`DELETE FROM mfa WHERE kind = ? AND principal = ?`, kind, principal)
	return err
}

// MFAEnabledSet lists which of a store's users have an enabled second factor, by user ID.
func (db *DB) MFAEnabledSet(ctx context.Context, aid string) (map[int64]bool, error) {
	rows, err := db.Query(ctx, `SELECT m.principal FROM mfa m JOIN users u ON u.id = m.principal WHERE m.kind = ? AND u.aid = ? AND m.enabled_at <> 0`,
		SessionMerchant, aid)
	if err != nil {
		return nil, classify(err)
	}
	defer rows.Close()
	out := map[int64]bool{}
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		out[id] = true
	}
	return out, rows.Err()
}

// AllMFA calls fn for every stored second factor (for re-sealing after a vault key rotation).
func (db *DB) AllMFA(ctx context.Context, fn func(*MFA) error) error {
	rows, err := db.Query(ctx, `SELECT kind, principal, key_id, secret FROM mfa ORDER BY kind, principal`)
	if err != nil {
		return classify(err)
	}
	var all []*MFA
	for rows.Next() {
		var m MFA
		if err := rows.Scan(&m.Kind, &m.Principal, &m.KeyID, &m.Secret); err != nil {
			rows.Close()
			return err
		}
		all = append(all, &m)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	for _, m := range all {
		if err := fn(m); err != nil {
			return err
		}
	}
	return nil
}

// ResealMFA replaces an account's sealed secret (same secret, new key).
func (db *DB) ResealMFA(ctx context.Context, kind string, principal int64, keyID string, blob []byte) error {
	return db.Tx(ctx, func(tx *Tx) error {
		_, err := tx.Exec(`UPDATE mfa SET key_id = ?, secret = ? WHERE kind = ? AND principal = ?`, keyID, blob, kind, principal)
		return err
	})
}

// StoreAccess is a store's rule for its control panel: a second factor for every user, and the
// networks the panel may be used from (none: anywhere).
type StoreAccess struct {
	AID        string
	RequireMFA bool
	AllowCIDRs []string
	UpdatedAt  time.Time
}

// GetStoreAccess reads a store's panel access rule; a store that never set one gets the default
// (no requirement, any address).
func (db *DB) GetStoreAccess(ctx context.Context, aid string) (*StoreAccess, error) {
	a := &StoreAccess{AID: aid}
	var req int
	var cidrs string
	var up int64
	err := db.QueryRow(ctx, `SELECT require_mfa, allow_cidrs, updated_at FROM store_access WHERE aid = ?`, aid).Scan(&req, &cidrs, &up)
	if errors.Is(err, sql.ErrNoRows) {
		return a, nil
	}
	if err != nil {
		return nil, classify(err)
	}
	a.RequireMFA = req != 0
	if cidrs != "" {
		a.AllowCIDRs = strings.Split(cidrs, ",")
	}
	a.UpdatedAt = FromNS(up)
	return a, nil
}

// SetStoreAccess saves a store's panel access rule.
func (db *DB) SetStoreAccess(ctx context.Context, a *StoreAccess) error {
	req := 0
	if a.RequireMFA {
		req = 1
	}
	if a.UpdatedAt.IsZero() {
		a.UpdatedAt = time.Now()
	}
	return db.Tx(ctx, func(tx *Tx) error {
		_, err := tx.Exec(`INSERT INTO store_access(aid, require_mfa, allow_cidrs, updated_at) VALUES (?, ?, ?, ?)
ON CONFLICT (aid) DO UPDATE SET require_mfa = excluded.require_mfa, allow_cidrs = excluded.allow_cidrs, updated_at = excluded.updated_at`,
			a.AID, req, strings.Join(a.AllowCIDRs, ","), NS(a.UpdatedAt))
		return err
	})
}

// EndSessionsWithoutMFA signs out every user of a store who has no enabled second factor, except
// the user keep (a store that starts to require one lets nobody in on an old sign-in without it).
func (db *DB) EndSessionsWithoutMFA(ctx context.Context, aid string, keep int64) error {
	return db.Tx(ctx, func(tx *Tx) error {
		_, err := tx.Exec(`DELETE FROM sessions WHERE kind = ? AND aid = ? AND principal <> ? AND principal NOT IN
 (SELECT principal FROM mfa WHERE kind = ? AND enabled_at <> 0)`, SessionMerchant, aid, keep, SessionMerchant)
		return err
	})
}
