package console_test

import (
	"context"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"kessai/internal/auth"
	"kessai/internal/clock"
	"kessai/internal/store"
	"kessai/internal/testenv"
)

const (
	aidA   = "123456"
	aidB   = "654321"
	passwd = "S3cure-pass-2026"
)

// env is a running server with two stores, an admin and a viewer of store A, an admin of store B,
// and an operator; its clock stands still until a test moves it.
type env struct {
	t     testing.TB
	srv   *testenv.Srv
	clock *clock.Fixed
}

func newEnv(t testing.TB) *env {
	t.Helper()
	clk := clock.NewFixed(time.Now().Truncate(time.Second))
	srv := testenv.Start(t, testenv.Options{Clock: clk})
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

func (e *env) addUser(aid, login, role string) {
	e.t.Helper()
	hash, err := auth.HashPassword(passwd)
	if err != nil {
		e.t.Fatal(err)
	}
	if err := e.srv.DB.CreateUser(context.Background(), &store.User{AID: aid, Login: login, PwHash: hash, Role: role}); err != nil {
		e.t.Fatal(err)
	}
}

// charge makes a payment through the real gateway and returns its gid.
func (e *env) charge(aid, cod, jb string, am int) string {
	e.t.Helper()
	v := url.Values{"aid": {aid}, "jb": {jb}, "rt": {"1"}, "cod": {cod}, "am": {strconv.Itoa(am)}, "tx": {"0"}, "sf": {"0"},
		"cn": {"4111111111111111"}, "ed": {time.Now().AddDate(3, 0, 0).Format("0601")}, "cvv": {"123"}, "fn": {"TARO"},
		"ln": {"YAMADA"}, "em": {"taro@example.com"}, "pn": {"0312345678"}}
	body := e.wire(v)
	cols := strings.Split(strings.TrimSpace(body), ",")
	if len(cols) < 14 || cols[1] != "1" {
		e.t.Fatalf("charge %s: %q", cod, body)
	}
	return cols[0]
}

// wire posts to the gateway and returns its body.
func (e *env) wire(v url.Values) string {
	e.t.Helper()
	resp, err := http.PostForm(e.srv.URL+"/gateway/gateway.aspx", v)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// browser is a cookie-keeping client that does not follow redirects, so tests see every answer.
type browser struct {
	t    testing.TB
	base string
	c    *http.Client
	jar  *cookiejar.Jar
}

func (e *env) browser() *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{t: e.t, base: e.srv.URL, jar: jar, c: &http.Client{Jar: jar, Timeout: 30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

type page struct {
	status int
	body   string
	h      http.Header
}

func (b *browser) do(req *http.Request) page {
	b.t.Helper()
	resp, err := b.c.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return page{resp.StatusCode, string(body), resp.Header}
}

func (b *browser) get(path string) page {
	b.t.Helper()
	req, _ := http.NewRequest("GET", b.base+path, nil)
	return b.do(req)
}

func (b *browser) post(path string, v url.Values) page {
	b.t.Helper()
	req, _ := http.NewRequest("POST", b.base+path, strings.NewReader(v.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return b.do(req)
}

var csrfRe = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// csrf reads the CSRF token from a page's forms.
func (b *browser) csrf(path string) string {
	b.t.Helper()
	p := b.get(path)
	m := csrfRe.FindStringSubmatch(p.body)
	if m == nil {
		b.t.Fatalf("no csrf field on %s (status %d)", path, p.status)
	}
	return m[1]
}

// submit posts a form with the CSRF token of the page at from.
func (b *browser) submit(from, path string, v url.Values) page {
	b.t.Helper()
	if v == nil {
		v = url.Values{}
	}
	v.Set("csrf", b.csrf(from))
	return b.post(path, v)
}

func (b *browser) cookie(name string) string {
	u, _ := url.Parse(b.base + "/console/")
	if strings.HasPrefix(name, "kessai_operator") {
		u, _ = url.Parse(b.base + "/operator/")
	}
	for _, c := range b.jar.Cookies(u) {
		if c.Name == name {
			return c.Value
		}
	}
	return ""
}

// login signs in to the merchant console and returns the answer to the form.
func (b *browser) login(aid, login, pw string) page {
	b.t.Helper()
	tok := b.csrf("/console/login")
	return b.post("/console/login", url.Values{"csrf": {tok}, "aid": {aid}, "login": {login}, "password": {pw}})
}

func (b *browser) mustLogin(aid, login string) {
	b.t.Helper()
	if p := b.login(aid, login, passwd); p.status != http.StatusSeeOther {
		b.t.Fatalf("login %s/%s: status %d", aid, login, p.status)
	}
}

func (b *browser) operatorLogin() {
	b.t.Helper()
	tok := b.csrf("/operator/login")
	p := b.post("/operator/login", url.Values{"csrf": {tok}, "login": {"ops"}, "password": {passwd}})
	if p.status != http.StatusSeeOther {
		b.t.Fatalf("operator login: status %d", p.status)
	}
}

func (e *env) payment(aid, gid string) *store.Payment {
	e.t.Helper()
	p, err := e.srv.DB.GetPayment(context.Background(), aid, gid)
	if err != nil {
		e.t.Fatal(err)
	}
	return p
}

func (e *env) auditCount(action string) int {
	e.t.Helper()
	es, err := e.srv.DB.AuditLog(context.Background(), store.AuditFilter{Action: action, Limit: 1000})
	if err != nil {
		e.t.Fatal(err)
	}
	n := 0
	for _, x := range es {
		if x.Action == action {
			n++
		}
	}
	return n
}
