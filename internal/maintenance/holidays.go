package maintenance

import (
	_ "embed"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"
)

// Japanese public holidays decide where drafted maintenance windows may fall (a merchant's busiest
// days must not lose payments) and which days count as business days in notices. The data is
// embedded so that a server with no network, or a stale OS, still agrees with the Cabinet Office.
//
// Three layers, most authoritative last:
//  1. rules (the Act on National Holidays and its amendments, equinoxes by the NAO formula) for any
//     year from 1980 to 2099;
//  2. the explicit table holidays_jp.txt, copied from the Cabinet Office list, which replaces the
//     rules for every year it covers (the table is what was announced; rules are only a forecast);
//  3. holidays_override.txt, for corrections announced after a release (a new special holiday, an
//     equinox that differs from the forecast), applied on top of either.

//go:embed holidays_jp.txt
var holidayTableText string

//go:embed holidays_override.txt
var holidayOverrideText string

// Holiday is one Japanese public holiday. Date is the calendar date at midnight UTC, so that it
// compares and sorts as a plain date whatever zone the caller lives in.
type Holiday struct {
	Date time.Time
	Name string
}

// Rule range: the equinox formula used below is published for 1980–2099.
const (
	holidayRuleMinYear = 1980
	holidayRuleMaxYear = 2099
)

type civil int // yyyymmdd

func civilOf(y int, m time.Month, d int) civil { return civil(y*10000 + int(m)*100 + d) }

func (c civil) year() int { return int(c) / 10000 }

func (c civil) time() time.Time {
	return time.Date(int(c)/10000, time.Month(int(c)/100%100), int(c)%100, 0, 0, 0, 0, time.UTC)
}

// holidayOverride is one line of the override table.
type holidayOverride struct {
	day    civil
	remove bool
	name   string
}

type holidayCalendar struct {
	table     map[int]map[civil]string // year → holidays, for the years the table covers
	overrides []holidayOverride
	mu        sync.Mutex
	years     map[int]map[civil]string // resolved years (table or rules, plus overrides)
}

var japanCalendar = sync.OnceValue(func() *holidayCalendar {
	table, err := parseHolidayTable(holidayTableText)
	if err != nil {
		// The table is compiled in and checked by TestHolidayTableParses; failing loudly here beats
		// silently drafting windows onto holidays.
		panic("maintenance: embedded holidays_jp.txt: " + err.Error())
	}
	ov, err := parseHolidayOverrides(holidayOverrideText)
	if err != nil {
		panic("maintenance: embedded holidays_override.txt: " + err.Error())
	}
	return newHolidayCalendar(table, ov)
})

func newHolidayCalendar(table map[int]map[civil]string, ov []holidayOverride) *holidayCalendar {
	return &holidayCalendar{table: table, overrides: ov, years: map[int]map[civil]string{}}
}

// yearMap returns the resolved holidays of one year; callers must not modify it.
func (c *holidayCalendar) yearMap(year int) map[civil]string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if m, ok := c.years[year]; ok {
		return m
	}
	_, inTable := c.table[year]
	// Only years that can have holidays are cached, so arbitrary dates cannot grow the cache.
	cache := inTable || year >= holidayRuleMinYear && year <= holidayRuleMaxYear
	m := map[civil]string{}
	if t, ok := c.table[year]; ok {
		for k, v := range t {
			m[k] = v
		}
	} else {
		for k, v := range ruleHolidays(year) {
			m[k] = v
		}
	}
	for _, o := range c.overrides {
		if o.day.year() != year {
			continue
		}
		if o.remove {
			delete(m, o.day)
		} else {
			m[o.day] = o.name
		}
	}
	if cache || len(m) > 0 {
		c.years[year] = m
	}
	return m
}

// JapaneseHoliday reports whether d's calendar date — read in d's own location, so pass a time in
// Asia/Tokyo for Japan's calendar — is a Japanese public holiday (国民の祝日, 振替休日 or 国民の休日),
// and its name. Years outside the table and 1980–2099 have no known holidays.
func JapaneseHoliday(d time.Time) (name string, ok bool) {
	y, m, day := d.Date()
	name, ok = japanCalendar().yearMap(y)[civilOf(y, m, day)]
	return name, ok
}

