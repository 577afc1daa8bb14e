package link_test

// Issue 15 items 1–8, the server side over real HTTP: what a shopper on the hosted page reads and
// where each refusal leads. The browser tests (browser_shopper_test.go) show the same in Chromium.

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"kessai/internal/maintenance"
	"kessai/internal/store"
	"kessai/internal/wire"
)

var reGid = regexp.MustCompile(`id="gid">(\d+)<`)

// TestAutoChargeTermsStated: a sign-up states what will be charged, how often, from when, the
// trial, how many times and how to stop, before the button (登録する) and on the result page, which
// links to the plan's stop page (item 1).
func TestAutoChargeTermsStated(t *testing.T) {
	e := newEnv(t, time.Time{}) // 2026-05-01 12:00 JST
	b := e.browser()
	f := orderForm("cod", "AC-T1", "am", "0", "tx", "0", "sf", "0", "actp", "4", "acam", "2700", "actx", "270", "acsf", "10",
		"trtp", "2", "tr1", "30")
	a := do(t, b, "POST", e.srv.URL+"/link/creditcard", f, nil)
	if a.status != 200 {
		t.Fatalf("sign-up page: %d\n%.2000s", a.status, a.body)
	}
	plan := a.body[strings.Index(a.body, `id="plan"`):strings.Index(a.body, `id="cardform"`)]
	mustContain(t, plan, "定期購入（自動課金）のご契約内容", `id="plan-amount">2,980円<`, "毎月", `id="plan-first">2026年5月31日<`,
		"30日間（2026年5月31日まで）", "停止のお申し出まで継続", `id="plan-today">0円<`, "いつでも停止できます")
	mustContain(t, a.body, `id="pay" class="primary" data-busy="処理中です…">登録する</button>`, `id="total-label">本日のお支払い<`,
		"上記の定期購入の内容をご確認のうえ")
	mustNotContain(t, a.body, ">支払う<")

	// in English, with a stop count and no trial
	a = do(t, e.browser(), "POST", e.srv.URL+"/link/creditcard", orderForm("cod", "AC-T2", "actp", "2", "acam", "500", "ac3", "6", "lang", "en"), nil)
	mustContain(t, a.body, "Your subscription (automatic charges)", `id="plan-amount">¥500<`, "weekly", `id="plan-first">8 May 2026<`,
		`id="plan-trial">None<`, "Ends after 6 charges", `id="plan-today">¥2,678<`, ">Register and pay</button>", "You can stop at any time")

	// the result restates the terms and leads to the stop page
	s := hidden(t, do(t, b, "POST", e.srv.URL+"/link/creditcard", f, nil).body)
	a = do(t, b, "POST", e.srv.URL+"/link/creditcard/pay", cardForm(s, "4111111111111111"), nil)
	gid := reGid.FindStringSubmatch(a.body)
	if gid == nil {
		t.Fatalf("no result:\n%.2000s", a.body)
	}
	mustContain(t, a.body, "カードの登録が完了しました", "定期購入のお申し込みを受け付けました", `id="plan-amount">2,980円<`,
		`id="plan-first">2026年5月31日<`, `href="/link/creditcard/auto-charge/stop?aid=123456&amp;tid=`+gid[1]+`"`)
	stop := do(t, b, "GET", e.srv.URL+"/link/creditcard/auto-charge/stop?aid=123456&tid="+gid[1], nil, nil)
	if stop.status != 200 || !strings.Contains(stop.body, "2,980") {
		t.Fatalf("the stop page the result links to: %d\n%.1500s", stop.status, stop.body)
	}
}

