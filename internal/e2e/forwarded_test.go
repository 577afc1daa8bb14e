package e2e

// Issue 14 item 2: behind a trusted proxy the client address is read from every X-Forwarded-For
// line, as one list, from the right. Three decisions rest on it and are each tried over real HTTP:
// the store's IP allow-list (ER003), --operator-allow (passing through maintenance) and the
// card-testing brake's key.

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"kessai/internal/clock"
	"kessai/internal/maintenance"
	"kessai/internal/store"
	"kessai/internal/testenv"
	"kessai/internal/velocity"
)

// postXFF posts form to base+path with the given X-Forwarded-For lines (each its own header line).
func postXFF(t *testing.T, base, path string, form url.Values, xff ...string) (int, string) {
	t.Helper()
	req, err := http.NewRequest("POST", base+path, strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for _, l := range xff {
		req.Header.Add("X-Forwarded-For", l)
	}
	resp, err := testenv.Client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, strings.TrimSpace(string(b))
}

func xffCharge(aid, cod string) url.Values {
	return url.Values{"aid": {aid}, "jb": {"CAPTURE"}, "rt": {"1"}, "cod": {cod}, "cn": {"4111111111111111"}, "ed": {"4012"},
		"fn": {"YAMADA"}, "ln": {"TARO"}, "cvv": {"123"}, "am": {"1000"}, "tx": {"100"}, "sf": {"0"}}
}

func TestForwardedForAllowList(t *testing.T) {
	s := testenv.Start(t, testenv.Options{TrustedProxy: []string{"127.0.0.1/32"}})
	s.CreateStore(t, "140001", "許可制", func(st *store.Store) { st.AllowIPs = []string{"10.9.9.9/32"} })
	cases := []struct {
		name  string
		xff   []string
		allow bool
	}{
		{"spoofed first line, real address in a second line", []string{"10.9.9.9", "203.0.113.7"}, false},
		{"spoofed left of a comma list", []string{"10.9.9.9, 203.0.113.7"}, false},
		{"spoofed in a line, real in a list after it", []string{"10.9.9.9", "198.51.100.1, 203.0.113.7"}, false},
		{"allowed client seen through the proxy", []string{"203.0.113.7, 10.9.9.9"}, true},
		{"allowed client in the last line", []string{"203.0.113.7", "10.9.9.9"}, true},
		{"allowed client with a port", []string{"10.9.9.9:4711"}, true},
		{"malformed last hop", []string{"10.9.9.9, not-an-ip"}, false},
		{"malformed hop right of the allowed address", []string{"10.9.9.9", "unknown"}, false},
		{"zoned address", []string{"10.9.9.9", "fe80::1%eth0"}, false},
		{"no header: the proxy itself", nil, false},
	}
	for i, c := range cases {
		_, body := postXFF(t, s.URL, "/gateway/gateway.aspx", xffCharge("140001", "xff-"+string(rune('a'+i))), c.xff...)
		if c.allow && strings.HasPrefix(body, "ER:") {
			t.Errorf("%s (%q): refused %q", c.name, c.xff, body)
		}
		if !c.allow && body != "ER:ER003" {
			t.Errorf("%s (%q): answered %q, want ER:ER003", c.name, c.xff, body)
		}
	}
}

func TestForwardedForOperatorAllow(t *testing.T) {
	at := time.Date(2026, 7, 22, 3, 0, 0, 0, time.UTC)
	s := testenv.Start(t, testenv.Options{Clock: clock.NewFixed(at), TrustedProxy: []string{"127.0.0.1/32"},
		OperatorAllow: []string{"192.0.2.0/24"}})
	s.CreateStore(t, "140002", "メンテ", nil)
	w := maintenance.Window{Start: at.Add(-time.Hour), End: at.Add(time.Hour), Zone: maintenance.DefaultZone, Kind: maintenance.KindEmergency,
		Status: maintenance.StatusAnnounced, Scope: maintenance.Scope{Ops: maintenance.DefaultScope}}
	if _, err := s.DB.AddWindows(context.Background(), []maintenance.Window{w}, "test"); err != nil {
		t.Fatal(err)
	}
	n := 0
	send := func(xff ...string) string {
		n++
		_, b := postXFF(t, s.URL, "/gateway/gateway.aspx", xffCharge("140002", "op-"+string(rune('a'+n))), xff...)
		return b
	}
	deadline := time.Now().Add(10 * time.Second)
	for send("203.0.113.7") != "ER:ER999" {
		if time.Now().After(deadline) {
			t.Fatal("the window never closed the gateway")
		}
		time.Sleep(50 * time.Millisecond)
	}
	for _, xff := range [][]string{{"192.0.2.5", "203.0.113.7"}, {"192.0.2.5, 203.0.113.7"}, {"192.0.2.5, bogus"}} {
		if b := send(xff...); b != "ER:ER999" {
			t.Errorf("X-Forwarded-For %q passed through the window: %q", xff, b)
		}
	}
	for _, xff := range [][]string{{"203.0.113.7, 192.0.2.5"}, {"203.0.113.7", "192.0.2.5"}} {
		if b := send(xff...); strings.HasPrefix(b, "ER:") {
			t.Errorf("the operator's address %q was refused: %q", xff, b)
		}
	}
}

func TestForwardedForCardTestingBrake(t *testing.T) {
	s := testenv.Start(t, testenv.Options{TrustedProxy: []string{"127.0.0.1/32"}})
	s.CreateStore(t, "140003", "ブレーキ", nil)
	token := func(cn string, xff ...string) int {
		st, _ := postXFF(t, s.URL, "/gateway/token.json", url.Values{"aid": {"140003"}, "cn": {cn}, "ed": {"3012"}, "fn": {"TARO"},
			"ln": {"YAMADA"}, "cvv": {"123"}}, xff...)
		return st
	}
	// the card tester at 203.0.113.9 claims another address in a first line of its own
	for i := 0; i < velocity.DefaultMaxFailures; i++ {
		if st := token("4111111111111112", "198.51.100.1", "203.0.113.9"); st == http.StatusOK || st == http.StatusTooManyRequests {
			t.Fatalf("bad card %d: %d", i+1, st)
		}
	}
	if st := token("4111111111111111", "203.0.113.9"); st != http.StatusTooManyRequests {
		t.Fatalf("the tester's real address is not braked after %d failures: %d", velocity.DefaultMaxFailures, st)
	}
	if st := token("4111111111111111", "203.0.113.9, 127.0.0.1"); st != http.StatusTooManyRequests {
		t.Fatalf("the tester's address behind two proxies is not braked: %d", st)
	}
	var m map[string]any
	_, body := postXFF(t, s.URL, "/gateway/token.json", url.Values{"aid": {"140003"}, "cn": {"4111111111111111"}, "ed": {"3012"},
		"fn": {"TARO"}, "ln": {"YAMADA"}, "cvv": {"123"}}, "198.51.100.1")
	json.Unmarshal([]byte(body), &m)
	if m["resultCode"] != "Success" {
		t.Fatalf("the address the tester named in its own line was braked (or failed): %s", body)
	}
}
