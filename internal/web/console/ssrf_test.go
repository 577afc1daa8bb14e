package console_test

import (
	"context"
	"html"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"kessai/internal/clock"
	"kessai/internal/store"
	"kessai/internal/testenv"
)

// TestResultURLToAnInternalAddressIsRefused (issue 14 item 4): when the server refuses internal
// kickback targets, the panel does not save a result URL that points at one, and says so next to
// the field; a public one is saved. A loopback-only sandbox (the README's serve) accepts loopback
// but still refuses the private LAN and the cloud metadata address.
func TestResultURLToAnInternalAddressIsRefused(t *testing.T) {
	settings := func(b *browser, field, u string) page {
		f := url.Values{field: {u}}
		for _, br := range []string{"VISA", "MASTER", "JCB", "AMEX", "DINERS"} {
			f.Set("brand_"+br, "on")
		}
		return b.submit("/console/settings", "/console/settings", f)
	}
	refused := func(t *testing.T, e *env, b *browser, field, u string) {
		t.Helper()
		p := settings(b, field, u)
		if p.status != http.StatusUnprocessableEntity {
			t.Fatalf("%s=%s saved: %d", field, u, p.status)
		}
		body := html.UnescapeString(p.body)
		if !strings.Contains(body, `id="`+field+`-error"`) || !strings.Contains(body, "内部アドレス") {
			t.Fatalf("%s=%s: no message next to the field:\n%s", field, u, p.body)
		}
		st, err := e.srv.DB.GetStore(context.Background(), aidA)
		if err != nil {
			t.Fatal(err)
		}
		if st.ResultURL == u || st.ACResultURL == u {
			t.Fatalf("%s stored although refused", u)
		}
	}
	saved := func(t *testing.T, e *env, b *browser, u string) {
		t.Helper()
		if p := settings(b, "result_url", u); p.status != http.StatusSeeOther {
			t.Fatalf("result_url=%s refused: %d %s", u, p.status, p.body)
		}
		if st, _ := e.srv.DB.GetStore(context.Background(), aidA); st.ResultURL != u {
			t.Fatalf("result_url=%s not stored: %q", u, st.ResultURL)
		}
	}
	start := func(t *testing.T, o testenv.Options) (*env, *browser) {
		clk := clock.NewFixed(time.Now().Truncate(time.Second))
		o.Clock = clk
		srv := testenv.Start(t, o)
		e := &env{t: t, srv: srv, clock: clk}
		srv.CreateStore(t, aidA, "テスト商店", nil)
		e.addUser(aidA, "owner", store.RoleAdmin)
		b := e.browser()
		b.mustLogin(aidA, "owner")
		return e, b
	}

	t.Run("production rule", func(t *testing.T) {
		e, b := start(t, testenv.Options{RefusePrivateKickbacks: true})
		for _, u := range []string{"http://169.254.169.254/latest/meta-data/", "http://127.0.0.1:5432/", "http://[::1]/kb", "http://localhost/kb",
			"http://10.0.0.5/kb", "http://192.168.1.10/kb", "http://100.64.0.1/kb", "http://[fd00::1]/kb", "http://[::ffff:127.0.0.1]/kb",
			"http://0.0.0.0/kb", "http://[fe80::1]/kb"} {
			refused(t, e, b, "result_url", u)
		}
		refused(t, e, b, "ac_result_url", "http://127.0.0.1:6379/")
		saved(t, e, b, "https://203.0.113.10/kessai/result")
	})
	t.Run("loopback-only sandbox", func(t *testing.T) {
		e, b := start(t, testenv.Options{})
		saved(t, e, b, "http://127.0.0.1:8081/kb")
		saved(t, e, b, "http://localhost:8081/kb")
		refused(t, e, b, "result_url", "http://10.0.0.5/kb")
		refused(t, e, b, "result_url", "http://169.254.169.254/")
	})
}
