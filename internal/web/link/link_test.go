package link_test

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/text/encoding/japanese"

	"kessai/internal/clock"
	"kessai/internal/maintenance"
	"kessai/internal/server"
	"kessai/internal/store"
	"kessai/internal/testenv"
	"kessai/internal/wire"
)

// env is a real Kessai (server.New on a temporary SQLite directory) behind a real HTTP listener,
// with a clock the test controls.
type env struct {
	t   testing.TB
	s   *server.Server
	srv *httptest.Server
	clk *clock.Fixed
}

var jst = time.FixedZone("JST", 9*3600)

func newEnv(t testing.TB, at time.Time) *env {
	t.Helper()
	if at.IsZero() {
		at = time.Date(2026, 5, 1, 12, 0, 0, 0, jst)
	}
	clk := clock.NewFixed(at)
	e := newEnvWith(t, clk)
	e.clk = clk
	return e
}

// newEnvWith runs Kessai on any clock (the browser tests use the real one, for the kickback worker).
func newEnvWith(t testing.TB, clk clock.Clock) *env {
	t.Helper()
	// SQLite, or PostgreSQL when KESSAI_TEST_PG is set (the CI runs this suite on both)
	sc := testenv.StoreConfig(t)
	key := make([]byte, 32)
	rand.Read(key)
	s, err := server.New(context.Background(), server.Config{DataDir: sc.DataDir, DatabaseURL: sc.DatabaseURL, Clock: clk,
		VaultKeyEnv: base64.StdEncoding.EncodeToString(key), Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(func() { srv.Close(); s.Close() })
	e := &env{t: t, s: s, srv: srv}
	e.store("123456", "テスト商店", func(st *store.Store) { st.CompletionURL = "https://shop.example.jp/thanks?from=kessai" })
	e.store("234567", "Origin Shop", func(st *store.Store) { st.AllowOrigins = []string{"https://shop.example.jp"} })
	return e
}

func (e *env) store(aid, name string, edit func(*store.Store)) *store.Store {
	st := store.NewStore(aid, name)
	if edit != nil {
		edit(st)
	}
	if err := e.s.DB.CreateStore(context.Background(), st); err != nil {
		e.t.Fatal(err)
	}
	e.s.Pay.Stores.Invalidate()
	return st
}

// browser is a client with a cookie jar, as a shopper's browser has.
func (e *env) browser() *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{Jar: jar, Timeout: 20 * time.Second}
}

type answer struct {
	status int
	header http.Header
	body   string
	url    *url.URL
}

func do(t testing.TB, c *http.Client, method, u string, form url.Values, hdr map[string]string) answer {
	t.Helper()
	var body io.Reader
	if form != nil && method == http.MethodPost {
		body = strings.NewReader(form.Encode())
	} else if form != nil {
		u += "?" + form.Encode()
	}
	req, err := http.NewRequest(method, u, body)
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	res, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return answer{res.StatusCode, res.Header, string(b), res.Request.URL}
}

func orderForm(extra ...string) url.Values {
	v := url.Values{"aid": {"123456"}, "pt": {"1"}, "jb": {"CAPTURE"}, "am": {"1980"}, "tx": {"198"}, "sf": {"500"},
		"cod": {"W-1001"}, "inm": {"抹茶ラテ<script>alert(1)</script>"}, "acting": {"jpayment_card"}, "memo": {"a&b=c"}}
	for i := 0; i+1 < len(extra); i += 2 {
		v.Set(extra[i], extra[i+1])
	}
	return v
}

var (
	reSession = regexp.MustCompile(`name="o" value="([A-Za-z0-9]{32})"`)
	reCSRF    = regexp.MustCompile(`name="csrf" value="([A-Za-z0-9_-]{32})"`)
	reSigned  = regexp.MustCompile(`name="d" value="([A-Za-z0-9_.-]+)"`)
)

// sess is an order session as a card form carries it: its ID, anti-forgery token and, before the
// first submission, the signed order.
type sess struct{ o, csrf, d string }

func hidden(t testing.TB, page string) sess {
	t.Helper()
	m1, m2 := reSession.FindStringSubmatch(page), reCSRF.FindStringSubmatch(page)
	if m1 == nil || m2 == nil {
		t.Fatalf("no order session in page:\n%.2000s", page)
	}
	s := sess{o: m1[1], csrf: m2[1]}
	if m := reSigned.FindStringSubmatch(page); m != nil {
		s.d = m[1]
	}
	return s
}

func (s sess) form(kv ...string) url.Values {
	v := url.Values{"o": {s.o}, "csrf": {s.csrf}}
	if s.d != "" {
		v.Set("d", s.d)
	}
	for i := 0; i+1 < len(kv); i += 2 {
		v.Set(kv[i], kv[i+1])
	}
	return v
}

func cardForm(s sess, cn string) url.Values {
	return s.form("cn", cn, "exp_month", "12", "exp_year", "30", "holder", "taro yamada", "cvv", "123")
}

func mustContain(t testing.TB, body string, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(body, w) {
			t.Fatalf("page lacks %q:\n%.3000s", w, body)
		}
	}
}

func mustNotContain(t testing.TB, body string, bad ...string) {
	t.Helper()
	for _, w := range bad {
		if strings.Contains(body, w) {
			t.Fatalf("page contains %q", w)
		}
	}
}

func checkSecurityHeaders(t testing.TB, h http.Header) {
	t.Helper()
	csp := h.Get("Content-Security-Policy")
	scriptSrc := ""
	for _, d := range strings.Split(csp, ";") {
		if f := strings.Fields(d); len(f) > 0 && f[0] == "script-src" {
			scriptSrc = d
		}
	}
	if scriptSrc == "" || strings.Contains(scriptSrc, "unsafe-inline") || strings.Contains(scriptSrc, "unsafe-eval") {
		t.Fatalf("script-src %q in CSP %q", scriptSrc, csp)
	}
	if !strings.Contains(csp, "frame-ancestors 'none'") {
		t.Fatalf("no frame-ancestors in %q", csp)
	}
	if h.Get("X-Content-Type-Options") != "nosniff" || h.Get("Referrer-Policy") == "" {
		t.Fatalf("missing nosniff / Referrer-Policy: %v", h)
	}
}

