package link_test

// Browser tests of the convenience-store and bank-transfer pages (issue 13): Chromium, a shop whose
// checkout posts payform.aspx with pt=2 / pt=7, in Japanese and English, at desktop and phone
// width. Screenshots land in ./screenshots/ with the card pages'.

import (
	"context"
	"html/template"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"kessai/internal/store"
)

var ncShopPage = template.Must(template.New("shop").Parse(`<!DOCTYPE html>
<html lang="ja"><head><meta charset="utf-8"><title>コンビニ商店</title></head>
<body><h1>コンビニ商店のレジ</h1>
<form id="checkout" method="post" action="{{.Kessai}}/gateway/payform.aspx" accept-charset="UTF-8">
{{range .Fields}}<input type="hidden" name="{{.K}}" value="{{.V}}">
{{end}}<button id="buy" type="submit">注文する</button>
</form></body></html>`))

// ncBrowserEnv is browserEnv with a shop posting payform.aspx, and the store taking every method.
func ncBrowserEnv(t *testing.T) (*env, *merchant, string) {
	e, m := browserEnv(t)
	shop := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		type kv struct{ K, V string }
		var fields []kv
		q := r.URL.Query()
		for _, k := range []string{"aid", "pt", "jb", "am", "tx", "sf", "cod", "inm", "em", "pn", "lang", "memo"} {
			if v := q.Get(k); v != "" {
				fields = append(fields, kv{k, v})
			}
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		ncShopPage.Execute(w, map[string]any{"Kessai": e.srv.URL, "Fields": fields})
	}))
	t.Cleanup(shop.Close)
	ctx := context.Background()
	st, _ := e.s.DB.GetStore(ctx, m.aid)
	st.AllowOrigins = append(st.AllowOrigins, shop.URL)
	must(t, e.s.DB.UpdateStore(ctx, st))
	set := store.DefaultStoreMethods(m.aid)
	set.Methods = []string{"card", "cvs", "bank"}
	must(t, e.s.DB.PutStoreMethods(ctx, set))
	e.s.Pay.Stores.Invalidate()
	return e, m, shop.URL
}

func ncShopURL(shop, aid string, kv ...string) string {
	q := url.Values{"aid": {aid}, "jb": {"CAPTURE"}, "am": {"1980"}, "tx": {"198"}, "sf": {"0"}, "pn": {"0312345678"},
		"em": {"hanako@example.jp"}, "inm": {"宇治抹茶ラテ"}, "memo": {"緑 & 白"}}
	for i := 0; i+1 < len(kv); i += 2 {
		q.Set(kv[i], kv[i+1])
	}
	return shop + "/?" + q.Encode()
}

