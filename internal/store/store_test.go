package store_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"kessai/internal/maintenance"
	"kessai/internal/store"
	"kessai/internal/testenv"
)

// The store suite runs on SQLite by default and on PostgreSQL when KESSAI_TEST_PG is set
// (.ci/run does both).

func open(t *testing.T) (*store.DB, store.Config) {
	t.Helper()
	cfg := testenv.StoreConfig(t)
	db, err := store.Open(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db, cfg
}

func TestMigrationsAreIdempotentAndVersioned(t *testing.T) {
	db, cfg := open(t)
	db2, err := store.Open(context.Background(), cfg) // a second open migrates nothing and works
	if err != nil {
		t.Fatal(err)
	}
	defer db2.Close()
	var v int
	if err := db.QueryRow(context.Background(), `SELECT MAX(version) FROM schema_version`).Scan(&v); err != nil || v != store.SchemaVersion() {
		t.Fatalf("schema version %d (%v), want %d", v, err, store.SchemaVersion())
	}
	// a database from a newer kessai is refused
	if err := db.Tx(context.Background(), func(tx *store.Tx) error {
		_, err := tx.Exec(`INSERT INTO schema_version(version, name, applied_at) VALUES (?, 'future', 0)`, store.SchemaVersion()+1)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := store.Open(context.Background(), cfg); err == nil {
		t.Fatal("opened a database with a newer schema")
	}
}

func TestGroupCommitIsolatesFailingOperations(t *testing.T) {
	db, _ := open(t)
	ctx := context.Background()
	if err := db.CreateStore(ctx, store.NewStore("123456", "A")); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make([]error, 40)
	for i := range errs {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			errs[i] = db.Write(ctx, func(tx *store.Tx) error {
				now := time.Now()
				p := &store.Payment{Gid: fmt.Sprintf("g%03d", i), AID: "123456", Cod: fmt.Sprintf("c%d", i%10), Job: "CAPTURE",
					Status: store.StatusCaptured, Rst: "1", Am: 100, Ta: 100, AcceptedAt: now, CreatedAt: now, UpdatedAt: now}
				return tx.InsertPayment(p)
			})
		}(i)
	}
	wg.Wait()
	ok, conflicts := 0, 0
	for _, e := range errs {
		switch {
		case e == nil:
			ok++
		case errors.Is(e, store.ErrConflict):
			conflicts++
		default:
			t.Fatalf("unexpected error %v", e)
		}
	}
	if ok != 10 || conflicts != 30 {
		t.Fatalf("%d inserted, %d conflicts; want 10 and 30 (one per order number)", ok, conflicts)
	}
	var n int
	db.QueryRow(ctx, `SELECT COUNT(*) FROM payments`).Scan(&n)
	if n != 10 {
		t.Fatalf("%d rows committed", n)
	}
	// declined payments do not take the order number
	now := time.Now()
	if err := db.Write(ctx, func(tx *store.Tx) error {
		return tx.InsertPayment(&store.Payment{Gid: "d1", AID: "123456", Cod: "c1", Job: "CAPTURE", Status: store.StatusDeclined, Rst: "2",
			Ec: "ER030", AcceptedAt: now, CreatedAt: now, UpdatedAt: now})
	}); err != nil {
		t.Fatalf("a declined payment with a used order number: %v", err)
	}
}

func TestWindowsOverlapAndChanges(t *testing.T) {
	db, _ := open(t)
	ctx := context.Background()
	w, _ := maintenance.WallWindow("2020-07-22", "02:55", "04:30", "")
	ws, err := db.AddWindows(ctx, []maintenance.Window{w}, "t")
	if err != nil {
		t.Fatal(err)
	}
	over, _ := maintenance.WallWindow("2020-07-22", "04:00", "05:00", "")
	if _, err := db.AddWindows(ctx, []maintenance.Window{over}, "t"); !errors.Is(err, maintenance.ErrInvalid) {
		t.Fatalf("overlap accepted: %v", err)
	}
	// another scope may overlap in time
	other := over
	other.Scope = maintenance.Scope{Ops: maintenance.OpKickback}
	other.ReserveEnd = time.Time{}
	if _, err := db.AddWindows(ctx, []maintenance.Window{other}, "t"); err == nil {
		t.Fatal("a kickback-only window overlapping an all-scope window was accepted")
	}
	rev0, _ := db.MaintenanceRev(ctx)
	moved, err := db.ChangeWindow(ctx, ws[0].ID, maintenance.ChangeMoved, "t", "", func(x *maintenance.Window) error {
		x.Start, x.End = x.Start.Add(24*time.Hour), x.End.Add(24*time.Hour)
		return nil
	})
	if err != nil || moved.Revision != 1 {
		t.Fatalf("move: %+v %v", moved, err)
	}
	if rev, _ := db.MaintenanceRev(ctx); rev <= rev0 {
		t.Fatalf("revision counter did not move: %d -> %d", rev0, rev)
	}
	chs, _ := db.Changes(ctx)
	if len(chs) != 2 || chs[1].Kind != maintenance.ChangeMoved || !chs[1].OldStart.Equal(w.Start) {
		t.Fatalf("changes: %+v", chs)
	}
	// all-or-nothing: a batch with one bad window writes nothing
	good, _ := maintenance.WallWindow("2021-01-01", "01:00", "02:00", "")
	bad, _ := maintenance.WallWindow("2021-01-02", "01:00", "02:00", "")
	bad.End = bad.Start
	if _, err := db.AddWindows(ctx, []maintenance.Window{good, bad}, "t"); err == nil {
		t.Fatal("bad window accepted")
	}
	all, _ := db.Windows(ctx)
	if len(all) != 1 {
		t.Fatalf("%d windows after a refused batch", len(all))
	}
}

func TestKickbackClaimsAreExclusive(t *testing.T) {
	db, cfg := open(t)
	db2, err := store.Open(context.Background(), cfg) // a second instance on the same database
	if err != nil {
		t.Fatal(err)
	}
	defer db2.Close()
	ctx := context.Background()
	now := time.Now()
	if err := db.Write(ctx, func(tx *store.Tx) error {
		for i := 0; i < 100; i++ {
			if err := tx.InsertKickback(&store.Kickback{AID: "123456", Gid: fmt.Sprint(i), Kind: "result", URL: "http://x/kb", Query: "gid=1", NextAt: now, CreatedAt: now}); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	seen := map[int64]int{}
	var wg sync.WaitGroup
	for _, d := range []*store.DB{db, db2, db, db2} {
		wg.Add(1)
		go func(d *store.DB) {
			defer wg.Done()
			for i := 0; i < 10; i++ {
				kbs, err := d.ClaimKickbacks(ctx, time.Now(), 20, time.Minute, nil)
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				for _, k := range kbs {
					seen[k.ID]++
				}
				mu.Unlock()
			}
		}(d)
	}
	wg.Wait()
	if len(seen) != 100 {
		t.Fatalf("%d of 100 kickbacks claimed", len(seen))
	}
	for id, n := range seen {
		if n != 1 {
			t.Fatalf("kickback %d claimed %d times", id, n)
		}
	}
}

func TestEmailDedupe(t *testing.T) {
	db, _ := open(t)
	ctx := context.Background()
	e := &store.Email{Dedupe: "123456/annual-2027", AID: "123456", Rcpt: "a@example.jp", Subject: "s", Kind: "annual", Status: "pending", NextAt: time.Now(), CreatedAt: time.Now(), Body: "本文"}
	for i, want := range []bool{true, false, false} {
		added, err := db.QueueEmail(ctx, e)
		if err != nil || added != want {
			t.Fatalf("queue #%d: added=%v err=%v", i, added, err)
		}
	}
	due, _ := db.DueEmails(ctx, time.Now(), 10)
	if len(due) != 1 || due[0].Body != "本文" {
		t.Fatalf("due: %+v", due)
	}
}
