package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"kessai/internal/acquirer"
	"kessai/internal/acquirer/stripeacq"
	"kessai/internal/maintenance"
	maint "kessai/internal/schedule"
)

// AcquirerConfig chooses the processor behind the gateway (kessai serve --acquirer).
type AcquirerConfig struct {
	// Name is "sandbox" (the default: the card-network simulator) or "stripe".
	Name   string
	Stripe stripeacq.Config
	// WebhookSecret is the signing secret of POST /webhooks/stripe (none: the endpoint refuses
	// every event).
	WebhookSecret string
	// HealthFailures opens an emergency maintenance window of HealthWindow by itself after that
	// many consecutive operations without an answer from the processor (0: never; the default).
	HealthFailures int
	HealthWindow   time.Duration
}

// newAcquirer builds the configured processor, wrapped in its health watch.
func (s *Server) newAcquirer(cfg AcquirerConfig) (acquirer.Acquirer, error) {
	var a acquirer.Acquirer
	switch cfg.Name {
	case "", "sandbox":
		sb := acquirer.Sandbox{Ledger: acquirer.NewLedger()}
		s.Ledger = sb.Ledger
		a = sb
	case "stripe":
		cfg.Stripe.Log = s.Log
		st, err := stripeacq.New(cfg.Stripe)
		if err != nil {
			return nil, err
		}
		a = st
	default:
		return nil, fmt.Errorf("unknown acquirer %q: want sandbox or stripe", cfg.Name)
	}
	if cfg.HealthFailures <= 0 {
		return a, nil
	}
	if cfg.HealthWindow <= 0 {
		cfg.HealthWindow = 30 * time.Minute
	}
	n := cfg.HealthFailures
	return &acquirer.Watch{Acquirer: a, Threshold: int64(n), Trip: func() { s.acquirerDown(n, cfg.HealthWindow) }}, nil
}

// acquirerDown opens an emergency maintenance window for every operation after n consecutive
// processor failures, unless one is active already; an operator ends it (kessai maintenance end,
// or the operator console) once the processor answers again.
func (s *Server) acquirerDown(n int, d time.Duration) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	now := s.Cfg.Clock.Now()
	if w := s.Maint.Active(now); w != nil && w.Kind == maintenance.KindEmergency {
		return
	}
	scope, _ := maintenance.ParseScope("all")
	// the public message says what shoppers and merchants need; which processor and how many
	// failures is the operators' internal note
	text := maintenance.ChangeText{
		MessageJA: "決済代行会社との通信障害のため、決済を一時停止しています。復旧までしばらくお待ちください。",
		MessageEN: "Payments are paused: the payment processor is not answering. Please wait for the service to recover.",
		Note:      fmt.Sprintf("acquirer health: %s did not answer %d operations in a row", s.Pay.Acq.Name(), n),
	}
	w, err := maint.StartEmergency(ctx, s.DB, now, d, scope, text, "kessai:acquirer-health")
	if err != nil {
		s.Log.Error("acquirer health: emergency window not opened", "err", err)
		return
	}
	s.reloadSchedule(ctx)
	s.Log.Error("acquirer health: emergency maintenance window opened; an operator ends it", "window", w.ID, "failures", n, "acquirer", s.Pay.Acq.Name())
}

// registerWebhooks mounts POST /webhooks/stripe: the signature is verified with the signing
// secret, the event applied once (deduplicated by ID) and only ever forward.
func (s *Server) registerWebhooks() {
	if s.Pay.Acq.Name() != "stripe" {
		return
	}
	s.mux.HandleFunc("POST /webhooks/stripe", func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 1<<20))
		if err != nil {
			http.Error(w, "body too large", http.StatusRequestEntityTooLarge)
			return
		}
		if s.Cfg.Acquirer.WebhookSecret == "" {
			http.Error(w, "no webhook signing secret configured", http.StatusServiceUnavailable)
			return
		}
		ev, err := stripeacq.ParseEvent(body, r.Header.Get("Stripe-Signature"), s.Cfg.Acquirer.WebhookSecret)
		if errors.Is(err, stripeacq.ErrSignature) {
			s.Log.Warn("stripe webhook refused: signature", "err", err)
			http.Error(w, "signature does not verify", http.StatusBadRequest)
			return
		}
		if err != nil {
			http.Error(w, "malformed event", http.StatusBadRequest)
			return
		}
		var outcome string
		if ev.Method != "" {
			// a convenience-store or bank-transfer payment: its slip moves (noncard)
			outcome, err = s.NonCard.ApplyProcessorEvent(r.Context(), ev)
		} else {
			outcome, err = s.Pay.ApplyEvent(r.Context(), ev)
		}
		if err != nil {
			// not recorded: Stripe delivers it again
			http.Error(w, "storage unavailable", http.StatusServiceUnavailable)
			return
		}
		s.Log.Info("stripe webhook", "event", ev.ID, "type", ev.Kind, "outcome", outcome)
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, "{\"received\":true,\"outcome\":%q}\n", outcome)
	})
}
