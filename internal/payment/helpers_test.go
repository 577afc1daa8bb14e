package payment

import (
	"context"
	"log/slog"
	"testing"

	"kessai/internal/acquirer"
	"kessai/internal/clock"
	"kessai/internal/store"
	"kessai/internal/vault"
)

// sandboxService opens a fresh SQLite database with one store (aid) and returns a payment
// service on the sandbox network, with the database and the store; the database closes with the
// test.
func sandboxService(t *testing.T, aid string) (*Service, *store.DB, *store.Store) {
	t.Helper()
	ctx := context.Background()
	db, err := store.Open(ctx, store.Config{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	st := store.NewStore(aid, "test")
	if err := db.CreateStore(ctx, st); err != nil {
		t.Fatal(err)
	}
	s := New(db, vault.GenerateKeyRing(), acquirer.Sandbox{Ledger: acquirer.NewLedger()}, clock.Real{}, slog.New(slog.DiscardHandler))
	return s, db, st
}
