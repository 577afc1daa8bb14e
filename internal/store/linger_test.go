package store_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"kessai/internal/store"
)

// A payment arriving alone is never held back for company: at a low rate the writer does not wait.
func TestGroupCommitDoesNotLingerAtALowRate(t *testing.T) {
	db, _ := open(t)
	ctx := context.Background()
	if err := db.CreateStore(ctx, store.NewStore("123456", "A")); err != nil {
		t.Fatal(err)
	}
	before := db.WriterStats()
	for i := 0; i < 20; i++ {
		if err := db.Write(ctx, insertPayment(fmt.Sprintf("low%d", i))); err != nil {
			t.Fatal(err)
		}
		time.Sleep(10 * time.Millisecond) // 100 writes/s at most: under one expected per linger window
	}
	after := db.WriterStats()
	if got := after.Writes - before.Writes; got != 20 {
		t.Fatalf("%d writes counted, want 20", got)
	}
	if l := after.Lingered - before.Lingered; l != 0 {
		t.Fatalf("the writer lingered %d times for writes arriving one at a time", l)
	}
}

// Under a steady stream of writes the writer holds batches open, so they grow beyond what happens
// to be queued, and every write is still committed once.
func TestGroupCommitLingersUnderLoad(t *testing.T) {
	db := lingeringDB(t)
	ctx := context.Background()
	before := db.WriterStats()
	start := time.Now()
	// 64 writers: even on a slow machine (or under the race detector) writes then arrive faster
	// than one per linger window, the rate at which the writer starts to linger
	n := burst(t, db, 64, 600*time.Millisecond, "hi")
	elapsed := time.Since(start)
	after := db.WriterStats()
	// The writer lingers once writes arrive faster than one per linger window; whether 64 writers
	// reach that rate depends on the machine (under the race detector on two busy cores they did
	// not), so the lingering is asserted only when they did, well above it. The decision itself
	// is tested on synthetic times (TestArrivalsExpectOnlyAtTheLingeringRate).
	rate := float64(n) / elapsed.Seconds()
	if threshold := 1 / store.LingerOf(db).Seconds(); rate >= 3*threshold && after.Lingered == before.Lingered {
		t.Fatalf("the writer never lingered for %d writes from 64 writers (%.0f/s, 3x the lingering rate)", n, rate)
	}
	var rows int64
	if err := db.QueryRow(ctx, `SELECT COUNT(*) FROM payments WHERE cod LIKE 'hi%'`).Scan(&rows); err != nil || rows != n {
		t.Fatalf("%d rows for %d acknowledged writes (%v)", rows, n, err)
	}
	if w := after.Writes - before.Writes; w != n {
		t.Fatalf("%d writes counted for %d acknowledged", w, n)
	}
	t.Logf("%d writes (%.0f/s) in %d batches (%d lingered)", n, rate, after.Batches-before.Batches, after.Lingered-before.Lingered)
}

func insertPayment(cod string) func(*store.Tx) error {
	return func(tx *store.Tx) error {
		now := time.Now()
		return tx.InsertPayment(&store.Payment{Gid: "g" + cod, AID: "123456", Cod: cod, Job: "CAPTURE", Status: store.StatusCaptured,
			Rst: "1", Am: 100, Ta: 100, AcceptedAt: now, CreatedAt: now, UpdatedAt: now})
	}
}

// After a burst, the first write of a quiet spell is not held back by the burst's rate.
func TestGroupCommitStopsLingeringWhenTheLoadStops(t *testing.T) {
	db := lingeringDB(t)
	ctx := context.Background()
	burst(t, db, 16, 300*time.Millisecond, "burst")
	time.Sleep(200 * time.Millisecond) // a quiet spell, several rate windows long
	before := db.WriterStats()
	if err := db.Write(ctx, insertPayment("after-the-burst")); err != nil {
		t.Fatal(err)
	}
	if l := db.WriterStats().Lingered - before.Lingered; l != 0 {
		t.Fatal("the first write after a quiet spell was held for company, on the burst's rate")
	}
}

// burst has writers write payments (order numbers prefix…) for d, each pausing 200 µs between
// writes as a handler's work would, and returns how many were acknowledged.
func burst(t *testing.T, db *store.DB, writers int, d time.Duration, prefix string) int64 {
	t.Helper()
	var n atomic.Int64
	var wg sync.WaitGroup
	deadline := time.Now().Add(d)
	for c := 0; c < writers; c++ {
		wg.Add(1)
		go func(c int) {
			defer wg.Done()
			for i := 0; time.Now().Before(deadline); i++ {
				time.Sleep(200 * time.Microsecond)
				if err := db.Write(context.Background(), insertPayment(fmt.Sprintf("%s%d-%d", prefix, c, i))); err != nil {
					t.Error(err)
					return
				}
				n.Add(1)
			}
		}(c)
	}
	wg.Wait()
	return n.Load()
}

// lingeringDB opens a database whose writer lingers (SQLite by default), with store 123456.
func lingeringDB(t *testing.T) *store.DB {
	t.Helper()
	db, _ := open(t)
	if store.LingerOf(db) <= 0 {
		t.Skip("no linger on this database (PostgreSQL, or KESSAI_GROUP_COMMIT_LINGER=0)")
	}
	store.LingerAlways(db) // the linger itself, whatever the trial would measure on this machine
	if err := db.CreateStore(context.Background(), store.NewStore("123456", "A")); err != nil {
		t.Fatal(err)
	}
	return db
}
