package payment

import (
	"context"
	"errors"
	"log/slog"
	"testing"

	"kessai/internal/acquirer"
	"kessai/internal/clock"
	"kessai/internal/store"
	"kessai/internal/vault"
)

// A void whose payment check cannot read Kessai's own database fails as errVoidStorage, which
// the worker tries again after a second instead of the growing backoff meant for a network that
// fails (RunVoids); and nothing is sent to the network meanwhile.
func TestVoidCheckFailingInTheDatabaseIsAStorageFailure(t *testing.T) {
	ctx := context.Background()
	db, err := store.Open(ctx, store.Config{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	db.Close() // every query now fails
	l := acquirer.NewLedger()
	sb := acquirer.Sandbox{Ledger: l}
	resp, err := sb.Authorize(ctx, acquirer.Request{PAN: "4111111111111111", Exp: "4012", CVV: "123", Amount: 500, Sale: true, Key: "k"})
	if err != nil || !resp.Approved {
		t.Fatalf("authorize: %v %+v", err, resp)
	}
	s := New(db, vault.GenerateKeyRing(), sb, clock.Real{}, slog.New(slog.DiscardHandler))
	err = s.voidOne(ctx, &store.Void{ID: 1, AID: "130003", Gid: "g1", NetRef: resp.Ref, Attempts: 6})
	if !errors.Is(err, errVoidStorage) {
		t.Fatalf("a void whose payment check failed in the database: %v, want errVoidStorage", err)
	}
	if st := l.State(resp.Ref); st != "sold" {
		t.Fatalf("the authorisation is %q after a void that could not check its payment, want it left sold", st)
	}
}
