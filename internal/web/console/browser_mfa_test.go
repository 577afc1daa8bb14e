package console_test

import (
	chromium "kessai/internal/testenv/browser"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestBrowserMFA sets up two-step sign-in in Chromium the way a person does (the key read from the
// page, the code computed as an authenticator app computes it), signs out, and signs in with a
// code; a wrong code and a replayed code are refused; a recovery code works once.
func TestBrowserMFA(t *testing.T) {
	ctx := browserCtx(t)
	e := newEnv(t)
	base := e.srv.URL
	dir := chromium.ScreenshotDir(t)
	shot := func(name string) {
		t.Helper()
		png := get(t, ctx, "screenshot", chromedp.FullScreenshot(100))
		if err := os.WriteFile(filepath.Join(dir, "console-"+name+".png"), png, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	run(t, ctx, "sign in and open the security page",
		signInMerchant(base, aidA),
		chromedp.Navigate(base+"/console/security"),
		chromedp.WaitVisible(chromedp.CSS(`#mfa-setup`)),
		clickAndLoad(`#mfa-setup`),
		chromedp.WaitVisible(chromedp.CSS(`#mfa-qr`)),
	)
	// the QR code is an image made by the server, and the page's CSP lets it load
	if w := get(t, ctx, "QR image width", chromedp.Evaluate[int](`document.getElementById('mfa-qr').naturalWidth`)); w < 200 {
		t.Fatalf("QR code not rendered: natural width %d", w)
	}
	shot("mfa-enrol-ja-desktop")
	key := strings.ReplaceAll(text(t, ctx, `#mfa-secret`), " ", "")
	if len(key) != 32 {
		t.Fatalf("key in text: %q", key)
	}
	enrolCode := codeAt(t, key, e.clock.Now())
	run(t, ctx, "confirm with a first code",
		chromedp.SendKeys(chromedp.CSS(`#code`), enrolCode),
		clickAndLoad(`#enrol-submit`),
		chromedp.WaitVisible(chromedp.CSS(`#recovery-codes`)),
	)
	shot("mfa-recovery-codes-ja-desktop")
	codes := strings.Fields(text(t, ctx, `#recovery-codes`))
	if len(codes) != 10 || len(codes[0]) != 19 {
		t.Fatalf("recovery codes shown: %q", codes)
	}
	run(t, ctx, "continue, then sign out",
		clickAndLoad(`#codes-done`),
		chromedp.WaitVisible(chromedp.CSS(`#recovery-left`)),
		clickAndLoad(`form.logout button`),
		chromedp.WaitVisible(chromedp.CSS(`#login-form`)),
	)
	password := chromedp.Steps(
		chromedp.Navigate(base+"/console/login"),
		chromedp.WaitVisible(chromedp.CSS(`#login-form`)),
		chromedp.SendKeys(chromedp.CSS(`#aid`), aidA),
		chromedp.SendKeys(chromedp.CSS(`#login`), "owner"),
		chromedp.SendKeys(chromedp.CSS(`#password`), passwd),
		clickAndLoad(`#login-submit`),
		chromedp.WaitVisible(chromedp.CSS(`#code-form`)),
	)
	enter := func(code string) chromedp.Action[chromedp.Void] {
		return chromedp.Steps(
			chromedp.WaitVisible(chromedp.CSS(`#code`)),
			chromedp.SendKeys(chromedp.CSS(`#code`), code),
			clickAndLoad(`#code-submit`),
		)
	}
	wrong := "000000"
	if wrong == enrolCode {
		wrong = "111111"
	}
	run(t, ctx, "password, then a wrong code", password)
	shot("mfa-code-ja-desktop")
	run(t, ctx, "wrong code", enter(wrong), chromedp.WaitVisible(chromedp.CSS(`p.error`)))
	if got := text(t, ctx, `p.error`); !strings.Contains(got, "確認コードが正しくありません") {
		t.Fatalf("wrong code: %q", got)
	}
	run(t, ctx, "the set-up's code again, same time step", enter(enrolCode), chromedp.WaitVisible(chromedp.CSS(`p.error`)))
	if got := text(t, ctx, `p.error`); !strings.Contains(got, "既に使用") {
		t.Fatalf("replayed code: %q", got)
	}
	shot("mfa-code-replayed-ja-desktop")
	e.clock.Advance(30 * time.Second)
	run(t, ctx, "the next code", enter(codeAt(t, key, e.clock.Now())), chromedp.WaitVisible(chromedp.CSS(`#store-id`)))
	if got := text(t, ctx, `#store-id`); got != aidA {
		t.Fatalf("signed in as %q", got)
	}
	run(t, ctx, "sign out, in with a recovery code",
		clickAndLoad(`form.logout button`),
		chromedp.WaitVisible(chromedp.CSS(`#login-form`)),
		password,
		enter(codes[2]),
		chromedp.WaitVisible(chromedp.CSS(`#store-id`)),
	)
	run(t, ctx, "the same recovery code again",
		clickAndLoad(`form.logout button`),
		chromedp.WaitVisible(chromedp.CSS(`#login-form`)),
		password,
		enter(codes[2]),
		chromedp.WaitVisible(chromedp.CSS(`p.error`)),
	)
	if got := text(t, ctx, `p.error`); !strings.Contains(got, "確認コードが正しくありません") {
		t.Fatalf("spent recovery code: %q", got)
	}
	// the security page in English, on the signed-in account
	e.clock.Advance(30 * time.Second)
	run(t, ctx, "sign in and look at the security page in English",
		enter(codeAt(t, key, e.clock.Now())),
		chromedp.WaitVisible(chromedp.CSS(`#store-id`)),
		chromedp.Navigate(base+"/console/security"),
		chromedp.WaitVisible(chromedp.CSS(`form.lang`)),
		clickAndLoad(`form.lang button[value="en"]`),
		chromedp.WaitVisible(chromedp.CSS(`html[lang="en"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#access-form`)),
	)
	if got := text(t, ctx, `#recovery-left`); got != "9" {
		t.Fatalf("recovery codes left: %q", got)
	}
	shot("security-en-desktop")
}
