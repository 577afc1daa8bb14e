package link_test

// Browser tests: Debian's Chromium, driven by chromedp, against a real Kessai and a small
// "merchant" web server. They run only with KESSAI_BROWSER_TESTS=1 (and then fail, not skip, when
// Chromium is missing); they never download a browser (internal/testenv/browser). Screenshots of
// the hosted page land in ./screenshots/ at the module root (git-ignored).

import (
	"bytes"
	"context"
	"fmt"
	"html/template"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"golang.org/x/text/encoding/japanese"

	"kessai/internal/clock"
	"kessai/internal/store"
	"kessai/internal/testenv/browser"
)

// browserCtx starts a headless Chromium for one test, in Japanese as the shopper's browser is
// (pages follow Accept-Language when the shop sends no lang, issue 15 item 6). Any JavaScript
// dialog (an alert that an injected script would open) is dismissed and fails the test.
func browserCtx(t *testing.T) context.Context {
	t.Helper()
	return browser.Start(t, browser.Options{Lang: "ja-JP,ja", Timeout: 120 * time.Second, FailOnDialog: true})
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func text(t *testing.T, ctx context.Context, id string) string {
	t.Helper()
	s, err := chromedp.Run(ctx, chromedp.TextContent(chromedp.ID(id)))
	must(t, err)
	return strings.TrimSpace(s)
}

// merchant is a shop's web server: a checkout page posting to the hosted page, a completion page,
// a kickback receiver, and a token checkout whose server charges through gateway_token.aspx.
type merchant struct {
	t      *testing.T
	srv    *httptest.Server
	kessai string
	aid    string
	mu     sync.Mutex
	kicks  []url.Values
	tokens []string
	n      atomic.Int32
}

var shopPage = template.Must(template.New("shop").Parse(`<!DOCTYPE html>
<html lang="ja"><head><meta charset="utf-8"><title>テスト商店</title></head>
<body><h1>テスト商店のレジ</h1>
<form id="checkout" method="post" action="{{.Kessai}}/link/creditcard" accept-charset="UTF-8">
{{range .Fields}}<input type="hidden" name="{{.K}}" value="{{.V}}">
{{end}}<button id="buy" type="submit">カードで支払う</button>
</form></body></html>`))

var tokenPage = template.Must(template.New("token").Parse(`<!DOCTYPE html>
<html lang="ja"><head><meta charset="utf-8"><title>Token checkout</title>
<script src="{{.Kessai}}/gateway/js/CPToken.js"></script>
<script src="{{.Kessai}}/gateway/js/EMV3DSAdapter.js"></script>
<script src="/merchant.js" defer></script></head>
<body data-aid="{{.AID}}" data-tds="{{.TDS}}" data-cardinfo="{{.CardInfo}}" data-am="1000" data-tx="100" data-sf="0">
<h1>トークン決済</h1>
{{if not .CardInfo}}<div>
<input id="cn" value="{{.CN}}"> <input id="ed" value="3012"> <input id="fn" value="TARO"> <input id="ln" value="YAMADA">
<input id="cvv" value="123"> <button type="button" id="buy">購入</button></div>{{end}}
<div id="CARD_INPUT_FORM"></div>
<div id="EMV3DS_INPUT_FORM"></div>
<p id="status"></p>
<form id="mainform" method="post" action="/charge">
<input type="hidden" id="tkn" name="tkn" value="">
<input type="hidden" name="am" value="1000"><input type="hidden" name="tx" value="100"><input type="hidden" name="sf" value="0">
</form></body></html>`))

const merchantJS = `(function () {
  var b = document.body.dataset;
  var status = document.getElementById('status');
  function v(id) { return document.getElementById(id).value; }
  function charge() { document.getElementById('mainform').submit(); }
  function after(code, msg) {
    status.textContent = 'token:' + code;
    if (code !== 'Success') { return; }
    if (b.tds === '1') {
      ThreeDSAdapter.authenticate({ aid: b.aid, tkn: v('tkn'), am: b.am, tx: b.tx, sf: b.sf, em: 'taro@example.com' }, function (c, m) {
        status.textContent = 'tds:' + c;
        if (c === 'Success') { charge(); }
      });
    } else { charge(); }
  }
  var buy = document.getElementById('buy');
  if (buy) {
    buy.addEventListener('click', function () {
      CPToken.TokenCreate({ aid: b.aid, cn: v('cn'), ed: v('ed'), fn: v('fn'), ln: v('ln'), cvv: v('cvv'), md: '10' }, after);
    });
  }
  if (b.cardinfo === 'true') { CPToken.CardInfo({ aid: b.aid }, after); }
})();`

func newMerchant(t *testing.T, e *env, aid string) *merchant {
	m := &merchant{t: t, kessai: e.srv.URL, aid: aid}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /shop", func(w http.ResponseWriter, r *http.Request) {
		type kv struct{ K, V string }
		var fields []kv
		q := r.URL.Query()
		for _, k := range []string{"aid", "pt", "jb", "am", "tx", "sf", "cod", "inm", "em", "acting", "color", "lang",
			"actp", "acam", "actx", "acsf", "ac1", "ac3", "trtp", "tr1"} {
			if v := q.Get(k); v != "" {
				fields = append(fields, kv{k, v})
			}
		}
		if q.Get("sjis") == "1" {
			// a legacy shop system: the page, and so the form the browser posts, is Shift_JIS
			var b bytes.Buffer
			shopPage.Execute(&b, map[string]any{"Kessai": m.kessai, "Fields": fields})
			page := strings.NewReplacer(`<meta charset="utf-8">`, `<meta charset="Shift_JIS">`, `accept-charset="UTF-8"`, `accept-charset="Shift_JIS"`).Replace(b.String())
			enc, err := japanese.ShiftJIS.NewEncoder().String(page)
			if err != nil {
				http.Error(w, err.Error(), 500)
				return
			}
			w.Header().Set("Content-Type", "text/html; charset=Shift_JIS")
			io.WriteString(w, enc)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		shopPage.Execute(w, map[string]any{"Kessai": m.kessai, "Fields": fields})
	})
	mux.HandleFunc("GET /thanks", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		io.WriteString(w, `<!DOCTYPE html><html><body><h1 id="thanks">ご注文ありがとうございました</h1></body></html>`)
	})
	mux.HandleFunc("GET /kick", func(w http.ResponseWriter, r *http.Request) {
		m.mu.Lock()
		m.kicks = append(m.kicks, r.URL.Query())
		m.mu.Unlock()
		io.WriteString(w, "OK")
	})
	mux.HandleFunc("GET /token", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		tokenPage.Execute(w, map[string]any{"Kessai": m.kessai, "AID": m.aid, "CN": q.Get("cn"), "TDS": q.Get("tds"), "CardInfo": q.Get("cardinfo") == "1"})
	})
	mux.HandleFunc("GET /merchant.js", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/javascript; charset=utf-8")
		io.WriteString(w, merchantJS)
	})
	// The merchant's server: it receives only the token and charges it server-to-server.
	mux.HandleFunc("POST /charge", func(w http.ResponseWriter, r *http.Request) {
		r.ParseForm()
		tkn := r.PostForm.Get("tkn")
		m.mu.Lock()
		m.tokens = append(m.tokens, tkn)
		m.mu.Unlock()
		if r.PostForm.Has("cn") {
			http.Error(w, "card data reached the merchant", 500)
			return
		}
		line := m.charge(tkn, r.PostForm.Get("am"))
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, `<!DOCTYPE html><html><body><pre id="result">%s</pre></body></html>`, template.HTMLEscapeString(line))
	})
	m.srv = httptest.NewServer(mux)
	t.Cleanup(m.srv.Close)
	return m
}

