package link_test

import (
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestBrowserIGatewayThreeDS: the EC-CUBE module's 3-D Secure payment in Chromium. The shop's
// server posts the card to /igateway/gateway.aspx with url=, cuts the answer after its first
// ".aspx" and redirects the shopper there; the shopper passes the challenge on Kessai's page and
// lands back on the shop's url, which shows the result parameters it received.
func TestBrowserIGatewayThreeDS(t *testing.T) {
	ctx := browserCtx(t)
	e := newEnv(t, time.Time{})
	var shop *httptest.Server
	shop = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/checkout":
			p := rawCard("123456", "EC-B1", "4000000000003220", "url", shop.URL+"/3d_recv", "order_id", "55")
			res, err := http.PostForm(e.srv.URL+"/igateway/gateway.aspx", p)
			if err != nil {
				http.Error(w, err.Error(), 500)
				return
			}
			b, _ := io.ReadAll(res.Body)
			res.Body.Close()
			body := string(b)
			i, j := strings.Index(body, "http"), strings.Index(body, ".aspx")
			if i < 0 || j < i {
				http.Error(w, "no URL: "+body, 500)
				return
			}
			http.Redirect(w, r, body[i:j+5], http.StatusFound)
		case "/3d_recv":
			q := r.URL.Query()
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			fmt.Fprintf(w, `<!doctype html><title>shop</title><p id="rst">%s</p><p id="ec">%s</p><p id="gid">%s</p><p id="ta">%s</p><p id="order">%s</p>`,
				html.EscapeString(q.Get("rst")), html.EscapeString(q.Get("ec")), html.EscapeString(q.Get("gid")),
				html.EscapeString(q.Get("ta")), html.EscapeString(q.Get("order_id")))
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(shop.Close)
	{
		// what the shopper's browser got, should the challenge not show
		res, err := http.Get(shop.URL + "/checkout")
		must(t, err)
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != 200 || !strings.Contains(string(b), `id="otp"`) {
			t.Fatalf("checkout led to %d %s:\n%.1500s", res.StatusCode, res.Request.URL, b)
		}
	}
	must(t, chromedp.Do(ctx,
		chromedp.Navigate(shop.URL+"/checkout"),
		chromedp.WaitVisible(chromedp.ID("otp")),
	))
	screenshot(t, ctx, "igateway-challenge-ja", 1280, 900, false)
	if card := text(t, ctx, "tds-card"); card != "400000******3220" {
		t.Fatalf("challenge shows card %q", card)
	}
	code := text(t, ctx, "sandbox-code")
	must(t, chromedp.Do(ctx, chromedp.SendKeys(chromedp.ID("otp"), code), chromedp.Click(chromedp.ID("tds-auth")),
		chromedp.WaitVisible(chromedp.ID("rst"))))
	if rst, ec, gid, ta, order := text(t, ctx, "rst"), text(t, ctx, "ec"), text(t, ctx, "gid"), text(t, ctx, "ta"), text(t, ctx, "order"); rst != "1" || ec != "" || gid == "" || ta != "1100" || order != "55" {
		t.Fatalf("shop received rst=%q ec=%q gid=%q ta=%q order_id=%q", rst, ec, gid, ta, order)
	}
	if ok, _ := successes(t, e, "123456", "EC-B1"); ok != 1 {
		t.Fatalf("%d payments", ok)
	}
}
