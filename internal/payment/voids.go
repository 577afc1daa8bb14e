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
			if verr == nil {
				// acknowledged: the record catches up as done, so the worker does not send it
				// again — after an outage there were thousands of these ahead of the voids still
				// owed, and the worker took tens of seconds to reach those
				v.Status, v.DoneAt = "done", time.Now()
			}
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
	// mid-way). It still holds their claims, so it tries them again at every tick while the claim
	// is young, instead of leaving them until the lease runs out.
	var held []heldVoid
	var claimWarned time.Time
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-s.voidWake:
		}
		s.flushVoidBacklog(ctx)
		var again []heldVoid
		for _, h := range held {
			if time.Since(h.claimed) > voidRetryWhileClaimed {
				continue // the claim is about to lapse: whoever claims it next tries it
			}
			if !s.runVoid(ctx, h.v) {
				again = append(again, h)
			}
		}
		held = again
		vs, err := s.DB.ClaimVoids(ctx, time.Now(), voidBatch, voidLease)
		if err != nil {
			if time.Since(claimWarned) > 5*time.Second {
				s.Log.Warn("void worker: claiming voids failed (retried every tick)", "err", vault.Redact(err.Error()))
				claimWarned = time.Now()
			}
			continue
		}
		if len(vs) > 0 || len(held) > 0 {
			s.Log.Debug("void worker: claimed", "voids", len(vs), "held", len(held), "backlog", s.VoidBacklog())
		}
		claimed := time.Now()
		for _, v := range vs {
			if !s.runVoid(ctx, v) {
				held = append(held, heldVoid{v, claimed})
			}
		}
		if len(vs) == voidBatch {
			// a full batch: more may be due, so claim again at once instead of at the next tick
			// (after an outage a backlog of voids drained at 128 a second)
			select {
			case s.voidWake <- struct{}{}:
			default:
			}
		}
	}
}

// voidLease is how long a claimed void is this worker's alone; voidRetryWhileClaimed how long,
// of that, the worker tries again a void whose outcome it could not record (leaving time for the
// last try, at most 10 s, to end within the lease).
const (
	voidBatch             = 64 // voids claimed at a time
	voidLease             = 30 * time.Second
	voidRetryWhileClaimed = 15 * time.Second
)

type heldVoid struct {
	v       *store.Void
	claimed time.Time
}

// runVoid sends one claimed void and records its outcome: false when the record could not be
// written (the database is away), so the caller tries it again while it holds the claim.
func (s *Service) runVoid(ctx context.Context, v *store.Void) bool {
	vctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	err := s.voidOne(vctx, v)
	cancel()
	now := time.Now()
	delay := min(time.Second<<min(v.Attempts, 8), 5*time.Minute)
	if errors.Is(err, errVoidStorage) {
		delay = time.Second // our database failed, not the network: no backoff meant for the network
	}
	next := now.Add(delay)
	msg := ""
	if err != nil {
		msg = vault.Redact(err.Error())
		s.Log.Warn("void failed, will retry", "aid", v.AID, "gid", v.Gid, "attempt", v.Attempts+1, "err", msg)
	}
	if ferr := s.DB.FinishVoid(context.WithoutCancel(ctx), v.ID, err == nil, now, next, msg); ferr != nil {
		s.Log.Warn("void record failed", "id", v.ID, "err", ferr)
		return false
	}
	return true
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
