package link_test

// Issue 15 items 1–8 in Chromium: what a shopper sees on the hosted page, in Japanese and English,
// on a desktop and on a 390 px phone. Screenshots land in ./screenshots/ like the other browser
// tests' (git-ignored).

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"kessai/internal/maintenance"
	"kessai/internal/store"
)

func evalJS[T any](t *testing.T, ctx context.Context, js string) T {
	t.Helper()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](js))
	must(t, err)
	return v
}

// visible is the text a shopper sees (hidden sections excluded).
func visible(t *testing.T, ctx context.Context) string {
	t.Helper()
	return evalJS[string](t, ctx, `document.body.innerText`)
}

func desktop(t *testing.T, ctx context.Context) {
	t.Helper()
	must(t, chromedp.Do(ctx, chromedp.EmulateViewport(1280, 900)))
}

func shots(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	screenshot(t, ctx, name+"-desktop", 1280, 900, false)
	screenshot(t, ctx, name+"-phone", 390, 844, true)
	noSideScroll(t, ctx, name)
	desktop(t, ctx)
}

// TestBrowserAutoChargeTerms (item 1): the sign-up states its terms before the 登録する button and
// on the result page, with the way to stop.
func TestBrowserAutoChargeTerms(t *testing.T) {
	ctx := browserCtx(t)
	e, m := browserEnv(t)
	must(t, chromedp.Do(ctx,
		chromedp.Navigate(shopURL(m, "cod", "BAC-1", "am", "0", "tx", "0", "sf", "0", "actp", "4", "acam", "2700", "actx", "270",
			"trtp", "2", "tr1", "30", "inm", "定期便 宇治抹茶")),
		chromedp.Click(chromedp.ID("buy")),
		chromedp.WaitVisible(chromedp.ID("plan")),
	))
	if got := text(t, ctx, "pay"); got != "登録する" {
		t.Fatalf("button %q", got)
	}
	vis := visible(t, ctx)
	for _, want := range []string{"毎回のお支払い金額", "2,970円", "毎月", "初回のお支払い日", "30日間", "停止方法", "いつでも停止できます", "本日のお支払い"} {
		if !strings.Contains(vis, want) {
			t.Fatalf("the form lacks %q:\n%s", want, vis)
		}
	}
	// the terms come before the button
	if !evalJS[bool](t, ctx, `!!(document.getElementById('plan').compareDocumentPosition(document.getElementById('pay')) & Node.DOCUMENT_POSITION_FOLLOWING)`) {
		t.Fatal("the terms are not above the button")
	}
	shots(t, ctx, "autocharge-ja")
	must(t, chromedp.Do(ctx, chromedp.Click(chromedp.CSS(".lang")), chromedp.WaitVisible(chromedp.CSS(`html[lang="en"] #plan`))))
	if got := text(t, ctx, "pay"); got != "Register" {
		t.Fatalf("English button %q", got)
	}
	shots(t, ctx, "autocharge-en")
	must(t, chromedp.Do(ctx, fillCard("4111111111111111"), chromedp.Click(chromedp.ID("pay")), chromedp.WaitVisible(chromedp.ID("result-title"))))
	vis = visible(t, ctx)
	for _, want := range []string{"Card registered", "Each charge", "¥2,970", "monthly", "Stop automatic charges"} {
		if !strings.Contains(vis, want) {
			t.Fatalf("the result lacks %q:\n%s", want, vis)
		}
	}
	shots(t, ctx, "autocharge-result-en")
	must(t, chromedp.Do(ctx, chromedp.Click(chromedp.CSS(".lang")), chromedp.WaitVisible(chromedp.CSS(`html[lang="ja"] #result-title`))))
	shots(t, ctx, "autocharge-result-ja")
	must(t, chromedp.Do(ctx, chromedp.Click(chromedp.ID("plan-stop-link")), chromedp.WaitReady(chromedp.CSS("body"))))
	if loc, _ := chromedp.Run(ctx, chromedp.Location()); !strings.Contains(loc, "/link/creditcard/auto-charge/stop?aid=345678&tid=") {
		t.Fatalf("the stop link went to %s", loc)
	}
	_ = e
}

