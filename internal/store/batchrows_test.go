package store_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"kessai/internal/store"
)

// A batch's cards and payments are written with multi-row statements (batchrows.go): each
// operation must still get its own outcome, its card's ID must be the one its payment names, a
// statement after a buffered insert must see the row, and IDs are never handed out twice.
func TestBatchedRowsKeepEachOperationsOutcome(t *testing.T) {
	db, _ := open(t)
	ctx := context.Background()
	if err := db.CreateStore(ctx, store.NewStore("123456", "A")); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	pay := func(gid, cod string) *store.Payment {
		return &store.Payment{Gid: gid, AID: "123456", Cod: cod, Job: "CAPTURE", Status: store.StatusCaptured, Rst: "1", Am: 100, Ta: 100,
			Last4: gid[len(gid)-4:], AcceptedAt: now, CreatedAt: now, UpdatedAt: now}
	}
	card := func(last4 string) *store.Card {
		return &store.Card{AID: "123456", KeyID: "k", Blob: []byte("sealed-" + last4), First6: "411111", Last4: last4, Brand: "VISA",
			Lookup: []byte("h" + last4), Exp: "3001", CreatedAt: now}
	}
	if err := db.Write(ctx, func(tx *store.Tx) error { return tx.InsertPayment(pay("g0000", "taken")) }); err != nil {
		t.Fatal(err)
	}
	withCard := func(gid, cod string, after func(tx *store.Tx, p *store.Payment) error) func(*store.Tx) error {
		return func(tx *store.Tx) error {
			p := pay(gid, cod)
			id, err := tx.InsertCard(card(p.Last4))
			if err != nil {
				return err
			}
			p.CardID = id
			if err := tx.InsertPayment(p); err != nil {
				return err
			}
			if after != nil {
				return after(tx, p)
			}
			return nil
		}
	}
	var readBack *store.Payment
	errs := store.RunBatch(db,
		withCard("g1001", "a", nil),
		withCard("g1002", "b", func(tx *store.Tx, p *store.Payment) error { return tx.SetPaymentTDS(p.Gid, "Y") }),
		withCard("g1003", "taken", nil), // the order number is taken: refused alone
		func(tx *store.Tx) error { return tx.InsertPayment(pay("g1004", "c")) },
		withCard("g1005", "d", func(tx *store.Tx, p *store.Payment) error {
			var err error
			readBack, err = tx.GetPayment("123456", p.Gid)
			return err
		}),
	)
	for i, e := range errs {
		if i == 2 {
			if !errors.Is(e, store.ErrConflict) {
				t.Fatalf("operation 2 (taken order number): %v, want ErrConflict", e)
			}
			continue
		}
		if e != nil {
			t.Fatalf("operation %d: %v", i, e)
		}
	}
	if readBack == nil || readBack.Gid != "g1005" {
		t.Fatalf("a read after a buffered insert did not see it: %+v", readBack)
	}
	if tds, err := db.PaymentTDS(ctx, "123456", "g1002"); err != nil || tds != "Y" {
		t.Fatalf("an update after a buffered insert: tds %q, %v", tds, err)
	}
	if _, err := db.GetPayment(ctx, "123456", "g1003"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("the refused operation's payment: %v", err)
	}
	check := func(gids ...string) map[int64]bool {
		ids := map[int64]bool{}
		for _, g := range gids {
			p, err := db.GetPayment(ctx, "123456", g)
			if err != nil {
				t.Fatalf("%s: %v", g, err)
			}
			c, err := db.GetCard(ctx, "123456", p.CardID)
			if err != nil {
				t.Fatalf("%s: its card %d: %v", g, p.CardID, err)
			}
			if c.Last4 != p.Last4 || string(c.Blob) != "sealed-"+p.Last4 {
				t.Fatalf("%s names card %d of another payment (last4 %s, want %s)", g, c.ID, c.Last4, p.Last4)
			}
			if ids[c.ID] {
				t.Fatalf("card %d named twice", c.ID)
			}
			ids[c.ID] = true
		}
		return ids
	}
	first := check("g1001", "g1002", "g1005")
	var cards int
	db.QueryRow(ctx, `SELECT COUNT(*) FROM cards`).Scan(&cards)
	if cards != 3 {
		t.Fatalf("%d cards stored, want 3 (the refused operation's card is rolled back with it)", cards)
	}

	// batches where every row goes in (the multi-row statements commit as they are): more rows
	// than one statement takes, then fewer (on PostgreSQL one statement for both tables)
	for round, size := range []int{70, 40} {
		var fns []func(*store.Tx) error
		var gids []string
		for i := 0; i < size; i++ {
			g := fmt.Sprintf("g%d%03d", 2+round, i)
			gids = append(gids, g)
			fns = append(fns, withCard(g, "o"+g, nil))
		}
		for i, e := range store.RunBatch(db, fns...) {
			if e != nil {
				t.Fatalf("round %d operation %d: %v", round, i, e)
			}
		}
		for id := range check(gids...) {
			if first[id] {
				t.Fatalf("card ID %d handed out again", id)
			}
			first[id] = true
		}
	}
	// a card inserted outside a batch after them takes a new ID too
	var id int64
	if err := db.Tx(ctx, func(tx *store.Tx) error {
		var err error
		id, err = tx.InsertCard(card("9999"))
		return err
	}); err != nil || first[id] {
		t.Fatalf("card after the batches: id %d (%v), already used: %v", id, err, first[id])
	}
}