func TestHostedPageRendersEscapedWithCSP(t *testing.T) {
	e := newEnv(t, time.Time{})
	a := do(t, e.browser(), "POST", e.srv.URL+"/link/creditcard", orderForm(), nil)
	if a.status != 200 {
		t.Fatalf("status %d:\n%s", a.status, a.body)
	}
	mustContain(t, a.body, "テスト商店", "抹茶ラテ", "2,678円", "テスト環境 / TEST", "&lt;script&gt;alert(1)&lt;/script&gt;",
		`id="cardform"`, `name="cvv"`, `lang="ja"`)
	mustNotContain(t, a.body, "<script>alert(1)</script>", "onclick=", "onsubmit=", "<script>")
	checkSecurityHeaders(t, a.header)
	ck := a.header.Get("Set-Cookie")
	if !strings.Contains(ck, "HttpOnly") || !strings.Contains(ck, "SameSite=Lax") {
		t.Fatalf("cookie %q", ck)
	}
	// every script on the page is one of Kessai's own files
	for _, m := range regexp.MustCompile(`<script[^>]*>`).FindAllString(a.body, -1) {
		if !strings.Contains(m, `src="/link/static/`) {
			t.Fatalf("foreign or inline script tag %q", m)
		}
	}
}

func TestGetLinkAndEnglish(t *testing.T) {
	e := newEnv(t, time.Time{})
	b := e.browser()
	a := do(t, b, "GET", e.srv.URL+"/link/creditcard", orderForm("lang", "en", "inm", "Green tea"), nil)
	if a.status != 200 {
		t.Fatalf("status %d", a.status)
	}
	mustContain(t, a.body, "Card payment", "¥2,678", "Green tea", `lang="en"`, "日本語")
	s := hidden(t, a.body)
	if s.d == "" {
		t.Fatal("no signed order on the first page")
	}
	// the language switch re-renders the same order in Japanese
	a = do(t, b, "POST", e.srv.URL+"/link/creditcard/lang", s.form("lang", "ja"), nil)
	mustContain(t, a.body, "クレジットカード決済", "2,678円", "Green tea", `action="/link/creditcard/lang"`)
	checkSecurityHeaders(t, a.header)
	if s2 := hidden(t, a.body); s2 != s {
		t.Fatal("the language switch changed the order session")
	}
	// nothing is stored before the card is submitted
	var n int
	e.s.DB.QueryRow(context.Background(), `SELECT COUNT(*) FROM link_orders`).Scan(&n)
	if n != 0 {
		t.Fatalf("%d order rows after two page views", n)
	}
	// the browser cannot change the amount in the signed order
	body, sig, _ := strings.Cut(s.d, ".")
	raw, err := base64.RawURLEncoding.DecodeString(body)
	if err != nil || !strings.Contains(string(raw), `"m":1980`) {
		t.Fatalf("signed order %q %v", raw, err)
	}
	tampered := s
	tampered.d = base64.RawURLEncoding.EncodeToString([]byte(strings.Replace(string(raw), `"m":1980`, `"m":1`, 1))) + "." + sig
	a = do(t, b, "POST", e.srv.URL+"/link/creditcard/pay", cardForm(tampered, "4111111111111111"), nil)
	if a.status != 400 || !strings.Contains(a.body, "ER001") {
		t.Fatalf("tampered order: %d", a.status)
	}
	if ok, declined := successes(t, e, "123456", "W-1001"); ok+declined != 0 {
		t.Fatal("a tampered order was charged")
	}
}

func TestShiftJISFormToPayform(t *testing.T) {
	e := newEnv(t, time.Time{})
	enc := japanese.ShiftJIS.NewEncoder()
	item, _ := enc.String("ほうじ茶")
	body := "aid=123456&pt=1&jb=CAPTURE&am=500&tx=50&sf=0&cod=S-1&inm=" + url.QueryEscape(item)
	res, err := http.Post(e.srv.URL+"/gateway/payform.aspx", "application/x-www-form-urlencoded", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 {
		t.Fatalf("status %d", res.StatusCode)
	}
	mustContain(t, string(b), "ほうじ茶", "550円")
}

func TestSourceURLAllowList(t *testing.T) {
	e := newEnv(t, time.Time{})
	form := orderForm("aid", "234567")
	for _, tc := range []struct {
		name   string
		hdr    map[string]string
		status int
	}{
		{"foreign referer is ER002", map[string]string{"Referer": "https://evil.example.com/cart"}, 403},
		{"foreign origin is ER002", map[string]string{"Origin": "https://evil.example.com"}, 403},
		{"no origin at all is ER002", nil, 403},
		{"allowed referer passes", map[string]string{"Referer": "https://shop.example.jp/cart"}, 200},
		{"allowed origin passes", map[string]string{"Origin": "https://shop.example.jp"}, 200},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := do(t, e.browser(), "POST", e.srv.URL+"/link/creditcard", form, tc.hdr)
			if a.status != tc.status {
				t.Fatalf("status %d, want %d", a.status, tc.status)
			}
			if has := strings.Contains(a.body, "ER002"); has != (tc.status == 403) {
				t.Fatalf("ER002 shown: %v", has)
			}
			checkSecurityHeaders(t, a.header)
		})
	}
}

