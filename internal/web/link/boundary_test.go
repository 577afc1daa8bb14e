package link_test

import (
	"context"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"kessai/internal/wire"
)

// TestHostedReturnLinkNeverEchoesResultFields: a shopper who adds ta=99999&rst=1&gid=FORGED to a
// hosted-page form gets a return link with each result field once, Kessai's values, and the
// merchant's own free parameter (wire.md §2.4, issue 14 item 1).
func TestHostedReturnLinkNeverEchoesResultFields(t *testing.T) {
	e := newEnv(t, time.Time{})
	b := e.browser()
	form := orderForm("cod", "RF-1", "ta", "99999", "rst", "1", "gid", "FORGED", "ap", "X", "ec", "", "acid", "9", "nk", "1")
	a := do(t, b, "POST", e.srv.URL+"/link/creditcard", form, nil)
	if a.status != 200 {
		t.Fatalf("entry: %d", a.status)
	}
	a = do(t, b, "POST", e.srv.URL+"/link/creditcard/pay", cardForm(hidden(t, a.body), "4111111111111111"), nil)
	ret := regexp.MustCompile(`id="return" class="button primary" href="([^"]+)"`).FindStringSubmatch(a.body)
	if a.url.Path != "/link/creditcard/result" || ret == nil {
		t.Fatalf("no result page with a return link: %d %s", a.status, a.url)
	}
	u, err := url.Parse(strings.ReplaceAll(ret[1], "&amp;", "&"))
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	for _, n := range []string{"gid", "rst", "ap", "ec", "ta"} {
		if len(q[n]) != 1 {
			t.Errorf("return link carries %s %d times: %s", n, len(q[n]), u.RawQuery)
		}
	}
	if q.Get("gid") == "FORGED" || q.Get("ta") != "2678" || q.Get("rst") != "1" || q.Has("acid") || q.Has("nk") ||
		q.Get("memo") != "a&b=c" || q.Get("acting") != "jpayment_card" {
		t.Errorf("return link %s", u.RawQuery)
	}
	var free string
	e.s.DB.QueryRow(context.Background(), `SELECT free FROM payments WHERE cod = ?`, "RF-1").Scan(&free)
	if strings.Contains(free, "FORGED") || strings.Contains(free, "99999") {
		t.Errorf("stored free parameters %q", free)
	}
}

// TestHostedEntryRefusesCardNumbersInText: a card number in the order number, the item name or a
// free parameter of a hosted-page form is refused on an error page naming the field's code, before
// an order session exists (issue 14 item 3).
func TestHostedEntryRefusesCardNumbersInText(t *testing.T) {
	e := newEnv(t, time.Time{})
	for _, c := range []struct {
		k, v string
		code wire.Code
	}{
		{"cod", "4111111111111111", wire.ERParamCod},
		{"inm", "カード番号 4111 1111 1111 1111", wire.ERMalformed},
		{"memo", "４１１１１１１１１１１１１１１１", wire.ERMalformed},
		{"em", "4111111111111111@example.com", wire.ERParamEmail},
	} {
		a := do(t, e.browser(), "POST", e.srv.URL+"/link/creditcard", orderForm(c.k, c.v), nil)
		if a.status < 400 {
			t.Errorf("%s: status %d, want an error page", c.k, a.status)
			continue
		}
		mustContain(t, a.body, string(c.code), c.code.Describe("ja"))
		mustNotContain(t, a.body, "4111111111111111", "4111 1111 1111 1111", "name=\"o\"")
	}
	var n int
	e.s.DB.QueryRow(context.Background(), `SELECT COUNT(*) FROM link_orders`).Scan(&n)
	if n != 0 {
		t.Fatalf("%d order sessions stored", n)
	}
}