// TestDeclineSaysWhatToFix: a declined security code says so next to the field, keeps the order,
// and does not tell the shopper to use another card; English names no wire parameter (item 5).
func TestDeclineSaysWhatToFix(t *testing.T) {
	e := newEnv(t, time.Time{})
	for _, lang := range []string{"ja", "en"} {
		b := e.browser()
		a := do(t, b, "POST", e.srv.URL+"/link/creditcard", orderForm("cod", "CVV-"+lang, "lang", lang), nil)
		s := hidden(t, a.body)
		cf := cardForm(s, "4000000000000127")
		cf.Set("lang", lang)
		a = do(t, b, "POST", e.srv.URL+"/link/creditcard/pay", cf, nil)
		if a.url.Path != "/link/creditcard/order" {
			t.Fatalf("%s: after the decline %s", lang, a.url)
		}
		errCVV := regexp.MustCompile(`id="err-cvv" aria-live="polite">([^<]+)<`).FindStringSubmatch(a.body)
		if lang == "ja" {
			mustContain(t, a.body, "ER079", "セキュリティコードが正しくありません。カード裏面の3桁", "ご注文はそのまま保持されています")
			mustNotContain(t, a.body, "別のカード")
			if errCVV == nil || !strings.Contains(errCVV[1], "セキュリティコードが正しくありません") {
				t.Fatalf("no message next to the security code: %v", errCVV)
			}
		} else {
			mustContain(t, a.body, "ER079", "The security code is wrong. Check the 3 digits on the back", "Your order is kept")
			mustNotContain(t, a.body, "another card", "(cvv)", "(cn)", "(ed)")
			if errCVV == nil || !strings.Contains(errCVV[1], "security code is wrong") {
				t.Fatalf("no message next to the security code: %v", errCVV)
			}
		}
		mustNotContain(t, a.body, "4000000000000127", `value="4000`) // (grouped, it is in the sandbox's test-card list)
	}
	// a generic decline does suggest another card; an expired card points at the expiry
	b := e.browser()
	s := hidden(t, do(t, b, "POST", e.srv.URL+"/link/creditcard", orderForm("cod", "EXP-1"), nil).body)
	a := do(t, b, "POST", e.srv.URL+"/link/creditcard/pay", cardForm(s, "4000000000000069"), nil)
	mustContain(t, a.body, `id="err-ed" aria-live="polite">有効期限が正しくないか`)
	a = do(t, b, "POST", e.srv.URL+"/link/creditcard/pay", cardForm(s, "4000000000000002"), nil)
	mustContain(t, a.body, "ER030", "別のカードをお使いいただくか")
}

// TestBrandWindowKeepsTheOrder: a window limited to JCB is announced on the form; a JCB card
// returns to the form with that message and the order, and a Visa card then pays (item 3).
func TestBrandWindowKeepsTheOrder(t *testing.T) {
	e := newEnv(t, time.Date(2026, 5, 1, 3, 0, 0, 0, jst))
	w, err := maintenance.WallWindow("2026-05-01", "02:00", "04:30", "Asia/Tokyo")
	if err != nil {
		t.Fatal(err)
	}
	if w.Scope, err = maintenance.ParseScope("brand:JCB"); err != nil {
		t.Fatal(err)
	}
	ws, err := e.s.DB.AddWindows(context.Background(), []maintenance.Window{w}, "test")
	if err != nil {
		t.Fatal(err)
	}
	e.s.Maint.Replace(ws)

	b := e.browser()
	a := do(t, b, "POST", e.srv.URL+"/link/creditcard", orderForm("cod", "BR-1"), nil)
	if a.status != 200 {
		t.Fatalf("the form during a JCB-only window: %d", a.status)
	}
	notice := "JCBのカードは、メンテナンスのため5月1日 04:30までご利用いただけません。他のブランドのカードはご利用いただけます。"
	mustContain(t, a.body, `id="brand-notice"`, notice, `class="brand brand-jcb brand-closed"`, `data-closed="jcb"`)
	s := hidden(t, a.body)
	jcb := cardForm(s, "3530111333300000")
	a = do(t, b, "POST", e.srv.URL+"/link/creditcard/pay", jcb, nil)
	if a.status != 503 || a.header.Get("Retry-After") != "5400" {
		t.Fatalf("a JCB card: %d, Retry-After %q", a.status, a.header.Get("Retry-After"))
	}
	mustContain(t, a.body, `id="cardform"`, `id="err-cn" aria-live="polite">`+notice, "ER999", `value="TARO YAMADA"`, `<option value="12" selected>`)
	mustNotContain(t, a.body, "3530111333300000", "メンテナンス中です</h1>")
	if s2 := hidden(t, a.body); s2.o != s.o {
		t.Fatal("the order was not kept")
	}
	a = do(t, b, "POST", e.srv.URL+"/link/creditcard/pay", cardForm(s, "4111111111111111"), nil)
	if a.url.Path != "/link/creditcard/result" {
		t.Fatalf("Visa during the JCB window went to %s", a.url)
	}
	if ok, declined := successes(t, e, "123456", "BR-1"); ok != 1 || declined != 0 {
		t.Fatalf("%d payments, %d declined", ok, declined)
	}
	// English
	a = do(t, e.browser(), "POST", e.srv.URL+"/link/creditcard", orderForm("cod", "BR-2", "lang", "en"), nil)
	mustContain(t, a.body, "JCB cards cannot be used until 1 May 04:30 JST because of maintenance.")
}

