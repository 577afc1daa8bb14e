package console_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/text/encoding/japanese"
	"golang.org/x/text/transform"

	"kessai/internal/maintenance"
	"kessai/internal/store"
	"kessai/internal/web/ui"
)

func TestLogin(t *testing.T) {
	e := newEnv(t)
	b := e.browser()
	t.Run("signed out goes to the form", func(t *testing.T) {
		p := b.get("/console/")
		if p.status != http.StatusSeeOther || !strings.HasPrefix(p.h.Get("Location"), "/console/login") {
			t.Fatalf("GET /console/ signed out: %d %s", p.status, p.h.Get("Location"))
		}
		p = b.get("/console/login")
		if p.status != 200 || !strings.Contains(p.body, `type="password"`) || !strings.Contains(p.body, `name="aid"`) {
			t.Fatalf("login form: %d", p.status)
		}
		if csp := p.h.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") || strings.Contains(csp, "unsafe-inline") {
			t.Fatalf("CSP %q", csp)
		}
		if !strings.Contains(p.body, "テスト環境 / TEST") {
			t.Fatal("sandbox mark missing")
		}
	})
	t.Run("wrong password is refused", func(t *testing.T) {
		p := b.login(aidA, "owner", "wrong-password")
		if p.status != http.StatusUnauthorized || b.cookie("kessai_console") != "" {
			t.Fatalf("bad login: %d cookie %q", p.status, b.cookie("kessai_console"))
		}
		if p := b.login(aidB, "clerk", passwd); p.status != http.StatusUnauthorized {
			t.Fatalf("user of another store: %d", p.status)
		}
	})
	t.Run("right password signs in", func(t *testing.T) {
		p := b.login(aidA, "owner", passwd)
		if p.status != http.StatusSeeOther || p.h.Get("Location") != "/console/" {
			t.Fatalf("good login: %d %s", p.status, p.h.Get("Location"))
		}
		var sc *http.Cookie
		for _, c := range (&http.Response{Header: p.h}).Cookies() {
			if c.Name == "kessai_console" {
				sc = c
			}
		}
		if sc == nil || !sc.HttpOnly || sc.SameSite != http.SameSiteLaxMode || sc.Path != "/console/" {
			t.Fatalf("session cookie %+v", sc)
		}
		d := b.get("/console/")
		if d.status != 200 || !strings.Contains(d.body, aidA) || !strings.Contains(d.body, `href="/maintenance"`) || !strings.Contains(d.body, "/console/help") {
			t.Fatalf("dashboard: %d", d.status)
		}
		if !strings.Contains(d.body, "<svg") {
			t.Fatal("dashboard has no chart")
		}
	})
	t.Run("logout ends the session", func(t *testing.T) {
		tok := b.cookie("kessai_console")
		p := b.submit("/console/", "/console/logout", nil)
		if p.status != http.StatusSeeOther {
			t.Fatalf("logout: %d", p.status)
		}
		b2 := e.browser()
		b2.jar.SetCookies(mustURL(b.base+"/console/"), []*http.Cookie{{Name: "kessai_console", Value: tok, Path: "/console/"}})
		if p := b2.get("/console/"); p.status != http.StatusSeeOther {
			t.Fatalf("old token after logout: %d", p.status)
		}
	})
	if e.auditCount("login") < 1 || e.auditCount("login.failed") < 2 || e.auditCount("logout") < 1 {
		t.Fatalf("audit: login %d failed %d logout %d", e.auditCount("login"), e.auditCount("login.failed"), e.auditCount("logout"))
	}
}

func mustURL(s string) *url.URL { u, _ := url.Parse(s); return u }