// A store not contracted for convenience-store or bank payments (the default: cards only) gets
// the unavailable page with the wire's code for it, ER165 (issue 13; it was ER001 while Kessai
// took cards only). Contracted stores get the payment page: see internal/e2e/noncard_test.go.
func TestOtherPaymentTypesUnavailable(t *testing.T) {
	e := newEnv(t, time.Time{})
	for _, pt := range []string{"2", "7"} {
		a := do(t, e.browser(), "POST", e.srv.URL+"/gateway/payform.aspx", orderForm("pt", pt), nil)
		mustContain(t, a.body, "お取り扱いできません", "ER165")
		a = do(t, e.browser(), "POST", e.srv.URL+"/gateway/payform.aspx", orderForm("pt", pt, "lang", "en"), nil)
		mustContain(t, a.body, "Payment method not available", "ER165")
	}
}

func TestErrorsBeforeThePage(t *testing.T) {
	e := newEnv(t, time.Time{})
	for _, tc := range []struct {
		name string
		form url.Values
		code wire.Code
	}{
		{"unknown store", orderForm("aid", "999999"), wire.ERUnknownStore},
		{"bad store ID", orderForm("aid", "12x"), wire.ERParamAID},
		{"unknown product", orderForm("iid", "NOPE-1"), wire.ERUnknownItem},
		{"bad amount", orderForm("am", "12.5"), wire.ERParamAmount},
		{"bad job", orderForm("jb", "SALES"), wire.ERParamJob},
		{"bad order number", orderForm("cod", "a,b"), wire.ERParamCod},
		{"above the store maximum", orderForm("am", "99999999"), wire.ERAmountTooHigh},
		{"installments the store does not take", orderForm("md", "61-3"), wire.ERParamMethod},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := do(t, e.browser(), "POST", e.srv.URL+"/link/creditcard", tc.form, nil)
			if a.status < 400 {
				t.Fatalf("status %d", a.status)
			}
			mustNotContain(t, a.body, "goroutine", "sql", "panic", "<script>alert")
			// issue 15 item 6 (this test asserted both languages side by side before): the page
			// is in its own language — the code once, its meaning in Japanese, no English and no
			// wire parameter names; English is behind the page's switch, also without them
			ja, en := langSections(t, a.body, "en")
			if n := strings.Count(ja, ">"+string(tc.code)+"<"); n != 1 || strings.Count(ja, string(tc.code)) != strings.Count(ja, "ec="+string(tc.code))+1 {
				t.Fatalf("the code appears %d times on the Japanese page", n)
			}
			if d := paramFree(tc.code.Describe("ja")); !strings.Contains(ja, d) {
				t.Fatalf("Japanese page lacks %q:\n%s", d, ja)
			}
			if d := paramFree(tc.code.Describe("en")); strings.Contains(ja, d) || strings.Contains(ja, tc.code.Describe("en")) {
				t.Fatalf("English developer text %q on the Japanese page", d)
			}
			if reParamLeak.MatchString(ja) || reParamLeak.MatchString(en) {
				t.Fatalf("a wire parameter name on the page:\n%s\n%s", ja, en)
			}
			if !strings.Contains(strings.ToLower(en), strings.ToLower(paramFree(tc.code.Describe("en")))) || strings.Count(en, ">"+string(tc.code)+"<") != 1 {
				t.Fatalf("English section lacks %q or its code:\n%s", paramFree(tc.code.Describe("en")), en)
			}
			// a way back: the store's completion URL when the store is known, else the browser's back
			mustContain(t, ja, `id="back"`)
			if tc.code != wire.ERUnknownStore && tc.code != wire.ERParamAID {
				mustContain(t, ja, `id="back-store"`, `href="https://shop.example.jp/thanks?from=kessai&amp;`, "ec="+string(tc.code)+"&amp;rst=2")
			}
		})
	}
}

var reParamLeak = regexp.MustCompile(`[(（](aid|am|tx|sf|jb|cod|cn|ed|cvv|md|iid|fn|ln|em|pn)[)）]`)

// paramFree is a code description without its wire parameter name.
func paramFree(s string) string {
	return strings.TrimSpace(regexp.MustCompile(`\s*[(（][a-z0-9]{2,5}[)）]`).ReplaceAllString(s, ""))
}

// langSections splits an error or maintenance page into its own-language part and the part behind
// the language switch (id="alt-<other>").
func langSections(t testing.TB, body, other string) (own, alt string) {
	t.Helper()
	i := strings.Index(body, `<div class="primary-lang">`)
	j := strings.Index(body, `<div id="alt-`+other+`" class="alt-lang"`)
	if i < 0 || j < 0 || j > i {
		t.Fatalf("no language sections:\n%.3000s", body)
	}
	own = body[i:]
	if k := strings.Index(own, "</main>"); k > 0 {
		own = own[:k]
	}
	return own, body[j:i]
}

func TestProductCode(t *testing.T) {
	e := newEnv(t, time.Time{})
	if err := e.s.DB.PutProduct(context.Background(), &store.Product{AID: "123456", IID: "TEA-1", Name: "煎茶セット", Am: 3000, Tx: 300}); err != nil {
		t.Fatal(err)
	}
	f := orderForm("iid", "TEA-1")
	f.Del("am")
	f.Del("inm")
	a := do(t, e.browser(), "POST", e.srv.URL+"/link/creditcard", f, nil)
	mustContain(t, a.body, "煎茶セット", "3,300円")
}

func successes(t testing.TB, e *env, aid, cod string) (ok, declined int) {
	t.Helper()
	rows, err := e.s.DB.Query(context.Background(), `SELECT rst FROM payments WHERE aid = ? AND cod = ?`, aid, cod)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var rst string
		rows.Scan(&rst)
		if rst == "1" {
			ok++
		} else {
			declined++
		}
	}
	return
}

