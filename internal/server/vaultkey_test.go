package server

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"io"
	"log/slog"
	"strings"
	"testing"
)

// TestForeignVaultKeyIsRefused: an instance started with another key than the one the stored
// card data was sealed with refuses to start (it could not read the cards, and would seal new
// ones under a second key), saying what to do; the right key starts.
func TestForeignVaultKeyIsRefused(t *testing.T) {
	key := func() string {
		k := make([]byte, 32)
		rand.Read(k)
		return base64.StdEncoding.EncodeToString(k)
	}
	dir := t.TempDir()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	first := key()
	s, err := New(context.Background(), Config{DataDir: dir, VaultKeyEnv: first, Log: log})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	if _, err := New(context.Background(), Config{DataDir: dir, VaultKeyEnv: key(), Log: log}); err == nil || !strings.Contains(err.Error(), "cannot read the card data") {
		t.Fatalf("a foreign key: %v, want a refusal naming the card data", err)
	}
	s, err = New(context.Background(), Config{DataDir: dir, VaultKeyEnv: first, Log: log})
	if err != nil {
		t.Fatalf("the right key: %v", err)
	}
	s.Close()
}
