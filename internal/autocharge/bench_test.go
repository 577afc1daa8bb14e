package autocharge_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"kessai/internal/store"
)

// BenchmarkRunner settles b.N due plans in one runner pass on SQLite — each a real charge of a
// stored card through the payment service (vault, sandbox network, group-committed payment, run,
// plan advance and kickback) — and reports charges per second.
//
//	go test -run '^$' -bench Runner -benchtime 20000x ./internal/autocharge/
func BenchmarkRunner(b *testing.B) {
	ctx := context.Background()
	e := newEnv(b, jst(b, "2020-07-01 12:00"))
	card := e.plan(b, e.signUp(b, "bench-card", "4111111111111111", map[string]string{"actp": "4", "acam": "980"})["acid"]).CardID
	now := e.clk.Now()
	for i := 0; i < b.N; i += 1000 {
		err := e.db.Write(ctx, func(tx *store.Tx) error {
			for k := i; k < min(i+1000, b.N); k++ {
				a := &store.AutoCharge{Acid: fmt.Sprintf("B%d", k), AID: "123456", CardID: card, Status: store.ACActive, Cycle: 4,
					Am: 980, Tx: 98, Day: 1, FirstDate: "20200701", NextDate: "20200701", NextAt: now.Add(-time.Hour),
					CreatedAt: now, UpdatedAt: now}
				if err := tx.InsertAutoCharge(a); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	start := time.Now()
	o, err := e.run.RunOnce(ctx)
	el := time.Since(start)
	b.StopTimer()
	if err != nil || o.Charged != b.N {
		b.Fatalf("%+v %v", o, err)
	}
	b.ReportMetric(float64(b.N)/el.Seconds(), "charges/s")
}
