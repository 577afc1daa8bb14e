package console_test

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"

	"kessai/internal/auth"
	"kessai/internal/clock"
	"kessai/internal/store"
	"kessai/internal/testenv"
)

// newEnvWith is newEnv with server options (--require-mfa, trusted proxies).
func newEnvWith(t testing.TB, o testenv.Options) *env {
	t.Helper()
	clk := clock.NewFixed(time.Now().Truncate(time.Second))
	o.Clock = clk
	srv := testenv.Start(t, o)
	e := &env{t: t, srv: srv, clock: clk}
	srv.CreateStore(t, aidA, "テスト商店", nil)
	srv.CreateStore(t, aidB, "Other Shop", nil)
	e.addUser(aidA, "owner", store.RoleAdmin)
	e.addUser(aidA, "clerk", store.RoleViewer)
	e.addUser(aidB, "owner", store.RoleAdmin)
	hash, _ := auth.HashPassword(passwd)
	if err := srv.DB.CreateOperator(context.Background(), &store.Operator{Login: "ops", PwHash: hash}); err != nil {
		t.Fatal(err)
	}
	return e
}

var secretRe = regexp.MustCompile(`id="mfa-secret" class="secret">([A-Z2-7 ]+)<`)

// keyOf reads the key in text from a set-up page, as a person typing it into an app would.
func keyOf(t testing.TB, body string) string {
	t.Helper()
	m := secretRe.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no key on the set-up page: %.400s", body)
	}
	return strings.ReplaceAll(m[1], " ", "")
}

