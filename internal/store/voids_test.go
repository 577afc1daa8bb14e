package store_test

import (
	"context"
	"testing"
	"time"

	"kessai/internal/store"
)

// A void's claim is renewed by its holder (its token: the lease end its claim or last renewal
// wrote), and the renewal holds off other claimers for a whole lease again; it is refused once
// another claimer took the void after the lease lapsed, once an attempt was recorded, and once the
// void is done. A lapsed claim no one else took is renewed.
func TestRenewVoidClaim(t *testing.T) {
	db, _ := open(t)
	ctx := context.Background()
	t0 := time.Now().Truncate(time.Second)
	const lease = 30 * time.Second
	at := func(d time.Duration) time.Time { return t0.Add(d * time.Second) }
	leaseOf := func(id int64) time.Time {
		t.Helper()
		var ns int64
		if err := db.QueryRow(ctx, `SELECT lease_until FROM acquirer_voids WHERE id = ?`, id).Scan(&ns); err != nil {
			t.Fatal(err)
		}
		return store.FromNS(ns)
	}
	// a lease end is now+lease and a random part of a millisecond
	near := func(got, want time.Time) bool { return !got.Before(want) && got.Before(want.Add(time.Millisecond)) }
	renew := func(v *store.Void, token, maybe time.Time, now time.Duration, want bool) time.Time {
		t.Helper()
		until, ok, err := db.RenewVoidClaim(ctx, v.ID, token, maybe, at(now), lease)
		if err != nil {
			t.Fatal(err)
		}
		if ok != want {
			t.Fatalf("renewal of void %d (token %v, maybe %v) at +%ds: %v, want %v; its lease ends %v", v.ID, token, maybe, now, ok, want, leaseOf(v.ID))
		}
		return until
	}
	for i, ref := range []string{"ref-a", "ref-b", "ref-c"} {
		if err := db.QueueVoid(ctx, &store.Void{AID: "123456", Gid: ref, NetRef: ref, Reason: "not-recorded", NextAt: at(time.Duration(i)), CreatedAt: t0}); err != nil {
			t.Fatal(err)
		}
	}
	vs, err := db.ClaimVoids(ctx, at(5), 10, lease)
	if err != nil || len(vs) != 3 {
		t.Fatalf("claim: %v, %d voids", err, len(vs))
	}
	a, b, c := vs[0], vs[1], vs[2]
	if !near(a.LeaseUntil, at(35)) || !leaseOf(a.ID).Equal(a.LeaseUntil) {
		t.Fatalf("claim token %v, lease in the database %v; want %v", a.LeaseUntil, leaseOf(a.ID), at(35))
	}

	// ours: renewed to now+lease, and no one else claims it until then (it would have at +35 s)
	tokA := renew(a, a.LeaseUntil, time.Time{}, 20, true)
	if !near(tokA, at(50)) || !leaseOf(a.ID).Equal(tokA) {
		t.Fatalf("renewed token %v, lease in the database %v; want %v", tokA, leaseOf(a.ID), at(50))
	}
	if got, err := db.ClaimVoids(ctx, at(40), 10, lease); err != nil || len(got) != 2 || got[0].ID == a.ID || got[1].ID == a.ID {
		t.Fatalf("claim at +40 s, within the renewed lease of void %d: %v %+v", a.ID, err, got)
	}
	// (b and c are now claimed until +70 s by that second claimer)
	// the superseded token no longer holds it; a token a renewal may have written (maybe) does
	renew(a, a.LeaseUntil, time.Time{}, 41, false)
	tokA = renew(a, a.LeaseUntil, tokA, 42, true)

	// taken by another claimer once the lease lapsed: the old holder's renewal is refused (and
	// leaves the lease alone), the new holder's is accepted
	got, err := db.ClaimVoids(ctx, at(73), 10, lease)
	if err != nil || len(got) != 3 {
		t.Fatalf("claim at +73 s, every lease lapsed: %v, %d voids", err, len(got))
	}
	var other *store.Void
	for _, v := range got {
		if v.ID == a.ID {
			other = v
		}
	}
	renew(a, tokA, time.Time{}, 74, false)
	if !leaseOf(a.ID).Equal(other.LeaseUntil) {
		t.Fatalf("a refused renewal changed the lease: %v, want %v", leaseOf(a.ID), other.LeaseUntil)
	}
	renew(other, other.LeaseUntil, time.Time{}, 75, true)

	// lapsed and no one took it since: renewed (b's last claim, at +73 s, ended at +103 s)
	renew(b, b.LeaseUntil, time.Time{}, 110, true)

	// lapsed, and an attempt was recorded since (due again later): refused
	if err := db.FinishVoid(ctx, c.ID, false, at(111), at(200), "network down"); err != nil {
		t.Fatal(err)
	}
	renew(c, c.LeaseUntil, time.Time{}, 112, false)

	// done: refused, with the very token that holds it
	tokB := renew(b, leaseOf(b.ID), time.Time{}, 113, true)
	if err := db.FinishVoid(ctx, b.ID, true, at(114), at(114), ""); err != nil {
		t.Fatal(err)
	}
	renew(b, tokB, time.Time{}, 115, false)
	renew(b, time.Time{}, time.Time{}, 116, false) // its lease is 0 (released) but it is done
}