func noSideScroll(t *testing.T, ctx context.Context, what string) {
	t.Helper()
	wide, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.documentElement.scrollWidth > window.innerWidth + 1`))
	must(t, err)
	if wide {
		t.Fatalf("%s scrolls sideways on a 390 px phone", what)
	}
}

func (m *merchant) waitKickWhere(pred func(url.Values) bool, d time.Duration) url.Values {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		m.mu.Lock()
		for _, k := range m.kicks {
			if pred(k) {
				m.mu.Unlock()
				return k
			}
		}
		m.mu.Unlock()
		time.Sleep(100 * time.Millisecond)
	}
	return nil
}

// TestBrowserConvenienceStore: the Japanese convenience-store flow at desktop and phone width: a
// name with small kana is refused next to its field, Lawson is chosen, the slip page shows the
// number and Loppi's steps, the return carries CPL_PRE to the shop, and the kickback follows.
func TestBrowserConvenienceStore(t *testing.T) {
	ctx := browserCtx(t)
	_, m, shop := ncBrowserEnv(t)
	must(t, chromedp.Do(ctx,
		chromedp.Navigate(ncShopURL(shop, m.aid, "pt", "2", "cod", "NC-1")),
		chromedp.Click(chromedp.ID("buy")),
		chromedp.WaitVisible(chromedp.ID("ncform")),
	))
	if got := text(t, ctx, "total"); got != "2,178円" {
		t.Fatalf("total %q", got)
	}
	screenshot(t, ctx, "cvs-ja-desktop", 1280, 900, false)
	screenshot(t, ctx, "cvs-ja-phone", 390, 844, true)
	noSideScroll(t, ctx, "the convenience-store page")
	must(t, chromedp.Do(ctx,
		chromedp.Click(chromedp.CSS(`input[name="cv"][value="020"]`)),
		chromedp.SendKeys(chromedp.ID("kana"), "キャロル"),
		chromedp.Click(chromedp.ID("issue")),
		chromedp.WaitVisible(chromedp.ID("err-kana")),
	))
	if got := text(t, ctx, "err-kana"); !strings.Contains(got, "全角カタカナ") {
		t.Fatalf("kana message %q", got)
	}
	if v, _ := chromedp.Run(ctx, chromedp.Value(chromedp.ID("kana"))); v != "キャロル" {
		t.Fatalf("the typed name was lost: %q", v)
	}
	must(t, chromedp.Do(ctx,
		chromedp.SetValue(chromedp.ID("kana"), "ヤマダ ハナコ"),
		chromedp.Click(chromedp.ID("issue")),
		chromedp.WaitVisible(chromedp.ID("slip-title")),
	))
	no := text(t, ctx, "pay-no")
	if len(no) != 11 || text(t, ctx, "chain") != "ローソン" || !strings.Contains(text(t, ctx, "steps"), "Loppi") ||
		!strings.Contains(text(t, ctx, "steps"), no) || text(t, ctx, "slip-state") != "お支払い待ち" {
		t.Fatalf("slip page: no %q chain %q", no, text(t, ctx, "chain"))
	}
	screenshot(t, ctx, "cvs-slip-ja-phone", 390, 844, true)
	noSideScroll(t, ctx, "the slip page")
	screenshot(t, ctx, "cvs-slip-ja-desktop", 1280, 900, false)
	// the English slip, from the language link
	clickThenWait(t, ctx, chromedp.Click(chromedp.CSS("a.lang")), `document.documentElement.lang === "en" && !!document.getElementById("slip-title")`)
	if !strings.Contains(text(t, ctx, "steps"), "reception number "+no) || text(t, ctx, "total") != "¥2,178" {
		t.Fatalf("English slip: %q", text(t, ctx, "steps"))
	}
	screenshot(t, ctx, "cvs-slip-en-phone", 390, 844, true)
	must(t, chromedp.Do(ctx, chromedp.Click(chromedp.ID("return")), chromedp.WaitVisible(chromedp.ID("thanks"))))
	loc, err := chromedp.Run(ctx, chromedp.Location())
	must(t, err)
	u, _ := url.Parse(loc)
	q := u.Query()
	if q.Get("ap") != "CPL_PRE" || q.Get("cv") != "020" || q.Get("no") != no || q.Get("cod") != "NC-1" || q.Get("memo") != "緑 & 白" {
		t.Fatalf("landed on %s", loc)
	}
	kick := m.waitKickWhere(func(k url.Values) bool { return k.Get("cod") == "NC-1" && k.Get("ap") == "CPL_PRE" }, 20*time.Second)
	if kick == nil || kick.Get("no") != no || kick.Get("gid") != q.Get("gid") {
		t.Fatalf("kickback %v", kick)
	}
}

// TestBrowserBankTransfer: the English bank-transfer flow at phone width, switched from Japanese on
// the page: the account, the exact amount, the deadline and the transfer-name rule.
func TestBrowserBankTransfer(t *testing.T) {
	ctx := browserCtx(t)
	e, m, shop := ncBrowserEnv(t)
	must(t, chromedp.Do(ctx,
		chromedp.Navigate(ncShopURL(shop, m.aid, "pt", "7", "cod", "NB-1")),
		chromedp.Click(chromedp.ID("buy")),
		chromedp.WaitVisible(chromedp.ID("ncform")),
	))
	clickThenWait(t, ctx, chromedp.Click(chromedp.ID("switch-lang")), `document.documentElement.lang === "en" && !!document.getElementById("ncform")`)
	if checked, _ := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.querySelector('input[type="radio"][name="method"][value="bank"]').checked`)); !checked {
		t.Fatal("pt=7 did not choose bank transfer")
	}
	screenshot(t, ctx, "bank-en-phone", 390, 844, true)
	noSideScroll(t, ctx, "the bank page")
	screenshot(t, ctx, "bank-en-desktop", 1280, 900, false)
	must(t, chromedp.Do(ctx,
		chromedp.SendKeys(chromedp.ID("kana"), "ヤマダ タロウ"),
		chromedp.Click(chromedp.ID("issue")),
		chromedp.WaitVisible(chromedp.ID("slip-title")),
	))
	page, err := chromedp.Run(ctx, chromedp.TextContent(chromedp.ID("slip")))
	must(t, err)
	for _, want := range []string{"ケッサイ銀行", "Account number", "¥2,178", "Send exactly this amount", "JST", "ヤマダタロウ"} {
		if !strings.Contains(page, want) {
			t.Fatalf("bank slip lacks %q:\n%s", want, page)
		}
	}
	screenshot(t, ctx, "bank-slip-en-phone", 390, 844, true)
	noSideScroll(t, ctx, "the bank slip page")
	clickThenWait(t, ctx, chromedp.Click(chromedp.CSS("a.lang")), `document.documentElement.lang === "ja" && !!document.getElementById("slip-title")`)
	if !strings.Contains(text(t, ctx, "transfer-rule"), "振込名義") {
		t.Fatal("Japanese transfer-name rule")
	}
	screenshot(t, ctx, "bank-slip-ja-desktop", 1280, 900, false)
	kick := m.waitKickWhere(func(k url.Values) bool { return k.Get("cod") == "NB-1" && k.Get("ap") == "BANK" }, 20*time.Second)
	if kick == nil || len(strings.Split(kick.Get("bank"), ".")) != 7 {
		t.Fatalf("kickback %v", kick)
	}
	// the same page answered over plain HTTP names the account too (the printable page is static)
	res, err := http.Get(e.srv.URL + "/link/slip/" + kick.Get("gid") + "?k=wrong")
	must(t, err)
	io.Copy(io.Discard, res.Body)
	res.Body.Close()
	if res.StatusCode != 404 {
		t.Fatalf("slip page with a wrong key: %d", res.StatusCode)
	}
}

// clickThenWait clicks something that loads another page, then waits until js is true on the page
// that loads. A wait by node (WaitVisible) started while the old page is still there can hold one
// of its nodes and fail with "Could not find node with given id" once the new page replaces it
// (CI, TestBrowserBankTransfer); an expression evaluated again until it holds cannot.
func clickThenWait(t *testing.T, ctx context.Context, click chromedp.Action[chromedp.Void], js string) {
	t.Helper()
	must(t, chromedp.Do(ctx, click))
	deadline := time.Now().Add(15 * time.Second)
	for {
		ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](js))
		if err == nil && ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after the click, %s never held (last error: %v)", js, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
