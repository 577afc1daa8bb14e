package store

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"time"

	"kessai/internal/maintenance"
)

const windowCols = `id, uid, start_ns, end_ns, reserve_end_ns, zone, kind, status, revision, scope, title_ja, title_en, notes_ja, notes_en, note, created_at, updated_at`

type rowScanner interface{ Scan(...any) error }

func scanWindow(r rowScanner) (maintenance.Window, error) {
	var w maintenance.Window
	var s, e, re, ca, ua int64
	var scope string
	err := r.Scan(&w.ID, &w.UID, &s, &e, &re, &w.Zone, &w.Kind, &w.Status, &w.Revision, &scope,
		&w.TitleJA, &w.TitleEN, &w.NotesJA, &w.NotesEN, &w.Note, &ca, &ua)
	if err != nil {
		return w, err
	}
	w.Start, w.End, w.ReserveEnd, w.CreatedAt, w.UpdatedAt = FromNS(s), FromNS(e), FromNS(re), FromNS(ca), FromNS(ua)
	w.Scope, err = maintenance.ParseScope(scope)
	return w, err
}

// Windows lists every maintenance window (cancelled ones too), by start.
func (db *DB) Windows(ctx context.Context) ([]maintenance.Window, error) {
	rows, err := db.Query(ctx, `SELECT `+windowCols+` FROM maintenance_windows ORDER BY start_ns, id`)
	if err != nil {
		return nil, classify(err)
	}
	defer rows.Close()
	var out []maintenance.Window
	for rows.Next() {
		w, err := scanWindow(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, w)
	}
	return out, rows.Err()
}

