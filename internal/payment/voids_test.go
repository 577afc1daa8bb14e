package payment

import (
	"context"
	"fmt"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"kessai/internal/acquirer"
	"kessai/internal/clock"
	"kessai/internal/store"
	"kessai/internal/vault"
)

// flakyVoids is the void worker's database going away (every call fails as unavailable) and
// coming back; it counts the calls that reached the database.
type flakyVoids struct {
	*store.DB
	awayAfterClaim atomic.Bool // go away as soon as a claim returns voids
	away           atomic.Bool
	failFinish     atomic.Bool // only the records fail
	claimLost      atomic.Bool // the next claim commits, and its answer is lost
	renewLost      atomic.Bool // the next renewal commits, and its answer is lost
	claimed        atomic.Int64
	renewed        atomic.Int64 // renewals that reached the database
	finished       atomic.Int64 // records that reached the database
}

func (f *flakyVoids) ClaimVoids(ctx context.Context, now time.Time, limit int, lease time.Duration) ([]*store.Void, error) {
	if f.away.Load() {
		return nil, store.ErrUnavailable
	}
	vs, err := f.DB.ClaimVoids(ctx, now, limit, lease)
	f.claimed.Add(int64(len(vs)))
	if len(vs) > 0 && f.awayAfterClaim.CompareAndSwap(true, false) {
		f.away.Store(true)
	}
	if err == nil && len(vs) > 0 && f.claimLost.CompareAndSwap(true, false) {
		return vs, fmt.Errorf("%w: the COMMIT's answer was lost", store.ErrOutcomeUnknown)
	}
	return vs, err
}

func (f *flakyVoids) RenewVoidClaim(ctx context.Context, id int64, token, maybe, now time.Time, lease time.Duration) (time.Time, bool, error) {
	if f.away.Load() {
		return time.Time{}, false, store.ErrUnavailable
	}
	f.renewed.Add(1)
	until, ok, err := f.DB.RenewVoidClaim(ctx, id, token, maybe, now, lease)
	if err == nil && ok && f.renewLost.CompareAndSwap(true, false) {
		return until, false, fmt.Errorf("%w: the COMMIT's answer was lost", store.ErrOutcomeUnknown)
	}
	return until, ok, err
}

func (f *flakyVoids) FinishVoid(ctx context.Context, id int64, done bool, at, next time.Time, errText string) error {
	if f.away.Load() || f.failFinish.Load() {
		return store.ErrUnavailable
	}
	f.finished.Add(1)
	return f.DB.FinishVoid(ctx, id, done, at, next, errText)
}

// countingAcq counts the voids sent to the sandbox network.
type countingAcq struct {
	acquirer.Sandbox
	voids atomic.Int64
}

func (a *countingAcq) Void(ctx context.Context, ref string) error {
	a.voids.Add(1)
	return a.Sandbox.Void(ctx, ref)
}

type voidRig struct {
	s      *Service
	db     *store.DB
	flaky  *flakyVoids
	acq    *countingAcq
	clk    *clock.Fixed
	ledger *acquirer.Ledger
}