// A follow-up of a committed payment (a SALES's claim, its state change and timeline step) runs
// beside the rows its batch has buffered: the batch's new payments still go in one statement, and
// every operation ends as it would have alone. With the statements that write the buffered rows
// first (SetPaymentState, AddEvent), the same batch takes three statements.
func TestFollowUpsRunBesideBufferedRows(t *testing.T) {
	db, _ := open(t)
	ctx := context.Background()
	if err := db.CreateStore(ctx, store.NewStore("123456", "A")); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	pay := func(gid, status string) *store.Payment {
		return &store.Payment{Gid: gid, AID: "123456", Cod: "c" + gid, Job: "AUTH", Status: status, Rst: "1", Am: 100, Ta: 100,
			Last4: "1111", AcceptedAt: now, CreatedAt: now, UpdatedAt: now}
	}
	for _, g := range []string{"a1", "a2"} {
		if err := db.Write(ctx, func(tx *store.Tx) error { return tx.InsertPayment(pay(g, store.StatusAuthorized)) }); err != nil {
			t.Fatal(err)
		}
	}
	insert := func(gid string) func(*store.Tx) error {
		return func(tx *store.Tx) error { return tx.InsertPayment(pay(gid, store.StatusAuthorized)) }
	}
	var claimed, unknown *store.Payment
	var moved bool
	before := store.RowStatements(db)
	errs := store.RunBatch(db,
		insert("n1"),
		func(tx *store.Tx) error {
			var err error
			claimed, err = tx.ClaimCommittedPayment("123456", "a1", store.StatusAuthorized, now, now.Add(time.Minute))
			return err
		},
		insert("n2"),
		func(tx *store.Tx) error {
			var err error
			moved, err = tx.SetCommittedPaymentState("a2", store.StatusAuthorized, store.StatusCaptured, 100, 0, now)
			if err != nil {
				return err
			}
			return tx.AddCommittedEvent(store.Event{Gid: "a2", At: now, Kind: "SALES", From: store.StatusAuthorized, To: store.StatusCaptured, Amount: 100})
		},
		func(tx *store.Tx) error { // a payment of this very batch cannot be claimed: its gid was never answered
			var err error
			unknown, err = tx.ClaimCommittedPayment("123456", "n1", store.StatusAuthorized, now, now.Add(time.Minute))
			return err
		},
		insert("n3"),
	)
	for i, e := range errs {
		if e != nil {
			t.Fatalf("operation %d: %v", i, e)
		}
	}
	if n := store.RowStatements(db) - before; n != 1 {
		t.Fatalf("the batch's three new payments took %d statements, want 1", n)
	}
	if claimed == nil || claimed.Gid != "a1" || !moved || unknown != nil {
		t.Fatalf("claimed %+v, moved %v, claimed in the same batch %+v", claimed, moved, unknown)
	}
	for _, g := range []string{"n1", "n2", "n3"} {
		if _, err := db.GetPayment(ctx, "123456", g); err != nil {
			t.Fatalf("%s: %v", g, err)
		}
	}
	if p, err := db.GetPayment(ctx, "123456", "a2"); err != nil || p.Status != store.StatusCaptured {
		t.Fatalf("a2: %+v, %v", p, err)
	}
	evs, err := db.Events(ctx, "a2")
	if err != nil || len(evs) != 2 || evs[1].Kind != "SALES" {
		t.Fatalf("a2's timeline: %+v, %v", evs, err)
	}

	// the same batch with statements that write the buffered rows first
	before = store.RowStatements(db)
	errs = store.RunBatch(db,
		insert("m1"),
		func(tx *store.Tx) error {
			_, err := tx.SetPaymentState("a1", store.StatusAuthorized, store.StatusCaptured, 100, 0, now)
			return err
		},
		insert("m2"),
		func(tx *store.Tx) error {
			return tx.AddEvent(store.Event{Gid: "a1", At: now, Kind: "SALES", To: store.StatusCaptured})
		},
		insert("m3"),
	)
	for i, e := range errs {
		if e != nil {
			t.Fatalf("second batch, operation %d: %v", i, e)
		}
	}
	if n := store.RowStatements(db) - before; n != 3 {
		t.Fatalf("with statements in order the batch took %d statements, want 3", n)
	}
}

