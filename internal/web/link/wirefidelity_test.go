package link_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"kessai/internal/maintenance"
	"kessai/internal/store"
	"kessai/internal/testenv"
	"kessai/internal/web/link"
)

// Issue 12: real merchant code, over real HTTP against a whole Kessai.

// s2s is a merchant's server calling Kessai: no cookies, no redirects followed.
var s2s = testenv.Client

func gatewayCall(t testing.TB, e *env, method, path string, p url.Values) string {
	t.Helper()
	return strings.TrimSpace(do(t, s2s, method, e.srv.URL+path, p, nil).body)
}

// kickStore is a store with a source-URL allow-list and a result URL (kickbacks are queued).
func kickStore(e *env) {
	e.store("345678", "Kick Shop", func(st *store.Store) {
		st.AllowOrigins = []string{"https://shop.example.jp"}
		st.ResultURL = "https://shop.example.jp/kessai/result"
	})
}

func rawCard(aid, cod, cn string, kv ...string) url.Values {
	v := url.Values{"aid": {aid}, "jb": {"CAPTURE"}, "rt": {"1"}, "cod": {cod}, "am": {"1000"}, "tx": {"100"}, "sf": {"0"},
		"cn": {cn}, "ed": {"3012"}, "fn": {"YAMADA"}, "ln": {"TARO"}, "cvv": {"123"}, "em": {"taro@example.com"}}
	for i := 0; i+1 < len(kv); i += 2 {
		v.Set(kv[i], kv[i+1])
	}
	return v
}

// TestAutoChargePagesTakeMerchantFormPOST (item 6): a React form posting just aid and tid opens the
// card-change page and the stop page like a GET link, within the store's source-URL allow-list;
// Kessai's own submissions still need their form token.
func TestAutoChargePagesTakeMerchantFormPOST(t *testing.T) {
	e := newEnv(t, time.Time{})
	line := gatewayCall(t, e, "POST", "/gateway/gateway.aspx", rawCard("234567", "ac-1", "4111111111111111", "actp", "4", "acam", "980"))
	cols := strings.Split(line, ",")
	if len(cols) < 13 || cols[1] != "1" || cols[12] == "" {
		t.Fatalf("sign-up: %q", line)
	}
	gid := cols[0]
	shop := map[string]string{"Origin": "https://shop.example.jp", "Referer": "https://shop.example.jp/mypage"}
	for _, path := range []string{"/link/creditcard/auto-charge/update", "/link/creditcard/auto-charge/stop"} {
		a := do(t, e.browser(), "POST", e.srv.URL+path, url.Values{"aid": {"234567"}, "tid": {gid}}, shop)
		if a.status != http.StatusOK || strings.Contains(a.body, "有効期限が切れました") || !strings.Contains(a.body, `name="csrf"`) {
			t.Fatalf("%s: merchant POST answered %d:\n%.1500s", path, a.status, a.body)
		}
		// with lang, and with a field of the merchant's own
		a = do(t, e.browser(), "POST", e.srv.URL+path, url.Values{"aid": {"234567"}, "tid": {gid}, "lang": {"en"}, "user_id": {"42"}}, shop)
		if a.status != http.StatusOK || !strings.Contains(a.body, "Merchant") {
			t.Fatalf("%s: merchant POST in English answered %d", path, a.status)
		}
		// another site's form is refused as on the hosted page's entry (ER002)
		a = do(t, e.browser(), "POST", e.srv.URL+path, url.Values{"aid": {"234567"}, "tid": {gid}},
			map[string]string{"Origin": "https://evil.example", "Referer": "https://evil.example/x"})
		if a.status != http.StatusForbidden || !strings.Contains(a.body, "ER002") {
			t.Fatalf("%s: foreign origin answered %d", path, a.status)
		}
		// a submission of Kessai's form without its token is still refused
		a = do(t, e.browser(), "POST", e.srv.URL+path, url.Values{"aid": {"234567"}, "tid": {gid}, "em": {"taro@example.com"}}, shop)
		if a.status != http.StatusForbidden || !strings.Contains(a.body, "有効期限が切れました") {
			t.Fatalf("%s: own form without token answered %d", path, a.status)
		}
	}
	// the plan is untouched by all of it
	var status string
	e.s.DB.QueryRow(context.Background(), `SELECT status FROM autocharges WHERE aid = ? AND acid = ?`, "234567", cols[12]).Scan(&status)
	if status != store.ACActive {
		t.Fatalf("plan status %q after page entries", status)
	}
	// a store without an allow-list takes the POST from anywhere, without Referer
	line = gatewayCall(t, e, "POST", "/gateway/gateway.aspx", rawCard("123456", "ac-2", "4111111111111111", "actp", "4", "acam", "980"))
	a := do(t, e.browser(), "POST", e.srv.URL+"/link/creditcard/auto-charge/update", url.Values{"aid": {"123456"}, "tid": {strings.Split(line, ",")[0]}}, nil)
	if a.status != http.StatusOK || !strings.Contains(a.body, `name="cn"`) {
		t.Fatalf("POST entry without allow-list: %d", a.status)
	}
}