// charge is the merchant server's call to gateway_token.aspx.
func (m *merchant) charge(tkn, am string) string {
	f := url.Values{"aid": {m.aid}, "jb": {"CAPTURE"}, "rt": {"1"}, "cod": {fmt.Sprintf("TK-%d", m.n.Add(1))}, "am": {am}, "tx": {"100"},
		"sf": {"0"}, "tkn": {tkn}, "em": {"taro@example.com"}}
	res, err := http.PostForm(m.kessai+"/gateway/gateway_token.aspx", f)
	if err != nil {
		return "error: " + err.Error()
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return strings.TrimSpace(string(b))
}

func (m *merchant) lastToken() string {
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.tokens) == 0 {
		return ""
	}
	return m.tokens[len(m.tokens)-1]
}

func (m *merchant) waitKick(gid string, d time.Duration) url.Values {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		m.mu.Lock()
		for _, k := range m.kicks {
			if k.Get("gid") == gid {
				m.mu.Unlock()
				return k
			}
		}
		m.mu.Unlock()
		time.Sleep(100 * time.Millisecond)
	}
	return nil
}

// browserEnv is a Kessai on the real clock with its workers (kickback delivery) running, a
// merchant, and the merchant's store, which allows the merchant's origin only.
func browserEnv(t *testing.T) (*env, *merchant) {
	e := newEnvWith(t, clock.Real{})
	m := newMerchant(t, e, "345678")
	e.store("345678", "ブラウザ商店", func(st *store.Store) {
		st.CompletionURL = m.srv.URL + "/thanks?shop=1"
		st.ResultURL = m.srv.URL + "/kick"
		st.AllowOrigins = []string{m.srv.URL}
	})
	ctx, cancel := context.WithCancel(context.Background())
	e.s.StartWorkers(ctx)
	t.Cleanup(cancel)
	return e, m
}