// newVoidRig is a payment service whose void worker runs (until the test ends) on a flaky
// database and on a clock the test moves; the database itself is SQLite, always up.
func newVoidRig(t *testing.T) *voidRig {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	db, err := store.Open(ctx, store.Config{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.CreateStore(ctx, store.NewStore("130003", "voids")); err != nil {
		t.Fatal(err)
	}
	r := &voidRig{db: db, ledger: acquirer.NewLedger(), clk: clock.NewFixed(time.Now().Add(time.Second))}
	r.acq = &countingAcq{Sandbox: acquirer.Sandbox{Ledger: r.ledger}}
	r.flaky = &flakyVoids{DB: db}
	r.s = New(db, vault.GenerateKeyRing(), r.acq, clock.Real{}, slog.New(slog.DiscardHandler))
	r.s.voidDB, r.s.voidClock = r.flaky, r.clk
	done := make(chan struct{})
	go func() { defer close(done); r.s.RunVoids(ctx) }()
	t.Cleanup(func() { cancel(); <-done; db.Close() })
	return r
}

// authorise makes an authorisation at the network whose payment is not recorded, and queues its void.
func (r *voidRig) authorise(t *testing.T, cod string) string {
	t.Helper()
	resp, err := r.acq.Authorize(context.Background(), acquirer.Request{PAN: "4111111111111111", Exp: "4012", CVV: "123", Amount: 500, Sale: true, Key: cod})
	if err != nil || !resp.Approved {
		t.Fatalf("authorize: %v %+v", err, resp)
	}
	r.s.queueVoid(context.Background(), "130003", &store.Payment{Gid: "g-" + cod, AID: "130003", Cod: cod, NetRef: resp.Ref}, "not-recorded")
	return resp.Ref
}

func (r *voidRig) row(t *testing.T, ref string) (status string, lease time.Time) {
	t.Helper()
	var ns int64
	if err := r.db.QueryRow(context.Background(), `SELECT status, lease_until FROM acquirer_voids WHERE net_ref = ?`, ref).Scan(&status, &ns); err != nil {
		t.Fatal(err)
	}
	return status, store.FromNS(ns)
}

func within(t *testing.T, d time.Duration, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("not within %v: %s", d, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestVoidWorkerRenewsItsClaimAfterALongOutage: the worker claims a void, sends it, and cannot
// record it (the database went away). The database stays away for longer than half the void's
// lease (the worker used to drop such a void after 15 s of its 30 s lease, and it then waited for
// the lease to lapse); once it is back, the worker renews its claim and records the void done at
// once — well before the lease would have lapsed — without sending it again.
func TestVoidWorkerRenewsItsClaimAfterALongOutage(t *testing.T) {
	r := newVoidRig(t)
	r.flaky.awayAfterClaim.Store(true)
	ref := r.authorise(t, "rv-1")
	within(t, 5*time.Second, "the void claimed and sent", func() bool { return r.ledger.State(ref) == "voided" && r.flaky.away.Load() })
	claimedAt := r.clk.Now()
	if st, lease := r.row(t, ref); st != "pending" || lease.Sub(claimedAt.Add(voidLease)).Abs() > time.Millisecond {
		t.Fatalf("after the claim: %s, lease until %v; want pending until %v", st, lease, claimedAt.Add(voidLease))
	}

	// away for 20 s of the worker's clock, over several of its ticks
	for range 4 {
		r.clk.Advance(5 * time.Second)
		time.Sleep(600 * time.Millisecond)
	}
	if n := r.flaky.finished.Load() + r.flaky.renewed.Load(); n != 0 {
		t.Fatalf("%d calls reached the database while it was away", n)
	}

	r.flaky.away.Store(false)
	back := time.Now()
	within(t, 3*time.Second, "the void recorded done once the database is back", func() bool { st, _ := r.row(t, ref); return st == "done" })
	t.Logf("recorded %v after the database came back, %v into the claim (lease %v)", time.Since(back).Round(time.Millisecond), r.clk.Now().Sub(claimedAt), voidLease)
	if r.flaky.renewed.Load() != 1 {
		t.Fatalf("%d renewals, want 1", r.flaky.renewed.Load())
	}
	if n := r.acq.voids.Load(); n != 1 {
		t.Fatalf("the void was sent %d times; once acknowledged, only its record was left", n)
	}
}

// TestVoidWorkerDropsAVoidAnotherClaimed: the database stays away past the void's lease, and
// another instance claims the void meanwhile. When the database is back, the worker's renewal is
// refused: it neither sends nor records the void again, nor touches the other's lease, and stops
// trying it.
func TestVoidWorkerDropsAVoidAnotherClaimed(t *testing.T) {
	r := newVoidRig(t)
	r.flaky.awayAfterClaim.Store(true)
	ref := r.authorise(t, "rv-2")
	within(t, 5*time.Second, "the void claimed and sent", func() bool { return r.ledger.State(ref) == "voided" && r.flaky.away.Load() })

	r.clk.Advance(voidLease + time.Second)
	other, err := r.db.ClaimVoids(context.Background(), r.clk.Now(), 10, voidLease)
	if err != nil || len(other) != 1 {
		t.Fatalf("another instance's claim once the lease lapsed: %v %+v", err, other)
	}
	time.Sleep(600 * time.Millisecond)

	r.flaky.away.Store(false)
	within(t, 3*time.Second, "the renewal tried", func() bool { return r.flaky.renewed.Load() > 0 })
	time.Sleep(1500 * time.Millisecond) // three more ticks
	if n := r.flaky.renewed.Load(); n != 1 {
		t.Fatalf("%d renewals, want 1 (refused, then the void dropped)", n)
	}
	if n := r.flaky.finished.Load(); n != 0 {
		t.Fatalf("%d records by the worker that lost its claim", n)
	}
	if n := r.acq.voids.Load(); n != 1 {
		t.Fatalf("the void was sent %d times", n)
	}
	if st, lease := r.row(t, ref); st != "pending" || !lease.Equal(other[0].LeaseUntil) {
		t.Fatalf("the other instance's claim: %s until %v, want pending until %v", st, lease, other[0].LeaseUntil)
	}
}

// TestVoidWorkerHoldsABoundedNumber: while records fail (the database takes claims but not
// outcomes), the worker holds at most voidHeldMax voids and claims no more; once records go
// through, it records those and claims the rest.
func TestVoidWorkerHoldsABoundedNumber(t *testing.T) {
	r := newVoidRig(t)
	r.flaky.failFinish.Store(true)
	n := voidHeldMax + voidBatch/2
	for i := range n {
		r.authorise(t, fmt.Sprintf("rb-%d", i))
	}
	within(t, 10*time.Second, "voidHeldMax voids claimed", func() bool { return r.flaky.claimed.Load() >= voidHeldMax })
	time.Sleep(1500 * time.Millisecond) // three more ticks
	if got := r.flaky.claimed.Load(); got != voidHeldMax {
		t.Fatalf("%d voids claimed while none could be recorded, want at most %d", got, voidHeldMax)
	}
	r.flaky.failFinish.Store(false)
	within(t, 10*time.Second, "every void recorded", func() bool {
		p, err := r.db.PendingVoids(context.Background())
		return err == nil && p == 0
	})
	if st := r.ledger.Stats(); st.Open != 0 || st.Sold != 0 || st.Voided != n {
		t.Fatalf("network: %+v, want %d voided", st, n)
	}
}

// TestVoidWorkerSettlesClaimsOfUnknownOutcome: a claim whose COMMIT's answer was lost (it did
// commit), then a renewal whose answer was lost too: the worker holds the void unsent, and its next
// renewal — accepting the lease end the lost one may have written — finds it still its own, so the
// void is sent and recorded at once rather than after its lease.
func TestVoidWorkerSettlesClaimsOfUnknownOutcome(t *testing.T) {
	r := newVoidRig(t)
	r.flaky.claimLost.Store(true)
	r.flaky.renewLost.Store(true)
	ref := r.authorise(t, "ru-1")
	within(t, 3*time.Second, "the void sent and recorded", func() bool { st, _ := r.row(t, ref); return st == "done" })
	if r.ledger.State(ref) != "voided" || r.acq.voids.Load() != 1 {
		t.Fatalf("network: %s, %d voids sent", r.ledger.State(ref), r.acq.voids.Load())
	}
	if n := r.flaky.renewed.Load(); n != 2 {
		t.Fatalf("%d renewals, want 2 (the lost one, then the one that settled it)", n)
	}
}