// TestIGatewayPayform (item 7): Welcart's mobile form posts to /igateway/payform.aspx and gets the
// same page as /gateway/payform.aspx; other payment types keep today's answer.
func TestIGatewayPayform(t *testing.T) {
	e := newEnv(t, time.Time{})
	for _, method := range []string{"POST", "GET"} {
		a := do(t, e.browser(), method, e.srv.URL+"/igateway/payform.aspx", orderForm(), nil)
		if a.status != 200 || !strings.Contains(a.body, `name="cn"`) {
			t.Fatalf("%s /igateway/payform.aspx: %d", method, a.status)
		}
		s := hidden(t, a.body)
		a = do(t, e.browser(), "POST", e.srv.URL+"/link/creditcard/pay", cardForm(s, "4111111111111111"), nil)
		_ = a
	}
	b := e.browser()
	a := do(t, b, "POST", e.srv.URL+"/igateway/payform.aspx", orderForm("cod", "IGW-1"), nil)
	a = do(t, b, "POST", e.srv.URL+"/link/creditcard/pay", cardForm(hidden(t, a.body), "4111111111111111"), nil)
	if ok, _ := successes(t, e, "123456", "IGW-1"); ok != 1 || a.url.Path != "/link/creditcard/result" {
		t.Fatalf("paid through /igateway/payform.aspx: %d payments, at %s", ok, a.url)
	}
	for _, pt := range []string{"2", "7"} {
		want := do(t, e.browser(), "POST", e.srv.URL+"/gateway/payform.aspx", orderForm("pt", pt), nil)
		got := do(t, e.browser(), "POST", e.srv.URL+"/igateway/payform.aspx", orderForm("pt", pt), nil)
		// the store is not contracted for these methods: ER165 on both paths (ER001 before issue 13)
		if got.status != want.status || !strings.Contains(got.body, "ER165") {
			t.Fatalf("pt=%s: /igateway/ %d, /gateway/ %d", pt, got.status, want.status)
		}
	}
	// the store's source-URL allow-list applies as on /gateway/payform.aspx
	if a := do(t, e.browser(), "POST", e.srv.URL+"/igateway/payform.aspx", orderForm("aid", "234567"), nil); a.status != http.StatusForbidden {
		t.Fatalf("no Referer on an allow-listed store: %d", a.status)
	}
}

// ecCube is the provider's EC-CUBE module as it drives /igateway/gateway.aspx: it sends the card
// server-to-server, cuts the answer after its first ".aspx" and redirects the shopper there.
func ecCubeURL(t testing.TB, body string) string {
	t.Helper()
	i := strings.Index(body, "http")
	j := strings.Index(body, ".aspx")
	if i < 0 || j < i {
		t.Fatalf("no authentication URL in %q", body)
	}
	return body[i : j+len(".aspx")]
}

var reSandboxCode = regexp.MustCompile(`id="sandbox-code" class="mono">(\d{6})<`)