// TestThreeDSGivesAttempts: a wrong code leaves attempts (3 in all); the third wrong code fails the
// authentication; a right code after wrong ones pays once; full-width digits are the same code
// (items 4 and 2).
func TestThreeDSGivesAttempts(t *testing.T) {
	reCode := regexp.MustCompile(`id="sandbox-code" class="mono">(\d{6})<`)
	start := func(t *testing.T, e *env, cod string) (sess, string, *http.Client) {
		b := e.browser()
		s := hidden(t, do(t, b, "POST", e.srv.URL+"/link/creditcard", orderForm("cod", cod), nil).body)
		a := do(t, b, "POST", e.srv.URL+"/link/creditcard/pay", cardForm(s, "4000000000003220"), nil)
		m := reCode.FindStringSubmatch(a.body)
		if a.url.Path != "/link/creditcard/3ds" || m == nil {
			t.Fatalf("no challenge: %s", a.url)
		}
		return s, m[1], b
	}
	t.Run("right after wrong", func(t *testing.T) {
		e := newEnv(t, time.Time{})
		s, code, c := start(t, e, "TDS-1")
		a := do(t, c, "POST", e.srv.URL+"/link/creditcard/3ds", s.form("otp", wrongCode(code), "action", "authenticate"), nil)
		if a.url.Path != "/link/creditcard/3ds" {
			t.Fatalf("a wrong code went to %s", a.url)
		}
		mustContain(t, a.body, "認証コードが正しくありません。もう一度入力してください（残り2回）。", `id="otp"`)
		a = do(t, c, "POST", e.srv.URL+"/link/creditcard/3ds", s.form("otp", wrongCode(code), "action", "authenticate"), nil)
		mustContain(t, a.body, "（残り1回）")
		a = do(t, c, "POST", e.srv.URL+"/link/creditcard/3ds", s.form("otp", fullWidth(code), "action", "authenticate"), nil)
		if a.url.Path != "/link/creditcard/result" {
			t.Fatalf("the right code (typed full-width) went to %s", a.url)
		}
		if ok, _ := successes(t, e, "123456", "TDS-1"); ok != 1 {
			t.Fatalf("%d payments", ok)
		}
	})
	t.Run("three wrong", func(t *testing.T) {
		e := newEnv(t, time.Time{})
		s, code, c := start(t, e, "TDS-2")
		var a answer
		for i := 0; i < 3; i++ {
			a = do(t, c, "POST", e.srv.URL+"/link/creditcard/3ds", s.form("otp", wrongCode(code), "action", "authenticate", "lang", "en"), nil)
		}
		if a.url.Path != "/link/creditcard/order" {
			t.Fatalf("after three wrong codes: %s", a.url)
		}
		mustContain(t, a.body, "ER901", "could not confirm it was you")
		if ok, _ := successes(t, e, "123456", "TDS-2"); ok != 0 {
			t.Fatalf("%d payments", ok)
		}
		// the right code now is too late: the challenge is over
		a = do(t, c, "POST", e.srv.URL+"/link/creditcard/3ds", s.form("otp", code, "action", "authenticate"), nil)
		if ok, _ := successes(t, e, "123456", "TDS-2"); ok != 0 || a.url.Path == "/link/creditcard/result" {
			t.Fatalf("paid after the challenge failed: %s", a.url)
		}
	})
}

