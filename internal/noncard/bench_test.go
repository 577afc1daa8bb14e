package noncard_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"kessai/internal/acquirer"
	"kessai/internal/clock"
	"kessai/internal/maintenance"
	"kessai/internal/noncard"
	"kessai/internal/payment"
	"kessai/internal/store"
	"kessai/internal/testenv"
)

// BenchmarkBankArrivals applies a batch of bank arrivals (BAN_SAL: slip and payment moved, event
// and kickback written, one transaction each, group-committed) to pending accounts issued
// beforehand, from 32 goroutines, and reports arrivals/s. The batch is 100,000 arrivals
// (KESSAI_BENCH_ARRIVALS to change it); run it once: -benchtime 1x.
func BenchmarkBankArrivals(b *testing.B) {
	n := 100000
	if v, err := strconv.Atoi(os.Getenv("KESSAI_BENCH_ARRIVALS")); err == nil && v > 0 {
		n = v
	}
	ctx := context.Background()
	db, err := store.Open(ctx, testenv.StoreConfig(b))
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	now := time.Date(2026, 3, 10, 10, 0, 0, 0, noncard.JST) // a Tuesday: no holiday hold
	clk := clock.NewFixed(now)
	st := store.NewStore("130001", "bench")
	st.ResultURL = "http://127.0.0.1:9/kb"
	if err := db.CreateStore(ctx, st); err != nil {
		b.Fatal(err)
	}
	set := store.DefaultStoreMethods(st.AID)
	set.Methods = []string{"card", "bank"}
	db.PutStoreMethods(ctx, set)
	log := slog.New(slog.DiscardHandler)
	svc := &noncard.Service{DB: db, Pay: payment.New(db, nil, acquirer.Sandbox{}, clk, log), Clock: clk, Maint: maintenance.NewIndex(nil), Log: log}
	// the accounts, issued in large transactions (setup, not measured)
	gids := make([]string, n)
	for i := 0; i < n; i += 5000 {
		err := db.Tx(ctx, func(tx *store.Tx) error {
			for j := i; j < i+5000 && j < n; j++ {
				gid := db.IDs().Format(int64(5000000000 + j))
				gids[j] = gid
				p := &store.Payment{Gid: gid, AID: st.AID, Cod: fmt.Sprintf("b-%d", j), Job: "CAPTURE", Status: store.SlipPending, Rst: "1",
					Ap: "BANK", Am: 5000, Ta: 5000, Md: "10", Source: "gateway", AcceptedAt: now, CreatedAt: now, UpdatedAt: now}
				if err := tx.InsertPayment(p); err != nil {
					return err
				}
				if err := tx.SetPaymentMethod(gid, store.MethodBank); err != nil {
					return err
				}
				acct := acquirer.OpenAccount(gid)
				if err := tx.InsertSlip(&store.Slip{Gid: gid, AID: st.AID, Method: store.MethodBank, State: store.SlipPending, PayNo: acct.Reference(),
					Bank: acct.String(), Deadline: noncard.Deadline(now, 14), Billed: 5000, CreatedAt: now, UpdatedAt: now}); err != nil {
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
	for it := 0; it < b.N; it++ {
		if it > 0 {
			b.Fatal("run once: -benchtime 1x")
		}
		var next atomic.Int64
		var failed atomic.Int64
		var wg sync.WaitGroup
		start := time.Now()
		for w := 0; w < 32; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					i := next.Add(1) - 1
					if i >= int64(n) {
						return
					}
					amount := int64(5000)
					if i%10 == 9 {
						amount = 4000 // some short payments
					}
					if _, err := svc.Apply(ctx, "", gids[i], noncard.Transfer, amount, "bench"); err != nil {
						failed.Add(1)
					}
				}
			}()
		}
		wg.Wait()
		el := time.Since(start)
		if failed.Load() != 0 {
			b.Fatalf("%d arrivals failed", failed.Load())
		}
		b.ReportMetric(float64(n)/el.Seconds(), "arrivals/s")
	}
	b.StopTimer()
	var paid, kbs int
	db.QueryRow(ctx, `SELECT COUNT(*) FROM slips WHERE state = 'paid'`).Scan(&paid)
	db.QueryRow(ctx, `SELECT COUNT(*) FROM kickbacks WHERE kind = 'result'`).Scan(&kbs)
	if paid != n || kbs != n {
		b.Fatalf("%d paid, %d kickbacks, want %d each", paid, kbs, n)
	}
}
