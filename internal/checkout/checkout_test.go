package checkout_test

import (
	"context"
	"testing"
	"time"

	"kessai/internal/checkout"
	"kessai/internal/clock"
	"kessai/internal/store"
	"kessai/internal/testenv"
)

// TestLifecycle: an order signed into a page is stored by its first claim; a second claim of the
// same order loses; release reopens it with the reason; a non-card issue makes it pending, and its
// state then follows the slip. Runs on SQLite, and on PostgreSQL with KESSAI_TEST_PG.
func TestLifecycle(t *testing.T) {
	ctx := context.Background()
	db, err := store.Open(ctx, testenv.StoreConfig(t))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	now := time.Date(2026, 3, 10, 10, 0, 0, 0, time.UTC)
	c := &checkout.Orders{DB: db, Clock: clock.NewFixed(now)}
	o := &store.LinkOrder{ID: "order-1", AID: "130001", Jb: "CAPTURE", Am: 100, CSRF: "x", Binding: "b", Status: checkout.Open,
		CreatedAt: now, UpdatedAt: now, ExpiresAt: now.Add(30 * time.Minute)}
	if ok, err := c.Claim(ctx, o, false); !ok || err != nil {
		t.Fatalf("first claim: %v %v", ok, err)
	}
	if ok, err := c.Claim(ctx, o, false); ok || err != nil {
		t.Fatalf("second claim of a busy order: %v %v", ok, err)
	}
	if err := c.Release(ctx, o.ID, "ER030"); err != nil {
		t.Fatal(err)
	}
	got, _ := c.Get(ctx, o.ID)
	if got.Status != checkout.Open || got.LastEc != "ER030" || got.Attempts != 1 {
		t.Fatalf("released: %+v", got)
	}
	if ok, _ := c.Claim(ctx, got, true); !ok {
		t.Fatal("claim after release")
	}
	if err := c.Issued(ctx, o.ID, "1000000000000001"); err != nil {
		t.Fatal(err)
	}
	got, _ = c.Get(ctx, o.ID)
	if got.Status != checkout.Pending || got.Gid != "1000000000000001" {
		t.Fatalf("issued: %+v", got)
	}
	if ok, _ := c.Claim(ctx, got, true); ok {
		t.Fatal("a pending order was claimed again")
	}
	err = db.Write(ctx, func(tx *store.Tx) error {
		return tx.InsertSlip(&store.Slip{Gid: got.Gid, AID: "130001", Method: store.MethodCVS, State: store.SlipPaid, PayNo: "1",
			Deadline: now.Add(time.Hour), Billed: 100, CreatedAt: now, UpdatedAt: now})
	})
	if err != nil {
		t.Fatal(err)
	}
	if st, err := c.State(ctx, got); st != store.SlipPaid || err != nil {
		t.Fatalf("state of a pending order whose slip is paid: %q %v", st, err)
	}
	if checkout.Expired(got, now.Add(time.Hour)) {
		t.Fatal("a pending order expired with its page session")
	}
}
