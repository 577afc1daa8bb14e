// Package autocharge is recurring billing (自動課金): plans signed up with a first charge (or with
// am=0, registering the card and plan without charging), changed through accgate and
// accgate_token, stopped through acsgate, the hosted stop page or the control panel, and charged by
// a runner on their schedule.
//
// Policies (wire.md leaves them open; these are Kessai's decisions):
//
//   - Schedule. Dates are Japanese calendar dates; a period is named by its scheduled date
//     (YYYYMMDD) and its payment's order number is acid+"-"+period. The first charge is ac4 when
//     given, else the end of the trial, else one cycle after the sign-up date (the sign-up's own
//     charge, am, pays for the first cycle). Monthly-type cycles charge on ac1 (1–30, or 99 for
//     the last day), else on the day of the sign-up (also after a trial of N months), else — when
//     ac4, a trial of N days or a trial until a date sets the first charge — on that date's day;
//     a month without the day charges on its last day, and each month is computed on its own, so
//     31 January gives 29 February and then 31 March. Weekly cycles keep the weekday of the first
//     charge and ignore ac1. ac3 counts the runner's successful charges (the trial-end charge
//     included, the sign-up's own charge not); ac5 is the last date a charge may fall on. A
//     date's charge falls due at Service.ChargeAt (default 00:00) Japan time, by the service's
//     clock (the sandbox clock under "kessai serve --clock").
//   - Trials. trtp=2 ends tr1 days after the sign-up, trtp=4 tr2 months after it, trtp=3 and 5
//     on the date tr3 (the two are not told apart on the wire; both end on tr3). The first charge
//     falls on the trial's end, for tram/trtx/trsf when given, else for acam/actx/acsf.
//   - Retries. A declined charge is retried 1 day later, then 2 days after that (3 days after the
//     first attempt); the first two declines notify rst=3, the third notifies rst=2 and stops the
//     plan (status "failed"). A card change (accgate_token, hosted update page) during retries
//     retries at once with the new card.
//   - Catch-up. After downtime (or a maintenance window) every missed period is charged once,
//     oldest first: each period is a service period the customer owes, with its own order number
//     the merchant reconciles, and charging only the latest would silently drop revenue and
//     miscount ac3. Retries of a missed period wait their normal delay from the actual attempt.
//   - Stop notice. A stop takes effect at once (nothing more is charged). The rst=4 kickback goes
//     to the auto-charge result URL at once when the store's stop-notice timing is "immediate",
//     and at the instant the next charge would have fallen due when it is "next". It carries a
//     gid of its own (no payment exists; merchants dedupe on gid+acid), the sign-up's cod, the
//     amounts of the period that will not be charged, and acid. A stop of a plan that is not active (stopped,
//     failed or completed) is ER024; an unknown acid is ER072. Stops are written to the audit log
//     with who asked (acsgate, link, console:<login>).
//   - Kickbacks of runs go to the auto-charge result URL (none when the store has none) with gid,
//     rst, ap, ec, god, cod, am, tx, sf, ta and acid, never free parameters: rst=1 charged, 3
//     declined and retried, 2 declined for the last time (the plan stops). Their cod is the
//     sign-up's (empty if it had none), as wire.md §3.3 says: merchants find the plan by it and
//     tell runs apart by gid+acid. The period's own order number (acid-YYYYMMDD) stays on the
//     payment, in the panel and the CSV.
//   - Exactly once. The runner claims due plans with a lease (a compare-and-set on lease_until);
//     a charge is recorded in the payment's own transaction together with its autocharge_runs row
//     (unique on acid, period, attempt) and the plan's advance, after re-checking the plan still
//     stands at that period and attempt; payments' unique (aid, cod) admits one successful payment
//     per period. So no period is charged twice across restarts, crashes and several runners.
package autocharge

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"time"

	"kessai/internal/clock"
	"kessai/internal/payment"
	"kessai/internal/store"
	"kessai/internal/wire"
)

// DefaultRetry is the wait before each retry of a declined charge.
var DefaultRetry = []time.Duration{24 * time.Hour, 48 * time.Hour}

// Service manages plans. It implements the gateway's AutoCharger.
type Service struct {
	Pay   *payment.Service
	DB    *store.DB
	Clock clock.Clock
	Log   *slog.Logger
	// ChargeAt is the time of day, Japan time, at which a scheduled date's charge falls due.
	ChargeAt time.Duration
	// Retry is the wait before each retry after a decline; after the last one the plan stops.
	Retry []time.Duration
}

// New returns a service over the payment service's database and clock.
func New(pay *payment.Service, clk clock.Clock, log *slog.Logger) *Service {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Service{Pay: pay, DB: pay.DB, Clock: clk, Log: log, Retry: DefaultRetry}
}

