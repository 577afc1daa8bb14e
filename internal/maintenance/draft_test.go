package maintenance

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// rule2020 is the rule that describes most of the source notice's 2020 dates: the Thursday that
// falls on the 17th–23rd.
const rule2020 = "FREQ=MONTHLY;BYDAY=TH;BYMONTHDAY=17,18,19,20,21,22,23"

// localDates lists each window's start date in its zone, with the weekday.
func localDates(t testing.TB, ws []Window) []string {
	t.Helper()
	out := make([]string, len(ws))
	for i, w := range ws {
		out[i] = w.Start.In(w.Location()).Format("2006-01-02 Mon")
	}
	return out
}

func TestDraft(t *testing.T) {
	for _, c := range []struct {
		name string
		req  DraftRequest
		want string // space-separated local start dates (Mon-style weekdays)
	}{
		{"2020-notice-shift-previous",
			DraftRequest{Year: 2020, RRule: rule2020, From: "02:55", To: "04:30", HolidayShift: ShiftPrevious},
			"2020-01-23 Thu 2020-02-20 Thu 2020-03-19 Thu 2020-04-23 Thu 2020-05-21 Thu 2020-06-18 Thu " +
				"2020-07-22 Wed 2020-08-20 Thu 2020-09-17 Thu 2020-10-22 Thu 2020-11-19 Thu 2020-12-17 Thu"},
		{"2020-no-shift-keeps-holiday",
			DraftRequest{Year: 2020, RRule: rule2020, From: "02:55", To: "04:30", HolidayShift: ShiftNone},
			"2020-01-23 Thu 2020-02-20 Thu 2020-03-19 Thu 2020-04-23 Thu 2020-05-21 Thu 2020-06-18 Thu " +
				"2020-07-23 Thu 2020-08-20 Thu 2020-09-17 Thu 2020-10-22 Thu 2020-11-19 Thu 2020-12-17 Thu"},
		{"shift-next-skips-holiday-run-and-weekend",
			DraftRequest{Year: 2020, RRule: "FREQ=YEARLY;BYMONTH=7;BYMONTHDAY=23", From: "02:55", To: "04:30", HolidayShift: ShiftNext},
			"2020-07-27 Mon"},
		{"shift-previous-leaves-year-for-new-year",
			DraftRequest{Year: 2021, RRule: "FREQ=YEARLY;BYMONTH=1;BYMONTHDAY=1", From: "01:00", To: "02:00", HolidayShift: ShiftPrevious},
			"2020-12-31 Thu"},
		{"weekend-not-shifted",
			DraftRequest{Year: 2020, RRule: "FREQ=YEARLY;BYMONTH=7;BYMONTHDAY=25", From: "01:00", To: "02:00", HolidayShift: ShiftPrevious},
			"2020-07-25 Sat"},
		{"shifts-merge-onto-one-day",
			DraftRequest{Year: 2020, RRule: "FREQ=DAILY;BYMONTH=5;BYMONTHDAY=3,4,5,6", From: "01:00", To: "02:00", HolidayShift: ShiftPrevious},
			"2020-05-01 Fri"},
		{"until-and-rrule-prefix",
			DraftRequest{Year: 2020, RRule: "RRULE:FREQ=MONTHLY;BYMONTHDAY=10;UNTIL=20200331T000000", From: "02:00", To: "03:00"},
			"2020-01-10 Fri 2020-02-10 Mon 2020-03-10 Tue"},
		{"count",
			DraftRequest{Year: 2026, RRule: "freq=weekly;byday=tu;count=2", From: "02:00", To: "03:00", HolidayShift: ShiftNext},
			"2026-01-06 Tue 2026-01-13 Tue"},
		{"2026-kokumin-no-kyujitsu-shifted",
			DraftRequest{Year: 2026, RRule: "FREQ=MONTHLY;BYMONTH=9;BYDAY=TU;BYMONTHDAY=22", From: "02:55", To: "04:30", HolidayShift: ShiftNext},
			"2026-09-24 Thu"},
	} {
		t.Run(c.name, func(t *testing.T) {
			ws, err := Draft(c.req)
			if err != nil {
				t.Fatal(err)
			}
			if got := strings.Join(localDates(t, ws), " "); got != c.want {
				t.Errorf("got  %s\nwant %s", got, c.want)
			}
		})
	}
}

