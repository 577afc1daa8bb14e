package store_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"kessai/internal/store"
)

// A void already acknowledged by the network while the database was away is recorded as done
// when the record catches up: the worker never claims it to send it again. (After an outage there
// were thousands of these pending ahead of the voids still owed, and the worker took tens of
// seconds to reach those.) A void queued pending is claimed as before, and queuing it again as
// done settles it.
func TestQueueVoidDoneIsNotClaimed(t *testing.T) {
	db, _ := open(t)
	ctx := context.Background()
	if err := db.CreateStore(ctx, store.NewStore("123456", "A")); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	done := &store.Void{AID: "123456", Gid: "g1", NetRef: "SBXdone", Reason: "not-recorded", NextAt: now, CreatedAt: now, Status: "done", DoneAt: now}
	owed := &store.Void{AID: "123456", Gid: "g2", NetRef: "SBXowed", Reason: "not-recorded", NextAt: now, CreatedAt: now}
	for _, v := range []*store.Void{done, owed} {
		if err := db.QueueVoid(ctx, v); err != nil {
			t.Fatal(err)
		}
	}
	vs, err := db.ClaimVoids(ctx, now.Add(time.Second), 64, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if len(vs) != 1 || vs[0].NetRef != "SBXowed" {
		t.Fatalf("claimed %d voids (%v), want only the one still owed", len(vs), vs)
	}
	if n, err := db.PendingVoids(ctx); err != nil || n != 1 {
		t.Fatalf("%d pending (%v), want 1", n, err)
	}
	owed.Status, owed.DoneAt = "done", now
	if err := db.QueueVoid(ctx, owed); err != nil {
		t.Fatal(err)
	}
	if n, err := db.PendingVoids(ctx); err != nil || n != 0 {
		t.Fatalf("%d pending (%v) after the owed void was recorded done", n, err)
	}
}

// ClaimFollowUpPayment claims an authorised payment and returns it from the claim's own statement;
// it claims nothing (ErrNotFound) for an unknown payment, one in another status, or one another
// follow-up holds, until that claim is released or its lease ends.
func TestClaimFollowUpPaymentReturnsTheClaimedRow(t *testing.T) {
	db, _ := open(t)
	ctx := context.Background()
	if err := db.CreateStore(ctx, store.NewStore("123456", "A")); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	p := &store.Payment{Gid: "g-auth", AID: "123456", Cod: "c-auth", Job: "AUTH", Status: store.StatusAuthorized, Rst: "1", Am: 1000, Tx: 100, Ta: 1100,
		First6: "411111", Last4: "1111", Brand: "VISA", Md: "10", Source: "gateway", NetRef: "SBXa", AcceptedAt: now, CreatedAt: now, UpdatedAt: now}
	if err := db.Write(ctx, func(tx *store.Tx) error { return tx.InsertPayment(p) }); err != nil {
		t.Fatal(err)
	}
	got, err := db.ClaimFollowUpPayment(ctx, "123456", "g-auth", store.StatusAuthorized, now, now.Add(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	if got.Gid != "g-auth" || got.Ta != 1100 || got.NetRef != "SBXa" || got.Status != store.StatusAuthorized || got.Last4 != "1111" {
		t.Fatalf("claimed %+v", got)
	}
	for name, try := range map[string]func() (*store.Payment, error){
		"held by the first claim": func() (*store.Payment, error) {
			return db.ClaimFollowUpPayment(ctx, "123456", "g-auth", store.StatusAuthorized, now, now.Add(time.Minute))
		},
		"another store": func() (*store.Payment, error) {
			return db.ClaimFollowUpPayment(ctx, "654321", "g-auth", store.StatusAuthorized, now.Add(2*time.Minute), now.Add(3*time.Minute))
		},
		"another status": func() (*store.Payment, error) {
			return db.ClaimFollowUpPayment(ctx, "123456", "g-auth", store.StatusCaptured, now.Add(2*time.Minute), now.Add(3*time.Minute))
		},
		"unknown": func() (*store.Payment, error) {
			return db.ClaimFollowUpPayment(ctx, "123456", "g-none", store.StatusAuthorized, now, now.Add(time.Minute))
		},
	} {
		if q, err := try(); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("%s: claimed %+v (%v), want ErrNotFound", name, q, err)
		}
	}
	// the lease ended: claimed again
	if _, err := db.ClaimFollowUpPayment(ctx, "123456", "g-auth", store.StatusAuthorized, now.Add(2*time.Minute), now.Add(3*time.Minute)); err != nil {
		t.Fatalf("after the lease: %v", err)
	}
	// released: claimed again at once
	if err := db.ReleaseFollowUp(ctx, "g-auth"); err != nil {
		t.Fatal(err)
	}
	if _, err := db.ClaimFollowUpPayment(ctx, "123456", "g-auth", store.StatusAuthorized, now, now.Add(time.Minute)); err != nil {
		t.Fatalf("after the release: %v", err)
	}
}
