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

// runKessai runs kessai commands in this process, each with tail appended to its arguments: kessai
// answers the command's output and error, mustRun its output, failing the test on an error.
func runKessai(t *testing.T, tail ...string) (kessai func(args ...string) (string, error), mustRun func(args ...string) string) {
	kessai = func(args ...string) (string, error) {
		var out, errOut bytes.Buffer
		err := run(context.Background(), append(args, tail...), &out, &errOut)
		return out.String() + errOut.String(), err
	}
	mustRun = func(args ...string) string {
		t.Helper()
		out, err := kessai(args...)
		if err != nil {
			t.Fatalf("kessai %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return out
	}
	return kessai, mustRun
}

// TestMFAResetCommands: kessai user mfa-reset and kessai operator mfa-reset remove a second factor,
// end the account's sessions and write the reason to the audit log; the reason is required.
func TestMFAResetCommands(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	kessai, mustRun := runKessai(t)
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

// TestAccountCommands: kessai user create|list|passwd and kessai operator create|passwd check
// their flags (each wrong one a usage error), name what they did not find, and do what they say.
func TestAccountCommands(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	kessai, mustRun := runKessai(t, "--data", dir)
	mustRun("store", "create", "--aid", "123456", "--name", "Shop")
	for _, args := range [][]string{
		{"user", "create", "--login", "owner", "--password", "long-enough-1"},                                      // no --aid
		{"user", "create", "--aid", "12345", "--login", "owner", "--password", "long-enough-1"},                    // 5 digits
		{"user", "create", "--aid", "123456", "--login", "own er", "--password", "long-enough-1"},                  // bad login
		{"user", "create", "--aid", "123456", "--login", "owner", "--role", "root", "--password", "long-enough-1"}, // bad role
		{"user", "create", "--aid", "123456", "--login", "owner"},                                                  // no password
		{"user", "create", "--aid", "123456", "--login", "owner", "--password", "short"},                           // policy
		{"user", "list"},
		{"user", "list", "--aid", "abc"},
		{"user", "passwd", "--aid", "123456", "--password", "long-enough-2"},
		{"user", "passwd", "--aid", "123456", "--login", "owner"},
		{"operator", "create", "--login", "", "--password", "long-enough-1"},
		{"operator", "create", "--login", "ops"},
		{"operator", "passwd", "--login", "ops"},
		{"user", "frobnicate"},
		{"operator", "list"},
	} {
		if out, err := kessai(args...); !errors.Is(err, errUsage) {
			t.Errorf("kessai %s: %v, want a usage error\n%s", strings.Join(args, " "), err, out)
		}
	}
	if _, err := kessai("user", "create", "--aid", "654321", "--login", "owner", "--password", "long-enough-1"); err == nil || !strings.Contains(err.Error(), "no store 654321") {
		t.Fatalf("user of an unknown store: %v", err)
	}
	if out := mustRun("user", "create", "--aid", "123456", "--login", "owner", "--password", "long-enough-1"); out != "created admin user owner of store 123456\n" {
		t.Fatalf("user create: %q", out)
	}
	if out := mustRun("user", "add", "--aid", "123456", "--login", "look", "--role", "viewer", "--password", "long-enough-1"); out != "created viewer user look of store 123456\n" {
		t.Fatalf("user add: %q", out)
	}
	out := mustRun("user", "list", "--aid", "123456")
	if !strings.HasPrefix(out, "LOGIN") || !strings.Contains(out, "owner  admin") || !strings.Contains(out, "look   viewer") {
		t.Fatalf("user list:\n%s", out)
	}
	if _, err := kessai("user", "passwd", "--aid", "123456", "--login", "nobody", "--password", "long-enough-2"); err == nil || err.Error() != "no user nobody in store 123456" {
		t.Fatalf("passwd of an unknown user: %v", err)
	}
	if out := mustRun("operator", "create", "--login", "ops", "--password", "long-enough-1"); out != "created operator ops\n" {
		t.Fatalf("operator create: %q", out)
	}
	if _, err := kessai("operator", "passwd", "--login", "nobody", "--password", "long-enough-2"); err == nil || err.Error() != "no operator nobody" {
		t.Fatalf("passwd of an unknown operator: %v", err)
	}
	db, err := store.Open(ctx, store.Config{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	u0, _ := db.UserByLogin(ctx, "123456", "owner")
	o0, _ := db.OperatorByLogin(ctx, "ops")
	db.Close()
	if out := mustRun("user", "password", "--aid", "123456", "--login", "owner", "--password", "long-enough-2"); !strings.HasPrefix(out, "password of owner (store 123456) changed") {
		t.Fatalf("user passwd: %q", out)
	}
	if out := mustRun("operator", "passwd", "--login", "ops", "--password", "long-enough-2"); out != "password of operator ops changed\n" {
		t.Fatalf("operator passwd: %q", out)
	}
	db, err = store.Open(ctx, store.Config{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	u1, _ := db.UserByLogin(ctx, "123456", "owner")
	o1, _ := db.OperatorByLogin(ctx, "ops")
	if u1.PwHash == u0.PwHash || !auth.VerifyPassword(u1.PwHash, "long-enough-2") {
		t.Fatal("user passwd did not set the new password")
	}
	if o1.PwHash == o0.PwHash || !auth.VerifyPassword(o1.PwHash, "long-enough-2") {
		t.Fatal("operator passwd did not set the new password")
	}
}
