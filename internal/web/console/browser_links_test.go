package console_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// TestBrowserMailLinkPage: in Chromium, an administrator builds an amount link on the メール決済リンク
// page; the link shown opens the hosted payment page (no Referer, the store has an allow-list).
func TestBrowserMailLinkPage(t *testing.T) {
	ctx := browserCtx(t)
	e, _ := linkEnv(t)
	run(t, ctx, "sign in", signInMerchant(e.srv.URL, aidA))
	run(t, ctx, "build a link",
		chromedp.Navigate(e.srv.URL+"/console/links"),
		chromedp.WaitVisible(chromedp.CSS(`#link-form`)),
		chromedp.Click(chromedp.CSS(`#kind-amount`)),
		chromedp.SendKeys(chromedp.CSS(`#am`), "2400"),
		chromedp.SetValue(chromedp.CSS(`#days`), "7"),
		clickAndLoad(`#link-create`),
		chromedp.WaitVisible(chromedp.CSS(`#link-url`)),
	)
	link := get(t, ctx, "link", chromedp.Value(chromedp.CSS(`#link-url`)))
	if !strings.HasPrefix(link, e.srv.URL+"/link/creditcard?") || !strings.Contains(link, "am=2400") || !strings.Contains(link, "mailauthckey=") {
		t.Fatalf("link %q", link)
	}
	res, err := http.Get(link)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 200 {
		t.Fatalf("the link opened %d", res.StatusCode)
	}
	run(t, ctx, "open it", chromedp.Navigate(link), chromedp.WaitVisible(chromedp.CSS(`input[name="cn"]`)))
}
