package payment

import (
	"context"
	"errors"
	"time"

	"kessai/internal/acquirer"
	"kessai/internal/store"
	"kessai/internal/vault"
)

// queueVoid records that p's authorisation must be voided at the acquirer (its payment is not
// recorded) and wakes the void worker. When the database cannot take the record (it is what
// failed), the void is tried at once and kept in memory until the database takes it.
func (s *Service) queueVoid(ctx context.Context, aid string, p *store.Payment, reason string) {
	s.queueVoidAt(ctx, aid, p, reason, time.Now())
}

// queueVoidChecked is queueVoid for an authorisation whose payment may be recorded after all (its
// look-up failed): it is voided only by the void worker, which first reads that no payment holds
// it (voidOne), never at once when the database cannot take the record.
func (s *Service) queueVoidChecked(ctx context.Context, aid string, p *store.Payment, reason string) {
	s.queueVoidWhen(ctx, aid, p, reason, time.Now(), false)
}

// queueVoidAt is queueVoid with the first attempt at a given time.
func (s *Service) queueVoidAt(ctx context.Context, aid string, p *store.Payment, reason string, at time.Time) {
	s.queueVoidWhen(ctx, aid, p, reason, at, true)
}

// queueVoidWhen queues a void; now allows voiding at once when the database cannot take the record
// (the caller knows the payment is not recorded).
func (s *Service) queueVoidWhen(ctx context.Context, aid string, p *store.Payment, reason string, at time.Time, now bool) {
	v := &store.Void{AID: aid, Gid: p.Gid, Cod: p.Cod, NetRef: p.NetRef, Reason: reason, NextAt: at, CreatedAt: time.Now()}
	if err := s.DB.QueueVoid(context.WithoutCancel(ctx), v); err != nil {
		var verr error = errors.New("left to the reconciler")
		if _, _, unknown := acquirer.ParseKeyRef(p.NetRef); !unknown && now {
			vctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			verr = s.Acq.Void(vctx, p.NetRef)
			cancel()
		}
		s.Log.Warn("void queued in memory: storage unavailable", "aid", aid, "gid", p.Gid, "reason", reason, "voided_now", verr == nil)
		s.voidMu.Lock()
		s.voidBacklog = append(s.voidBacklog, v)
		s.voidMu.Unlock()
	}
	select {
	case s.voidWake <- struct{}{}:
	default:
	}
}

// RunVoids voids queued authorisations until ctx ends: each is claimed with a lease (one instance
// at a time), sent to the acquirer, and marked done once acknowledged, else retried with backoff.
func (s *Service) RunVoids(ctx context.Context) {
	t := time.NewTicker(500 * time.Millisecond)
	defer t.Stop()
	// held: voids this worker claimed whose outcome it could not record (the database went away
	// mid-way), or whose claim's outcome is unknown. They are tried again at every tick, each
	// first renewing its claim (retryHeld), for as long as the database stays away.
	var held []heldVoid
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-s.voidWake:
		}
		s.flushVoidBacklog(ctx)
		held = s.retryHeld(ctx, held)
		room := min(voidBatch, voidHeldMax-len(held))
		if room <= 0 {
			continue // claiming more than it can record gains nothing: they wait in the database
		}
		vs, err := s.voidDB.ClaimVoids(ctx, s.voidClock.Now(), room, voidLease)
		if errors.Is(err, store.ErrOutcomeUnknown) {
			// the claim may have been committed: hold them unsent, the renewal settles whose they are
			for _, v := range vs {
				held = append(held, heldVoid{v: v})
			}
			continue
		}
		if err != nil {
			continue
		}
		for _, v := range vs {
			if h, ok := s.runVoid(ctx, v); !ok {
				held = append(held, h)
			}
		}
	}
}

const (
	// voidLease is how long a claimed (or renewed) void is this worker's alone.
	voidLease = 30 * time.Second
	// voidBatch is how many voids the worker claims at a tick; voidHeldMax how many it holds at
	// most with their outcome unrecorded (it claims no more until some are recorded).
	voidBatch   = 64
	voidHeldMax = 4 * voidBatch
)

// heldVoid is a claimed void whose outcome is not recorded yet. v.LeaseUntil is the claim's token;
// maybe, when not zero, a lease end a renewal whose outcome is unknown may have written.
type heldVoid struct {
	v     *store.Void
	maybe time.Time
	sent  bool   // the acquirer acknowledged the void (or nothing was to be voided): only the record is left
	msg   string // the failed attempt's error, if any
}