func TestThrottling(t *testing.T) {
	e := newEnv(t)
	b := e.browser()
	t.Run("five failures lock the account", func(t *testing.T) {
		for i := 1; i <= 5; i++ {
			p := b.login(aidA, "owner", "nope-nope-nope")
			want := http.StatusUnauthorized
			if i == 5 {
				want = http.StatusTooManyRequests
			}
			if p.status != want {
				t.Fatalf("attempt %d: %d, want %d", i, p.status, want)
			}
		}
		if p := b.login(aidA, "owner", passwd); p.status != http.StatusTooManyRequests {
			t.Fatalf("right password while locked: %d", p.status)
		}
		if e.auditCount("account.locked") != 1 {
			t.Fatal("lock not audited")
		}
	})
	t.Run("the lock lifts after 15 minutes", func(t *testing.T) {
		e.clock.Advance(16 * time.Minute)
		if p := b.login(aidA, "owner", passwd); p.status != http.StatusSeeOther {
			t.Fatalf("after the lock: %d", p.status)
		}
	})
	t.Run("one address is throttled after 20 failures", func(t *testing.T) {
		e.clock.Advance(16 * time.Minute)
		c := e.browser()
		for i := 0; i < 20; i++ {
			if p := c.login(aidB, "nobody"+strings.Repeat("x", i), "whatever-pass"); p.status != http.StatusUnauthorized {
				t.Fatalf("attempt %d: %d", i, p.status)
			}
		}
		if p := c.login(aidB, "owner", passwd); p.status != http.StatusTooManyRequests {
			t.Fatalf("21st attempt from the address: %d", p.status)
		}
		e.clock.Advance(16 * time.Minute)
		if p := c.login(aidB, "owner", passwd); p.status != http.StatusSeeOther {
			t.Fatalf("after the window: %d", p.status)
		}
	})
}

