package autocharge

import (
	"net/url"
	"strconv"
	"strings"
	"time"

	"kessai/internal/store"
	"kessai/internal/wire"
)

// Terms are a plan's rarely used terms: an end date (ac5) and a trial (trtp…). They are kept
// together in the plan row's "trial" column, encoded by Encode.
type Terms struct {
	End       Date // ac5: nothing is charged after this date; zero = no end
	TrialType int  // trtp: 2 N days, 3/5 until a date, 4 N months; 0 = no trial
	TrialN    int  // tr1 (days) or tr2 (months)
	// TrialEnd is the date the trial ends and the first charge is due.
	TrialEnd Date
	// TrialAmounts says tram/trtx/trsf were given: the charge on TrialEnd uses them instead of
	// acam/actx/acsf.
	TrialAmounts              bool
	TrialAm, TrialTx, TrialSf int64
}

// Encode is the stored form: a short query string, "" when there are no terms.
func (t Terms) Encode() string {
	v := url.Values{}
	if !t.End.IsZero() {
		v.Set("end", t.End.String())
	}
	if t.TrialType != 0 {
		v.Set("trtp", strconv.Itoa(t.TrialType))
		v.Set("trn", strconv.Itoa(t.TrialN))
		v.Set("trend", t.TrialEnd.String())
	}
	if t.TrialAmounts {
		v.Set("tram", strconv.FormatInt(t.TrialAm, 10))
		v.Set("trtx", strconv.FormatInt(t.TrialTx, 10))
		v.Set("trsf", strconv.FormatInt(t.TrialSf, 10))
	}
	return v.Encode()
}

// DecodeTerms reads the stored form; anything unreadable is left out.
func DecodeTerms(s string) Terms {
	var t Terms
	if s == "" {
		return t
	}
	v, _ := url.ParseQuery(s)
	t.End, _ = ParseDate(v.Get("end"))
	t.TrialType, _ = strconv.Atoi(v.Get("trtp"))
	t.TrialN, _ = strconv.Atoi(v.Get("trn"))
	t.TrialEnd, _ = ParseDate(v.Get("trend"))
	if v.Has("tram") {
		t.TrialAmounts = true
		t.TrialAm, _ = strconv.ParseInt(v.Get("tram"), 10, 64)
		t.TrialTx, _ = strconv.ParseInt(v.Get("trtx"), 10, 64)
		t.TrialSf, _ = strconv.ParseInt(v.Get("trsf"), 10, 64)
	}
	return t
}

// Amounts returns what a plan charges for the period (YYYYMMDD): the trial-end amounts on the
// trial's end date when they were given, else acam/actx/acsf.
func Amounts(a *store.AutoCharge, period string) (am, tx, sf int64) {
	if t := DecodeTerms(a.Terms); t.TrialAmounts && t.TrialEnd.String() == period {
		return t.TrialAm, t.TrialTx, t.TrialSf
	}
	return a.Am, a.Tx, a.Sf
}

// given reports a parameter sent with a value; merchants' forms often send empty fields for what
// they do not use, and those mean "not given".
func given(p *wire.Params, name string) bool { return strings.TrimSpace(p.Get(name)) != "" }

func perr(name, format string, a ...any) error {
	return wire.Errf(wire.ParamCode(name), name, format, a...)
}

// intParam reads an optional integer parameter with its own code.
func intParam(p *wire.Params, name string, min, max int64, required bool) (int64, error) {
	return p.Int(name, wire.ParamCode(name), min, max, required)
}

func dateParam(p *wire.Params, name string) (Date, error) {
	v := strings.TrimSpace(p.Get(name))
	if v == "" {
		return Date{}, nil
	}
	d, ok := ParseDate(v)
	if !ok {
		return Date{}, perr(name, "want YYYYMMDD or YYYY/MM/DD")
	}
	return d, nil
}

// maxStopCount bounds ac3.
const maxStopCount = 9999

