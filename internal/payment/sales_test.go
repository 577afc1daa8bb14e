package payment

import (
	"context"
	"testing"
	"time"

	"kessai/internal/store"
)

// TestSalesClaimsFirst: a SALES claims its payment before anything else and reads it only when
// the claim took nothing; a refused amount gives the claim back, so the right SALES then succeeds;
// the answers name the reason (ER053 unknown, ER032 not authorised or amount too large).
func TestSalesClaimsFirst(t *testing.T) {
	ctx := context.Background()
	s, db, st := sandboxService(t, "130004")
	res, err := s.Charge(ctx, &ChargeRequest{Store: st, Job: "AUTH", Cod: "sa-1", Am: 1000, Tx: 100, Md: "10", Source: "gateway",
		Card: &CardInput{PAN: "4111111111111111", Exp: "4012", CVV: "123"}, AcceptedAt: time.Now()})
	if err != nil || res.P.Status != store.StatusAuthorized {
		t.Fatalf("auth: %v %+v", err, res)
	}
	gid := res.P.Gid

	if _, err := s.Sales(ctx, st, "999999999999", 0, "test"); CodeOf(err) != "ER053" {
		t.Fatalf("unknown payment: %v, want ER053", err)
	}
	if _, err := s.Sales(ctx, st, gid, 1101, "test"); CodeOf(err) != "ER032" {
		t.Fatalf("amount above the authorised: %v, want ER032", err)
	}
	p, err := s.Sales(ctx, st, gid, 0, "test")
	if err != nil || p.Status != store.StatusCaptured || p.Captured != 1100 {
		t.Fatalf("sales after a refused amount: %v %+v (the refused one must give its claim back)", err, p)
	}
	if got, err := db.GetPayment(ctx, st.AID, gid); err != nil || got.Status != store.StatusCaptured || got.Captured != 1100 {
		t.Fatalf("recorded: %v %+v", err, got)
	}
	if _, err := s.Sales(ctx, st, gid, 0, "test"); CodeOf(err) != "ER032" {
		t.Fatalf("second sales: %v, want ER032 (captured, not authorised)", err)
	}
}