// A column whose value is the same in every row of a batch is bound once (batchrows.go, shared
// parameters): each row must still read back exactly as it was written — shared and per-row
// columns, NULL and non-NULL card IDs, equal and different amounts — and the statement must bind
// fewer values than one per cell.
func TestSharedColumnsWriteEveryRowAsItWas(t *testing.T) {
	db, _ := open(t)
	ctx := context.Background()
	if err := db.CreateStore(ctx, store.NewStore("123456", "A")); err != nil {
		t.Fatal(err)
	}
	now := time.Now().Truncate(time.Microsecond)
	var want []store.Payment
	for i := 0; i < 9; i++ {
		p := store.Payment{Gid: fmt.Sprintf("s%04d", i), AID: "123456", Cod: fmt.Sprintf("o%d", i), Job: "CAPTURE",
			Status: store.StatusCaptured, Rst: "1", Am: 1000, Tx: 100, Ta: 1100, Captured: 1100, First6: "411111",
			Last4: "1111", Brand: "VISA", Md: "10", Em: "a@example.com", Source: "gateway", NetRef: fmt.Sprintf("SBX%d", i),
			AcceptedAt: now, CreatedAt: now.Add(time.Duration(i) * time.Microsecond), UpdatedAt: now}
		switch i % 3 {
		case 1:
			p.Am, p.Ta, p.Captured, p.Free = 2000, 2100, 2100, "free text"
		case 2:
			p.Em, p.Pn, p.Last4 = "", "0312345678", "4242"
		}
		want = append(want, p)
	}
	// the statement: the columns equal in all nine rows are bound once
	q, args := store.PaymentsInsert(db.Dialect == store.Postgres, want)
	if len(args) >= 9*32 || len(args) < 9 {
		t.Fatalf("%d values bound for 9 rows of 32 columns; want fewer than one per cell: %s", len(args), q)
	}
	// a cache of shapes that is full makes statements that share nothing, and they write the same
	restore := store.FillRowShapes(true)
	q2, args2 := store.PaymentsInsert(db.Dialect == store.Postgres, want[:7])
	restore()
	if len(args2) != 7*32 {
		t.Fatalf("with the cache full: %d values for 7 rows (%s), want 224", len(args2), q2)
	}
	var fns []func(*store.Tx) error
	for i := range want {
		p := want[i]
		fns = append(fns, func(tx *store.Tx) error { return tx.InsertPayment(&p) })
	}
	for i, e := range store.RunBatch(db, fns...) {
		if e != nil {
			t.Fatalf("operation %d: %v", i, e)
		}
	}
	for _, w := range want {
		got, err := db.GetPayment(ctx, "123456", w.Gid)
		if err != nil {
			t.Fatalf("%s: %v", w.Gid, err)
		}
		if got.Cod != w.Cod || got.Am != w.Am || got.Ta != w.Ta || got.Captured != w.Captured || got.Free != w.Free ||
			got.Em != w.Em || got.Pn != w.Pn || got.Last4 != w.Last4 || got.NetRef != w.NetRef || got.CardID != 0 ||
			got.Job != w.Job || got.Status != w.Status || got.Brand != w.Brand || got.Md != w.Md || got.Source != w.Source ||
			!got.CreatedAt.Equal(w.CreatedAt) || !got.AcceptedAt.Equal(w.AcceptedAt) {
			t.Fatalf("%s read back as\n%+v\nwant\n%+v", w.Gid, *got, w)
		}
	}
}

