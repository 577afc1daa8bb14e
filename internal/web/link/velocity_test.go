package link_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"kessai/internal/velocity"
)

// TestCardTestingIsStopped: ten failed card attempts from one address at one store — numbers
// that are not cards, through the token API and the hosted page — and that address's next card
// attempt at that store is refused with 429 and Retry-After, even a good card, without a token
// or a payment being made. Another store, and the same store after the window, take cards again.
func TestCardTestingIsStopped(t *testing.T) {
	e := newEnv(t, time.Time{})
	tokenForm := func(aid, cn string) url.Values {
		return url.Values{"aid": {aid}, "cn": {cn}, "ed": {"3012"}, "fn": {"TARO"}, "ln": {"YAMADA"}, "cvv": {"123"}}
	}
	// half the failures through the token API, half through the hosted page
	for i := 0; i < velocity.DefaultMaxFailures/2; i++ {
		st, _, m := api(t, e, "/gateway/token.json", tokenForm("123456", "4111111111111112"), "")
		if st == http.StatusTooManyRequests || st == http.StatusOK {
			t.Fatalf("bad card %d through the token API: %d %v", i+1, st, m)
		}
	}
	b := e.browser()
	s := hidden(t, do(t, b, "POST", e.srv.URL+"/link/creditcard", orderForm(), nil).body)
	for i := 0; i < velocity.DefaultMaxFailures-velocity.DefaultMaxFailures/2; i++ {
		a := do(t, b, "POST", e.srv.URL+"/link/creditcard/pay", cardForm(s, "4111 1111 1111 1113"), nil)
		if a.status != http.StatusUnprocessableEntity {
			t.Fatalf("bad card %d on the hosted page: %d", i+1, a.status)
		}
	}

	st, hd, m := api(t, e, "/gateway/token.json", tokenForm("123456", "4111111111111111"), "")
	if st != http.StatusTooManyRequests || m["code"] != "ER030" || hd.Get("Retry-After") != "600" {
		t.Fatalf("after %d failures, a good card through the token API: %d Retry-After %q %v", velocity.DefaultMaxFailures, st, hd.Get("Retry-After"), m)
	}
	if d, _ := m["detail"].(string); !strings.Contains(d, "10 minutes") {
		t.Fatalf("the refusal does not say how long: %q", d)
	}
	if _, ok := m["token"]; ok {
		t.Fatalf("a token was made: %v", m)
	}
	a := do(t, b, "POST", e.srv.URL+"/link/creditcard/pay", cardForm(s, "4111111111111111"), nil)
	if a.status != http.StatusTooManyRequests || a.header.Get("Retry-After") == "" {
		t.Fatalf("after %d failures, a good card on the hosted page: %d", velocity.DefaultMaxFailures, a.status)
	}
	mustContain(t, a.body, "カードのお試しが続けて失敗したため", "10分ほど", "ER030")
	mustNotContain(t, a.body, "4111111111111111")
	if ok, declined := successes(t, e, "123456", "W-1001"); ok+declined != 0 {
		t.Fatalf("a refused attempt reached the network: %d payments", ok+declined)
	}

	// another store is not held by this address's failures at the first
	st, _, m = api(t, e, "/gateway/token.json", tokenForm("234567", "4111111111111111"), "https://shop.example.jp")
	if st != http.StatusOK {
		t.Fatalf("another store: %d %v", st, m)
	}
	// the window ends: cards are taken again, and the order that waited is paid once
	e.clk.Advance(velocity.DefaultWindow)
	newToken(t, e, "4111111111111111")
	a = do(t, b, "POST", e.srv.URL+"/link/creditcard/pay", cardForm(s, "4111111111111111"), nil)
	if a.url.Path != "/link/creditcard/result" {
		t.Fatalf("after the window: %d %s", a.status, a.url)
	}
	if ok, _ := successes(t, e, "123456", "W-1001"); ok != 1 {
		t.Fatalf("%d successful payments, want 1", ok)
	}
}

// TestSandboxTestCardDeclinesDoNotCount: developers decline the sandbox's documented cards on
// purpose, as often as their tests need; those declines do not hold their address.
func TestSandboxTestCardDeclinesDoNotCount(t *testing.T) {
	e := newEnv(t, time.Time{})
	for i := 0; i < 2*velocity.DefaultMaxFailures; i++ {
		st, _, m := api(t, e, "/gateway/token.json", url.Values{"aid": {"123456"}, "cn": {"4000000000000127"}, "ed": {"3012"},
			"fn": {"TARO"}, "ln": {"YAMADA"}, "cvv": {"123"}}, "")
		if st == http.StatusTooManyRequests || m["code"] != "ER079" {
			t.Fatalf("documented CVV-mismatch card, attempt %d: %d %v", i+1, st, m)
		}
	}
	b := e.browser()
	s := hidden(t, do(t, b, "POST", e.srv.URL+"/link/creditcard", orderForm(), nil).body)
	for i := 0; i < 2*velocity.DefaultMaxFailures; i++ {
		a := do(t, b, "POST", e.srv.URL+"/link/creditcard/pay", cardForm(s, "4000000000000002"), nil)
		if a.status != http.StatusOK || !strings.Contains(a.body, "ER030") {
			t.Fatalf("documented declined card, attempt %d: %d", i+1, a.status)
		}
	}
	newToken(t, e, "4111111111111111")
}