func TestDeclineThenSuccessIsOnePayment(t *testing.T) {
	e := newEnv(t, time.Time{})
	b := e.browser()
	a := do(t, b, "POST", e.srv.URL+"/link/creditcard", orderForm(), nil)
	s := hidden(t, a.body)

	a = do(t, b, "POST", e.srv.URL+"/link/creditcard/pay", cardForm(s, "4000 0000 0000 0002"), nil)
	if a.url.Path != "/link/creditcard/order" || a.status != 200 {
		t.Fatalf("after a decline: %d %s", a.status, a.url)
	}
	mustContain(t, a.body, "ER030", "お支払いができませんでした", "抹茶ラテ", "2,678円")
	mustNotContain(t, a.body, "4000000000000002")
	s2 := hidden(t, a.body)
	if s2.o != s.o || s2.csrf != s.csrf {
		t.Fatal("the retry lost the order session")
	}

	a = do(t, b, "POST", e.srv.URL+"/link/creditcard/pay", cardForm(s, "4111111111111111"), nil)
	if a.url.Path != "/link/creditcard/result" || a.status != 200 {
		t.Fatalf("after payment: %d %s\n%s", a.status, a.url, a.body)
	}
	mustContain(t, a.body, "お支払いが完了しました", "411111******1111", "2,678円")
	mustNotContain(t, a.body, "4111111111111111")
	gid := regexp.MustCompile(`id="gid">(\d+)<`).FindStringSubmatch(a.body)
	if gid == nil {
		t.Fatal("no gid on the result page")
	}
	ret := regexp.MustCompile(`id="return" class="button primary" href="([^"]+)"`).FindStringSubmatch(a.body)
	if ret == nil {
		t.Fatal("no return link")
	}
	u, err := url.Parse(strings.ReplaceAll(ret[1], "&amp;", "&"))
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	if u.Host != "shop.example.jp" || q.Get("from") != "kessai" || q.Get("rst") != "1" || q.Get("gid") != gid[1] ||
		q.Get("cod") != "W-1001" || q.Get("ta") != "2678" || q.Get("acting") != "jpayment_card" || q.Get("memo") != "a&b=c" || q.Get("ec") != "" {
		t.Fatalf("return URL %s", u)
	}
	ok, declined := successes(t, e, "123456", "W-1001")
	if ok != 1 || declined != 1 {
		t.Fatalf("payments: %d successful, %d declined; want 1 and 1", ok, declined)
	}
	// the kickback to the store's result URL is queued with the payment (the store has none here:
	// see the browser test for delivery); a second submission of the paid order charges nothing
	a = do(t, b, "POST", e.srv.URL+"/link/creditcard/pay", cardForm(s, "4111111111111111"), nil)
	if a.url.Path != "/link/creditcard/result" {
		t.Fatalf("resubmission went to %s", a.url)
	}
	if ok, _ := successes(t, e, "123456", "W-1001"); ok != 1 {
		t.Fatalf("%d successful payments after a resubmission", ok)
	}
	var src string
	e.s.DB.QueryRow(context.Background(), `SELECT source FROM payments WHERE gid = ?`, gid[1]).Scan(&src)
	if src != "link" {
		t.Fatalf("source %q", src)
	}
}

func TestKickbackQueuedForLinkPayments(t *testing.T) {
	e := newEnv(t, time.Time{})
	e.store("345678", "Kick Shop", func(st *store.Store) { st.ResultURL = "https://shop.example.jp/kick" })
	b := e.browser()
	a := do(t, b, "POST", e.srv.URL+"/link/creditcard", orderForm("aid", "345678", "cod", "K-1"), nil)
	s := hidden(t, a.body)
	a = do(t, b, "POST", e.srv.URL+"/link/creditcard/pay", cardForm(s, "4111111111111111"), nil)
	gid := regexp.MustCompile(`id="gid">(\d+)<`).FindStringSubmatch(a.body)
	if gid == nil {
		t.Fatalf("no result:\n%s", a.body)
	}
	kbs, err := e.s.DB.KickbacksOf(context.Background(), "345678", gid[1], 10)
	if err != nil || len(kbs) != 1 {
		t.Fatalf("kickbacks %v %v", kbs, err)
	}
	if q := kbs[0].Query; !strings.Contains(q, "rst=1") || !strings.Contains(q, "acting=jpayment_card") {
		t.Fatalf("kickback query %q", q)
	}
}

func TestCardFormValidationNeverEchoesTheCard(t *testing.T) {
	e := newEnv(t, time.Time{})
	b := e.browser()
	a := do(t, b, "POST", e.srv.URL+"/link/creditcard", orderForm(), nil)
	s := hidden(t, a.body)
	f := cardForm(s, "4111111111111112") // check digit wrong
	f.Set("exp_year", "20")              // and expired
	f.Set("holder", "山田")
	a = do(t, b, "POST", e.srv.URL+"/link/creditcard/pay", f, nil)
	if a.status != http.StatusUnprocessableEntity {
		t.Fatalf("status %d", a.status)
	}
	mustContain(t, a.body, "カード番号が正しくありません", "カード名義をローマ字")
	mustNotContain(t, a.body, "4111111111111112", "value=\"123\"")
	if ok, declined := successes(t, e, "123456", "W-1001"); ok+declined != 0 {
		t.Fatal("an invalid card reached the payment service")
	}
}