// parseDay reads ac1: 0 (unspecified), 1–30, or 99 (last day of the month) — ER127.
func parseDay(p *wire.Params) (int, error) {
	day, err := intParam(p, "ac1", 0, LastDay, false)
	if err != nil {
		return 0, err
	}
	if day > 30 && day != LastDay {
		return 0, perr("ac1", "want 0, 1–30 or 99")
	}
	return int(day), nil
}

// hasPlan reports whether a request asks for an auto-charge: actp present with a value other than
// 0. Forms that serve one-off and recurring products alike send actp empty or 0 for one-offs.
func hasPlan(p *wire.Params) bool {
	v := strings.TrimSpace(p.Get("actp"))
	return v != "" && v != "0"
}

// parseSignUp reads and checks the plan parameters of a sign-up made on today (Japan time), in
// this order: actp (ER126); acam, actx, acsf (ER570–ER572; the recurring total must lie within the
// store's limits, else ER570); ac1 (ER127); ac3 (ER128); ac4 (ER125: a date, today or later); ac5
// (ER129: a date, not before the first charge); the trial trtp, tr1, tr2, tr3, tram, trtx, trsf
// (ER574–ER580), and their consistency (ER581: a trial parameter without trtp, or a trial together
// with ac4; a parameter of another trial type than trtp's is ignored). It returns the plan without its identity, card and sign-up
// payment, which the caller fills in.
func parseSignUp(p *wire.Params, st *store.Store, today Date) (*store.AutoCharge, error) {
	cyc, err := intParam(p, "actp", int64(Weekly), int64(Yearly), true)
	if err != nil {
		return nil, err
	}
	c := Cycle(cyc)
	a := &store.AutoCharge{Status: store.ACActive, Cycle: int(c)}
	if a.Am, a.Tx, a.Sf, err = recurringAmounts(p, st, 0, 0, 0, true); err != nil {
		return nil, err
	}
	day, err := parseDay(p)
	if err != nil {
		return nil, err
	}
	stop, err := intParam(p, "ac3", 0, maxStopCount, false)
	if err != nil {
		return nil, err
	}
	a.StopAfter = int(stop)
	first, err := dateParam(p, "ac4")
	if err != nil {
		return nil, err
	}
	if !first.IsZero() && first.Before(today) {
		return nil, perr("ac4", "first charge date %s is in the past", first)
	}
	var t Terms
	if t.End, err = dateParam(p, "ac5"); err != nil {
		return nil, err
	}
	if err := parseTrial(p, &t, today); err != nil {
		return nil, err
	}
	if t.TrialType != 0 && !first.IsZero() {
		return nil, wire.Errf(wire.ERAutoCharge581, "ac4", "a trial and a first charge date (ac4) exclude each other")
	}

	// The first charge: ac4 when given; else the trial's end; else one cycle after the sign-up.
	// The day of later monthly charges: ac1 when given; else the day of the sign-up when the first
	// charge follows from it by months (so a sign-up on 31 January charges on 29 February and 31
	// March); else the day of the explicit first date (ac4, a trial of days or until a date).
	switch {
	case !first.IsZero():
	case t.TrialType != 0:
		first = t.TrialEnd
	default:
		if day == 0 {
			day = today.D
		}
		first = c.Next(today, day)
	}
	if day == 0 && t.TrialType == 4 {
		day = today.D // a trial of N months ends on the sign-up's day, later charges keep it
	}
	if day == 0 {
		day = first.D
	}
	if c.Months() == 0 {
		day = 0 // weekly cycles keep the weekday of the first charge; ac1 does not apply
	}
	if !t.End.IsZero() && t.End.Before(first) {
		return nil, perr("ac5", "end date %s is before the first charge %s", t.End, first)
	}
	a.Day = day
	a.FirstDate, a.NextDate = first.String(), first.String()
	a.Terms = t.Encode()
	return a, nil
}