func TestCSRF(t *testing.T) {
	e := newEnv(t)
	b := e.browser()
	b.mustLogin(aidA, "owner")
	form := url.Values{"result_url": {"https://shop.example.jp/r"}, "brand_VISA": {"on"}}
	t.Run("missing token", func(t *testing.T) {
		if p := b.post("/console/settings", form); p.status != http.StatusForbidden {
			t.Fatalf("no token: %d", p.status)
		}
	})
	t.Run("wrong token", func(t *testing.T) {
		f := url.Values{"csrf": {"forged-token-forged-token-forged-token"}}
		for k, v := range form {
			f[k] = v
		}
		if p := b.post("/console/settings", f); p.status != http.StatusForbidden {
			t.Fatalf("wrong token: %d", p.status)
		}
		if p := b.post("/console/logout", url.Values{"csrf": {"x"}}); p.status != http.StatusForbidden {
			t.Fatalf("logout with wrong token: %d", p.status)
		}
	})
	t.Run("foreign origin", func(t *testing.T) {
		f := url.Values{"csrf": {b.csrf("/console/settings")}}
		req, _ := http.NewRequest("POST", b.base+"/console/logout", strings.NewReader(f.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Origin", "https://evil.example")
		if p := b.do(req); p.status != http.StatusForbidden {
			t.Fatalf("foreign origin: %d", p.status)
		}
	})
	t.Run("login form needs its token", func(t *testing.T) {
		c := e.browser()
		p := c.post("/console/login", url.Values{"aid": {aidA}, "login": {"owner"}, "password": {passwd}})
		if p.status != http.StatusForbidden {
			t.Fatalf("login without token: %d", p.status)
		}
	})
	t.Run("right token", func(t *testing.T) {
		p := b.submit("/console/settings", "/console/settings", form)
		if p.status != http.StatusSeeOther {
			t.Fatalf("with token: %d %s", p.status, p.body)
		}
		st, _ := e.srv.DB.GetStore(context.Background(), aidA)
		if st.ResultURL != "https://shop.example.jp/r" || strings.Join(st.Brands, ",") != "VISA" {
			t.Fatalf("settings not saved: %+v", st)
		}
	})
}

func TestSessionExpiry(t *testing.T) {
	e := newEnv(t)
	t.Run("idle 30 minutes", func(t *testing.T) {
		b := e.browser()
		b.mustLogin(aidA, "owner")
		e.clock.Advance(29 * time.Minute)
		if p := b.get("/console/"); p.status != 200 {
			t.Fatalf("after 29 min: %d", p.status)
		}
		e.clock.Advance(29 * time.Minute) // active 29 minutes ago: still signed in
		if p := b.get("/console/"); p.status != 200 {
			t.Fatalf("29 min after the last request: %d", p.status)
		}
		e.clock.Advance(31 * time.Minute)
		if p := b.get("/console/"); p.status != http.StatusSeeOther {
			t.Fatalf("after 31 idle minutes: %d", p.status)
		}
	})
	t.Run("absolute 12 hours", func(t *testing.T) {
		b := e.browser()
		b.mustLogin(aidA, "owner")
		for i := 0; i < 12*60/20-1; i++ {
			e.clock.Advance(20 * time.Minute)
			if p := b.get("/console/payments"); p.status != 200 {
				t.Fatalf("active session at +%dmin: %d", (i+1)*20, p.status)
			}
		}
		e.clock.Advance(25 * time.Minute) // 12h05m after sign-in, last request 25 min ago
		if p := b.get("/console/payments"); p.status != http.StatusSeeOther {
			t.Fatalf("after 12 hours: %d", p.status)
		}
	})
}

func TestSessionFixation(t *testing.T) {
	e := newEnv(t)
	b := e.browser()
	planted := "attacker-chosen-session-token-value-0123456789"
	b.jar.SetCookies(mustURL(b.base+"/console/"), []*http.Cookie{{Name: "kessai_console", Value: planted, Path: "/console/"}})
	b.mustLogin(aidA, "owner")
	first := b.cookie("kessai_console")
	if first == "" || first == planted {
		t.Fatalf("session token not replaced at login: %q", first)
	}
	// signing in again (the form is posted with the pre-login token) rotates once more
	p := b.post("/console/login", url.Values{"csrf": {b.cookie("kessai_console_pre")}, "aid": {aidA}, "login": {"owner"}, "password": {passwd}})
	if p.status != http.StatusSeeOther {
		t.Fatalf("second login: %d", p.status)
	}
	second := b.cookie("kessai_console")
	if second == first {
		t.Fatal("session token kept across a second login")
	}
	old := e.browser()
	old.jar.SetCookies(mustURL(b.base+"/console/"), []*http.Cookie{{Name: "kessai_console", Value: first, Path: "/console/"}})
	if p := old.get("/console/"); p.status != http.StatusSeeOther {
		t.Fatalf("the replaced session still works: %d", p.status)
	}
}

func TestStoreIsolation(t *testing.T) {
	e := newEnv(t)
	other := e.charge(aidB, "other-1", "AUTH", 1000)
	mine := e.charge(aidA, "mine-1", "AUTH", 1000)
	b := e.browser()
	b.mustLogin(aidA, "owner")
	if p := b.get("/console/payments/" + mine); p.status != 200 || !strings.Contains(p.body, "mine-1") {
		t.Fatalf("own payment: %d", p.status)
	}
	if p := b.get("/console/payments/" + other); p.status != http.StatusNotFound || strings.Contains(p.body, "other-1") {
		t.Fatalf("other store's payment: %d", p.status)
	}
	if p := b.get("/console/payments?gid=" + other); strings.Contains(p.body, "other-1") {
		t.Fatal("search shows another store's payment")
	}
	if p := b.get("/console/payments.csv?gid=" + other); strings.Contains(p.body, other) {
		t.Fatal("CSV has another store's payment")
	}
	tok := b.csrf("/console/payments/" + mine)
	for _, a := range []string{"sales", "cancel", "refund"} {
		p := b.post("/console/payments/"+other+"/"+a, url.Values{"csrf": {tok}, "confirm": {"yes"}, "amount": {"100"}})
		if p.status != http.StatusNotFound {
			t.Fatalf("%s on another store's payment: %d", a, p.status)
		}
	}
	if st := e.payment(aidB, other).Status; st != store.StatusAuthorized {
		t.Fatalf("other store's payment changed to %s", st)
	}
}

func TestViewerCannotCapture(t *testing.T) {
	e := newEnv(t)
	gid := e.charge(aidA, "auth-1", "AUTH", 2000)
	b := e.browser()
	b.mustLogin(aidA, "clerk")
	p := b.get("/console/payments/" + gid)
	if p.status != 200 || strings.Contains(p.body, "/sales\"") {
		t.Fatalf("viewer sees the capture form (status %d)", p.status)
	}
	tok := b.csrf("/console/payments/" + gid)
	if p := b.post("/console/payments/"+gid+"/sales", url.Values{"csrf": {tok}, "confirm": {"yes"}}); p.status != http.StatusForbidden {
		t.Fatalf("viewer capture: %d", p.status)
	}
	if p := b.post("/console/settings", url.Values{"csrf": {tok}, "brand_VISA": {"on"}}); p.status != http.StatusForbidden {
		t.Fatalf("viewer settings: %d", p.status)
	}
	if p := b.get("/console/users"); p.status != http.StatusForbidden {
		t.Fatalf("viewer users page: %d", p.status)
	}
	if st := e.payment(aidA, gid).Status; st != store.StatusAuthorized {
		t.Fatalf("status %s after a viewer's capture", st)
	}
}

func TestSearchCaptureRefund(t *testing.T) {
	e := newEnv(t)
	gid := e.charge(aidA, "order-777", "AUTH", 1000)
	e.charge(aidA, "order-888", "CAPTURE", 500)
	b := e.browser()
	b.mustLogin(aidA, "owner")
	t.Run("search by cod", func(t *testing.T) {
		p := b.get("/console/payments?cod=order-777")
		if p.status != 200 || !strings.Contains(p.body, gid) || strings.Contains(p.body, "order-888") {
			t.Fatalf("search: %d", p.status)
		}
		if p := b.get("/console/payments?status=captured"); !strings.Contains(p.body, "order-888") || strings.Contains(p.body, "order-777") {
			t.Fatal("status filter")
		}
		if p := b.get("/console/payments?last4=1111&amount=1000"); !strings.Contains(p.body, "order-777") || strings.Contains(p.body, "order-888") {
			t.Fatal("last4 + amount filter")
		}
	})
	t.Run("capture needs confirmation", func(t *testing.T) {
		p := b.submit("/console/payments/"+gid, "/console/payments/"+gid+"/sales", url.Values{"amount": {"800"}})
		if p.status != 200 || !strings.Contains(p.body, `name="confirm" value="yes"`) {
			t.Fatalf("confirm step: %d", p.status)
		}
		if st := e.payment(aidA, gid).Status; st != store.StatusAuthorized {
			t.Fatalf("captured without confirmation: %s", st)
		}
		p = b.submit("/console/payments/"+gid, "/console/payments/"+gid+"/sales", url.Values{"amount": {"800"}, "confirm": {"yes"}})
		if p.status != http.StatusSeeOther {
			t.Fatalf("capture: %d", p.status)
		}
		if pay := e.payment(aidA, gid); pay.Status != store.StatusCaptured || pay.Captured != 800 {
			t.Fatalf("after capture: %s %d", pay.Status, pay.Captured)
		}
	})
	t.Run("partial refund", func(t *testing.T) {
		p := b.submit("/console/payments/"+gid, "/console/payments/"+gid+"/refund", url.Values{"amount": {"300"}, "confirm": {"yes"}})
		if p.status != http.StatusSeeOther {
			t.Fatalf("refund: %d", p.status)
		}
		if pay := e.payment(aidA, gid); pay.Status != store.StatusPartiallyRefunded || pay.Refunded != 300 {
			t.Fatalf("after refund: %s %d", pay.Status, pay.Refunded)
		}
		p = b.submit("/console/payments/"+gid, "/console/payments/"+gid+"/refund", url.Values{"amount": {"9999"}, "confirm": {"yes"}})
		// refused before reaching the service, saying what can be refunded (issue 15 item 10)
		if p.status != http.StatusUnprocessableEntity || !strings.Contains(p.body, "返金できるのは 500 円までです") {
			t.Fatalf("over-refund: %d", p.status)
		}
		if pay := e.payment(aidA, gid); pay.Refunded != 300 {
			t.Fatalf("over-refund changed the payment: %d", pay.Refunded)
		}
		d := b.get("/console/payments/" + gid)
		for _, want := range []string{"仮売上", "実売上", "一部返金"} {
			if !strings.Contains(d.body, want) {
				t.Fatalf("timeline lacks %s", want)
			}
		}
	})
	if e.auditCount("payment.sales") != 1 || e.auditCount("payment.refund") != 1 {
		t.Fatal("actions not audited")
	}
}

func TestCSVMaskedAndShiftJIS(t *testing.T) {
	e := newEnv(t)
	e.charge(aidA, "csv-1", "CAPTURE", 1200)
	e.charge(aidA, "csv-2", "AUTH", 3400)
	b := e.browser()
	b.mustLogin(aidA, "owner")
	p := b.get("/console/payments.csv?cod=csv-")
	if p.status != 200 || !strings.HasPrefix(p.h.Get("Content-Type"), "text/csv") {
		t.Fatalf("csv: %d %s", p.status, p.h.Get("Content-Type"))
	}
	if strings.Contains(p.body, "4111111111111111") || !strings.Contains(p.body, "411111******1111") {
		t.Fatal("card not masked in CSV")
	}
	if strings.Count(p.body, "\r\n") != 3 || !strings.Contains(p.body, "csv-1") || !strings.Contains(p.body, "csv-2") {
		t.Fatalf("csv rows: %q", p.body)
	}
	s := b.get("/console/payments.csv?cod=csv-&enc=sjis")
	if !strings.Contains(s.h.Get("Content-Type"), "Shift_JIS") {
		t.Fatalf("content type %s", s.h.Get("Content-Type"))
	}
	if strings.Contains(s.body, "決済番号") {
		t.Fatal("Shift_JIS export is UTF-8")
	}
	dec, err := io.ReadAll(transform.NewReader(strings.NewReader(s.body), japanese.ShiftJIS.NewDecoder()))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(dec), "決済番号,オーダー番号,状態") || !strings.Contains(string(dec), "売上確定") ||
		!strings.Contains(string(dec), "411111******1111") || strings.Contains(string(dec), "4111111111111111") {
		t.Fatalf("decoded: %q", dec)
	}
}

func TestAllowListAppliesToTheWire(t *testing.T) {
	e := newEnv(t)
	e.charge(aidA, "before", "CAPTURE", 100)
	b := e.browser()
	b.mustLogin(aidA, "owner")
	save := func(ips string) {
		f := url.Values{"allow_ips": {ips}}
		for _, br := range []string{"VISA", "MASTER", "JCB", "AMEX", "DINERS"} {
			f.Set("brand_"+br, "on")
		}
		if p := b.submit("/console/settings", "/console/settings", f); p.status != http.StatusSeeOther {
			t.Fatalf("save allow-list: %d", p.status)
		}
	}
	save("10.0.0.0/8")
	v := url.Values{"aid": {aidA}, "jb": {"CAPTURE"}, "rt": {"1"}, "cod": {"after"}, "am": {"100"}, "tx": {"0"}, "sf": {"0"},
		"cn": {"4111111111111111"}, "ed": {time.Now().AddDate(3, 0, 0).Format("0601")}, "cvv": {"123"}}
	if got := strings.TrimSpace(e.wire(v)); got != "ER:ER003" {
		t.Fatalf("from 127.0.0.1 with only 10.0.0.0/8 allowed: %q", got)
	}
	save("10.0.0.0/8\n127.0.0.1")
	if got := e.wire(v); strings.HasPrefix(got, "ER:") {
		t.Fatalf("after allowing 127.0.0.1: %q", got)
	}
	if p := b.submit("/console/settings", "/console/settings", url.Values{"allow_ips": {"not-an-ip"}, "brand_VISA": {"on"}}); p.status != http.StatusUnprocessableEntity {
		t.Fatalf("bad IP accepted: %d", p.status)
	}
}

func TestOperatorSuspendsStore(t *testing.T) {
	e := newEnv(t)
	op := e.browser()
	op.operatorLogin()
	if p := op.get("/operator/stores"); p.status != 200 || !strings.Contains(p.body, aidA) {
		t.Fatalf("stores: %d", p.status)
	}
	if p := op.submit("/operator/stores/"+aidA, "/operator/stores/"+aidA+"/suspend", url.Values{"action": {"suspend"}, "reason": {"unpaid"}, "confirm": {"yes"}}); p.status != http.StatusSeeOther {
		t.Fatalf("suspend: %d", p.status)
	}
	v := url.Values{"aid": {aidA}, "jb": {"CAPTURE"}, "rt": {"1"}, "cod": {"x1"}, "am": {"100"}, "tx": {"0"}, "sf": {"0"},
		"cn": {"4111111111111111"}, "ed": {time.Now().AddDate(3, 0, 0).Format("0601")}, "cvv": {"123"}}
	if got := strings.TrimSpace(e.wire(v)); got != "ER:ER998" {
		t.Fatalf("suspended store on the wire: %q", got)
	}
	op.submit("/operator/stores/"+aidA, "/operator/stores/"+aidA+"/suspend", url.Values{"action": {"resume"}})
	if got := e.wire(v); strings.HasPrefix(got, "ER:") {
		t.Fatalf("resumed store: %q", got)
	}
	t.Run("merchants cannot use the operator console", func(t *testing.T) {
		m := e.browser()
		m.mustLogin(aidA, "owner")
		if p := m.get("/operator/stores"); p.status != http.StatusSeeOther {
			t.Fatalf("merchant on /operator/: %d", p.status)
		}
	})
	es, _ := e.srv.DB.AuditLog(context.Background(), store.AuditFilter{AID: aidA, Action: "store.", Limit: 10})
	if len(es) != 2 || es[1].Action != "store.suspend" || es[1].Actor != "operator:ops" || es[1].Remote != "127.0.0.1" || es[1].Detail != "unpaid" {
		t.Fatalf("audit: %+v", es)
	}
}

func TestOperatorMaintenance(t *testing.T) {
	e := newEnv(t)
	op := e.browser()
	op.operatorLogin()
	m := e.browser()
	m.mustLogin(aidA, "owner")
	t.Run("a window within 7 days shows a banner once announced", func(t *testing.T) {
		day := e.clock.Now().In(ui.Tokyo).AddDate(0, 0, 3).Format("2006-01-02")
		p := op.submit("/operator/maintenance", "/operator/maintenance/windows", url.Values{"date": {day}, "from": {"02:55"}, "to": {"04:30"},
			"zone": {"Asia/Tokyo"}, "scope": {"all"}})
		if p.status != http.StatusSeeOther {
			t.Fatalf("add window: %d %s", p.status, p.body)
		}
		// not before it is announced (maintenance.md §3.6; issue 15 item 13)
		if d := m.get("/console/"); d.status != 200 || strings.Contains(d.body, "AM 02:55") {
			t.Fatalf("an unannounced window has a banner in the panel (status %d)", d.status)
		}
	})
	t.Run("publish announces planned windows", func(t *testing.T) {
		year := e.clock.Now().In(ui.Tokyo).AddDate(0, 0, 3).Year()
		if p := op.get("/operator/maintenance/notice?year=" + itoa(year)); p.status != 200 || !strings.Contains(p.body, "ER999") {
			t.Fatalf("notice preview: %d", p.status)
		}
		p := op.submit("/operator/maintenance", "/operator/maintenance/publish", url.Values{"year": {itoa(year)}, "confirm": {"yes"}})
		if p.status != http.StatusSeeOther {
			t.Fatalf("publish: %d", p.status)
		}
		ws, _ := e.srv.DB.Windows(context.Background())
		if len(ws) != 1 || ws[0].Status != maintenance.StatusAnnounced {
			t.Fatalf("windows after publish: %+v", ws)
		}
		if d := m.get("/console/"); d.status != 200 || !strings.Contains(d.body, "メンテナンスのお知らせ") || !strings.Contains(d.body, "AM 02:55") {
			t.Fatalf("no banner for the announced window (status %d)", d.status)
		}
	})
	t.Run("an emergency window closes the panel, not the operator console", func(t *testing.T) {
		p := op.submit("/operator/maintenance", "/operator/maintenance/emergency", url.Values{"minutes": {"30"}, "scope": {"all"}, "confirm": {"yes"}, "reason": {"db failover"}})
		if p.status != http.StatusSeeOther {
			t.Fatalf("emergency: %d %s", p.status, p.body)
		}
		d := m.get("/console/payments")
		if d.status != http.StatusServiceUnavailable || d.h.Get("Retry-After") == "" || !strings.Contains(d.body, "ER999") {
			t.Fatalf("panel during maintenance: %d retry-after %q", d.status, d.h.Get("Retry-After"))
		}
		if l := e.browser().get("/console/login"); l.status != http.StatusServiceUnavailable {
			t.Fatalf("login page during maintenance: %d", l.status)
		}
		j := m.get("/console/api/summary")
		var prob map[string]any
		json.Unmarshal([]byte(j.body), &prob)
		if j.status != 503 || j.h.Get("Content-Type") != "application/problem+json" || prob["code"] != "ER999" || prob["start"] == nil || prob["end"] == nil {
			t.Fatalf("JSON during maintenance: %d %s %s", j.status, j.h.Get("Content-Type"), j.body)
		}
		if o := op.get("/operator/maintenance"); o.status != 200 {
			t.Fatalf("operator console during maintenance: %d", o.status)
		}
		v := url.Values{"aid": {aidA}, "jb": {"CAPTURE"}, "rt": {"1"}, "cod": {"m1"}, "am": {"100"}, "tx": {"0"}, "sf": {"0"},
			"cn": {"4111111111111111"}, "ed": {time.Now().AddDate(3, 0, 0).Format("0601")}, "cvv": {"123"}}
		if got := strings.TrimSpace(e.wire(v)); got != "ER:ER999" {
			t.Fatalf("wire during emergency: %q", got)
		}
		act := e.srv.Maint.Active(e.clock.Now())
		if act == nil {
			t.Fatal("no active window")
		}
		e.clock.Advance(5 * time.Minute)
		p = op.submit("/operator/maintenance", "/operator/maintenance/windows/"+itoa64(act.ID)+"/end", url.Values{"reason": {"done"}})
		if p.status != http.StatusSeeOther {
			t.Fatalf("end: %d %s", p.status, p.body)
		}
		if d := m.get("/console/payments"); d.status != 200 {
			t.Fatalf("panel after the end: %d", d.status)
		}
	})
	for _, a := range []string{"maintenance.added", "maintenance.published", "maintenance.started", "maintenance.ended"} {
		if e.auditCount(a) != 1 {
			t.Fatalf("audit %s: %d", a, e.auditCount(a))
		}
	}
	chs, _ := e.srv.DB.Changes(context.Background())
	kinds := []string{}
	for _, c := range chs {
		kinds = append(kinds, c.Kind)
	}
	if got := strings.Join(kinds, ","); got != "added,published,added,ended" {
		t.Fatalf("changes %s", got)
	}
	if p := op.get("/operator/audit?action=maintenance"); p.status != 200 || !strings.Contains(p.body, "maintenance.started") {
		t.Fatalf("audit page: %d", p.status)
	}
}

func TestLanguageSwitch(t *testing.T) {
	e := newEnv(t)
	b := e.browser()
	if p := b.get("/console/login"); !strings.Contains(p.body, "店舗ID") {
		t.Fatal("Japanese is not the default")
	}
	if p := b.submit("/console/login", "/console/lang", url.Values{"lang": {"en"}, "next": {"/console/login"}}); p.status != http.StatusSeeOther {
		t.Fatalf("switch: %d", p.status)
	}
	if p := b.get("/console/login"); !strings.Contains(p.body, "Store ID") || !strings.Contains(p.body, `lang="en"`) {
		t.Fatal("English not shown after the switch")
	}
	b.mustLogin(aidA, "owner")
	if p := b.get("/console/"); !strings.Contains(p.body, "Sales today") {
		t.Fatal("session did not keep English")
	}
	if p := b.submit("/console/", "/console/lang", url.Values{"lang": {"ja"}, "next": {"https://evil.example/"}}); p.h.Get("Location") != "/console/" {
		t.Fatalf("open redirect: %s", p.h.Get("Location"))
	}
}

func TestEveryPageRenders(t *testing.T) {
	e := newEnv(t)
	gid := e.charge(aidA, "r-1", "CAPTURE", 100)
	b := e.browser()
	b.mustLogin(aidA, "owner")
	for _, path := range []string{"/console/", "/console/payments", "/console/payments/" + gid, "/console/autocharges", "/console/kickbacks", "/console/settings",
		"/console/users", "/console/password", "/console/help", "/console/assets/kessai.css"} {
		if p := b.get(path); p.status != 200 {
			t.Errorf("%s: %d", path, p.status)
		}
	}
	op := e.browser()
	op.operatorLogin()
	for _, path := range []string{"/operator/", "/operator/stores", "/operator/stores/" + aidA, "/operator/maintenance", "/operator/maintenance?year=2020",
		"/operator/maintenance/notice", "/operator/email", "/operator/audit", "/operator/help"} {
		if p := op.get(path); p.status != 200 {
			t.Errorf("%s: %d", path, p.status)
		}
	}
	p := op.submit("/operator/maintenance", "/operator/maintenance/draft", url.Values{"year": {"2027"}, "rrule": {"FREQ=MONTHLY;BYDAY=TH;BYMONTHDAY=17,18,19,20,21,22,23"},
		"from": {"02:55"}, "to": {"04:30"}, "zone": {"Asia/Tokyo"}, "shift": {"previous"}})
	if p.status != 200 || strings.Count(p.body, `type="checkbox" name="date"`) != 12 {
		t.Fatalf("draft: %d, %d dates", p.status, strings.Count(p.body, `type="checkbox" name="date"`))
	}
	bb := bytes.Count([]byte(p.body), []byte("<script"))
	if bb != 0 {
		t.Fatal("a page has a script")
	}
}

func itoa(n int) string     { return strconv.Itoa(n) }
func itoa64(n int64) string { return strconv.FormatInt(n, 10) }
