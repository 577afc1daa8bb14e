package console_test

import (
	"context"
	"html"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"kessai/internal/clock"
	"kessai/internal/notify"
	"kessai/internal/store"
	"kessai/internal/testenv"
	"kessai/internal/testenv/inbox"
)

// linkEnv is a server with SMTP, published kickback sources, a store with a source-URL
// allow-list and a product, its admin and a viewer.
func linkEnv(t *testing.T) (*env, *inbox.Inbox) {
	in := inbox.New(t)
	clk := clock.NewFixed(time.Now().Truncate(time.Second))
	srv := testenv.Start(t, testenv.Options{Clock: clk, SMTP: notify.SMTPConfig{Addr: in.Addr, From: "kessai@example.jp"},
		KickbackSources: []string{"203.0.113.7", "198.51.100.0/28"}})
	e := &env{t: t, srv: srv, clock: clk}
	srv.CreateStore(t, aidA, "テスト商店", func(st *store.Store) { st.AllowOrigins = []string{"https://shop.example.jp"} })
	e.addUser(aidA, "owner", store.RoleAdmin)
	e.addUser(aidA, "clerk", store.RoleViewer)
	if err := srv.DB.PutProduct(context.Background(), &store.Product{AID: aidA, IID: "TEA-1", Name: "抹茶", Am: 1500, Tx: 150}); err != nil {
		t.Fatal(err)
	}
	return e, in
}

var linkRe = regexp.MustCompile(`id="link-url" readonly value="([^"]+)"`)

func open(t *testing.T, u string) (int, string) {
	t.Helper()
	res, err := http.Get(u) // no Referer: a link opened from an e-mail
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

// TestMailLinkPage (item 10): the panel's メール決済リンク page builds links for an amount, a
// product and a card check that open the payment page without a Referer despite the store's
// allow-list; it sends one through the configured SMTP; bad input is answered next to its field;
// viewers cannot make links.
func TestMailLinkPage(t *testing.T) {
	e, in := linkEnv(t)
	b := e.browser()
	b.mustLogin(aidA, "owner")
	p := b.get("/console/links")
	if p.status != 200 || !strings.Contains(p.body, "メール決済リンク") || !strings.Contains(p.body, `id="link-send"`) {
		t.Fatalf("links page %d", p.status)
	}
	for _, c := range []struct {
		form url.Values
		want string
	}{
		{url.Values{"kind": {"amount"}, "am": {"1,200"}, "tx": {"120"}, "sf": {"0"}, "days": {"7"}, "action": {"create"}}, "1,320円"},
		{url.Values{"kind": {"product"}, "iid": {"TEA-1"}, "days": {"30"}, "action": {"create"}}, "1,650円"},
		{url.Values{"kind": {"check"}, "days": {"1"}, "action": {"create"}}, `name="cn"`},
	} {
		p := b.submit("/console/links", "/console/links", c.form)
		m := linkRe.FindStringSubmatch(p.body)
		if p.status != 200 || m == nil {
			t.Fatalf("%v: %d\n%.2000s", c.form, p.status, p.body)
		}
		link := html.UnescapeString(m[1])
		if !strings.HasPrefix(link, e.srv.URL+"/link/creditcard?") || !strings.Contains(link, "mailauthckey=") {
			t.Fatalf("link %q", link)
		}
		if code, body := open(t, link); code != 200 || !strings.Contains(body, c.want) {
			t.Fatalf("%v: link opened %d", c.form, code)
		}
		tampered := strings.Replace(link, "aid=123456", "aid=123456&cod=X", 1)
		if code, _ := open(t, tampered); code != 403 {
			t.Fatalf("tampered link opened %d", code)
		}
	}

	// by e-mail
	p = b.submit("/console/links", "/console/links", url.Values{"kind": {"amount"}, "am": {"3000"}, "days": {"14"},
		"to": {"hanako@example.com"}, "action": {"send"}})
	m := linkRe.FindStringSubmatch(p.body)
	if p.status != 200 || m == nil || !strings.Contains(p.body, `id="link-sent"`) {
		t.Fatalf("send: %d\n%.2000s", p.status, p.body)
	}
	msgs := in.All()
	if len(msgs) != 1 || msgs[0].To != "hanako@example.com" || !strings.Contains(msgs[0].Subject, "テスト商店") {
		t.Fatalf("mails %+v", msgs)
	}
	link := html.UnescapeString(m[1])
	if !strings.Contains(msgs[0].Body, link) || !strings.Contains(msgs[0].Body, "Please open it") {
		t.Fatalf("mail body %q lacks the link %q", msgs[0].Body, link)
	}
	if code, _ := open(t, link); code != 200 {
		t.Fatalf("mailed link opened %d", code)
	}

	// mistakes are shown next to their fields, and no link is made
	for field, form := range map[string]url.Values{
		"am":   {"kind": {"amount"}, "am": {"abc"}, "days": {"7"}},
		"iid":  {"kind": {"product"}, "iid": {"NOPE"}, "days": {"7"}},
		"days": {"kind": {"check"}, "days": {"9999"}},
		"to":   {"kind": {"check"}, "days": {"7"}, "to": {"not-an-address"}, "action": {"send"}},
	} {
		p := b.submit("/console/links", "/console/links", form)
		if p.status != http.StatusUnprocessableEntity || !strings.Contains(p.body, `id="err-`+field+`"`) || linkRe.MatchString(p.body) {
			t.Fatalf("%s: %d", field, p.status)
		}
	}
	if n := len(in.All()); n != 1 {
		t.Fatalf("%d mails after refused forms", n)
	}

	// a viewer sees the page but cannot make links
	v := e.browser()
	v.mustLogin(aidA, "clerk")
	if p := v.get("/console/links"); p.status != 200 || strings.Contains(p.body, `id="link-form"`) {
		t.Fatalf("viewer page %d", p.status)
	}
	if p := v.submit("/console/settings", "/console/links", url.Values{"kind": {"check"}, "days": {"7"}}); p.status != http.StatusForbidden {
		t.Fatalf("viewer POST %d", p.status)
	}
}

// TestSettingsShowKickbackSources (item 4): the addresses given to serve --kickback-source are
// shown where the result URL is set, in both languages.
func TestSettingsShowKickbackSources(t *testing.T) {
	e, _ := linkEnv(t)
	b := e.browser()
	b.mustLogin(aidA, "owner")
	p := b.get("/console/settings")
	for _, want := range []string{`id="kickback-source"`, "結果通知の送信元IPアドレス", "<code>203.0.113.7</code>", "<code>198.51.100.0/28</code>"} {
		if !strings.Contains(p.body, want) {
			t.Fatalf("settings lack %q", want)
		}
	}
	b.post("/console/lang", url.Values{"csrf": {b.csrf("/console/settings")}, "lang": {"en"}})
	if p := b.get("/console/settings"); !strings.Contains(p.body, "Kickbacks are sent from") {
		t.Fatal("no English")
	}
	// without the setting the panel says they are not published
	e2 := newEnv(t)
	b2 := e2.browser()
	b2.mustLogin(aidA, "owner")
	if p := b2.get("/console/settings"); !strings.Contains(p.body, "未公開") {
		t.Fatal("unpublished sources not said")
	}
}
