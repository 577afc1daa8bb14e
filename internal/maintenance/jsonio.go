package maintenance

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
)

// JSON is how schedules travel between Kessai instances, backups and the operators' own tools,
// and what the status API answers, so its shape is a contract: fields are only ever added.
// Window itself keeps Scope out of JSON (json:"-"), because the bit mask is an internal detail;
// the DTO below writes it in the text form ParseScope reads.
//
//	{"windows": [{
//	  "id": 7, "uid": "mw-7@kessai",
//	  "start": "2020-07-22T02:55:00+09:00", "end": "2020-07-22T04:30:00+09:00",
//	  "start_local": "2020-07-22 02:55", "end_local": "2020-07-22 04:30",
//	  "reserve_end": "2020-07-22T05:30:00+09:00",          (omitted when not set)
//	  "zone": "Asia/Tokyo", "kind": "scheduled", "status": "planned",
//	  "revision": 1, "scope": "all",                       (or e.g. "CANCEL,AUTOCHARGE,method:cvs")
//	  "title_ja": "…", "title_en": "…", "notes_ja": "…", "notes_en": "…",
//	  "created_at": "…", "updated_at": "…"                 (RFC 3339, omitted when not set)
//	}]}
//
// Instants are RFC 3339 with the offset of the window's zone, so a reader sees the wall-clock
// times of the notice and still has exact instants.

// WindowJSON is one window in the JSON shape above.
type WindowJSON struct {
	ID         int64  `json:"id"`
	UID        string `json:"uid"`
	Start      string `json:"start"`
	End        string `json:"end"`
	StartLocal string `json:"start_local,omitempty"` // output only: "2020-07-22 02:55" in Zone
	EndLocal   string `json:"end_local,omitempty"`
	ReserveEnd string `json:"reserve_end,omitempty"`
	Zone       string `json:"zone"`
	Kind       string `json:"kind"`
	Status     string `json:"status"`
	Revision   int    `json:"revision"`
	Scope      string `json:"scope"`
	TitleJA    string `json:"title_ja,omitempty"`
	TitleEN    string `json:"title_en,omitempty"`
	NotesJA    string `json:"notes_ja,omitempty"`
	NotesEN    string `json:"notes_en,omitempty"`
	CreatedAt  string `json:"created_at,omitempty"`
	UpdatedAt  string `json:"updated_at,omitempty"`
}

// ScheduleJSON is the document ExportJSON writes and ImportJSON reads.
type ScheduleJSON struct {
	Windows []WindowJSON `json:"windows"`
}

// ToJSON converts w for the JSON API. With a non-zero at, "status" is the window's status as seen
// at that instant (in progress, completed…: one status field, issue 15 item 16), which is what a
// status page needs; exports give the stored status, because the clock changes while the schedule
// does not. Instants are in the window's zone, whole seconds for the API (exports keep fractions,
// so that an import restores the exact instants).
func ToJSON(w Window, at time.Time) WindowJSON {
	loc := w.Location()
	zone := w.Zone
	if zone == "" {
		zone = DefaultZone
	}
	ts := func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		if at.IsZero() {
			return t.In(loc).Format(time.RFC3339Nano) // an export keeps the exact instant
		}
		return t.In(loc).Format(time.RFC3339)
	}
	j := WindowJSON{
		ID: w.ID, UID: w.UID, Start: ts(w.Start), End: ts(w.End),
		StartLocal: w.Start.In(loc).Format("2006-01-02 15:04"), EndLocal: w.End.In(loc).Format("2006-01-02 15:04"),
		ReserveEnd: ts(w.ReserveEnd), Zone: zone, Kind: w.Kind, Status: w.Status, Revision: w.Revision,
		Scope: w.Scope.String(), TitleJA: w.TitleJA, TitleEN: w.TitleEN, NotesJA: w.NotesJA, NotesEN: w.NotesEN,
		CreatedAt: ts(w.CreatedAt), UpdatedAt: ts(w.UpdatedAt),
	}
	if !at.IsZero() {
		j.Status = w.StatusAt(at)
	}
	return j
}