func shopURL(m *merchant, kv ...string) string {
	q := url.Values{"aid": {m.aid}, "jb": {"CAPTURE"}, "am": {"1980"}, "tx": {"198"}, "sf": {"500"}, "cod": {"B-1"},
		"inm": {"宇治抹茶ラテ（アイス）"}, "acting": {"jpayment_card"}, "color": {"緑 & 白"}}
	for i := 0; i+1 < len(kv); i += 2 {
		q.Set(kv[i], kv[i+1])
	}
	return m.srv.URL + "/shop?" + q.Encode()
}

func fillCard(cn string) chromedp.Action[chromedp.Void] {
	return chromedp.Steps(
		chromedp.WaitVisible(chromedp.ID("cardform")),
		chromedp.SendKeys(chromedp.ID("cn"), cn),
		chromedp.SetValue(chromedp.ID("exp-month"), "12"),
		chromedp.SetValue(chromedp.ID("exp-year"), "30"),
		chromedp.SendKeys(chromedp.ID("holder"), "taro yamada"),
		chromedp.SendKeys(chromedp.ID("cvv"), "123"),
	)
}

func screenshot(t *testing.T, ctx context.Context, name string, w, h int64, mobile bool) {
	t.Helper()
	var opts []chromedp.EmulateViewportOption
	if mobile {
		opts = append(opts, chromedp.EmulateMobile, chromedp.EmulateTouch, chromedp.EmulateScale(2))
	}
	must(t, chromedp.Do(ctx, chromedp.EmulateViewport(w, h, opts...)))
	buf, err := chromedp.Run(ctx, chromedp.FullScreenshot(100)) // 100: PNG, the whole page
	must(t, err)
	must(t, os.WriteFile(filepath.Join(browser.ScreenshotDir(t), name+".png"), buf, 0o644))
}

