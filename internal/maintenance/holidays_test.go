package maintenance

import (
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/rickar/cal/v2/jp"
)

// cabinetOffice is the Cabinet Office list (syukujitsu.csv) for 2019–2027, typed in independently
// of holidays_jp.txt so that a typo in either one shows up as a difference.
var cabinetOffice = map[int][]string{
	2019: {"01-01", "01-14", "02-11", "03-21", "04-29", "04-30", "05-01", "05-02", "05-03", "05-04", "05-05",
		"05-06", "07-15", "08-11", "08-12", "09-16", "09-23", "10-14", "10-22", "11-03", "11-04", "11-23"},
	2020: {"01-01", "01-13", "02-11", "02-23", "02-24", "03-20", "04-29", "05-03", "05-04", "05-05", "05-06",
		"07-23", "07-24", "08-10", "09-21", "09-22", "11-03", "11-23"},
	2021: {"01-01", "01-11", "02-11", "02-23", "03-20", "04-29", "05-03", "05-04", "05-05", "07-22", "07-23",
		"08-08", "08-09", "09-20", "09-23", "11-03", "11-23"},
	2022: {"01-01", "01-10", "02-11", "02-23", "03-21", "04-29", "05-03", "05-04", "05-05", "07-18", "08-11",
		"09-19", "09-23", "10-10", "11-03", "11-23"},
	2023: {"01-01", "01-02", "01-09", "02-11", "02-23", "03-21", "04-29", "05-03", "05-04", "05-05", "07-17",
		"08-11", "09-18", "09-23", "10-09", "11-03", "11-23"},
	2024: {"01-01", "01-08", "02-11", "02-12", "02-23", "03-20", "04-29", "05-03", "05-04", "05-05", "05-06",
		"07-15", "08-11", "08-12", "09-16", "09-22", "09-23", "10-14", "11-03", "11-04", "11-23"},
	2025: {"01-01", "01-13", "02-11", "02-23", "02-24", "03-20", "04-29", "05-03", "05-04", "05-05", "05-06",
		"07-21", "08-11", "09-15", "09-23", "10-13", "11-03", "11-23", "11-24"},
	2026: {"01-01", "01-12", "02-11", "02-23", "03-20", "04-29", "05-03", "05-04", "05-05", "05-06", "07-20",
		"08-11", "09-21", "09-22", "09-23", "10-12", "11-03", "11-23"},
	2027: {"01-01", "01-11", "02-11", "02-23", "03-21", "03-22", "04-29", "05-03", "05-04", "05-05", "07-19",
		"08-11", "09-20", "09-23", "10-11", "11-03", "11-23"},
}

func tokyoLoc(t testing.TB) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(DefaultZone)
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

