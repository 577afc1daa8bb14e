package payment

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"kessai/internal/acquirer"
	"kessai/internal/store"
)

// ReconcileGrace is how long an outcome-unknown charge is left to the merchant's retry (which
// settles it under the same idempotency key) before the reconciler looks it up and voids it.
var ReconcileGrace = time.Minute

// ResolveWindow is how long a reconciler keeps looking for an outcome-unknown charge the processor
// does not show (its search index lags); after it, a charge never found is taken as never made.
var ResolveWindow = 10 * time.Minute

// real reports whether the acquirer is a real processor (anything but the sandbox simulator).
func (s *Service) real() bool { return s.Acq.Name() != "sandbox" }

type acqCached struct {
	a  store.StoreAcquirer
	at time.Time
}

var acqCache sync.Map // aid -> acqCached (per process; settings reach charges within a second)

// storeAcquirer reads a store's processor setting (cached for a second).
func (s *Service) storeAcquirer(ctx context.Context, aid string) (store.StoreAcquirer, error) {
	if v, ok := acqCache.Load(aid); ok && time.Since(v.(acqCached).at) < time.Second {
		return v.(acqCached).a, nil
	}
	a, err := s.DB.GetStoreAcquirer(ctx, aid)
	if err != nil {
		return a, err
	}
	acqCache.Store(aid, acqCached{a: a, at: time.Now()})
	return a, nil
}

// storedAtProcessor is the processor's stored card of a vault card ("" in the sandbox or when the
// card was never kept there: it is then charged from the vault's number).
func (s *Service) storedAtProcessor(ctx context.Context, aid string, cardID int64) (string, error) {
	if !s.real() {
		return "", nil
	}
	return s.DB.CardProcessorRef(ctx, aid, cardID)
}

// processorRequest fills what a real processor needs on a request: the store's account there, a
// stored card to charge off-session, whether to keep a new card, where 3-D Secure comes back to.
func (s *Service) processorRequest(ctx context.Context, aid string, areq *acquirer.Request, r *ChargeRequest, stored string) error {
	if !s.real() {
		return nil
	}
	a, err := s.storeAcquirer(ctx, aid)
	if err != nil {
		return unavailable(err)
	}
	if a.Acquirer != "" && a.Acquirer != s.Acq.Name() {
		return Errf("ER042", "store %s is set to the %s acquirer, which this server does not run (%s)", aid, a.Acquirer, s.Acq.Name())
	}
	areq.Account = a.Account
	areq.Stored = stored
	areq.OffSession = stored != ""
	areq.Keep = r.Card != nil && r.keepsCard() || r.Returned != ""
	areq.ReturnURL = r.ReturnURL
	return nil
}

// queueUnknown leaves a charge whose answer was lost to the reconciler: after ReconcileGrace it
// is looked up by its idempotency key and voided unless a payment records it by then.
func (s *Service) queueUnknown(ctx context.Context, aid string, p *store.Payment, areq acquirer.Request) {
	q := *p
	q.NetRef = acquirer.KeyRef(areq.Account, areq.Key)
	s.queueVoidAt(ctx, aid, &q, "unknown-outcome", time.Now().Add(ReconcileGrace))
	s.Log.Warn("charge outcome unknown: answered ER990, reconciler queued", "aid", aid, "gid", p.Gid)
}

// followErr maps a follow-up's acquirer error to its wire code: ER990 when the processor's answer
// was lost (the same job again gets the truth, under the same key), else ER042.
func followErr(op string, err error) error {
	if errors.Is(err, acquirer.ErrOutcomeUnknown) {
		return Errf(CodeOutcomeUnknown, "%s: the processor's answer was lost: send the same job again for the true result", op)
	}
	return Errf("ER042", "%s: %v", op, err)
}

// refundKey names one refund of p: the amount refunded before it sets it apart from the next one,
// and stays the same on every retry of it (the payment does not move until it succeeds).
func refundKey(ctx context.Context, p *store.Payment) context.Context {
	return acquirer.WithOpKey(ctx, fmt.Sprintf("%s/refund/%d", p.Gid, p.Refunded))
}

// voidOne performs one queued void. An outcome-unknown charge (a key reference) is first looked up
// at the processor: not there (after ResolveWindow) → nothing to void. Each charge found under the
// key is then claimed, against the merchant's retry of the same cod that may be recording it at
// this moment (Charge claims the same reference before it records it): the first claim holds, on
// one instance or several sharing the database. A charge the retry claimed (or that a payment
// already records) is left alone; one the reconciler claimed is voided — and the retry, having
// lost, answers ER990 rather than record it. So each charge ends recorded by one payment or voided,
// never both, never neither.
// errVoidStorage marks a void attempt that failed in Kessai's own database (reading whether a
// payment holds the authorisation, claiming it), not at the network: it is tried again after a
// second, without the growing backoff meant for a network that refuses (recordVoid). Crash
// recovery answers some queries and not others; each such failure used to double the wait, and a
// void could then wait tens of seconds after the database was back.
var errVoidStorage = errors.New("void check: storage unavailable")