func TestCardFormNeedsSessionCookieAndCSRF(t *testing.T) {
	e := newEnv(t, time.Time{})
	b := e.browser()
	a := do(t, b, "POST", e.srv.URL+"/link/creditcard", orderForm(), nil)
	s := hidden(t, a.body)
	// wrong anti-forgery token
	forged := "x" + s.csrf[1:]
	if forged == s.csrf {
		forged = "y" + s.csrf[1:] // (the token may start with x: 1 in 64)
	}
	a = do(t, b, "POST", e.srv.URL+"/link/creditcard/pay", cardForm(sess{s.o, forged, s.d}, "4111111111111111"), nil)
	if a.status != 400 || !strings.Contains(a.body, "ER001") {
		t.Fatalf("forged token: %d", a.status)
	}
	// another browser (no binding cookie), even with the right token
	a = do(t, e.browser(), "POST", e.srv.URL+"/link/creditcard/pay", cardForm(s, "4111111111111111"), nil)
	if a.status != 400 {
		t.Fatalf("foreign browser: %d", a.status)
	}
	// an expired session
	e.clk.Advance(31 * time.Minute)
	a = do(t, b, "POST", e.srv.URL+"/link/creditcard/pay", cardForm(s, "4111111111111111"), nil)
	if a.status != 400 {
		t.Fatalf("expired session: %d", a.status)
	}
	if ok, declined := successes(t, e, "123456", "W-1001"); ok+declined != 0 {
		t.Fatal("a refused submission was charged")
	}
}

func TestHostedThreeDSChallenge(t *testing.T) {
	for _, tc := range []struct {
		name   string
		action string
		wantOK bool
	}{{"authenticated", "authenticate", true}, {"cancelled", "cancel", false}} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, time.Time{})
			b := e.browser()
			a := do(t, b, "POST", e.srv.URL+"/link/creditcard", orderForm(), nil)
			s := hidden(t, a.body)
			a = do(t, b, "POST", e.srv.URL+"/link/creditcard/pay", cardForm(s, "4000000000003220"), nil)
			if a.url.Path != "/link/creditcard/3ds" {
				t.Fatalf("challenge card went to %s:\n%s", a.url, a.body)
			}
			checkSecurityHeaders(t, a.header)
			mustContain(t, a.body, `id="EMV3DS_INPUT_FORM"`, "認証する", "キャンセル", "400000******3220")
			code := regexp.MustCompile(`id="sandbox-code" class="mono">(\d{6})<`).FindStringSubmatch(a.body)
			if code == nil {
				t.Fatal("no sandbox code")
			}
			a = do(t, b, "POST", e.srv.URL+"/link/creditcard/3ds", s.form("otp", code[1], "action", tc.action), nil)
			ok, _ := successes(t, e, "123456", "W-1001")
			if tc.wantOK {
				if a.url.Path != "/link/creditcard/result" || ok != 1 {
					t.Fatalf("after authentication: %s, %d payments", a.url, ok)
				}
				return
			}
			if a.url.Path != "/link/creditcard/order" || ok != 0 {
				t.Fatalf("after cancel: %s, %d payments", a.url, ok)
			}
			// issue 15 item 4 (this test asserted ER901 before): a cancel says it was
			// cancelled, once, and is not called a failure
			mustContain(t, a.body, "本人認証をキャンセルしました", "お支払いは行われていません")
			mustNotContain(t, a.body, "ER901", "お支払いができませんでした", "3Dセキュア認証に失敗しました", "本人認証ができませんでした")
			// the same order can still be paid with another card
			a = do(t, b, "POST", e.srv.URL+"/link/creditcard/pay", cardForm(s, "5555555555554444"), nil)
			if a.url.Path != "/link/creditcard/result" {
				t.Fatalf("retry went to %s", a.url)
			}
		})
	}
}

func TestHostedThreeDSIssuerRefuses(t *testing.T) {
	e := newEnv(t, time.Time{})
	b := e.browser()
	a := do(t, b, "POST", e.srv.URL+"/link/creditcard", orderForm(), nil)
	s := hidden(t, a.body)
	a = do(t, b, "POST", e.srv.URL+"/link/creditcard/pay", cardForm(s, "4000000000003238"), nil)
	if a.url.Path != "/link/creditcard/order" {
		t.Fatalf("went to %s", a.url)
	}
	mustContain(t, a.body, "ER901")
}

// api posts to the token API as a merchant page's script would.
func api(t testing.TB, e *env, path string, form url.Values, origin string) (int, http.Header, map[string]any) {
	t.Helper()
	hdr := map[string]string{}
	if origin != "" {
		hdr["Origin"] = origin
	}
	a := do(t, http.DefaultClient, "POST", e.srv.URL+path, form, hdr)
	var m map[string]any
	if err := json.Unmarshal([]byte(a.body), &m); err != nil {
		t.Fatalf("%s: not JSON (%d): %s", path, a.status, a.body)
	}
	return a.status, a.header, m
}

func newToken(t testing.TB, e *env, cn string) string {
	t.Helper()
	st, _, m := api(t, e, "/gateway/token.json", url.Values{"aid": {"123456"}, "cn": {cn}, "ed": {"3012"}, "fn": {"TARO"}, "ln": {"YAMADA"}, "cvv": {"123"}}, "")
	if st != 200 || m["resultCode"] != "Success" {
		t.Fatalf("token: %d %v", st, m)
	}
	tkn, _ := m["token"].(string)
	if !regexp.MustCompile(`^[A-Za-z0-9]{32}$`).MatchString(tkn) {
		t.Fatalf("token %q", tkn)
	}
	return tkn
}

func gatewayToken(t testing.TB, e *env, tkn, cod string, am int) string {
	t.Helper()
	f := url.Values{"aid": {"123456"}, "jb": {"CAPTURE"}, "rt": {"1"}, "cod": {cod}, "am": {itoa(am)}, "tx": {"100"}, "sf": {"0"},
		"tkn": {tkn}, "em": {"taro@example.com"}}
	a := do(t, http.DefaultClient, "POST", e.srv.URL+"/gateway/gateway_token.aspx", f, nil)
	return strings.TrimSpace(a.body)
}

func itoa(n int) string { return strconv.Itoa(n) }