// ExportJSON writes ws as {"windows":[…]}, indented, in the given order.
func ExportJSON(w io.Writer, ws []Window) error {
	doc := ScheduleJSON{Windows: make([]WindowJSON, 0, len(ws))}
	for _, win := range ws {
		doc.Windows = append(doc.Windows, ToJSON(win, time.Time{}))
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(doc)
}

// ImportJSON reads a schedule written by ExportJSON (or by hand). Unknown fields are refused, so
// a misspelt key is reported rather than silently dropped; every window must pass
// Window.Validate. Any refusal is an *InputError naming the window (windows[i]) and field.
func ImportJSON(r io.Reader) ([]Window, error) {
	dec := json.NewDecoder(r)
	dec.DisallowUnknownFields()
	var doc struct {
		Windows *[]WindowJSON `json:"windows"`
	}
	if err := dec.Decode(&doc); err != nil {
		return nil, jsonInputErr(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, inputErr("JSON: unexpected data after the schedule object")
	}
	if doc.Windows == nil {
		return nil, inputErr(`JSON: no "windows" array`)
	}
	out := make([]Window, 0, len(*doc.Windows))
	for i, j := range *doc.Windows {
		w, err := FromJSON(j)
		if err != nil {
			return nil, inputErr("windows[%d]: %v", i, err)
		}
		out = append(out, w)
	}
	return out, nil
}

// FromJSON converts one WindowJSON back, applying the same defaults as the rest of the package:
// zone Asia/Tokyo, kind scheduled, status planned, scope all. Output-only fields are ignored.
func FromJSON(j WindowJSON) (Window, error) {
	zone := j.Zone
	if zone == "" {
		zone = DefaultZone
	}
	if _, err := LoadZone(zone); err != nil {
		return Window{}, inputErr("zone: %v", err)
	}
	w := Window{ID: j.ID, UID: j.UID, Zone: zone, Kind: j.Kind, Status: j.Status, Revision: j.Revision,
		TitleJA: j.TitleJA, TitleEN: j.TitleEN, NotesJA: j.NotesJA, NotesEN: j.NotesEN}
	for _, f := range []struct {
		name     string
		v        string
		dst      *time.Time
		required bool
	}{
		{"start", j.Start, &w.Start, true}, {"end", j.End, &w.End, true}, {"reserve_end", j.ReserveEnd, &w.ReserveEnd, false},
		{"created_at", j.CreatedAt, &w.CreatedAt, false}, {"updated_at", j.UpdatedAt, &w.UpdatedAt, false},
	} {
		if f.v == "" {
			if f.required {
				return Window{}, inputErr("%s: missing", f.name)
			}
			continue
		}
		t, err := time.Parse(time.RFC3339Nano, f.v)
		if err != nil {
			return Window{}, inputErr("%s: bad time %q (want RFC 3339, e.g. 2020-07-22T02:55:00+09:00)", f.name, f.v)
		}
		*f.dst = t.UTC()
	}
	switch w.Kind {
	case "":
		w.Kind = KindScheduled
	case KindScheduled, KindEmergency:
	default:
		return Window{}, inputErr("kind: unknown %q (%s, %s)", w.Kind, KindScheduled, KindEmergency)
	}
	switch w.Status {
	case "":
		w.Status = StatusPlanned
	case StatusPlanned, StatusAnnounced, StatusInProgress, StatusCompleted, StatusCancelled:
	default:
		return Window{}, inputErr("status: unknown %q (%s)", w.Status, strings.Join([]string{StatusPlanned,
			StatusAnnounced, StatusInProgress, StatusCompleted, StatusCancelled}, ", "))
	}
	if w.Revision < 0 {
		return Window{}, inputErr("revision: negative")
	}
	sc, err := ParseScope(j.Scope)
	if err != nil {
		return Window{}, inputErr("scope: %v", err)
	}
	w.Scope = sc
	if err := w.Validate(); err != nil {
		return Window{}, err
	}
	return w, nil
}

// jsonInputErr turns a decoder error into an operator message with where it happened.
func jsonInputErr(err error) error {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.Is(err, io.EOF):
		return inputErr("JSON: empty input")
	case errors.As(err, &syn):
		return inputErr("JSON: syntax error at byte %d: %v", syn.Offset, err)
	case errors.As(err, &typ):
		return inputErr("JSON: %s: want %s, got %s (byte %d)", typ.Field, typ.Type, typ.Value, typ.Offset)
	}
	return inputErr("JSON: %s", strings.TrimPrefix(fmt.Sprint(err), "json: "))
}