// Window reads one window by id.
func (db *DB) Window(ctx context.Context, id int64) (maintenance.Window, error) {
	w, err := scanWindow(db.QueryRow(ctx, `SELECT `+windowCols+` FROM maintenance_windows WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return w, fmt.Errorf("maintenance window #%d: %w", id, ErrNotFound)
	}
	return w, err
}

// Changes lists the recorded changes of the schedule, oldest first.
func (db *DB) Changes(ctx context.Context) ([]maintenance.Change, error) {
	rows, err := db.Query(ctx, `SELECT id, window_id, revision, kind, old_start, old_end, new_start, new_end, at, actor, reason, message_ja, message_en, stage, mail FROM maintenance_changes ORDER BY id`)
	if err != nil {
		return nil, classify(err)
	}
	defer rows.Close()
	var out []maintenance.Change
	for rows.Next() {
		var c maintenance.Change
		var os, oe, ns, ne, at, mail int64
		if err := rows.Scan(&c.ID, &c.WindowID, &c.Revision, &c.Kind, &os, &oe, &ns, &ne, &at, &c.Actor, &c.Note, &c.MessageJA, &c.MessageEN, &c.Stage, &mail); err != nil {
			return nil, err
		}
		c.Mail = mail != 0
		c.OldStart, c.OldEnd, c.NewStart, c.NewEnd, c.At = FromNS(os), FromNS(oe), FromNS(ns), FromNS(ne), FromNS(at)
		out = append(out, c)
	}
	return out, rows.Err()
}

// MaintenanceRev is a counter bumped by every schedule change; running servers poll it to pick up
// changes made by the CLI or another instance within a second.
func (db *DB) MaintenanceRev(ctx context.Context) (int64, error) {
	var v string
	err := db.QueryRow(ctx, `SELECT v FROM meta WHERE k = 'maintenance_rev'`).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, classify(err)
	}
	return strconv.ParseInt(v, 10, 64)
}

func bumpRev(tx *Tx) error {
	var v string
	err := tx.QueryRow(`SELECT v FROM meta WHERE k = 'maintenance_rev'`).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		_, err = tx.Exec(`INSERT INTO meta(k, v) VALUES ('maintenance_rev', '1')`)
		return err
	}
	if err != nil {
		return err
	}
	n, _ := strconv.ParseInt(v, 10, 64)
	_, err = tx.Exec(`UPDATE meta SET v = ? WHERE k = 'maintenance_rev'`, strconv.FormatInt(n+1, 10))
	return err
}

func liveWindows(tx *Tx, from, to time.Time) ([]maintenance.Window, error) {
	rows, err := tx.Query(`SELECT `+windowCols+` FROM maintenance_windows WHERE status <> 'cancelled' AND start_ns < ? AND end_ns > ?`, to.UnixNano(), from.UnixNano())
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []maintenance.Window
	for rows.Next() {
		w, err := scanWindow(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, w)
	}
	return out, rows.Err()
}

// NewUID returns a stable, globally unique identifier for a window (the ICS UID).
func NewUID() string {
	b := make([]byte, 10)
	rand.Read(b)
	return hex.EncodeToString(b) + "@kessai"
}

// AddWindows inserts windows after checking each against the schedule (and each other) for an
// overlap in the same scope; all or nothing.
func (db *DB) AddWindows(ctx context.Context, ws []maintenance.Window, actor string) ([]maintenance.Window, error) {
	out := make([]maintenance.Window, 0, len(ws))
	err := db.Tx(ctx, func(tx *Tx) error {
		out = out[:0]
		now := time.Now()
		for _, w := range ws {
			if err := w.Validate(); err != nil {
				return err
			}
			existing, err := liveWindows(tx, w.Start, w.End)
			if err != nil {
				return err
			}
			if w.Status != maintenance.StatusCancelled {
				if o := maintenance.Conflict(w, existing); o != nil {
					return &maintenance.InputError{Msg: fmt.Sprintf("window %s overlaps window %s in the same scope",
						describeNew(w), o.Describe())}
				}
			}
			if w.UID == "" {
				w.UID = NewUID()
			}
			if w.Kind == "" {
				w.Kind = maintenance.KindScheduled
			}
			if w.Status == "" {
				w.Status = maintenance.StatusPlanned
			}
			w.CreatedAt, w.UpdatedAt = now, now
			id, err := tx.InsertID(`INSERT INTO maintenance_windows(uid, start_ns, end_ns, reserve_end_ns, zone, kind, status, revision, scope, title_ja, title_en, notes_ja, notes_en, note, created_at, updated_at)
				VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
				w.UID, NS(w.Start), NS(w.End), NS(w.ReserveEnd), w.Zone, w.Kind, w.Status, w.Revision, w.Scope.String(),
				w.TitleJA, w.TitleEN, w.NotesJA, w.NotesEN, w.Note, NS(now), NS(now))
			if IsUnique(err) {
				return &maintenance.InputError{Msg: fmt.Sprintf("a window with UID %s already exists", w.UID)}
			}
			if err != nil {
				return err
			}
			w.ID = id
			if err := addChange(tx, maintenance.Change{WindowID: id, Revision: w.Revision, Kind: maintenance.ChangeAdded,
				NewStart: w.Start, NewEnd: w.End, At: now, Actor: actor,
				ChangeText: maintenance.ChangeText{MessageJA: w.NotesJA, MessageEN: w.NotesEN, Note: w.Note}}); err != nil {
				return err
			}
			out = append(out, w)
		}
		return bumpRev(tx)
	})
	return out, err
}

func describeNew(w maintenance.Window) string {
	w.ID = 0
	d := w.Describe()
	return d[len("#0 "):]
}

