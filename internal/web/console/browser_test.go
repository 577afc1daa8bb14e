package console_test

import (
	"context"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	cdppage "github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"kessai/internal/maintenance"
	"kessai/internal/store"
	chromium "kessai/internal/testenv/browser"
	"kessai/internal/web/ui"
)

// Browser tests drive Debian's Chromium through chromedp (internal/testenv/browser). They run
// only with KESSAI_BROWSER_TESTS=1 — and then fail, rather than skip, when Chromium is missing.
// Nothing here ever downloads a browser.
func browserCtx(t *testing.T) context.Context {
	t.Helper()
	return chromium.Start(t, chromium.Options{})
}

// clickAndLoad clicks and waits for the page the click loads (a form post or a link).
func clickAndLoad(sel string) chromedp.Action[chromedp.Void] {
	return func(ctx context.Context, t *chromedp.Target) (chromedp.Void, error) {
		_, err := chromedp.WaitEvent(cdppage.LoadEventFired, nil, chromedp.Click(chromedp.CSS(sel)))(ctx, t)
		return chromedp.Void{}, err
	}
}

// run runs steps with a time limit, failing the test on error.
func run(t *testing.T, ctx context.Context, what string, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	tctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := chromedp.Do(tctx, steps...); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// get runs one action that returns a value.
func get[T any](t *testing.T, ctx context.Context, what string, a chromedp.Action[T]) T {
	t.Helper()
	tctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	v, err := chromedp.Run(tctx, a)
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	return v
}

// signInMerchant signs a store's owner in through the login form.
func signInMerchant(base, aid string) chromedp.Action[chromedp.Void] {
	return chromedp.Steps(
		chromedp.Navigate(base+"/console/login"),
		chromedp.WaitVisible(chromedp.CSS(`#login-form`)),
		chromedp.SendKeys(chromedp.CSS(`#aid`), aid),
		chromedp.SendKeys(chromedp.CSS(`#login`), "owner"),
		chromedp.SendKeys(chromedp.CSS(`#password`), passwd),
		clickAndLoad(`#login-submit`),
		chromedp.WaitVisible(chromedp.CSS(`#store-id`)),
	)
}

// signInOperator signs the operator in through the operator console's login form.
func signInOperator(base string) chromedp.Action[chromedp.Void] {
	return chromedp.Steps(
		chromedp.Navigate(base+"/operator/login"),
		chromedp.WaitVisible(chromedp.CSS(`#login-form`)),
		chromedp.SendKeys(chromedp.CSS(`#login`), "ops"),
		chromedp.SendKeys(chromedp.CSS(`#password`), passwd),
		clickAndLoad(`#login-submit`),
		chromedp.WaitVisible(chromedp.CSS(`nav.menu`)),
	)
}

func text(t *testing.T, ctx context.Context, sel string) string {
	t.Helper()
	return strings.TrimSpace(get(t, ctx, "text of "+sel, chromedp.Text(chromedp.CSS(sel))))
}

func TestBrowserMerchantFlow(t *testing.T) {
	ctx := browserCtx(t)
	e := newEnv(t)
	authGid := e.charge(aidA, "web-auth-1", "AUTH", 1500)
	capGid := e.charge(aidA, "web-cap-1", "CAPTURE", 2000)
	e.charge(aidA, "web-other", "CAPTURE", 700)
	base := e.srv.URL

	var got string
	run(t, ctx, "sign in",
		signInMerchant(base, aidA),
	)
	got = text(t, ctx, `#store-id`)
	if got != aidA {
		t.Fatalf("store ID shown: %q", got)
	}

	run(t, ctx, "find the AUTH by cod",
		chromedp.Navigate(base+"/console/payments"),
		chromedp.WaitVisible(chromedp.CSS(`#q-cod`)),
		chromedp.SendKeys(chromedp.CSS(`#q-cod`), "web-auth-1"),
		clickAndLoad(`#search-submit`),
		chromedp.WaitVisible(chromedp.CSS(`#total`)),
	)
	got = text(t, ctx, `table.payments tbody`)
	if !strings.Contains(got, "web-auth-1") || strings.Contains(got, "web-cap-1") {
		t.Fatalf("search result: %q", got)
	}
	run(t, ctx, "capture it",
		clickAndLoad(`a[href="/console/payments/`+authGid+`"]`),
		chromedp.WaitVisible(chromedp.CSS(`#btn-sales`)),
		clickAndLoad(`#btn-sales`),
		chromedp.WaitVisible(chromedp.CSS(`#confirm-yes`)),
		clickAndLoad(`#confirm-yes`),
		chromedp.WaitVisible(chromedp.CSS(`.flash`)),
	)
	got = text(t, ctx, `#status`)
	if got != "売上確定" {
		t.Fatalf("status after capture: %q", got)
	}

	run(t, ctx, "refund part of a capture",
		chromedp.Navigate(base+"/console/payments?"+url.Values{"cod": {"web-cap-1"}}.Encode()),
		chromedp.WaitVisible(chromedp.CSS(`a[href="/console/payments/`+capGid+`"]`)),
		clickAndLoad(`a[href="/console/payments/`+capGid+`"]`),
		chromedp.WaitVisible(chromedp.CSS(`#refund-amount`)),
		chromedp.SendKeys(chromedp.CSS(`#refund-amount`), "500"),
		clickAndLoad(`#btn-refund`),
		chromedp.WaitVisible(chromedp.CSS(`#confirm-yes`)),
		clickAndLoad(`#confirm-yes`),
		chromedp.WaitVisible(chromedp.CSS(`.flash`)),
	)
	got = text(t, ctx, `#status`)
	if got != "一部返金" {
		t.Fatalf("status after refund: %q", got)
	}

	// The wire sees what the console did.
	if p := e.payment(aidA, authGid); p.Status != store.StatusCaptured || p.Captured != 1500 {
		t.Fatalf("AUTH after the console's capture: %s %d", p.Status, p.Captured)
	}
	if got := e.wire(url.Values{"aid": {aidA}, "jb": {"SALES"}, "tid": {authGid}}); got != "ER:ER032" {
		t.Fatalf("wire SALES of the captured payment: %q", got)
	}
	if got := e.wire(url.Values{"aid": {aidA}, "jb": {"CANCEL"}, "tid": {capGid}}); got != "OK" {
		t.Fatalf("wire CANCEL of the partly refunded payment: %q", got)
	}
	if p := e.payment(aidA, capGid); p.Status != store.StatusRefunded || p.Refunded != 2000 {
		t.Fatalf("after the wire's CANCEL: %s refunded %d", p.Status, p.Refunded)
	}
	if got := e.wire(url.Values{"aid": {aidA}, "jb": {"CANCEL"}, "tid": {capGid}}); got != "ER:ER033" {
		t.Fatalf("second wire CANCEL: %q", got)
	}
	run(t, ctx, "timeline shows the wire's cancel",
		chromedp.Navigate(base+"/console/payments/"+capGid),
		chromedp.WaitVisible(chromedp.CSS(`#timeline`)),
	)
	got = text(t, ctx, `#timeline`)
	if !strings.Contains(got, "取消・返金") || !strings.Contains(got, "一部返金") {
		t.Fatalf("timeline: %q", got)
	}
}

func TestBrowserScreenshots(t *testing.T) {
	started := time.Now().Add(-time.Second)
	ctx := browserCtx(t)
	e := newEnv(t)
	gid := e.charge(aidA, "shot-1", "AUTH", 12800)
	e.charge(aidA, "shot-2", "CAPTURE", 5400)
	e.charge(aidA, "shot-3", "CAPTURE", 980)
	acid := e.autoCharge(aidA, "shot-ac-1")
	base := e.srv.URL
	dir := chromium.ScreenshotDir(t)
	// a year of windows for the calendar, one of them within 7 days (the banner)
	now := e.clock.Now().In(ui.Tokyo)
	var ws []maintenance.Window
	for m := 1; m <= 12; m++ {
		w, _ := maintenance.WallWindow(time.Date(now.Year(), time.Month(m), 20, 0, 0, 0, 0, ui.Tokyo).Format("2006-01-02"), "02:55", "04:30", "")
		ws = append(ws, w)
	}
	soon, _ := maintenance.WallWindow(now.AddDate(0, 0, 3).Format("2006-01-02"), "05:00", "06:00", "")
	ws = append(ws, soon)
	if _, err := e.srv.DB.AddWindows(context.Background(), ws, "test"); err != nil {
		t.Fatal(err)
	}
	all, _ := e.srv.DB.Windows(context.Background())
	e.srv.Maint.Replace(all)
	run(t, ctx, "sign in",
		signInMerchant(base, aidA),
	)
	pages := []struct{ name, path, wait string }{
		{"dashboard", "/console/", "svg.chart"},
		{"payments", "/console/payments", "#search"},
		{"payment", "/console/payments/" + gid, "#timeline"},
		{"settings", "/console/settings", "#settings-form"},
		{"autocharges", "/console/autocharges", "#ac-list"},
		{"autocharge", "/console/autocharges/" + acid, "#ac-runs"},
		{"kickbacks", "/console/kickbacks", "main"},
		{"users", "/console/users", "main"},
	}
	devices := []struct {
		name string
		w, h int64
		opts []chromedp.EmulateViewportOption
	}{
		{"desktop", 1280, 900, nil},
		{"phone", 390, 844, []chromedp.EmulateViewportOption{chromedp.EmulateScale(2), chromedp.EmulateMobile}},
	}
	for _, lang := range []string{"ja", "en"} {
		run(t, ctx, "language "+lang,
			chromedp.EmulateViewport(1280, 900),
			chromedp.Navigate(base+"/console/"),
			chromedp.WaitVisible(chromedp.CSS(`form.lang`)),
			clickAndLoad(`form.lang button[value="`+lang+`"]`),
			chromedp.WaitVisible(chromedp.CSS(`html[lang="`+lang+`"]`)),
		)
		for _, d := range devices {
			for _, p := range pages {
				run(t, ctx, p.name,
					chromedp.EmulateViewport(d.w, d.h, d.opts...),
					chromedp.Navigate(base+p.path),
					chromedp.WaitVisible(chromedp.CSS(p.wait)),
				)
				png := get(t, ctx, "screenshot", chromedp.FullScreenshot(100))
				f := filepath.Join(dir, "console-"+p.name+"-"+lang+"-"+d.name+".png")
				if err := os.WriteFile(f, png, 0o644); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	// the operator console's main pages, in both languages, on desktop and phone
	run(t, ctx, "operator sign-in",
		chromedp.EmulateViewport(1280, 900),
		signInOperator(base),
	)
	opPages := []struct{ name, path, wait string }{
		{"dashboard", "/operator/", "nav.menu"},
		{"stores", "/operator/stores", "main"},
		{"maintenance", "/operator/maintenance", ".months"},
	}
	for _, lang := range []string{"ja", "en"} {
		run(t, ctx, "operator language "+lang,
			chromedp.EmulateViewport(1280, 900),
			chromedp.Navigate(base+"/operator/"),
			chromedp.WaitVisible(chromedp.CSS(`form.lang`)),
			clickAndLoad(`form.lang button[value="`+lang+`"]`),
			chromedp.WaitVisible(chromedp.CSS(`html[lang="`+lang+`"]`)),
		)
		for _, d := range devices {
			for _, p := range opPages {
				run(t, ctx, "operator "+p.name,
					chromedp.EmulateViewport(d.w, d.h, d.opts...),
					chromedp.Navigate(base+p.path),
					chromedp.WaitVisible(chromedp.CSS(p.wait)),
				)
				png := get(t, ctx, "screenshot", chromedp.FullScreenshot(100))
				if err := os.WriteFile(filepath.Join(dir, "operator-"+p.name+"-"+lang+"-"+d.name+".png"), png, 0o644); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	// every page in both languages on both devices: 8 console pages and 3 operator pages
	for _, prefix := range []string{"console-", "operator-"} {
		n := 0
		entries, _ := os.ReadDir(dir)
		for _, en := range entries {
			if strings.HasPrefix(en.Name(), prefix) {
				if fi, err := en.Info(); err == nil && fi.Size() > 1000 && fi.ModTime().After(started) {
					n++
				}
			}
		}
		want := map[string]int{"console-": len(pages) * 4, "operator-": len(opPages) * 4}[prefix]
		if n < want {
			t.Fatalf("%d %s screenshots written in %s, want %d", n, prefix, dir, want)
		}
	}
}
