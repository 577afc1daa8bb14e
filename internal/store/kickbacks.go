package store

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"time"
)

// Kickback is one result notification owed to a merchant (the outbox row).
type Kickback struct {
	ID          int64
	AID, Gid    string
	Acid        string
	Kind        string // result | autocharge
	URL, Query  string
	Status      string // pending | delivered | failed
	Attempts    int
	NextAt      time.Time
	CreatedAt   time.Time
	DeliveredAt time.Time
	LastError   string
}

// Kickback statuses.
const (
	KickbackPending   = "pending"
	KickbackDelivered = "delivered"
	KickbackFailed    = "failed"
)

// InsertKickback queues a notification in the same transaction as the payment it reports.
func (t *Tx) InsertKickback(k *Kickback) error {
	id, err := t.InsertID(`INSERT INTO kickbacks(aid, gid, acid, kind, url, query, status, attempts, next_at, created_at) VALUES (?, ?, ?, ?, ?, ?, 'pending', 0, ?, ?)`,
		k.AID, k.Gid, k.Acid, k.Kind, k.URL, k.Query, NS(k.NextAt), NS(k.CreatedAt))
	k.ID = id
	if err != nil {
		return err
	}
	return t.feed(k.AID, id, k.NextAt, "created") // kickbacks_api.go
}

const kbCols = `id, aid, gid, acid, kind, url, query, status, attempts, next_at, created_at, delivered_at, last_error`

func scanKickback(r rowScanner) (*Kickback, error) {
	var k Kickback
	var na, ca, da int64
	if err := r.Scan(&k.ID, &k.AID, &k.Gid, &k.Acid, &k.Kind, &k.URL, &k.Query, &k.Status, &k.Attempts, &na, &ca, &da, &k.LastError); err != nil {
		return nil, err
	}
	k.NextAt, k.CreatedAt, k.DeliveredAt = FromNS(na), FromNS(ca), FromNS(da)
	return &k, nil
}

// ClaimKickbacks leases up to limit due kickbacks to the caller until now+lease. The lease is a
// compare-and-set on lease_until, so two instances never hold the same kickback at once.
// Kickbacks to receivers in skipHosts (host[:port] of the URL) are left for later.
func (db *DB) ClaimKickbacks(ctx context.Context, now time.Time, limit int, lease time.Duration, skipHosts []string) ([]*Kickback, error) {
	rows, err := db.Query(ctx, `SELECT `+kbCols+` FROM kickbacks WHERE status = 'pending' AND next_at <= ? AND lease_until < ? ORDER BY next_at LIMIT ?`,
		NS(now), NS(now), limit+64)
	if err != nil {
		return nil, classify(err)
	}
	var cands []*Kickback
	for rows.Next() {
		k, err := scanKickback(rows)
		if err != nil {
			rows.Close()
			return nil, err
		}
		if len(cands) < limit && !hostIn(k.URL, skipHosts) {
			cands = append(cands, k)
		}
	}
	rows.Close()
	if len(cands) == 0 {
		return nil, nil
	}
	var got []*Kickback
	err = db.Write(ctx, func(tx *Tx) error {
		got = got[:0]
		for _, k := range cands {
			res, err := tx.Exec(`UPDATE kickbacks SET lease_until = ? WHERE id = ? AND status = 'pending' AND lease_until < ?`, NS(now.Add(lease)), k.ID, NS(now))
			if err != nil {
				return err
			}
			if n, _ := res.RowsAffected(); n == 1 {
				got = append(got, k)
			}
		}
		return nil
	})
	return got, err
}

// RenewKickbacks extends the lease of kickbacks still being delivered by their claimer, so a short
// lease (a crashed instance's kickbacks are taken over soon) does not expire under a slow delivery.
// A kickback whose attempt is already recorded (lease_until = 0) is left alone.
func (db *DB) RenewKickbacks(ctx context.Context, ids []int64, until time.Time) error {
	if len(ids) == 0 {
		return nil
	}
	return db.Write(ctx, func(tx *Tx) error {
		for _, id := range ids {
			if _, err := tx.Exec(`UPDATE kickbacks SET lease_until = ? WHERE id = ? AND status = 'pending' AND lease_until > 0`, NS(until), id); err != nil {
				return err
			}
		}
		return nil
	})
}