func TestTokenChargeThenReuseIsER584(t *testing.T) {
	e := newEnv(t, time.Time{})
	tkn := newToken(t, e, "4111111111111111")
	line := gatewayToken(t, e, tkn, "T-1", 1000)
	cols := strings.Split(line, ",")
	if len(cols) != 14 || cols[1] != "1" || cols[5] != "T-1" || cols[9] != "1100" {
		t.Fatalf("result line %q", line)
	}
	if got := gatewayToken(t, e, tkn, "T-2", 1000); got != "ER:ER584" {
		t.Fatalf("reuse: %q", got)
	}
}

func TestTokenExpiresAfterTenMinutes(t *testing.T) {
	e := newEnv(t, time.Time{})
	tkn := newToken(t, e, "4111111111111111")
	e.clk.Advance(10*time.Minute + time.Second)
	if got := gatewayToken(t, e, tkn, "T-3", 1000); got != "ER:ER585" {
		t.Fatalf("expired token: %q", got)
	}
}

func TestTokenAPIRefusals(t *testing.T) {
	e := newEnv(t, time.Time{})
	for _, tc := range []struct {
		name   string
		form   url.Values
		origin string
		code   string
		status int
	}{
		{"bad card number", url.Values{"aid": {"123456"}, "cn": {"12"}, "ed": {"3012"}, "cvv": {"123"}}, "", "ER055", 400},
		{"check digit", url.Values{"aid": {"123456"}, "cn": {"4111111111111112"}, "ed": {"3012"}, "cvv": {"123"}}, "", "ER014", 400},
		{"security code mismatch", url.Values{"aid": {"123456"}, "cn": {"4000000000000127"}, "ed": {"3012"}, "cvv": {"123"}}, "", "ER079", 400},
		{"security code required", url.Values{"aid": {"123456"}, "cn": {"4111111111111111"}, "ed": {"3012"}}, "", "ER079", 400},
		{"unknown store", url.Values{"aid": {"999999"}, "cn": {"4111111111111111"}, "ed": {"3012"}, "cvv": {"123"}}, "", "ER004", 404},
		{"foreign page", url.Values{"aid": {"234567"}, "cn": {"4111111111111111"}, "ed": {"3012"}, "cvv": {"123"}}, "https://evil.example.com", "ER002", 403},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st, hd, m := api(t, e, "/gateway/token.json", tc.form, tc.origin)
			if st != tc.status || m["code"] != tc.code || !strings.HasPrefix(hd.Get("Content-Type"), "application/problem+json") {
				t.Fatalf("%d %v %s", st, m, hd.Get("Content-Type"))
			}
			if tc.origin != "" && hd.Get("Access-Control-Allow-Origin") != tc.origin {
				t.Fatalf("the script could not read the refusal: ACAO %q", hd.Get("Access-Control-Allow-Origin"))
			}
		})
	}
	// an allowed page gets its token, readable cross-origin
	st, hd, m := api(t, e, "/gateway/token.json", url.Values{"aid": {"234567"}, "cn": {"4111111111111111"}, "ed": {"3012"}, "cvv": {"123"}},
		"https://shop.example.jp")
	if st != 200 || m["resultCode"] != "Success" || hd.Get("Access-Control-Allow-Origin") != "https://shop.example.jp" {
		t.Fatalf("%d %v %v", st, m, hd)
	}
	if c, _ := m["card"].(map[string]any); c["masked"] != "411111******1111" {
		t.Fatalf("card %v", m["card"])
	}
}

func authenticate(t testing.TB, e *env, tkn string, am int) (int, map[string]any) {
	t.Helper()
	st, _, m := api(t, e, "/gateway/3ds/authenticate.json", url.Values{"aid": {"123456"}, "tkn": {tkn}, "am": {itoa(am)}, "tx": {"100"},
		"sf": {"0"}, "em": {"taro@example.com"}}, "https://shop.example.jp")
	return st, m
}

func TestThreeDSAmountMismatchIsER584(t *testing.T) {
	e := newEnv(t, time.Time{})
	tkn := newToken(t, e, "4111111111111111")
	if st, m := authenticate(t, e, tkn, 1000); st != 200 || m["flow"] != "frictionless" {
		t.Fatalf("authenticate: %d %v", st, m)
	}
	if got := gatewayToken(t, e, tkn, "D-1", 2000); got != "ER:ER584" {
		t.Fatalf("other amounts: %q", got)
	}
	// the authenticated amounts still work: the refusal did not consume the token
	if got := gatewayToken(t, e, tkn, "D-1", 1000); !strings.HasPrefix(got, strings.SplitN(got, ",", 2)[0]+",1,") {
		t.Fatalf("authenticated amounts: %q", got)
	}
}

func TestThreeDSFailedIsER901(t *testing.T) {
	e := newEnv(t, time.Time{})
	tkn := newToken(t, e, "4000000000003238")
	if st, m := authenticate(t, e, tkn, 1000); st != 400 || m["code"] != "ER901" {
		t.Fatalf("authenticate: %d %v", st, m)
	}
	if got := gatewayToken(t, e, tkn, "D-2", 1000); got != "ER:ER901" {
		t.Fatalf("charge after a failed authentication: %q", got)
	}
}

func TestThreeDSChallengeByAPI(t *testing.T) {
	e := newEnv(t, time.Time{})
	tkn := newToken(t, e, "4000000000003220")
	st, m := authenticate(t, e, tkn, 1000)
	ch, _ := m["challenge"].(map[string]any)
	if st != 200 || m["flow"] != "challenge" || ch == nil {
		t.Fatalf("authenticate: %d %v", st, m)
	}
	code, _ := ch["sandboxCode"].(string)
	if got := gatewayToken(t, e, tkn, "D-3", 1000); got != "ER:ER900" {
		t.Fatalf("charge before the challenge is answered: %q", got)
	}
	s, _, m := api(t, e, "/gateway/3ds/complete.json", url.Values{"aid": {"123456"}, "tkn": {tkn}, "otp": {code}, "action": {"authenticate"}}, "")
	if s != 200 || m["resultCode"] != "Success" {
		t.Fatalf("complete: %d %v", s, m)
	}
	if got := gatewayToken(t, e, tkn, "D-3", 1000); strings.Split(got, ",")[1] != "1" {
		t.Fatalf("charge after the challenge: %q", got)
	}
}

