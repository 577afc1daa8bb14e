package e2e

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"kessai/internal/clock"
	"kessai/internal/notify"
	"kessai/internal/store"
	"kessai/internal/testenv"
	"kessai/internal/testenv/inbox"
)

// TestNonCardShopperMail: a hosted convenience-store payment with em sends the shopper, through
// the configured SMTP server, an e-mail with the payment number, the slip link, the deadline and
// the chain's steps, in Japanese and English, once.
func TestNonCardShopperMail(t *testing.T) {
	in := inbox.New(t)
	clk := clock.NewFixed(tue)
	s := testenv.Start(t, testenv.Options{Clock: clk, SMTP: notify.SMTPConfig{Addr: in.Addr, From: "kessai@example.jp"}})
	s.CreateStore(t, ncAid, "コンビニ商店", nil)
	set := store.DefaultStoreMethods(ncAid)
	set.Methods = []string{"card", "cvs", "bank"}
	s.DB.PutStoreMethods(context.Background(), set)
	jar := &cookieJar{m: map[string]*http.Cookie{}}
	c := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.PostForm(s.URL+"/gateway/payform.aspx", url.Values{"aid": {ncAid}, "cod": {"m-1"}, "am": {"1000"}, "tx": {"0"},
		"sf": {"0"}, "pt": {"2"}, "pn": {"0312345678"}, "em": {"hanako@example.jp"}})
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	f := hiddenFields(string(page))
	f.Set("method", "cvs")
	f.Set("cv", "020")
	f.Set("kana", "ヤマダ ハナコ")
	for i := 0; i < 2; i++ { // a resubmission sends no second e-mail
		resp, err = c.PostForm(s.URL+"/link/noncard/issue", f)
		if err != nil || resp.StatusCode != 303 {
			t.Fatalf("issue: %v %v", err, resp.StatusCode)
		}
		resp.Body.Close()
	}
	waitFor(t, "the shopper's e-mail", func() bool {
		return len(in.All()) > 0
	})
	all := in.All()
	m, n := all[0], len(all)
	if m.To != "hanako@example.jp" || !strings.Contains(m.Subject, "コンビニ決済のご案内") {
		t.Fatalf("mail to %q subject %q", m.To, m.Subject)
	}
	for _, want := range []string{"ローソン", "受付番号", "Loppi", "お支払期限", "Reception number", "/link/slip/", "2026年3月24日"} {
		if !strings.Contains(m.Body, want) {
			t.Fatalf("mail lacks %q:\n%s", want, m.Body)
		}
	}
	if n != 1 {
		t.Fatalf("%d e-mails", n)
	}
}
