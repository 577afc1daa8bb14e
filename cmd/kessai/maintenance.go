package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"kessai/internal/maintenance"
	"kessai/internal/schedule"
)

func cmdMaintenance(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return usageErr("kessai maintenance add|list|status|move|cancel|draft|notice|export|import|start|end|extend|update|publish")
	}
	sub, rest := args[0], args[1:]
	switch sub {
	case "add":
		return maintAdd(ctx, rest, stdout, stderr)
	case "list", "ls":
		return maintList(ctx, rest, stdout, stderr)
	case "status":
		return maintStatus(ctx, rest, stdout, stderr)
	case "move", "cancel", "publish":
		return maintEdit(ctx, sub, rest, stdout, stderr)
	case "start", "end", "extend", "update":
		return maintLive(ctx, sub, rest, stdout, stderr)
	case "draft":
		return maintDraft(ctx, rest, stdout, stderr)
	case "notice":
		return maintNotice(ctx, rest, stdout, stderr)
	case "export":
		return maintExport(ctx, rest, stdout, stderr)
	case "import":
		return maintImport(ctx, rest, stdout, stderr)
	}
	return usageErr("unknown maintenance command %q", sub)
}

func maintAdd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("maintenance add", stderr)
	var db dbFlags
	db.register(fs)
	date := fs.String("date", "", "local date YYYY-MM-DD (required)")
	from := fs.String("from", "02:55", "local start HH:MM")
	to := fs.String("to", "04:30", "local end HH:MM (earlier than --from: the next day)")
	zone := fs.String("zone", maintenance.DefaultZone, "IANA time zone the times are given in")
	scope := fs.String("scope", "all", "what is refused: all | payments | comma list of CAPTURE,AUTH,CHECK,SALES,CANCEL,TOKEN,AUTOCHARGE,KICKBACK,PANEL, method:card|cvs|bank, brand:VISA|MASTER|JCB|AMEX|DINERS")
	reserve := fs.String("reserve", "", "optional reserve end HH:MM (the latest the window may run)")
	kind := fs.String("kind", maintenance.KindScheduled, "scheduled | emergency")
	titleJA := fs.String("title-ja", "", "Japanese title")
	titleEN := fs.String("title-en", "", "English title")
	var txt textFlags
	txt.register(fs)
	if _, err := parseInterleaved(fs, args); err != nil {
		return err
	}
	if *date == "" {
		return usageErr("--date is required")
	}
	w, err := maintenance.WallWindow(*date, *from, *to, *zone)
	if err != nil {
		return err
	}
	if w.Scope, err = maintenance.ParseScope(*scope); err != nil {
		return &maintenance.InputError{Msg: err.Error()}
	}
	if *reserve != "" {
		r, err := maintenance.WallWindow(*date, *from, *reserve, *zone)
		if err != nil {
			return err
		}
		w.ReserveEnd = r.End
	}
	if *kind != maintenance.KindScheduled && *kind != maintenance.KindEmergency {
		return usageErr("--kind must be scheduled or emergency")
	}
	t := txt.text()
	w.Kind, w.TitleJA, w.TitleEN, w.NotesJA, w.NotesEN, w.Note = *kind, *titleJA, *titleEN, t.MessageJA, t.MessageEN, t.Note
	d, err := db.open(ctx)
	if err != nil {
		return err
	}
	defer d.Close()
	added, err := d.AddWindows(ctx, []maintenance.Window{w}, "cli")
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "added %s\n", added[0].Describe())
	return nil
}

// windowView is the JSON shape of a window on the CLI and the status API.
type windowView struct {
	ID         int64    `json:"id"`
	UID        string   `json:"uid"`
	Start      string   `json:"start"`
	End        string   `json:"end"`
	ReserveEnd string   `json:"reserve_end,omitempty"`
	Zone       string   `json:"zone"`
	Kind       string   `json:"kind"`
	Status     string   `json:"status"`
	State      string   `json:"state"`
	Revision   int      `json:"revision"`
	Scope      string   `json:"scope"`
	Jobs       []string `json:"jobs"`
	Methods    []string `json:"methods,omitempty"`
	Brands     []string `json:"brands,omitempty"`
	TitleJA    string   `json:"title_ja,omitempty"`
	TitleEN    string   `json:"title_en,omitempty"`
}

