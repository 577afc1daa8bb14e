package console_test

import (
	"context"
	"encoding/json"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	cdpbrowser "github.com/chromedp/cdproto/browser"
	"github.com/chromedp/chromedp"
	"golang.org/x/text/encoding/japanese"

	"kessai/internal/web/ui"
)

// TestBrowserMustShow walks issue 6's "Must show" list in Chromium, one browser, the way a merchant
// and an operator would: the Shift_JIS CSV download with masked numbers, another store's payment
// by URL (404), the IP allow-list changed in the panel and the wire answering ER003, a forged form
// refused, an operator publishing a window that the merchant's banner shows and during which the
// panel answers with the maintenance page while the operator console keeps working, the session
// expiring, and login throttling. (The capture / partial refund flow is TestBrowserMerchantFlow.)
func TestBrowserMustShow(t *testing.T) {
	ctx := browserCtx(t)
	e := newEnv(t)
	e.charge(aidA, "csv-1", "CAPTURE", 1200)
	e.charge(aidA, "csv-2", "AUTH", 3400)
	otherGid := e.charge(aidB, "b-secret", "AUTH", 1000)
	base := e.srv.URL

	run(t, ctx, "sign in as store A",
		signInMerchant(base, aidA),
	)

	t.Run("CSV download: filtered, masked, Shift_JIS", func(t *testing.T) {
		dir := t.TempDir()
		progress := chromedp.Events(ctx, cdpbrowser.DownloadProgress)
		run(t, ctx, "download the Shift_JIS CSV",
			chromedp.Navigate(base+"/console/payments?"+url.Values{"cod": {"csv-"}}.Encode()),
			chromedp.WaitVisible(chromedp.CSS(`a.button[href*="enc=sjis"]`)),
			chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
				_, err := chromedp.Call(ctx, cdpbrowser.SetDownloadBehavior, cdpbrowser.SetDownloadBehaviorParams{
					Behavior: cdpbrowser.SetDownloadBehaviorBehaviorAllowAndName, DownloadPath: dir, EventsEnabled: ptr(true)})
				return err
			}),
			chromedp.Click(chromedp.CSS(`a.button[href*="enc=sjis"]`)),
		)
		var file string
		deadline := time.Now().Add(20 * time.Second)
		for ev, err := range progress {
			if err != nil {
				t.Fatalf("download: %v", err)
			}
			if ev.State == cdpbrowser.DownloadProgressStateCompleted {
				file = filepath.Join(dir, ev.GUID)
				break
			}
			if ev.State == cdpbrowser.DownloadProgressStateCanceled || time.Now().After(deadline) {
				t.Fatalf("download %s", ev.State)
			}
		}
		raw, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(raw), "決済番号") {
			t.Fatal("the Shift_JIS download is UTF-8")
		}
		dec, err := japanese.ShiftJIS.NewDecoder().Bytes(raw)
		if err != nil {
			t.Fatal(err)
		}
		csv := string(dec)
		if !strings.HasPrefix(csv, "決済番号") || !strings.Contains(csv, "csv-1") || !strings.Contains(csv, "csv-2") ||
			!strings.Contains(csv, "411111******1111") || strings.Contains(csv, "4111111111111111") || strings.Contains(csv, "b-secret") {
			t.Fatalf("downloaded CSV:\n%s", csv)
		}
	})

	t.Run("another store's payment by URL is 404", func(t *testing.T) {
		run(t, ctx, "open B's payment as A",
			chromedp.Navigate(base+"/console/payments/"+otherGid),
			chromedp.WaitVisible(chromedp.CSS(`main`)),
		)
		if body := text(t, ctx, `main`); !strings.Contains(body, "404") || strings.Contains(body, "b-secret") {
			t.Fatalf("B's payment as A: %q", body)
		}
		run(t, ctx, "search for B's order",
			chromedp.Navigate(base+"/console/payments?"+url.Values{"cod": {"b-secret"}}.Encode()),
			chromedp.WaitVisible(chromedp.CSS(`#total`)),
		)
		if body := text(t, ctx, `main`); strings.Contains(body, "b-secret") {
			t.Fatalf("search shows B's payment: %q", body)
		}
	})

	wireFromHere := func(cod string) string {
		return e.wire(url.Values{"aid": {aidA}, "jb": {"CAPTURE"}, "rt": {"1"}, "cod": {cod}, "am": {"100"}, "tx": {"0"}, "sf": {"0"},
			"cn": {"4111111111111111"}, "ed": {time.Now().AddDate(3, 0, 0).Format("0601")}, "cvv": {"123"}})
	}
	saveAllowList := func(t *testing.T, ips string) {
		t.Helper()
		run(t, ctx, "save the allow-list "+ips,
			chromedp.Navigate(base+"/console/settings"),
			chromedp.WaitVisible(chromedp.CSS(`#allow_ips`)),
			setField(`#allow_ips`, ips),
			clickAndLoad(`#settings-save`),
			chromedp.WaitVisible(chromedp.CSS(`.flash`)),
		)
	}
	t.Run("the IP allow-list changed in the panel applies to the wire", func(t *testing.T) {
		saveAllowList(t, "10.0.0.0/8")
		if got := strings.TrimSpace(wireFromHere("allow-1")); got != "ER:ER003" {
			t.Fatalf("wire from 127.0.0.1 with only 10.0.0.0/8 allowed: %q", got)
		}
		saveAllowList(t, "")
		if got := wireFromHere("allow-2"); strings.HasPrefix(got, "ER:") {
			t.Fatalf("wire after clearing the allow-list: %q", got)
		}
	})

	t.Run("a forged form is refused", func(t *testing.T) {
		run(t, ctx, "submit settings with a forged token",
			chromedp.Navigate(base+"/console/settings"),
			chromedp.WaitVisible(chromedp.CSS(`#allow_ips`)),
			chromedp.SetValue(chromedp.CSS(`#allow_ips`), "192.0.2.1"),
			chromedp.SetAttributeValue(chromedp.CSS(`#settings-form input[name="csrf"]`), "value", "forged-forged-forged-forged-forged"),
			clickAndLoad(`#settings-save`),
			chromedp.WaitVisible(chromedp.CSS(`main`)),
		)
		if body := text(t, ctx, `main`); !strings.Contains(body, "403") {
			t.Fatalf("forged settings form: %q", body)
		}
		if got := wireFromHere("csrf-1"); strings.HasPrefix(got, "ER:") {
			t.Fatalf("the forged allow-list was saved: the wire answers %q", got)
		}
	})

	// the window: three days ahead, 02:55–04:30 Japan time
	day := e.clock.Now().In(ui.Tokyo).AddDate(0, 0, 3)
	t.Run("an operator publishes a window; the banner shows it; during it the panel is closed and the console works", func(t *testing.T) {
		run(t, ctx, "operator adds and publishes a window",
			chromedp.Navigate(base+"/operator/login"),
			chromedp.WaitVisible(chromedp.CSS(`#login-form`)),
			chromedp.SendKeys(chromedp.CSS(`#login`), "ops"),
			chromedp.SendKeys(chromedp.CSS(`#password`), passwd),
			clickAndLoad(`#login-submit`),
			chromedp.WaitVisible(chromedp.CSS(`nav.menu`)),
			chromedp.Navigate(base+"/operator/maintenance?"+url.Values{"year": {day.Format("2006")}}.Encode()),
			chromedp.WaitVisible(chromedp.CSS(`#add-form`)),
			chromedp.SetValue(chromedp.CSS(`#add-form input[name="date"]`), day.Format("2006-01-02")),
			clickAndLoad(`#add-form button[type="submit"]`),
			chromedp.WaitVisible(chromedp.CSS(`#btn-publish`)),
			clickAndLoad(`#btn-publish`),
			// publishing mails every merchant: it asks first (issue 15 item 14)
			chromedp.WaitVisible(chromedp.CSS(`#confirm`)),
			clickAndLoad(`#btn-confirm`),
			chromedp.WaitVisible(chromedp.CSS(`.flash`)),
		)
		run(t, ctx, "the merchant's dashboard", chromedp.Navigate(base+"/console/"), chromedp.WaitVisible(chromedp.CSS(`.banner`)))
		if b := text(t, ctx, `.banner`); !strings.Contains(b, "02:55") {
			t.Fatalf("banner: %q", b)
		}
		e.clock.Set(time.Date(day.Year(), day.Month(), day.Day(), 3, 0, 0, 0, ui.Tokyo))
		run(t, ctx, "the panel during the window", chromedp.Navigate(base+"/console/payments"), chromedp.WaitVisible(chromedp.CSS(`main.maint`)))
		if b := text(t, ctx, `main.maint`); !strings.Contains(b, "ER999") || !strings.Contains(b, "04:30") {
			t.Fatalf("maintenance page: %q", b)
		}
		// three days on, the operator's session has expired too: signing in works during the window
		run(t, ctx, "the operator console during the window",
			chromedp.Navigate(base+"/operator/login"),
			chromedp.WaitVisible(chromedp.CSS(`#login-form`)),
			chromedp.SendKeys(chromedp.CSS(`#login`), "ops"),
			chromedp.SendKeys(chromedp.CSS(`#password`), passwd),
			clickAndLoad(`#login-submit`),
			chromedp.WaitVisible(chromedp.CSS(`nav.menu`)),
			chromedp.Navigate(base+"/operator/maintenance"),
			chromedp.WaitVisible(chromedp.CSS(`#emergency`)),
		)
		if b := text(t, ctx, `#emergency`); !strings.Contains(b, "実施中: #1") || !strings.Contains(b, "今すぐ終了する") {
			t.Fatalf("operator console does not show the active window: %q", b)
		}
	})

	t.Run("the session expires", func(t *testing.T) {
		// after the window, more than 30 idle minutes since the merchant's last request
		e.clock.Set(time.Date(day.Year(), day.Month(), day.Day(), 5, 30, 0, 0, ui.Tokyo))
		run(t, ctx, "come back after the window", chromedp.Navigate(base+"/console/payments"), chromedp.WaitVisible(chromedp.CSS(`#login-form`)))
		if loc := get(t, ctx, "location", chromedp.Location()); !strings.Contains(loc, "/console/login") {
			t.Fatalf("expired session went to %s", loc)
		}
	})

	t.Run("login throttling", func(t *testing.T) {
		for i := 1; i <= 5; i++ {
			run(t, ctx, "wrong password",
				chromedp.Navigate(base+"/console/login"),
				chromedp.WaitVisible(chromedp.CSS(`#login-form`)),
				chromedp.SendKeys(chromedp.CSS(`#aid`), aidB),
				chromedp.SendKeys(chromedp.CSS(`#login`), "owner"),
				chromedp.SendKeys(chromedp.CSS(`#password`), "wrong-password-"+strings.Repeat("x", i)),
				clickAndLoad(`#login-submit`),
				chromedp.WaitVisible(chromedp.CSS(`.error`)),
			)
		}
		if msg := text(t, ctx, `.error`); !strings.Contains(msg, "ロック") {
			t.Fatalf("after 5 failures: %q", msg)
		}
		run(t, ctx, "right password while locked",
			chromedp.Navigate(base+"/console/login"),
			chromedp.WaitVisible(chromedp.CSS(`#login-form`)),
			chromedp.SendKeys(chromedp.CSS(`#aid`), aidB),
			chromedp.SendKeys(chromedp.CSS(`#login`), "owner"),
			chromedp.SendKeys(chromedp.CSS(`#password`), passwd),
			clickAndLoad(`#login-submit`),
			chromedp.WaitVisible(chromedp.CSS(`.error`)),
		)
		if msg := text(t, ctx, `.error`); !strings.Contains(msg, "ロック") {
			t.Fatalf("right password while locked: %q", msg)
		}
	})
}

func ptr[T any](v T) *T { return &v }

// setField sets a form field's value as typing would leave it (an empty textarea cannot be
// cleared by key events in this chromedp version).
func setField(sel, value string) chromedp.Action[chromedp.Void] {
	js, _ := json.Marshal(value)
	q, _ := json.Marshal(sel)
	return func(ctx context.Context, t *chromedp.Target) (chromedp.Void, error) {
		_, err := chromedp.Evaluate[bool](`(() => { const el = document.querySelector(`+string(q)+`); el.value = `+string(js)+`; return true })()`)(ctx, t)
		return chromedp.Void{}, err
	}
}
