package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"kessai/internal/maintenance"
)

func maintDraft(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("maintenance draft", stderr)
	var db dbFlags
	db.register(fs)
	year := fs.Int("year", 0, "year to draft (required)")
	rule := fs.String("rrule", "", "RFC 5545 rule, e.g. FREQ=MONTHLY;BYDAY=TH;BYMONTHDAY=17,18,19,20,21,22,23 (required)")
	from := fs.String("from", "02:55", "local start HH:MM")
	to := fs.String("to", "04:30", "local end HH:MM (earlier than --from: the next day)")
	zone := fs.String("zone", maintenance.DefaultZone, "IANA time zone")
	shift := fs.String("holiday-shift", "none", "when a date is a Japanese public holiday: none | previous | next business day")
	scope := fs.String("scope", "all", "scope of the drafted windows (see maintenance add)")
	asJSON := fs.Bool("json", false, "print JSON")
	save := fs.Bool("save", false, "add the drafted windows to the schedule (--data / --database-url)")
	if _, err := parseInterleaved(fs, args); err != nil {
		return err
	}
	if *year == 0 || *rule == "" {
		return usageErr("draft needs --year and --rrule")
	}
	ws, err := maintenance.Draft(maintenance.DraftRequest{Year: *year, RRule: *rule, From: *from, To: *to, Zone: *zone, HolidayShift: *shift})
	if err != nil {
		return err
	}
	sc, err := maintenance.ParseScope(*scope)
	if err != nil {
		return &maintenance.InputError{Msg: err.Error()}
	}
	for i := range ws {
		ws[i].Scope = sc
	}
	if *save {
		d, err := db.open(ctx)
		if err != nil {
			return err
		}
		defer d.Close()
		if ws, err = d.AddWindows(ctx, ws, "cli:draft"); err != nil {
			return err
		}
	}
	if *asJSON {
		views := make([]*windowView, len(ws))
		for i := range ws {
			views[i] = viewOf(&ws[i], time.Now())
		}
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(map[string]any{"year": *year, "rrule": *rule, "holiday_shift": *shift, "saved": *save, "windows": views})
	}
	for _, w := range ws {
		fmt.Fprintf(stdout, "%s\n", maintenance.FormatSpanJA(w))
	}
	if *save {
		fmt.Fprintf(stdout, "saved %d windows\n", len(ws))
	}
	return nil
}

func maintNotice(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("maintenance notice", stderr)
	var db dbFlags
	db.register(fs)
	year := fs.Int("year", 0, "annual notice for this year")
	window := fs.Int64("window", 0, "notice for one window (ID) instead of the year")
	change := fs.Int64("change", 0, "notice for one recorded change (ID)")
	lang := fs.String("lang", "ja", "ja | en")
	format := fs.String("format", "text", "text | html | md")
	cfgFile := fs.String("config", "", "JSON file of notice settings (sender, contact, wording) overriding the stored ones")
	d, _, err := db.parseOpen(ctx, fs, args)
	if err != nil {
		return err
	}
	defer d.Close()
	cfg, err := d.NoticeConfig(ctx)
	if err != nil {
		return err
	}
	if *cfgFile != "" {
		b, err := os.ReadFile(*cfgFile)
		if err != nil {
			return err
		}
		if err := json.Unmarshal(b, &cfg); err != nil {
			return &maintenance.InputError{Msg: fmt.Sprintf("%s: %v", *cfgFile, err)}
		}
	}
	var buf bytes.Buffer
	switch {
	case *change != 0:
		chs, err := d.Changes(ctx)
		if err != nil {
			return err
		}
		for _, c := range chs {
			if c.ID == *change {
				w, err := d.Window(ctx, c.WindowID)
				if err != nil {
					return err
				}
				if err := maintenance.RenderChangeNotice(&buf, cfg, w, c, *lang, *format); err != nil {
					return err
				}
				_, err = stdout.Write(buf.Bytes())
				return err
			}
		}
		return &maintenance.InputError{Msg: fmt.Sprintf("no change #%d", *change)}
	case *window != 0:
		w, err := d.Window(ctx, *window)
		if err != nil {
			return err
		}
		err = maintenance.RenderWindowNotice(&buf, cfg, w, *lang, *format)
		if err != nil {
			return err
		}
	default:
		if *year == 0 {
			return usageErr("notice needs --year, --window or --change")
		}
		ws, err := d.Windows(ctx)
		if err != nil {
			return err
		}
		if err := maintenance.RenderAnnualNotice(&buf, cfg, *year, ws, *lang, *format); err != nil {
			return err
		}
	}
	_, err = stdout.Write(buf.Bytes())
	return err
}

