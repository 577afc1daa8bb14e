package store_test

import (
	"context"
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
