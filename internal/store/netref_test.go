package store_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"kessai/internal/store"
)

// A real processor's reference is found through the partial index (migration 0190); the sandbox
// simulator's references are not indexed and not looked up.
func TestPaymentByNetRefUsesTheIndex(t *testing.T) {
	db, _ := open(t)
	ctx := context.Background()
	if err := db.CreateStore(ctx, store.NewStore("123456", "A")); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	for _, p := range []struct{ gid, ref string }{{"g1", "pi_3Abc"}, {"g2", "SBX0123456789abcdef"}} {
		if err := db.Write(ctx, func(tx *store.Tx) error {
			return tx.InsertPayment(&store.Payment{Gid: p.gid, AID: "123456", Cod: p.gid, Job: "CAPTURE", Status: store.StatusCaptured, Rst: "1",
				Am: 100, Ta: 100, NetRef: p.ref, AcceptedAt: now, CreatedAt: now, UpdatedAt: now})
		}); err != nil {
			t.Fatal(err)
		}
	}
	if p, err := db.PaymentByNetRef(ctx, "pi_3Abc"); err != nil || p.Gid != "g1" {
		t.Fatalf("a processor's reference: %v %v", p, err)
	}
	if db.Dialect != store.SQLite {
		return
	}
	rows, err := db.Query(ctx, `EXPLAIN QUERY PLAN SELECT gid FROM payments WHERE net_ref = ? AND net_ref <> '' AND net_ref NOT LIKE 'SBX%'`, "pi_3Abc")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var plan []string
	for rows.Next() {
		var id, parent, unused int
		var detail string
		rows.Scan(&id, &parent, &unused, &detail)
		plan = append(plan, detail)
	}
	if p := strings.Join(plan, "; "); !strings.Contains(p, "payments_net_ref") {
		t.Fatalf("the look-up does not use the index: %s", p)
	}
}
