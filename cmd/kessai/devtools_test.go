package main

import (
	"bytes"
	"context"
	"errors"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"kessai/internal/api"
	"kessai/internal/store"
	"kessai/internal/testenv"
)

func runOK(t *testing.T, args ...string) string {
	t.Helper()
	var out, errOut bytes.Buffer
	if err := run(context.Background(), args, &out, &errOut); err != nil {
		t.Fatalf("kessai %s: %v\n%s", strings.Join(args, " "), err, errOut.String())
	}
	return out.String()
}

// TestAPIKeyCommands: create prints the key once (its last line), list shows name and prefix but
// never the key, revoke revokes; bad input is a usage error.
func TestAPIKeyCommands(t *testing.T) {
	d := filepath.Join(t.TempDir(), "data")
	runOK(t, "store", "create", "--data", d, "--aid", "128001", "--name", "開発")
	out := runOK(t, "apikey", "create", "--data", d, "--aid", "128001", "--name", "ci")
	key := regexp.MustCompile(`ksk_[A-Za-z0-9_\-]{32}`).FindString(out)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if key == "" || lines[len(lines)-1] != key {
		t.Fatalf("apikey create printed %q", out)
	}
	ls := runOK(t, "apikey", "list", "--data", d, "--aid", "128001")
	if strings.Contains(ls, key) || !strings.Contains(ls, "ci") || !strings.Contains(ls, key[:10]) || !strings.Contains(ls, "active") {
		t.Fatalf("apikey list: %q", ls)
	}
	runOK(t, "apikey", "revoke", "--data", d, "--aid", "128001", "1")
	if ls := runOK(t, "apikey", "list", "--data", d, "--aid", "128001"); !strings.Contains(ls, "revoked") {
		t.Fatalf("after revoke: %q", ls)
	}
	var o, e bytes.Buffer
	for _, args := range [][]string{
		{"apikey", "create", "--data", d, "--aid", "999999", "--name", "x"},
		{"apikey", "create", "--data", d, "--aid", "128001", "--name", ""},
		{"apikey", "revoke", "--data", d, "--aid", "128001", "1"},
		{"listen", "--url", "http://x", "--key", "k", "--forward-to", "nope"},
		{"listen", "--url", "http://x", "--key", "k", "--forward-to", "http://l/n", "--events", "refund"},
		{"clock", "advance", "soon", "--url", "http://x", "--key", "k"},
	} {
		if err := run(context.Background(), args, &o, &e); !errors.Is(err, errUsage) {
			t.Errorf("kessai %s: %v, want a usage error", strings.Join(args, " "), err)
		}
	}
}

// TestClockCommandMovesARunningServer drives kessai clock against a real server.
func TestClockCommandMovesARunningServer(t *testing.T) {
	s := testenv.Start(t, testenv.Options{})
	s.CreateStore(t, "128001", "開発", nil)
	text, k := api.NewKey("128001", "ci", "test", s.Cfg.Clock.Now())
	if err := s.DB.CreateAPIKey(context.Background(), k, store.AuditEntry{At: time.Now(), Actor: "test", AID: "128001", Action: "apikey.create"}); err != nil {
		t.Fatal(err)
	}
	flags := []string{"--url", s.URL, "--key", text}
	out := runOK(t, append([]string{"clock", "set", "2030-01-01T00:00:00+09:00"}, flags...)...)
	if !strings.Contains(out, "2029-12-31T15:00:") && !strings.Contains(out, "2030-01-01T00:00:") {
		t.Fatalf("clock set: %q", out)
	}
	runOK(t, append([]string{"clock", "freeze"}, flags...)...)
	out = runOK(t, append([]string{"clock", "advance", "30d"}, flags...)...)
	if !strings.Contains(out, "frozen") || !strings.Contains(s.Cfg.Clock.Now().Format("2006-01"), "2030-01") {
		t.Fatalf("clock advance while frozen: %q (server at %s)", out, s.Cfg.Clock.Now())
	}
	if got := s.Cfg.Clock.Now().In(time.FixedZone("JST", 9*3600)).Format("2006-01-02T15:04"); got != "2030-01-31T00:00" {
		t.Fatalf("server clock after set+freeze+advance 30d: %s", got)
	}
	var o, e bytes.Buffer
	err := run(context.Background(), append([]string{"clock", "show"}, "--url", s.URL, "--key", "ksk_wrong"), &o, &e)
	if err == nil || !strings.Contains(err.Error(), "401") {
		t.Fatalf("clock with a wrong key: %v", err)
	}
}
