package console_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// TestBrowserAPIKeys: in a real browser an admin creates a key (shown once), uses the delivery
// log's filters, revokes the key; the key then fails on the API.
func TestBrowserAPIKeys(t *testing.T) {
	ctx := browserCtx(t)
	e := newEnv(t)
	base := e.srv.URL
	run(t, ctx, "sign in", signInMerchant(base, aidA))
	run(t, ctx, "create a key",
		chromedp.Navigate(base+"/console/apikeys"),
		chromedp.WaitVisible(chromedp.CSS(`#apikey-form`)),
		chromedp.SendKeys(chromedp.CSS(`#key-name`), "laptop"),
		clickAndLoad(`#apikey-form button[type=submit]`),
		chromedp.WaitVisible(chromedp.CSS(`#new-key-text`)),
	)
	key := text(t, ctx, `#new-key-text`)
	if !strings.HasPrefix(key, "ksk_") {
		t.Fatalf("key shown: %q", key)
	}
	req, _ := http.NewRequest("GET", base+"/api/v1/kickbacks", nil)
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("the new key on the API: %v %v", err, resp)
	}
	resp.Body.Close()
	run(t, ctx, "reload: the key is not shown again",
		chromedp.Navigate(base+"/console/apikeys"),
		chromedp.WaitVisible(chromedp.CSS(`table.apikeys`)),
	)
	if html := get(t, ctx, "page", chromedp.OuterHTML(chromedp.CSS(`main`))); strings.Contains(html, key) {
		t.Fatal("the key is shown a second time")
	}
	run(t, ctx, "revoke", clickAndLoad(`table.apikeys form button.danger`), chromedp.WaitVisible(chromedp.CSS(`table.apikeys`)))
	resp, _ = http.DefaultClient.Do(req)
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("revoked key: %d", resp.StatusCode)
	}
	run(t, ctx, "delivery log filters",
		chromedp.Navigate(base+"/console/kickbacks"),
		chromedp.WaitVisible(chromedp.CSS(`#kb-filter`)),
		chromedp.SetValue(chromedp.CSS(`#kb-filter select[name=state]`), "failing"),
		clickAndLoad(`#kb-filter button[type=submit]`),
		chromedp.WaitVisible(chromedp.CSS(`#kb-bulk`)),
	)
	if e.auditCount("apikey.create") != 1 || e.auditCount("apikey.revoke") != 1 {
		t.Fatal("key changes not audited")
	}
}
