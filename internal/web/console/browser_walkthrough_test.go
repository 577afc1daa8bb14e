package console_test

import (
	"context"
	chromium "kessai/internal/testenv/browser"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"kessai/internal/maintenance"
	"kessai/internal/web/ui"
)

// TestBrowserOperatorWalkthrough (issue 15 items 13–15) in Chromium, in Japanese and English, at
// 1280 px and at phone width, with screenshots: the warning about an unannounced window, the 中止
// control reachable at 1280 px, the confirmation before publishing the year (recipients and
// windows), an emergency started with a public message and an internal note, an update 対応中, and
// the public notices page showing the window in progress with its message and updates but never
// the note; with nothing happening the page says all systems are operational.
func TestBrowserOperatorWalkthrough(t *testing.T) {
	ctx := browserCtx(t)
	e := newEnv(t)
	base := e.srv.URL
	bg := context.Background()
	st, _ := e.srv.DB.GetStore(bg, aidA)
	st.NotifyEmail = "shop@example.jp"
	if err := e.srv.DB.UpdateStore(bg, st); err != nil {
		t.Fatal(err)
	}
	now := e.clock.Now().In(ui.Tokyo)
	w, _ := maintenance.WallWindow(now.AddDate(0, 0, 10).Format("2006-01-02"), "02:55", "04:30", "")
	added, err := e.srv.DB.AddWindows(bg, []maintenance.Window{w}, "test")
	if err != nil {
		t.Fatal(err)
	}
	id := strconv.FormatInt(added[0].ID, 10)
	year := strconv.Itoa(added[0].Start.In(ui.Tokyo).Year())
	dir := chromium.ScreenshotDir(t)
	devices := []struct {
		name string
		w, h int64
		opts []chromedp.EmulateViewportOption
	}{
		{"desktop", 1280, 900, nil},
		{"phone", 390, 844, []chromedp.EmulateViewportOption{chromedp.EmulateScale(2), chromedp.EmulateMobile}},
	}
	shot := func(name string) {
		t.Helper()
		png := get(t, ctx, "screenshot", chromedp.FullScreenshot(100))
		if err := os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// the public page, idle
	for _, lang := range []string{"ja", "en"} {
		for _, d := range devices {
			run(t, ctx, "idle notices page", chromedp.EmulateViewport(d.w, d.h, d.opts...),
				chromedp.Navigate(base+"/maintenance?lang="+lang), chromedp.WaitVisible(chromedp.CSS(`#operational`)))
			shot("walkthrough-public-idle-" + lang + "-" + d.name)
		}
	}
	if got := text(t, ctx, `#operational h2`); got != "All systems operational" {
		t.Errorf("idle English page says %q", got)
	}
	run(t, ctx, "operator sign-in", chromedp.EmulateViewport(1280, 900), signInOperator(base))
	for _, lang := range []string{"ja", "en"} {
		run(t, ctx, "operator language "+lang,
			chromedp.EmulateViewport(1280, 900),
			chromedp.Navigate(base+"/operator/"),
			chromedp.WaitVisible(chromedp.CSS(`form.lang`)),
			clickAndLoad(`form.lang button[value="`+lang+`"]`),
			chromedp.WaitVisible(chromedp.CSS(`html[lang="`+lang+`"]`)),
		)
		for _, d := range devices {
			run(t, ctx, "maintenance page", chromedp.EmulateViewport(d.w, d.h, d.opts...),
				chromedp.Navigate(base+"/operator/maintenance?year="+year), chromedp.WaitVisible(chromedp.CSS(`#unannounced`)))
			shot("walkthrough-operator-unannounced-" + lang + "-" + d.name)
		}
		// at 1280 px the 中止 control is on screen and opens its form, whose button is on screen too
		run(t, ctx, "window list at 1280", chromedp.EmulateViewport(1280, 900),
			chromedp.Navigate(base+"/operator/maintenance?year="+year), chromedp.WaitVisible(chromedp.CSS(`#cancel-`+id)))
		right := get(t, ctx, "cancel position", chromedp.Evaluate[float64](`document.getElementById("cancel-`+id+`").getBoundingClientRect().right`))
		if right <= 0 || right > 1280 {
			t.Errorf("%s: the 中止 control ends at x=%.0f, off a 1280 px screen", lang, right)
		}
		run(t, ctx, "open 中止", chromedp.Click(chromedp.CSS(`#cancel-`+id)), chromedp.WaitVisible(chromedp.CSS(`#btn-cancel-`+id)))
		right = get(t, ctx, "cancel button position", chromedp.Evaluate[float64](`document.getElementById("btn-cancel-`+id+`").getBoundingClientRect().right`))
		if right <= 0 || right > 1280 {
			t.Errorf("%s: the cancel button ends at x=%.0f, off a 1280 px screen", lang, right)
		}
		// publishing asks first, naming windows and recipients
		for _, d := range devices {
			run(t, ctx, "publish confirmation", chromedp.EmulateViewport(d.w, d.h, d.opts...),
				chromedp.Navigate(base+"/operator/maintenance?year="+year), chromedp.WaitVisible(chromedp.CSS(`#btn-publish`)),
				clickAndLoad(`#btn-publish`), chromedp.WaitVisible(chromedp.CSS(`#confirm`)))
			shot("walkthrough-operator-publish-confirm-" + lang + "-" + d.name)
		}
		body := text(t, ctx, `#confirm`)
		if !strings.Contains(body, "1") || (lang == "ja" && !strings.Contains(body, "1 件の加盟店")) || (lang == "en" && !strings.Contains(body, "1 stores")) {
			t.Errorf("%s publish confirmation: %q", lang, body)
		}
		if ws, _ := e.srv.DB.Windows(bg); ws[0].Status != maintenance.StatusPlanned {
			t.Fatal("published by showing the confirmation")
		}
	}
	// an emergency from the console, in English, then an update
	run(t, ctx, "emergency",
		chromedp.EmulateViewport(1280, 900),
		chromedp.Navigate(base+"/operator/maintenance"),
		chromedp.WaitVisible(chromedp.CSS(`#emergency-form`)),
		chromedp.SendKeys(chromedp.ID("emergency-message-ja"), "決済を一時停止しています\n復旧作業中です"),
		chromedp.SendKeys(chromedp.ID("emergency-message-en"), "Payments are paused\nWe are working on it"),
		chromedp.SendKeys(chromedp.ID("emergency-note"), "DB failover SECRET-NOTE"),
		chromedp.Click(chromedp.CSS(`#emergency-form input[name="confirm"]`)),
		clickAndLoad(`#btn-emergency`),
		chromedp.WaitVisible(chromedp.CSS(`#update-form`)),
		chromedp.SetValue(chromedp.ID("update-stage"), "identified"),
		chromedp.SendKeys(chromedp.ID("update-message-ja"), "原因を特定し対応しています"),
		chromedp.SendKeys(chromedp.ID("update-message-en"), "Cause identified, fixing"),
		clickAndLoad(`#btn-update`),
		chromedp.WaitVisible(chromedp.CSS(`.flash`)),
	)
	for _, lang := range []string{"ja", "en"} {
		for _, d := range devices {
			run(t, ctx, "operator during the emergency", chromedp.EmulateViewport(d.w, d.h, d.opts...),
				chromedp.Navigate(base+"/operator/maintenance"), chromedp.WaitVisible(chromedp.CSS(`#update-form`)))
			shot("walkthrough-operator-emergency-" + d.name)
			run(t, ctx, "public page during the emergency", chromedp.EmulateViewport(d.w, d.h, d.opts...),
				chromedp.Navigate(base+"/maintenance?lang="+lang), chromedp.WaitVisible(chromedp.CSS(`#in-progress`)))
			shot("walkthrough-public-emergency-" + lang + "-" + d.name)
			if d.name == "phone" {
				wide := get(t, ctx, "overflow", chromedp.Evaluate[bool](`document.documentElement.scrollWidth > window.innerWidth + 1`))
				if wide {
					t.Errorf("%s notices page scrolls sideways at phone width", lang)
				}
			}
		}
		live := text(t, ctx, `#in-progress`)
		want := map[string][]string{"ja": {"決済を一時停止しています", "復旧作業中です", "対応中", "原因を特定し対応しています"},
			"en": {"Payments are paused", "We are working on it", "Identified", "Cause identified, fixing"}}[lang]
		for _, w := range want {
			if !strings.Contains(live, w) {
				t.Errorf("%s live section lacks %q: %q", lang, w, live)
			}
		}
		if lines := get(t, ctx, "message lines", chromedp.Evaluate[int](`document.querySelectorAll("#in-progress .message br").length`)); lines < 1 {
			t.Errorf("%s: the live message is not broken into its lines", lang)
		}
		if html := get(t, ctx, "page html", chromedp.Evaluate[string](`document.documentElement.outerHTML`)); strings.Contains(html, "SECRET") {
			t.Errorf("%s: the internal note is on the public page", lang)
		}
		if n := get(t, ctx, "upcoming", chromedp.Evaluate[int](`document.querySelectorAll("#upcoming li").length`)); n != 0 {
			t.Errorf("%s: %d windows under upcoming (the unannounced one, or the one in progress)", lang, n)
		}
	}
}

// TestBrowserPaymentsListAtPhoneWidth (issue 15 item 10): at 390 px the payments list is one card
// per payment with labelled values and amounts in yen, and the page does not scroll sideways; in
// Japanese and English, with screenshots.
func TestBrowserPaymentsListAtPhoneWidth(t *testing.T) {
	ctx := browserCtx(t)
	e := newEnv(t)
	base := e.srv.URL
	for i, am := range []int{1200, 34500, 980} {
		e.charge(aidA, "phone-"+strconv.Itoa(i), "CAPTURE", am)
	}
	dir := chromium.ScreenshotDir(t)
	run(t, ctx, "sign in", chromedp.EmulateViewport(1280, 900), signInMerchant(base, aidA))
	for _, lang := range []string{"ja", "en"} {
		run(t, ctx, "language "+lang,
			chromedp.EmulateViewport(1280, 900),
			chromedp.Navigate(base+"/console/"),
			chromedp.WaitVisible(chromedp.CSS(`form.lang`)),
			clickAndLoad(`form.lang button[value="`+lang+`"]`),
			chromedp.WaitVisible(chromedp.CSS(`html[lang="`+lang+`"]`)),
		)
		run(t, ctx, "payments at phone width",
			chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(2), chromedp.EmulateMobile),
			chromedp.Navigate(base+"/console/payments"),
			chromedp.WaitVisible(chromedp.CSS(`table.payments`)),
		)
		png := get(t, ctx, "screenshot", chromedp.FullScreenshot(100))
		if err := os.WriteFile(filepath.Join(dir, "walkthrough-console-payments-"+lang+"-phone.png"), png, 0o644); err != nil {
			t.Fatal(err)
		}
		if wide := get(t, ctx, "overflow", chromedp.Evaluate[bool](`document.documentElement.scrollWidth > window.innerWidth + 1`)); wide {
			t.Errorf("%s: the payments list scrolls sideways at phone width", lang)
		}
		if head := get(t, ctx, "header", chromedp.Evaluate[string](`getComputedStyle(document.querySelector("table.payments thead")).display`)); head != "none" {
			t.Errorf("%s: the table header is shown at phone width (%s)", lang, head)
		}
		total := text(t, ctx, `table.payments tbody tr td.num`)
		if (lang == "ja" && !strings.HasSuffix(total, "円")) || (lang == "en" && !strings.HasPrefix(total, "¥")) {
			t.Errorf("%s: total %q without its unit", lang, total)
		}
	}
}