// TestBrowserFullWidthDigits (item 2, page side): full-width digits typed in the card number and
// the security code are converted, never deleted, and the payment goes through.
func TestBrowserFullWidthDigits(t *testing.T) {
	ctx := browserCtx(t)
	e, m := browserEnv(t)
	must(t, chromedp.Do(ctx,
		chromedp.Navigate(shopURL(m, "cod", "BFW-1")),
		chromedp.Click(chromedp.ID("buy")),
		chromedp.WaitVisible(chromedp.ID("cardform")),
		chromedp.SendKeys(chromedp.ID("cn"), "４１１１　１１１１－１１１１１１１１"),
	))
	if v, _ := chromedp.Run(ctx, chromedp.Value(chromedp.ID("cn"))); v != "4111 1111 1111 1111" {
		t.Fatalf("card number field %q", v)
	}
	must(t, chromedp.Do(ctx,
		chromedp.SetValue(chromedp.ID("exp-month"), "12"),
		chromedp.SetValue(chromedp.ID("exp-year"), "30"),
		chromedp.SendKeys(chromedp.ID("holder"), "taro yamada"),
		chromedp.SendKeys(chromedp.ID("cvv"), "１２３"),
	))
	if v, _ := chromedp.Run(ctx, chromedp.Value(chromedp.ID("cvv"))); v != "123" {
		t.Fatalf("security code field %q", v)
	}
	if got := text(t, ctx, "err-cn"); got != "" {
		t.Fatalf("an error for a full-width number: %q", got)
	}
	// the Visa logo lit up as the number was typed
	if !evalJS[bool](t, ctx, `document.querySelector('#brands .brand-visa').classList.contains('brand-on')`) {
		t.Fatal("the brand was not detected")
	}
	shots(t, ctx, "fullwidth-ja")
	must(t, chromedp.Do(ctx, chromedp.Click(chromedp.ID("pay")), chromedp.WaitVisible(chromedp.ID("result-title"))))
	if ok, _ := successes(t, e, m.aid, "BFW-1"); ok != 1 {
		t.Fatalf("%d payments", ok)
	}
}

// TestBrowserBrandWindowAndLogos (items 3, 8): the store's brands are shown as logos, the typed
// number's brand lights up, and a brand closed by a window says until when; another brand pays.
func TestBrowserBrandWindowAndLogos(t *testing.T) {
	ctx := browserCtx(t)
	e, m := browserEnv(t)
	now := time.Now()
	w := maintenance.Window{Start: now.Add(-time.Hour), End: now.Add(2 * time.Hour), Zone: "Asia/Tokyo"}
	var err error
	if w.Scope, err = maintenance.ParseScope("brand:JCB"); err != nil {
		t.Fatal(err)
	}
	ws, err := e.s.DB.AddWindows(context.Background(), []maintenance.Window{w}, "test")
	if err != nil {
		t.Fatal(err)
	}
	e.s.Maint.Replace(ws)
	must(t, chromedp.Do(ctx, chromedp.Navigate(shopURL(m, "cod", "BBR-1")), chromedp.Click(chromedp.ID("buy")), chromedp.WaitVisible(chromedp.ID("brand-notice"))))
	if n := evalJS[int](t, ctx, `document.querySelectorAll('#brands .brand svg').length`); n != 5 {
		t.Fatalf("%d brand logos", n)
	}
	if !strings.Contains(text(t, ctx, "brand-notice"), "JCBのカードは、メンテナンスのため") {
		t.Fatalf("notice %q", text(t, ctx, "brand-notice"))
	}
	must(t, chromedp.Do(ctx, chromedp.SendKeys(chromedp.ID("cn"), "3530111333300000")))
	if !strings.Contains(text(t, ctx, "err-cn"), "JCBのカードは") {
		t.Fatalf("inline message %q", text(t, ctx, "err-cn"))
	}
	if !evalJS[bool](t, ctx, `document.querySelector('#brands .brand-jcb').classList.contains('brand-on')`) {
		t.Fatal("the JCB logo did not light up")
	}
	shots(t, ctx, "brand-window-ja")
	must(t, chromedp.Do(ctx, chromedp.Click(chromedp.CSS(".lang")), chromedp.WaitVisible(chromedp.CSS(`html[lang="en"] #brand-notice`)),
		chromedp.SendKeys(chromedp.ID("cn"), "3530111333300000")))
	if !strings.Contains(text(t, ctx, "err-cn"), "JCB cards cannot be used until") {
		t.Fatalf("English inline message %q", text(t, ctx, "err-cn"))
	}
	shots(t, ctx, "brand-window-en")
	// a Mastercard pays
	evalJS[bool](t, ctx, `['cn','holder','cvv'].forEach(function(id){document.getElementById(id).value=''}), true`)
	must(t, chromedp.Do(ctx, fillCard("5555555555554444")))
	if !evalJS[bool](t, ctx, `document.querySelector('#brands .brand-master').classList.contains('brand-on')`) {
		t.Fatal("the Mastercard logo did not light up")
	}
	must(t, chromedp.Do(ctx, chromedp.Click(chromedp.ID("pay")), chromedp.WaitVisible(chromedp.ID("result-title"))))
	if ok, _ := successes(t, e, m.aid, "BBR-1"); ok != 1 {
		t.Fatalf("%d payments", ok)
	}
}

