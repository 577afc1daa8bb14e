package console_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"kessai/internal/store"
)

// autoCharge signs a monthly plan up through the real gateway (a first charge of 1,000 yen, then
// 980 + 98 tax on day 1 of every month) and returns its acid, column 12 (from 0) of the result line.
func (e *env) autoCharge(aid, cod string) string {
	e.t.Helper()
	v := url.Values{"aid": {aid}, "jb": {"CAPTURE"}, "rt": {"1"}, "cod": {cod}, "am": {"1000"}, "tx": {"0"}, "sf": {"0"},
		"cn": {"4111111111111111"}, "ed": {"4012"}, "cvv": {"123"}, "em": {"taro@example.com"},
		"actp": {"4"}, "acam": {"980"}, "actx": {"98"}, "acsf": {"0"}, "ac1": {"1"}, "ac3": {"0"}}
	body := e.wire(v)
	cols := strings.Split(strings.TrimSpace(body), ",")
	if len(cols) != 14 || cols[1] != "1" || cols[12] == "" {
		e.t.Fatalf("auto-charge sign-up %s: %q", cod, body)
	}
	return cols[12]
}

func (e *env) plan(aid, acid string) *store.AutoCharge {
	e.t.Helper()
	a, err := e.srv.DB.GetAutoCharge(context.Background(), aid, acid)
	if err != nil {
		e.t.Fatal(err)
	}
	return a
}

// acsgate stops a plan through the wire (GET) and returns the answer.
func (e *env) acsgate(aid, acid string) string {
	e.t.Helper()
	resp, err := http.Get(e.srv.URL + "/gateway/acsgate.aspx?" + url.Values{"aid": {aid}, "cmd": {"1"}, "acid": {acid}}.Encode())
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return strings.TrimSpace(string(b))
}

func TestAutoChargeList(t *testing.T) {
	e := newEnv(t)
	acid := e.autoCharge(aidA, "ac-list-1")
	otherAcid := e.autoCharge(aidB, "ac-other-1")
	b := e.browser()
	b.mustLogin(aidA, "owner")
	p := b.get("/console/autocharges")
	if p.status != 200 {
		t.Fatalf("list: %d", p.status)
	}
	for _, want := range []string{`href="/console/autocharges/` + acid + `"`, "毎月", "1,078", "411111******1111", "taro@example.com", "有効", "1日",
		`<a href="/console/autocharges" aria-current="page">`} {
		if !strings.Contains(p.body, want) {
			t.Errorf("list lacks %q", want)
		}
	}
	if strings.Contains(p.body, otherAcid) {
		t.Fatal("list shows another store's auto-charge")
	}
	if strings.Contains(p.body, "4111111111111111") {
		t.Fatal("full card number on the list")
	}
	if p := b.get("/console/autocharges?status=stopped"); p.status != 200 || strings.Contains(p.body, acid) {
		t.Fatalf("status=stopped: %d", p.status)
	}
	if p := b.get("/console/autocharges?status=active"); !strings.Contains(p.body, acid) {
		t.Fatal("status=active lacks the plan")
	}
	if p := b.get("/console/autocharges?status=bogus"); p.status != 200 || !strings.Contains(p.body, "状態の指定が正しくありません") || !strings.Contains(p.body, acid) {
		t.Fatalf("bad status: %d", p.status)
	}
	if p := b.get("/console/"); !strings.Contains(p.body, `href="/console/autocharges"`) {
		t.Fatal("no menu link to the auto-charges")
	}
	t.Run("paging", func(t *testing.T) {
		for i := 0; i < 50; i++ {
			e.clock.Advance(time.Second) // newest first: each plan a second younger
			e.autoCharge(aidA, "ac-page-"+itoa(i))
		}
		p := b.get("/console/autocharges")
		if !strings.Contains(p.body, `href="/console/autocharges?page=2"`) || strings.Contains(p.body, `href="/console/autocharges/`+acid+`"`) {
			t.Fatal("page 1 of 51: no next link, or the oldest plan on it")
		}
		p = b.get("/console/autocharges?page=2")
		if !strings.Contains(p.body, `href="/console/autocharges/`+acid+`"`) || strings.Contains(p.body, `rel="next"`) || !strings.Contains(p.body, `rel="prev"`) {
			t.Fatal("page 2 of 51")
		}
		if p := b.get("/console/autocharges?status=active&page=2"); !strings.Contains(p.body, `href="/console/autocharges?status=active"`) {
			t.Fatal("the previous link loses the filter")
		}
	})
	t.Run("english", func(t *testing.T) {
		b.submit("/console/autocharges", "/console/lang", url.Values{"lang": {"en"}, "next": {"/console/autocharges"}})
		p := b.get("/console/autocharges")
		if !strings.Contains(p.body, "Auto-charges") || !strings.Contains(p.body, "monthly") || !strings.Contains(p.body, "Active") {
			t.Fatal("English list")
		}
		b.submit("/console/autocharges", "/console/lang", url.Values{"lang": {"ja"}, "next": {"/console/autocharges"}})
	})
}