// TestIGatewayThreeDSRoundTrip (item 7): the EC-CUBE module's 3-D Secure payment, GET and POST,
// end to end: the answer's URL works cut after ".aspx", the shopper passes the challenge, and the
// browser comes back to url with the result; the payment is made once.
func TestIGatewayThreeDSRoundTrip(t *testing.T) {
	for _, method := range []string{"GET", "POST"} {
		t.Run(method, func(t *testing.T) {
			e := newEnv(t, time.Time{})
			kickStore(e)
			cod := "EC-" + method
			p := rawCard("345678", cod, "4000000000003220", "url", "https://shop.example.jp/3d_recv.php?mode=return", "order_id", "77")
			body := gatewayCall(t, e, method, "/igateway/gateway.aspx", p)
			if strings.HasPrefix(body, "ER:") || strings.Contains(body, "4000000000003220") {
				t.Fatalf("3-D Secure entry answered %q", body)
			}
			page := ecCubeURL(t, body)
			if !strings.HasPrefix(page, e.srv.URL+"/igateway/3ds/") {
				t.Fatalf("authentication URL %q", page)
			}
			// the card is held sealed: no row of the session carries it
			var n int
			e.s.DB.QueryRow(context.Background(), `SELECT COUNT(*) FROM link_orders WHERE free LIKE '%3220%' OR plan LIKE '%3220%' OR return_url LIKE '%3220%'`).Scan(&n)
			if n != 0 {
				t.Fatal("the card number is stored in the session")
			}
			shopper := e.browser() // a browser that never saw the merchant's server-to-server call
			a := do(t, shopper, "GET", page, nil, nil)
			if a.status != 200 {
				t.Fatalf("authentication page %d:\n%.1500s", a.status, a.body)
			}
			checkSecurityHeaders(t, a.header)
			// the challenge form's answer redirects to the shop: CSP form-action must allow it
			if csp := a.header.Get("Content-Security-Policy"); !strings.Contains(csp, "form-action 'self' https://shop.example.jp;") {
				t.Fatalf("CSP %q does not let the form lead back to the shop", csp)
			}
			mustContain(t, a.body, `id="EMV3DS_INPUT_FORM"`, "400000******3220", "1,100円")
			mustNotContain(t, a.body, "4000000000003220")
			code := reSandboxCode.FindStringSubmatch(a.body)
			csrf := reCSRF.FindStringSubmatch(a.body)
			if code == nil || csrf == nil {
				t.Fatal("no challenge form")
			}
			form := url.Values{"otp": {code[1]}, "action": {"authenticate"}, "csrf": {csrf[1]}}
			a = do(t, s2s, "POST", page, form, nil)
			if a.status != http.StatusSeeOther {
				t.Fatalf("challenge answered %d:\n%.1500s", a.status, a.body)
			}
			back, err := url.Parse(a.header.Get("Location"))
			if err != nil || back.Host != "shop.example.jp" || back.Path != "/3d_recv.php" {
				t.Fatalf("returned to %q", a.header.Get("Location"))
			}
			q := back.Query()
			for _, k := range []string{"rst", "gid", "cod", "am", "tx", "sf", "ta", "ap", "ec", "god"} {
				if _, ok := q[k]; !ok {
					t.Fatalf("return lacks %s: %v", k, q)
				}
			}
			if q.Get("rst") != "1" || q.Get("ec") != "" || q.Get("cod") != cod || q.Get("ta") != "1100" || q.Get("gid") == "" ||
				q.Get("mode") != "return" || q.Get("order_id") != "77" || q.Has("url") || q.Has("cn") {
				t.Fatalf("return query %v", q)
			}
			pay, err := e.s.DB.GetPayment(context.Background(), "345678", q.Get("gid"))
			if err != nil || pay.Rst != "1" || pay.Cod != cod || pay.Ta != 1100 || strings.Contains(pay.Free, "url=") {
				t.Fatalf("payment %+v (%v)", pay, err)
			}
			// the shopper's back button, a double submit: the same result, no second charge
			a = do(t, s2s, "POST", page, form, nil)
			again := do(t, s2s, "GET", page, nil, nil)
			if a.header.Get("Location") != back.String() || again.header.Get("Location") != back.String() {
				t.Fatalf("second visit went to %q / %q", a.header.Get("Location"), again.header.Get("Location"))
			}
			if ok, declined := successes(t, e, "345678", cod); ok != 1 || declined != 0 {
				t.Fatalf("%d payments, %d declined", ok, declined)
			}
			// and the merchant's result URL is told too (kickback queued)
			var kbs int
			e.s.DB.QueryRow(context.Background(), `SELECT COUNT(*) FROM kickbacks WHERE gid = ?`, q.Get("gid")).Scan(&kbs)
			if kbs != 1 {
				t.Fatalf("%d kickbacks", kbs)
			}
		})
	}
}

