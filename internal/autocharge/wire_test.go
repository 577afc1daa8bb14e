package autocharge_test

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"kessai/internal/autocharge"
	"kessai/internal/maintenance"
	"kessai/internal/payment"
	"kessai/internal/store"
	"kessai/internal/web/acpages"
)

// TestSignUpValidation: every plan parameter error answers its own code (wire.ParamCode) on
// gateway.aspx, before anything is charged.
func TestSignUpValidation(t *testing.T) {
	e := newEnv(t, jst(t, "2020-07-01 12:00"))
	base := map[string]string{"actp": "4", "acam": "980"}
	for _, c := range []struct {
		name string
		set  map[string]string
		drop string
		want string
	}{
		{"cycle out of range", map[string]string{"actp": "9"}, "", "ER126"},
		{"cycle not a number", map[string]string{"actp": "x"}, "", "ER126"},
		{"amount missing", nil, "acam", "ER570"},
		{"amount not a number", map[string]string{"acam": "1,000"}, "", "ER570"},
		{"recurring total zero", map[string]string{"acam": "0"}, "", "ER570"},
		{"recurring total above the store maximum", map[string]string{"acam": "99999999"}, "", "ER570"},
		{"tax negative", map[string]string{"actx": "-1"}, "", "ER571"},
		{"shipping decimal", map[string]string{"acsf": "1.5"}, "", "ER572"},
		{"day 31", map[string]string{"ac1": "31"}, "", "ER127"},
		{"day 100", map[string]string{"ac1": "100"}, "", "ER127"},
		{"stop count negative", map[string]string{"ac3": "-1"}, "", "ER128"},
		{"first date impossible", map[string]string{"ac4": "2020/02/30"}, "", "ER125"},
		{"first date past", map[string]string{"ac4": "2020/06/30"}, "", "ER125"},
		{"end date malformed", map[string]string{"ac5": "2021-13-01"}, "", "ER129"},
		{"end date before the first charge", map[string]string{"ac4": "20200901", "ac5": "20200815"}, "", "ER129"},
		{"trial type unknown", map[string]string{"trtp": "6"}, "", "ER574"},
		{"trial days missing", map[string]string{"trtp": "2"}, "", "ER575"},
		{"trial days zero", map[string]string{"trtp": "2", "tr1": "0"}, "", "ER575"},
		{"trial months not a number", map[string]string{"trtp": "4", "tr2": "x"}, "", "ER576"},
		{"trial end missing", map[string]string{"trtp": "3"}, "", "ER577"},
		{"trial end past", map[string]string{"trtp": "5", "tr3": "2020/06/01"}, "", "ER577"},
		{"trial-end amount malformed", map[string]string{"trtp": "2", "tr1": "7", "tram": "x"}, "", "ER578"},
		{"trial-end amounts zero", map[string]string{"trtp": "2", "tr1": "7", "tram": "0"}, "", "ER578"},
		{"trial-end tax negative", map[string]string{"trtp": "2", "tr1": "7", "tram": "1", "trtx": "-5"}, "", "ER579"},
		{"trial-end shipping malformed", map[string]string{"trtp": "2", "tr1": "7", "tram": "1", "trsf": "a"}, "", "ER580"},
		{"trial parameter without a trial", map[string]string{"tr1": "14"}, "", "ER581"},
		{"trial and first date", map[string]string{"trtp": "2", "tr1": "3", "ac4": "2020/08/01"}, "", "ER581"},
	} {
		t.Run(c.name, func(t *testing.T) {
			plan := map[string]string{}
			for k, v := range base {
				if k != c.drop {
					plan[k] = v
				}
			}
			for k, v := range c.set {
				plan[k] = v
			}
			if got := e.call(t, "/gateway/gateway.aspx", signUpParams("val", "4111111111111111", plan)); got != "ER:"+c.want {
				t.Fatalf("got %q, want ER:%s", got, c.want)
			}
		})
	}
	// nothing was charged or registered by any of them
	var n int
	e.db.QueryRow(context.Background(), `SELECT COUNT(*) FROM payments`).Scan(&n)
	if n != 0 {
		t.Fatalf("%d payments after refused sign-ups", n)
	}
	// am=0 without a plan stays below the store's minimum
	p := signUpParams("zero", "4111111111111111", map[string]string{"actp": ""})
	if got := e.call(t, "/gateway/gateway.aspx", p); got != "ER:ER017" {
		t.Fatalf("am=0 with an empty actp: %q", got)
	}
}