func TestAutoChargeStop(t *testing.T) {
	e := newEnv(t)
	var mu sync.Mutex
	var notices []url.Values
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.ParseForm()
		mu.Lock()
		notices = append(notices, r.Form)
		mu.Unlock()
		w.Write([]byte("OK"))
	}))
	defer rcv.Close()
	st, _ := e.srv.DB.GetStore(context.Background(), aidA)
	st.ACResultURL, st.StopNotice = rcv.URL+"/ac", "immediate"
	if err := e.srv.DB.UpdateStore(context.Background(), st); err != nil {
		t.Fatal(err)
	}
	e.srv.Pay.Stores.Invalidate()
	acid := e.autoCharge(aidA, "ac-stop-1")
	otherAcid := e.autoCharge(aidB, "ac-stop-other")
	signUp := e.plan(aidA, acid).Gid
	b := e.browser()
	b.mustLogin(aidA, "owner")

	t.Run("detail", func(t *testing.T) {
		p := b.get("/console/autocharges/" + acid)
		if p.status != 200 {
			t.Fatalf("detail: %d", p.status)
		}
		for _, want := range []string{acid, `href="/console/payments/` + signUp + `"`, "ac-stop-1", "1,078", "411111******1111", `id="form-stop"`, "有効"} {
			if !strings.Contains(p.body, want) {
				t.Errorf("detail lacks %q", want)
			}
		}
		if p := b.get("/console/payments/" + signUp); !strings.Contains(p.body, `href="/console/autocharges/`+acid+`"`) {
			t.Error("the sign-up payment does not link to its auto-charge")
		}
	})
	t.Run("another store's plan is not found", func(t *testing.T) {
		if p := b.get("/console/autocharges/" + otherAcid); p.status != http.StatusNotFound || strings.Contains(p.body, "ac-stop-other") {
			t.Fatalf("other store's detail: %d", p.status)
		}
		p := b.submit("/console/autocharges/"+acid, "/console/autocharges/"+otherAcid+"/stop", url.Values{"confirm": {"yes"}})
		if p.status != http.StatusNotFound {
			t.Fatalf("other store's stop: %d", p.status)
		}
		if a := e.plan(aidB, otherAcid); a.Status != store.ACActive {
			t.Fatalf("other store's plan is %s", a.Status)
		}
		if p := b.get("/console/autocharges/no-such-plan"); p.status != http.StatusNotFound {
			t.Fatalf("unknown acid: %d", p.status)
		}
	})
	t.Run("no CSRF token", func(t *testing.T) {
		if p := b.post("/console/autocharges/"+acid+"/stop", url.Values{"confirm": {"yes"}}); p.status != http.StatusForbidden {
			t.Fatalf("stop without a token: %d", p.status)
		}
		if a := e.plan(aidA, acid); a.Status != store.ACActive {
			t.Fatalf("stopped without a token: %s", a.Status)
		}
	})
	t.Run("viewer", func(t *testing.T) {
		v := e.browser()
		v.mustLogin(aidA, "clerk")
		p := v.get("/console/autocharges/" + acid)
		if p.status != 200 || strings.Contains(p.body, `id="form-stop"`) {
			t.Fatalf("viewer's detail (status %d) shows the stop form", p.status)
		}
		if p := v.submit("/console/autocharges/"+acid, "/console/autocharges/"+acid+"/stop", url.Values{"confirm": {"yes"}}); p.status != http.StatusForbidden {
			t.Fatalf("viewer stop: %d", p.status)
		}
		if a := e.plan(aidA, acid); a.Status != store.ACActive {
			t.Fatalf("a viewer stopped the plan: %s", a.Status)
		}
	})
	t.Run("stop needs confirmation", func(t *testing.T) {
		p := b.submit("/console/autocharges/"+acid, "/console/autocharges/"+acid+"/stop", nil)
		if p.status != 200 || !strings.Contains(p.body, `name="confirm" value="yes"`) || !strings.Contains(p.body, acid) {
			t.Fatalf("confirm step: %d", p.status)
		}
		if a := e.plan(aidA, acid); a.Status != store.ACActive {
			t.Fatalf("stopped without confirmation: %s", a.Status)
		}
		p = b.submit("/console/autocharges/"+acid, "/console/autocharges/"+acid+"/stop", url.Values{"confirm": {"yes"}})
		if p.status != http.StatusSeeOther || p.h.Get("Location") != "/console/autocharges/"+acid+"?done=stop" {
			t.Fatalf("stop: %d %s", p.status, p.h.Get("Location"))
		}
		if a := e.plan(aidA, acid); a.Status != store.ACStopped || a.StoppedAt.IsZero() {
			t.Fatalf("after the stop: %s", a.Status)
		}
		d := b.get(p.h.Get("Location"))
		if d.status != 200 || !strings.Contains(d.body, "自動課金を停止しました") || !strings.Contains(d.body, "停止済み") || strings.Contains(d.body, `id="form-stop"`) {
			t.Fatalf("detail after the stop: %d", d.status)
		}
		if got := e.acsgate(aidA, acid); got != "ER:ER024" {
			t.Fatalf("acsgate after the console's stop: %q", got)
		}
	})
	t.Run("a second stop says already stopped", func(t *testing.T) {
		p := b.submit("/console/autocharges/"+acid, "/console/autocharges/"+acid+"/stop", url.Values{"confirm": {"yes"}})
		if p.status != http.StatusConflict || !strings.Contains(p.body, "停止済み") || !strings.Contains(p.body, "ER024") {
			t.Fatalf("second stop: %d", p.status)
		}
		// stopped elsewhere between the confirmation and the click
		acid2 := e.autoCharge(aidA, "ac-stop-2")
		tok := b.csrf("/console/autocharges/" + acid2)
		if got := e.acsgate(aidA, acid2); got != "OK" {
			t.Fatalf("acsgate: %q", got)
		}
		p = b.post("/console/autocharges/"+acid2+"/stop", url.Values{"csrf": {tok}, "confirm": {"yes"}})
		if p.status != http.StatusConflict || !strings.Contains(p.body, "停止済み") {
			t.Fatalf("stop of a plan stopped through acsgate: %d", p.status)
		}
	})
	t.Run("the rst=4 notice goes out at once", func(t *testing.T) {
		waitFor(t, func() bool {
			mu.Lock()
			defer mu.Unlock()
			for _, q := range notices {
				if q.Get("acid") == acid && q.Get("rst") == "4" {
					return true
				}
			}
			return false
		})
	})
	es, err := e.srv.DB.AuditLog(context.Background(), store.AuditFilter{AID: aidA, Action: "autocharge.stop", Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	var service, console int
	for _, x := range es {
		switch {
		case x.Action == "autocharge.stop" && x.Actor == "console:owner" && x.Detail == "acid="+acid:
			service++
		case x.Action == "autocharge.stop.console" && x.Detail == "acid="+acid && x.Remote == "127.0.0.1":
			console++
		}
	}
	if service != 1 || console != 1 {
		t.Fatalf("audit: %d service entries, %d console entries: %+v", service, console, es)
	}
}

func TestAutoChargeMaintenance(t *testing.T) {
	e := newEnv(t)
	acid := e.autoCharge(aidA, "ac-maint-1")
	op := e.browser()
	op.operatorLogin()
	b := e.browser()
	b.mustLogin(aidA, "owner")
	tok := b.csrf("/console/autocharges/" + acid)
	emergency := func(scope string) {
		t.Helper()
		p := op.submit("/operator/maintenance", "/operator/maintenance/emergency", url.Values{"minutes": {"30"}, "scope": {scope}, "confirm": {"yes"}, "reason": {"test"}})
		if p.status != http.StatusSeeOther {
			t.Fatalf("emergency %s: %d %s", scope, p.status, p.body)
		}
	}
	t.Run("an auto-charge window refuses the stop, not the pages", func(t *testing.T) {
		emergency("AUTOCHARGE")
		if p := b.get("/console/autocharges/" + acid); p.status != 200 {
			t.Fatalf("detail: %d", p.status)
		}
		p := b.post("/console/autocharges/"+acid+"/stop", url.Values{"csrf": {tok}, "confirm": {"yes"}})
		if p.status != http.StatusServiceUnavailable || !strings.Contains(p.body, "ER999") {
			t.Fatalf("stop during auto-charge maintenance: %d", p.status)
		}
		act := e.srv.Maint.Active(e.clock.Now())
		if act == nil {
			t.Fatal("no active window")
		}
		e.clock.Advance(time.Minute)
		if p := op.submit("/operator/maintenance", "/operator/maintenance/windows/"+itoa64(act.ID)+"/end", url.Values{"reason": {"done"}}); p.status != http.StatusSeeOther {
			t.Fatalf("end: %d", p.status)
		}
	})
	t.Run("a panel window closes the auto-charge pages", func(t *testing.T) {
		emergency("all")
		for _, path := range []string{"/console/autocharges", "/console/autocharges/" + acid} {
			if p := b.get(path); p.status != http.StatusServiceUnavailable || p.h.Get("Retry-After") == "" {
				t.Fatalf("%s during maintenance: %d", path, p.status)
			}
		}
		if p := b.post("/console/autocharges/"+acid+"/stop", url.Values{"csrf": {tok}, "confirm": {"yes"}}); p.status != http.StatusServiceUnavailable {
			t.Fatalf("stop during maintenance: %d", p.status)
		}
	})
	if a := e.plan(aidA, acid); a.Status != store.ACActive {
		t.Fatalf("stopped during maintenance: %s", a.Status)
	}
}
