package autocharge_test

import (
	"fmt"
	"testing"
	"time"

	"kessai/internal/autocharge"
	"kessai/internal/store"
)

// every lists the dates from first, step days apart, up to and including last.
func every(first string, step int, last string) []string {
	f, _ := time.Parse("20060102", first)
	l, _ := time.Parse("20060102", last)
	var out []string
	for d := f; !d.After(l); d = d.AddDate(0, 0, step) {
		out = append(out, d.Format("20060102"))
	}
	return out
}

func list(ds ...string) []string { return ds }

// TestThirteenMonths signs plans up through gateway.aspx, moves the clock a day at a time for 13
// months (396 days) with the runner going once a day at noon, and checks every plan charged
// exactly the expected amounts on exactly the expected dates.
func TestThirteenMonths(t *testing.T) {
	const monthly = 1078 // acam 980 + actx 98
	cases := []struct {
		name    string
		signUp  string // JST date of the sign-up
		plan    map[string]string
		dates   []string
		first   int64 // total of the first charge when it differs (trial-end amounts)
		each    int64
		status  string // status at the end
		weekday bool
	}{
		{"monthly from the 31st keeps the 31st, last day in short months", "2020-01-31",
			map[string]string{"actp": "4", "acam": "980", "actx": "98", "ac1": "0"},
			list("20200229", "20200331", "20200430", "20200531", "20200630", "20200731", "20200831", "20200930", "20201031",
				"20201130", "20201231", "20210131", "20210228"), 0, monthly, store.ACActive, false},
		{"weekly", "2020-01-01",
			map[string]string{"actp": "2", "acam": "500", "ac1": "15"},
			every("20200108", 7, "20210201"), 0, 500, store.ACActive, true},
		{"fortnightly until an end date (ac5)", "2020-01-01",
			map[string]string{"actp": "3", "acam": "700", "ac5": "2020/04/01"},
			list("20200115", "20200129", "20200212", "20200226", "20200311", "20200325"), 0, 700, store.ACCompleted, true},
		{"yearly from 29 February charges on 28 February", "2020-02-29",
			map[string]string{"actp": "8", "acam": "12000"},
			list("20210228"), 0, 12000, store.ACActive, false},
		{"last day of the month (ac1=99) through a leap February", "2020-01-10",
			map[string]string{"actp": "4", "acam": "980", "actx": "98", "ac1": "99"},
			list("20200229", "20200331", "20200430", "20200531", "20200630", "20200731", "20200831", "20200930", "20201031",
				"20201130", "20201231", "20210131"), 0, monthly, store.ACActive, false},
		{"day 30 (ac1=30) falls on 29 February", "2020-01-05",
			map[string]string{"actp": "4", "acam": "980", "actx": "98", "ac1": "30"},
			list("20200229", "20200330", "20200430", "20200530", "20200630", "20200730", "20200830", "20200930", "20201030",
				"20201130", "20201230", "20210130"), 0, monthly, store.ACActive, false},
		{"trial of 14 days (trtp=2) with trial-end amounts", "2020-04-01",
			map[string]string{"actp": "4", "acam": "980", "actx": "98", "trtp": "2", "tr1": "14", "tram": "500", "trtx": "50"},
			list("20200415", "20200515", "20200615", "20200715", "20200815", "20200915", "20201015", "20201115", "20201215",
				"20210115", "20210215", "20210315", "20210415"), 550, monthly, store.ACActive, false},
		{"trial of 2 months (trtp=4) from 31 December", "2020-12-31",
			map[string]string{"actp": "4", "acam": "980", "actx": "98", "trtp": "4", "tr2": "2"},
			list("20210228", "20210331", "20210430", "20210531", "20210630", "20210731", "20210831", "20210930", "20211031",
				"20211130", "20211231", "20220131"), 0, monthly, store.ACActive, false},
		{"trial until a date (trtp=3), then weekly", "2020-05-20",
			map[string]string{"actp": "2", "acam": "500", "trtp": "3", "tr3": "2020/06/10", "tram": "300"},
			every("20200610", 7, "20210620"), 300, 500, store.ACActive, true},
		{"stop after 3 charges (ac3=3)", "2020-01-20",
			map[string]string{"actp": "4", "acam": "980", "actx": "98", "ac1": "5", "ac3": "3"},
			list("20200205", "20200305", "20200405"), 0, monthly, store.ACCompleted, false},
		{"every 2 months from a first date (ac4) on day 15", "2020-02-10",
			map[string]string{"actp": "5", "acam": "2000", "ac4": "2020/03/01", "ac1": "15"},
			list("20200301", "20200515", "20200715", "20200915", "20201115", "20210115"), 0, 2000, store.ACActive, false},
		{"every 3 months from 30 November", "2020-11-30",
			map[string]string{"actp": "6", "acam": "3000"},
			list("20210228", "20210530", "20210830", "20211130"), 0, 3000, store.ACActive, false},
		{"every 6 months from ac4=YYYYMMDD on the 31st", "2020-08-01",
			map[string]string{"actp": "7", "acam": "6000", "ac4": "20200831"},
			list("20200831", "20210228", "20210831"), 0, 6000, store.ACActive, false},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			start := jst(t, c.signUp+" 12:00")
			e := newEnv(t, start)
			acid := e.signUp(t, fmt.Sprintf("sim-%d", i), "4111111111111111", c.plan)["acid"]
			end := start.AddDate(0, 0, 396)
			for ; !e.clk.Now().After(end); e.clk.Advance(24 * time.Hour) {
				e.runOnce(t)
			}
			got := e.charges(t, acid)
			if len(got) != len(c.dates) {
				t.Fatalf("%d charges, want %d: %+v", len(got), len(c.dates), got)
			}
			for k, d := range c.dates {
				want := c.each
				if k == 0 && c.first != 0 {
					want = c.first
				}
				g := got[k]
				if g.Date != d || g.Cod != acid+"-"+d || g.Ta != want {
					t.Errorf("charge %d: %+v, want date %s cod %s-%s total %d", k, g, d, acid, d, want)
				}
				if c.weekday {
					dt, _ := time.Parse("20060102", d)
					ft, _ := time.Parse("20060102", c.dates[0])
					if dt.Weekday() != ft.Weekday() {
						t.Errorf("charge %d on a %s", k, dt.Weekday())
					}
				}
			}
			a := e.plan(t, acid)
			if a.Status != c.status || a.Charges != len(c.dates) {
				t.Errorf("plan %s with %d charges, want %s with %d", a.Status, a.Charges, c.status, len(c.dates))
			}
			runs, _ := e.svc.Runs(t.Context(), acid)
			if len(runs) != len(c.dates) {
				t.Errorf("%d runs recorded, want %d", len(runs), len(c.dates))
			}
			kbs := e.acKickbacks(t, acid)
			if len(kbs) != len(c.dates) {
				t.Fatalf("%d kickbacks, want %d", len(kbs), len(c.dates))
			}
			for k, q := range kbs {
				// runs carry the sign-up's cod (wire.md §3.3); the payment keeps acid-YYYYMMDD (above)
				if q.Q.Get("rst") != "1" || q.Q.Get("acid") != acid || q.Q.Get("cod") != fmt.Sprintf("sim-%d", i) || q.Q.Get("gid") == "" {
					t.Errorf("kickback %d: %v", k, q.Q)
				}
			}
		})
	}
}