func (s *Service) voidOne(ctx context.Context, v *store.Void) error {
	if _, _, ok := acquirer.ParseKeyRef(v.NetRef); !ok {
		// an authorisation a recorded payment holds is never voided: a void is queued when its
		// payment is known not to be recorded, or (lost-race-unread) could not be read
		p, err := s.DB.GetPayment(ctx, v.AID, v.Gid)
		switch {
		case err == nil && p.Rst == "1" && p.NetRef == v.NetRef:
			s.Log.Warn("authorisation queued for a void is recorded: nothing to void", "aid", v.AID, "gid", v.Gid, "reason", v.Reason)
			return nil
		case err != nil && !errors.Is(err, store.ErrNotFound):
			return fmt.Errorf("%w: %w", errVoidStorage, err)
		}
		return s.Acq.Void(ctx, v.NetRef)
	}
	res, ok := s.Acq.(acquirer.Resolver)
	if !ok {
		return nil // this acquirer never reports an unknown outcome
	}
	refs, err := res.Resolve(ctx, v.NetRef)
	if err != nil {
		return err
	}
	if len(refs) == 0 {
		if time.Since(v.CreatedAt) < ResolveWindow {
			return errors.New("not found at the processor yet: looking again")
		}
		return nil
	}
	for _, ref := range refs {
		if err := s.settleUnknown(ctx, v, ref); err != nil {
			return err
		}
	}
	return nil
}

// settleUnknown claims one charge found under an outcome-unknown key and voids it unless a
// payment records it (or is about to: its claim came first).
func (s *Service) settleUnknown(ctx context.Context, v *store.Void, ref string) error {
	if p, err := s.DB.PaymentByNetRef(ctx, ref); err == nil && p.Rst == "1" {
		s.Log.Info("outcome-unknown charge is recorded: nothing to void", "aid", v.AID, "gid", p.Gid)
		return nil
	} else if err != nil && !errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("%w: %w", errVoidStorage, err)
	}
	won := ""
	if err := s.DB.Write(ctx, func(tx *store.Tx) error {
		var err error
		won, err = tx.ClaimUnknown(ref, store.ClaimVoid, v.Gid, time.Now())
		return err
	}); err != nil {
		return fmt.Errorf("%w: %w", errVoidStorage, err)
	}
	if won != store.ClaimVoid {
		s.Log.Info("outcome-unknown charge claimed by the merchant's retry: nothing to void", "aid", v.AID, "gid", v.Gid)
		return nil
	}
	s.Log.Warn("outcome-unknown charge not recorded: voiding it", "aid", v.AID, "gid", v.Gid)
	return s.Acq.Void(acquirer.WithOpKey(ctx, v.Gid+"/reconcile"), ref)
}

// stateRank orders payment states: an event never moves a payment to a lower rank.
var stateRank = map[string]int{
	store.StatusAuthorized:        1,
	store.StatusCaptured:          2,
	store.StatusPartiallyRefunded: 3,
	store.StatusRefunded:          4,
	store.StatusVoided:            4,
}

// ApplyEvent applies a processor's event (a webhook) once: a duplicate ID changes nothing, and a
// payment only ever moves forward (captured → partially refunded → refunded; authorized →
// voided), so events applied in any order end in the same state. It reports what it did.
func (s *Service) ApplyEvent(ctx context.Context, ev acquirer.Event) (string, error) {
	var p *store.Payment
	if ev.Ref != "" && ev.State != "" {
		var err error
		p, err = s.DB.PaymentByNetRef(ctx, ev.Ref)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return "", unavailable(err)
		}
	}
	now := s.Clock.Now()
	outcome := "ignored"
	err := s.DB.Write(ctx, func(tx *store.Tx) error {
		outcome = "ignored"
		if p == nil {
			if ev.State != "" {
				outcome = "no-payment"
			}
		} else {
			cur, err := tx.GetPayment(p.AID, p.Gid)
			if err != nil {
				return err
			}
			to, captured, refunded := ev.State, max(cur.Captured, ev.Captured), max(cur.Refunded, ev.Refunded)
			if to == store.StatusCaptured && refunded > 0 {
				to = store.StatusPartiallyRefunded
			}
			if to == store.StatusPartiallyRefunded && captured > 0 && refunded >= captured {
				to = store.StatusRefunded
			}
			forward := stateRank[to] > stateRank[cur.Status] ||
				(to == cur.Status && (captured > cur.Captured || refunded > cur.Refunded))
			if cur.Status == store.StatusVoided || cur.Status == store.StatusRefunded || stateRank[cur.Status] == 0 || !forward {
				outcome = "not-forward"
			} else {
				ok, err := tx.SetPaymentState(cur.Gid, cur.Status, to, captured, refunded, now)
				if err != nil {
					return err
				}
				if !ok {
					return errors.New("payment changed meanwhile")
				}
				if err := tx.AddEvent(store.Event{Gid: cur.Gid, At: now, Kind: "PROCESSOR", From: cur.Status, To: to,
					Amount: refunded - cur.Refunded + captured - cur.Captured, Actor: s.Acq.Name() + ":" + ev.Kind}); err != nil {
					return err
				}
				outcome = "applied"
			}
		}
		fresh, err := tx.RecordProcessorEvent(ev.ID, ev.Kind, outcome, now)
		if err != nil {
			return err
		}
		if !fresh {
			return errDuplicate
		}
		return nil
	})
	if errors.Is(err, errDuplicate) {
		return "duplicate", nil
	}
	if err != nil {
		return "", unavailable(err)
	}
	return outcome, nil
}

var errDuplicate = errors.New("duplicate event")

// StoreAccount is a store's account at the server's processor for calls made outside the card
// jobs (convenience-store and bank slips): "" in the sandbox or for the platform's own account;
// ER042 when the store is set to an acquirer this server does not run (never issued elsewhere).
func (s *Service) StoreAccount(ctx context.Context, aid string) (string, error) {
	if !s.real() {
		return "", nil
	}
	a, err := s.storeAcquirer(ctx, aid)
	if err != nil {
		return "", unavailable(err)
	}
	if a.Acquirer != "" && a.Acquirer != s.Acq.Name() {
		return "", Errf("ER042", "store %s is set to the %s acquirer, which this server does not run (%s)", aid, a.Acquirer, s.Acq.Name())
	}
	return a.Account, nil
}
