package maintenance

import (
	"sort"
	"strings"
	"time"

	"github.com/teambition/rrule-go"
)

// DraftRequest asks for a year of windows drafted from a recurrence rule. A draft is only an aid:
// the source notice's dates follow no single rule, so the operator edits the list Draft returns
// and the explicit list is what gets published.
type DraftRequest struct {
	Year  int    // the calendar year to fill, in Zone
	RRule string // RFC 5545 RRULE value, e.g. "FREQ=MONTHLY;BYDAY=TH;BYMONTHDAY=17,18,19,20,21,22,23"
	From  string // HH:MM wall-clock start in Zone
	To    string // HH:MM wall-clock end; not after From means the next day (WallWindow)
	Zone  string // IANA zone; "" is DefaultZone
	// HolidayShift moves a date that is a Japanese public holiday: "" or "none" keeps it,
	// "previous" / "next" take the nearest business day before / after (which may fall in the
	// neighbouring year for 1 January).
	HolidayShift string
}

// Holiday shift modes.
const (
	ShiftNone     = "none"
	ShiftPrevious = "previous"
	ShiftNext     = "next"
)

// Drafting is limited to the years holiday data covers, so a shift is never silently skipped.
const (
	draftMinYear = holidayRuleMinYear
	draftMaxYear = holidayRuleMaxYear
	// draftMaxInterval keeps rrule-go's day arithmetic far from integer overflow.
	draftMaxInterval = 1000
)

// Draft expands req.RRule over req.Year (DTSTART is 1 January of the year at From, in Zone) and
// returns one planned window per resulting date, sorted and without duplicates (two dates shifted
// onto the same business day give one window). Times of day come only from From/To, so rules that
// set their own times (BYHOUR…, sub-daily FREQ, DTSTART) are refused rather than half-honoured.
// Every refusal is an *InputError.
func Draft(req DraftRequest) ([]Window, error) {
	if req.Year < draftMinYear || req.Year > draftMaxYear {
		return nil, inputErr("year %d out of range: drafting covers %d–%d, the years with holiday data",
			req.Year, draftMinYear, draftMaxYear)
	}
	zone := req.Zone
	if zone == "" {
		zone = DefaultZone
	}
	loc, err := LoadZone(zone)
	if err != nil {
		return nil, err
	}
	fh, fm, err := parseHM(req.From)
	if err != nil {
		return nil, inputErr("bad start time %q: %v", req.From, err)
	}
	if _, _, err := parseHM(req.To); err != nil {
		return nil, inputErr("bad end time %q: %v", req.To, err)
	}
	shift := req.HolidayShift
	switch shift {
	case "", ShiftNone, ShiftPrevious, ShiftNext:
	default:
		return nil, inputErr("unknown holiday shift %q (none, previous, next)", shift)
	}

	dtstart := time.Date(req.Year, time.January, 1, fh, fm, 0, 0, loc)
	yearEnd := time.Date(req.Year, time.December, 31, 23, 59, 59, 0, loc)
	dates, err := expandRule(req.RRule, dtstart, yearEnd, loc)
	if err != nil {
		return nil, err
	}
	if len(dates) == 0 {
		return nil, inputErr("RRULE %q gives no dates in %d", req.RRule, req.Year)
	}

	seen := map[string]bool{}
	var days []string
	for _, d := range dates {
		if shift == ShiftPrevious || shift == ShiftNext {
			d = shiftOffHoliday(d, shift == ShiftNext)
		}
		s := d.Format("2006-01-02")
		if !seen[s] {
			seen[s] = true
			days = append(days, s)
		}
	}
	sort.Strings(days)
	ws := make([]Window, 0, len(days))
	for _, s := range days {
		w, err := WallWindow(s, req.From, req.To, zone)
		if err != nil {
			return nil, err
		}
		ws = append(ws, w)
	}
	return ws, nil
}

