package maintenance

import (
	"bytes"
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	ics "github.com/arran4/golang-ical"
)

var icsNow = time.Date(2019, 12, 4, 1, 0, 0, 0, time.UTC)

// icsWindows is the 2020 schedule plus one window for each feature the feed must carry.
func icsWindows(t testing.TB) []Window {
	t.Helper()
	ws := windows2020(t)
	ws[6].Revision = 1 // moved off the 23 July holiday

	cancelled := wallIn(t, "2020-07-23", "02:55", "04:30", "")
	cancelled.ID, cancelled.Status, cancelled.Revision = 13, StatusCancelled, 2
	cancelled.UID = "legacy-0723@kessai.example"

	partial := wallIn(t, "2020-08-06", "01:00", "02:00", "")
	partial.ID = 14
	partial.Scope = Scope{Ops: OpCancel | OpAutoCharge, Methods: []string{"cvs"}, Brands: []string{"JCB"}}
	partial.ReserveEnd = partial.End.Add(30 * time.Minute)

	emergency := wallIn(t, "2020-09-03", "22:30", "01:15", "")
	emergency.ID, emergency.Kind = 15, KindEmergency
	emergency.TitleJA = "緊急メンテナンス（カード会社設備の更新, 第2段階; 夜間作業）"
	emergency.TitleEN = `Emergency work; phase 2, "night" \ backslash`
	emergency.NotesJA = "長い備考です。" + strings.Repeat("決済サーバの設備更新に伴い、処理を停止します。", 4) + "\n二行目"
	emergency.NotesEN = "Line one,\nline two; end"
	emergency.CreatedAt = time.Date(2020, 9, 1, 3, 4, 5, 0, time.UTC)
	emergency.UpdatedAt = time.Date(2020, 9, 2, 6, 7, 8, 0, time.UTC)

	ny := wallIn(t, "2020-03-08", "01:00", "04:00", "America/New_York") // spans the DST start
	ny.ID = 16
	utc := wallIn(t, "2020-11-01", "17:00", "18:00", "UTC")
	utc.ID = 17
	unsaved := wallIn(t, "2020-12-24", "03:00", "04:00", "Asia/Tokyo") // no id, no uid
	return append(ws, cancelled, partial, emergency, ny, utc, unsaved)
}

func exportICS(t testing.TB, ws []Window) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := ExportICS(&b, ws, ICSOptions{Name: "Kessai メンテナンス / maintenance", RefreshInterval: 6 * time.Hour, Now: icsNow}); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func TestExportICSGolden(t *testing.T) {
	checkGolden(t, "calendar.ics", exportICS(t, icsWindows(t)))
}

// RFC 5545 §3.1: CRLF, at most 75 octets a line, and folding must not split a UTF-8 sequence.
func TestExportICSLineDiscipline(t *testing.T) {
	out := exportICS(t, icsWindows(t))
	if !bytes.HasSuffix(out, []byte("\r\n")) {
		t.Fatal("output does not end with CRLF")
	}
	folded := 0
	for i, l := range strings.Split(strings.TrimSuffix(string(out), "\r\n"), "\r\n") {
		if strings.Contains(l, "\n") || strings.Contains(l, "\r") {
			t.Errorf("line %d: bare line break", i+1)
		}
		if len(l) > 75 {
			t.Errorf("line %d: %d octets", i+1, len(l))
		}
		if !utf8.ValidString(l) {
			t.Errorf("line %d: folding split a UTF-8 sequence: %q", i+1, l)
		}
		if strings.HasPrefix(l, " ") {
			folded++
		}
	}
	if folded == 0 {
		t.Error("expected some folded lines (long notes)")
	}
	for _, want := range []string{
		"METHOD:PUBLISH", "CALSCALE:GREGORIAN", "NAME:Kessai メンテナンス / maintenance",
		"REFRESH-INTERVAL;VALUE=DURATION:PT6H", "TZID:Asia/Tokyo", "TZOFFSETFROM:+0900", "TZOFFSETTO:+0900",
		"TZNAME:JST", "DTSTART;TZID=Asia/Tokyo:20200722T025500", "DTEND;TZID=Asia/Tokyo:20200722T043000",
		"UID:mw-7@kessai", "STATUS:CANCELLED", "X-KESSAI-SCOPE:all", "DTSTART:20201101T170000Z",
		"X-KESSAI-RESERVE-END;TZID=Asia/Tokyo:20200806T023000", "X-KESSAI-KIND:emergency",
	} {
		if !bytes.Contains(out, []byte(want+"\r\n")) {
			t.Errorf("missing line %q", want)
		}
	}
	if n := bytes.Count(out, []byte("BEGIN:VEVENT\r\n")); n != len(icsWindows(t)) {
		t.Errorf("%d VEVENTs, want %d (cancelled windows stay)", n, len(icsWindows(t)))
	}
}