// day parses YYYY-MM-DD as a Japan-time midnight.
func jpDay(t testing.TB, s string) time.Time {
	t.Helper()
	d, err := time.ParseInLocation("2006-01-02", s, tokyoLoc(t))
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func holidayDates(hs []Holiday) []string {
	out := make([]string, len(hs))
	for i, h := range hs {
		out[i] = h.Date.Format("01-02")
	}
	return out
}

func TestJapaneseHolidaysMatchCabinetOffice(t *testing.T) {
	for year, want := range cabinetOffice {
		got := holidayDates(JapaneseHolidays(year))
		if strings.Join(got, " ") != strings.Join(want, " ") {
			t.Errorf("%d: %d holidays %v\nwant %d: %v", year, len(got), got, len(want), want)
		}
	}
}

func TestJapaneseHolidayNamedDays(t *testing.T) {
	for _, c := range []struct{ date, name string }{
		{"2019-04-30", "国民の休日"},
		{"2019-05-01", "天皇の即位の日"},
		{"2019-05-02", "国民の休日"},
		{"2019-05-06", "振替休日"},
		{"2019-10-14", "体育の日"},
		{"2019-10-22", "即位礼正殿の儀の行われる日"},
		{"2020-02-24", "振替休日"},
		{"2020-03-20", "春分の日"},
		{"2020-07-23", "海の日"},
		{"2020-07-24", "スポーツの日"},
		{"2020-08-10", "山の日"},
		{"2020-09-22", "秋分の日"},
		{"2021-07-22", "海の日"},
		{"2021-07-23", "スポーツの日"},
		{"2021-08-08", "山の日"},
		{"2021-08-09", "振替休日"},
		{"2024-09-22", "秋分の日"},
		{"2024-09-23", "振替休日"},
		{"2026-09-22", "国民の休日"},
		{"2027-03-22", "振替休日"},
	} {
		name, ok := JapaneseHoliday(jpDay(t, c.date))
		if !ok || name != c.name {
			t.Errorf("%s: got %q ok=%v, want %q", c.date, name, ok, c.name)
		}
	}
	for _, d := range []string{"2019-12-23", "2020-08-11", "2020-10-12", "2021-08-11", "2021-10-11", "2020-07-22", "2020-12-31"} {
		if name, ok := JapaneseHoliday(jpDay(t, d)); ok {
			t.Errorf("%s is not a holiday, got %q", d, name)
		}
	}
}

// The table must agree with the independent rule-based derivation for every year it covers, so a
// typo in either is caught; the rules then carry on for years past the table.
func TestHolidayTableMatchesRules(t *testing.T) {
	table, err := parseHolidayTable(holidayTableText)
	if err != nil {
		t.Fatal(err)
	}
	years := make([]int, 0, len(table))
	for y := range table {
		years = append(years, y)
	}
	sort.Ints(years)
	if len(years) == 0 || years[0] > 2019 || years[len(years)-1] < 2030 {
		t.Fatalf("table covers %v, want at least 2019–2030", years)
	}
	for _, y := range years {
		rules := ruleHolidays(y)
		for k, v := range table[y] {
			if rules[k] != v {
				t.Errorf("%s: table %q, rules %q", k.time().Format("2006-01-02"), v, rules[k])
			}
		}
		for k, v := range rules {
			if _, ok := table[y][k]; !ok {
				t.Errorf("%s: rules %q, missing from table", k.time().Format("2006-01-02"), v)
			}
		}
	}
}

// rickar/cal's jp package is a second, independent source. Its equinoxes must match; the days it
// gets wrong are listed so the difference is a decision, not an accident.
func TestHolidaysAgainstRickarCal(t *testing.T) {
	knownWrong := map[string]bool{
		"2019-12-23": true, // no 天皇誕生日 in 2019 (abdication on 30 Apr 2019)
		"2020-08-11": true, // 山の日 moved to 10 Aug for the Olympics
		"2021-08-11": true, // 山の日 moved to 8 Aug for the Olympics
	}
	for y := 2019; y <= 2030; y++ {
		for _, h := range jp.Holidays {
			actual, _ := h.Calc(y)
			if actual.IsZero() {
				continue
			}
			d := actual.Format("2006-01-02")
			_, ok := JapaneseHoliday(jpDay(t, d))
			if ok == knownWrong[d] {
				t.Errorf("%s (%s): ours holiday=%v, known rickar difference=%v", d, h.Name, ok, knownWrong[d])
			}
		}
		for _, eq := range []struct {
			h    string
			rick time.Time
		}{{"春分の日", calcRick(jp.VernalEquinoxDay.Calc(y))}, {"秋分の日", calcRick(jp.AutumnalEquinoxDay.Calc(y))}} {
			if name, _ := JapaneseHoliday(jpDay(t, eq.rick.Format("2006-01-02"))); name != eq.h {
				t.Errorf("%d %s: rickar says %s, ours names it %q", y, eq.h, eq.rick.Format("01-02"), name)
			}
		}
	}
}

func calcRick(actual, _ time.Time) time.Time { return actual }

func TestJapaneseHolidayUsesCallersCalendarDate(t *testing.T) {
	// 2020-07-23 00:30 in Tokyo is still 22 July in UTC: the caller's location decides.
	inTokyo := time.Date(2020, 7, 23, 0, 30, 0, 0, tokyoLoc(t))
	if _, ok := JapaneseHoliday(inTokyo); !ok {
		t.Error("Tokyo date 2020-07-23 should be 海の日")
	}
	if _, ok := JapaneseHoliday(inTokyo.UTC()); ok {
		t.Error("UTC date 2020-07-22 should not be a holiday")
	}
}

func TestIsBusinessDay(t *testing.T) {
	for _, c := range []struct {
		date string
		want bool
	}{
		{"2020-07-22", true},  // Wednesday
		{"2020-07-23", false}, // 海の日 (Thursday)
		{"2020-07-25", false}, // Saturday
		{"2020-07-26", false}, // Sunday
		{"2026-09-22", false}, // 国民の休日 (Tuesday)
		{"2019-10-22", false}, // 即位礼正殿の儀
		{"2020-12-31", true},  // bank closure, not a public holiday
		{"2031-05-06", false}, // past the table, by rule: 振替休日 for Sunday 4 May, skipping 5 May
		{"2031-05-07", true},
	} {
		if got := IsBusinessDay(jpDay(t, c.date)); got != c.want {
			t.Errorf("%s: business day %v, want %v", c.date, got, c.want)
		}
	}
}

func TestHolidayTableParses(t *testing.T) {
	if _, err := parseHolidayTable(holidayTableText); err != nil {
		t.Fatal(err)
	}
	if _, err := parseHolidayOverrides(holidayOverrideText); err != nil {
		t.Fatal(err)
	}
}

func TestHolidayOverrides(t *testing.T) {
	for _, c := range []struct {
		name, text string
		wantErr    bool
	}{
		{"comments-only", "# nothing\n\n", false},
		{"add", "2031-06-01 add 臨時の祝日", false},
		{"remove", "2031-03-21 remove 春分の日", false},
		{"remove-without-name", "2031-03-21 remove", false},
		{"add-without-name", "2031-06-01 add", true},
		{"bad-action", "2031-06-01 move x", true},
		{"bad-date", "2031-02-30 add x", true},
		{"too-short", "2031-06-01", true},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := parseHolidayOverrides(c.text)
			if (err != nil) != c.wantErr {
				t.Fatalf("err=%v, wantErr=%v", err, c.wantErr)
			}
		})
	}

	table, err := parseHolidayTable("2031-01-01 元日\n2031-03-21 春分の日\n")
	if err != nil {
		t.Fatal(err)
	}
	ov, err := parseHolidayOverrides("2031-03-21 remove\n2031-03-20 add 春分の日\n2040-06-01 add 臨時\n")
	if err != nil {
		t.Fatal(err)
	}
	cal := newHolidayCalendar(table, ov)
	if _, ok := cal.yearMap(2031)[civilOf(2031, 3, 21)]; ok {
		t.Error("removed date still a holiday")
	}
	if cal.yearMap(2031)[civilOf(2031, 3, 20)] != "春分の日" {
		t.Error("added date missing")
	}
	if cal.yearMap(2040)[civilOf(2040, 6, 1)] != "臨時" {
		t.Error("override not applied to a rule-based year")
	}
	if _, ok := cal.yearMap(2040)[civilOf(2040, 1, 1)]; !ok {
		t.Error("rule-based year lost its rules")
	}
}

func TestHolidayTableRejectsDuplicates(t *testing.T) {
	if _, err := parseHolidayTable("2031-01-01 元日\n2031-01-01 元日\n"); err == nil {
		t.Error("duplicate date accepted")
	}
	if _, err := parseHolidayTable("2031-01-01\n"); err == nil {
		t.Error("line without a name accepted")
	}
}