// expandRule validates and expands an RRULE value, returning each occurrence's date (at noon in
// loc, which keeps day arithmetic clear of DST gaps). The expansion itself runs on wall-clock
// values labelled UTC: only dates matter here, UTC has no DST gaps, and rrule-go is many times
// faster without zone lookups. An UNTIL is read in loc (or as UTC with Z) and turned into wall
// clock the same way.
func expandRule(value string, dtstart, until time.Time, loc *time.Location) (dates []time.Time, err error) {
	s := strings.TrimSpace(value)
	if len(s) >= 6 && strings.EqualFold(s[:6], "RRULE:") {
		s = s[6:]
	}
	if s == "" {
		return nil, inputErr("RRULE is empty (e.g. FREQ=MONTHLY;BYDAY=3TH)")
	}
	if strings.ContainsAny(s, "\r\n") {
		return nil, inputErr("RRULE %q: one line only, without DTSTART", value)
	}
	opt, err := rrule.StrToROptionInLocation(strings.ToUpper(s), loc)
	if err != nil {
		return nil, inputErr("RRULE %q: %v", value, err)
	}
	switch {
	case opt.Freq > rrule.DAILY:
		return nil, inputErr("RRULE %q: FREQ must be YEARLY, MONTHLY, WEEKLY or DAILY (times come from the start and end)", value)
	case !opt.Dtstart.IsZero():
		return nil, inputErr("RRULE %q: DTSTART is set by the year and start time, leave it out", value)
	case len(opt.Byhour) > 0 || len(opt.Byminute) > 0 || len(opt.Bysecond) > 0:
		return nil, inputErr("RRULE %q: BYHOUR/BYMINUTE/BYSECOND are not allowed (times come from the start and end)", value)
	case opt.Interval > draftMaxInterval:
		return nil, inputErr("RRULE %q: INTERVAL above %d", value, draftMaxInterval)
	case opt.Count < 0:
		return nil, inputErr("RRULE %q: negative COUNT", value)
	}
	opt.Dtstart = wallUTC(dtstart, loc)
	until = wallUTC(until, loc)
	if !opt.Until.IsZero() {
		if u := wallUTC(opt.Until, loc); u.Before(until) {
			until = u
		}
	}
	opt.Until = until
	r, err := rrule.NewRRule(*opt)
	if err != nil {
		return nil, inputErr("RRULE %q: %v", value, err)
	}
	// rrule-go is third-party code fed operator input: a panic inside it is a rule we cannot
	// expand, not a reason to take the console down.
	defer func() {
		if p := recover(); p != nil {
			dates, err = nil, inputErr("RRULE %q cannot be expanded: %v", value, p)
		}
	}()
	next := r.Iterator()
	for t, ok := next(); ok; t, ok = next() {
		if t.After(until) {
			break
		}
		y, m, d := t.Date()
		dates = append(dates, time.Date(y, m, d, 12, 0, 0, 0, loc))
		if len(dates) > 400 { // one a day at most, so this only guards against a library surprise
			return nil, inputErr("RRULE %q gives more than one date a day", value)
		}
	}
	return dates, nil
}

// shiftOffHoliday moves d to the nearest business day before (or after) it when d is a Japanese
// public holiday. Weekends alone are not moved: a rule that lands on a Saturday meant Saturday.
func shiftOffHoliday(d time.Time, forward bool) time.Time {
	if _, hol := JapaneseHoliday(d); !hol {
		return d
	}
	step := -1
	if forward {
		step = 1
	}
	for i := 0; i < 31; i++ { // Golden Week is the longest run of days off: a month is ample
		d = d.AddDate(0, 0, step)
		if IsBusinessDay(d) {
			return d
		}
	}
	return d
}

// wallUTC relabels t's wall clock in loc as UTC.
func wallUTC(t time.Time, loc *time.Location) time.Time {
	t = t.In(loc)
	return time.Date(t.Year(), t.Month(), t.Day(), t.Hour(), t.Minute(), t.Second(), 0, time.UTC)
}