// TestSignUpPaths: a sign-up with a first charge (am>0) charges now and plans the next cycle; one
// with am=0 registers without charging; rt=0 answers OK and the kickback carries acid; a token
// sign-up with am=0 works too; a repeated cod replays the same acid.
func TestSignUpPaths(t *testing.T) {
	e := newEnv(t, jst(t, "2020-07-10 12:00"))
	ctx := context.Background()
	p := signUpParams("paid-1", "4111111111111111", map[string]string{"am": "1500", "tx": "150", "actp": "4", "acam": "980", "actx": "98", "ac1": "25"})
	r := result(t, e.call(t, "/gateway/gateway.aspx", p))
	if r["rst"] != "1" || r["acid"] == "" || r["ta"] != "1650" {
		t.Fatalf("paid sign-up %v", r)
	}
	pay, _ := e.db.GetPayment(ctx, "123456", r["gid"])
	if pay.Status != store.StatusCaptured || pay.Acid != r["acid"] {
		t.Fatalf("sign-up payment %+v", pay)
	}
	a := e.plan(t, r["acid"])
	if a.NextDate != "20200825" || a.Day != 25 || a.Gid != r["gid"] || a.CardID != pay.CardID || a.Em != "taro@example.com" {
		t.Fatalf("plan %+v", a)
	}
	if again := result(t, e.call(t, "/gateway/gateway.aspx", p)); again["acid"] != r["acid"] || again["gid"] != r["gid"] {
		t.Fatalf("replay %v, want %v", again, r)
	}

	free := signUpParams("free-1", "4111111111111111", map[string]string{"actp": "2", "acam": "500"})
	rf := result(t, e.call(t, "/gateway/gateway.aspx", free))
	pf, _ := e.db.GetPayment(ctx, "123456", rf["gid"])
	if pf.Status != store.StatusRegistered || rf["ta"] != "0" || e.plan(t, rf["acid"]).NextDate != "20200717" {
		t.Fatalf("am=0 sign-up %v %+v", rf, pf)
	}

	p0 := signUpParams("rt0-1", "4111111111111111", map[string]string{"rt": "0", "actp": "4", "acam": "980", "memo": "x y"})
	if got := e.call(t, "/gateway/gateway.aspx", p0); got != "OK" {
		t.Fatalf("rt=0 sign-up: %q", got)
	}
	hit := e.deliver(t, "/result", 1)[0]
	if hit.Get("cod") != "rt0-1" || hit.Get("acid") == "" || hit.Get("memo") != "x y" {
		t.Fatalf("sign-up kickback %v", hit)
	}

	tk, err := e.tok.Create(ctx, e.st, &payment.CardInput{PAN: "5555555555554444", Exp: "3012", CVV: "123", Holder: "TARO"}, "10")
	if err != nil {
		t.Fatal(err)
	}
	rt := result(t, e.call(t, "/gateway/gateway_token.aspx", map[string]string{"aid": "123456", "rt": "1", "cod": "tok-1",
		"tkn": tk.Token, "em": "hanako@example.com", "am": "0", "actp": "4", "acam": "1200", "ac1": "99"}))
	if rt["rst"] != "1" || rt["acid"] == "" {
		t.Fatalf("token sign-up %v", rt)
	}
	if a := e.plan(t, rt["acid"]); a.NextDate != "20200831" || a.Day != autocharge.LastDay {
		t.Fatalf("token plan %+v", a)
	}
}