// Drafted windows carry the same shape as hand-entered ones: WallWindow's times, zone, status.
func TestDraftWindowsAreWallWindows(t *testing.T) {
	ws, err := Draft(DraftRequest{Year: 2020, RRule: rule2020, From: "02:55", To: "04:30", HolidayShift: ShiftPrevious})
	if err != nil {
		t.Fatal(err)
	}
	want, err := WallWindow("2020-07-22", "02:55", "04:30", "")
	if err != nil {
		t.Fatal(err)
	}
	got := ws[6]
	if !got.Start.Equal(want.Start) || !got.End.Equal(want.End) || got.Zone != DefaultZone ||
		got.Status != StatusPlanned || got.Kind != KindScheduled || got.Scope.Ops != DefaultScope {
		t.Errorf("window %+v, want %+v", got, want)
	}
	if got.Start.Format(time.RFC3339) != "2020-07-21T17:55:00Z" {
		t.Errorf("start %s", got.Start.Format(time.RFC3339))
	}

	night, err := Draft(DraftRequest{Year: 2021, RRule: "FREQ=YEARLY;BYMONTH=3;BYMONTHDAY=10", From: "22:30", To: "05:00", Zone: "Asia/Tokyo"})
	if err != nil {
		t.Fatal(err)
	}
	if len(night) != 1 || night[0].End.Sub(night[0].Start) != 6*time.Hour+30*time.Minute {
		t.Errorf("midnight-crossing draft: %+v", night)
	}
}

func TestDraftRefusesBadInput(t *testing.T) {
	ok := DraftRequest{Year: 2020, RRule: rule2020, From: "02:55", To: "04:30"}
	for _, c := range []struct {
		name string
		edit func(*DraftRequest)
	}{
		{"year-too-early", func(r *DraftRequest) { r.Year = 1900 }},
		{"year-too-late", func(r *DraftRequest) { r.Year = 2100 }},
		{"unknown-zone", func(r *DraftRequest) { r.Zone = "Mars/Olympus" }},
		{"unknown-shift", func(r *DraftRequest) { r.HolidayShift = "sideways" }},
		{"bad-from", func(r *DraftRequest) { r.From = "25:00" }},
		{"bad-to", func(r *DraftRequest) { r.To = "4.30" }},
		{"empty-rule", func(r *DraftRequest) { r.RRule = "  " }},
		{"syntax", func(r *DraftRequest) { r.RRule = "FREQ=MONTHLY;BYDAY" }},
		{"unknown-part", func(r *DraftRequest) { r.RRule = "FREQ=MONTHLY;BYFOO=1" }},
		{"no-freq", func(r *DraftRequest) { r.RRule = "BYDAY=TH" }},
		{"hourly", func(r *DraftRequest) { r.RRule = "FREQ=HOURLY" }},
		{"byhour", func(r *DraftRequest) { r.RRule = "FREQ=DAILY;BYHOUR=3" }},
		{"dtstart", func(r *DraftRequest) { r.RRule = "FREQ=DAILY;DTSTART=20200101T000000" }},
		{"two-lines", func(r *DraftRequest) { r.RRule = "DTSTART:20200101T000000Z\nFREQ=DAILY" }},
		{"out-of-bounds", func(r *DraftRequest) { r.RRule = "FREQ=MONTHLY;BYMONTHDAY=32" }},
		{"huge-interval", func(r *DraftRequest) { r.RRule = "FREQ=WEEKLY;INTERVAL=9223372036854775807" }},
		{"no-dates", func(r *DraftRequest) { r.RRule = "FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30" }},
	} {
		t.Run(c.name, func(t *testing.T) {
			req := ok
			c.edit(&req)
			ws, err := Draft(req)
			var ie *InputError
			if !errors.As(err, &ie) || !errors.Is(err, ErrInvalid) {
				t.Fatalf("got %v (%d windows), want an *InputError", err, len(ws))
			}
		})
	}
}

func FuzzDraft(f *testing.F) {
	f.Add(2020, rule2020, "02:55", "04:30", "Asia/Tokyo", "previous")
	f.Add(2021, "FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30", "22:30", "05:00", "", "next")
	f.Add(2019, "FREQ=WEEKLY;INTERVAL=2;BYDAY=-1FR,+2MO;BYSETPOS=-1", "00:00", "00:00", "UTC", "none")
	f.Add(2030, "FREQ=YEARLY;BYWEEKNO=53;BYDAY=SU;WKST=SU", "23:59", "00:01", "America/New_York", "")
	f.Fuzz(func(t *testing.T, year int, rule, from, to, zone, shift string) {
		ws, err := Draft(DraftRequest{Year: year, RRule: rule, From: from, To: to, Zone: zone, HolidayShift: shift})
		if err != nil {
			var ie *InputError
			if !errors.As(err, &ie) {
				t.Fatalf("error %v is not an *InputError", err)
			}
			return
		}
		if len(ws) == 0 || len(ws) > 366 {
			t.Fatalf("%d windows", len(ws))
		}
		for i, w := range ws {
			if !w.End.After(w.Start) {
				t.Fatalf("window %d ends before it starts: %s", i, w.Describe())
			}
			if i > 0 && !w.Start.After(ws[i-1].Start) {
				t.Fatalf("windows not strictly ascending at %d", i)
			}
		}
	})
}