// Attempt is one delivery try of a kickback.
type Attempt struct {
	ID         int64
	KickbackID int64
	At         time.Time
	StatusCode int
	LatencyMS  int64
	Body       string
	Error      string
}

// RecordAttempt logs a delivery try and sets the kickback's next state.
func (db *DB) RecordAttempt(ctx context.Context, k *Kickback, a Attempt, delivered bool, nextAt time.Time, giveUp bool) error {
	return db.Write(ctx, func(tx *Tx) error {
		if _, err := tx.Exec(`INSERT INTO kickback_attempts(kickback_id, at, status_code, latency_ms, body, error) VALUES (?, ?, ?, ?, ?, ?)`,
			k.ID, NS(a.At), a.StatusCode, a.LatencyMS, a.Body, a.Error); err != nil {
			return err
		}
		status := KickbackPending
		var deliveredAt int64
		switch {
		case delivered:
			status, deliveredAt = KickbackDelivered, NS(a.At)
		case giveUp:
			status = KickbackFailed
		}
		_, err := tx.Exec(`UPDATE kickbacks SET status = ?, attempts = attempts + 1, next_at = ?, lease_until = 0, delivered_at = ?, last_error = ? WHERE id = ?`,
			status, NS(nextAt), deliveredAt, a.Error, k.ID)
		return err
	})
}

// ReleaseKickback gives a claimed kickback back without an attempt (e.g. a maintenance window began).
func (db *DB) ReleaseKickback(ctx context.Context, id int64) error {
	return db.Write(ctx, func(tx *Tx) error {
		_, err := tx.Exec(`UPDATE kickbacks SET lease_until = 0 WHERE id = ?`, id)
		return err
	})
}

// Resend queues a kickback again now (the panel's resend button), whatever its state.
func (db *DB) Resend(ctx context.Context, aid string, id int64, now time.Time) error {
	return db.Write(ctx, func(tx *Tx) error {
		res, err := tx.Exec(`UPDATE kickbacks SET status = 'pending', next_at = ?, lease_until = 0 WHERE id = ? AND aid = ?`, NS(now), id, aid)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return ErrNotFound
		}
		return tx.feed(aid, id, now, "resend") // kickbacks_api.go
	})
}

// KickbacksOf lists a store's kickbacks, newest first; gid filters to one payment when set.
func (db *DB) KickbacksOf(ctx context.Context, aid, gid string, limit int) ([]*Kickback, error) {
	q := `SELECT ` + kbCols + ` FROM kickbacks WHERE aid = ?`
	args := []any{aid}
	if gid != "" {
		q += ` AND gid = ?`
		args = append(args, CanonicalID(gid))
	}
	q += ` ORDER BY id DESC LIMIT ?`
	args = append(args, limit)
	rows, err := db.Query(ctx, q, args...)
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

// Attempts lists the delivery tries of a kickback.
func (db *DB) Attempts(ctx context.Context, id int64) ([]Attempt, error) {
	rows, err := db.Query(ctx, `SELECT id, kickback_id, at, status_code, latency_ms, body, error FROM kickback_attempts WHERE kickback_id = ? ORDER BY id`, id)
	if err != nil {
		return nil, classify(err)
	}
	defer rows.Close()
	var out []Attempt
	for rows.Next() {
		var a Attempt
		var at int64
		if err := rows.Scan(&a.ID, &a.KickbackID, &at, &a.StatusCode, &a.LatencyMS, &a.Body, &a.Error); err != nil {
			return nil, err
		}
		a.At = FromNS(at)
		out = append(out, a)
	}
	return out, rows.Err()
}

// GetKickback reads one kickback of a store.
func (db *DB) GetKickback(ctx context.Context, aid string, id int64) (*Kickback, error) {
	k, err := scanKickback(db.QueryRow(ctx, `SELECT `+kbCols+` FROM kickbacks WHERE id = ? AND aid = ?`, id, aid))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	return k, classify(err)
}

func hostIn(u string, hosts []string) bool {
	for _, h := range hosts {
		if strings.Contains(u, "://"+h+"/") || strings.HasSuffix(u, "://"+h) || strings.Contains(u, "://"+h+"?") {
			return true
		}
	}
	return false
}