// TestOneTouch: onetouch.aspx charges the stored card of a returning customer found by em+pn.
func TestOneTouch(t *testing.T) {
	e := newEnv(t, jst(t, "2020-07-10 12:00"))
	first := map[string]string{"aid": "123456", "jb": "CAPTURE", "rt": "1", "cod": "ot-0", "cn": "3530111333300000", "ed": "3012",
		"cvv": "123", "fn": "YAMADA", "ln": "HANAKO", "em": "hanako@example.com", "pn": "09012345678", "am": "1000"}
	if r := result(t, e.call(t, "/gateway/gateway.aspx", first)); r["rst"] != "1" {
		t.Fatalf("first charge %v", r)
	}
	r := result(t, e.call(t, "/gateway/onetouch.aspx", map[string]string{"aid": "123456", "rt": "1", "cod": "ot-1",
		"em": "hanako@example.com", "pn": "09012345678", "am": "2000", "tx": "200", "cmd": "1"}))
	if r["rst"] != "1" || r["ta"] != "2200" || r["cod"] != "ot-1" {
		t.Fatalf("one-touch %v", r)
	}
	p, _ := e.db.GetPayment(context.Background(), "123456", r["gid"])
	if p.Last4 != "0000" || p.Brand != "JCB" || p.Source != "onetouch" || p.Status != store.StatusCaptured {
		t.Fatalf("one-touch payment %+v", p)
	}
	// a declined card of the same customer is not kept: one-touch still charges the JCB card
	declined := map[string]string{"aid": "123456", "jb": "CAPTURE", "rt": "1", "cod": "ot-d", "cn": "4000000000000002", "ed": "3012",
		"cvv": "123", "fn": "YAMADA", "ln": "HANAKO", "em": "hanako@example.com", "pn": "09012345678", "am": "1000"}
	if r := result(t, e.call(t, "/gateway/gateway.aspx", declined)); r["rst"] != "2" {
		t.Fatalf("decline card %v", r)
	}
	r = result(t, e.call(t, "/gateway/onetouch.aspx", map[string]string{"aid": "123456", "rt": "1", "cod": "ot-1b",
		"em": "hanako@example.com", "pn": "09012345678", "am": "500", "cmd": "1"}))
	if p, _ := e.db.GetPayment(context.Background(), "123456", r["gid"]); r["rst"] != "1" || p == nil || p.Last4 != "0000" {
		t.Fatalf("one-touch after the customer's declined card: %v", r)
	}
	// a customer who paid with a token can pay with that card again by one-touch
	tk, err := e.tok.Create(context.Background(), e.st, &payment.CardInput{PAN: "5555555555554444", Exp: "3012", CVV: "123", Holder: "JIRO"}, "10")
	if err != nil {
		t.Fatal(err)
	}
	if r := result(t, e.call(t, "/gateway/gateway_token.aspx", map[string]string{"aid": "123456", "rt": "1", "cod": "ot-t",
		"tkn": tk.Token, "em": "jiro@example.com", "pn": "08011112222", "am": "1000"})); r["rst"] != "1" {
		t.Fatalf("token charge %v", r)
	}
	r = result(t, e.call(t, "/gateway/onetouch.aspx", map[string]string{"aid": "123456", "rt": "1", "cod": "ot-t2",
		"em": "jiro@example.com", "pn": "08011112222", "am": "700", "cmd": "1"}))
	if p, _ := e.db.GetPayment(context.Background(), "123456", r["gid"]); r["rst"] != "1" || p == nil || p.Last4 != "4444" {
		t.Fatalf("one-touch of a token customer: %v", r)
	}
	if got := e.call(t, "/gateway/onetouch.aspx", map[string]string{"aid": "123456", "rt": "1", "cod": "ot-2",
		"em": "nobody@example.com", "pn": "09000000000", "am": "2000"}); got != "ER:ER030" {
		t.Fatalf("unknown customer: %q", got)
	}
	if got := e.call(t, "/gateway/onetouch.aspx", map[string]string{"aid": "123456", "rt": "1", "cod": "ot-3",
		"em": "hanako@example.com", "am": "2000"}); got != "ER:ER060" {
		t.Fatalf("one-touch without pn: %q", got)
	}
}