func TestScriptsServed(t *testing.T) {
	e := newEnv(t, time.Time{})
	for path, names := range map[string][]string{
		"/gateway/js/CPToken.js":       {"TokenCreate", "CardInfo", "CARD_INPUT_FORM", "mainform", "tkn"},
		"/gateway/js/EMV3DSAdapter.js": {"ThreeDSAdapter", "authenticate", "EMV3DS_INPUT_FORM"},
		"/gateway/js/jquery.js":        {"jQuery v3", "jquery.com/license"},
		"/link/static/link.js":         {"cardform"},
		"/link/static/link.css":        {"test-mark"},
	} {
		a := do(t, http.DefaultClient, "GET", e.srv.URL+path, nil, nil)
		if a.status != 200 || a.header.Get("X-Content-Type-Options") != "nosniff" {
			t.Fatalf("%s: %d", path, a.status)
		}
		mustContain(t, a.body, names...)
	}
}

func TestMaintenancePage(t *testing.T) {
	e := newEnv(t, time.Date(2020, 7, 22, 3, 0, 0, 0, jst))
	w, err := maintenance.WallWindow("2020-07-22", "02:55", "04:30", "Asia/Tokyo")
	if err != nil {
		t.Fatal(err)
	}
	ws, err := e.s.DB.AddWindows(context.Background(), []maintenance.Window{w}, "test")
	if err != nil {
		t.Fatal(err)
	}
	e.s.Maint.Replace(ws)

	a := do(t, e.browser(), "POST", e.srv.URL+"/link/creditcard", orderForm(), nil)
	if a.status != 503 || a.header.Get("Retry-After") != "5400" {
		t.Fatalf("status %d, Retry-After %q", a.status, a.header.Get("Retry-After"))
	}
	mustContain(t, a.body, "ER999", "2020年07月22日(水) AM 02:55～AM 04:30", "メンテナンス", "テスト環境 / TEST")
	checkSecurityHeaders(t, a.header)

	a = do(t, e.browser(), "POST", e.srv.URL+"/gateway/payform.aspx", orderForm("lang", "en"), nil)
	mustContain(t, a.body, "ER999", "Wed 22 Jul 2020", "maintenance")

	// even a malformed or unknown-store request learns about the window first
	a = do(t, e.browser(), "POST", e.srv.URL+"/link/creditcard", orderForm("aid", "999999"), nil)
	if a.status != 503 {
		t.Fatalf("status %d", a.status)
	}

	st, hd, m := api(t, e, "/gateway/token.json", url.Values{"aid": {"123456"}, "cn": {"4111111111111111"}, "ed": {"3012"}, "cvv": {"123"}}, "https://shop.example.jp")
	if st != 503 || m["code"] != "ER999" || hd.Get("Retry-After") != "5400" {
		t.Fatalf("token API during maintenance: %d %v", st, m)
	}

	// the operator's own wording, from the notice settings, replaces Kessai's
	cfg, err := e.s.DB.NoticeConfig(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	cfg.MessageTemplateJA = "ただいまシステム更新中です（{{.Span}}）。{{.Code}}"
	if err := e.s.DB.SetNoticeConfig(context.Background(), cfg); err != nil {
		t.Fatal(err)
	}
	a = do(t, e.browser(), "POST", e.srv.URL+"/link/creditcard", orderForm(), nil)
	mustContain(t, a.body, "ただいまシステム更新中です（2020年07月22日(水) AM 02:55～AM 04:30）。ER999")

	// after the window the page works again, with no restart
	e.clk.Set(time.Date(2020, 7, 22, 4, 30, 0, 0, jst))
	a = do(t, e.browser(), "POST", e.srv.URL+"/link/creditcard", orderForm(), nil)
	if a.status != 200 {
		t.Fatalf("after the window: %d", a.status)
	}
}

func TestMaintenanceStartsWhileTheFormIsOpen(t *testing.T) {
	e := newEnv(t, time.Date(2020, 7, 22, 2, 50, 0, 0, jst))
	w, _ := maintenance.WallWindow("2020-07-22", "02:55", "04:30", "Asia/Tokyo")
	ws, err := e.s.DB.AddWindows(context.Background(), []maintenance.Window{w}, "test")
	if err != nil {
		t.Fatal(err)
	}
	e.s.Maint.Replace(ws)
	b := e.browser()
	a := do(t, b, "POST", e.srv.URL+"/link/creditcard", orderForm(), nil)
	s := hidden(t, a.body)
	e.clk.Set(time.Date(2020, 7, 22, 2, 56, 0, 0, jst))
	a = do(t, b, "POST", e.srv.URL+"/link/creditcard/pay", cardForm(s, "4111111111111111"), nil)
	if a.status != 503 || !strings.Contains(a.body, "ER999") {
		t.Fatalf("status %d", a.status)
	}
	if ok, declined := successes(t, e, "123456", "W-1001"); ok+declined != 0 {
		t.Fatal("charged during maintenance")
	}
}

func TestAutoChargeSignUpOnHostedPage(t *testing.T) {
	e := newEnv(t, time.Time{})
	b := e.browser()
	// a refused plan is refused before the card form, with the plan's own code
	a := do(t, b, "POST", e.srv.URL+"/link/creditcard", orderForm("actp", "99", "acam", "1000"), nil)
	mustContain(t, a.body, "ER126")

	a = do(t, b, "POST", e.srv.URL+"/link/creditcard", orderForm("cod", "AC-1", "actp", "4", "acam", "1000", "actx", "100", "ac1", "1"), nil)
	if a.status != 200 {
		t.Fatalf("sign-up page: %d\n%s", a.status, a.body)
	}
	s := hidden(t, a.body)
	a = do(t, b, "POST", e.srv.URL+"/link/creditcard/pay", cardForm(s, "4111111111111111"), nil)
	gid := regexp.MustCompile(`id="gid">(\d+)<`).FindStringSubmatch(a.body)
	if gid == nil {
		t.Fatalf("no result:\n%.2000s", a.body)
	}
	var acid string
	var acam int64
	if err := e.s.DB.QueryRow(context.Background(), `SELECT acid, acam FROM autocharges WHERE gid = ?`, gid[1]).Scan(&acid, &acam); err != nil || acam != 1000 {
		t.Fatalf("plan: %q %d %v", acid, acam, err)
	}
	if !strings.Contains(a.body, "acid="+acid) {
		t.Fatal("the return URL lacks the auto-charge number")
	}

	// 0 yen with a plan registers the card and charges nothing now
	a = do(t, b, "POST", e.srv.URL+"/link/creditcard", orderForm("cod", "AC-2", "am", "0", "tx", "0", "sf", "0", "actp", "4", "acam", "500"), nil)
	s = hidden(t, a.body)
	a = do(t, b, "POST", e.srv.URL+"/link/creditcard/pay", cardForm(s, "4111111111111111"), nil)
	mustContain(t, a.body, "カードの登録が完了しました")
}

func TestOversizedFormIs413(t *testing.T) {
	e := newEnv(t, time.Time{})
	f := orderForm("inm", strings.Repeat("あ", 40000))
	a := do(t, e.browser(), "POST", e.srv.URL+"/link/creditcard", f, nil)
	if a.status != http.StatusRequestEntityTooLarge || !strings.Contains(a.body, "ER001") {
		t.Fatalf("status %d", a.status)
	}
	st, _, m := api(t, e, "/gateway/token.json", url.Values{"aid": {"123456"}, "fn": {strings.Repeat("A", 70000)}}, "")
	if st != http.StatusRequestEntityTooLarge || m["code"] != "ER001" {
		t.Fatalf("token API: %d %v", st, m)
	}
}

// TestLongFreeParametersCanBePaid: an order whose free parameters use most of the 1,024 bytes the
// merchant may send is still payable — the card form's own fields (the signed order grows with the
// free parameters) are not counted against the merchant's limit.
func TestLongFreeParametersCanBePaid(t *testing.T) {
	e := newEnv(t, time.Time{})
	b := e.browser()
	a := do(t, b, "POST", e.srv.URL+"/link/creditcard", orderForm("memo", strings.Repeat("x", 900), "cod", "LONG-1"), nil)
	if a.status != 200 {
		t.Fatalf("order page: %d", a.status)
	}
	s := hidden(t, a.body)
	a = do(t, b, "POST", e.srv.URL+"/link/creditcard/pay", cardForm(s, "4111111111111111"), nil)
	if a.url.Path != "/link/creditcard/result" || a.status != 200 {
		t.Fatalf("paying an order with 900 bytes of free parameters: %d %s\n%.500s", a.status, a.url, a.body)
	}
	if ok, _ := successes(t, e, "123456", "LONG-1"); ok != 1 {
		t.Fatalf("%d payments", ok)
	}
}

// A successful payment turns its order session paid in the transaction that records it: the
// card form's submission is two writes (the order claimed, the payment with the order paid), not
// three. A second session of an order number paid before gets the first payment's result
// (replayed, nothing charged) and is turned paid after it, with that payment's gid.
func TestOrderPaidWithItsPayment(t *testing.T) {
	e := newEnv(t, time.Time{})
	b := e.browser()
	s := hidden(t, do(t, b, "POST", e.srv.URL+"/link/creditcard", orderForm(), nil).body)
	before := e.s.DB.WriterStats().Writes
	a := do(t, b, "POST", e.srv.URL+"/link/creditcard/pay", cardForm(s, "4111111111111111"), nil)
	if a.url.Path != "/link/creditcard/result" {
		t.Fatalf("after payment: %d %s", a.status, a.url)
	}
	if n := e.s.DB.WriterStats().Writes - before; n != 2 {
		t.Fatalf("the submission took %d writes, want 2 (claim the order; record the payment with the order paid)", n)
	}
	gid := regexp.MustCompile(`id="gid">(\d+)<`).FindStringSubmatch(a.body)
	o, err := e.s.DB.GetLinkOrder(context.Background(), s.o)
	if err != nil || gid == nil || o.Status != store.LinkPaid || o.Gid != gid[1] {
		t.Fatalf("order after payment: %+v (%v), result page gid %v", o, err, gid)
	}

	b2 := e.browser()
	s2 := hidden(t, do(t, b2, "POST", e.srv.URL+"/link/creditcard", orderForm(), nil).body)
	a = do(t, b2, "POST", e.srv.URL+"/link/creditcard/pay", cardForm(s2, "4111111111111111"), nil)
	if a.url.Path != "/link/creditcard/result" {
		t.Fatalf("second session of a paid order: %d %s", a.status, a.url)
	}
	if ok, _ := successes(t, e, "123456", "W-1001"); ok != 1 {
		t.Fatalf("%d successful payments for one order number", ok)
	}
	o2, err := e.s.DB.GetLinkOrder(context.Background(), s2.o)
	if err != nil || o2.Status != store.LinkPaid || o2.Gid != gid[1] {
		t.Fatalf("the second session after the replayed result: %+v (%v), want paid with gid %s", o2, err, gid[1])
	}
}
