package autocharge

import (
	"fmt"
	"time"
)

// JST is Japan time, where every charge date of the wire lives. Japan has no daylight saving, so a
// fixed zone is exact and needs no time-zone data.
var JST = time.FixedZone("JST", 9*3600)

// Date is a calendar date in Japan time: the unit of a schedule.
type Date struct {
	Y int
	M time.Month
	D int
}

// DateOf returns the Japanese calendar date of an instant.
func DateOf(t time.Time) Date {
	t = t.In(JST)
	return Date{t.Year(), t.Month(), t.Day()}
}

func fromUTC(t time.Time) Date { return Date{t.Year(), t.Month(), t.Day()} }

func (d Date) utc() time.Time { return time.Date(d.Y, d.M, d.D, 0, 0, 0, 0, time.UTC) }

// IsZero reports the zero date (no date).
func (d Date) IsZero() bool { return d.Y == 0 }

// String is the stored and wire form, YYYYMMDD; "" for the zero date.
func (d Date) String() string {
	if d.IsZero() {
		return ""
	}
	return fmt.Sprintf("%04d%02d%02d", d.Y, int(d.M), d.D)
}

// Slash is the display form, YYYY/MM/DD.
func (d Date) Slash() string {
	if d.IsZero() {
		return ""
	}
	return fmt.Sprintf("%04d/%02d/%02d", d.Y, int(d.M), d.D)
}

// Compare returns -1, 0 or +1.
func (d Date) Compare(e Date) int {
	switch {
	case d.Y != e.Y:
		return cmp(d.Y, e.Y)
	case d.M != e.M:
		return cmp(int(d.M), int(e.M))
	}
	return cmp(d.D, e.D)
}

func cmp(a, b int) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// Before reports d < e.
func (d Date) Before(e Date) bool { return d.Compare(e) < 0 }

// AddDays moves by n days.
func (d Date) AddDays(n int) Date { return fromUTC(d.utc().AddDate(0, 0, n)) }

// At is the instant the date begins in Japan, plus offset.
func (d Date) At(offset time.Duration) time.Time {
	return time.Date(d.Y, d.M, d.D, 0, 0, 0, 0, JST).Add(offset)
}

// ParseDate reads YYYYMMDD, YYYY/MM/DD or YYYY-MM-DD (what merchants send in ac4, ac5 and tr3) and
// checks it is a real calendar date.
func ParseDate(s string) (Date, bool) {
	var y, m, d int
	switch {
	case len(s) == 8 && digits(s):
		y, m, d = atoi(s[0:4]), atoi(s[4:6]), atoi(s[6:8])
	case len(s) == 10 && (s[4] == '/' && s[7] == '/' || s[4] == '-' && s[7] == '-') &&
		digits(s[0:4]) && digits(s[5:7]) && digits(s[8:10]):
		y, m, d = atoi(s[0:4]), atoi(s[5:7]), atoi(s[8:10])
	default:
		return Date{}, false
	}
	if y < 2000 || m < 1 || m > 12 || d < 1 || d > daysIn(y, time.Month(m)) {
		return Date{}, false
	}
	return Date{y, time.Month(m), d}, true
}

func digits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

func atoi(s string) int {
	n := 0
	for i := 0; i < len(s); i++ {
		n = n*10 + int(s[i]-'0')
	}
	return n
}

func daysIn(y int, m time.Month) int {
	return time.Date(y, m+1, 0, 0, 0, 0, 0, time.UTC).Day()
}

// LastDay is the charge day meaning "the last day of the month" (ac1=99).
const LastDay = 99

// monthDay is day of month y/m (m may overflow into later years): LastDay, or a day the month
// lacks, gives the month's last day — ac1=30 charges on 28 or 29 February.
func monthDay(y int, m time.Month, day int) Date {
	first := time.Date(y, m, 1, 0, 0, 0, 0, time.UTC)
	y, m = first.Year(), first.Month()
	last := daysIn(y, m)
	if day == LastDay || day > last {
		day = last
	}
	return Date{y, m, day}
}

// Cycle is the wire's actp.
type Cycle int

// The cycles of actp.
const (
	Weekly      Cycle = 2
	Fortnightly Cycle = 3
	Monthly     Cycle = 4
	Bimonthly   Cycle = 5
	Quarterly   Cycle = 6
	HalfYearly  Cycle = 7
	Yearly      Cycle = 8
)

// Valid reports whether c is one of the wire's cycles.
func (c Cycle) Valid() bool { return c >= Weekly && c <= Yearly }

// Months is the length of a monthly-type cycle, 0 for weekly ones.
func (c Cycle) Months() int {
	switch c {
	case Monthly:
		return 1
	case Bimonthly:
		return 2
	case Quarterly:
		return 3
	case HalfYearly:
		return 6
	case Yearly:
		return 12
	}
	return 0
}

// Days is the length of a weekly-type cycle, 0 for monthly ones.
func (c Cycle) Days() int {
	switch c {
	case Weekly:
		return 7
	case Fortnightly:
		return 14
	}
	return 0
}

// Next is the charge date one cycle after d. Monthly-type cycles land on day (1–31 or LastDay) of
// the month, each computed from the month alone so that a short month does not drag later ones
// (31 Jan → 29 Feb → 31 Mar); weekly ones ignore day.
func (c Cycle) Next(d Date, day int) Date {
	if n := c.Days(); n > 0 {
		return d.AddDays(n)
	}
	if day == 0 {
		day = d.D
	}
	return monthDay(d.Y, d.M+time.Month(c.Months()), day)
}

// Name is the cycle in words, for pages and logs.
func (c Cycle) Name(lang string) string {
	ja := lang == "ja"
	switch c {
	case Weekly:
		return pick(ja, "毎週", "weekly")
	case Fortnightly:
		return pick(ja, "隔週", "every two weeks")
	case Monthly:
		return pick(ja, "毎月", "monthly")
	case Bimonthly:
		return pick(ja, "2ヶ月ごと", "every two months")
	case Quarterly:
		return pick(ja, "3ヶ月ごと", "every three months")
	case HalfYearly:
		return pick(ja, "6ヶ月ごと", "every six months")
	case Yearly:
		return pick(ja, "毎年", "yearly")
	}
	return "?"
}

func pick(ja bool, a, b string) string {
	if ja {
		return a
	}
	return b
}