// TestChange: accgate.aspx changes amounts, cycle, day and stop count from the next charge;
// accgate_token.aspx replaces the card (and retries a declined period at once).
func TestChange(t *testing.T) {
	e := newEnv(t, jst(t, "2020-07-10 12:00"))
	ctx := context.Background()
	acid := e.signUp(t, "ch-1", "4111111111111111", map[string]string{"actp": "4", "acam": "980", "actx": "98", "ac1": "20"})["acid"]
	chg := func(kv ...string) string {
		p := map[string]string{"aid": "123456", "cmd": "1", "acid": acid}
		for i := 0; i+1 < len(kv); i += 2 {
			p[kv[i]] = kv[i+1]
		}
		return e.call(t, "/gateway/accgate.aspx", p)
	}
	for _, c := range []struct {
		kv   []string
		want string
	}{
		{[]string{"actp", "1"}, "ER:ER126"},
		{[]string{"acam", "abc"}, "ER:ER570"},
		{[]string{"ac1", "31"}, "ER:ER127"},
		{[]string{"ac4", "2020/07/10"}, "ER:ER125"},
		{[]string{"ac5", "2020/07/15"}, "ER:ER129"},
		{[]string{"cmd", "2"}, "ER:ER069"},
		{[]string{"acid", "nope"}, "ER:ER072"},
	} {
		if got := chg(c.kv...); got != c.want {
			t.Errorf("change %v: %q, want %s", c.kv, got, c.want)
		}
	}
	if got := chg("acam", "1200", "actx", "120", "ac1", "5"); got != "OK" {
		t.Fatalf("change: %q", got)
	}
	a := e.plan(t, acid)
	if a.Am != 1200 || a.Tx != 120 || a.Day != 5 || a.NextDate != "20200805" {
		t.Fatalf("after change %+v", a)
	}
	e.clk.Set(jst(t, "2020-08-05 10:00"))
	e.runOnce(t)
	if c := e.charges(t, acid); len(c) != 1 || c[0].Ta != 1320 || c[0].Date != "20200805" {
		t.Fatalf("charges %+v", c)
	}
	if got := chg("ac3", "1"); got != "ER:ER128" {
		t.Fatalf("stop count not above the charges made: %q", got)
	}
	if got := chg("ac3", "2", "actp", "2"); got != "OK" {
		t.Fatalf("change to weekly, stop after 2: %q", got)
	}
	if a := e.plan(t, acid); a.Cycle != 2 || a.Day != 0 || a.NextDate != "20200905" {
		t.Fatalf("after weekly change %+v", a)
	}
	e.clk.Set(jst(t, "2020-09-20 10:00"))
	e.runOnce(t)
	if c := e.charges(t, acid); len(c) != 2 || c[1].Cod != acid+"-20200905" {
		t.Fatalf("charges %+v", c)
	}
	if a := e.plan(t, acid); a.Status != store.ACCompleted {
		t.Fatalf("plan %s after its stop count", a.Status)
	}
	if got := chg("acam", "1"); got != "ER:ER024" {
		t.Fatalf("change of a completed plan: %q", got)
	}

	// card change through a token, during retries: the new card is tried at once
	e.clk.Set(jst(t, "2020-10-01 12:00"))
	dec := e.signUp(t, "ch-2", "4000000000009995", map[string]string{"actp": "4", "acam": "980", "ac4": "2020/10/02"})["acid"]
	e.clk.Set(jst(t, "2020-10-02 08:00"))
	if o := e.runOnce(t); o.Declined != 1 {
		t.Fatalf("first attempt %+v", o)
	}
	tk, err := e.tok.Create(ctx, e.st, &payment.CardInput{PAN: "4444333322221111", Exp: "3012", CVV: "123"}, "10")
	if err != nil {
		t.Fatal(err)
	}
	if got := e.call(t, "/gateway/accgate_token.aspx", map[string]string{"aid": "123456", "cmd": "1", "acid": dec}); got != "ER:ER583" {
		t.Fatalf("accgate_token without a token: %q", got)
	}
	if got := e.call(t, "/gateway/accgate_token.aspx", map[string]string{"aid": "123456", "cmd": "1", "acid": dec, "tkn": tk.Token}); got != "OK" {
		t.Fatalf("accgate_token: %q", got)
	}
	if o := e.runOnce(t); o.Charged != 1 {
		t.Fatalf("retry with the new card %+v", o)
	}
	c := e.charges(t, dec)
	p, _ := e.db.GetPayment(ctx, "123456", e.kbGid(t, dec, "1"))
	if len(c) != 1 || p.Last4 != "1111" || e.plan(t, dec).Failures != 0 {
		t.Fatalf("after card change: %+v %+v", c, p)
	}
}

// kbGid returns the gid of a plan's kickback with the given rst.
func (e *env) kbGid(tb testing.TB, acid, rst string) string {
	for _, k := range e.acKickbacks(tb, acid) {
		if k.Q.Get("rst") == rst {
			return k.Q.Get("gid")
		}
	}
	tb.Fatalf("no rst=%s kickback for %s", rst, acid)
	return ""
}