// TestBrowserThreeDSAttemptsAndCancel (item 4): a wrong code leaves attempts; a cancel says it was
// cancelled, once.
func TestBrowserThreeDSAttemptsAndCancel(t *testing.T) {
	ctx := browserCtx(t)
	e, m := browserEnv(t)
	must(t, chromedp.Do(ctx,
		chromedp.Navigate(shopURL(m, "cod", "B3D-1")),
		chromedp.Click(chromedp.ID("buy")),
		fillCard("4000000000003220"),
		chromedp.Click(chromedp.ID("pay")),
		chromedp.WaitVisible(chromedp.ID("otp")),
	))
	code := text(t, ctx, "sandbox-code")
	must(t, chromedp.Do(ctx, chromedp.SendKeys(chromedp.ID("otp"), wrongCode(code)), chromedp.Click(chromedp.ID("tds-auth")),
		chromedp.WaitVisible(chromedp.ID("tds-alert"))))
	if got := text(t, ctx, "tds-alert"); !strings.Contains(got, "残り2回") {
		t.Fatalf("after a wrong code: %q", got)
	}
	shots(t, ctx, "tds-wrong-ja")
	must(t, chromedp.Do(ctx, chromedp.Click(chromedp.CSS(".lang")), chromedp.WaitVisible(chromedp.CSS(`html[lang="en"] #otp`))))
	shots(t, ctx, "tds-en")
	must(t, chromedp.Do(ctx, chromedp.Click(chromedp.CSS(".lang")), chromedp.WaitVisible(chromedp.CSS(`html[lang="ja"] #otp`)),
		chromedp.Click(chromedp.ID("tds-cancel")), chromedp.WaitVisible(chromedp.ID("alert"))))
	vis := visible(t, ctx)
	if strings.Count(vis, "キャンセル") != 1 || !strings.Contains(vis, "本人認証をキャンセルしました") || strings.Contains(vis, "失敗") ||
		strings.Contains(vis, "できませんでした") {
		t.Fatalf("after cancel:\n%s", vis)
	}
	shots(t, ctx, "tds-cancelled-ja")
	// the same order pays with the challenge code typed full-width
	must(t, chromedp.Do(ctx, fillCard("4000000000003220"), chromedp.Click(chromedp.ID("pay")), chromedp.WaitVisible(chromedp.ID("otp"))))
	code = text(t, ctx, "sandbox-code")
	must(t, chromedp.Do(ctx, chromedp.SendKeys(chromedp.ID("otp"), fullWidth(code)), chromedp.Click(chromedp.ID("tds-auth")),
		chromedp.WaitVisible(chromedp.ID("result-title"))))
	if ok, _ := successes(t, e, m.aid, "B3D-1"); ok != 1 {
		t.Fatalf("%d payments", ok)
	}
}