// TestPaidOrderIsShownAgain: the merchant's form sent again by the browser that paid it (back,
// reload) leads to the order's result, not a second card form; the page script's state call says
// so, to that browser only (item 7).
func TestPaidOrderIsShownAgain(t *testing.T) {
	e := newEnv(t, time.Time{})
	b := e.browser()
	f := orderForm("cod", "BACK-1")
	s := hidden(t, do(t, b, "POST", e.srv.URL+"/link/creditcard", f, nil).body)
	st := do(t, b, "GET", e.srv.URL+"/link/creditcard/state?o="+s.o, nil, nil)
	if st.body != `{"paid":false}` {
		t.Fatalf("state before paying: %s", st.body)
	}
	a := do(t, b, "POST", e.srv.URL+"/link/creditcard/pay", cardForm(s, "4111111111111111"), nil)
	gid := reGid.FindStringSubmatch(a.body)
	if gid == nil {
		t.Fatal("not paid")
	}
	a = do(t, b, "POST", e.srv.URL+"/link/creditcard", f, nil)
	if a.url.Path != "/link/creditcard/result" || !strings.Contains(a.body, `id="gid">`+gid[1]+"<") {
		t.Fatalf("the form sent again went to %s\n%.1500s", a.url, a.body)
	}
	mustContain(t, a.body, "このご注文はお支払い済みです。")
	mustNotContain(t, a.body, `id="cardform"`)
	st = do(t, b, "GET", e.srv.URL+"/link/creditcard/state?o="+s.o, nil, nil)
	if !strings.Contains(st.body, `"paid":true`) || !strings.Contains(st.body, `/link/creditcard/result?o=`+s.o) {
		t.Fatalf("state after paying: %s", st.body)
	}
	// another browser learns nothing, and gets its own form
	if o := do(t, e.browser(), "GET", e.srv.URL+"/link/creditcard/state?o="+s.o, nil, nil); o.body != `{"paid":false}` {
		t.Fatalf("another browser: %s", o.body)
	}
	if a := do(t, e.browser(), "POST", e.srv.URL+"/link/creditcard", f, nil); !strings.Contains(a.body, `id="cardform"`) {
		t.Fatal("another browser did not get a form")
	}
	// another amount under the same order number is not the paid order
	if a := do(t, b, "POST", e.srv.URL+"/link/creditcard", orderForm("cod", "BACK-1", "am", "2000"), nil); !strings.Contains(a.body, `id="cardform"`) {
		t.Fatal("a different order was shown as paid")
	}
	if ok, _ := successes(t, e, "123456", "BACK-1"); ok != 1 {
		t.Fatalf("%d payments", ok)
	}
}

// TestSuspendedStorePage: the page of a suspended store is in the page's language only, says the
// code once and leads back to the store (item 6).
func TestSuspendedStorePage(t *testing.T) {
	e := newEnv(t, time.Time{})
	e.store("456789", "休止中の店", func(st *store.Store) {
		st.Suspended = true
		st.CompletionURL = "https://closed.example.jp/done"
	})
	a := do(t, e.browser(), "POST", e.srv.URL+"/link/creditcard", orderForm("aid", "456789", "cod", "S-1"), nil)
	if a.status != 403 {
		t.Fatalf("status %d", a.status)
	}
	ja, en := langSections(t, a.body, "en")
	mustContain(t, ja, "このショップでは現在カード決済をご利用いただけません", `>ER998<`, `id="back-store"`,
		`href="https://closed.example.jp/done?cod=S-1&amp;ec=ER998&amp;rst=2"`, "ショップに戻る")
	mustNotContain(t, ja, "store suspended", "Store suspended", "malformed request")
	if strings.Count(ja, ">ER998<") != 1 {
		t.Fatal("the code is said more than once")
	}
	mustContain(t, en, "Card payments are not available at this store", "Return to the store", "日本語")
	mustContain(t, a.body, `href="#alt-en"`, ">English<")

	// a malformed request in Japanese has no English in it
	a = do(t, e.browser(), "POST", e.srv.URL+"/link/creditcard/pay", nil, nil)
	ja, _ = langSections(t, a.body, "en")
	mustContain(t, ja, "ER001")
	mustNotContain(t, ja, "malformed request", "Malformed request")
}

