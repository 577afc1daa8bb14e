package store

import (
	"context"
	"database/sql"
	"errors"
	"time"
)

// APIKey is a store's key for the JSON API (issue 16). Only a hash of the key is stored; the key
// itself is shown once, when it is created.
type APIKey struct {
	ID         int64
	AID        string
	Name       string
	Prefix     string // the key's first characters, to tell keys apart
	Hash       string // hex SHA-256 of the key
	CreatedAt  time.Time
	CreatedBy  string
	LastUsedAt time.Time
	RevokedAt  time.Time
}

// Revoked reports whether the key was revoked.
func (k *APIKey) Revoked() bool { return !k.RevokedAt.IsZero() }

const akCols = `id, aid, name, prefix, hash, created_at, created_by, last_used_at, revoked_at`

func scanAPIKey(r rowScanner) (*APIKey, error) {
	var k APIKey
	var ca, lu, ra int64
	if err := r.Scan(&k.ID, &k.AID, &k.Name, &k.Prefix, &k.Hash, &ca, &k.CreatedBy, &lu, &ra); err != nil {
		return nil, err
	}
	k.CreatedAt, k.LastUsedAt, k.RevokedAt = FromNS(ca), FromNS(lu), FromNS(ra)
	return &k, nil
}

// CreateAPIKey stores a new key (its hash) and records it in the audit log, in one transaction.
func (db *DB) CreateAPIKey(ctx context.Context, k *APIKey, audit AuditEntry) error {
	return db.Write(ctx, func(tx *Tx) error {
		id, err := tx.InsertID(`INSERT INTO api_keys(aid, name, prefix, hash, created_at, created_by) VALUES (?, ?, ?, ?, ?, ?)`,
			k.AID, k.Name, k.Prefix, k.Hash, NS(k.CreatedAt), k.CreatedBy)
		if err != nil {
			return err
		}
		k.ID = id
		return auditTx(tx, audit)
	})
}

// APIKeys lists a store's keys, newest first, revoked ones included.
func (db *DB) APIKeys(ctx context.Context, aid string) ([]*APIKey, error) {
	rows, err := db.Query(ctx, `SELECT `+akCols+` FROM api_keys WHERE aid = ? ORDER BY id DESC`, aid)
	if err != nil {
		return nil, classify(err)
	}
	defer rows.Close()
	var out []*APIKey
	for rows.Next() {
		k, err := scanAPIKey(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, k)
	}
	return out, rows.Err()
}

// APIKeyByHash finds a key by the hash of its text (revoked keys too: the caller refuses them).
func (db *DB) APIKeyByHash(ctx context.Context, hash string) (*APIKey, error) {
	k, err := scanAPIKey(db.QueryRow(ctx, `SELECT `+akCols+` FROM api_keys WHERE hash = ?`, hash))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	return k, classify(err)
}

// TouchAPIKey records that a key was used at t.
func (db *DB) TouchAPIKey(ctx context.Context, id int64, t time.Time) error {
	return db.Write(ctx, func(tx *Tx) error {
		_, err := tx.Exec(`UPDATE api_keys SET last_used_at = ? WHERE id = ?`, NS(t), id)
		return err
	})
}

// RevokeAPIKey revokes a store's key at t and records it in the audit log; ErrNotFound when the
// store has no such live key.
func (db *DB) RevokeAPIKey(ctx context.Context, aid string, id int64, t time.Time, audit AuditEntry) error {
	return db.Write(ctx, func(tx *Tx) error {
		res, err := tx.Exec(`UPDATE api_keys SET revoked_at = ? WHERE id = ? AND aid = ? AND revoked_at = 0`, NS(t), id, aid)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return ErrNotFound
		}
		return auditTx(tx, audit)
	})
}

func auditTx(tx *Tx, e AuditEntry) error {
	_, err := tx.Exec(`INSERT INTO audit_log(at, actor, aid, action, detail, remote) VALUES (?, ?, ?, ?, ?, ?)`,
		NS(e.At), e.Actor, e.AID, e.Action, e.Detail, e.Remote)
	return err
}
