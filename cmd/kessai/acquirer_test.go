package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

type lockedBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}
func (l *lockedBuf) String() string { l.mu.Lock(); defer l.mu.Unlock(); return l.b.String() }

const secretKey = "sk_live_kessaiCmdTestSecretNeverPrinted"

// serve --acquirer stripe: the key from the environment or a file, never from the command line
// and never printed; the banner names the live processor and drops the sandbox's test cards;
// --clock is refused.
func TestServeStripe(t *testing.T) {
	ctx := context.Background()
	data := t.TempDir()
	var out, errOut bytes.Buffer
	if err := run(ctx, []string{"store", "create", "--data", data, "--aid", "129005", "--name", "本番"}, &out, &errOut); err != nil {
		t.Fatalf("store create: %v %s", err, errOut.String())
	}
	out.Reset()
	if err := run(ctx, []string{"store", "acquirer", "--data", data, "--aid", "129005", "--acquirer", "stripe", "--stripe-account", "acct_1Shop"}, &out, &errOut); err != nil ||
		!strings.Contains(out.String(), "acquirer stripe, Stripe account acct_1Shop") {
		t.Fatalf("store acquirer: %v %q", err, out.String())
	}
	if err := run(ctx, []string{"store", "acquirer", "--data", data, "--aid", "129005", "--stripe-account", "not-an-account"}, &out, &errOut); err == nil {
		t.Fatal("a malformed Connect account ID was accepted")
	}

	t.Setenv("KESSAI_STRIPE_KEY", "")
	if err := run(ctx, []string{"serve", "--data", data, "--addr", "127.0.0.1:0", "--acquirer", "stripe"}, &out, &errOut); err == nil ||
		!strings.Contains(err.Error(), "KESSAI_STRIPE_KEY") {
		t.Fatalf("no key: %v", err)
	}
	errOut.Reset()
	err := run(ctx, []string{"serve", "--data", data, "--addr", "127.0.0.1:0", "--acquirer", "stripe", "--stripe-key=" + secretKey}, &out, &errOut)
	if err == nil || strings.Contains(err.Error()+errOut.String(), secretKey) {
		t.Fatalf("a key on the command line: %v (must be refused without echoing it)", err)
	}
	keyFile := filepath.Join(t.TempDir(), "stripe.key")
	os.WriteFile(keyFile, []byte(secretKey+"\n"), 0o600)
	if err := run(ctx, []string{"serve", "--data", data, "--addr", "127.0.0.1:0", "--acquirer", "stripe", "--stripe-key-file", keyFile,
		"--clock", "2030-01-01T00:00:00+09:00"}, &out, &errOut); err == nil {
		t.Fatal("--clock accepted with a real acquirer")
	}

	// a live key without the operator's card-data key: refused, no key generated next to the data
	t.Setenv("KESSAI_VAULT_KEY", "")
	err = run(ctx, []string{"serve", "--data", data, "--addr", "127.0.0.1:0", "--acquirer", "stripe", "--stripe-key-file", keyFile,
		"--stripe-api-base", "http://127.0.0.1:9"}, &out, &errOut)
	if err == nil || !strings.Contains(err.Error(), "KESSAI_VAULT_KEY") {
		t.Fatalf("a live Stripe key without KESSAI_VAULT_KEY: %v, want refused", err)
	}
	if _, serr := os.Stat(filepath.Join(data, "vault.key")); serr == nil {
		t.Fatal("a refused live start left a generated vault key in the data directory")
	}
	vk := make([]byte, 32)
	rand.Read(vk)
	t.Setenv("KESSAI_VAULT_KEY", base64.StdEncoding.EncodeToString(vk))

	sctx, cancel := context.WithCancel(ctx)
	stdout, stderr := &lockedBuf{}, &lockedBuf{}
	done := make(chan error, 1)
	go func() {
		done <- run(sctx, []string{"serve", "--data", data, "--addr", "127.0.0.1:0", "--acquirer", "stripe", "--stripe-key-file", keyFile,
			"--stripe-api-base", "http://127.0.0.1:9"}, stdout, stderr)
	}()
	for deadline := time.Now().Add(30 * time.Second); !strings.Contains(stdout.String(), "Open:") && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
	}
	cancel()
	<-done
	banner := stdout.String()
	for _, want := range []string{"PRODUCTION", "processor: Stripe (http://127.0.0.1:9, live key", "acquirer health: off", "LIVE: real cards are charged", "two-step sign-in: required"} {
		if !strings.Contains(banner, want) {
			t.Errorf("banner lacks %q:\n%s", want, banner)
		}
	}
	for _, not := range []string{"テスト環境", "Test cards", "4111 1111", "Kessai-Scenario", "SANDBOX", "sandbox=true", "sandbox clock"} {
		if strings.Contains(banner, not) || strings.Contains(stderr.String(), not) {
			t.Errorf("banner or log of a real acquirer shows %q:\n%s\n%s", not, banner, stderr.String())
		}
	}
	if !strings.Contains(banner, "vault key from KESSAI_VAULT_KEY") {
		t.Errorf("banner does not say where the card-data key came from:\n%s", banner)
	}
	if strings.Contains(banner+stderr.String(), secretKey) || strings.Contains(banner+stderr.String(), "CmdTestSecret") {
		t.Fatal("the Stripe secret key was printed or logged")
	}
}

// A Stripe test-mode key (no money moves, Stripe refuses real cards) may start without
// KESSAI_VAULT_KEY, on a key generated in the data directory — and says so without calling itself
// a sandbox: it is a real acquirer (no TEST mark, no test cards).
func TestServeStripeTestModeKey(t *testing.T) {
	ctx := context.Background()
	data := t.TempDir()
	t.Setenv("KESSAI_VAULT_KEY", "")
	t.Setenv("KESSAI_STRIPE_KEY", "sk_test_kessaiCmdTestModeKey")
	sctx, cancel := context.WithCancel(ctx)
	stdout, stderr := &lockedBuf{}, &lockedBuf{}
	done := make(chan error, 1)
	go func() {
		done <- run(sctx, []string{"serve", "--data", data, "--addr", "127.0.0.1:0", "--acquirer", "stripe", "--stripe-api-base", "http://127.0.0.1:9"}, stdout, stderr)
	}()
	for deadline := time.Now().Add(30 * time.Second); !strings.Contains(stdout.String(), "Open:") && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("a test-mode key without KESSAI_VAULT_KEY: %v", err)
	}
	banner := stdout.String()
	if !strings.Contains(banner, "test-mode key") || !strings.Contains(banner, "Stripe test mode: generated a new vault key") ||
		!strings.Contains(banner, "PRODUCTION") || !strings.Contains(banner, "no money moves") {
		t.Errorf("banner:\n%s", banner)
	}
	for _, not := range []string{"テスト環境", "SANDBOX", "sandbox=true", "sandbox clock", "Test cards", "real cards are charged"} {
		if strings.Contains(banner, not) || strings.Contains(stderr.String(), not) {
			t.Errorf("a Stripe server's banner or log shows %q:\n%s\n%s", not, banner, stderr.String())
		}
	}
}
