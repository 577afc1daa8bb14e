package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"kessai/internal/server"
)

// TestLinkCreate: kessai link create signs with the key the server uses (DATA/vault.key in the
// sandbox), so the printed link opens the payment page without a Referer on a store with a
// source-URL allow-list, and the same link with a changed key is refused with 403.
func TestLinkCreate(t *testing.T) {
	ctx := context.Background()
	data := t.TempDir()
	var out, errOut bytes.Buffer
	if err := run(ctx, []string{"store", "create", "--data", data, "--aid", "124001", "--name", "互換",
		"--allow-origin", "https://shop.example.jp"}, &out, &errOut); err != nil {
		t.Fatalf("store create: %v\n%s", err, errOut.String())
	}
	s, err := server.New(ctx, server.Config{DataDir: data, Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(s.Handler())
	defer func() { srv.Close(); s.Close() }()

	link := func(args ...string) string {
		t.Helper()
		var out, errOut bytes.Buffer
		if err := run(ctx, append([]string{"link", "create", "--data", data, "--base-url", srv.URL}, args...), &out, &errOut); err != nil {
			t.Fatalf("link create %v: %v\n%s", args, err, errOut.String())
		}
		m := regexp.MustCompile(`https?://\S+`).FindString(out.String())
		if !strings.Contains(m, "mailauthckey=") {
			t.Fatalf("no link printed: %q", out.String())
		}
		return m
	}
	get := func(u string) (int, string) {
		t.Helper()
		res, err := http.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b)
	}
	good := link("--aid", "124001", "--am", "1200", "--tx", "120", "--expires", "2d")
	if code, body := get(good); code != 200 || !strings.Contains(body, `name="cn"`) || !strings.Contains(body, "1,320円") {
		t.Fatalf("good link: %d", code)
	}
	bad := regexp.MustCompile(`(mailauthckey=)[^&]+`).ReplaceAllString(good, "${1}00000000")
	if code, body := get(bad); code != 403 || strings.Contains(body, `name="cn"`) {
		t.Fatalf("bad key: %d", code)
	}
	if code, _ := get(link("--aid", "124001", "--jb", "CHECK")); code != 200 {
		t.Fatalf("CHECK link: %d", code)
	}
	for _, args := range [][]string{
		{"--aid", "124001"},
		{"--aid", "124001", "--am", "100", "--jb", "CHECK"},
		{"--aid", "124001", "--jb", "AUTH"},
		{"--aid", "124001", "--am", "0"},
		{"--aid", "124001", "--tx", "10"},
		{"--aid", "124001", "--am", "100", "--expires", "400d"},
		{"--aid", "12400", "--am", "100"},
	} {
		var out, errOut bytes.Buffer
		err := run(ctx, append([]string{"link", "create", "--data", data}, args...), &out, &errOut)
		if !errors.Is(err, errUsage) || strings.Contains(out.String(), "http") {
			t.Fatalf("%v: %v, printed %q", args, err, out.String())
		}
	}
	var errOut2 bytes.Buffer
	if err := run(ctx, []string{"link", "create", "--data", data, "--aid", "124001", "--iid", "NOPE"}, io.Discard, &errOut2); err == nil || !strings.Contains(err.Error(), "NOPE") {
		t.Fatalf("unknown product: %v", err)
	}
	if err := run(ctx, []string{"link", "create", "--data", data, "--aid", "999999", "--am", "100"}, io.Discard, io.Discard); err == nil {
		t.Fatal("unknown store accepted")
	}
}

// TestServeKickbackSourceChecked: --kickback-source takes addresses or CIDRs, comma-separated or
// repeated; anything else stops the server before it listens.
func TestServeKickbackSourceChecked(t *testing.T) {
	err := run(context.Background(), []string{"serve", "--data", t.TempDir(), "--addr", "127.0.0.1:0", "--kickback-source", "203.0.113.7,not-an-ip"}, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "not-an-ip") {
		t.Fatalf("bad kickback source: %v", err)
	}
}