func viewOf(w *maintenance.Window, at time.Time) *windowView {
	if w == nil {
		return nil
	}
	loc := w.Location()
	v := &windowView{ID: w.ID, UID: w.UID, Start: w.Start.In(loc).Format(time.RFC3339), End: w.End.In(loc).Format(time.RFC3339),
		Zone: w.Zone, Kind: w.Kind, Status: w.Status, State: w.StatusAt(at), Revision: w.Revision, Scope: w.Scope.String(),
		Jobs: w.Scope.Ops.Names(), Methods: w.Scope.Methods, Brands: w.Scope.Brands, TitleJA: w.TitleJA, TitleEN: w.TitleEN}
	if !w.ReserveEnd.IsZero() {
		v.ReserveEnd = w.ReserveEnd.In(loc).Format(time.RFC3339)
	}
	return v
}

func maintList(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("maintenance list", stderr)
	var db dbFlags
	db.register(fs)
	year := fs.Int("year", 0, "only windows starting in this year (in their zone)")
	asJSON := fs.Bool("json", false, "print JSON")
	d, _, err := db.parseOpen(ctx, fs, args)
	if err != nil {
		return err
	}
	defer d.Close()
	ws, err := d.Windows(ctx)
	if err != nil {
		return err
	}
	now := time.Now()
	views := []*windowView{}
	for i := range ws {
		if *year != 0 && ws[i].Start.In(ws[i].Location()).Year() != *year {
			continue
		}
		views = append(views, viewOf(&ws[i], now))
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(map[string]any{"windows": views})
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tSTART\tEND\tZONE\tSTATUS\tREV\tSCOPE")
	for _, v := range views {
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%d\t%s\n", v.ID, v.Start, v.End, v.Zone, v.State, v.Revision, v.Scope)
	}
	return tw.Flush()
}

func maintStatus(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("maintenance status", stderr)
	var db dbFlags
	db.register(fs)
	at := fs.String("at", "", "instant to ask about, RFC3339 (default now)")
	job := fs.String("job", "", "only windows refusing this job (CAPTURE, CANCEL, PANEL…)")
	asJSON := fs.Bool("json", false, "print JSON")
	if _, err := parseInterleaved(fs, args); err != nil {
		return err
	}
	t := time.Now()
	if *at != "" {
		var err error
		if t, err = time.Parse(time.RFC3339, *at); err != nil {
			return &maintenance.InputError{Msg: fmt.Sprintf("--at %q is not an RFC3339 instant (e.g. 2020-07-22T02:55:00+09:00)", *at)}
		}
	}
	d, err := db.open(ctx)
	if err != nil {
		return err
	}
	defer d.Close()
	ws, err := d.Windows(ctx)
	if err != nil {
		return err
	}
	ix := maintenance.NewIndex(ws)
	var active *maintenance.Window
	if *job != "" {
		sc, err := maintenance.ParseScope(*job)
		if err != nil {
			return &maintenance.InputError{Msg: err.Error()}
		}
		active = ix.Refused(t, sc.Ops, "", "")
	} else {
		active = ix.Active(t)
	}
	next := ix.Next(t)
	out := map[string]any{"at": t.Format(time.RFC3339), "active": active != nil, "window": viewOf(active, t), "next": viewOf(next, t)}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(out)
	}
	if active != nil {
		fmt.Fprintf(stdout, "MAINTENANCE at %s: window %s (refuses %s)\n", t.Format(time.RFC3339), active.Describe(), active.Scope)
	} else {
		fmt.Fprintf(stdout, "no maintenance at %s\n", t.Format(time.RFC3339))
	}
	if next != nil {
		fmt.Fprintf(stdout, "next: %s\n", next.Describe())
	}
	return nil
}

func parseID(pos []string) (int64, error) {
	if len(pos) != 1 {
		return 0, usageErr("give exactly one window ID")
	}
	id, err := strconv.ParseInt(pos[0], 10, 64)
	if err != nil || id <= 0 {
		return 0, usageErr("window ID %q is not a positive number", pos[0])
	}
	return id, nil
}

func maintEdit(ctx context.Context, sub string, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("maintenance "+sub, stderr)
	var db dbFlags
	db.register(fs)
	date := fs.String("date", "", "move: new local date YYYY-MM-DD (default: keep)")
	from := fs.String("from", "", "move: new local start HH:MM (default: keep)")
	to := fs.String("to", "", "move: new local end HH:MM (default: keep)")
	var txt textFlags
	txt.register(fs)
	year := fs.Int("year", 0, "publish: the year whose planned windows are announced (the annual notice)")
	d, pos, err := db.parseOpen(ctx, fs, args)
	if err != nil {
		return err
	}
	defer d.Close()
	if sub == "publish" {
		if *year == 0 {
			return usageErr("publish needs --year YYYY")
		}
		n, err := schedule.PublishYear(ctx, d, *year, txt.text(), "cli")
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "published %d windows of %d\n", n, *year)
		return nil
	}
	id, err := parseID(pos)
	if err != nil {
		return err
	}
	kind, w := maintenance.ChangeMoved, maintenance.Window{}
	if sub == "cancel" {
		kind = maintenance.ChangeCancelled
		w, err = schedule.Cancel(ctx, d, id, txt.text(), "cli")
	} else {
		w, err = schedule.Move(ctx, d, id, *date, *from, *to, txt.text(), "cli")
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s %s (revision %d)\n", kind, w.Describe(), w.Revision)
	return nil
}