// IsBusinessDay reports whether d's calendar date is a weekday that is not a public holiday. The
// year-end bank closure (31 Dec–3 Jan) is not a public holiday and so does not count here.
func IsBusinessDay(d time.Time) bool {
	switch d.Weekday() {
	case time.Saturday, time.Sunday:
		return false
	}
	_, hol := JapaneseHoliday(d)
	return !hol
}

// JapaneseHolidays lists the public holidays of one year in date order, for notices and for an
// operator checking what the drafting will avoid.
func JapaneseHolidays(year int) []Holiday {
	m := japanCalendar().yearMap(year)
	out := make([]Holiday, 0, len(m))
	for k, v := range m {
		out = append(out, Holiday{Date: k.time(), Name: v})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Date.Before(out[j].Date) })
	return out
}

// parseHolidayTable reads "YYYY-MM-DD name" lines ('#' starts a comment).
func parseHolidayTable(text string) (map[int]map[civil]string, error) {
	out := map[int]map[civil]string{}
	for i, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		date, name, _ := strings.Cut(line, " ")
		name = strings.TrimSpace(name)
		d, err := time.Parse("2006-01-02", date)
		if err != nil || name == "" {
			return nil, fmt.Errorf("line %d: want \"YYYY-MM-DD name\", got %q", i+1, line)
		}
		c := civilOf(d.Date())
		if out[d.Year()] == nil {
			out[d.Year()] = map[civil]string{}
		}
		if _, dup := out[d.Year()][c]; dup {
			return nil, fmt.Errorf("line %d: %s listed twice", i+1, date)
		}
		out[d.Year()][c] = name
	}
	return out, nil
}

// parseHolidayOverrides reads "YYYY-MM-DD add name" and "YYYY-MM-DD remove [name]" lines.
func parseHolidayOverrides(text string) ([]holidayOverride, error) {
	var out []holidayOverride
	for i, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Fields(line)
		if len(f) < 2 {
			return nil, fmt.Errorf("line %d: want \"YYYY-MM-DD add|remove name\", got %q", i+1, line)
		}
		d, err := time.Parse("2006-01-02", f[0])
		if err != nil {
			return nil, fmt.Errorf("line %d: bad date %q", i+1, f[0])
		}
		o := holidayOverride{day: civilOf(d.Date()), name: strings.Join(f[2:], " ")}
		switch f[1] {
		case "add":
			if o.name == "" {
				return nil, fmt.Errorf("line %d: add needs a holiday name", i+1)
			}
		case "remove":
			o.remove = true
		default:
			return nil, fmt.Errorf("line %d: action %q, want add or remove", i+1, f[1])
		}
		out = append(out, o)
	}
	return out, nil
}