// pageClient is a browser for the customer pages.
type pageClient struct {
	c    *http.Client
	base string
}

func newPageClient(tb testing.TB, base string) *pageClient {
	jar, _ := cookiejar.New(nil)
	return &pageClient{c: &http.Client{Jar: jar}, base: base}
}

var csrfRe = regexp.MustCompile(`name="csrf" value="([0-9a-f]+)"`)

func (p *pageClient) get(tb testing.TB, path string, q url.Values) (int, string, string) {
	tb.Helper()
	resp, err := p.c.Get(p.base + path + "?" + q.Encode())
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	csrf := ""
	if m := csrfRe.FindStringSubmatch(string(b)); m != nil {
		csrf = m[1]
	}
	return resp.StatusCode, string(b), csrf
}

func (p *pageClient) post(tb testing.TB, path string, f url.Values) (int, string) {
	tb.Helper()
	resp, err := p.c.PostForm(p.base+path, f)
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestStops stops plans through each path — acsgate.aspx, the hosted stop page, the control
// panel's Stop — under both stop-notice timings, checks ER024 on a second stop, that nothing is
// charged afterwards, and when the rst=4 kickback is delivered.
func TestStops(t *testing.T) {
	for _, notice := range []string{"immediate", "next"} {
		t.Run(notice, func(t *testing.T) {
			e := newEnv(t, jst(t, "2020-07-10 12:00"))
			e.setStore(t, func(s *store.Store) { s.StopNotice = notice })
			ctx := context.Background()
			paths := []string{"acsgate", "page", "console"}
			acids := map[string]string{}
			gids := map[string]string{}
			for _, p := range paths {
				r := e.signUp(t, "stop-"+p, "4111111111111111", map[string]string{"actp": "4", "acam": "980", "ac1": "20"})
				acids[p], gids[p] = r["acid"], r["gid"]
			}
			e.clk.Set(jst(t, "2020-07-15 09:00"))
			stopAt := e.clk.Now()

			// acsgate.aspx
			stop := map[string]string{"aid": "123456", "cmd": "1", "acid": acids["acsgate"]}
			if b1, b2 := e.call(t, "/gateway/acsgate.aspx", stop), e.call(t, "/gateway/acsgate.aspx", stop); b1 != "OK" || b2 != "ER:ER024" {
				t.Fatalf("acsgate twice: %q, %q", b1, b2)
			}
			if b := e.call(t, "/gateway/acsgate.aspx", map[string]string{"aid": "123456", "cmd": "1", "acid": "0000"}); b != "ER:ER072" {
				t.Fatalf("unknown acid: %q", b)
			}
			if b := e.call(t, "/gateway/acsgate.aspx", map[string]string{"aid": "123456", "acid": acids["page"]}); b != "ER:ER069" {
				t.Fatalf("no cmd: %q", b)
			}

			// the hosted stop page
			pc := newPageClient(t, e.srv.URL)
			q := url.Values{"aid": {"123456"}, "tid": {gids["page"]}}
			code, body, csrf := pc.get(t, acpages.StopPath, q)
			if code != 200 || csrf == "" || !strings.Contains(body, "2020/08/20") || !strings.Contains(body, "¥980") {
				t.Fatalf("stop page %d: %s", code, body)
			}
			if code, _ := pc.post(t, acpages.StopPath, url.Values{"aid": {"123456"}, "tid": {gids["page"]}, "em": {"taro@example.com"}}); code != http.StatusForbidden {
				t.Fatalf("POST without the form token: %d", code)
			}
			_, _, csrf = pc.get(t, acpages.StopPath, q)
			form := url.Values{"aid": {"123456"}, "tid": {gids["page"]}, "csrf": {csrf}}
			form.Set("em", "someone@example.com")
			if _, body := pc.post(t, acpages.StopPath, form); !strings.Contains(body, "一致しません") {
				t.Fatalf("wrong e-mail accepted: %s", body)
			}
			if e.plan(t, acids["page"]).Status != store.ACActive {
				t.Fatal("stopped without the customer's e-mail")
			}
			_, _, csrf = pc.get(t, acpages.StopPath, q)
			form.Set("csrf", csrf)
			form.Set("em", "TARO@example.com")
			if code, body := pc.post(t, acpages.StopPath, form); code != 200 || !strings.Contains(body, "停止しました") {
				t.Fatalf("stop page POST %d: %s", code, body)
			}
			if code, body, _ := pc.get(t, acpages.StopPath, q); code != 200 || !strings.Contains(body, "停止済み") {
				t.Fatalf("stop page after the stop %d: %s", code, body)
			}
			if code, _, _ := pc.get(t, acpages.StopPath, url.Values{"aid": {"123456"}, "tid": {"123"}}); code != http.StatusNotFound {
				t.Fatalf("unknown tid: %d", code)
			}

			// the control panel
			if err := e.svc.Stop(ctx, e.st, acids["console"], "console:admin"); err != nil {
				t.Fatal(err)
			}
			wantCode(t, e.svc.Stop(ctx, e.st, acids["console"], "console:admin"), "ER024")
			wantCode(t, e.svc.Stop(ctx, e.st, "missing", "console:admin"), "ER072")

			due := jst(t, "2020-08-20 00:00")
			for _, p := range paths {
				a := e.plan(t, acids[p])
				if a.Status != store.ACStopped || !a.StoppedAt.Equal(stopAt) {
					t.Fatalf("%s: plan %s stopped %v", p, a.Status, a.StoppedAt)
				}
				kbs := e.acKickbacks(t, acids[p])
				if len(kbs) != 1 {
					t.Fatalf("%s: %d stop kickbacks", p, len(kbs))
				}
				k := kbs[0]
				want := stopAt
				if notice == "next" {
					want = due
				}
				if k.Q.Get("rst") != "4" || k.Q.Get("acid") != acids[p] || k.Q.Get("cod") != "stop-"+p ||
					k.Q.Get("ta") != "980" || k.Q.Get("gid") == "" || !k.NextAt.Equal(want) || !strings.HasSuffix(k.URL, "/ac") {
					t.Fatalf("%s: stop kickback %v at %v, want rst=4 at %v", p, k.Q, k.NextAt, want)
				}
			}
			if notice == "immediate" {
				e.deliver(t, "/ac", 3)
			} else {
				// nothing goes out before the date the next charge would have been made
				e.clk.Set(due.Add(-time.Minute))
				ctx2, cancel := context.WithCancel(ctx)
				go e.kick.Run(ctx2)
				time.Sleep(150 * time.Millisecond)
				cancel()
				if n := len(e.rcv.hits("/ac")); n != 0 {
					t.Fatalf("%d stop notices before the next charge date", n)
				}
				e.clk.Set(due)
				e.deliver(t, "/ac", 3)
			}
			e.clk.Set(jst(t, "2020-09-01 12:00"))
			if o := e.runOnce(t); o.Total() != 0 {
				t.Fatalf("stopped plans charged: %+v", o)
			}
		})
	}
}

// TestUpdatePage: the hosted card-update page checks the new card with the network and puts it on
// the plan; a declined card changes nothing.
func TestUpdatePage(t *testing.T) {
	e := newEnv(t, jst(t, "2020-07-10 12:00"))
	r := e.signUp(t, "up-1", "4111111111111111", map[string]string{"actp": "4", "acam": "980"})
	acid, gid := r["acid"], r["gid"]
	old := e.plan(t, acid).CardID
	pc := newPageClient(t, e.srv.URL)
	q := url.Values{"aid": {"123456"}, "tid": {gid}, "lang": {"en"}}
	code, body, csrf := pc.get(t, acpages.UpdatePath, q)
	if code != 200 || csrf == "" || !strings.Contains(body, "Change your card") || !strings.Contains(body, "VISA 411111******1111") {
		t.Fatalf("update page %d: %s", code, body)
	}
	form := url.Values{"aid": {"123456"}, "tid": {gid}, "csrf": {csrf}, "lang": {"en"}, "pn": {"03-1234-5678"},
		"cn": {"4000 0000 0000 0002"}, "exp_month": {"12"}, "exp_year": {"30"}, "cvv": {"123"}, "fn": {"YAMADA"}, "ln": {"TARO"}}
	if _, body := pc.post(t, acpages.UpdatePath, form); !strings.Contains(body, "class=\"err\"") || strings.Contains(body, "4000000000000002") {
		t.Fatalf("declined card: %s", body)
	}
	if e.plan(t, acid).CardID != old {
		t.Fatal("a declined card replaced the plan's card")
	}
	_, _, csrf = pc.get(t, acpages.UpdatePath, q)
	form.Set("csrf", csrf)
	form.Set("cn", "5555555555554444")
	if code, body := pc.post(t, acpages.UpdatePath, form); code != 200 || !strings.Contains(body, "Your card has been updated") {
		t.Fatalf("update %d: %s", code, body)
	}
	a := e.plan(t, acid)
	c, _ := e.db.GetCard(context.Background(), "123456", a.CardID)
	if a.CardID == old || c.Last4 != "4444" {
		t.Fatalf("plan card %d (%+v)", a.CardID, c)
	}
	e.clk.Set(jst(t, "2020-08-10 12:00"))
	e.runOnce(t)
	p, _ := e.db.GetPayment(context.Background(), "123456", e.kbGid(t, acid, "1"))
	if p.Brand != "MASTER" {
		t.Fatalf("charged %+v", p)
	}
}

// TestPagesAndStopsDuringMaintenance: inside a window the customer pages answer 503 with the
// maintenance message and Retry-After, acsgate answers ER999, and the plan stays active.
func TestPagesAndStopsDuringMaintenance(t *testing.T) {
	e := newEnv(t, jst(t, "2020-07-10 12:00"))
	r := e.signUp(t, "mt-1", "4111111111111111", map[string]string{"actp": "4", "acam": "980"})
	w, err := maintenance.WallWindow("2020-07-22", "02:55", "04:30", "")
	if err != nil {
		t.Fatal(err)
	}
	e.maint.Replace([]maintenance.Window{w})
	e.clk.Set(jst(t, "2020-07-22 03:00"))
	resp, err := http.Get(e.srv.URL + acpages.StopPath + "?aid=123456&tid=" + r["gid"])
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") != "5400" || !strings.Contains(string(body), "2020年07月22日") {
		t.Fatalf("stop page in a window: %d %q %s", resp.StatusCode, resp.Header.Get("Retry-After"), body)
	}
	if b := e.call(t, "/gateway/acsgate.aspx", map[string]string{"aid": "123456", "cmd": "1", "acid": r["acid"]}); b != "ER:ER999" {
		t.Fatalf("acsgate in a window: %q", b)
	}
	if a := e.plan(t, r["acid"]); a.Status != store.ACActive {
		t.Fatalf("plan %s", a.Status)
	}
}