// maintLive handles the operator's emergency controls on the running service: start a window now,
// end the current one early, or extend it. Servers pick the change up within a second.
func maintLive(ctx context.Context, sub string, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("maintenance "+sub, stderr)
	var db dbFlags
	db.register(fs)
	dur := fs.Duration("for", 0, "start: how long the emergency window lasts (e.g. 30m)")
	by := fs.Duration("by", 0, "extend: how much longer")
	scope := fs.String("scope", "all", "start: what is refused (see maintenance add)")
	stage := fs.String("stage", "", "update: investigating (調査中) | identified (対応中) | resolved (復旧)")
	mailIt := fs.Bool("mail", false, "update: also e-mail the update to every store's notification address")
	var txt textFlags
	txt.register(fs)
	at := fs.String("at", "", "take this instant (RFC 3339) as now: to rehearse against a server running a sandbox clock (serve --clock)")
	d, pos, err := db.parseOpen(ctx, fs, args)
	if err != nil {
		return err
	}
	defer d.Close()
	now := time.Now().UTC()
	if *at != "" {
		t, err := time.Parse(time.RFC3339, *at)
		if err != nil {
			return usageErr("--at %q: want an RFC 3339 instant such as 2027-01-20T03:00:00+09:00", *at)
		}
		now = t.UTC()
	}
	switch sub {
	case "start":
		if *dur <= 0 {
			return usageErr("start needs --for DURATION (e.g. 30m)")
		}
		sc, err := maintenance.ParseScope(*scope)
		if err != nil {
			return &maintenance.InputError{Msg: err.Error()}
		}
		w, err := schedule.StartEmergency(ctx, d, now, *dur, sc, txt.text(), "cli")
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "started %s\n", w.Describe())
		return nil
	case "end", "extend", "update":
		var id int64
		if len(pos) > 0 {
			if id, err = parseID(pos); err != nil {
				return err
			}
		} else {
			ws, err := d.Windows(ctx)
			if err != nil {
				return err
			}
			act := maintenance.NewIndex(ws).Active(now)
			if act == nil {
				return &maintenance.InputError{Msg: "no maintenance window is active now; give a window ID"}
			}
			id = act.ID
		}
		kind, w := maintenance.ChangeEnded, maintenance.Window{}
		if sub == "update" {
			t := txt.text()
			t.Stage, t.Mail = *stage, *mailIt
			kind = maintenance.ChangeUpdate
			w, err = schedule.Update(ctx, d, id, now, t, "cli")
		} else if sub == "extend" {
			if *by <= 0 {
				return usageErr("extend needs --by DURATION (e.g. 15m)")
			}
			kind = maintenance.ChangeExtended
			w, err = schedule.Extend(ctx, d, id, *by, txt.text(), "cli")
		} else {
			w, err = schedule.End(ctx, d, id, now, txt.text(), "cli")
		}
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "%s %s (revision %d)\n", kind, w.Describe(), w.Revision)
	}
	return nil
}

// textFlags are what an operator writes with a schedule change: the public message in Japanese and
// English, and an internal note that is never published (maintenance.md §3.6).
type textFlags struct {
	messageJA, messageEN, note, reason string
}

func (t *textFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&t.messageJA, "message-ja", "", "public message in Japanese: published with the notice, the status API, the feeds and e-mail")
	fs.StringVar(&t.messageEN, "message-en", "", "public message in English (English readers get no Japanese text in its place)")
	fs.StringVar(&t.note, "note", "", "internal note for operators: kept in the console and the audit log, never published")
	fs.StringVar(&t.reason, "reason", "", "same as --note (internal; never published)")
	// the names of the window's message before issue 15, kept for scripts
	fs.StringVar(&t.messageJA, "notes-ja", "", "same as --message-ja")
	fs.StringVar(&t.messageEN, "notes-en", "", "same as --message-en")
}

func (t *textFlags) text() maintenance.ChangeText {
	note := strings.TrimSpace(t.note)
	if r := strings.TrimSpace(t.reason); r != "" {
		if note != "" {
			note += "\n"
		}
		note += r
	}
	return maintenance.ChangeText{MessageJA: strings.TrimSpace(t.messageJA), MessageEN: strings.TrimSpace(t.messageEN), Note: note}
}