func TestICSText(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{`a,b;c\d`, `a\,b\;c\\d`},
		{"one\r\ntwo\nthree\rfour", `one\ntwo\nthree\nfour`},
		{"tab\tand\x00nul", "tab\tandnul"},
	} {
		if got := icsText(c.in); got != c.want {
			t.Errorf("icsText(%q) = %q, want %q", c.in, got, c.want)
		}
		if back := icsUnescape(icsText(c.in)); back != icsUnescape(c.want) {
			t.Errorf("round trip of %q gave %q", c.in, back)
		}
	}
	if got := icsUnescape(`x\N\q\`); got != "x\n\\q\\" {
		t.Errorf("unescape kept %q", got)
	}
}

func TestICSDuration(t *testing.T) {
	for _, c := range []struct {
		d    time.Duration
		want string
	}{{time.Hour, "PT1H"}, {90 * time.Minute, "PT1H30M"}, {48 * time.Hour, "P2D"}, {25*time.Hour + 5*time.Second, "P1DT1H5S"}} {
		if got := icsDuration(c.d); got != c.want {
			t.Errorf("%s: %s, want %s", c.d, got, c.want)
		}
	}
}

// expectedAfterImport is what an exported window looks like once read back: the UID is the one
// the export wrote, the status is planned unless cancelled (the feed publishes no internal states).
func expectedAfterImport(w Window) Window {
	w.UID = icsUID(w)
	if w.Status != StatusCancelled {
		w.Status = StatusPlanned
	}
	if w.Kind == "" {
		w.Kind = KindScheduled
	}
	return w
}

func sameWindows(t testing.TB, got, want []Window) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%d windows, want %d", len(got), len(want))
	}
	for i := range want {
		g, w := got[i], want[i]
		for _, tt := range []struct {
			name string
			a, b time.Time
		}{{"Start", g.Start, w.Start}, {"End", g.End, w.End}, {"ReserveEnd", g.ReserveEnd, w.ReserveEnd},
			{"CreatedAt", g.CreatedAt, w.CreatedAt}, {"UpdatedAt", g.UpdatedAt, w.UpdatedAt}} {
			if !tt.a.Equal(tt.b) {
				t.Errorf("window %d %s: %s, want %s", i, tt.name, tt.a, tt.b)
			}
		}
		g.Start, g.End, g.ReserveEnd, g.CreatedAt, g.UpdatedAt = w.Start, w.End, w.ReserveEnd, w.CreatedAt, w.UpdatedAt
		if !reflect.DeepEqual(g, w) {
			t.Errorf("window %d:\n got %+v\nwant %+v", i, g, w)
		}
	}
}

func TestICSRoundTrip(t *testing.T) {
	ws := icsWindows(t)
	ws[0].Status = StatusAnnounced // published as CONFIRMED, read back as planned
	got, err := ImportICS(bytes.NewReader(exportICS(t, ws)))
	if err != nil {
		t.Fatal(err)
	}
	want := make([]Window, len(ws))
	for i, w := range ws {
		want[i] = expectedAfterImport(w)
	}
	sameWindows(t, got, want)
}

// An independent parser must read the feed the same way: that is what subscribers' calendars do.
func TestExportICSParsesWithGolangICal(t *testing.T) {
	ws := icsWindows(t)
	cal, err := ics.ParseCalendar(bytes.NewReader(exportICS(t, ws)))
	if err != nil {
		t.Fatal(err)
	}
	evs := cal.Events()
	if len(evs) != len(ws) {
		t.Fatalf("golang-ical sees %d events, want %d", len(evs), len(ws))
	}
	for i, ev := range evs {
		w := ws[i]
		start, err := ev.GetStartAt()
		if err != nil {
			t.Fatalf("event %d: %v", i, err)
		}
		end, err := ev.GetEndAt()
		if err != nil {
			t.Fatalf("event %d: %v", i, err)
		}
		if !start.Equal(w.Start) || !end.Equal(w.End) {
			t.Errorf("event %d: %s–%s, want %s–%s", i, start, end, w.Start, w.End)
		}
		wantStatus := "CONFIRMED"
		switch w.Status {
		case StatusCancelled:
			wantStatus = "CANCELLED"
		case StatusPlanned:
			wantStatus = "TENTATIVE"
		}
		if p := ev.GetProperty(ics.ComponentPropertyStatus); p == nil || p.Value != wantStatus {
			t.Errorf("event %d: STATUS %v, want %s", i, p, wantStatus)
		}
		if p := ev.GetProperty(ics.ComponentPropertySequence); p == nil || p.Value != fmt.Sprint(w.Revision) {
			t.Errorf("event %d: SEQUENCE %v, want %d", i, p, w.Revision)
		}
		if ev.Id() != icsUID(w) {
			t.Errorf("event %d: UID %q, want %q", i, ev.Id(), icsUID(w))
		}
		if p := ev.GetProperty(ics.ComponentProperty("X-KESSAI-SCOPE")); p == nil || p.Value == "" {
			t.Errorf("event %d: no X-KESSAI-SCOPE", i)
		}
	}
	if p := cal.CalendarProperties; len(p) == 0 {
		t.Error("no calendar properties")
	}
}

// A calendar written by someone else: LF endings, folding with a tab, floating and UTC times,
// a VALARM inside the event, a VTIMEZONE, lower-case names, quoted TZID.
func TestImportICSForeign(t *testing.T) {
	src := "begin:vcalendar\nversion:2.0\nprodid:-//Other//EN\n" +
		"BEGIN:VTIMEZONE\nTZID:Asia/Tokyo\nBEGIN:STANDARD\nDTSTART:19700101T000000\nTZOFFSETFROM:+0900\nTZOFFSETTO:+0900\nEND:STANDARD\nEND:VTIMEZONE\n" +
		"BEGIN:VEVENT\nUID:a@x\nDTSTART;TZID=\"Asia/Tokyo\":20200722T025500\nDTEND;TZID=Asia/Tokyo:20200722T0430\n\t00\n" +
		"SUMMARY:Maint\\, all\nBEGIN:VALARM\nTRIGGER:-PT15M\nDTSTART:garbage-ignored\nEND:VALARM\nEND:VEVENT\n" +
		"BEGIN:VEVENT\nUID:b@x\nDTSTART:20200820T025500\nDTEND:20200820T043000\nSTATUS:cancelled\nSEQUENCE:3\nEND:VEVENT\n" +
		"BEGIN:VEVENT\nUID:c@x\nDTSTART:20200916T175500Z\nDTEND:20200916T193000Z\nEND:VEVENT\n" +
		"end:vcalendar\n"
	got, err := ImportICS(strings.NewReader(src))
	if err != nil {
		t.Fatal(err)
	}
	notice := wallIn(t, "2020-07-22", "02:55", "04:30", "")
	aug := wallIn(t, "2020-08-20", "02:55", "04:30", "")
	want := []Window{
		{UID: "a@x", Start: notice.Start, End: notice.End, Zone: DefaultZone, Kind: KindScheduled, Status: StatusPlanned, Scope: Scope{Ops: DefaultScope}},
		{UID: "b@x", Start: aug.Start, End: aug.End, Zone: DefaultZone, Kind: KindScheduled, Status: StatusCancelled, Revision: 3, Scope: Scope{Ops: DefaultScope}},
		{UID: "c@x", Start: time.Date(2020, 9, 16, 17, 55, 0, 0, time.UTC), End: time.Date(2020, 9, 16, 19, 30, 0, 0, time.UTC),
			Zone: "UTC", Kind: KindScheduled, Status: StatusPlanned, Scope: Scope{Ops: DefaultScope}},
	}
	sameWindows(t, got, want)
}

var lineRE = regexp.MustCompile(`^line (\d+): `)

func TestImportICSErrorsNameTheLine(t *testing.T) {
	head := "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:x\r\n"
	ev := func(body string) string {
		return head + "BEGIN:VEVENT\r\nUID:u@x\r\n" + body + "END:VEVENT\r\nEND:VCALENDAR\r\n"
	}
	okTimes := "DTSTART;TZID=Asia/Tokyo:20200722T025500\r\nDTEND;TZID=Asia/Tokyo:20200722T043000\r\n"
	for _, c := range []struct {
		name, src string
		line      int
		mention   string // a property or component the message must name
	}{
		{"empty", "", 1, "VCALENDAR"},
		{"no-vcalendar", "BEGIN:VEVENT\r\nEND:VEVENT\r\n", 1, "VCALENDAR"},
		{"property-first", "\r\nVERSION:2.0\r\n", 2, "VCALENDAR"},
		{"continuation-first", " folded\r\n", 1, ""},
		{"unterminated-event", head + "BEGIN:VEVENT\r\nUID:u\r\n" + okTimes + "END:VCALENDAR\r\n", 8, "BEGIN:VEVENT (line 4)"},
		{"unterminated-calendar", head + "BEGIN:VEVENT\r\nUID:u\r\n" + okTimes + "END:VEVENT\r\n", 1, "VCALENDAR"},
		{"unterminated-event-at-eof", head + "BEGIN:VEVENT\r\nUID:u\r\n", 4, "VEVENT"},
		{"end-without-begin", head + "END:VCALENDAR\r\nEND:VEVENT\r\n", 5, "VEVENT"},
		{"no-dtstart", ev("DTEND:20200722T043000\r\n"), 4, "DTSTART"},
		{"no-dtend", ev("DTSTART:20200722T025500\r\n"), 4, "DTEND"},
		{"no-uid", head + "BEGIN:VEVENT\r\n" + okTimes + "END:VEVENT\r\nEND:VCALENDAR\r\n", 4, "UID"},
		{"bad-date-time", head + "BEGIN:VEVENT\r\nUID:u\r\nSUMMARY:a long summary that is folded\r\n  onto a second line\r\n" +
			"DESCRIPTION:x\r\nX-A:1\r\nX-B:2\r\nX-C:3\r\nDTSTART:2020x\r\nDTEND:20200722T043000\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n", 12, "DTSTART"},
		{"bad-month", ev("DTSTART:20201322T025500\r\nDTEND:20201322T043000\r\n"), 6, "DTSTART"},
		{"fraction", ev("DTSTART:20200722T025500.5Z\r\nDTEND:20200722T043000Z\r\n"), 6, "DTSTART"},
		{"end-before-start", ev("DTSTART:20200722T043000\r\nDTEND:20200722T025500\r\n"), 7, "DTEND"},
		{"end-equals-start", ev("DTSTART:20200722T043000\r\nDTEND:20200722T043000\r\n"), 7, "DTEND"},
		{"unknown-tzid", ev("DTSTART;TZID=Tokyo Standard Time:20200722T025500\r\nDTEND:20200722T043000\r\n"), 6, "TZID"},
		{"bad-sequence", ev(okTimes + "SEQUENCE:two\r\n"), 8, "SEQUENCE"},
		{"negative-sequence", ev(okTimes + "SEQUENCE:-1\r\n"), 8, "SEQUENCE"},
		{"bad-scope", ev(okTimes + "X-KESSAI-SCOPE:CAPTURE,TELEPORT\r\n"), 8, "X-KESSAI-SCOPE"},
		{"bad-kind", ev(okTimes + "X-KESSAI-KIND:sometimes\r\n"), 8, "X-KESSAI-KIND"},
		{"reserve-before-end", ev(okTimes + "X-KESSAI-RESERVE-END;TZID=Asia/Tokyo:20200722T040000\r\n"), 8, "X-KESSAI-RESERVE-END"},
		{"duplicate-dtstart", ev(okTimes + "DTSTART:20200722T025500\r\n"), 8, "DTSTART"},
		{"no-colon", ev("DTSTART;TZID=Asia/Tokyo\r\n"), 6, "DTSTART"},
		{"bad-parameter", ev("DTSTART;TZID:20200722T025500\r\n"), 6, "DTSTART"},
		{"unterminated-quote", ev("DTSTART;TZID=\"Asia/Tokyo:20200722T025500\r\n"), 6, "DTSTART"},
		{"mismatched-end", head + "BEGIN:VEVENT\r\nEND:VTODO\r\n", 5, "VTODO"},
		{"nested-calendar", head + "BEGIN:VCALENDAR\r\n", 4, "VCALENDAR"},
		{"outside", head + "END:VCALENDAR\r\nX-AFTER:1\r\n", 5, "X-AFTER"},
	} {
		t.Run(c.name, func(t *testing.T) {
			ws, err := ImportICS(strings.NewReader(c.src))
			var ie *InputError
			if !errors.As(err, &ie) {
				t.Fatalf("got %v (%d windows), want an *InputError", err, len(ws))
			}
			m := lineRE.FindStringSubmatch(ie.Msg)
			if m == nil || m[1] != fmt.Sprint(c.line) {
				t.Errorf("error %q, want it to name line %d", ie.Msg, c.line)
			}
			if !strings.Contains(ie.Msg, c.mention) {
				t.Errorf("error %q does not name %s", ie.Msg, c.mention)
			}
		})
	}
}

func TestImportICSExample(t *testing.T) {
	// The example from the design: the message names the line, the property and the bad value.
	src := "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:x\r\nBEGIN:VEVENT\r\nUID:u\r\nDTSTAMP:20200101T000000Z\r\nSUMMARY:s\r\n" +
		"DESCRIPTION:d\r\nSTATUS:CONFIRMED\r\nSEQUENCE:0\r\nX-KESSAI-KIND:scheduled\r\nDTSTART:2020x\r\nDTEND:20200101T000000\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
	_, err := ImportICS(strings.NewReader(src))
	if err == nil || err.Error() != `line 12: DTSTART: bad date-time "2020x"` {
		t.Errorf("got %v", err)
	}
}

func TestExportICSRefusesInvalidWindows(t *testing.T) {
	good := wallIn(t, "2020-07-22", "02:55", "04:30", "")
	badZone := good
	badZone.Zone = "Mars/Olympus"
	backwards := good
	backwards.End = good.Start
	for name, w := range map[string]Window{"zone": badZone, "backwards": backwards} {
		var b bytes.Buffer
		if err := ExportICS(&b, []Window{good, w}, ICSOptions{Now: icsNow}); !isInputError(err) {
			t.Errorf("%s: got %v, want an *InputError", name, err)
		}
		if b.Len() != 0 {
			t.Errorf("%s: partial output written", name)
		}
	}
}

func FuzzImportICS(f *testing.F) {
	var b bytes.Buffer
	w := wallIn(f, "2020-07-22", "02:55", "04:30", "")
	w.ID, w.Revision, w.TitleJA = 7, 1, "定期メンテナンス, 7月"
	if err := ExportICS(&b, []Window{w}, ICSOptions{Now: icsNow}); err != nil {
		f.Fatal(err)
	}
	f.Add(b.Bytes())
	f.Add([]byte("BEGIN:VCALENDAR\nBEGIN:VEVENT\nUID:x\nDTSTART:20200101\nDTEND;TZID=America/New_York:20201101T013000\nEND:VEVENT\nEND:VCALENDAR\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		ws, err := ImportICS(bytes.NewReader(data))
		if err != nil {
			if !isInputError(err) {
				t.Fatalf("error %v is not an *InputError", err)
			}
			return
		}
		var out bytes.Buffer
		if err := ExportICS(&out, ws, ICSOptions{Now: icsNow}); err != nil {
			t.Fatalf("imported windows do not export: %v", err)
		}
		again, err := ImportICS(bytes.NewReader(out.Bytes()))
		if err != nil {
			t.Fatalf("re-import: %v\n%s", err, out.Bytes())
		}
		sameWindows(t, again, ws)
	})
}
