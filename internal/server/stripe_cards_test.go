package server_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"sync"
	"testing"
	"time"

	"kessai/internal/acquirer/stripeacq/stripetest"
	"kessai/internal/payment"
)

// noCardInKeys fails when a key or metadata Stripe saw carries a card number, in clear or
// hashed without a key.
func noCardInKeys(t *testing.T, px *stripetest.Proxy, pans ...string) {
	t.Helper()
	for _, c := range px.Calls() {
		seen := c.Key + " " + c.Form.Get("metadata[kessai_key]") + " " + c.Form.Get("metadata[kessai_attempt]")
		for _, pan := range pans {
			h := sha256.Sum256([]byte(pan))
			if strings.Contains(seen, pan) || strings.Contains(seen, hex.EncodeToString(h[:])[:16]) {
				t.Fatalf("a key Stripe sees carries card %s…: %q", pan[:6], seen)
			}
		}
	}
}

// intentCreates are the POSTs creating intents whose request key names cod.
func intentCreates(px *stripetest.Proxy, cod string) (out []stripetest.Call) {
	for _, c := range px.Calls() {
		if c.Method == "POST" && c.Path == "/v1/payment_intents" && strings.HasPrefix(c.Form.Get("metadata[kessai_key]"), stripeID+"/"+cod+"/") {
			out = append(out, c)
		}
	}
	return out
}

// The shopper's card is declined and the same order (same cod) is paid with another card,
// server to server: the second card is charged — not the first card's decline replayed, nor
// Stripe's idempotency_error for a key used again with other parameters (ER042). One charge,
// recorded; the two cards' requests carry different keys, none of which carries a card number.
func TestStripeAnotherCardSameCodServerToServer(t *testing.T) {
	px := stripetest.Start(t, stripetest.MockURL(t))
	srv, _ := stripeServer(t, px, 0)
	d := charge(t, srv.URL, "card-1", "4000000000000002", "CAPTURE")
	if len(d) < 4 || d[1] != "2" || d[3] != "ER030" {
		t.Fatalf("card A: %v, want a decline ER030", d)
	}
	ok := charge(t, srv.URL, "card-1", "4242424242424242", "CAPTURE")
	if len(ok) < 2 || ok[1] != "1" {
		t.Fatalf("card B for the same cod after A's decline: %v, want success", ok)
	}
	ch := 0
	for _, in := range px.Intents() {
		if in.Charged() {
			ch++
			p, err := srv.DB.PaymentByNetRef(context.Background(), in.ID)
			if err != nil || p.Rst != "1" || p.Gid != ok[0] || p.Last4 != "4242" {
				t.Fatalf("the charge %s is not recorded by card B's payment: %+v %v", in.ID, p, err)
			}
		}
	}
	if ch != 1 {
		t.Fatalf("charges at Stripe: %d, want 1", ch)
	}
	pis := intentCreates(px, "card-1")
	if len(pis) != 2 || pis[0].Key == pis[1].Key || pis[0].Form.Get("metadata[kessai_key]") == pis[1].Form.Get("metadata[kessai_key]") {
		t.Fatalf("two cards, want two requests under two keys: %+v", pis)
	}
	for _, c := range px.Calls() {
		if c.Method == "POST" && c.Status == 400 {
			t.Errorf("Stripe refused %s (%s)", c.Path, c.Key)
		}
	}
	// and again with card B (the merchant did not get the answer): the same result, nothing new
	n := len(px.Intents())
	if again := charge(t, srv.URL, "card-1", "4242424242424242", "CAPTURE"); again[0] != ok[0] || len(px.Intents()) != n {
		t.Fatalf("the same cod and card again: %v (first %v), intents %d → %d", again, ok, n, len(px.Intents()))
	}
	noCardInKeys(t, px, "4000000000000002", "4242424242424242")
}