// TestIGatewayOutcomes (item 7): a card that needs no authentication is answered at once; a
// failed, cancelled or refused authentication charges nothing and returns rst=2 ec=ER901;
// pre-processing errors are ER:ERnnn.
func TestIGatewayOutcomes(t *testing.T) {
	e := newEnv(t, time.Time{})
	ret := "https://shop.example.jp/3d_recv"
	line := gatewayCall(t, e, "POST", "/igateway/gateway.aspx", rawCard("123456", "fr-1", "4111111111111111", "url", ret, "memo", "x"))
	cols := strings.Split(line, ",")
	if len(cols) < 14 || cols[1] != "1" || cols[5] != "fr-1" || strings.Contains(line, "url=") || !strings.Contains(line, "memo=x") {
		t.Fatalf("frictionless card: %q", line)
	}
	if b := gatewayCall(t, e, "POST", "/igateway/gateway.aspx", rawCard("123456", "fr-2", "4111111111111111", "url", ret, "rt", "0")); b != "OK" {
		t.Fatalf("frictionless card, rt=0: %q", b)
	}
	for _, c := range []struct{ name, cn, otp, action string }{
		{"issuer refuses", "4000000000003238", "", ""},
		{"wrong code", "4000000000003220", "000000x", "authenticate"},
		{"cancelled", "4000000000003220", "", "cancel"},
	} {
		t.Run(c.name, func(t *testing.T) {
			cod := "f-" + strings.ReplaceAll(c.name, " ", "-")
			page := ecCubeURL(t, gatewayCall(t, e, "GET", "/igateway/gateway.aspx", rawCard("123456", cod, c.cn, "url", ret)))
			a := do(t, s2s, "GET", page, nil, nil)
			if c.action != "" {
				csrf := reCSRF.FindStringSubmatch(a.body)
				if csrf == nil {
					t.Fatalf("no challenge: %d", a.status)
				}
				a = do(t, s2s, "POST", page, url.Values{"otp": {c.otp}, "action": {c.action}, "csrf": {csrf[1]}}, nil)
				if c.action == "authenticate" {
					// issue 15 item 4 (this test failed the first wrong code before): the page
					// takes three codes; the first two wrong ones show the challenge again
					for left := 2; left >= 1; left-- {
						if a.status != 200 || !strings.Contains(a.body, fmt.Sprintf("（残り%d回）", left)) {
							t.Fatalf("wrong code with %d attempts left: %d\n%.1000s", left, a.status, a.body)
						}
						a = do(t, s2s, "POST", page, url.Values{"otp": {c.otp}, "action": {c.action}, "csrf": {csrf[1]}}, nil)
					}
				}
			}
			back, _ := url.Parse(a.header.Get("Location"))
			if a.status != http.StatusSeeOther || back == nil || !strings.HasPrefix(back.String(), ret+"?") {
				t.Fatalf("answered %d to %q", a.status, a.header.Get("Location"))
			}
			q := back.Query()
			if q.Get("rst") != "2" || q.Get("ec") != "ER901" || q.Get("gid") != "" || q.Get("cod") != cod || q.Get("ta") != "1100" {
				t.Fatalf("return %v", q)
			}
			if ok, declined := successes(t, e, "123456", cod); ok+declined != 0 {
				t.Fatal("a failed authentication was charged")
			}
		})
	}
	for _, c := range []struct {
		name string
		p    url.Values
		want string
	}{
		{"no url", rawCard("123456", "e-1", "4000000000003220"), "ER:ER001"},
		{"url not http", rawCard("123456", "e-2", "4000000000003220", "url", "javascript:alert(1)"), "ER:ER001"},
		{"unknown store", rawCard("999999", "e-3", "4000000000003220", "url", ret), "ER:ER004"},
		{"check digit", rawCard("123456", "e-4", "4000000000003221", "url", ret), "ER:ER014"},
	} {
		if got := gatewayCall(t, e, "POST", "/igateway/gateway.aspx", c.p); got != c.want {
			t.Fatalf("%s: %q, want %s", c.name, got, c.want)
		}
	}
	// a card the issuer does not enrol is charged as on gateway.aspx, declines included
	if got := gatewayCall(t, e, "POST", "/igateway/gateway.aspx", rawCard("123456", "e-5", "4000000000000127", "url", ret)); !strings.Contains(got, ",2,,ER079,") {
		t.Fatalf("declined frictionless card: %q", got)
	}
	if a := do(t, s2s, "GET", e.srv.URL+"/igateway/3ds/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA.aspx", nil, nil); a.status != 400 {
		t.Fatalf("unknown session: %d", a.status)
	}
}