// TestBrowserDeclineKeepsWhatWasRight (item 5): after a wrong security code the name and expiry
// are still there, the card number and code are not, and the message stands next to the code.
func TestBrowserDeclineKeepsWhatWasRight(t *testing.T) {
	ctx := browserCtx(t)
	e, m := browserEnv(t)
	must(t, chromedp.Do(ctx,
		chromedp.Navigate(shopURL(m, "cod", "BDK-1")),
		chromedp.Click(chromedp.ID("buy")),
		fillCard("4000000000000127"),
		chromedp.Click(chromedp.ID("pay")),
		chromedp.WaitVisible(chromedp.ID("alert")),
	))
	vals := evalJS[[]string](t, ctx, `[document.getElementById('holder').value, document.getElementById('exp-month').value,
		document.getElementById('exp-year').value, document.getElementById('cn').value, document.getElementById('cvv').value]`)
	if vals[0] != "TARO YAMADA" || vals[1] != "12" || vals[2] != "30" || vals[3] != "" || vals[4] != "" {
		t.Fatalf("fields after the decline: %q", vals)
	}
	if got := text(t, ctx, "err-cvv"); !strings.Contains(got, "セキュリティコードが正しくありません") {
		t.Fatalf("security code message %q", got)
	}
	if strings.Contains(visible(t, ctx), "別のカード") {
		t.Fatal("a wrong code is told to use another card")
	}
	shots(t, ctx, "decline-cvv-ja")
	must(t, chromedp.Do(ctx, chromedp.Click(chromedp.CSS(".lang")), chromedp.WaitVisible(chromedp.CSS(`html[lang="en"] #cardform`))))
	if vis := visible(t, ctx); strings.Contains(vis, "(cvv)") || !strings.Contains(vis, "The security code is wrong") {
		t.Fatalf("English:\n%s", vis)
	}
	shots(t, ctx, "decline-cvv-en")
	must(t, chromedp.Do(ctx, chromedp.SendKeys(chromedp.ID("cn"), "4111111111111111"), chromedp.SendKeys(chromedp.ID("cvv"), "123"),
		chromedp.Click(chromedp.ID("pay")), chromedp.WaitVisible(chromedp.ID("result-title"))))
	if ok, declined := successes(t, e, m.aid, "BDK-1"); ok != 1 || declined != 1 {
		t.Fatalf("%d payments, %d declined", ok, declined)
	}
	// nothing is kept in the tab after paying
	if n := evalJS[int](t, ctx, `sessionStorage.length`); n != 0 {
		t.Fatalf("%d items left in sessionStorage", n)
	}
}

// TestBrowserErrorAndMaintenancePages (item 6): the page is in its own language with a switch to
// the other, names its code once and leads back.
func TestBrowserErrorAndMaintenancePages(t *testing.T) {
	ctx := browserCtx(t)
	e, m := browserEnv(t)
	e.store("456789", "休止中の店", func(st *store.Store) {
		st.Suspended = true
		st.CompletionURL = m.srv.URL + "/thanks"
		st.AllowOrigins = []string{m.srv.URL}
	})
	must(t, chromedp.Do(ctx, chromedp.Navigate(shopURL(m, "aid", "456789", "cod", "BE-1")), chromedp.Click(chromedp.ID("buy")),
		chromedp.WaitVisible(chromedp.ID("error-code"))))
	vis := visible(t, ctx)
	if strings.Count(vis, "ER998") != 1 || strings.Contains(strings.ToLower(vis), "suspended") || !strings.Contains(vis, "ショップに戻る") {
		t.Fatalf("suspended store page:\n%s", vis)
	}
	shots(t, ctx, "suspended-ja")
	must(t, chromedp.Do(ctx, chromedp.Click(chromedp.CSS("header .lang")), chromedp.WaitVisible(chromedp.CSS("#alt-en"))))
	vis = visible(t, ctx)
	if !strings.Contains(vis, "Card payments are not available at this store") || strings.Contains(vis, "ショップに戻る") {
		t.Fatalf("English:\n%s", vis)
	}
	shots(t, ctx, "suspended-en")
	// the browser's back leads to the shop's page
	// (the language switch added no history entry; the shop's page may come back from the
	// back-forward cache, which chromedp's DOM waits do not see: polled instead)
	must(t, chromedp.Do(ctx, chromedp.Click(chromedp.CSS("#alt-en .back-history"))))
	back := ""
	for i := 0; i < 100 && back == ""; i++ {
		back, _ = chromedp.Run(ctx, chromedp.Evaluate[string](`document.getElementById('buy') ? location.pathname : ''`))
		if back == "" {
			time.Sleep(200 * time.Millisecond)
		}
	}
	if back != "/shop" {
		t.Fatalf("back went to %s", back)
	}

}

// TestBrowserMaintenancePage (item 6): the maintenance page in its own language, the code once,
// the other language behind the switch, a way back.
func TestBrowserMaintenancePage(t *testing.T) {
	ctx := browserCtx(t)
	e, m := browserEnv(t)
	now := time.Now()
	w := maintenance.Window{Start: now.Add(-time.Hour), End: now.Add(2 * time.Hour), Zone: "Asia/Tokyo", Scope: maintenance.Scope{Ops: maintenance.DefaultScope}}
	ws, err := e.s.DB.AddWindows(context.Background(), []maintenance.Window{w}, "test")
	if err != nil {
		t.Fatal(err)
	}
	e.s.Maint.Replace(ws)
	must(t, chromedp.Do(ctx, chromedp.Navigate(shopURL(m, "cod", "BE-2")), chromedp.Click(chromedp.ID("buy")),
		chromedp.WaitVisible(chromedp.CSS(".primary-lang .maint"))))
	vis := visible(t, ctx)
	if strings.Count(vis, "ER999") != 1 || strings.Contains(vis, "maintenance") || !strings.Contains(vis, "前の画面に戻る") {
		t.Fatalf("maintenance page:\n%s", vis)
	}
	shots(t, ctx, "maintenance-ja")
	must(t, chromedp.Do(ctx, chromedp.Click(chromedp.CSS("header .lang")), chromedp.WaitVisible(chromedp.CSS("#alt-en"))))
	if vis = visible(t, ctx); !strings.Contains(vis, "Our payment system is undergoing maintenance") || strings.Count(vis, "ER999") != 1 {
		t.Fatalf("English maintenance page:\n%s", vis)
	}
	shots(t, ctx, "maintenance-en")
}

