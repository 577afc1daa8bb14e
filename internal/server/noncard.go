package server

import (
	"context"
	"net/http"
	"time"

	"kessai/internal/acquirer"
	"kessai/internal/maintenance"
	"kessai/internal/noncard"
	"kessai/internal/store"
	"kessai/internal/web/gateway"
	"kessai/internal/web/link"
)

// GateMethod is Gate for a payment method other than cards: a window scoped method:cvs refuses
// convenience-store payments only (and a window without a method scope refuses every method).
func (s *Server) GateMethod(t time.Time, op maintenance.Op, method string, r *http.Request) *maintenance.Window {
	w := s.Maint.Refused(t, op, method, "")
	if w == nil || len(w.Scope.Brands) > 0 {
		return nil // a window limited to card brands leaves other methods alone
	}
	if r != nil && len(s.allowOps) > 0 {
		ip := s.RemoteIP(r)
		for _, p := range s.allowOps {
			if p.Contains(ip) {
				return nil
			}
		}
	}
	return w
}

// registerNonCard mounts the convenience-store and bank-transfer endpoints (wire.md §8).
func (s *Server) registerNonCard() {
	s.NonCard = &noncard.Service{DB: s.DB, Pay: s.Pay, Clock: s.Cfg.Clock, Maint: s.Maint, Sandbox: s.Sandbox, Log: s.Log}
	if n, ok := s.Pay.Acq.(acquirer.SlipNetwork); ok {
		s.NonCard.Net = n // the server's processor issues the slips too (Stripe: konbini, JP bank transfer)
	}
	nc := &gateway.NonCard{H: s.gateway, Svc: s.NonCard, Gate: s.GateMethod}
	nc.Register(s.mux)
}

// startNonCard runs the deadline worker: slips whose deadline passed expire, and the sandbox's
// test values settle by themselves.
func (s *Server) startNonCard(ctx context.Context) {
	s.workers.Add(1)
	go func() { defer s.workers.Done(); s.NonCard.RunDue(ctx, time.Second) }()
}

// registerNonCardPages mounts the hosted convenience-store and bank-transfer pages on h; the
// shopper's e-mail goes through the mail outbox (sent when SMTP is configured).
func (s *Server) registerNonCardPages(h *link.Handler) {
	h.RegisterNonCard(s.mux, &link.NonCardDeps{Svc: s.NonCard, Gate: s.GateMethod,
		Mail: func(ctx context.Context, e *store.Email) error {
			now := s.Cfg.Clock.Now()
			e.Status, e.NextAt, e.CreatedAt = "pending", now, now
			_, err := s.DB.QueueEmail(ctx, e)
			return err
		}})
}