func TestBrowserHostedPayment(t *testing.T) {
	ctx := browserCtx(t)
	e, m := browserEnv(t)
	must(t, chromedp.Do(ctx,
		chromedp.Navigate(shopURL(m)),
		chromedp.Click(chromedp.ID("buy")),
		chromedp.WaitVisible(chromedp.ID("cardform")),
	))
	if got := text(t, ctx, "item-name"); got != "宇治抹茶ラテ（アイス）" {
		t.Fatalf("item %q", got)
	}
	if got := text(t, ctx, "total"); got != "2,678円" {
		t.Fatalf("total %q", got)
	}
	screenshot(t, ctx, "hosted-ja-desktop", 1280, 900, false)
	screenshot(t, ctx, "hosted-ja-phone", 390, 844, true)
	// the phone layout has no horizontal scrolling
	wide, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.documentElement.scrollWidth > window.innerWidth + 1`))
	must(t, err)
	if wide {
		t.Fatal("the hosted page scrolls sideways on a 390 px phone")
	}
	must(t, chromedp.Do(ctx, chromedp.Click(chromedp.CSS(".lang")), chromedp.WaitVisible(chromedp.CSS(`html[lang="en"] #cardform`))))
	if got := text(t, ctx, "total"); got != "¥2,678" {
		t.Fatalf("English total %q", got)
	}
	screenshot(t, ctx, "hosted-en-phone", 390, 844, true)
	screenshot(t, ctx, "hosted-en-desktop", 1280, 900, false)
	must(t, chromedp.Do(ctx, chromedp.Click(chromedp.CSS(".lang")), chromedp.WaitVisible(chromedp.CSS(`html[lang="ja"] #cardform`))))

	// inline validation: an empty form is not sent, and says what is missing
	must(t, chromedp.Do(ctx, chromedp.Click(chromedp.ID("pay"))))
	if got := text(t, ctx, "err-cn"); got != "カード番号を入力してください。" {
		t.Fatalf("inline message %q", got)
	}
	must(t, chromedp.Do(ctx, fillCard("4111111111111111")))
	// the page script runs under the CSP: it grouped the number as typed
	if v, _ := chromedp.Run(ctx, chromedp.Value(chromedp.ID("cn"))); v != "4111 1111 1111 1111" {
		t.Fatalf("card number field %q: page script did not run", v)
	}
	must(t, chromedp.Do(ctx, chromedp.Click(chromedp.ID("pay")), chromedp.WaitVisible(chromedp.ID("result-title"))))
	screenshot(t, ctx, "result-ja-desktop", 1280, 900, false)
	gid := text(t, ctx, "gid")
	body, _ := chromedp.Run(ctx, chromedp.OuterHTML(chromedp.CSS("html")))
	if strings.Contains(body, "4111111111111111") || strings.Contains(body, "4111 1111 1111 1111") {
		t.Fatal("the result page shows the card number")
	}
	must(t, chromedp.Do(ctx, chromedp.Click(chromedp.ID("return")), chromedp.WaitVisible(chromedp.ID("thanks"))))
	loc, err := chromedp.Run(ctx, chromedp.Location())
	must(t, err)
	u, _ := url.Parse(loc)
	q := u.Query()
	if u.Path != "/thanks" || q.Get("shop") != "1" || q.Get("rst") != "1" || q.Get("gid") != gid || q.Get("cod") != "B-1" ||
		q.Get("ta") != "2678" || q.Get("acting") != "jpayment_card" || q.Get("color") != "緑 & 白" {
		t.Fatalf("landed on %s", loc)
	}
	kick := m.waitKick(gid, 20*time.Second)
	if kick == nil || kick.Get("rst") != "1" || kick.Get("acting") != "jpayment_card" || kick.Get("color") != "緑 & 白" {
		t.Fatalf("kickback %v", kick)
	}
	if ok, _ := successes(t, e, m.aid, "B-1"); ok != 1 {
		t.Fatalf("%d payments", ok)
	}
}