// TestBrowserBackAfterPaying (item 7): going back after paying shows the paid order's result, not
// the card form. The order is opened by a link (GET), as e-mailed and QR links are: going back
// loads that page again. (Back to a form posted by the shop is Chromium's own "confirm form
// resubmission" page; resubmitting it shows the result too: TestPaidOrderIsShownAgain.)
func TestBrowserBackAfterPaying(t *testing.T) {
	ctx := browserCtx(t)
	e, m := browserEnv(t)
	e.store("567890", "リンク商店", func(st *store.Store) { st.CompletionURL = m.srv.URL + "/thanks" })
	link := e.srv.URL + "/link/creditcard?aid=567890&jb=CAPTURE&am=1200&tx=120&sf=0&cod=BBK-1&inm=" + "抹茶"
	must(t, chromedp.Do(ctx,
		chromedp.Navigate(link),
		fillCard("4111111111111111"),
		chromedp.Click(chromedp.ID("pay")),
		chromedp.WaitVisible(chromedp.ID("result-title")),
	))
	gid := text(t, ctx, "gid")
	must(t, chromedp.Do(ctx, chromedp.NavigateBack()))
	res, err := chromedp.Run(ctx, chromedp.Poll[string](
		`(function(){var g=document.getElementById('gid'); return g ? g.textContent : null})()`,
		chromedp.WithPollingTimeout(20*time.Second)))
	must(t, err)
	if res != gid {
		t.Fatalf("after going back: result of %q, want %q", res, gid)
	}
	if evalJS[bool](t, ctx, `!!document.getElementById('cardform')`) {
		t.Fatal("the card form is offered again")
	}
	if got := text(t, ctx, "paid-already"); got != "このご注文はお支払い済みです。" {
		t.Fatalf("paid note %q", got)
	}
	shots(t, ctx, "back-after-paying-ja")
	must(t, chromedp.Do(ctx, chromedp.Click(chromedp.CSS(".lang")), chromedp.WaitVisible(chromedp.CSS(`html[lang="en"] #result-title`))))
	shots(t, ctx, "back-after-paying-en")
	if ok, _ := successes(t, e, "567890", "BBK-1"); ok != 1 {
		t.Fatalf("%d payments", ok)
	}
}

// TestBrowserCardInfoFullWidth (item 2): CPToken.js's card form on a merchant's page takes
// full-width digits in the number, expiry and security code.
func TestBrowserCardInfoFullWidth(t *testing.T) {
	ctx := browserCtx(t)
	_, m := browserEnv(t)
	must(t, chromedp.Do(ctx,
		chromedp.Navigate(m.srv.URL+"/token?cardinfo=1"),
		chromedp.WaitVisible(chromedp.ID("cptoken-cn")),
		chromedp.SendKeys(chromedp.ID("cptoken-cn"), "４１１１　１１１１　１１１１　１１１１"),
		chromedp.SendKeys(chromedp.ID("cptoken-ed"), "１２／３０"),
		chromedp.SendKeys(chromedp.ID("cptoken-name"), "taro yamada"),
		chromedp.SendKeys(chromedp.ID("cptoken-cvv"), "１２３"),
	))
	vals := evalJS[[]string](t, ctx, `['cptoken-cn','cptoken-ed','cptoken-cvv'].map(function(id){return document.getElementById(id).value})`)
	if strings.ReplaceAll(vals[0], " ", "") != "4111111111111111" || vals[1] != "12/30" || vals[2] != "123" {
		t.Fatalf("fields %q", vals)
	}
	must(t, chromedp.Do(ctx, chromedp.Click(chromedp.ID("cptoken-submit")), chromedp.WaitVisible(chromedp.ID("result"))))
	if line := text(t, ctx, "result"); strings.Split(line, ",")[1] != "1" {
		t.Fatalf("charge: %q", line)
	}
}