// TestCustomerPagesStrictCSPAndTestMark: the stop and card-update pages carry the sandbox's TEST
// mark and a Content-Security-Policy without 'unsafe-inline': their one style block is allowed
// by its hash, which must match what the browser receives.
func TestCustomerPagesStrictCSPAndTestMark(t *testing.T) {
	e := newEnv(t, jst(t, "2020-07-10 12:00"))
	r := e.signUp(t, "csp-1", "4111111111111111", map[string]string{"actp": "4", "acam": "980"})
	for _, path := range []string{acpages.StopPath, acpages.UpdatePath} {
		resp, err := http.Get(e.srv.URL + path + "?aid=123456&tid=" + r["gid"])
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		body, csp := string(b), resp.Header.Get("Content-Security-Policy")
		if resp.StatusCode != 200 || !strings.Contains(body, "テスト環境 / TEST") {
			t.Fatalf("%s: %d, TEST mark missing", path, resp.StatusCode)
		}
		if strings.Contains(csp, "unsafe-inline") || strings.Contains(body, "style=") || strings.Contains(body, "<script") {
			t.Fatalf("%s: CSP %q allows inline code, or the page has inline style/script", path, csp)
		}
		i, j := strings.Index(body, "<style>"), strings.Index(body, "</style>")
		if i < 0 || j < i {
			t.Fatalf("%s: no style block", path)
		}
		sum := sha256.Sum256([]byte(body[i+len("<style>") : j]))
		if want := "'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'"; !strings.Contains(csp, want) {
			t.Fatalf("%s: the style block's hash %s is not in the CSP %q: the browser would drop the style", path, want, csp)
		}
	}
}