// ruleHolidays computes a year's holidays from the law as amended, including the one-off days the
// Diet added (imperial events, the Olympic moves), so that a year the table does not cover still
// gets a sound forecast and the table itself can be checked against an independent derivation.
func ruleHolidays(year int) map[civil]string {
	h := map[civil]string{}
	if year < holidayRuleMinYear || year > holidayRuleMaxYear {
		return h
	}
	set := func(m time.Month, d int, name string) { h[civilOf(year, m, d)] = name }
	monday := func(m time.Month, n int) int { // n-th Monday of month m
		first := time.Date(year, m, 1, 0, 0, 0, 0, time.UTC).Weekday()
		return 1 + (int(time.Monday)-int(first)+7)%7 + 7*(n-1)
	}

	set(time.January, 1, "元日")
	if year >= 2000 {
		set(time.January, monday(time.January, 2), "成人の日")
	} else {
		set(time.January, 15, "成人の日")
	}
	set(time.February, 11, "建国記念の日")
	switch {
	case year >= 2020:
		set(time.February, 23, "天皇誕生日")
	case year >= 1989 && year <= 2018:
		set(time.December, 23, "天皇誕生日")
	}
	set(time.March, vernalEquinoxDay(year), "春分の日")
	switch {
	case year >= 2007:
		set(time.April, 29, "昭和の日")
	case year >= 1989:
		set(time.April, 29, "みどりの日")
	default:
		set(time.April, 29, "天皇誕生日")
	}
	set(time.May, 3, "憲法記念日")
	if year >= 2007 {
		set(time.May, 4, "みどりの日")
	}
	set(time.May, 5, "こどもの日")
	switch {
	case year == 2020:
		set(time.July, 23, "海の日") // Olympic special measures act
	case year == 2021:
		set(time.July, 22, "海の日")
	case year >= 2003:
		set(time.July, monday(time.July, 3), "海の日")
	case year >= 1996:
		set(time.July, 20, "海の日")
	}
	switch {
	case year == 2020:
		set(time.August, 10, "山の日")
	case year == 2021:
		set(time.August, 8, "山の日")
	case year >= 2016:
		set(time.August, 11, "山の日")
	}
	if year >= 2003 {
		set(time.September, monday(time.September, 3), "敬老の日")
	} else {
		set(time.September, 15, "敬老の日")
	}
	set(time.September, autumnalEquinoxDay(year), "秋分の日")
	switch {
	case year == 2020:
		set(time.July, 24, "スポーツの日")
	case year == 2021:
		set(time.July, 23, "スポーツの日")
	case year >= 2020:
		set(time.October, monday(time.October, 2), "スポーツの日")
	case year >= 2000:
		set(time.October, monday(time.October, 2), "体育の日")
	default:
		set(time.October, 10, "体育の日")
	}
	set(time.November, 3, "文化の日")
	set(time.November, 23, "勤労感謝の日")
	// One-off holidays by special acts; each is treated as a 国民の祝日.
	switch year {
	case 1989:
		set(time.February, 24, "昭和天皇の大喪の礼")
	case 1990:
		set(time.November, 12, "即位礼正殿の儀")
	case 1993:
		set(time.June, 9, "結婚の儀")
	case 2019:
		set(time.May, 1, "天皇の即位の日")
		set(time.October, 22, "即位礼正殿の儀の行われる日")
	}

	// 振替休日: a holiday on a Sunday gives the next non-holiday day off (before 2007, only the
	// Monday, and only if the Monday was not itself a holiday).
	proper := make(map[civil]bool, len(h))
	for k := range h {
		proper[k] = true
	}
	for k := range proper {
		t := k.time()
		if t.Weekday() != time.Sunday {
			continue
		}
		n := t.AddDate(0, 0, 1)
		if year >= 2007 {
			for proper[civilOf(n.Date())] {
				n = n.AddDate(0, 0, 1)
			}
		} else if proper[civilOf(n.Date())] {
			continue
		}
		set(n.Month(), n.Day(), "振替休日")
	}
	// 国民の休日: a weekday squeezed between two 国民の祝日 (since 1988).
	if year >= 1988 {
		for d := time.Date(year, 1, 2, 0, 0, 0, 0, time.UTC); d.Year() == year && !(d.Month() == 12 && d.Day() == 31); d = d.AddDate(0, 0, 1) {
			c := civilOf(d.Date())
			if _, taken := h[c]; taken || d.Weekday() == time.Sunday {
				continue
			}
			if proper[civilOf(d.AddDate(0, 0, -1).Date())] && proper[civilOf(d.AddDate(0, 0, 1).Date())] {
				set(d.Month(), d.Day(), "国民の休日")
			}
		}
	}
	return h
}

// The equinox days follow the formula the National Astronomical Observatory's predictions match for
// 1980–2099; the official date is announced each February for the next year and goes in the table.
func vernalEquinoxDay(year int) int {
	return int(20.8431+0.242194*float64(year-1980)) - (year-1980)/4
}

func autumnalEquinoxDay(year int) int {
	return int(23.2488+0.242194*float64(year-1980)) - (year-1980)/4
}
