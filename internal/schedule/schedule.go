// Package schedule holds the operator's controls on the maintenance schedule, shared by the CLI
// ("kessai maintenance start|end|extend|move|cancel|publish") and the operator console, so both
// mean the same thing: an emergency window starts now and is announced at once; End stops the
// active window now; Extend moves its end (and a reserve end it would pass); every edit is one
// recorded change with its own revision.
package schedule

import (
	"context"
	"fmt"
	"time"

	"kessai/internal/maintenance"
	"kessai/internal/store"
)

// Every control takes a maintenance.ChangeText: the public message (ja/en), published with the
// change's notice, and the internal note, kept with the change for operators only.

// StartEmergency begins an emergency window at now, lasting d. The message is the window's public
// message (its notices, the status API and the feeds); the note stays internal.
func StartEmergency(ctx context.Context, db *store.DB, now time.Time, d time.Duration, scope maintenance.Scope, t maintenance.ChangeText, actor string) (maintenance.Window, error) {
	if d <= 0 || d > 7*24*time.Hour {
		return maintenance.Window{}, &maintenance.InputError{Msg: "duration must be between 1 minute and 7 days"}
	}
	now = now.UTC()
	w := maintenance.Window{Start: now.Truncate(time.Second), End: now.Add(d), Zone: maintenance.DefaultZone,
		Kind: maintenance.KindEmergency, Status: maintenance.StatusAnnounced, Scope: scope,
		TitleJA: "緊急メンテナンス", TitleEN: "Emergency maintenance", NotesJA: t.MessageJA, NotesEN: t.MessageEN, Note: t.Note}
	added, err := db.AddWindows(ctx, []maintenance.Window{w}, actor)
	if err != nil {
		return maintenance.Window{}, err
	}
	return added[0], nil
}

// End ends window id now; it must be active.
func End(ctx context.Context, db *store.DB, id int64, now time.Time, t maintenance.ChangeText, actor string) (maintenance.Window, error) {
	return db.ChangeWindowText(ctx, id, maintenance.ChangeEnded, actor, t, func(w *maintenance.Window) error {
		if !w.Active(now) {
			return &maintenance.InputError{Msg: fmt.Sprintf("window #%d is not active now", w.ID)}
		}
		w.End = now.UTC()
		if !w.End.After(w.Start) {
			w.End = w.Start.Add(time.Second)
		}
		w.ReserveEnd = time.Time{}
		return nil
	})
}

// Extend moves the end of window id later by d.
func Extend(ctx context.Context, db *store.DB, id int64, d time.Duration, t maintenance.ChangeText, actor string) (maintenance.Window, error) {
	if d <= 0 {
		return maintenance.Window{}, &maintenance.InputError{Msg: "extend needs a positive duration"}
	}
	return db.ChangeWindowText(ctx, id, maintenance.ChangeExtended, actor, t, func(w *maintenance.Window) error {
		if w.Status == maintenance.StatusCancelled {
			return &maintenance.InputError{Msg: fmt.Sprintf("window #%d is cancelled", w.ID)}
		}
		w.End = w.End.Add(d)
		if !w.ReserveEnd.IsZero() && w.ReserveEnd.Before(w.End) {
			w.ReserveEnd = w.End
		}
		return nil
	})
}

// Move gives window id a new local date and times ("" keeps each).
func Move(ctx context.Context, db *store.DB, id int64, date, from, to string, t maintenance.ChangeText, actor string) (maintenance.Window, error) {
	if date == "" && from == "" && to == "" {
		return maintenance.Window{}, &maintenance.InputError{Msg: "move needs a new date or time"}
	}
	return db.ChangeWindowText(ctx, id, maintenance.ChangeMoved, actor, t, func(w *maintenance.Window) error {
		if w.Status == maintenance.StatusCancelled {
			return &maintenance.InputError{Msg: fmt.Sprintf("window #%d is cancelled", w.ID)}
		}
		loc := w.Location()
		ls, le := w.Start.In(loc), w.End.In(loc)
		nd, nf, nt := ls.Format("2006-01-02"), ls.Format("15:04"), le.Format("15:04")
		if date != "" {
			nd = date
		}
		if from != "" {
			nf = from
		}
		if to != "" {
			nt = to
		}
		nw, err := maintenance.WallWindow(nd, nf, nt, w.Zone)
		if err != nil {
			return err
		}
		w.Start, w.End = nw.Start, nw.End
		if !w.ReserveEnd.IsZero() && w.ReserveEnd.Before(w.End) {
			w.ReserveEnd = time.Time{}
		}
		return nil
	})
}

// Cancel cancels window id (中止); it stays in the schedule as cancelled.
func Cancel(ctx context.Context, db *store.DB, id int64, t maintenance.ChangeText, actor string) (maintenance.Window, error) {
	return db.ChangeWindowText(ctx, id, maintenance.ChangeCancelled, actor, t, func(w *maintenance.Window) error {
		if w.Status == maintenance.StatusCancelled {
			return &maintenance.InputError{Msg: fmt.Sprintf("window #%d is already cancelled", w.ID)}
		}
		w.Status = maintenance.StatusCancelled
		return nil
	})
}

// PublishYear announces every planned window starting in year (the annual notice); it returns how
// many it announced.
func PublishYear(ctx context.Context, db *store.DB, year int, t maintenance.ChangeText, actor string) (int, error) {
	ws, err := db.Windows(ctx)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, w := range ws {
		if w.Status != maintenance.StatusPlanned || w.Start.In(w.Location()).Year() != year {
			continue
		}
		if _, err := db.ChangeWindowText(ctx, w.ID, maintenance.ChangePublished, actor, t, func(w *maintenance.Window) error {
			w.Status = maintenance.StatusAnnounced
			return nil
		}); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

// Update records a progress update of window id (Statuspage-style: 調査中 investigating → 対応中
// identified → 復旧 resolved): its stage and public message go to the notices page, the Atom feed
// and the status API; the note stays internal. The window must not be cancelled and must be in
// progress, or have ended less than a day ago (a 復旧 written just after the end).
func Update(ctx context.Context, db *store.DB, id int64, now time.Time, t maintenance.ChangeText, actor string) (maintenance.Window, error) {
	if !maintenance.ValidStage(t.Stage) {
		return maintenance.Window{}, &maintenance.InputError{Msg: fmt.Sprintf("stage %q: want investigating (調査中), identified (対応中) or resolved (復旧)", t.Stage)}
	}
	if t.MessageJA == "" && t.MessageEN == "" {
		return maintenance.Window{}, &maintenance.InputError{Msg: "an update needs a public message (--message-ja and/or --message-en)"}
	}
	return db.ChangeWindowText(ctx, id, maintenance.ChangeUpdate, actor, t, func(w *maintenance.Window) error {
		switch {
		case w.Status == maintenance.StatusCancelled:
			return &maintenance.InputError{Msg: fmt.Sprintf("window #%d is cancelled", w.ID)}
		case now.Before(w.Start):
			return &maintenance.InputError{Msg: fmt.Sprintf("window #%d has not started: updates are for a window in progress", w.ID)}
		case !now.Before(w.End.Add(24 * time.Hour)):
			return &maintenance.InputError{Msg: fmt.Sprintf("window #%d ended more than a day ago", w.ID)}
		}
		return nil
	})
}