// A batch whose operations only insert payments (CAPTURE, AUTH) — and on PostgreSQL also their
// cards — opens no transaction: its one multi-row INSERT commits on its own (PostgreSQL: one round
// trip instead of four; SQLite, synchronous=FULL: durably before it returns, without BEGIN and
// COMMIT; there a new card's ID is read in a transaction, so cards open one). The rows must all be
// there, with the right card IDs; a taken order number fails that statement, which wrote nothing,
// and the batch runs again one savepoint per operation so only that one is refused; an operation
// that also updates opens a transaction as before.
func TestBatchOfInsertsNeedsNoTransaction(t *testing.T) {
	for _, withCards := range []bool{false, true} {
		t.Run(map[bool]string{false: "payments", true: "cards and payments"}[withCards], func(t *testing.T) {
			db, _ := open(t)
			if withCards && db.Dialect != store.Postgres {
				t.Skip("PostgreSQL only (KESSAI_TEST_PG): on SQLite a new card's ID is read in a transaction")
			}
			batchOfInsertsAlone(t, db, withCards)
		})
	}
}

func batchOfInsertsAlone(t *testing.T, db *store.DB, withCards bool) {
	ctx := context.Background()
	if err := db.CreateStore(ctx, store.NewStore("123456", "A")); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	op := func(gid, cod string, then func(*store.Tx) error) func(*store.Tx) error {
		return func(tx *store.Tx) error {
			var id int64
			if withCards {
				var err error
				if id, err = tx.InsertCard(&store.Card{AID: "123456", KeyID: "k", Blob: []byte("sealed"), First6: "411111", Last4: "1111",
					Brand: "VISA", Lookup: []byte("h" + gid), Exp: "3001", CreatedAt: now}); err != nil {
					return err
				}
			}
			if err := tx.InsertPayment(&store.Payment{Gid: gid, AID: "123456", Cod: cod, Job: "CAPTURE", Status: store.StatusCaptured,
				Rst: "1", Am: 100, Ta: 100, CardID: id, Last4: "1111", AcceptedAt: now, CreatedAt: now, UpdatedAt: now}); err != nil {
				return err
			}
			if then != nil {
				return then(tx)
			}
			return nil
		}
	}
	before := store.BatchesAlone(db)
	var fns []func(*store.Tx) error
	for i := 0; i < 40; i++ {
		fns = append(fns, op(fmt.Sprintf("a%04d", i), fmt.Sprintf("cod-a%d", i), nil))
	}
	for i, e := range store.RunBatch(db, fns...) {
		if e != nil {
			t.Fatalf("operation %d: %v", i, e)
		}
	}
	if got := store.BatchesAlone(db) - before; got != 1 {
		t.Fatalf("a batch of inserts was written %d times as one statement alone, want 1", got)
	}
	for i := 0; i < 40; i++ {
		p, err := db.GetPayment(ctx, "123456", fmt.Sprintf("a%04d", i))
		if err != nil {
			t.Fatalf("payment %d: %v", i, err)
		}
		if !withCards {
			continue
		}
		if c, err := db.GetCard(ctx, "123456", p.CardID); err != nil || string(c.Lookup) != "h"+p.Gid {
			t.Fatalf("payment %d names card %d: %+v, %v", i, p.CardID, c, err)
		}
	}
	// a taken order number in the batch: refused alone, the others written
	errs := store.RunBatch(db, op("b0001", "cod-b1", nil), op("b0002", "cod-a3", nil), op("b0003", "cod-b3", nil))
	if errs[0] != nil || errs[2] != nil || !errors.Is(errs[1], store.ErrConflict) {
		t.Fatalf("batch with a taken order number: %v", errs)
	}
	for gid, want := range map[string]error{"b0001": nil, "b0002": store.ErrNotFound, "b0003": nil} {
		if _, err := db.GetPayment(ctx, "123456", gid); !errors.Is(err, want) {
			t.Fatalf("%s after the rerun: %v, want %v", gid, err, want)
		}
	}
	// an operation that also updates opens a transaction; the batch is still one unit
	before = store.BatchesAlone(db)
	errs = store.RunBatch(db, op("c0001", "cod-c1", nil), op("c0002", "cod-c2", func(tx *store.Tx) error { return tx.SetPaymentTDS("c0002", "Y") }))
	if errs[0] != nil || errs[1] != nil {
		t.Fatalf("batch with an update: %v", errs)
	}
	if store.BatchesAlone(db) != before {
		t.Fatal("a batch with an update was written without a transaction")
	}
	if tds, err := db.PaymentTDS(ctx, "123456", "c0002"); err != nil || tds != "Y" {
		t.Fatalf("the update: %q, %v", tds, err)
	}
}