// Kickback kinds and statuses of auto-charge notifications (wire.md §3.3).
const (
	KickbackKind = "autocharge"
	RstCharged   = "1"
	RstFailed    = "2" // declined, no more retries: the plan stopped
	RstRetry     = "3" // declined, will be retried
	RstStopped   = "4" // stopped by the customer (or the merchant / an operator)
)

func (s *Service) due(date string) time.Time {
	d, _ := ParseDate(date)
	return d.At(s.ChargeAt)
}

// internal wraps an unexpected failure so that no driver text reaches a merchant.
func internal(err error) error {
	var we *wire.Error
	if errors.As(err, &we) {
		return err
	}
	var pe *payment.Error
	if errors.As(err, &pe) {
		return err
	}
	return &wire.Error{Code: wire.ERInternal, Msg: "storage", Err: err}
}

// SignUp reads the plan parameters of a charge request (gateway.aspx, gateway_token.aspx, the
// hosted page) and arranges for the plan to be created inside the payment's transaction, so that
// the result line's column 12 and the kickback carry its acid. A request without a plan (actp
// absent, empty or 0) is left alone, except that a total of 0 then is below the store's minimum
// (ER017). A total of 0 with a plan registers the card and the plan and charges nothing now.
func (s *Service) SignUp(ctx context.Context, st *store.Store, p *wire.Params, req *payment.ChargeRequest) error {
	if !hasPlan(p) {
		if req.Total() < max(st.MinAmount, 1) {
			return wire.Errf(wire.ERAmountTooLow, "am", "total %d below the store minimum", req.Total())
		}
		return nil
	}
	now := s.Clock.Now()
	plan, err := parseSignUp(p, st, DateOf(now))
	if err != nil {
		return err
	}
	if plan.Acid, err = s.Pay.NewID(ctx); err != nil {
		return err
	}
	plan.AID = st.AID
	plan.NextAt = s.due(plan.NextDate)
	if req.Total() == 0 {
		req.NoCharge = true
	}
	prev := req.InTx
	req.InTx = func(tx *store.Tx, pay *store.Payment) error {
		if prev != nil {
			if err := prev(tx, pay); err != nil {
				return err
			}
		}
		a := *plan
		a.Gid, a.Cod, a.CardID, a.Em, a.Pn = pay.Gid, pay.Cod, pay.CardID, pay.Em, pay.Pn
		a.CreatedAt, a.UpdatedAt = pay.CreatedAt, pay.CreatedAt
		if err := tx.InsertAutoCharge(&a); err != nil {
			return err
		}
		pay.Acid = a.Acid
		return nil
	}
	return nil
}

// Get returns a store's plan: ER072 when unknown.
func (s *Service) Get(ctx context.Context, st *store.Store, acid string) (*store.AutoCharge, error) {
	a, err := s.DB.GetAutoCharge(ctx, st.AID, acid)
	if errors.Is(err, store.ErrNotFound) {
		return nil, wire.Errf(wire.ERParamACID, "acid", "no such auto-charge")
	}
	if err != nil {
		return nil, internal(err)
	}
	return a, nil
}

// ByPayment returns the plan a sign-up payment (gid, the pages' tid) created: ER072 when there is
// none.
func (s *Service) ByPayment(ctx context.Context, st *store.Store, gid string) (*store.AutoCharge, error) {
	p, err := s.DB.GetPayment(ctx, st.AID, gid)
	if errors.Is(err, store.ErrNotFound) || err == nil && p.Acid == "" {
		return nil, wire.Errf(wire.ERParamACID, "tid", "no auto-charge for this payment")
	}
	if err != nil {
		return nil, internal(err)
	}
	return s.Get(ctx, st, p.Acid)
}

// List returns a store's plans, newest first (status "" = all).
func (s *Service) List(ctx context.Context, aid, status string, limit int) ([]*store.AutoCharge, error) {
	return s.DB.ListAutoCharges(ctx, store.AutoChargeFilter{AID: aid, Status: status, Limit: limit})
}

// Runs returns a plan's charge attempts, oldest first.
func (s *Service) Runs(ctx context.Context, acid string) ([]store.ACRun, error) {
	return s.DB.ACRuns(ctx, acid)
}