// The same card retried after its answer was lost (ER990): the retry goes out under the very same
// Idempotency-Key and gets the one charge the first attempt made.
func TestStripeSameCardRetriedKeepsTheKey(t *testing.T) {
	old := payment.ReconcileGrace
	t.Cleanup(func() { payment.ReconcileGrace = old })
	payment.ReconcileGrace = time.Hour
	px := stripetest.Start(t, stripetest.MockURL(t))
	srv, _ := stripeServer(t, px, 0)
	var mu sync.Mutex
	down := true
	px.Inject = func(c stripetest.Call) stripetest.Fault {
		mu.Lock()
		defer mu.Unlock()
		switch {
		case down && c.Path == "/v1/payment_intents/search":
			return "500-before"
		case down && c.Method == "POST" && c.Path == "/v1/payment_intents":
			return "drop"
		}
		return ""
	}
	if r := charge(t, srv.URL, "same-1", "4242424242424242", "CAPTURE"); strings.Join(r, ",") != "ER:ER990" {
		t.Fatalf("every answer cut: %v, want ER:ER990", r)
	}
	mu.Lock()
	down = false
	mu.Unlock()
	r := charge(t, srv.URL, "same-1", "4242424242424242", "CAPTURE")
	if len(r) < 2 || r[1] != "1" || charged(px) != 1 || len(px.Intents()) != 1 {
		t.Fatalf("retry: %v, charges %d, intents %d", r, charged(px), len(px.Intents()))
	}
	pis := intentCreates(px, "same-1")
	if len(pis) < 2 {
		t.Fatalf("calls: %d", len(pis))
	}
	for _, c := range pis {
		if c.Key != pis[0].Key {
			t.Fatalf("the same card's retry went out under another key: %q, %q", pis[0].Key, c.Key)
		}
	}
	if !pis[len(pis)-1].Replayed {
		t.Fatalf("the retry was not Stripe's replay of the first charge")
	}
}

// Never charge twice: card A's answer is lost (ER990, queued for the reconciler), then the shopper
// pays the same order with card B, which is recorded. The reconciler still finds card A's charge
// (by card A's key) and voids it: one charge held, the one recorded.
func TestStripeReconcilerVoidsFirstCardAfterSecondPaid(t *testing.T) {
	old := payment.ReconcileGrace
	t.Cleanup(func() { payment.ReconcileGrace = old })
	payment.ReconcileGrace = time.Hour // the reconciler runs when reconcileNow says
	px := stripetest.Start(t, stripetest.MockURL(t))
	srv, _ := stripeServer(t, px, 0)
	var mu sync.Mutex
	down := true
	px.Inject = func(c stripetest.Call) stripetest.Fault {
		mu.Lock()
		defer mu.Unlock()
		switch {
		case down && c.Path == "/v1/payment_intents/search":
			return "500-before"
		case down && c.Method == "POST" && c.Path == "/v1/payment_intents":
			return "drop"
		}
		return ""
	}
	if r := charge(t, srv.URL, "two-1", "5555555555554444", "CAPTURE"); strings.Join(r, ",") != "ER:ER990" {
		t.Fatalf("card A, every answer cut: %v, want ER:ER990", r)
	}
	if len(px.Intents()) != 1 || !px.Intents()[0].Charged() {
		t.Fatalf("card A's charge should exist at Stripe: %+v", px.Intents())
	}
	a := px.Intents()[0]
	mu.Lock()
	down = false
	mu.Unlock()
	r := charge(t, srv.URL, "two-1", "4242424242424242", "CAPTURE")
	if len(r) < 2 || r[1] != "1" {
		t.Fatalf("card B for the same cod: %v", r)
	}
	if charged(px) != 2 {
		t.Fatalf("before the reconciler: %d charges, want card A's and card B's", charged(px))
	}
	reconcileNow(t, srv.DB)
	eventually(t, "the reconciler voids card A's charge", func() bool {
		for _, in := range px.Intents() {
			if in.ID == a.ID {
				return !in.Charged()
			}
		}
		return false
	})
	for _, in := range px.Intents() {
		p, err := srv.DB.PaymentByNetRef(context.Background(), in.ID)
		recorded := err == nil && p.Rst == "1"
		if in.Charged() != recorded {
			t.Errorf("intent %s: charged=%v, recorded=%v", in.ID, in.Charged(), recorded)
		}
		if in.Charged() && p.Gid != r[0] {
			t.Errorf("the charge held is recorded by %s, not card B's payment %s", p.Gid, r[0])
		}
	}
	if charged(px) != 1 {
		t.Fatalf("charges held: %d, want 1", charged(px))
	}
	noCardInKeys(t, px, "5555555555554444", "4242424242424242")
}
