package store

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"time"
)

// PasswordResetTTL is how long a password-reset link works.
const PasswordResetTTL = time.Hour

// UserEmail is the address a panel user's password-reset mail goes to ("" when none is set).
func (db *DB) UserEmail(ctx context.Context, aid string, id int64) (string, error) {
	var e string
	err := db.QueryRow(ctx, `SELECT email FROM users WHERE id = ? AND aid = ?`, id, aid).Scan(&e)
	if errors.Is(err, sql.ErrNoRows) {
		return "", ErrNotFound
	}
	return e, classify(err)
}

// SetUserEmail sets a panel user's password-reset address ("" removes it).
func (db *DB) SetUserEmail(ctx context.Context, aid string, id int64, email string) error {
	return db.Tx(ctx, func(tx *Tx) error {
		res, err := tx.Exec(`UPDATE users SET email = ? WHERE id = ? AND aid = ?`, email, id, aid)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return ErrNotFound
		}
		return nil
	})
}

func resetHash(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// CreatePasswordReset issues a one-time password-reset token for a user, valid for
// PasswordResetTTL; earlier unused tokens of the user stop working. Only the token's hash is kept.
func (db *DB) CreatePasswordReset(ctx context.Context, aid string, userID int64, issuedBy string) (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	token := base64.RawURLEncoding.EncodeToString(b)
	now := db.Now()
	err := db.Tx(ctx, func(tx *Tx) error {
		if _, err := tx.Exec(`UPDATE password_resets SET used_at = ? WHERE user_id = ? AND used_at = 0`, NS(now), userID); err != nil {
			return err
		}
		_, err := tx.Exec(`INSERT INTO password_resets(token_hash, user_id, aid, created_at, expires_at, used_at, issued_by) VALUES (?, ?, ?, ?, ?, 0, ?)`,
			resetHash(token), userID, aid, NS(now), NS(now.Add(PasswordResetTTL)), issuedBy)
		return err
	})
	return token, classify(err)
}

// PasswordResetUser is the user a valid (unused, unexpired) token resets; ErrNotFound otherwise.
func (db *DB) PasswordResetUser(ctx context.Context, token string) (*User, error) {
	var aid string
	var id int64
	err := db.QueryRow(ctx, `SELECT aid, user_id FROM password_resets WHERE token_hash = ? AND used_at = 0 AND expires_at > ?`,
		resetHash(token), NS(db.Now())).Scan(&aid, &id)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, classify(err)
	}
	return db.UserByID(ctx, aid, id)
}

// UsePasswordReset sets the password of the user a valid token resets, once: the token is spent,
// the account unlocked and every session of the user ended. ErrNotFound for an unknown, used or
// expired token.
func (db *DB) UsePasswordReset(ctx context.Context, token, pwHash string) (*User, error) {
	var aid string
	var id int64
	err := db.Tx(ctx, func(tx *Tx) error {
		now := db.Now()
		if err := tx.QueryRow(`SELECT aid, user_id FROM password_resets WHERE token_hash = ? AND used_at = 0 AND expires_at > ?`,
			resetHash(token), NS(now)).Scan(&aid, &id); errors.Is(err, sql.ErrNoRows) {
			return ErrNotFound
		} else if err != nil {
			return err
		}
		res, err := tx.Exec(`UPDATE password_resets SET used_at = ? WHERE token_hash = ? AND used_at = 0`, NS(now), resetHash(token))
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return ErrNotFound // spent by a concurrent request
		}
		if _, err := tx.Exec(`UPDATE users SET pw_hash = ?, failed = 0, locked_until = 0 WHERE id = ? AND aid = ?`, pwHash, id, aid); err != nil {
			return err
		}
		_, err = tx.Exec(`DELETE FROM sessions WHERE kind = ? AND principal = ?`, SessionMerchant, id)
		return err
	})
	if err != nil {
		if errors.Is(err, ErrNotFound) {
			return nil, ErrNotFound
		}
		return nil, classify(err)
	}
	return db.UserByID(ctx, aid, id)
}