// recurringAmounts reads acam/actx/acsf (ER570–ER572), each defaulting to the current value when
// not required and absent, and checks their total against the store's limits (ER570).
func recurringAmounts(p *wire.Params, st *store.Store, am, tx, sf int64, required bool) (int64, int64, int64, error) {
	var err error
	for _, f := range []struct {
		name string
		dst  *int64
	}{{"acam", &am}, {"actx", &tx}, {"acsf", &sf}} {
		if !given(p, f.name) {
			if f.name == "acam" && required {
				return 0, 0, 0, perr("acam", "required")
			}
			continue
		}
		if *f.dst, err = intParam(p, f.name, 0, wire.MaxAmount, false); err != nil {
			return 0, 0, 0, err
		}
	}
	total := am + tx + sf
	if total < max(st.MinAmount, 1) || total > st.MaxAmount {
		return 0, 0, 0, perr("acam", "recurring total %d outside the store's limits %d–%d", total, st.MinAmount, st.MaxAmount)
	}
	return am, tx, sf, nil
}

// parseTrial reads trtp and its parameters into t. trtp empty, 0 or 1 means no trial.
func parseTrial(p *wire.Params, t *Terms, today Date) error {
	tp := strings.TrimSpace(p.Get("trtp"))
	if tp == "" || tp == "0" || tp == "1" {
		for _, n := range []string{"tr1", "tr2", "tr3", "tram", "trtx", "trsf"} {
			if given(p, n) {
				return wire.Errf(wire.ERAutoCharge581, n, "trial parameter without a trial type (trtp)")
			}
		}
		return nil
	}
	typ, err := intParam(p, "trtp", 2, 5, true)
	if err != nil {
		return err
	}
	t.TrialType = int(typ)
	// tr1, tr2 and tr3 that do not belong to this trial type are ignored, not refused (wire.md
	// §2.2): the Ruby client's own sample sends tr3 with trtp=4. Only the type's own is read.
	switch typ {
	case 2:
		n, err := intParam(p, "tr1", 1, 3650, true)
		if err != nil {
			return err
		}
		t.TrialN, t.TrialEnd = int(n), today.AddDays(int(n))
	case 4:
		n, err := intParam(p, "tr2", 1, 120, true)
		if err != nil {
			return err
		}
		t.TrialN, t.TrialEnd = int(n), monthDay(today.Y, today.M+time.Month(n), today.D)
	default: // 3 and 5: until a date; the first charge falls on that date
		if !given(p, "tr3") {
			return perr("tr3", "required for trial type %d", typ)
		}
		d, err := dateParam(p, "tr3")
		if err != nil {
			return err
		}
		if !today.Before(d) {
			return perr("tr3", "trial end %s is not after today", d)
		}
		t.TrialEnd = d
	}
	if given(p, "tram") || given(p, "trtx") || given(p, "trsf") {
		t.TrialAmounts = true
		if t.TrialAm, err = intParam(p, "tram", 0, wire.MaxAmount, false); err != nil {
			return err
		}
		if t.TrialTx, err = intParam(p, "trtx", 0, wire.MaxAmount, false); err != nil {
			return err
		}
		if t.TrialSf, err = intParam(p, "trsf", 0, wire.MaxAmount, false); err != nil {
			return err
		}
		if t.TrialAm+t.TrialTx+t.TrialSf < 1 {
			return perr("tram", "the trial-end charge totals 0")
		}
	}
	return nil
}

// Preview reads and checks the plan parameters of a sign-up made at now, as SignUp will, and
// returns the plan's terms (cycle, amounts, first charge date, trial, stop count) without creating
// anything: the hosted page states them to the customer before the card is registered (the 2022
// 特定商取引法 final-confirmation rules).
func Preview(p *wire.Params, st *store.Store, now time.Time) (*store.AutoCharge, error) {
	return parseSignUp(p, st, DateOf(now))
}