// codeAt is what an authenticator app shows for key at t.
func codeAt(t testing.TB, key string, at time.Time) string {
	t.Helper()
	c, err := totp.GenerateCode(key, at)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

var recoveryRe = regexp.MustCompile(`<li><code>([A-Z2-9]{4}-[A-Z2-9]{4}-[A-Z2-9]{4}-[A-Z2-9]{4})</code></li>`)

// enrolHTTP sets a second factor up from the signed-in (or pending) browser b; it returns the key
// and the recovery codes shown.
func (e *env) enrolHTTP(b *browser, base string) (string, []string) {
	e.t.Helper()
	p := b.get(base + "/mfa/enrol")
	if p.status != http.StatusOK || !strings.Contains(p.body, `src="data:image/png;base64,`) {
		e.t.Fatalf("set-up page: %d %.300s", p.status, p.body)
	}
	key := keyOf(e.t, p.body)
	tok := csrfRe.FindStringSubmatch(p.body)[1]
	if p := b.post(base+"/mfa/enrol", url.Values{"csrf": {tok}, "code": {"12345"}}); p.status != http.StatusUnprocessableEntity {
		e.t.Fatalf("wrong first code: %d", p.status)
	}
	p = b.post(base+"/mfa/enrol", url.Values{"csrf": {tok}, "code": {codeAt(e.t, key, e.clock.Now())}})
	codes := recoveryRe.FindAllStringSubmatch(p.body, -1)
	if p.status != http.StatusOK || len(codes) != auth.RecoveryCodeCount {
		e.t.Fatalf("confirm: %d, %d codes", p.status, len(codes))
	}
	var out []string
	for _, c := range codes {
		out = append(out, c[1])
	}
	return key, out
}

func TestPanelMFASignIn(t *testing.T) {
	e := newEnv(t) // the sandbox default: optional
	b := e.browser()
	b.mustLogin(aidA, "owner")
	if p := b.get("/console/security"); p.status != http.StatusOK || !strings.Contains(p.body, `id="mfa-setup"`) {
		t.Fatalf("security page: %d", p.status)
	}
	key, codes := e.enrolHTTP(b, "/console")
	if p := b.get("/console/security"); !strings.Contains(p.body, `<strong id="recovery-left">10</strong>`) ||
		!strings.Contains(p.body, "<td>mfa.enrol</td>") || !strings.Contains(p.body, "<td>login</td>") {
		t.Fatalf("security page after set-up: %.2000s", p.body)
	}
	b.post("/console/logout", url.Values{"csrf": {b.csrf("/console/")}})

	// password, then the code step; the password alone opens nothing
	login := func(b *browser, next string) {
		t.Helper()
		tok := b.csrf("/console/login")
		p := b.post("/console/login", url.Values{"csrf": {tok}, "aid": {aidA}, "login": {"owner"}, "password": {passwd}, "next": {next}})
		if p.status != http.StatusSeeOther || !strings.HasPrefix(p.h.Get("Location"), "/console/login/code") {
			t.Fatalf("password step: %d %s", p.status, p.h.Get("Location"))
		}
	}
	code := func(b *browser, c string) page {
		t.Helper()
		return b.post("/console/login/code", url.Values{"csrf": {b.csrf("/console/login/code")}, "code": {c}, "next": {"/console/payments"}})
	}
	login(b, "/console/payments")
	for _, path := range []string{"/console/", "/console/payments", "/console/security", "/console/mfa/enrol"} {
		if p := b.get(path); p.status != http.StatusSeeOther || !strings.HasPrefix(p.h.Get("Location"), "/console/login/code") {
			t.Fatalf("%s before the code: %d %s", path, p.status, p.h.Get("Location"))
		}
	}
	if p := b.get("/console/api/summary"); p.status != http.StatusUnauthorized {
		t.Fatalf("API before the code: %d", p.status)
	}
	if p := b.post("/console/settings", url.Values{"csrf": {b.csrf("/console/login/code")}}); p.status != http.StatusForbidden {
		t.Fatalf("POST before the code: %d", p.status)
	}
	pending := b.cookie("kessai_console")
	if p := code(b, "000000"); p.status != http.StatusUnauthorized || !strings.Contains(p.body, "確認コードが正しくありません") {
		t.Fatalf("wrong code: %d", p.status)
	}
	// the set-up's own code was used at set-up: the same code in the same step is a replay
	c := codeAt(t, key, e.clock.Now())
	if p := code(b, c); p.status != http.StatusUnauthorized || !strings.Contains(p.body, "既に使用") {
		t.Fatalf("replayed code: %d", p.status)
	}
	e.clock.Advance(30 * time.Second)
	c = codeAt(t, key, e.clock.Now())
	if p := code(b, c); p.status != http.StatusSeeOther || p.h.Get("Location") != "/console/payments" {
		t.Fatalf("right code: %d %s", p.status, p.h.Get("Location"))
	}
	if b.cookie("kessai_console") == pending {
		t.Fatal("the session was not renewed after the second factor")
	}
	if p := b.get("/console/payments"); p.status != http.StatusOK {
		t.Fatalf("signed in: %d", p.status)
	}
	// another browser, the same code, same step: refused
	b2 := e.browser()
	login(b2, "")
	if p := code(b2, c); p.status != http.StatusUnauthorized {
		t.Fatalf("code replayed by another browser: %d", p.status)
	}
	if p := code(b2, codes[0]); p.status != http.StatusSeeOther {
		t.Fatalf("recovery code: %d", p.status)
	}
	b3 := e.browser()
	login(b3, "")
	if p := code(b3, codes[0]); p.status != http.StatusUnauthorized {
		t.Fatalf("spent recovery code: %d", p.status)
	}
	if e.auditCount(auth.ActRecoveryUsed) != 1 || e.auditCount(auth.ActMFAEnrolled) != 1 || e.auditCount(auth.ActLoginPassword) != 3 {
		t.Fatalf("audit: recovery %d enrol %d password %d", e.auditCount(auth.ActRecoveryUsed), e.auditCount(auth.ActMFAEnrolled), e.auditCount(auth.ActLoginPassword))
	}
	// a cancelled sign-in leaves nothing open
	if p := b3.post("/console/login/cancel", url.Values{"csrf": {b3.csrf("/console/login/code")}}); p.status != http.StatusSeeOther {
		t.Fatalf("cancel: %d", p.status)
	}
	if p := b3.get("/console/login/code"); p.status != http.StatusSeeOther || p.h.Get("Location") != "/console/login" {
		t.Fatalf("code page after cancel: %d %s", p.status, p.h.Get("Location"))
	}
	// the viewer has no second factor and signs in as before
	e.browser().mustLogin(aidA, "clerk")

	t.Run("operator resets it", func(t *testing.T) {
		ob := e.browser()
		ob.operatorLogin()
		u, _ := e.srv.DB.UserByLogin(context.Background(), aidA, "owner")
		path := "/operator/stores/" + aidA + "/users/" + strconv.FormatInt(u.ID, 10) + "/mfa-reset"
		if p := ob.get("/operator/stores/" + aidA); !strings.Contains(p.body, `id="mfa-reset-owner"`) {
			t.Fatal("no reset button on the store page")
		}
		if p := ob.submit("/operator/stores/"+aidA, path, url.Values{"reason": {""}}); p.status != http.StatusUnprocessableEntity {
			t.Fatalf("reset without a reason: %d", p.status)
		}
		if p := ob.submit("/operator/stores/"+aidA, path, url.Values{"reason": {"lost phone, ticket 42"}}); p.status != http.StatusSeeOther {
			t.Fatalf("reset: %d", p.status)
		}
		if p := b.get("/console/"); p.status != http.StatusSeeOther {
			t.Fatalf("the user's session after a reset: %d", p.status)
		}
		es, _ := e.srv.DB.AuditLog(context.Background(), store.AuditFilter{Action: auth.ActMFAReset})
		if len(es) != 1 || es[0].Actor != "operator:ops" || es[0].AID != aidA || !strings.Contains(es[0].Detail, "user:"+aidA+"/owner") ||
			!strings.Contains(es[0].Detail, "ticket 42") {
			t.Fatalf("reset audit: %+v", es)
		}
		e.browser().mustLogin(aidA, "owner") // no code any more
	})
}

func TestPanelMFARequired(t *testing.T) {
	e := newEnvWith(t, testenv.Options{RequireMFA: true})
	b := e.browser()
	p := b.login(aidA, "owner", passwd)
	if p.status != http.StatusSeeOther || p.h.Get("Location") != "/console/mfa/enrol" {
		t.Fatalf("admin under --require-mfa: %d %s", p.status, p.h.Get("Location"))
	}
	for _, path := range []string{"/console/", "/console/payments", "/console/settings", "/console/users", "/console/login/code"} {
		p := b.get(path)
		if p.status != http.StatusSeeOther || !strings.HasPrefix(p.h.Get("Location"), "/console/mfa/enrol") && !strings.HasPrefix(p.h.Get("Location"), "/console/login") {
			t.Fatalf("%s before set-up: %d %s", path, p.status, p.h.Get("Location"))
		}
	}
	if p := b.get("/console/mfa/enrol"); !strings.Contains(p.body, `id="enrol-required"`) {
		t.Fatal("the set-up page does not say it is required")
	}
	if p := b.post("/console/mfa/remove", url.Values{"csrf": {b.csrf("/console/mfa/enrol")}, "password": {passwd}}); p.status != http.StatusForbidden {
		t.Fatalf("POST elsewhere before set-up: %d", p.status)
	}
	_, codes := e.enrolHTTP(b, "/console")
	if len(codes) != 10 {
		t.Fatal("codes")
	}
	if p := b.get("/console/payments"); p.status != http.StatusOK {
		t.Fatalf("after set-up: %d", p.status)
	}
	// a required factor cannot be removed
	if p := b.submit("/console/security", "/console/mfa/remove", url.Values{"password": {passwd}}); p.h.Get("Location") != "/console/security?err=required" {
		t.Fatalf("remove: %d %s", p.status, p.h.Get("Location"))
	}
	// viewers are not covered by the flag
	if p := e.browser().login(aidA, "clerk", passwd); p.h.Get("Location") != "/console/" {
		t.Fatalf("viewer: %s", p.h.Get("Location"))
	}
	// operators are
	ob := e.browser()
	tok := ob.csrf("/operator/login")
	if p := ob.post("/operator/login", url.Values{"csrf": {tok}, "login": {"ops"}, "password": {passwd}}); p.h.Get("Location") != "/operator/mfa/enrol" {
		t.Fatalf("operator under --require-mfa: %d %s", p.status, p.h.Get("Location"))
	}
	if p := ob.get("/operator/stores"); !strings.HasPrefix(p.h.Get("Location"), "/operator/mfa/enrol") {
		t.Fatalf("operator page before set-up: %d %s", p.status, p.h.Get("Location"))
	}
	okey, _ := e.enrolHTTP(ob, "/operator")
	if p := ob.get("/operator/stores"); p.status != http.StatusOK {
		t.Fatalf("operator after set-up: %d", p.status)
	}
	// next time: the code step
	ob2 := e.browser()
	tok = ob2.csrf("/operator/login")
	if p := ob2.post("/operator/login", url.Values{"csrf": {tok}, "login": {"ops"}, "password": {passwd}}); p.h.Get("Location") != "/operator/login/code" {
		t.Fatalf("operator second sign-in: %s", p.h.Get("Location"))
	}
	e.clock.Advance(30 * time.Second)
	if p := ob2.submit("/operator/login/code", "/operator/login/code", url.Values{"code": {codeAt(t, okey, e.clock.Now())}}); p.status != http.StatusSeeOther || p.h.Get("Location") != "/operator/" {
		t.Fatalf("operator code: %d %s", p.status, p.h.Get("Location"))
	}
	if p := ob2.get("/operator/security"); p.status != http.StatusOK || !strings.Contains(p.body, `<strong id="recovery-left">10</strong>`) ||
		strings.Contains(p.body, `id="remove-form"`) {
		t.Fatalf("operator security page: %d (a required factor offers no removal)", p.status)
	}
}

func TestStoreRequiresMFAOfViewers(t *testing.T) {
	e := newEnv(t)
	admin := e.browser()
	admin.mustLogin(aidA, "owner")
	clerk := e.browser()
	clerk.mustLogin(aidA, "clerk")
	if p := admin.submit("/console/security", "/console/security/store", url.Values{"require_mfa": {"on"}}); p.status != http.StatusUnprocessableEntity {
		t.Fatalf("requiring it before setting up one's own: %d", p.status)
	}
	e.enrolHTTP(admin, "/console")
	if p := admin.submit("/console/security", "/console/security/store", url.Values{"require_mfa": {"on"}}); p.status != http.StatusSeeOther {
		t.Fatalf("save: %d", p.status)
	}
	if p := clerk.get("/console/"); p.status != http.StatusSeeOther {
		t.Fatalf("viewer's old session: %d", p.status)
	}
	if p := clerk.login(aidA, "clerk", passwd); p.h.Get("Location") != "/console/mfa/enrol" {
		t.Fatalf("viewer of a store that requires it: %s", p.h.Get("Location"))
	}
	if p := e.browser().login(aidB, "owner", passwd); p.h.Get("Location") != "/console/" {
		t.Fatalf("another store: %s", p.h.Get("Location"))
	}
	// viewers cannot change the rule
	c2 := e.browser()
	c2.login(aidA, "clerk", passwd)
	e.enrolHTTP(c2, "/console")
	if p := c2.submit("/console/security", "/console/security/store", url.Values{}); p.status != http.StatusForbidden {
		t.Fatalf("viewer saving the rule: %d", p.status)
	}
	if e.auditCount("store.access") != 1 {
		t.Fatal("rule change not audited")
	}
}

// The allow-list decides on the address the server's RemoteIP gives (behind a trusted proxy:
// X-Forwarded-For), on every panel request and at sign-in.
func TestPanelAllowList(t *testing.T) {
	e := newEnvWith(t, testenv.Options{TrustedProxy: []string{"127.0.0.1/32"}})
	from := func(b *browser, ip, method, path string, v url.Values) page {
		t.Helper()
		var req *http.Request
		if method == "GET" {
			req, _ = http.NewRequest("GET", b.base+path, nil)
		} else {
			req, _ = http.NewRequest("POST", b.base+path, strings.NewReader(v.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
		if ip != "" {
			req.Header.Set("X-Forwarded-For", ip)
		}
		return b.do(req)
	}
	b := e.browser()
	b.mustLogin(aidA, "owner")
	tok := b.csrf("/console/security")
	if p := from(b, "203.0.113.5", "POST", "/console/security/store", url.Values{"csrf": {tok}, "allow": {"192.0.2.0/24"}}); p.status != http.StatusUnprocessableEntity ||
		!strings.Contains(p.body, "203.0.113.5") {
		t.Fatalf("a list without one's own address: %d", p.status)
	}
	if p := from(b, "203.0.113.5", "POST", "/console/security/store", url.Values{"csrf": {tok}, "allow": {"192.0.2.0/24\nnot-an-ip"}}); p.status != http.StatusUnprocessableEntity ||
		!strings.Contains(p.body, "not-an-ip") {
		t.Fatalf("a bad entry: %d", p.status)
	}
	if p := from(b, "192.0.2.10", "POST", "/console/security/store", url.Values{"csrf": {tok}, "allow": {"192.0.2.0/24, 2001:db8::/48"}}); p.status != http.StatusSeeOther {
		t.Fatalf("save: %d %.300s", p.status, p.body)
	}
	if p := from(b, "192.0.2.10", "GET", "/console/payments", nil); p.status != http.StatusOK {
		t.Fatalf("from an allowed address: %d", p.status)
	}
	p := from(b, "203.0.113.5", "GET", "/console/payments", nil)
	if p.status != http.StatusForbidden || !strings.Contains(p.body, "許可されたネットワーク") || !strings.Contains(p.body, "203.0.113.5") {
		t.Fatalf("from elsewhere: %d %.300s", p.status, p.body)
	}
	if p := from(b, "203.0.113.5", "GET", "/console/api/summary", nil); p.status != http.StatusForbidden || !strings.Contains(p.h.Get("Content-Type"), "problem+json") {
		t.Fatalf("API from elsewhere: %d %s", p.status, p.h.Get("Content-Type"))
	}
	// sign-in from elsewhere is refused before any password is checked
	nb := e.browser()
	tok = nb.csrf("/console/login")
	if p := from(nb, "203.0.113.5", "POST", "/console/login", url.Values{"csrf": {tok}, "aid": {aidA}, "login": {"owner"}, "password": {"wrong"}}); p.status != http.StatusForbidden {
		t.Fatalf("sign-in from elsewhere: %d", p.status)
	}
	if p := from(nb, "2001:db8::7", "POST", "/console/login", url.Values{"csrf": {tok}, "aid": {aidA}, "login": {"owner"}, "password": {passwd}}); p.status != http.StatusSeeOther {
		t.Fatalf("sign-in from an allowed IPv6 address: %d", p.status)
	}
	// another store has no list
	if p := e.browser().login(aidB, "owner", passwd); p.status != http.StatusSeeOther {
		t.Fatalf("store B: %d", p.status)
	}
	es, _ := e.srv.DB.AuditLog(context.Background(), store.AuditFilter{Action: auth.ActAccessRefused})
	if len(es) != 3 || es[0].Remote != "203.0.113.5" || es[0].AID != aidA {
		t.Fatalf("refusals in the audit log: %+v", es)
	}
	if e.auditCount(auth.ActLoginFailed) != 0 {
		t.Fatal("a refused sign-in reached the password check")
	}
}

// Two browsers at the set-up step; one sets up: the other is not caught in a redirect loop.
func TestPanelMFAEnrolledElsewhere(t *testing.T) {
	e := newEnvWith(t, testenv.Options{RequireMFA: true})
	b1, b2 := e.browser(), e.browser()
	b1.login(aidA, "owner", passwd)
	b2.login(aidA, "owner", passwd)
	b2.get("/console/mfa/enrol") // the pending secret both pages show
	e.enrolHTTP(b1, "/console")
	if p := b2.get("/console/mfa/enrol"); p.status != http.StatusSeeOther || p.h.Get("Location") != "/console/login" {
		t.Fatalf("set-up page after set-up elsewhere: %d %s", p.status, p.h.Get("Location"))
	}
	if p := b2.get("/console/"); p.status != http.StatusSeeOther || !strings.HasPrefix(p.h.Get("Location"), "/console/login") {
		t.Fatalf("then: %d %s", p.status, p.h.Get("Location"))
	}
	if p := b2.login(aidA, "owner", passwd); p.h.Get("Location") != "/console/login/code" {
		t.Fatalf("next sign-in: %s", p.h.Get("Location"))
	}
}