func TestBrowserDeclineThenSuccess(t *testing.T) {
	ctx := browserCtx(t)
	e, m := browserEnv(t)
	must(t, chromedp.Do(ctx,
		chromedp.Navigate(shopURL(m, "cod", "B-2")),
		chromedp.Click(chromedp.ID("buy")),
		fillCard("4000000000000002"),
		chromedp.Click(chromedp.ID("pay")),
		chromedp.WaitVisible(chromedp.ID("alert")),
	))
	if got := text(t, ctx, "alert-code"); got != "ER030" {
		t.Fatalf("decline code %q", got)
	}
	screenshot(t, ctx, "declined-ja-phone", 390, 844, true)
	must(t, chromedp.Do(ctx, chromedp.EmulateViewport(1280, 900)))
	must(t, chromedp.Do(ctx, fillCard("5555555555554444"), chromedp.Click(chromedp.ID("pay")), chromedp.WaitVisible(chromedp.ID("result-title"))))
	ok, declined := successes(t, e, m.aid, "B-2")
	if ok != 1 || declined != 1 {
		t.Fatalf("%d successful and %d declined payments, want 1 and 1", ok, declined)
	}
}

func TestBrowserHostedThreeDS(t *testing.T) {
	ctx := browserCtx(t)
	e, m := browserEnv(t)
	must(t, chromedp.Do(ctx,
		chromedp.Navigate(shopURL(m, "cod", "B-3")),
		chromedp.Click(chromedp.ID("buy")),
		fillCard("4000000000003220"),
		chromedp.Click(chromedp.ID("pay")),
		chromedp.WaitVisible(chromedp.ID("otp")),
	))
	screenshot(t, ctx, "challenge-ja-phone", 390, 844, true)
	must(t, chromedp.Do(ctx, chromedp.EmulateViewport(1280, 900)))
	code := text(t, ctx, "sandbox-code")
	must(t, chromedp.Do(ctx, chromedp.SendKeys(chromedp.ID("otp"), code), chromedp.Click(chromedp.ID("tds-auth")),
		chromedp.WaitVisible(chromedp.ID("result-title"))))
	if ok, _ := successes(t, e, m.aid, "B-3"); ok != 1 {
		t.Fatalf("%d payments", ok)
	}
}

// TestBrowserShiftJISForm: the same merchant form on a Shift_JIS page (the browser posts it in
// Shift_JIS) shows the right Japanese item name, and the payment goes through.
func TestBrowserShiftJISForm(t *testing.T) {
	ctx := browserCtx(t)
	e, m := browserEnv(t)
	must(t, chromedp.Do(ctx,
		chromedp.Navigate(shopURL(m, "sjis", "1", "cod", "B-SJIS", "inm", "髙橋さんの宇治抹茶ラテ")),
		chromedp.Click(chromedp.ID("buy")),
		chromedp.WaitVisible(chromedp.ID("cardform")),
	))
	if got := text(t, ctx, "item-name"); got != "髙橋さんの宇治抹茶ラテ" {
		t.Fatalf("item name from a Shift_JIS form: %q", got)
	}
	must(t, chromedp.Do(ctx, fillCard("4111111111111111"), chromedp.Click(chromedp.ID("pay")), chromedp.WaitVisible(chromedp.ID("result-title"))))
	if ok, _ := successes(t, e, m.aid, "B-SJIS"); ok != 1 {
		t.Fatalf("%d successful payments", ok)
	}
}