// update runs fn on a store's active plan inside a write transaction and saves it: ER072 when the
// plan is unknown, ER024 when it no longer charges.
func (s *Service) update(ctx context.Context, st *store.Store, acid string, fn func(tx *store.Tx, a *store.AutoCharge) error) error {
	if acid == "" || len(acid) > 32 {
		return wire.Errf(wire.ERParamACID, "acid", "missing or too long")
	}
	err := s.DB.Write(ctx, func(tx *store.Tx) error {
		a, err := tx.LockAutoCharge(st.AID, acid)
		if errors.Is(err, store.ErrNotFound) {
			return wire.Errf(wire.ERParamACID, "acid", "no such auto-charge")
		}
		if err != nil {
			return err
		}
		if a.Status != store.ACActive {
			return wire.Errf(wire.ERAlreadyStopped, "acid", "auto-charge is %s", a.Status)
		}
		if err := fn(tx, a); err != nil {
			return err
		}
		return tx.SaveAutoCharge(a)
	})
	if err != nil {
		return internal(err)
	}
	return nil
}

// Stop stops a plan at once; via says who asked ("acsgate", "link", "console:<login>", …) for the
// audit log. The rst=4 kickback follows the store's stop-notice timing. ER072 unknown acid,
// ER024 already stopped. The control panel calls this too.
func (s *Service) Stop(ctx context.Context, st *store.Store, acid string, via string) error {
	now := s.Clock.Now()
	gid, err := s.Pay.NewID(ctx)
	if err != nil {
		return err
	}
	queued := false
	err = s.update(ctx, st, acid, func(tx *store.Tx, a *store.AutoCharge) error {
		queued = false
		nextAt := a.NextAt
		acid = a.Acid // the stored form, whichever form the caller gave (store.CanonicalID)
		a.Status, a.StopRequestedAt, a.StoppedAt, a.LeaseUntil, a.UpdatedAt = store.ACStopped, now, now, time.Time{}, now
		if err := tx.AuditAutoCharge(now, via, st.AID, "autocharge.stop", "acid="+acid); err != nil {
			return err
		}
		if st.ACResultURL == "" {
			return nil
		}
		at := now
		if st.StopNotice == "next" && nextAt.After(now) {
			at = nextAt
		}
		am, txa, sf := Amounts(a, a.NextDate)
		// the sign-up's cod (wire.md §3.3): merchants find the plan by it
		p := &store.Payment{Gid: gid, Rst: RstStopped, Cod: a.Cod, Am: am, Tx: txa, Sf: sf, Ta: am + txa + sf, Acid: acid}
		queued = true
		// CreatedAt is when the notice is owed, so the outbox's 72-hour retry window starts then.
		return tx.InsertKickback(&store.Kickback{AID: st.AID, Gid: gid, Acid: acid, Kind: KickbackKind, URL: st.ACResultURL,
			Query: payment.KickbackQuery(p, st.KickbackEncoding), NextAt: at, CreatedAt: at})
	})
	if err != nil {
		return err
	}
	s.Log.Info("auto-charge stopped", "aid", st.AID, "acid", acid, "via", via)
	if queued {
		s.Pay.Nudge()
	}
	return nil
}

// Change applies accgate.aspx (amounts, cycle, day, stop count, next date, end date) and, with a
// card (accgate_token.aspx: the token's card), replaces the plan's card. Changes take effect from
// the next charge. Codes as at sign-up; ac4 here must be after today; ac3 must exceed the charges
// already made (ER128).
func (s *Service) Change(ctx context.Context, st *store.Store, p *wire.Params, cardID int64) error {
	acid, err := p.ACID()
	if err != nil {
		return err
	}
	now := s.Clock.Now()
	ch, err := parseChange(p, DateOf(now))
	if err != nil {
		return err
	}
	return s.update(ctx, st, acid, func(tx *store.Tx, a *store.AutoCharge) error {
		if err := s.apply(ch, p, st, a, now); err != nil {
			return err
		}
		if cardID != 0 {
			s.setCard(a, cardID, now)
		}
		a.UpdatedAt = now
		return tx.AuditAutoCharge(now, "accgate", st.AID, "autocharge.change", "acid="+a.Acid+" "+changed(p))
	})
}

// changed lists the plan parameters a change request carried, for the audit log.
func changed(p *wire.Params) string {
	var names []string
	for _, n := range []string{"actp", "acam", "actx", "acsf", "ac1", "ac3", "ac4", "ac5", "tkn"} {
		if given(p, n) {
			names = append(names, n)
		}
	}
	return strings.Join(names, ",")
}

func (s *Service) setCard(a *store.AutoCharge, cardID int64, now time.Time) {
	a.CardID = cardID
	if a.Failures > 0 && a.NextAt.After(now) {
		a.NextAt = now // a decline is being retried: try the new card at once
	}
}

