package main

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"kessai/internal/auth"
	"kessai/internal/clock"
	"kessai/internal/store"
	"kessai/internal/vault"
)

// TestMFAResetCommands: kessai user mfa-reset and kessai operator mfa-reset remove a second factor,
// end the account's sessions and write the reason to the audit log; the reason is required.
func TestMFAResetCommands(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	kessai := func(args ...string) (string, error) {
		var out, errOut bytes.Buffer
		err := run(ctx, args, &out, &errOut)
		return out.String() + errOut.String(), err
	}
	mustRun := func(args ...string) string {
		t.Helper()
		out, err := kessai(args...)
		if err != nil {
			t.Fatalf("kessai %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return out
	}
	mustRun("store", "create", "--data", dir, "--aid", "123456", "--name", "Shop")
	mustRun("user", "create", "--data", dir, "--aid", "123456", "--login", "owner", "--password", "long-enough-1")
	mustRun("operator", "create", "--data", dir, "--login", "ops", "--password", "long-enough-1")

	db, err := store.Open(ctx, store.Config{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	a := auth.NewAuthenticator(db, clock.Real{})
	a.Vault = vault.GenerateKeyRing()
	u, _ := db.UserByLogin(ctx, "123456", "owner")
	o, _ := db.OperatorByLogin(ctx, "ops")
	enrol := func(acc *auth.Account) {
		t.Helper()
		e, err := a.BeginEnrolment(ctx, acc)
		if err != nil {
			t.Fatal(err)
		}
		if e.URL == "" {
			t.Fatal("no otpauth URL")
		}
		m, _ := db.GetMFA(ctx, acc.Kind, acc.ID)
		secret, err := a.Vault.OpenSecret(auth.SecretPurpose(acc.Kind, acc.ID), m.KeyID, m.Secret)
		if err != nil {
			t.Fatal(err)
		}
		if _, out, err := a.ConfirmEnrolment(ctx, acc, auth.TOTPCode(secret, time.Now()), ""); out != auth.OK || err != nil {
			t.Fatalf("enrol: %v %v", out, err)
		}
		if _, _, err := auth.NewSessions(db, clock.Real{}).Start(ctx, acc.Kind, acc.ID, acc.AID, "ja"); err != nil {
			t.Fatal(err)
		}
	}
	enrol(&auth.Account{Kind: store.SessionMerchant, ID: u.ID, AID: "123456", Login: "owner", Role: store.RoleAdmin})
	enrol(&auth.Account{Kind: store.SessionOperator, ID: o.ID, Login: "ops"})
	db.Close()

	if _, err := kessai("user", "mfa-reset", "--data", dir, "--aid", "123456", "--login", "owner"); !errors.Is(err, errUsage) {
		t.Fatalf("without --reason: %v", err)
	}
	if _, err := kessai("user", "mfa-reset", "--data", dir, "--aid", "123456", "--login", "nobody", "--reason", "x"); err == nil {
		t.Fatal("unknown user accepted")
	}
	if out := mustRun("user", "mfa-reset", "--data", dir, "--aid", "123456", "--login", "owner", "--reason", "lost phone"); !strings.Contains(out, "two-step sign-in reset") {
		t.Fatalf("user mfa-reset: %q", out)
	}
	if out := mustRun("operator", "mfa-reset", "--data", dir, "--login", "ops", "--reason", "new phone"); !strings.Contains(out, "two-step sign-in reset") {
		t.Fatalf("operator mfa-reset: %q", out)
	}
	if out := mustRun("operator", "mfa-reset", "--data", dir, "--login", "ops", "--reason", "again"); !strings.Contains(out, "had no second factor") {
		t.Fatalf("second reset: %q", out)
	}
	if out, err := kessai("user", "mfa-reset", "-h"); err == nil || !strings.Contains(out, "-reason") {
		t.Fatalf("help: %v %q", err, out)
	}

	db, err = store.Open(ctx, store.Config{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, k := range []struct {
		kind string
		id   int64
	}{{store.SessionMerchant, u.ID}, {store.SessionOperator, o.ID}} {
		if _, err := db.GetMFA(ctx, k.kind, k.id); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("%s still has a second factor: %v", k.kind, err)
		}
		var n int
		db.QueryRow(ctx, `SELECT COUNT(*) FROM sessions WHERE kind = ? AND principal = ?`, k.kind, k.id).Scan(&n)
		if n != 0 {
			t.Fatalf("%s still has %d sessions", k.kind, n)
		}
	}
	es, _ := db.AuditLog(ctx, store.AuditFilter{Action: auth.ActMFAReset})
	if len(es) != 3 || es[2].Actor != "cli" || es[2].AID != "123456" || !strings.Contains(es[2].Detail, `reason="lost phone"`) ||
		!strings.Contains(es[1].Detail, "operator:ops") {
		t.Fatalf("audit: %+v", es)
	}
}
