package autocharge

import (
	"context"
	"errors"
	"sync"
	"time"

	"kessai/internal/maintenance"
	"kessai/internal/payment"
	"kessai/internal/store"
	"kessai/internal/wire"
)

// Runner charges due plans. Any number of runners may share one database (one per instance): a
// plan is leased to one runner at a time, and the database refuses a second charge of a period
// even if a lease runs out mid-charge.
type Runner struct {
	Svc *Service
	// Maint pauses the runner while a window refuses auto-charge work; due charges run after it.
	Maint *maintenance.Index
	// Batch is how many plans one claim leases; Workers how many charges run at once (they share
	// group commits, which is what makes thousands per second possible on SQLite).
	Batch   int
	Workers int
	// Lease is how long a claim keeps other runners off a plan, in clock time; 0 means two minutes
	// of real time (scaled by a sandbox clock's rate).
	Lease time.Duration
	// Poll is how often Run looks for due plans (real time).
	Poll time.Duration
}

// Outcome counts what one pass did.
type Outcome struct {
	Charged  int // successful charges
	Declined int // declined attempts (retried or final)
	Skipped  int // claims given back: store suspended, storage trouble, another runner won
}

// Total is the number of plans settled (charged or declined).
func (o Outcome) Total() int { return o.Charged + o.Declined }

func (r *Runner) lease() time.Duration {
	if r.Lease != 0 {
		return r.Lease
	}
	d := 2 * time.Minute
	if rc, ok := r.Svc.Clock.(interface{ Rate() float64 }); ok && rc.Rate() > 1 {
		d = time.Duration(float64(d) * rc.Rate())
	}
	return d
}