func maintExport(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("maintenance export", stderr)
	var db dbFlags
	db.register(fs)
	format := fs.String("format", "ics", "ics | json")
	name := fs.String("name", "", "calendar name (ICS)")
	d, _, err := db.parseOpen(ctx, fs, args)
	if err != nil {
		return err
	}
	defer d.Close()
	ws, err := d.Windows(ctx)
	if err != nil {
		return err
	}
	switch *format {
	case "ics":
		return maintenance.ExportICS(stdout, ws, maintenance.ICSOptions{Name: *name})
	case "json":
		return exportJSON(stdout, ws)
	}
	return usageErr("--format must be ics or json")
}

func maintImport(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("maintenance import", stderr)
	var db dbFlags
	db.register(fs)
	format := fs.String("format", "", "ics | json (default: from the file name or content)")
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usageErr("import needs one FILE (- for standard input)")
	}
	var b []byte
	if pos[0] == "-" {
		b, err = io.ReadAll(os.Stdin)
	} else {
		b, err = os.ReadFile(pos[0])
	}
	if err != nil {
		return err
	}
	f := *format
	if f == "" {
		if strings.HasSuffix(pos[0], ".json") || bytes.HasPrefix(bytes.TrimSpace(b), []byte("{")) {
			f = "json"
		} else {
			f = "ics"
		}
	}
	var ws []maintenance.Window
	switch f {
	case "ics":
		ws, err = maintenance.ImportICS(bytes.NewReader(b))
	case "json":
		ws, err = importJSON(bytes.NewReader(b))
	default:
		return usageErr("--format must be ics or json")
	}
	if err != nil {
		return err
	}
	d, err := db.open(ctx)
	if err != nil {
		return err
	}
	defer d.Close()
	// A window already in the schedule (same UID) is updated when the file has a newer revision
	// (ICS SEQUENCE): moved, or cancelled, as one recorded change; otherwise it is left alone, so
	// an import can be repeated.
	have, err := d.Windows(ctx)
	if err != nil {
		return err
	}
	byUID := map[string]maintenance.Window{}
	for _, w := range have {
		if w.UID != "" {
			byUID[w.UID] = w
		}
	}
	var add []maintenance.Window
	updated := 0
	for _, w := range ws {
		old, ok := byUID[w.UID]
		if w.UID == "" || !ok {
			w.ID = 0
			add = append(add, w)
			continue
		}
		if w.Revision <= old.Revision || old.Status == maintenance.StatusCancelled {
			continue
		}
		kind := maintenance.ChangeMoved
		switch {
		case w.Status == maintenance.StatusCancelled:
			kind = maintenance.ChangeCancelled
		case w.Start.Equal(old.Start) && w.End.Equal(old.End):
			continue // a newer revision with nothing an import can apply
		}
		w := w
		if _, err := d.ChangeWindow(ctx, old.ID, kind, "cli:import", fmt.Sprintf("imported revision %d", w.Revision), func(x *maintenance.Window) error {
			if kind == maintenance.ChangeCancelled {
				x.Status = maintenance.StatusCancelled
				return nil
			}
			x.Start, x.End, x.ReserveEnd = w.Start, w.End, w.ReserveEnd
			return nil
		}); err != nil {
			return err
		}
		updated++
	}
	added, err := d.AddWindows(ctx, add, "cli:import")
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "imported %d windows, updated %d (%d already present)\n", len(added), updated, len(ws)-len(add)-updated)
	return nil
}

func exportJSON(w io.Writer, ws []maintenance.Window) error { return maintenance.ExportJSON(w, ws) }

func importJSON(r io.Reader) ([]maintenance.Window, error) { return maintenance.ImportJSON(r) }