func addChange(tx *Tx, c maintenance.Change) error {
	_, err := tx.Exec(`INSERT INTO maintenance_changes(window_id, revision, kind, old_start, old_end, new_start, new_end, at, actor, reason, message_ja, message_en, stage, mail) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		c.WindowID, c.Revision, c.Kind, NS(c.OldStart), NS(c.OldEnd), NS(c.NewStart), NS(c.NewEnd), NS(c.At), c.Actor, c.Note, c.MessageJA, c.MessageEN, c.Stage, boolInt(c.Mail))
	return err
}

// ChangeWindow applies one edit (move, cancel, extend, end early, publish) to window id through
// edit, records it as a change with the next revision, and returns the new window. note is the
// change's internal note (never published); ChangeWindowText also takes a public message.
func (db *DB) ChangeWindow(ctx context.Context, id int64, kind, actor, note string, edit func(w *maintenance.Window) error) (maintenance.Window, error) {
	return db.ChangeWindowText(ctx, id, kind, actor, maintenance.ChangeText{Note: note}, edit)
}

// ChangeWindowText is ChangeWindow with the change's public message (ja/en), internal note and
// stage.
func (db *DB) ChangeWindowText(ctx context.Context, id int64, kind, actor string, text maintenance.ChangeText, edit func(w *maintenance.Window) error) (maintenance.Window, error) {
	var out maintenance.Window
	err := db.Tx(ctx, func(tx *Tx) error {
		w, err := scanWindow(tx.QueryRow(`SELECT `+windowCols+` FROM maintenance_windows WHERE id = ?`, id))
		if errors.Is(err, sql.ErrNoRows) {
			return &maintenance.InputError{Msg: fmt.Sprintf("no maintenance window #%d", id)}
		}
		if err != nil {
			return err
		}
		old := w
		if err := edit(&w); err != nil {
			return err
		}
		if err := w.Validate(); err != nil {
			return err
		}
		if w.Status != maintenance.StatusCancelled {
			existing, err := liveWindows(tx, w.Start, w.End)
			if err != nil {
				return err
			}
			if o := maintenance.Conflict(w, existing); o != nil {
				return &maintenance.InputError{Msg: fmt.Sprintf("window %s would overlap window %s in the same scope", w.Describe(), o.Describe())}
			}
		}
		now := time.Now()
		w.Revision = old.Revision + 1
		w.UpdatedAt = now
		_, err = tx.Exec(`UPDATE maintenance_windows SET start_ns=?, end_ns=?, reserve_end_ns=?, zone=?, kind=?, status=?, revision=?, scope=?, title_ja=?, title_en=?, notes_ja=?, notes_en=?, note=?, updated_at=? WHERE id=?`,
			NS(w.Start), NS(w.End), NS(w.ReserveEnd), w.Zone, w.Kind, w.Status, w.Revision, w.Scope.String(), w.TitleJA, w.TitleEN, w.NotesJA, w.NotesEN, w.Note, NS(now), id)
		if err != nil {
			return err
		}
		if err := addChange(tx, maintenance.Change{WindowID: id, Revision: w.Revision, Kind: kind, OldStart: old.Start, OldEnd: old.End,
			NewStart: w.Start, NewEnd: w.End, At: now, Actor: actor, ChangeText: text}); err != nil {
			return err
		}
		out = w
		return bumpRev(tx)
	})
	return out, err
}

// Meta reads a meta value ("" when absent).
func (db *DB) Meta(ctx context.Context, k string) (string, error) {
	var v string
	err := db.QueryRow(ctx, `SELECT v FROM meta WHERE k = ?`, k).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	return v, classify(err)
}

// SetMeta writes a meta value (an upsert: safe when several instances start at once).
func (db *DB) SetMeta(ctx context.Context, k, v string) error {
	return db.Tx(ctx, func(tx *Tx) error {
		_, err := tx.Exec(`INSERT INTO meta(k, v) VALUES (?, ?) ON CONFLICT (k) DO UPDATE SET v = excluded.v`, k, v)
		return err
	})
}

// InitMeta writes a meta value only if none is there yet, and returns the value that is there
// afterwards (the first writer's, when several instances race).
func (db *DB) InitMeta(ctx context.Context, k, v string) (string, error) {
	err := db.Tx(ctx, func(tx *Tx) error {
		_, err := tx.Exec(`INSERT INTO meta(k, v) VALUES (?, ?) ON CONFLICT (k) DO NOTHING`, k, v)
		return err
	})
	if err != nil {
		return "", err
	}
	return db.Meta(ctx, k)
}

func boolInt(b bool) int64 {
	if b {
		return 1
	}
	return 0
}