// retryHeld tries the held voids again, each under a renewed claim. A void is sent or recorded
// only once the renewal says the claim is still this worker's — or lapsed with no one else having
// claimed it — and the renewal gives it a whole lease again, so the attempt (at most 10 s) ends
// within it however long the database was away. A void the renewal refuses (another instance
// claimed it, or it is done) is dropped: its holder or its record has it. While the database is
// away (the renewal fails), all are kept for the next tick.
func (s *Service) retryHeld(ctx context.Context, held []heldVoid) []heldVoid {
	var again []heldVoid
	for i, h := range held {
		until, ok, err := s.voidDB.RenewVoidClaim(ctx, h.v.ID, h.v.LeaseUntil, h.maybe, s.voidClock.Now(), voidLease)
		if err != nil {
			if errors.Is(err, store.ErrOutcomeUnknown) {
				held[i].maybe = until
			}
			return append(again, held[i:]...) // the database is still away: one failure a tick is enough
		}
		if !ok {
			s.Log.Info("held void dropped: claimed by another worker or settled meanwhile", "id", h.v.ID, "aid", h.v.AID, "gid", h.v.Gid)
			continue
		}
		h.v.LeaseUntil, h.maybe = until, time.Time{}
		if !h.sent {
			h, ok = s.runVoid(ctx, h.v) // its attempt failed, or was not made (a claim of unknown outcome)
		} else {
			ok = s.recordVoid(ctx, h)
		}
		if !ok {
			again = append(again, h)
		}
	}
	return again
}

// runVoid sends one claimed void and records its outcome: false when the record could not be
// written (the database is away), so the caller holds it and tries again.
func (s *Service) runVoid(ctx context.Context, v *store.Void) (heldVoid, bool) {
	vctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	err := s.voidOne(vctx, v)
	cancel()
	h := heldVoid{v: v, sent: err == nil}
	if err != nil {
		h.msg = vault.Redact(err.Error())
		s.Log.Warn("void failed, will retry", "aid", v.AID, "gid", v.Gid, "attempt", v.Attempts+1, "err", h.msg)
	}
	return h, s.recordVoid(ctx, h)
}

// recordVoid records a void's attempt: done, or due again after a backoff.
func (s *Service) recordVoid(ctx context.Context, h heldVoid) bool {
	now := s.voidClock.Now()
	next := now.Add(min(time.Second<<min(h.v.Attempts, 8), 5*time.Minute))
	if err := s.voidDB.FinishVoid(context.WithoutCancel(ctx), h.v.ID, h.sent, now, next, h.msg); err != nil {
		s.Log.Warn("void record failed", "id", h.v.ID, "err", err)
		return false
	}
	return true
}

// voidStore is what the void worker asks of the database: s.DB, or in tests one that goes away.
type voidStore interface {
	ClaimVoids(ctx context.Context, now time.Time, limit int, lease time.Duration) ([]*store.Void, error)
	RenewVoidClaim(ctx context.Context, id int64, token, maybe, now time.Time, lease time.Duration) (time.Time, bool, error)
	FinishVoid(ctx context.Context, id int64, done bool, at, next time.Time, errText string) error
}

func (s *Service) flushVoidBacklog(ctx context.Context) {
	s.voidMu.Lock()
	b := s.voidBacklog
	s.voidBacklog = nil
	s.voidMu.Unlock()
	for i, v := range b {
		if err := s.DB.QueueVoid(ctx, v); err != nil {
			s.voidMu.Lock()
			s.voidBacklog = append(s.voidBacklog, b[i:]...)
			s.voidMu.Unlock()
			return
		}
	}
}

// VoidBacklog is how many voids wait in memory for the database.
func (s *Service) VoidBacklog() int {
	s.voidMu.Lock()
	defer s.voidMu.Unlock()
	return len(s.voidBacklog)
}

// followLease bounds how long a follow-up holds its payment if its instance dies mid-way.
const followLease = 30 * time.Second

// claim takes payment p (in state from) for one follow-up before the network is called, so of
// two racing follow-ups (SALES and CANCEL) only one reaches the network; the other is refused
// with failCode and leaves no network effect behind.
func (s *Service) claim(ctx context.Context, p *store.Payment, from, failCode string) error {
	now := time.Now()
	ok, err := s.DB.ClaimFollowUp(ctx, p.AID, p.Gid, from, now, now.Add(followLease))
	if err != nil {
		return unavailable(err)
	}
	if !ok {
		return Errf(failCode, "payment %s is being changed by another request, or changed meanwhile", p.Gid)
	}
	return nil
}

func (s *Service) release(ctx context.Context, p *store.Payment) {
	if err := s.DB.ReleaseFollowUp(context.WithoutCancel(ctx), p.Gid); err != nil && !errors.Is(err, context.Canceled) {
		s.Log.Warn("follow-up release failed (the claim expires by itself)", "gid", p.Gid, "err", err)
	}
}