// TestIGatewayMaintenance (item 7): a window refuses the entry with ER:ER999 as on gateway.aspx,
// and the authentication page shows the maintenance page.
func TestIGatewayMaintenance(t *testing.T) {
	e := newEnv(t, time.Date(2020, 7, 22, 2, 50, 0, 0, jst))
	ret := "https://shop.example.jp/3d_recv"
	page := ecCubeURL(t, gatewayCall(t, e, "POST", "/igateway/gateway.aspx", rawCard("123456", "m-1", "4000000000003220", "url", ret)))
	w, _ := maintenance.WallWindow("2020-07-22", "02:55", "04:30", "Asia/Tokyo")
	ws, err := e.s.DB.AddWindows(context.Background(), []maintenance.Window{w}, "test")
	if err != nil {
		t.Fatal(err)
	}
	e.s.Maint.Replace(ws)
	e.clk.Set(time.Date(2020, 7, 22, 3, 0, 0, 0, jst))
	a := do(t, s2s, "POST", e.srv.URL+"/igateway/gateway.aspx", rawCard("123456", "m-2", "4000000000003220", "url", ret), nil)
	if strings.TrimSpace(a.body) != "ER:ER999" || a.header.Get("Retry-After") == "" {
		t.Fatalf("entry during maintenance: %q", a.body)
	}
	if a := do(t, s2s, "GET", page, nil, nil); a.status != 503 || !strings.Contains(a.body, "ER999") {
		t.Fatalf("authentication page during maintenance: %d", a.status)
	}
}