// TestNextDate pins the schedule arithmetic on its own.
func TestNextDate(t *testing.T) {
	d := func(s string) autocharge.Date { x, ok := autocharge.ParseDate(s); _ = ok; return x }
	for _, c := range []struct {
		cycle autocharge.Cycle
		from  string
		day   int
		want  string
	}{
		{autocharge.Monthly, "20200131", 31, "20200229"},
		{autocharge.Monthly, "20200229", 31, "20200331"},
		{autocharge.Monthly, "20210131", 31, "20210228"},
		{autocharge.Monthly, "20201231", 99, "20210131"},
		{autocharge.Monthly, "20200115", 99, "20200229"},
		{autocharge.Monthly, "20200130", 30, "20200229"},
		{autocharge.Yearly, "20200229", 29, "20210228"},
		{autocharge.Yearly, "20230228", 29, "20240229"},
		{autocharge.HalfYearly, "20200831", 31, "20210228"},
		{autocharge.Quarterly, "20201130", 30, "20210228"},
		{autocharge.Bimonthly, "20201231", 31, "20210228"},
		{autocharge.Weekly, "20201229", 0, "20210105"},
		{autocharge.Fortnightly, "20200220", 0, "20200305"},
	} {
		if got := c.cycle.Next(d(c.from), c.day).String(); got != c.want {
			t.Errorf("%s.Next(%s, %d) = %s, want %s", c.cycle.Name("en"), c.from, c.day, got, c.want)
		}
	}
	for _, s := range []string{"20200230", "2020/13/01", "2021-02-29", "202002", "2020/2/1", "abcdefgh"} {
		if _, ok := autocharge.ParseDate(s); ok {
			t.Errorf("ParseDate(%q) accepted", s)
		}
	}
	for _, s := range []string{"20200229", "2020/02/29", "2020-02-29"} {
		if x, ok := autocharge.ParseDate(s); !ok || x.String() != "20200229" {
			t.Errorf("ParseDate(%q) = %v %v", s, x, ok)
		}
	}
}