func TestBrowserItemNameIsText(t *testing.T) {
	ctx := browserCtx(t)
	_, m := browserEnv(t)
	evil := `抹茶<script>alert(1)</script><img src=x onerror=alert(2)>`
	must(t, chromedp.Do(ctx,
		chromedp.Navigate(shopURL(m, "inm", evil, "color", `"><script>alert(3)</script>`)),
		chromedp.Click(chromedp.ID("buy")),
		chromedp.WaitVisible(chromedp.ID("cardform")),
	))
	if got := text(t, ctx, "item-name"); got != evil {
		t.Fatalf("item shown as %q", got)
	}
	n, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll('main script, main img').length`))
	must(t, err)
	if n != 0 {
		t.Fatalf("%d injected elements", n)
	}
	time.Sleep(300 * time.Millisecond) // give an injected handler the chance to fire (it would fail the test)
}

func TestBrowserTokenFlow(t *testing.T) {
	ctx := browserCtx(t)
	e, m := browserEnv(t)
	_ = e
	must(t, chromedp.Do(ctx,
		chromedp.Navigate(m.srv.URL+"/token?cn=4111111111111111"),
		chromedp.WaitVisible(chromedp.ID("buy")),
		chromedp.Click(chromedp.ID("buy")),
		chromedp.WaitVisible(chromedp.ID("result")),
	))
	line := text(t, ctx, "result")
	if cols := strings.Split(line, ","); len(cols) != 14 || cols[1] != "1" {
		t.Fatalf("charge through gateway_token.aspx: %q", line)
	}
	tkn := m.lastToken()
	if len(tkn) != 32 {
		t.Fatalf("token %q", tkn)
	}
	if got := m.charge(tkn, "1000"); got != "ER:ER584" {
		t.Fatalf("reused token: %q", got)
	}
}

func TestBrowserCardInfoForm(t *testing.T) {
	ctx := browserCtx(t)
	_, m := browserEnv(t)
	must(t, chromedp.Do(ctx,
		chromedp.Navigate(m.srv.URL+"/token?cardinfo=1"),
		chromedp.WaitVisible(chromedp.ID("cptoken-cn")),
		chromedp.SendKeys(chromedp.ID("cptoken-cn"), "4111 1111 1111 1111"),
		chromedp.SendKeys(chromedp.ID("cptoken-ed"), "12/30"),
		chromedp.SendKeys(chromedp.ID("cptoken-name"), "taro yamada"),
		chromedp.SendKeys(chromedp.ID("cptoken-cvv"), "123"),
		chromedp.Click(chromedp.ID("cptoken-submit")),
		chromedp.WaitVisible(chromedp.ID("result")),
	))
	if line := text(t, ctx, "result"); strings.Split(line, ",")[1] != "1" {
		t.Fatalf("charge: %q", line)
	}
}

func TestBrowserTokenThreeDSChallenge(t *testing.T) {
	for _, tc := range []struct {
		name, button string
		ok           bool
	}{{"completed", "emv3ds-authenticate", true}, {"failed", "emv3ds-cancel", false}} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := browserCtx(t)
			_, m := browserEnv(t)
			must(t, chromedp.Do(ctx,
				chromedp.Navigate(m.srv.URL+"/token?tds=1&cn=4000000000003220"),
				chromedp.WaitVisible(chromedp.ID("buy")),
				chromedp.Click(chromedp.ID("buy")),
				chromedp.WaitVisible(chromedp.ID("emv3ds-otp")),
			))
			code := text(t, ctx, "emv3ds-sandbox-code")
			if len(code) != 6 {
				t.Fatalf("sandbox code %q", code)
			}
			if tc.name == "completed" {
				screenshot(t, ctx, "emv3ds-challenge-desktop", 1280, 900, false)
			}
			must(t, chromedp.Do(ctx, chromedp.SendKeys(chromedp.ID("emv3ds-otp"), code), chromedp.Click(chromedp.ID(tc.button))))
			if tc.ok {
				must(t, chromedp.Do(ctx, chromedp.WaitVisible(chromedp.ID("result"))))
				if line := text(t, ctx, "result"); strings.Split(line, ",")[1] != "1" {
					t.Fatalf("charge after 3-D Secure: %q", line)
				}
				return
			}
			status, err := chromedp.Run(ctx, chromedp.Poll[string](
				`(function(){var s=document.getElementById('status').textContent; return s.indexOf('tds:')===0 ? s : null})()`,
				chromedp.WithPollingTimeout(20*time.Second)))
			must(t, err)
			if status != "tds:ER901" {
				t.Fatalf("callback %q", status)
			}
			tkn, err := chromedp.Run(ctx, chromedp.Value(chromedp.ID("tkn")))
			must(t, err)
			if got := m.charge(tkn, "1000"); got != "ER:ER901" {
				t.Fatalf("charge after a failed authentication: %q", got)
			}
		})
	}
}