// TestMaintenancePageOwnLanguage: the maintenance page names its code once, in the page's language,
// with the other language behind the switch and a way back (item 6).
func TestMaintenancePageOwnLanguage(t *testing.T) {
	e := newEnv(t, time.Date(2020, 7, 22, 3, 0, 0, 0, jst))
	w, _ := maintenance.WallWindow("2020-07-22", "02:55", "04:30", "Asia/Tokyo")
	ws, err := e.s.DB.AddWindows(context.Background(), []maintenance.Window{w}, "test")
	if err != nil {
		t.Fatal(err)
	}
	e.s.Maint.Replace(ws)
	a := do(t, e.browser(), "POST", e.srv.URL+"/link/creditcard", orderForm(), nil)
	ja, en := langSections(t, a.body, "en")
	if n := strings.Count(ja, "ER999"); n != 1 {
		t.Fatalf("ER999 %d times on the Japanese page", n)
	}
	mustContain(t, ja, "メンテナンス中です", `id="back"`)
	mustNotContain(t, ja, "maintenance", "Maintenance")
	mustContain(t, en, "Our payment system is undergoing maintenance", "Wed 22 Jul 2020")
}

// TestSandboxTestCardsTranslated: the sandbox's test-card list is in the page's language.
func TestSandboxTestCardsTranslated(t *testing.T) {
	e := newEnv(t, time.Time{})
	a := do(t, e.browser(), "POST", e.srv.URL+"/link/creditcard", orderForm(), nil)
	mustContain(t, a.body, "テストカード", "拒否：セキュリティコード不一致", "3Dセキュアの認証コード入力のあと承認")
	mustNotContain(t, a.body, "declined (generic)", "security code mismatch")
	a = do(t, e.browser(), "POST", e.srv.URL+"/link/creditcard", orderForm("lang", "en"), nil)
	mustContain(t, a.body, "Test cards", "declined: security code mismatch")
}

func wrongCode(code string) string {
	if code == "000000" {
		return "111111"
	}
	return "000000"
}

func fullWidth(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= '0' && r <= '9' {
			return '０' + (r - '0')
		}
		return r
	}, s)
}

// TestFullWidthCardWithoutScript (item 2, server side): a form sent without the page script (so
// with the full-width digits an IME typed) pays. The conversion on the server is the other half
// of item 2, made in internal/wire's getters on another branch: until that branch is merged this
// test skips, saying so; after the merge it runs.
func TestFullWidthCardWithoutScript(t *testing.T) {
	probe, err := wire.ParseQuery(url.Values{"cn": {"４１１１１１１１１１１１１１１１"}, "cvv": {"１２３"}}.Encode())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := probe.CardNumber(); err != nil {
		t.Skip("needs internal/wire's full-width conversion (issue 15 item 2, server side: the other helper's branch)")
	}
	e := newEnv(t, time.Time{})
	b := e.browser()
	s := hidden(t, do(t, b, "POST", e.srv.URL+"/link/creditcard", orderForm("cod", "FW-1"), nil).body)
	f := cardForm(s, "４１１１ １１１１ １１１１ １１１１")
	f.Set("cvv", "１２３")
	a := do(t, b, "POST", e.srv.URL+"/link/creditcard/pay", f, nil)
	if a.url.Path != "/link/creditcard/result" {
		t.Fatalf("full-width digits without the page script: %s\n%.1500s", a.url, a.body)
	}
	if ok, _ := successes(t, e, "123456", "FW-1"); ok != 1 {
		t.Fatalf("%d payments", ok)
	}
}