// TestMailLinks (item 10): a link whose key verifies opens the payment page without a Referer on
// a store with a source-URL allow-list, and the key is never echoed to the merchant; a changed,
// forged, expired or posted link is refused with 403 and a page saying so, never a card form.
func TestMailLinks(t *testing.T) {
	e := newEnv(t, time.Time{})
	kickStore(e)
	ctx := context.Background()
	if err := e.s.DB.PutProduct(ctx, &store.Product{AID: "345678", IID: "TEA-1", Name: "抹茶", Am: 1500, Tx: 150}); err != nil {
		t.Fatal(err)
	}
	exp := e.clk.Now().Add(72 * time.Hour)
	mk := func(o link.MailOrder) string { return link.MailLink(e.s.Vault, e.srv.URL, o.Params(), exp) }
	good := mk(link.MailOrder{AID: "345678", Am: 1200, Tx: 120})
	b := e.browser()
	a := do(t, b, "GET", good, nil, nil)
	if a.status != 200 {
		t.Fatalf("good link: %d\n%.1500s", a.status, a.body)
	}
	mustContain(t, a.body, `name="cn"`, "1,320円")
	mustNotContain(t, a.body, "mailauthckey")
	for _, o := range []link.MailOrder{{AID: "345678", IID: "TEA-1"}, {AID: "345678", Check: true}} {
		if a := do(t, e.browser(), "GET", mk(o), nil, nil); a.status != 200 || !strings.Contains(a.body, `name="cn"`) {
			t.Fatalf("link %+v: %d\n%.1500s", o, a.status, a.body)
		}
	}
	// the shopper pays: the key is not a free parameter (not in the payment, kickback or return)
	s := hidden(t, a.body)
	s = hidden(t, do(t, b, "GET", good, nil, nil).body)
	a = do(t, b, "POST", e.srv.URL+"/link/creditcard/pay", cardForm(s, "4111111111111111"), nil)
	if a.url.Path != "/link/creditcard/result" {
		t.Fatalf("payment went to %s", a.url)
	}
	var free, kq string
	e.s.DB.QueryRow(ctx, `SELECT free FROM payments WHERE aid = ?`, "345678").Scan(&free)
	e.s.DB.QueryRow(ctx, `SELECT k.query FROM kickbacks k JOIN payments p ON p.gid = k.gid WHERE p.aid = ?`, "345678").Scan(&kq)
	if strings.Contains(free, "mailauthckey") || strings.Contains(kq, "mailauthckey") || strings.Contains(a.body, "mailauthckey") {
		t.Fatalf("key echoed: free %q, kickback %q", free, kq)
	}

	u, _ := url.Parse(good)
	tamper := func(f func(q url.Values)) string {
		q := u.Query()
		f(q)
		v := *u
		v.RawQuery = q.Encode()
		return v.String()
	}
	for name, bad := range map[string]string{
		"amount changed":    tamper(func(q url.Values) { q.Set("am", "1") }),
		"parameter added":   tamper(func(q url.Values) { q.Set("cod", "X") }),
		"parameter removed": tamper(func(q url.Values) { q.Del("tx") }),
		"other store":       tamper(func(q url.Values) { q.Set("aid", "123456") }),
		"key replaced":      tamper(func(q url.Values) { q.Set("mailauthckey", "00000000") }),
		"expiry pushed":     tamper(func(q url.Values) { k := q.Get("mailauthckey"); q.Set("mailauthckey", "zz"+k[2:]) }),
		"key empty":         tamper(func(q url.Values) { q.Set("mailauthckey", "") }),
	} {
		a := do(t, e.browser(), "GET", bad, nil, nil)
		if a.status != http.StatusForbidden || strings.Contains(a.body, `name="cn"`) || !strings.Contains(a.body, "このお支払いリンクはご利用になれません") {
			t.Fatalf("%s: %d\n%.1500s", name, a.status, a.body)
		}
	}
	if a := do(t, e.browser(), "GET", good+"&lang=en", nil, nil); a.status != 200 || !strings.Contains(a.body, "Card number") {
		t.Fatalf("lang=en on a good link: %d", a.status)
	}
	bad := tamper(func(q url.Values) { q.Set("am", "1") }) + "&lang=en"
	if a := do(t, e.browser(), "GET", bad, nil, nil); a.status != 403 || !strings.Contains(a.body, "This payment link cannot be used") {
		t.Fatalf("English refusal: %d", a.status)
	}
	// a link's parameters must come in the link: a POST carrying a key is refused
	if a := do(t, e.browser(), "POST", e.srv.URL+"/link/creditcard", u.Query(), nil); a.status != 403 {
		t.Fatalf("posted key: %d", a.status)
	}
	// expired
	e.clk.Set(exp.Add(time.Second))
	if a := do(t, e.browser(), "GET", good, nil, nil); a.status != 403 || !strings.Contains(a.body, "有効期限が切れています") {
		t.Fatalf("expired link: %d", a.status)
	}
	// without a key, the allow-list still refuses a request with no Referer
	if a := do(t, e.browser(), "GET", e.srv.URL+"/link/creditcard?aid=234567&am=1200", nil, nil); a.status != 403 || !strings.Contains(a.body, "ER002") {
		t.Fatalf("no key, no Referer: %d", a.status)
	}
}