// Run settles due plans until ctx ends.
func (r *Runner) Run(ctx context.Context) {
	poll := r.Poll
	if poll <= 0 {
		// half a second, or a minute of clock time under a fast sandbox clock (at least 20 ms)
		poll = 500 * time.Millisecond
		if rc, ok := r.Svc.Clock.(interface{ Rate() float64 }); ok && rc.Rate() > 120 {
			poll = max(20*time.Millisecond, time.Duration(float64(time.Minute)/rc.Rate()))
		}
	}
	t := time.NewTicker(poll)
	defer t.Stop()
	for {
		if _, err := r.RunOnce(ctx); err != nil && ctx.Err() == nil {
			r.Svc.Log.Warn("auto-charge pass failed", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// method is the payment method auto-charges use, as maintenance scopes name it.
const method = "card"

// Paused reports whether a maintenance window refuses auto-charge work at t for every card brand.
// A window limited to some brands does not pause the runner: held sees to those plans one by one.
func (r *Runner) Paused(t time.Time) bool {
	return r.Maint != nil && r.Maint.RefusedEveryBrand(t, maintenance.OpAutoCharge, method) != nil
}

// held keeps a claimed plan off until the window refusing its card's brand ends, and reports
// whether it did. Outside brand-limited windows it costs one index look-up and no query.
func (r *Runner) held(ctx context.Context, a *store.AutoCharge, now time.Time) bool {
	if r.Maint == nil || r.Maint.Refused(now, maintenance.OpAutoCharge, method, "") == nil {
		return false
	}
	c, err := r.Svc.DB.GetCard(ctx, a.AID, a.CardID)
	if err != nil {
		return false // settle records the attempt as failed (no card), which no window protects
	}
	w := r.Maint.Refused(now, maintenance.OpAutoCharge, method, c.Brand)
	if w == nil {
		return false
	}
	// held through the window's last instant: a claim takes plans whose lease is before now, so
	// the plan is due again at the very end
	if err := r.Svc.DB.HoldAutoCharge(ctx, a.Acid, w.End.Add(-time.Nanosecond)); err != nil {
		r.Svc.Log.Warn("auto-charge hold failed", "acid", a.Acid, "err", err)
	}
	return true
}

// RunOnce settles everything due now and returns when nothing is: a plan that missed several
// periods comes back once per period, oldest first. Claims are pipelined with the charges, so the
// database always has the next group of charges to commit while the previous one is flushed. It
// stops claiming when a maintenance window begins (charges already claimed run to completion).
func (r *Runner) RunOnce(ctx context.Context) (Outcome, error) {
	batch, workers := r.Batch, r.Workers
	if batch <= 0 {
		batch = 256
	}
	if workers <= 0 {
		workers = 256
	}
	var out Outcome
	var mu sync.Mutex
	jobs := make(chan *store.AutoCharge, batch)
	var inflight, pool sync.WaitGroup
	lease := r.lease()
	worker := func() {
		defer pool.Done()
		for a := range jobs {
			res := settledSkipped
			if !r.held(ctx, a, r.Svc.Clock.Now()) {
				res = r.Svc.settle(ctx, a)
			}
			mu.Lock()
			switch res {
			case settledCharged:
				out.Charged++
			case settledDeclined:
				out.Declined++
			default:
				out.Skipped++
			}
			mu.Unlock()
			inflight.Done()
		}
	}
	var err error
	started := 0
	for drained := false; ctx.Err() == nil; {
		now := r.Svc.Clock.Now()
		if r.Paused(now) {
			break
		}
		var plans []*store.AutoCharge
		if plans, err = r.Svc.DB.ClaimAutoCharges(ctx, now, batch, lease); err != nil {
			break
		}
		if len(plans) == 0 {
			if drained || started == 0 {
				break
			}
			// Charges still running may make their plans due again (catch-up): wait for them,
			// then look once more.
			inflight.Wait()
			drained = true
			continue
		}
		drained = false
		for _, a := range plans {
			if started < workers { // workers start as work arrives: an idle pass costs one query
				started++
				pool.Add(1)
				go worker()
			}
			inflight.Add(1)
			jobs <- a
		}
	}
	close(jobs)
	pool.Wait()
	if out.Total() > 0 {
		r.Svc.Pay.Nudge()
	}
	if err == nil {
		err = ctx.Err()
	}
	return out, err
}

type settled int

const (
	settledSkipped settled = iota
	settledCharged
	settledDeclined
)

// errStale means the plan moved on since it was claimed (another runner, a stop, a change).
var errStale = errors.New("auto-charge changed since it was claimed")

// settle makes the attempt a claimed plan is due for and records its outcome.
func (s *Service) settle(ctx context.Context, a *store.AutoCharge) settled {
	now := s.Clock.Now()
	st, err := s.Pay.Stores.Get(ctx, a.AID)
	if err != nil || st.Suspended {
		// keep other runners off it for a lease; it is tried again afterwards
		if err != nil {
			s.Log.Warn("auto-charge store unavailable", "acid", a.Acid, "aid", a.AID, "err", err)
		}
		return settledSkipped
	}
	period := a.NextDate
	am, tx, sf := Amounts(a, period)
	stale := false
	req := &payment.ChargeRequest{Store: st, Job: wire.JobCapture, Cod: a.Acid + "-" + period, Am: am, Tx: tx, Sf: sf,
		Em: a.Em, Pn: a.Pn, Md: wire.MethodLump, CardID: a.CardID, Source: "autocharge", AcceptedAt: now}
	req.InTx = func(wtx *store.Tx, p *store.Payment) error {
		p.Acid = a.Acid
		err := s.recordTx(wtx, st, a, p, now)
		stale = errors.Is(err, errStale)
		return err
	}
	res, err := s.Pay.Charge(ctx, req)
	switch {
	case stale:
		return settledSkipped
	case err != nil && payment.CodeOf(err) == string(wire.ERParamCod):
		// this period's order number was paid with other amounts (the plan was moved back onto a
		// paid date after an amount change): paid is paid, move on
		return s.recordReplay(ctx, a, now)
	case err != nil && payment.CodeOf(err) == string(wire.ERInternal):
		// storage trouble or the like: nothing was recorded; another runner may try after the lease
		s.Log.Warn("auto-charge attempt not recorded", "acid", a.Acid, "period", period, "err", err)
		return settledSkipped
	case err != nil:
		// the charge could not be made at all (e.g. the stored card is gone): a failed attempt
		gid, idErr := s.Pay.NewID(ctx)
		if idErr != nil {
			s.Log.Warn("auto-charge attempt not recorded", "acid", a.Acid, "period", period, "err", idErr)
			return settledSkipped
		}
		p := &store.Payment{Gid: gid, Rst: "2", Ec: payment.CodeOf(err), Cod: req.Cod, Am: am, Tx: tx, Sf: sf, Ta: am + tx + sf}
		return s.recordFailure(ctx, st, a, p, false, now)
	case res.Replayed:
		// this period was already paid (the plan was moved back onto a paid date): move on
		return s.recordReplay(ctx, a, now)
	case res.P.Rst == "1":
		return settledCharged
	}
	return s.recordFailure(ctx, st, a, res.P, true, now)
}

// save writes the claimed plan's new state if the stored plan still stands where the claim saw
// it (errStale otherwise): a compare-and-set, so a stop or change made meanwhile wins.
func save(tx *store.Tx, claimed, next *store.AutoCharge) error {
	ok, err := tx.UpdateAutoChargeIf(next, claimed.NextDate, claimed.Failures, claimed.UpdatedAt)
	if err != nil {
		return err
	}
	if !ok {
		return errStale
	}
	return nil
}

// advance moves a plan past a paid period: the next date, or completion when the stop count or
// the end date is reached.
func (s *Service) advance(a *store.AutoCharge, now time.Time) {
	d, _ := ParseDate(a.NextDate)
	next := Cycle(a.Cycle).Next(d, a.Day)
	a.Failures, a.LeaseUntil, a.UpdatedAt = 0, time.Time{}, now
	a.NextDate, a.NextAt = next.String(), s.due(next.String())
	t := DecodeTerms(a.Terms)
	if a.StopAfter > 0 && a.Charges >= a.StopAfter || !t.End.IsZero() && t.End.Before(next) {
		a.Status, a.StoppedAt = store.ACCompleted, now
	}
}

// recordTx records a successful charge of the claimed plan's period inside its payment's
// transaction: the run, the plan's advance and the kickback commit with the payment or not at all.
func (s *Service) recordTx(tx *store.Tx, st *store.Store, a *store.AutoCharge, p *store.Payment, now time.Time) error {
	ok, err := tx.InsertACRun(&store.ACRun{Acid: a.Acid, Period: a.NextDate, Attempt: a.Failures, Gid: p.Gid, Rst: RstCharged, Am: p.Ta, At: now})
	if err != nil {
		return err
	}
	if !ok {
		return errStale
	}
	cur := *a
	cur.Charges++
	s.advance(&cur, now)
	if err := save(tx, a, &cur); err != nil {
		return err
	}
	return s.kick(tx, st, a.Cod, p, RstCharged, now)
}

func (s *Service) kick(tx *store.Tx, st *store.Store, cod string, p *store.Payment, rst string, now time.Time) error {
	if st.ACResultURL == "" {
		return nil
	}
	q := *p
	// Runs carry no free parameters, and the sign-up's cod (wire.md §3.3: merchants find the plan
	// by it and tell runs apart by gid+acid); the payment keeps its own per-period order number
	// acid-YYYYMMDD, which the panel and the CSV show and which keeps each period paid once.
	q.Rst, q.Free, q.Cod = rst, "", cod
	return tx.InsertKickback(&store.Kickback{AID: st.AID, Gid: p.Gid, Acid: p.Acid, Kind: KickbackKind, URL: st.ACResultURL,
		Query: payment.KickbackQuery(&q, st.KickbackEncoding), NextAt: now, CreatedAt: now})
}

// recordFailure records a declined attempt: rst=3 and a retry after the policy's wait, or, after
// the last retry, rst=2 and the plan stops (status failed).
func (s *Service) recordFailure(ctx context.Context, st *store.Store, a *store.AutoCharge, p *store.Payment, linked bool, now time.Time) settled {
	p.Acid = a.Acid
	err := s.DB.Write(ctx, func(tx *store.Tx) error {
		ok, err := tx.InsertACRun(&store.ACRun{Acid: a.Acid, Period: a.NextDate, Attempt: a.Failures, Gid: p.Gid, Rst: "2", Ec: p.Ec, Am: p.Ta, At: now})
		if err != nil {
			return err
		}
		if !ok {
			return errStale
		}
		if linked {
			if err := tx.SetPaymentAcid(p.Gid, a.Acid); err != nil {
				return err
			}
		}
		cur := *a
		cur.Failures++
		cur.LeaseUntil, cur.UpdatedAt = time.Time{}, now
		rst := RstRetry
		if cur.Failures > len(s.Retry) {
			rst = RstFailed
			cur.Status, cur.StoppedAt = store.ACFailed, now
			if err := tx.AuditAutoCharge(now, "autocharge", cur.AID, "autocharge.stop", "acid="+cur.Acid+" after "+p.Ec); err != nil {
				return err
			}
		} else {
			cur.NextAt = now.Add(s.Retry[cur.Failures-1])
		}
		if err := save(tx, a, &cur); err != nil {
			return err
		}
		return s.kick(tx, st, a.Cod, p, rst, now)
	})
	if errors.Is(err, errStale) {
		return settledSkipped
	}
	if err != nil {
		s.Log.Warn("auto-charge decline not recorded", "acid", a.Acid, "period", a.NextDate, "err", err)
		return settledSkipped
	}
	return settledDeclined
}

// recordReplay moves a plan past a period whose order number was already paid, charging and
// notifying nothing.
func (s *Service) recordReplay(ctx context.Context, a *store.AutoCharge, now time.Time) settled {
	err := s.DB.Write(ctx, func(tx *store.Tx) error {
		cur := *a
		s.advance(&cur, now)
		return save(tx, a, &cur)
	})
	if err != nil && !errors.Is(err, errStale) {
		s.Log.Warn("auto-charge replay not recorded", "acid", a.Acid, "period", a.NextDate, "err", err)
	}
	return settledSkipped
}
