package payment

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"kessai/internal/acquirer"
	"kessai/internal/clock"
	"kessai/internal/store"
	"kessai/internal/vault"
)

// TestReplayNeverVoidsARecordedSale: a charge whose write met a taken key (its own first commit,
// whose answer was lost) and whose look-ups then fail (the database going away again) is answered
// outcome-unknown, and its authorisation — held by the recorded payment — is never voided: not at
// once, and not by the void worker once the database is back. Before, the failed look-ups were
// read as "another request won" and the recorded sale was voided at the network.
func TestReplayNeverVoidsARecordedSale(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	db, err := store.Open(ctx, store.Config{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	st := store.NewStore("130002", "replay")
	if err := db.CreateStore(ctx, st); err != nil {
		t.Fatal(err)
	}
	ledger := acquirer.NewLedger()
	log := slog.New(slog.DiscardHandler)
	s := New(db, vault.GenerateKeyRing(), acquirer.Sandbox{Ledger: ledger}, clock.Real{}, log)
	res, err := s.Charge(ctx, &ChargeRequest{Store: st, Job: "CAPTURE", Cod: "rp-1", Am: 1000, Md: "10", Source: "gateway",
		Card: &CardInput{PAN: "4111111111111111", Exp: "4012", CVV: "123", Holder: "TARO YAMADA"}, AcceptedAt: time.Now()})
	if err != nil || res.P.Rst != "1" {
		t.Fatalf("charge: %v %+v", err, res)
	}
	p := res.P
	if got := ledger.State(p.NetRef); got == "" {
		t.Fatalf("the sandbox has no authorisation %s", p.NetRef)
	}
	sold := ledger.State(p.NetRef)

	// the reads fail from here on (their pool is gone); writes still go through
	db.R.Close()
	_, err = s.replayed(ctx, st, p.Cod, p, p.Fingerprint, true)
	if CodeOf(err) != CodeOutcomeUnknown {
		t.Fatalf("replay with failing reads: %v, want %s", err, CodeOutcomeUnknown)
	}
	if got := ledger.State(p.NetRef); got != sold {
		t.Fatalf("the recorded sale was voided at once: %s → %s", sold, got)
	}

	// the same with the database wholly gone: the void cannot be recorded, and is still not sent
	// at once (as a void known to be needed is), only kept for the worker
	db.W.Close()
	if _, err := s.replayed(ctx, st, p.Cod, p, p.Fingerprint, true); CodeOf(err) != CodeOutcomeUnknown {
		t.Fatalf("replay with the database gone: %v", err)
	}
	if got := ledger.State(p.NetRef); got != sold {
		t.Fatalf("the recorded sale was voided at once with the database gone: %s → %s", sold, got)
	}
	if len(s.voidBacklog) != 1 {
		t.Fatalf("%d voids kept in memory, want 1", len(s.voidBacklog))
	}

	// the database is back: the void worker reads that the payment holds the authorisation
	db2, err := store.Open(ctx, store.Config{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer db2.Close()
	s2 := New(db2, s.Vault, s.Acq, clock.Real{}, log)
	vs, err := db2.ClaimVoids(ctx, time.Now().Add(time.Hour), 10, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if len(vs) != 1 || vs[0].NetRef != p.NetRef {
		t.Fatalf("queued voids %+v, want the one of %s, to be checked", vs, p.NetRef)
	}
	if err := s2.voidOne(ctx, vs[0]); err != nil {
		t.Fatal(err)
	}
	if got := ledger.State(p.NetRef); got != sold {
		t.Fatalf("the void worker voided a recorded sale: %s → %s", sold, got)
	}

	// an authorisation whose payment is not recorded is still voided by the same worker
	lost := &store.Payment{Gid: "1234567890123452", AID: st.AID, Cod: "rp-2", NetRef: ""}
	resp, err := s2.Acq.Authorize(ctx, acquirer.Request{PAN: "5555555555554444", Exp: "4012", CVV: "123", Amount: 500, Sale: true, Key: "rp-2"})
	if err != nil || !resp.Approved {
		t.Fatalf("authorize: %v %+v", err, resp)
	}
	lost.NetRef = resp.Ref
	s2.queueVoid(ctx, st.AID, lost, "lost-race")
	vs, err = db2.ClaimVoids(ctx, time.Now().Add(time.Hour), 10, time.Minute)
	if err != nil || len(vs) != 1 {
		t.Fatalf("claim: %v %+v", err, vs)
	}
	before := ledger.State(resp.Ref)
	if err := s2.voidOne(ctx, vs[0]); err != nil {
		t.Fatal(err)
	}
	if got := ledger.State(resp.Ref); got == before {
		t.Fatalf("an unrecorded authorisation was not voided (%s)", got)
	}
}
