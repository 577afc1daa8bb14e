package link

import (
	"context"
	"fmt"
	"net/url"
	"time"

	"kessai/internal/autocharge"
	"kessai/internal/store"
	"kessai/internal/wire"
)

// An auto-charge sign-up states its recurring terms before the button and again on the result
// page, as the 2022 特定商取引法 final-confirmation rules ask: what will be charged, how often, the
// first charge date, the trial, how many times, and how to stop.

// stopPath is the customer's page that stops an auto-charge (package acpages, which imports this
// one: the path is repeated here rather than imported).
const stopPath = "/link/creditcard/auto-charge/stop"

// planView is a plan's terms in the page's language.
type planView struct {
	Amount      string // each recurring charge, tax and shipping included
	Cycle       string // how often, with the charge day
	First       string // the first recurring charge's date
	Trial       string // "" without a trial
	TrialCharge string // the charge at the trial's end when it differs from Amount
	Count       string // how many charges, or until stopped
	End         string // "" without an end date
	Today       string // what is charged now
	StopURL     string // on the result page: the stop page of this plan
}

// previewPlan reads an order's plan as SignUp will create it; nil when the order has none or the
// plan no longer reads (the charge would then refuse it with its own code).
func previewPlan(st *store.Store, o *store.LinkOrder, lang string, now time.Time) *planView {
	if o.Plan == "" {
		return nil
	}
	pp, err := wire.ParseQuery(o.Plan)
	if err != nil {
		return nil
	}
	a, err := autocharge.Preview(pp, st, now)
	if err != nil {
		return nil
	}
	return planViewOf(a, lang, yen(lang, o.Am+o.Tx+o.Sf))
}

// planViewOf renders a plan's terms; today is what the sign-up itself charges.
func planViewOf(a *store.AutoCharge, lang, today string) *planView {
	t := texts[lang]
	c := autocharge.Cycle(a.Cycle)
	v := &planView{Amount: yen(lang, a.Am+a.Tx+a.Sf), Cycle: c.Name(lang), Today: today}
	if lang == "ja" {
		v.Cycle = c.Name("ja")
	}
	if c.Months() > 0 && a.Day != 0 {
		switch {
		case a.Day == autocharge.LastDay:
			v.Cycle += t["plan_day_last"]
		default:
			v.Cycle += fmt.Sprintf(t["plan_day"], a.Day)
		}
	}
	if d, ok := autocharge.ParseDate(a.FirstDate); ok {
		v.First = dateText(lang, d)
	}
	terms := autocharge.DecodeTerms(a.Terms)
	if terms.TrialType != 0 {
		length := ""
		switch terms.TrialType {
		case 2:
			length = fmt.Sprintf(t["plan_trial_days"], terms.TrialN)
		case 4:
			length = fmt.Sprintf(t["plan_trial_months"], terms.TrialN)
		}
		v.Trial = length + fmt.Sprintf(t["plan_trial_until"], dateText(lang, terms.TrialEnd))
		if terms.TrialAmounts {
			v.TrialCharge = yen(lang, terms.TrialAm+terms.TrialTx+terms.TrialSf)
		}
	}
	if a.StopAfter > 0 {
		v.Count = fmt.Sprintf(t["plan_count_n"], a.StopAfter)
	} else {
		v.Count = t["plan_count_open"]
	}
	if !terms.End.IsZero() {
		v.End = dateText(lang, terms.End)
	}
	return v
}

// resultPlan is the plan a paid sign-up created, with the way to stop it; nil when there is none.
func (h *Handler) resultPlan(ctx context.Context, st *store.Store, p *store.Payment, lang string) *planView {
	if p.Acid == "" {
		return nil
	}
	a, err := h.Pay.DB.GetAutoCharge(ctx, st.AID, p.Acid)
	if err != nil {
		return nil
	}
	v := planViewOf(a, lang, yen(lang, p.Ta))
	q := url.Values{"aid": {st.AID}, "tid": {p.Gid}}
	if lang == "en" {
		q.Set("lang", "en")
	}
	v.StopURL = stopPath + "?" + q.Encode()
	return v
}

// dateText is a charge date for customers: 2026年6月1日, or 1 Jun 2026.
func dateText(lang string, d autocharge.Date) string {
	if d.IsZero() {
		return ""
	}
	if lang == "en" {
		return fmt.Sprintf("%d %s %d", d.D, d.M.String()[:3], d.Y)
	}
	return fmt.Sprintf("%d年%d月%d日", d.Y, int(d.M), d.D)
}
