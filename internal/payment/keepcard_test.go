package payment

import (
	"context"
	"testing"
	"time"

	"kessai/internal/store"
)

// TestCardKeptOnlyWhenItCanBeChargedAgain: a plain payment (no e-mail and phone, no plan) keeps
// its masked number on the payment and no card at rest; a customer's payment (e-mail and phone)
// keeps its card, encrypted, and one-touch finds it; a declined card is never kept.
func TestCardKeptOnlyWhenItCanBeChargedAgain(t *testing.T) {
	ctx := context.Background()
	s, db, st := sandboxService(t, "130003")
	cards := func() int {
		n := 0
		if err := db.AllCards(ctx, func(*store.Card) error { n++; return nil }); err != nil {
			t.Fatal(err)
		}
		return n
	}
	charge := func(cod, pan, em, pn string) *store.Payment {
		t.Helper()
		res, err := s.Charge(ctx, &ChargeRequest{Store: st, Job: "CAPTURE", Cod: cod, Am: 1000, Md: "10", Source: "gateway", Em: em, Pn: pn,
			Card: &CardInput{PAN: pan, Exp: "4012", CVV: "123"}, AcceptedAt: time.Now()})
		if err != nil {
			t.Fatalf("charge %s: %v", cod, err)
		}
		return res.P
	}

	p := charge("plain-1", "4111111111111111", "", "")
	if p.Rst != "1" || p.CardID != 0 || p.First6 != "411111" || p.Last4 != "1111" || p.Brand == "" {
		t.Fatalf("plain payment: rst=%s card_id=%d first6=%s last4=%s brand=%s", p.Rst, p.CardID, p.First6, p.Last4, p.Brand)
	}
	// an e-mail alone is not a one-touch customer
	if p := charge("plain-2", "4111111111111111", "a@example.jp", ""); p.CardID != 0 {
		t.Fatalf("payment with an e-mail only kept card %d", p.CardID)
	}
	if n := cards(); n != 0 {
		t.Fatalf("%d cards at rest after plain payments, want 0", n)
	}

	p = charge("cust-1", "4111111111111111", "taro@example.jp", "0312345678")
	if p.Rst != "1" || p.CardID == 0 {
		t.Fatalf("customer payment: rst=%s card_id=%d, want a kept card", p.Rst, p.CardID)
	}
	if n := cards(); n != 1 {
		t.Fatalf("%d cards at rest after a customer's payment, want 1", n)
	}
	c, err := db.CardByCustomer(ctx, st.AID, "taro@example.jp", "0312345678")
	if err != nil || c.ID != p.CardID {
		t.Fatalf("one-touch lookup: %v %+v, want card %d", err, c, p.CardID)
	}
}