// SetCardTx replaces a plan's card inside a transaction (the hosted update page does it in the
// transaction of the new card's validity check): ER072 / ER024 as for Stop.
func (s *Service) SetCardTx(tx *store.Tx, st *store.Store, acid string, cardID int64, via string) error {
	a, err := tx.LockAutoCharge(st.AID, acid)
	if errors.Is(err, store.ErrNotFound) {
		return wire.Errf(wire.ERParamACID, "acid", "no such auto-charge")
	}
	if err != nil {
		return err
	}
	if a.Status != store.ACActive {
		return wire.Errf(wire.ERAlreadyStopped, "acid", "auto-charge is %s", a.Status)
	}
	now := s.Clock.Now()
	s.setCard(a, cardID, now)
	a.UpdatedAt = now
	if err := tx.SaveAutoCharge(a); err != nil {
		return err
	}
	return tx.AuditAutoCharge(now, via, st.AID, "autocharge.card", "acid="+a.Acid)
}

// planChange is a checked accgate request; zero fields are unchanged.
type planChange struct {
	cycle     Cycle
	day       int
	dayGiven  bool
	stop      int
	stopGiven bool
	next      Date // ac4
	end       Date // ac5
}

func parseChange(p *wire.Params, today Date) (*planChange, error) {
	ch := &planChange{}
	if given(p, "actp") {
		c, err := intParam(p, "actp", int64(Weekly), int64(Yearly), true)
		if err != nil {
			return nil, err
		}
		ch.cycle = Cycle(c)
	}
	for _, n := range []string{"acam", "actx", "acsf"} {
		if given(p, n) {
			if _, err := intParam(p, n, 0, wire.MaxAmount, false); err != nil {
				return nil, err
			}
		}
	}
	if given(p, "ac1") {
		d, err := parseDay(p)
		if err != nil {
			return nil, err
		}
		ch.day, ch.dayGiven = d, true
	}
	if given(p, "ac3") {
		n, err := intParam(p, "ac3", 0, maxStopCount, false)
		if err != nil {
			return nil, err
		}
		ch.stop, ch.stopGiven = int(n), true
	}
	var err error
	if ch.next, err = dateParam(p, "ac4"); err != nil {
		return nil, err
	}
	if !ch.next.IsZero() && !today.Before(ch.next) {
		return nil, perr("ac4", "next charge date %s is not after today", ch.next)
	}
	if ch.end, err = dateParam(p, "ac5"); err != nil {
		return nil, err
	}
	return ch, nil
}

// apply changes a locked plan.
func (s *Service) apply(ch *planChange, p *wire.Params, st *store.Store, a *store.AutoCharge, now time.Time) error {
	var err error
	if given(p, "acam") || given(p, "actx") || given(p, "acsf") {
		if a.Am, a.Tx, a.Sf, err = recurringAmounts(p, st, a.Am, a.Tx, a.Sf, false); err != nil {
			return err
		}
	}
	today := DateOf(now)
	old := Cycle(a.Cycle)
	cyc := old
	if ch.cycle != 0 {
		cyc = ch.cycle
	}
	next, _ := ParseDate(a.NextDate)
	day := a.Day
	if ch.dayGiven {
		day = ch.day
	} else if cyc.Months() > 0 && old.Months() == 0 {
		day = 0 // weekly → monthly: the day of the next charge
	}
	moved := false
	switch {
	case !ch.next.IsZero():
		next, moved = ch.next, true
		a.Failures = 0 // a new date starts the period afresh
	case (ch.cycle != 0 || ch.dayGiven) && a.Failures == 0 && cyc.Months() > 0:
		// The next charge moves to the new day in its month, or one new cycle on if that day has
		// passed: the change takes effect from the next charge.
		d := day
		if d == 0 {
			d = next.D
		}
		cand := monthDay(next.Y, next.M, d)
		if !today.Before(cand) {
			cand = cyc.Next(cand, d)
		}
		next, moved = cand, cand != next
	}
	if cyc.Months() > 0 && day == 0 {
		day = next.D
	}
	if cyc.Months() == 0 {
		day = 0
	}
	if ch.stopGiven {
		if ch.stop != 0 && ch.stop <= a.Charges {
			return perr("ac3", "stop count %d not above the %d charges already made", ch.stop, a.Charges)
		}
		a.StopAfter = ch.stop
	}
	t := DecodeTerms(a.Terms)
	if !ch.end.IsZero() {
		t.End = ch.end
	}
	if !t.End.IsZero() && t.End.Before(next) {
		return perr("ac5", "end date %s is before the next charge %s", t.End, next)
	}
	a.Cycle, a.Day, a.Terms = int(cyc), day, t.Encode()
	if moved {
		a.NextDate, a.NextAt = next.String(), s.due(next.String())
	}
	return nil
}
