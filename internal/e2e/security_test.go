package e2e

// Automated security probes against a real server on loopback: reflected and stored XSS on every
// surface (hosted pages, merchant panel, operator console, public notices), CSRF on every
// state-changing route of /console/ and /operator/, SQL injection through the panel's search, open
// redirects out of the hosted flow and the sign-in forms, another store's objects reached by guessed
// IDs, and a full-run scan for card numbers and security codes in clear.

import (
	"bytes"
	"context"
	"fmt"
	"html"
	"io"
	"io/fs"
	"math/big"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/text/encoding/japanese"

	"kessai/internal/acquirer"
	"kessai/internal/auth"
	"kessai/internal/maintenance"
	"kessai/internal/schedule"
	"kessai/internal/store"
	"kessai/internal/testenv"
)

const (
	secAidA = "123456"
	secAidB = "654321"
	secPass = "S3cure-pass-2026"
)

// ---------------------------------------------------------------------------------------------
// A recording HTTP client: every answer of every probe is kept, so the checks that apply to all
// HTML pages (CSP, no live markup from a payload) and the card scan see them all.

type secResp struct {
	Method, URL string
	Status      int
	Header      http.Header
	Body        string
}

func (r secResp) html() bool {
	return strings.HasPrefix(strings.ToLower(r.Header.Get("Content-Type")), "text/html")
}

type secRec struct {
	mu  sync.Mutex
	all []secResp
}

func (r *secRec) add(x secResp) {
	r.mu.Lock()
	r.all = append(r.all, x)
	r.mu.Unlock()
}

func (r *secRec) list() []secResp {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.all)
}

// syncBuffer is a log sink the server writes while the test reads.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) Bytes() []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return bytes.Clone(s.b.Bytes())
}

// secBrowser is a cookie-keeping client that never follows redirects.
type secBrowser struct {
	t    testing.TB
	base string
	jar  *cookiejar.Jar
	rec  *secRec
}

func newSecBrowser(t testing.TB, base string, rec *secRec) *secBrowser {
	jar, _ := cookiejar.New(nil)
	return &secBrowser{t: t, base: base, jar: jar, rec: rec}
}

// do sends method to path (a path on the server or an absolute URL); a GET's form goes in the
// query. The path may carry a raw, unescaped query string.
func (b *secBrowser) do(method, path string, form url.Values, hdr map[string]string) secResp {
	b.t.Helper()
	u := path
	if !strings.HasPrefix(u, "http://") && !strings.HasPrefix(u, "https://") {
		u = b.base + path
	}
	var body io.Reader
	hasBody := method != http.MethodGet && method != http.MethodHead
	if form != nil && hasBody {
		body = strings.NewReader(form.Encode())
	} else if form != nil {
		sep := "?"
		if strings.Contains(u, "?") {
			sep = "&"
		}
		u += sep + form.Encode()
	} else if hasBody {
		body = strings.NewReader("")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		b.t.Fatalf("%s %s: %v", method, u, err)
	}
	if hasBody {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	// the transport itself, as the client would use it but without reading Location: a browser
	// must be shown whatever the server sends there, also what Go's client refuses to parse
	for _, c := range b.jar.Cookies(req.URL) {
		req.AddCookie(c)
	}
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		b.t.Fatalf("%s %s: %v", method, u, err)
	}
	defer resp.Body.Close()
	if rc := resp.Cookies(); len(rc) > 0 {
		b.jar.SetCookies(req.URL, rc)
	}
	raw, _ := io.ReadAll(resp.Body)
	r := secResp{Method: method, URL: u, Status: resp.StatusCode, Header: resp.Header, Body: string(raw)}
	if b.rec != nil {
		b.rec.add(r)
	}
	return r
}

func (b *secBrowser) get(path string) secResp { b.t.Helper(); return b.do("GET", path, nil, nil) }

func (b *secBrowser) post(path string, form url.Values) secResp {
	b.t.Helper()
	return b.do("POST", path, form, nil)
}

var secCSRFRe = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// token reads the CSRF token of the forms on the page at path.
func (b *secBrowser) token(path string) string {
	b.t.Helper()
	p := b.get(path)
	m := secCSRFRe.FindStringSubmatch(p.Body)
	if m == nil {
		b.t.Fatalf("no csrf field on %s (HTTP %d)", path, p.Status)
	}
	return html.UnescapeString(m[1])
}

// follow GETs the Location of a redirect, once; the answer itself when it is not a redirect.
func (b *secBrowser) follow(r secResp) secResp {
	b.t.Helper()
	if r.Status < 300 || r.Status > 399 {
		return r
	}
	loc := r.Header.Get("Location")
	base, _ := url.Parse(r.URL)
	u, err := url.Parse(loc)
	if err != nil {
		b.t.Fatalf("unparsable Location %q: %v", loc, err)
	}
	return b.get(base.ResolveReference(u).String())
}

func (b *secBrowser) consoleLogin(aid, login, next string) secResp {
	b.t.Helper()
	tok := b.token("/console/login")
	f := url.Values{"csrf": {tok}, "aid": {aid}, "login": {login}, "password": {secPass}}
	if next != "" {
		f.Set("next", next)
	}
	p := b.post("/console/login", f)
	if p.Status != http.StatusSeeOther {
		b.t.Fatalf("console login %s/%s: HTTP %d", aid, login, p.Status)
	}
	return p
}

func (b *secBrowser) operatorLogin(next string) secResp {
	b.t.Helper()
	tok := b.token("/operator/login")
	f := url.Values{"csrf": {tok}, "login": {"ops"}, "password": {secPass}}
	if next != "" {
		f.Set("next", next)
	}
	p := b.post("/operator/login", f)
	if p.Status != http.StatusSeeOther {
		b.t.Fatalf("operator login: HTTP %d", p.Status)
	}
	return p
}

func (b *secBrowser) cookie(path, name string) string {
	u, _ := url.Parse(b.base + path)
	for _, c := range b.jar.Cookies(u) {
		if c.Name == name {
			return c.Value
		}
	}
	return ""
}

// ---------------------------------------------------------------------------------------------
// The environment: a real server, two stores with users, an operator.

type secEnv struct {
	t   *testing.T
	s   *testenv.Srv
	rec *secRec
	log *syncBuffer
}

type secSetup struct {
	EditA, EditB func(*store.Store)
	NameA, NameB string
}

func newSecEnv(t *testing.T, o secSetup) *secEnv {
	t.Helper()
	e := &secEnv{t: t, rec: &secRec{}, log: &syncBuffer{}}
	e.s = testenv.Start(t, testenv.Options{Log: e.log})
	if o.NameA == "" {
		o.NameA = "テスト商店"
	}
	if o.NameB == "" {
		o.NameB = "Other Shop"
	}
	e.s.CreateStore(t, secAidA, o.NameA, o.EditA)
	e.s.CreateStore(t, secAidB, o.NameB, o.EditB)
	e.addUser(secAidA, "owner", store.RoleAdmin)
	e.addUser(secAidA, "clerk", store.RoleViewer)
	e.addUser(secAidB, "owner", store.RoleAdmin)
	hash, err := auth.HashPassword(secPass)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.s.DB.CreateOperator(context.Background(), &store.Operator{Login: "ops", PwHash: hash}); err != nil {
		t.Fatal(err)
	}
	return e
}

func (e *secEnv) addUser(aid, login, role string) {
	e.t.Helper()
	hash, err := auth.HashPassword(secPass)
	if err != nil {
		e.t.Fatal(err)
	}
	if err := e.s.DB.CreateUser(context.Background(), &store.User{AID: aid, Login: login, PwHash: hash, Role: role}); err != nil {
		e.t.Fatal(err)
	}
}

func (e *secEnv) browser() *secBrowser { return newSecBrowser(e.t, e.s.URL, e.rec) }

// wire posts (or GETs) to a gateway path and returns the body.
func (e *secEnv) wire(method, path string, v url.Values) string {
	e.t.Helper()
	return strings.TrimSpace(e.browser().do(method, path, v, nil).Body)
}

func secExpiry() string { return time.Now().AddDate(3, 0, 0).Format("0601") }

// charge pays through /gateway/gateway.aspx (rt=1) and returns the result line's gid ("" when refused).
func (e *secEnv) charge(aid, cod, jb, cn, cvv string, am int, extra url.Values) (gid, line string) {
	e.t.Helper()
	v := url.Values{"aid": {aid}, "jb": {jb}, "rt": {"1"}, "cod": {cod}, "am": {strconv.Itoa(am)}, "tx": {"0"}, "sf": {"0"},
		"cn": {cn}, "ed": {secExpiry()}, "cvv": {cvv}, "fn": {"TARO"}, "ln": {"YAMADA"}}
	for k, x := range extra {
		v[k] = x
	}
	line = e.wire("POST", "/gateway/gateway.aspx", v)
	cols := strings.Split(line, ",")
	if len(cols) >= 14 && cols[1] == "1" {
		return cols[0], line
	}
	return "", line
}

func (e *secEnv) mustCharge(aid, cod, jb string, am int, extra url.Values) string {
	e.t.Helper()
	gid, line := e.charge(aid, cod, jb, "4111111111111111", "123", am, extra)
	if line == "OK" { // rt=0: the result goes by kickback; the gid is in the database
		ps, _, err := e.s.DB.SearchPayments(context.Background(), store.PaymentFilter{AID: aid, Cod: cod, Limit: 10})
		if err != nil || len(ps) != 1 || ps[0].Cod != cod || ps[0].Rst != "1" {
			e.t.Fatalf("charge %s/%q with rt=0: %v %v", aid, cod, ps, err)
		}
		gid = ps[0].Gid
	}
	if gid == "" {
		e.t.Fatalf("charge %s/%q: %q", aid, cod, line)
	}
	return gid
}

// signUp makes an auto-charge plan with its sign-up payment (am=0: the card is registered) and
// returns the payment's gid and the plan's acid.
func (e *secEnv) signUp(aid, cod, cn, cvv string) (gid, acid string) {
	e.t.Helper()
	line := e.wire("POST", "/gateway/gateway.aspx", url.Values{"aid": {aid}, "jb": {"CAPTURE"}, "rt": {"1"}, "cod": {cod},
		"am": {"0"}, "tx": {"0"}, "sf": {"0"}, "cn": {cn}, "ed": {secExpiry()}, "cvv": {cvv}, "fn": {"YAMADA"}, "ln": {"TARO"},
		"em": {"taro@example.com"}, "pn": {"0312345678"}, "actp": {"4"}, "acam": {"980"}})
	cols := strings.Split(line, ",")
	if len(cols) != 14 || cols[1] != "1" || cols[12] == "" {
		e.t.Fatalf("auto-charge sign-up %s/%s: %q", aid, cod, line)
	}
	return cols[0], cols[12]
}

func (e *secEnv) plan(aid, acid string) *store.AutoCharge {
	e.t.Helper()
	a, err := e.s.DB.GetAutoCharge(context.Background(), aid, acid)
	if err != nil {
		e.t.Fatalf("plan %s/%s: %v", aid, acid, err)
	}
	return a
}

func (e *secEnv) payment(aid, gid string) *store.Payment {
	e.t.Helper()
	p, err := e.s.DB.GetPayment(context.Background(), aid, gid)
	if err != nil {
		e.t.Fatalf("payment %s/%s: %v", aid, gid, err)
	}
	return p
}

// ---------------------------------------------------------------------------------------------
// HTML checks.

// secTag is one start tag of a page.
type secTag struct {
	name  string
	attrs [][2]string // lower-cased names, raw values
	raw   string
	inner string // for <script>: what is between the tags
}

// secTags lists the start tags of an HTML document. html/template escapes every '<' that comes from
// data, so whatever this finds is markup the page really has.
func secTags(doc string) []secTag {
	var out []secTag
	i := 0
	for {
		j := strings.IndexByte(doc[i:], '<')
		if j < 0 {
			return out
		}
		i += j
		if strings.HasPrefix(doc[i:], "<!--") {
			k := strings.Index(doc[i:], "-->")
			if k < 0 {
				return out
			}
			i += k + 3
			continue
		}
		if i+1 >= len(doc) || !isASCIILetter(doc[i+1]) {
			i++
			continue
		}
		start := i
		i++
		n := i
		for n < len(doc) && (isASCIILetter(doc[n]) || doc[n] >= '0' && doc[n] <= '9' || doc[n] == '-' || doc[n] == ':') {
			n++
		}
		tg := secTag{name: strings.ToLower(doc[i:n])}
		i = n
		for i < len(doc) && doc[i] != '>' {
			c := doc[i]
			if c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '/' {
				i++
				continue
			}
			k := i
			for i < len(doc) && !strings.ContainsRune(" \t\n\r\f/=>", rune(doc[i])) {
				i++
			}
			name := strings.ToLower(doc[k:i])
			val := ""
			for i < len(doc) && (doc[i] == ' ' || doc[i] == '\t' || doc[i] == '\n') {
				i++
			}
			if i < len(doc) && doc[i] == '=' {
				i++
				for i < len(doc) && (doc[i] == ' ' || doc[i] == '\t' || doc[i] == '\n') {
					i++
				}
				if i < len(doc) && (doc[i] == '"' || doc[i] == '\'') {
					q := doc[i]
					i++
					k := strings.IndexByte(doc[i:], q)
					if k < 0 {
						k = len(doc) - i
					}
					val = doc[i : i+k]
					i += k + 1
				} else {
					k := i
					for i < len(doc) && !strings.ContainsRune(" \t\n\r\f>", rune(doc[i])) {
						i++
					}
					val = doc[k:i]
				}
			}
			if name != "" {
				tg.attrs = append(tg.attrs, [2]string{name, val})
			}
		}
		if i > len(doc) {
			i = len(doc)
		}
		tg.raw = doc[start:min(i+1, len(doc))]
		i++
		if tg.name == "script" || tg.name == "style" || tg.name == "textarea" || tg.name == "title" {
			end := strings.Index(strings.ToLower(doc[min(i, len(doc)):]), "</"+tg.name)
			if end >= 0 {
				tg.inner = doc[i : i+end]
				i += end
			}
		}
		out = append(out, tg)
		if i >= len(doc) {
			return out
		}
	}
}

// offByOne changes the last character of a token.
func offByOne(tok string) string {
	last := byte('A')
	if tok[len(tok)-1] == 'A' {
		last = 'B'
	}
	return tok[:len(tok)-1] + string(last)
}

func isASCIILetter(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }

func (tg secTag) attr(name string) (string, bool) {
	for _, a := range tg.attrs {
		if a[0] == name {
			return a[1], true
		}
	}
	return "", false
}

// urlAttrs are the attributes a browser follows or runs.
var urlAttrs = []string{"href", "src", "action", "formaction", "xlink:href", "data", "poster", "background", "srcset", "ping"}

// dangerousURL reports a javascript:, vbscript: or data:text/html target as a browser reads it
// (entities decoded, control characters and spaces dropped).
func dangerousURL(v string) bool {
	v = html.UnescapeString(v)
	v = strings.Map(func(r rune) rune {
		if r <= ' ' || r == 0x7f {
			return -1
		}
		return r
	}, v)
	v = strings.ToLower(v)
	return strings.HasPrefix(v, "javascript:") || strings.HasPrefix(v, "vbscript:") || strings.HasPrefix(v, "data:text/html")
}

// scriptSrc is the policy that governs scripts: script-src, else default-src.
func scriptSrc(csp string) (string, bool) {
	var def string
	var hasDef bool
	for _, d := range strings.Split(csp, ";") {
		f := strings.Fields(d)
		if len(f) == 0 {
			continue
		}
		switch strings.ToLower(f[0]) {
		case "script-src":
			return strings.Join(f[1:], " "), true
		case "default-src":
			def, hasDef = strings.Join(f[1:], " "), true
		}
	}
	return def, hasDef
}

// checkHTML applies the XSS assertions to one answer: a Content-Security-Policy whose script
// policy forbids inline script, no payload in raw form, no live event handler, script tag of another
// origin or inline, and no javascript: link.
func checkHTML(t errorer, r secResp, payloads []string) {
	t.Helper()
	where := fmt.Sprintf("%s %s (HTTP %d)", r.Method, r.URL, r.Status)
	if !r.html() {
		return
	}
	csp := r.Header.Get("Content-Security-Policy")
	if csp == "" {
		t.Errorf("%s: HTML without a Content-Security-Policy", where)
	} else if ss, ok := scriptSrc(csp); !ok {
		t.Errorf("%s: CSP %q has neither script-src nor default-src", where, csp)
	} else {
		for _, bad := range []string{"'unsafe-inline'", "'unsafe-eval'", "*", "data:", "http:", "https:"} {
			for _, src := range strings.Fields(strings.ToLower(ss)) {
				if src == bad {
					t.Errorf("%s: script policy %q allows %s", where, ss, bad)
				}
			}
		}
	}
	low := strings.ToLower(r.Body)
	for _, p := range payloads {
		if strings.ContainsAny(p, `<>"'`) && strings.Contains(low, strings.ToLower(p)) {
			i := strings.Index(low, strings.ToLower(p))
			t.Errorf("%s: payload %q appears unescaped: …%s…", where, p, r.Body[max(0, i-80):min(len(r.Body), i+len(p)+40)])
		}
	}
	for _, tg := range secTags(r.Body) {
		for _, a := range tg.attrs {
			if strings.HasPrefix(a[0], "on") {
				t.Errorf("%s: event handler attribute in %s", where, tg.raw)
			}
			if slices.Contains(urlAttrs, a[0]) && dangerousURL(a[1]) {
				t.Errorf("%s: script URL in %s", where, tg.raw)
			}
		}
		switch tg.name {
		case "script":
			src, ok := tg.attr("src")
			if !ok || strings.TrimSpace(tg.inner) != "" {
				t.Errorf("%s: inline script %s%.80s", where, tg.raw, tg.inner)
			} else if !strings.HasPrefix(src, "/") || strings.HasPrefix(src, "//") {
				t.Errorf("%s: script from another origin: %s", where, tg.raw)
			}
		case "iframe", "frame", "object", "embed", "base", "applet":
			t.Errorf("%s: <%s> on a page: %s", where, tg.name, tg.raw)
		case "meta":
			if v, _ := tg.attr("http-equiv"); strings.EqualFold(v, "refresh") {
				t.Errorf("%s: meta refresh: %s", where, tg.raw)
			}
		}
	}
}

// errorer is what the checks report to: a test, or a recorder in the checks' own test.
type errorer interface {
	Helper()
	Errorf(format string, args ...any)
}

type errRecorder struct{ msgs []string }

func (r *errRecorder) Helper() {}
func (r *errRecorder) Errorf(format string, args ...any) {
	r.msgs = append(r.msgs, fmt.Sprintf(format, args...))
}

// TestSecurityXSSCheckerCatchesLiveMarkup shows the page checks are not vacuous: each broken page
// below is reported, the escaped one is not.
func TestSecurityXSSCheckerCatchesLiveMarkup(t *testing.T) {
	h := func(csp string) http.Header {
		x := http.Header{"Content-Type": {"text/html; charset=utf-8"}}
		if csp != "" {
			x.Set("Content-Security-Policy", csp)
		}
		return x
	}
	good := "default-src 'none'; style-src 'self'"
	for _, tc := range []struct {
		name string
		hdr  http.Header
		body string
		bad  bool
	}{
		{"escaped", h(good), `<p>&lt;script&gt;alert(1)&lt;/script&gt; <a href="/x">x</a><script src="/s.js"></script></p>`, false},
		{"no CSP", h(""), `<p>x</p>`, true},
		{"unsafe-inline", h("default-src 'self'; script-src 'self' 'unsafe-inline'"), `<p>x</p>`, true},
		{"raw payload", h(good), `<p>"><script>alert(1)</script></p>`, true},
		{"event handler", h(good), `<input value="" onfocus=alert(1) autofocus>`, true},
		{"svg onload", h(good), `<svg/onload=alert(1)>`, true},
		{"javascript link", h(good), `<a href=" jav&#x09;ascript:alert(1)">x</a>`, true},
		{"inline script", h(good), `<script>alert(1)</script>`, true},
		{"foreign script", h(good), `<script src="//evil.example/x.js"></script>`, true},
		{"iframe", h(good), `<iframe src="/x"></iframe>`, true},
	} {
		r := &errRecorder{}
		checkHTML(r, secResp{Method: "GET", URL: "/t", Status: 200, Header: tc.hdr, Body: tc.body}, []string{`"><script>alert(1)</script>`})
		if got := len(r.msgs) > 0; got != tc.bad {
			t.Errorf("%s: reported %v (%q), want %v", tc.name, got, r.msgs, tc.bad)
		}
	}
	for _, loc := range []string{`/\evil.example`, "\t//evil.example", "https:evil.example", "///evil.example", "//evil.example",
		"http://evil.example", " /\t/evil.example", "javascript:alert(1)", "HTTPS://evil.example", `\\evil.example`} {
		r := &errRecorder{}
		offSite(r, secResp{Method: "GET", URL: "http://127.0.0.1:1/x", Header: http.Header{"Location": {loc}}}, "http://127.0.0.1:1")
		if len(r.msgs) != 1 {
			t.Errorf("off-site check on Location %q reported %q", loc, r.msgs)
		}
	}
	for _, loc := range []string{"/console/..//evil.example", "/console/", "http:/evil.example", "/console/%2F%2Fevil.example", "?next=//evil.example"} {
		r := &errRecorder{}
		offSite(r, secResp{Method: "GET", URL: "http://127.0.0.1:1/x", Header: http.Header{"Location": {loc}}}, "http://127.0.0.1:1")
		if len(r.msgs) != 0 {
			t.Errorf("off-site check on same-site Location %q reported %q", loc, r.msgs)
		}
	}
	r := &errRecorder{}
	offSite(r, secResp{Method: "GET", URL: "http://127.0.0.1:1/x", Header: h(good), Body: `<a href="//evil.example/">x</a><form action="https:evil.example">`}, "http://127.0.0.1:1")
	if len(r.msgs) != 2 {
		t.Errorf("off-site check on links reported %q", r.msgs)
	}
}

// ---------------------------------------------------------------------------------------------
// 1. XSS

var xssPayloads = []string{
	`"><script>alert(1)</script>`,
	`<img src=x onerror=alert(1)>`,
	`javascript:alert(1)`,
	`<svg/onload=alert(1)>`,
	`'"><img/src=x/onerror=alert(1)>`,
	"x'onmouseover=alert`1`'@x.jp",
	`</textarea></title><script>alert(1)</script>`,
}

// codPayloads are payloads a cod may carry: printable ASCII, no space, no comma.
var codPayloads = []string{
	`"><script>alert(1)</script>`,
	`<svg/onload=alert(1)>`,
	`'"><img/src=x/onerror=alert(1)>`,
	`javascript:alert(1)`,
}

var secSessionRe = regexp.MustCompile(`name="o" value="([A-Za-z0-9]+)"`)
var secSignedRe = regexp.MustCompile(`name="d" value="([A-Za-z0-9_.-]+)"`)
var secSandboxCodeRe = regexp.MustCompile(`id="sandbox-code" class="mono">([0-9A-Za-z]+)<`)

// hostedSession reads the order session fields of a hosted card form.
func hostedSession(t testing.TB, r secResp) url.Values {
	t.Helper()
	o, c := secSessionRe.FindStringSubmatch(r.Body), secCSRFRe.FindStringSubmatch(r.Body)
	if o == nil || c == nil {
		t.Fatalf("%s %s: no order session (HTTP %d):\n%.1500s", r.Method, r.URL, r.Status, r.Body)
	}
	v := url.Values{"o": {o[1]}, "csrf": {html.UnescapeString(c[1])}}
	if d := secSignedRe.FindStringSubmatch(r.Body); d != nil {
		v.Set("d", d[1])
	}
	return v
}

func cardFields(s url.Values, cn, cvv, holder string) url.Values {
	v := url.Values{}
	for k, x := range s {
		v[k] = x
	}
	v.Set("cn", cn)
	v.Set("exp_month", "12")
	v.Set("exp_year", time.Now().AddDate(3, 0, 0).Format("06"))
	v.Set("holder", holder)
	v.Set("cvv", cvv)
	return v
}

func TestSecurityXSSReflectedEverywhere(t *testing.T) {
	ctx := context.Background()
	var kbMu sync.Mutex
	var kbQueries []string
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		kbMu.Lock()
		kbQueries = append(kbQueries, r.URL.RawQuery)
		kbMu.Unlock()
		io.WriteString(w, "OK")
	}))
	defer rcv.Close()
	e := newSecEnv(t, secSetup{
		NameA: xssPayloads[0] + xssPayloads[1],
		NameB: xssPayloads[3] + xssPayloads[4],
		EditA: func(st *store.Store) {
			st.CompletionURL = "https://shop.example.jp/thanks"
			st.ResultURL = rcv.URL + `/kb?q="><script>alert(1)</script>`
			st.NotifyEmail = xssPayloads[5]
		},
	})
	P := xssPayloads

	// payments whose every reflected field carries a payload
	var gids []string
	for i, cod := range codPayloads {
		jb := "CAPTURE"
		if i == 0 {
			jb = "AUTH"
		}
		extra := url.Values{"inm": {P[(i+1)%len(P)]}, "em": {P[5]}, "note": {P[0]}, "memo": {P[1]}, "ref": {P[2]}}
		gids = append(gids, e.mustCharge(secAidA, cod, jb, 1000+i, extra))
	}

	// an auto-charge plan with payloads in its fields
	acLine := e.wire("POST", "/gateway/gateway.aspx", url.Values{"aid": {secAidA}, "jb": {"CAPTURE"}, "rt": {"1"}, "cod": {`"><svg/onload=alert(5)>`},
		"am": {"0"}, "tx": {"0"}, "sf": {"0"}, "cn": {"4111111111111111"}, "ed": {secExpiry()}, "cvv": {"123"}, "fn": {"YAMADA"}, "ln": {"TARO"},
		"em": {P[5]}, "inm": {P[0]}, "note": {P[1]}, "actp": {"4"}, "acam": {"980"}})
	acCols := strings.Split(acLine, ",")
	if len(acCols) != 14 || acCols[1] != "1" || acCols[12] == "" {
		t.Fatalf("auto-charge sign-up: %q", acLine)
	}
	acGid, acid := acCols[0], acCols[12]

	// the hosted pages: entry (POST and GET), language switch, a decline, a success, an error page,
	// a 3-D Secure challenge, the older payform.aspx
	shopper := e.browser()
	order := url.Values{"aid": {secAidA}, "jb": {"CAPTURE"}, "am": {"1980"}, "tx": {"0"}, "sf": {"0"}, "cod": {`"><svg/onload=alert(2)>`},
		"inm": {P[0]}, "note": {P[1]}, "next": {P[2]}, "lang": {P[0]}}
	entry := shopper.post("/link/creditcard", order)
	if entry.Status != 200 {
		t.Fatalf("hosted entry: HTTP %d\n%.2000s", entry.Status, entry.Body)
	}
	if !strings.Contains(entry.Body, "&lt;script&gt;alert(1)&lt;/script&gt;") {
		t.Fatalf("the payload did not reach the hosted page (nothing was probed):\n%.3000s", entry.Body)
	}
	sess := hostedSession(t, entry)
	lang := url.Values{"lang": {"en"}}
	for k, x := range sess {
		lang[k] = x
	}
	shopper.post("/link/creditcard/lang", lang)
	declined := shopper.post("/link/creditcard/pay", cardFields(sess, "4000000000000002", "123", "TARO YAMADA"))
	shopper.follow(declined)
	shopper.post("/link/creditcard/pay", cardFields(sess, "", "123", P[1]))                 // re-shown with the holder typed
	shopper.post("/link/creditcard/pay", cardFields(sess, "4111111111111111", "123", P[0])) // the holder refused, shown again
	paid := shopper.post("/link/creditcard/pay", cardFields(sess, "4111111111111111", "123", "TARO YAMADA"))
	result := shopper.follow(paid)
	if result.Status != 200 || !strings.Contains(result.Body, `id="gid"`) {
		t.Fatalf("hosted payment did not complete: HTTP %d\n%.2000s", result.Status, result.Body)
	}
	gq := url.Values{}
	for k, x := range order {
		gq[k] = x
	}
	gq.Set("cod", `<svg/onload=alert(4)>`)
	gq.Set("lang", "en")
	shopper.do("GET", "/link/creditcard", gq, nil)
	shopper.post("/gateway/payform.aspx", gq)
	for _, bad := range []string{"am", "aid", "jb", "cod", "em", "iid"} {
		v := url.Values{}
		for k, x := range order {
			v[k] = x
		}
		v.Set(bad, P[0])
		shopper.post("/link/creditcard", v)
	}
	tds := url.Values{}
	for k, x := range order {
		tds[k] = x
	}
	tds.Set("cod", `<svg/onload=alert(3)>`)
	tdsEntry := shopper.post("/link/creditcard", tds)
	ch := shopper.follow(shopper.post("/link/creditcard/pay", cardFields(hostedSession(t, tdsEntry), "4000000000003220", "123", "TARO YAMADA")))
	if !strings.Contains(ch.URL, "/link/creditcard/3ds") {
		t.Errorf("3-D Secure card did not reach the challenge: %s", ch.URL)
	}
	for _, path := range []string{"/link/creditcard/auto-charge/stop", "/link/creditcard/auto-charge/update"} {
		cust := e.browser()
		page := cust.get(path + "?" + url.Values{"aid": {secAidA}, "tid": {acGid}, "lang": {P[0]}, "x": {P[1]}}.Encode())
		if m := secCSRFRe.FindStringSubmatch(page.Body); m != nil {
			cust.post(path, url.Values{"aid": {secAidA}, "tid": {acGid}, "csrf": {html.UnescapeString(m[1])}, "em": {P[0]}, "pn": {P[1]},
				"cn": {P[2]}, "fn": {P[0]}, "ln": {P[1]}, "exp_month": {P[3]}, "exp_year": {P[4]}})
		} else {
			t.Errorf("%s: no form (HTTP %d)", path, page.Status)
		}
		cust.get(path + "?" + url.Values{"aid": {P[0]}, "tid": {P[1]}}.Encode())
		cust.get(path + "?" + url.Values{"aid": {secAidA}, "tid": {P[1]}}.Encode())
	}
	other := shopper.post("/link/creditcard", url.Values{"aid": {secAidB}, "am": {"500"}, "inm": {P[4]}, "cod": {"b-1"}})
	if !strings.Contains(other.Body, "&lt;svg/onload=alert(1)&gt;") {
		t.Errorf("store B's name (a payload) is not shown escaped on its hosted page")
	}

	// maintenance windows whose titles and notes are payloads, announced for next year
	year := time.Now().In(time.FixedZone("JST", 9*3600)).Year() + 1
	var ws []maintenance.Window
	for i, d := range []string{"03-18", "09-16"} {
		w, err := maintenance.WallWindow(fmt.Sprintf("%d-%s", year, d), "02:55", "04:30", "")
		if err != nil {
			t.Fatal(err)
		}
		w.TitleJA, w.TitleEN, w.NotesJA, w.NotesEN = P[i], P[i+1], P[3]+"\n"+P[0], P[4]+"\n"+P[6]
		ws = append(ws, w)
	}
	if _, err := e.s.DB.AddWindows(ctx, ws, P[0]); err != nil {
		t.Fatal(err)
	}
	if n, err := schedule.PublishYear(ctx, e.s.DB, year, maintenance.ChangeText{MessageJA: P[1], MessageEN: P[1], Note: P[1]}, "ops"); err != nil || n != 2 {
		t.Fatalf("publish: %d %v", n, err)
	}
	waitFor(t, "the schedule watcher to load the windows", func() bool {
		return len(e.s.Maint.Upcoming(time.Now(), 10)) >= 2
	})

	// the merchant panel
	owner := e.browser()
	owner.consoleLogin(secAidA, "owner", "")
	pages := []string{"/console/", "/console/payments", "/console/kickbacks", "/console/settings", "/console/users",
		"/console/password", "/console/help", "/console/autocharges"}
	for _, g := range append(gids, acGid) {
		pages = append(pages, "/console/payments/"+g, "/console/kickbacks?gid="+g)
	}
	pages = append(pages, "/console/autocharges/"+acid, "/console/autocharges?"+url.Values{"acid": {P[0]}, "cod": {P[1]}, "status": {P[2]}, "em": {P[5]}}.Encode())
	for _, p := range P {
		q := url.Values{"cod": {p}, "em": {p}, "gid": {p}, "amount": {p}, "last4": {p}, "from": {p}, "to": {p}, "status": {p}}
		pages = append(pages, "/console/payments?"+q.Encode(), "/console/payments?cod="+url.QueryEscape(p),
			"/console/kickbacks?gid="+url.QueryEscape(p), "/console/payments/"+url.PathEscape(p),
			"/console/no-such-page/"+url.PathEscape(p), "/console/login?next="+url.QueryEscape("/console/"+p))
		// the query as a careless client sends it: raw, unescaped
		raw := strings.ReplaceAll(p, " ", "%20")
		pages = append(pages, "/console/payments?cod="+raw, "/console/help?x="+raw)
	}
	for _, p := range pages {
		owner.get(p)
	}
	owner.post("/console/payments/"+gids[0]+"/sales", url.Values{"csrf": {owner.token("/console/payments/" + gids[0])}, "amount": {P[0]}})
	owner.post("/console/payments/"+gids[0]+"/sales", url.Values{"csrf": {owner.token("/console/payments/" + gids[0])}})
	owner.post("/console/settings", url.Values{"csrf": {owner.token("/console/settings")}, "result_url": {P[2]}, "allow_ips": {P[0]},
		"allow_origins": {P[1]}, "notify_email": {P[3]}, "brand_VISA": {"on"}, "completion_url": {P[2]}})
	owner.post("/console/settings/products", url.Values{"csrf": {owner.token("/console/settings")}, "iid": {P[0]}, "name": {P[1]}, "am": {P[2]}})
	owner.post("/console/settings/products", url.Values{"csrf": {owner.token("/console/settings")}, "iid": {"X-1"}, "name": {P[6]}, "am": {"100"}})
	owner.post("/console/users", url.Values{"csrf": {owner.token("/console/users")}, "login": {P[0]}, "password": {"x"}, "role": {P[1]}})
	owner.post("/console/autocharges/"+acid+"/stop", url.Values{"csrf": {owner.token("/console/autocharges/" + acid)}}) // the confirmation
	owner.get("/console/settings")
	signedOut := e.browser()
	signedOut.get("/console/login?next=" + url.QueryEscape("/console/"+P[0]))
	signedOut.get("/console/payments?cod=" + url.QueryEscape(P[0]))
	signedOut.post("/console/login", url.Values{"csrf": {signedOut.token("/console/login")}, "aid": {P[0]}, "login": {P[1]}, "password": {"wrong-password"}})

	// the operator console
	ops := e.browser()
	ops.operatorLogin("")
	ops.post("/operator/stores", url.Values{"csrf": {ops.token("/operator/stores")}, "aid": {"333333"}, "name": {P[0] + P[3]}, "notify_email": {P[1]}})
	ops.post("/operator/stores/"+secAidB, url.Values{"csrf": {ops.token("/operator/stores/" + secAidB)}, "name": {P[6]}, "min_amount": {"0"},
		"max_amount": {"9999999"}, "notify_email": {P[0]}})
	ops.post("/operator/stores/"+secAidB+"/suspend", url.Values{"csrf": {ops.token("/operator/stores/" + secAidB)}, "action": {P[0]}})
	ops.post("/operator/maintenance/windows", url.Values{"csrf": {ops.token("/operator/maintenance")}, "date": {P[0]}, "from": {"02:55"}, "to": {"04:30"}})
	ops.post("/operator/maintenance/windows", url.Values{"csrf": {ops.token("/operator/maintenance")}, "date": {fmt.Sprintf("%d-05-20", year)},
		"from": {"02:55"}, "to": {"04:30"}, "scope": {P[1]}})
	ops.post("/operator/maintenance/draft", url.Values{"csrf": {ops.token("/operator/maintenance")}, "year": {strconv.Itoa(year)}, "rrule": {P[0]},
		"from": {"02:55"}, "to": {"04:30"}})
	for _, p := range []string{"/operator/", "/operator/stores", "/operator/stores/" + secAidA, "/operator/stores/" + secAidB, "/operator/stores/333333",
		fmt.Sprintf("/operator/maintenance?year=%d", year), fmt.Sprintf("/operator/maintenance/notice?year=%d", year), "/operator/email",
		"/operator/audit", "/operator/help", "/operator/audit?" + url.Values{"aid": {P[0]}, "actor": {P[1]}, "action": {P[4]}}.Encode(),
		"/operator/audit?action=" + P[0], "/operator/no-such-page/" + url.PathEscape(P[0]), "/operator/stores/" + url.PathEscape(P[0]),
		"/operator/login?next=" + url.QueryEscape("/operator/"+P[0])} {
		ops.get(p)
	}
	e.browser().get("/operator/login?next=" + url.QueryEscape("/operator/"+P[0]))

	// the public notices
	pub := e.browser()
	for _, p := range []string{"/maintenance", "/maintenance?lang=en", "/maintenance.atom", "/maintenance.atom?lang=en", "/maintenance.ics",
		fmt.Sprintf("/maintenance/notice/%d?format=html", year), fmt.Sprintf("/maintenance/notice/%d?format=html&lang=en", year),
		fmt.Sprintf("/maintenance/notice/%d?format=%s", year, url.QueryEscape(P[0])), "/maintenance?lang=" + url.QueryEscape(P[0])} {
		pub.get(p)
	}
	if r := pub.get("/maintenance"); !strings.Contains(r.Body, "&lt;svg/onload=alert(1)&gt;") {
		t.Errorf("the window notes (payloads) are not on the notices page, escaped; nothing was probed there:\n%.3000s", r.Body)
	}

	// a window active now, titled with payloads: the customer message on every refused surface
	now := time.Now()
	active := maintenance.Window{Start: now.Add(-time.Minute).UTC(), End: now.Add(20 * time.Minute).UTC(), Zone: maintenance.DefaultZone,
		Kind: maintenance.KindScheduled, Status: maintenance.StatusAnnounced, Scope: maintenance.Scope{Ops: maintenance.DefaultScope},
		TitleJA: P[0], TitleEN: P[1], NotesJA: P[3], NotesEN: P[4]}
	if _, err := e.s.DB.AddWindows(ctx, []maintenance.Window{active}, "ops"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the active window to be enforced", func() bool { return e.s.Maint.Active(time.Now()) != nil })
	for _, p := range []string{"/maintenance", "/maintenance?lang=en", "/maintenance.atom"} {
		pub.get(p)
	}
	if r := e.browser().post("/link/creditcard", order); r.Status != http.StatusServiceUnavailable {
		t.Errorf("hosted page inside the active window: HTTP %d", r.Status)
	}
	en := url.Values{}
	for k, x := range order {
		en[k] = x
	}
	en.Set("lang", "en")
	e.browser().post("/link/creditcard", en)
	owner.get("/console/payments?cod=" + url.QueryEscape(P[0]))
	ops.get("/operator/")
	ops.get(fmt.Sprintf("/operator/maintenance?year=%d", now.Year()))

	// the kickbacks' receiver is not a page, but what it got must be as sent
	// (the store's own result URL carries a raw payload, sent as the merchant wrote it; what
	// Kessai adds must be escaped)
	kbMu.Lock()
	for _, q := range kbQueries {
		if rest := strings.TrimPrefix(q, `q="><script>alert(1)</script>`); strings.ContainsAny(rest, `<>"' `) {
			t.Errorf("kickback query carries a raw payload: %s", q)
		}
	}
	kbMu.Unlock()

	all := e.rec.list()
	nHTML := 0
	for _, r := range all {
		if r.html() {
			nHTML++
		}
		checkHTML(t, r, P)
		if strings.Contains(r.Header.Get("Content-Type"), "xml") {
			low := strings.ToLower(r.Body)
			for _, p := range P {
				if strings.ContainsAny(p, "<>") && strings.Contains(low, strings.ToLower(p)) {
					t.Errorf("%s: payload %q unescaped in XML", r.URL, p)
				}
			}
		}
	}
	if nHTML < 60 {
		t.Fatalf("only %d HTML answers were checked", nHTML)
	}
	t.Logf("%d answers, %d HTML pages checked", len(all), nHTML)
}

// waitFor polls cond for up to 10 seconds.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// ---------------------------------------------------------------------------------------------
// 2. CSRF on every state-changing route

// csrfProbe is one state-changing request: the route as registered, a concrete path, and a form
// that would do the action if the token were not checked.
type csrfProbe struct {
	pattern string
	path    string
	form    url.Values
	pre     bool // signed-out form protected by the pre-login token (sign-in, language)
}

// routePatterns greps the registered POST routes of a console's package.
func routePatterns(t *testing.T, dir, prefix string) []string {
	t.Helper()
	re := regexp.MustCompile(`"(POST /` + prefix + `/[^"]*)"`)
	var out []string
	files, _ := filepath.Glob(filepath.Join(dir, "*.go"))
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range re.FindAllStringSubmatch(string(b), -1) {
			if !slices.Contains(out, m[1]) {
				out = append(out, m[1])
			}
		}
	}
	if len(out) < 3 {
		t.Fatalf("found only %d POST routes under %s: the grep is broken", len(out), dir)
	}
	return out
}

// routeMatches reports whether path is served by the pattern "POST /a/{x}/b".
func routeMatches(pattern, path string) bool {
	ps := strings.Split(strings.TrimPrefix(pattern, "POST "), "/")
	xs := strings.Split(path, "/")
	if len(ps) != len(xs) {
		return false
	}
	for i := range ps {
		if strings.HasPrefix(ps[i], "{") && strings.HasSuffix(ps[i], "}") {
			if xs[i] == "" {
				return false
			}
			continue
		}
		if ps[i] != xs[i] {
			return false
		}
	}
	return true
}

var formTagRe = regexp.MustCompile(`(?is)<form\b([^>]*)>`)
var methodAttrRe = regexp.MustCompile(`(?i)\bmethod\s*=\s*"([^"]*)"`)
var actionAttrRe = regexp.MustCompile(`(?i)\baction\s*=\s*"([^"]*)"`)

// postActions lists the targets of the POST forms of a page.
func postActions(body string) []string {
	var out []string
	for _, m := range formTagRe.FindAllStringSubmatch(body, -1) {
		mm := methodAttrRe.FindStringSubmatch(m[1])
		am := actionAttrRe.FindStringSubmatch(m[1])
		if mm == nil || !strings.EqualFold(mm[1], "post") || am == nil {
			continue
		}
		a := html.UnescapeString(am[1])
		if i := strings.IndexAny(a, "?#"); i >= 0 {
			a = a[:i]
		}
		out = append(out, a)
	}
	return out
}

func TestSecurityCSRFEveryPostRoute(t *testing.T) {
	ctx := context.Background()
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "OK") }))
	defer rcv.Close()
	e := newSecEnv(t, secSetup{EditA: func(st *store.Store) {
		st.ResultURL = rcv.URL + "/kb"
		st.CompletionURL = "https://shop.example.jp/thanks"
	}})
	_, acidA := e.signUp(secAidA, "csrf-ac", "4111111111111111", "123")
	authorized := e.mustCharge(secAidA, "csrf-auth", "AUTH", 1000, url.Values{"rt": {"0"}})
	captured := e.mustCharge(secAidA, "csrf-cap", "CAPTURE", 2000, url.Values{"rt": {"0"}})
	waitFor(t, "the kickbacks to be recorded", func() bool {
		kbs, _ := e.s.DB.KickbacksOf(ctx, secAidA, "", 10)
		return len(kbs) >= 2
	})
	kbs, err := e.s.DB.KickbacksOf(ctx, secAidA, "", 10)
	if err != nil {
		t.Fatal(err)
	}
	kbID := strconv.FormatInt(kbs[0].ID, 10)
	users, _ := e.s.DB.Users(ctx, secAidA)
	var clerk *store.User
	for _, u := range users {
		if u.Login == "clerk" {
			clerk = u
		}
	}
	year := time.Now().Year() + 1
	w, _ := maintenance.WallWindow(fmt.Sprintf("%d-04-15", year), "02:55", "04:30", "")
	added, err := e.s.DB.AddWindows(ctx, []maintenance.Window{w}, "ops")
	if err != nil {
		t.Fatal(err)
	}
	winID := strconv.FormatInt(added[0].ID, 10)
	stA0, _ := e.s.DB.GetStore(ctx, secAidA)
	stB0, _ := e.s.DB.GetStore(ctx, secAidB)
	// a convenience-store slip of store A, for the slip actions' probes (issue 13)
	ms := store.DefaultStoreMethods(secAidA)
	ms.Methods = []string{"card", "cvs", "bank"}
	e.s.DB.PutStoreMethods(ctx, ms)
	slipA := strings.Split(e.wire("POST", "/gateway/cvs2.aspx", url.Values{"aid": {secAidA}, "jb": {"CAPTURE"}, "rt": {"1"}, "cod": {"csrf-cvs"},
		"am": {"1000"}, "tx": {"0"}, "sf": {"0"}, "na": {"テスト"}, "cv": {"010"}}), ",")[0]

	owner := e.browser()
	owner.consoleLogin(secAidA, "owner", "")
	ownerB := e.browser()
	ownerB.consoleLogin(secAidB, "owner", "")
	ops := e.browser()
	ops.operatorLogin("")
	ops2 := e.browser()
	ops2.operatorLogin("")
	consoleTok, consoleTokB := owner.token("/console/"), ownerB.token("/console/")
	opsTok, opsTok2 := ops.token("/operator/"), ops2.token("/operator/")
	if consoleTok == consoleTokB || opsTok == opsTok2 {
		t.Fatal("two sessions share a CSRF token")
	}

	v := func(kv ...string) url.Values {
		out := url.Values{}
		for i := 0; i+1 < len(kv); i += 2 {
			out.Add(kv[i], kv[i+1])
		}
		return out
	}
	ypfx := strconv.Itoa(year)
	console := []csrfProbe{
		{"POST /console/login", "/console/login", v("aid", secAidA, "login", "owner", "password", secPass), true},
		{"POST /console/lang", "/console/lang", v("lang", "en", "next", "/console/"), true},
		{"POST /console/lang", "/console/lang", v("lang", "en", "next", "/console/"), false},
		{"POST /console/logout", "/console/logout", v(), false},
		{"POST /console/payments/{gid}/{action}", "/console/payments/" + authorized + "/sales", v("confirm", "yes"), false},
		{"POST /console/payments/{gid}/{action}", "/console/payments/" + authorized + "/cancel", v("confirm", "yes"), false},
		{"POST /console/payments/{gid}/{action}", "/console/payments/" + captured + "/refund", v("confirm", "yes", "amount", "100"), false},
		{"POST /console/payments/{gid}/{action}", "/console/payments/" + captured + "/cancel", v("confirm", "yes"), false},
		{"POST /console/autocharges/{acid}/stop", "/console/autocharges/" + acidA + "/stop", v("confirm", "yes"), false},
		{"POST /console/kickbacks/{id}/resend", "/console/kickbacks/" + kbID + "/resend", v(), false},
		{"POST /console/settings", "/console/settings", v("result_url", "https://evil.example/r", "completion_url", "https://evil.example/",
			"brand_VISA", "on", "allow_ips", "203.0.113.0/24"), false},
		{"POST /console/settings/authcode", "/console/settings/authcode", v("action", "regenerate"), false},
		{"POST /console/settings/products", "/console/settings/products", v("iid", "EVIL-1", "name", "evil", "am", "1"), false},
		{"POST /console/products", "/console/products", v("iid", "EVIL-2", "name", "evil", "am", "1", "actp", "4", "acam", "100"), false},
		{"POST /console/users", "/console/users", v("login", "evil", "password", "Evil-pass-2026-xyz", "role", "admin"), false},
		{"POST /console/users/{id}/{action}", fmt.Sprintf("/console/users/%d/delete", clerk.ID), v(), false},
		{"POST /console/users/{id}/{action}", fmt.Sprintf("/console/users/%d/role", clerk.ID), v("role", "admin"), false},
		{"POST /console/password", "/console/password", v("current", secPass, "new", "Evil-pass-2026-xyz", "confirm", "Evil-pass-2026-xyz"), false},
		{"POST /console/kickbacks/resend", "/console/kickbacks/resend", v("state", "delivered", "confirm", "yes"), false},
		{"POST /console/apikeys", "/console/apikeys", v("name", "evil"), false},
		{"POST /console/apikeys/{id}/revoke", "/console/apikeys/1/revoke", v(), false},
		{"POST /console/links", "/console/links", v("kind", "amount", "am", "1000", "tx", "0", "sf", "0", "days", "7"), false},
		{"POST /console/security/store", "/console/security/store", v("allow_ips", "203.0.113.0/24"), false},
		{"POST /console/slips/{gid}/{action}", "/console/slips/" + slipA + "/cancel", v(), false},
		{"POST /console/slips/{gid}/{action}", "/console/slips/" + slipA + "/sandbox-pay", v(), false},
		{"POST /console/slips/{gid}/{action}", "/console/slips/" + slipA + "/note", v("note", "forged"), false},
		{"POST /console/methods", "/console/methods", v("m_card", "on", "cvs_days", "1", "bank_days", "1"), false},
		{"POST /console/password/forgot", "/console/password/forgot", v("aid", secAidA, "login", "clerk"), true},
		{"POST /console/password/reset", "/console/password/reset", v("t", "x", "new", "Evil-pass-2026-xyz", "confirm", "Evil-pass-2026-xyz"), true},
		{"POST /console/password/email", "/console/password/email", v("email", "evil@example.com"), false},
	}
	operatorProbes := []csrfProbe{
		{"POST /operator/login", "/operator/login", v("login", "ops", "password", secPass), true},
		{"POST /operator/lang", "/operator/lang", v("lang", "en", "next", "/operator/"), true},
		{"POST /operator/lang", "/operator/lang", v("lang", "en", "next", "/operator/"), false},
		{"POST /operator/logout", "/operator/logout", v(), false},
		{"POST /operator/stores", "/operator/stores", v("aid", "777777", "name", "Evil Shop"), false},
		{"POST /operator/stores/{aid}", "/operator/stores/" + secAidB, v("name", "Evil", "min_amount", "0", "max_amount", "1"), false},
		{"POST /operator/stores/{aid}/suspend", "/operator/stores/" + secAidB + "/suspend", v("action", "suspend", "reason", "csrf", "confirm", "yes"), false},
		{"POST /operator/stores/{aid}/users", "/operator/stores/" + secAidB + "/users", v("login", "evil", "password", "Evil-pass-2026-xyz", "role", "admin"), false},
		{"POST /operator/maintenance/windows", "/operator/maintenance/windows", v("date", ypfx+"-06-17", "from", "02:55", "to", "04:30", "scope", "all"), false},
		{"POST /operator/maintenance/windows/{id}/{action}", "/operator/maintenance/windows/" + winID + "/move", v("date", ypfx+"-04-22", "from", "01:00", "to", "02:00"), false},
		{"POST /operator/maintenance/windows/{id}/{action}", "/operator/maintenance/windows/" + winID + "/cancel", v("reason", "csrf"), false},
		{"POST /operator/maintenance/windows/{id}/{action}", "/operator/maintenance/windows/" + winID + "/extend", v("minutes", "60"), false},
		{"POST /operator/maintenance/windows/{id}/{action}", "/operator/maintenance/windows/" + winID + "/end", v("reason", "csrf"), false},
		{"POST /operator/maintenance/draft", "/operator/maintenance/draft", v("year", ypfx, "rrule", "FREQ=MONTHLY;BYDAY=3WE", "from", "02:55", "to", "04:30"), false},
		{"POST /operator/maintenance/draft/add", "/operator/maintenance/draft/add", v("date", ypfx+"-07-15", "from", "02:55", "to", "04:30", "scope", "all"), false},
		{"POST /operator/maintenance/publish", "/operator/maintenance/publish", v("year", ypfx, "confirm", "yes"), false},
		{"POST /operator/maintenance/emergency", "/operator/maintenance/emergency", v("minutes", "30", "scope", "all", "confirm", "yes", "reason", "csrf"), false},
		{"POST /operator/stores/{aid}/users/{id}/mfa-reset", fmt.Sprintf("/operator/stores/%s/users/%d/mfa-reset", secAidA, clerk.ID), v("reason", "csrf"), false},
		{"POST /operator/stores/{aid}/users/{id}/password-reset", fmt.Sprintf("/operator/stores/%s/users/%d/password-reset", secAidA, clerk.ID), v("reason", "csrf"), false},
	}

	// every registered POST route has a probe, and every probe names a registered route
	srcConsole := routePatterns(t, "../web/console", "console")
	srcOperator := routePatterns(t, "../web/operator", "operator")
	covered := func(pattern string, probes []csrfProbe) bool {
		return slices.ContainsFunc(probes, func(p csrfProbe) bool { return p.pattern == pattern })
	}
	for _, p := range srcConsole {
		if !covered(p, console) {
			t.Errorf("registered route %q has no CSRF probe: add it to the table", p)
		}
	}
	for _, p := range srcOperator {
		if !covered(p, operatorProbes) {
			t.Errorf("registered route %q has no CSRF probe: add it to the table", p)
		}
	}
	console = slices.DeleteFunc(console, func(p csrfProbe) bool { return !slices.Contains(srcConsole, p.pattern) })
	operatorProbes = slices.DeleteFunc(operatorProbes, func(p csrfProbe) bool { return !slices.Contains(srcOperator, p.pattern) })

	// crawl the main pages for their POST forms: each must be a probed route, and is probed too
	crawl := func(b *secBrowser, pages []string, probes []csrfProbe, patterns []string) []string {
		var acts []string
		for _, p := range pages {
			r := b.get(p)
			if r.Status == http.StatusNotFound {
				continue
			}
			if r.Status != 200 {
				t.Errorf("crawl %s: HTTP %d", p, r.Status)
			}
			for _, a := range postActions(r.Body) {
				if slices.Contains(acts, a) {
					continue
				}
				acts = append(acts, a)
				if !slices.ContainsFunc(patterns, func(pt string) bool { return routeMatches(pt, a) }) {
					t.Errorf("page %s posts to %s, which matches no registered route", p, a)
				} else if !slices.ContainsFunc(probes, func(pr csrfProbe) bool { return routeMatches(pr.pattern, a) }) {
					t.Errorf("page %s posts to %s, which no probe covers", p, a)
				}
			}
		}
		return acts
	}
	consoleActs := crawl(owner, []string{"/console/", "/console/payments", "/console/payments/" + authorized, "/console/payments/" + captured,
		"/console/kickbacks", "/console/settings", "/console/users", "/console/password", "/console/help", "/console/autocharges",
		"/console/autocharges/" + acidA, "/console/links", "/console/products", "/console/apikeys", "/console/security", "/console/payments/" + slipA, "/console/methods"}, console, srcConsole)
	opActs := crawl(ops, []string{"/operator/", "/operator/stores", "/operator/stores/" + secAidB, fmt.Sprintf("/operator/maintenance?year=%d", year),
		fmt.Sprintf("/operator/maintenance/notice?year=%d", year), "/operator/email", "/operator/audit", "/operator/help"}, operatorProbes, srcOperator)
	if len(consoleActs) < 8 || len(opActs) < 8 {
		t.Errorf("the crawl found few forms: console %v, operator %v", consoleActs, opActs)
	}
	for _, a := range consoleActs {
		if a != "/console/login" && a != "/console/lang" {
			console = append(console, csrfProbe{pattern: "crawled", path: a, form: v()})
		}
	}
	for _, a := range opActs {
		if a != "/operator/login" && a != "/operator/lang" {
			operatorProbes = append(operatorProbes, csrfProbe{pattern: "crawled", path: a, form: v()})
		}
	}

	type variant struct {
		name   string
		token  string
		omit   bool
		origin string
	}
	run := func(b *secBrowser, probes []csrfProbe, own, otherSession, otherConsole, sessionCookie, base string) {
		for _, p := range probes {
			if p.pre {
				// a signed-out browser with its own pre-login token
				fresh := e.browser()
				pre := fresh.token(base + "/login")
				stranger := e.browser()
				strangerPre := stranger.token(base + "/login")
				for _, vr := range []variant{{name: "no token", omit: true}, {name: "empty token"}, {name: "wrong token", token: "forged-" + strings.Repeat("x", 40)},
					{name: "another browser's pre-login token", token: strangerPre}, {name: "foreign Origin", token: pre, origin: "https://evil.example"}} {
					f := url.Values{}
					for k, x := range p.form {
						f[k] = x
					}
					if !vr.omit {
						f.Set("csrf", vr.token)
					}
					hdr := map[string]string{}
					if vr.origin != "" {
						hdr["Origin"] = vr.origin
					}
					r := fresh.do("POST", p.path, f, hdr)
					if r.Status != http.StatusForbidden {
						t.Errorf("signed out POST %s with %s: HTTP %d, want 403", p.path, vr.name, r.Status)
					}
					for _, c := range (&http.Response{Header: r.Header}).Cookies() {
						if c.Name == sessionCookie && c.Value != "" || c.Name == "kessai_lang" {
							t.Errorf("signed out POST %s with %s set cookie %s", p.path, vr.name, c.Name)
						}
					}
				}
				continue
			}
			for _, vr := range []variant{{name: "no token", omit: true}, {name: "empty token"}, {name: "wrong token", token: "forged-" + strings.Repeat("x", 40)},
				{name: "a token one character off", token: offByOne(own)},
				{name: "another session's token", token: otherSession}, {name: "the other console's token", token: otherConsole},
				{name: "the right token from a foreign Origin", token: own, origin: "https://evil.example"},
				{name: "the right token from a look-alike Origin", token: own, origin: strings.Replace(e.s.URL, "127.0.0.1", "127.0.0.1.evil.example", 1)}} {
				f := url.Values{}
				for k, x := range p.form {
					f[k] = x
				}
				if !vr.omit {
					f.Set("csrf", vr.token)
				}
				hdr := map[string]string{}
				if vr.origin != "" {
					hdr["Origin"] = vr.origin
				}
				r := b.do("POST", p.path, f, hdr)
				if r.Status != http.StatusForbidden {
					t.Errorf("POST %s (%s) with %s: HTTP %d, want 403", p.path, p.pattern, vr.name, r.Status)
				}
			}
			// the right token, by another method: never the action (a GET may show a page of the
			// same path; the side effects are checked at the end)
			f := url.Values{}
			for k, x := range p.form {
				f[k] = x
			}
			f.Set("csrf", own)
			for _, m := range []string{"GET", "PUT", "PATCH", "DELETE"} {
				r := b.do(m, p.path, f, nil) // a GET carries the form in its query
				if m != "GET" && r.Status < 400 || r.Status == http.StatusSeeOther {
					t.Errorf("%s %s with the right token: HTTP %d", m, p.path, r.Status)
				}
			}
		}
	}
	n0 := len(e.rec.list())
	run(owner, console, consoleTok, consoleTokB, opsTok, "kessai_console", "/console")
	run(ops, operatorProbes, opsTok, opsTok2, consoleTok, "kessai_operator", "/operator")
	t.Logf("%d routes registered (%d console, %d operator); forms crawled: console %v, operator %v; %d forged requests",
		len(srcConsole)+len(srcOperator), len(srcConsole), len(srcOperator), consoleActs, opActs, len(e.rec.list())-n0)

	// nothing happened
	stA, _ := e.s.DB.GetStore(ctx, secAidA)
	if stA.ResultURL != stA0.ResultURL || stA.CompletionURL != stA0.CompletionURL || stA.AuthCode != stA0.AuthCode ||
		strings.Join(stA.AllowIPs, ",") != strings.Join(stA0.AllowIPs, ",") || strings.Join(stA.Brands, ",") != strings.Join(stA0.Brands, ",") {
		t.Errorf("store A's settings changed by forged requests: %+v", stA)
	}
	if prods, _ := e.s.DB.Products(ctx, secAidA); len(prods) != 0 {
		t.Errorf("a forged request added products: %+v", prods)
	}
	if us, _ := e.s.DB.Users(ctx, secAidA); len(us) != 2 {
		t.Errorf("store A has %d users after forged requests, want 2", len(us))
	}
	if u, err := e.s.DB.UserByID(ctx, secAidA, clerk.ID); err != nil || u.Role != store.RoleViewer {
		t.Errorf("the viewer was deleted or promoted by a forged request: %+v %v", u, err)
	}
	if a := e.plan(secAidA, acidA); a.Status != store.ACActive {
		t.Errorf("the auto-charge was stopped by a forged request: %s", a.Status)
	}
	if p := e.payment(secAidA, authorized); p.Status != store.StatusAuthorized || p.Captured != 0 {
		t.Errorf("the authorized payment was acted on: status %s captured %d", p.Status, p.Captured)
	}
	if p := e.payment(secAidA, captured); p.Status != store.StatusCaptured || p.Refunded != 0 {
		t.Errorf("the captured payment was acted on: status %s refunded %d", p.Status, p.Refunded)
	}
	check := e.browser()
	check.consoleLogin(secAidA, "owner", "") // the password did not change
	if r := owner.get("/console/"); r.Status != 200 || !strings.Contains(r.Body, `lang="ja"`) {
		t.Errorf("the owner's session ended or switched language after forged requests: HTTP %d", r.Status)
	}
	if r := ops.get("/operator/"); r.Status != 200 || !strings.Contains(r.Body, `lang="ja"`) {
		t.Errorf("the operator's session ended or switched language after forged requests: HTTP %d", r.Status)
	}
	ss, _ := e.s.DB.ListStores(ctx)
	if len(ss) != 2 {
		t.Errorf("%d stores after forged requests, want 2", len(ss))
	}
	stB, _ := e.s.DB.GetStore(ctx, secAidB)
	if stB.Suspended || stB.Name != stB0.Name || stB.MaxAmount != stB0.MaxAmount {
		t.Errorf("store B changed by forged requests: %+v", stB)
	}
	if us, _ := e.s.DB.Users(ctx, secAidB); len(us) != 1 {
		t.Errorf("store B has %d users after forged requests, want 1", len(us))
	}
	wins, _ := e.s.DB.Windows(ctx)
	if len(wins) != 1 || wins[0].Status != maintenance.StatusPlanned || wins[0].Revision != 0 || !wins[0].Start.Equal(added[0].Start) || !wins[0].End.Equal(added[0].End) {
		t.Errorf("the schedule changed by forged requests: %+v", wins)
	}
	if e.s.Maint.Active(time.Now()) != nil {
		t.Error("an emergency window started from a forged request")
	}
	es, _ := e.s.DB.AuditLog(ctx, store.AuditFilter{Limit: 1000})
	for _, x := range es {
		if x.Action != "login" {
			t.Errorf("audit log has %q (%s) after forged requests", x.Action, x.Detail)
		}
	}
}

// ---------------------------------------------------------------------------------------------
// 3. SQL injection through the search fields

var sqlPayloads = []string{
	`' OR '1'='1`,
	`' OR '1'='1' --`,
	`1' OR '1'='1`,
	`1; DROP TABLE payments;--`,
	`'; DROP TABLE payments; --`,
	`%' OR 1=1 --`,
	`%`,
	`_`,
	`%%`,
	`!%`,
	`') OR ('1'='1`,
	`" OR ""="`,
	`1 OR 1=1`,
	`' UNION SELECT gid, aid, cod FROM payments --`,
	`'||(SELECT cod FROM payments WHERE aid='654321')||'`,
	`654321' OR aid='654321`,
	`\'; DELETE FROM payments; --`,
	`0x31`,
	`1e3`,
	`-1`,
	`$1`,
	`?`,
}

var totalRe = regexp.MustCompile(`id="total">(\d+)<`)

func TestSecuritySQLInjectionInSearch(t *testing.T) {
	ctx := context.Background()
	e := newSecEnv(t, secSetup{})
	var gidsA, gidsB []string
	for i := range 3 {
		gidsA = append(gidsA, e.mustCharge(secAidA, fmt.Sprintf("A-%d", i), "CAPTURE", 1000+i, url.Values{"em": {"a@shop-a.example"}}))
		gidsB = append(gidsB, e.mustCharge(secAidB, fmt.Sprintf("BSECRET-%d", i), "CAPTURE", 1000+i, url.Values{"em": {"b-secret@shop-b.example"}}))
	}
	count := func(q string, args ...any) int {
		var n int
		if err := e.s.DB.QueryRow(ctx, q, args...).Scan(&n); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		return n
	}
	all0, b0 := count(`SELECT COUNT(*) FROM payments`), count(`SELECT COUNT(*) FROM payments WHERE aid = ?`, secAidB)

	owner := e.browser()
	owner.consoleLogin(secAidA, "owner", "")
	ops := e.browser()
	ops.operatorLogin("")
	leaks := func(r secResp) []string {
		var out []string
		for _, g := range gidsB {
			if strings.Contains(r.Body, g) {
				out = append(out, g)
			}
		}
		for _, s := range []string{"BSECRET", "b-secret@"} {
			if strings.Contains(r.Body, s) {
				out = append(out, s)
			}
		}
		return out
	}
	for _, field := range []string{"cod", "gid", "em", "last4", "amount", "from", "to", "status"} {
		for _, p := range sqlPayloads {
			q := url.Values{field: {p}}
			r := owner.get("/console/payments?" + q.Encode())
			if r.Status >= 500 {
				t.Errorf("search %s=%q: HTTP %d", field, p, r.Status)
				continue
			}
			if l := leaks(r); len(l) > 0 {
				t.Errorf("search %s=%q shows store B's payments: %v", field, p, l)
			}
			if m := totalRe.FindStringSubmatch(r.Body); m == nil {
				t.Errorf("search %s=%q: no result count (HTTP %d)", field, p, r.Status)
			} else {
				n, _ := strconv.Atoi(m[1])
				if n > len(gidsA) {
					t.Errorf("search %s=%q matches %d payments; store A has %d", field, p, n, len(gidsA))
				}
				// a LIKE wildcard typed as an order number is a character, not "anything"
				if field == "cod" && strings.ContainsAny(p, "%_") && n != 0 {
					t.Errorf("cod search %q matched %d payments: the LIKE wildcard was not escaped", p, n)
				}
			}
			csv := owner.get("/console/payments.csv?" + q.Encode())
			if csv.Status >= 500 {
				t.Errorf("CSV %s=%q: HTTP %d", field, p, csv.Status)
			}
			if l := leaks(csv); len(l) > 0 {
				t.Errorf("CSV %s=%q exports store B's payments: %v", field, p, l)
			}
		}
	}
	for _, p := range sqlPayloads {
		if r := owner.get("/console/kickbacks?gid=" + url.QueryEscape(p)); r.Status >= 500 || len(leaks(r)) > 0 {
			t.Errorf("kickbacks gid=%q: HTTP %d leaks %v", p, r.Status, leaks(r))
		}
		if r := owner.get("/console/payments/" + url.PathEscape(p)); r.Status >= 500 || len(leaks(r)) > 0 {
			t.Errorf("payment %q: HTTP %d leaks %v", p, r.Status, leaks(r))
		}
		q := url.Values{"aid": {p}, "actor": {p}, "action": {p}, "before": {p}}
		if r := ops.get("/operator/audit?" + q.Encode()); r.Status >= 500 {
			t.Errorf("operator audit search %q: HTTP %d", p, r.Status)
		}
		if r := ops.get("/operator/stores/" + url.PathEscape(p)); r.Status >= 500 {
			t.Errorf("operator store %q: HTTP %d", p, r.Status)
		}
		// the sign-in forms take the same kind of text
		b := e.browser()
		r := b.post("/console/login", url.Values{"csrf": {b.token("/console/login")}, "aid": {p}, "login": {p}, "password": {p}})
		if r.Status >= 500 || r.Status == http.StatusSeeOther {
			t.Errorf("console sign-in with %q: HTTP %d", p, r.Status)
		}
	}
	if r := owner.get("/console/payments?em=" + url.QueryEscape("A@SHOP-A.EXAMPLE")); !strings.Contains(r.Body, `id="total">3<`) {
		t.Errorf("the search itself is broken (e-mail search found nothing), so the probes above prove little")
	}
	if all, b := count(`SELECT COUNT(*) FROM payments`), count(`SELECT COUNT(*) FROM payments WHERE aid = ?`, secAidB); all != all0 || b != b0 {
		t.Errorf("payments changed: %d rows (store B %d), were %d (%d)", all, b, all0, b0)
	}
	for _, tbl := range []string{"stores", "users", "payments", "audit_log"} {
		count(`SELECT COUNT(*) FROM ` + tbl)
	}
	for _, g := range gidsB {
		if p := e.payment(secAidB, g); p.Status != store.StatusCaptured {
			t.Errorf("store B payment %s: %s", g, p.Status)
		}
	}
}

// TestSecuritySQLNulByteInText sends a NUL byte in the panel's and the console's free-text
// inputs. The wire surfaces refuse control characters (ER001); these must answer below 500 too,
// on both engines, and an action that is done must be in the audit log.
func TestSecuritySQLNulByteInText(t *testing.T) {
	ctx := context.Background()
	e := newSecEnv(t, secSetup{})
	e.mustCharge(secAidA, "nul-1", "CAPTURE", 1000, nil)
	owner := e.browser()
	owner.consoleLogin(secAidA, "owner", "")
	ops := e.browser()
	ops.operatorLogin("")
	const nul = "a\x00b"
	year := time.Now().Year() + 1
	for _, g := range []string{"/console/payments?cod=%00", "/console/payments?em=a%00b", "/console/payments.csv?em=%00",
		"/console/kickbacks?gid=%00", "/console/autocharges?cod=%00"} {
		if r := owner.get(g); r.Status >= 500 {
			t.Errorf("GET %s: HTTP %d", g, r.Status)
		}
	}
	if r := ops.get("/operator/audit?actor=%00"); r.Status >= 500 {
		t.Errorf("GET /operator/audit?actor=%%00: HTTP %d", r.Status)
	}
	for _, c := range []struct {
		b          *secBrowser
		from, path string
		f          url.Values
	}{
		{owner, "/console/settings", "/console/settings", url.Values{"notify_email": {"x@shop.example" + nul}, "brand_VISA": {"on"}}},
		{owner, "/console/settings", "/console/settings/products", url.Values{"iid": {"P1"}, "name": {nul}, "am": {"100"}}},
		{ops, "/operator/stores", "/operator/stores", url.Values{"aid": {"777777"}, "name": {nul}}},
		{ops, "/operator/stores", "/operator/stores/" + secAidB, url.Values{"name": {nul}, "min_amount": {"0"}, "max_amount": {"100"}}},
		{ops, "/operator/maintenance", "/operator/maintenance/windows", url.Values{"date": {fmt.Sprintf("%d-04-15", year)}, "from": {"02:55"},
			"to": {"04:30"}, "title_ja": {nul}}},
		{ops, "/operator/maintenance", "/operator/maintenance/emergency", url.Values{"minutes": {"1"}, "scope": {"CHECK"}, "confirm": {"yes"},
			"reason": {nul}}},
	} {
		c.f.Set("csrf", c.b.token(c.from))
		if r := c.b.post(c.path, c.f); r.Status >= 500 {
			t.Errorf("POST %s with a NUL byte: HTTP %d", c.path, r.Status)
		}
	}
	for _, login := range []struct{ path, field string }{{"/console/login", "aid"}, {"/console/login", "login"}, {"/operator/login", "login"}} {
		b := e.browser()
		f := url.Values{"csrf": {b.token(login.path)}, "aid": {secAidA}, "login": {"owner"}, "password": {"wrong-password"}}
		f.Set(login.field, nul)
		if r := b.post(login.path, f); r.Status >= 500 {
			t.Errorf("POST %s with a NUL byte in %s (signed out): HTTP %d", login.path, login.field, r.Status)
		}
	}
	// an operator's action with a NUL in its reason: refused, or done and audited
	before, _ := e.s.DB.AuditLog(ctx, store.AuditFilter{Action: "store.suspend", Limit: 100})
	r := ops.post("/operator/stores/"+secAidA+"/suspend", url.Values{"csrf": {ops.token("/operator/stores/" + secAidA)}, "action": {"suspend"},
		"reason": {"unpaid" + nul}})
	st, _ := e.s.DB.GetStore(ctx, secAidA)
	after, _ := e.s.DB.AuditLog(ctx, store.AuditFilter{Action: "store.suspend", Limit: 100})
	if st.Suspended && len(after) != len(before)+1 {
		t.Errorf("store %s was suspended (HTTP %d) but the audit log has no entry for it (%d before, %d after)", secAidA, r.Status, len(before), len(after))
	}
}

// ---------------------------------------------------------------------------------------------
// 4. Open redirects

var evilParams = []string{"url", "return_url", "returnUrl", "returnURL", "success_url", "successUrl", "cancel_url", "failure_url", "error_url",
	"next", "redirect", "redirect_url", "redirect_uri", "redirectTo", "continue", "return", "return_to", "callback", "callback_url", "back",
	"back_url", "completion_url", "complete_url", "ok_url", "ng_url", "goto", "dest", "destination", "target", "forward", "location", "done"}

// browserTarget is where a browser goes for a Location or link value, read as the URL standard
// reads it: surrounding controls and spaces dropped, tabs and newlines removed, backslashes as
// slashes before the query, and for http(s) any number of leading slashes introducing a host
// ("///evil.example", "https:evil.example" from an http page).
func browserTarget(base, ref string) (*url.URL, error) {
	ref = strings.TrimFunc(ref, func(r rune) bool { return r <= ' ' })
	ref = strings.NewReplacer("\t", "", "\n", "", "\r", "").Replace(ref)
	if i := strings.IndexAny(ref, "?#"); i >= 0 {
		ref = strings.ReplaceAll(ref[:i], `\`, "/") + ref[i:]
	} else {
		ref = strings.ReplaceAll(ref, `\`, "/")
	}
	b, err := url.Parse(base)
	if err != nil {
		return nil, err
	}
	scheme, rest := "", ref
	if m := schemeRe.FindStringSubmatch(ref); m != nil {
		scheme, rest = strings.ToLower(m[1]), ref[len(m[0]):]
	}
	special := scheme == "http" || scheme == "https"
	switch {
	case scheme != "" && !special:
		return url.Parse(ref) // javascript:, data:, mailto: … as written
	case special && scheme != b.Scheme, strings.HasPrefix(rest, "//"):
		// an authority follows, however many slashes precede it
		if scheme == "" {
			scheme = b.Scheme
		}
		return url.Parse(scheme + "://" + strings.TrimLeft(rest, "/"))
	case special:
		ref = rest // "http:/path" or "http:path" on an http page: relative
	}
	u, err := url.Parse(ref)
	if err != nil {
		return nil, err
	}
	return b.ResolveReference(u), nil
}

var schemeRe = regexp.MustCompile(`^([A-Za-z][A-Za-z0-9+.-]*):`)

// offSite checks that every redirect and every link, form and resource of an answer stays on
// the server, or goes to one of allowed hosts.
func offSite(t errorer, r secResp, server string, allowed ...string) {
	t.Helper()
	su, _ := url.Parse(server)
	ok := func(u *url.URL) bool {
		if u.Scheme == "mailto" || u.Scheme == "tel" {
			return true
		}
		h := strings.ToLower(u.Host)
		if h == "" && u.Opaque == "" && u.Scheme == su.Scheme {
			return true // "http:/path" on an http page: a path on the same host
		}
		return h == strings.ToLower(su.Host) || slices.Contains(allowed, h)
	}
	if loc := r.Header.Get("Location"); loc != "" {
		u, err := browserTarget(r.URL, loc)
		if err != nil || !ok(u) || strings.Contains(strings.ToLower(u.Host), "evil") {
			t.Errorf("%s %s redirects off-site: Location %q (%v)", r.Method, r.URL, loc, err)
		}
	}
	if refresh := r.Header.Get("Refresh"); refresh != "" {
		t.Errorf("%s %s: Refresh header %q", r.Method, r.URL, refresh)
	}
	if !r.html() {
		return
	}
	for _, tg := range secTags(r.Body) {
		for _, a := range tg.attrs {
			if !slices.Contains(urlAttrs, a[0]) {
				continue
			}
			u, err := browserTarget(r.URL, html.UnescapeString(a[1]))
			if err != nil || !ok(u) {
				t.Errorf("%s %s: %s leads off-site (%v)", r.Method, r.URL, tg.raw, err)
			}
		}
	}
}

func TestSecurityOpenRedirect(t *testing.T) {
	e := newSecEnv(t, secSetup{EditA: func(st *store.Store) { st.CompletionURL = "https://shop.example.jp/thanks?from=kessai" }})
	evil := "https://evil.example/"
	// The redirect-like parameters go in chunks of four: free parameters are limited to 1024 bytes
	// in all, and the card form's own fields (the signed order among them) count against it.
	var chunks [][]string
	for i := 0; i < len(evilParams); i += 4 {
		chunks = append(chunks, evilParams[i:min(i+4, len(evilParams))])
	}
	var names []string
	order := func(aid, cod string, names []string) url.Values {
		v := url.Values{"aid": {aid}, "jb": {"CAPTURE"}, "am": {"1000"}, "tx": {"0"}, "sf": {"0"}, "cod": {cod}, "inm": {"tea"}}
		for _, p := range names {
			v.Set(p, evil)
		}
		return v
	}
	withEvil := func(v url.Values) url.Values {
		for _, p := range names {
			v.Set(p, "//evil.example/")
		}
		return v
	}

	// every step of the hosted flow: entry, decline, 3-D Secure, success, result, language switch
	type flow struct {
		name  string
		aid   string
		get   bool
		cards []string
		ret   string // the allowed host of the result page's return link, "" when none
	}
	flows := []flow{
		{"POST entry, approved", secAidA, false, []string{"4111111111111111"}, "shop.example.jp"},
		{"GET entry, declined then approved", secAidA, true, []string{"4000000000000002", "4111111111111111"}, "shop.example.jp"},
		{"3-D Secure challenge", secAidA, false, []string{"4000000000003220"}, "shop.example.jp"},
		{"store without a completion URL", secAidB, false, []string{"4111111111111111"}, ""},
	}
	for i, chunk := range chunks {
		f := flows[i%len(flows)]
		f.name = fmt.Sprintf("%s (%s)", f.name, strings.Join(chunk, ","))
		names = chunk
		t.Run(f.name, func(t *testing.T) {
			b := e.browser()
			start := len(e.rec.list())
			var entry secResp
			if f.get {
				entry = b.do("GET", "/link/creditcard", order(f.aid, fmt.Sprintf("redir-%d", i), names), nil)
			} else {
				entry = b.post("/link/creditcard", order(f.aid, fmt.Sprintf("redir-%d", i), names))
			}
			if entry.Status != 200 {
				t.Fatalf("entry: HTTP %d\n%.3000s", entry.Status, entry.Body)
			}
			s := hostedSession(t, entry)
			lang := withEvil(url.Values{"lang": {"en"}})
			for k, x := range s {
				lang[k] = x
			}
			b.follow(b.post("/link/creditcard/lang", lang))
			var last secResp
			for _, cn := range f.cards {
				last = b.post("/link/creditcard/pay", withEvil(cardFields(s, cn, "123", "TARO YAMADA")))
				for n := 0; n < 5 && last.Status >= 300 && last.Status < 400; n++ {
					last = b.follow(last)
				}
				if strings.Contains(last.URL, "/link/creditcard/3ds") {
					m := secSandboxCodeRe.FindStringSubmatch(last.Body)
					if m == nil {
						t.Fatalf("no sandbox code on the challenge page:\n%.2000s", last.Body)
					}
					tf := withEvil(url.Values{"otp": {m[1]}, "action": {"authenticate"}})
					for k, x := range s {
						if k != "d" {
							tf[k] = x
						}
					}
					last = b.post("/link/creditcard/3ds", tf)
					for n := 0; n < 5 && last.Status >= 300 && last.Status < 400; n++ {
						last = b.follow(last)
					}
				}
			}
			if slices.Contains(f.cards, "4000000000003220") && !slices.ContainsFunc(e.rec.list()[start:], func(r secResp) bool {
				return strings.Contains(r.URL, "/link/creditcard/3ds")
			}) {
				t.Error("the 3-D Secure card never reached the challenge page")
			}
			if !strings.Contains(last.URL, "/link/creditcard/result") || last.Status != 200 {
				t.Fatalf("the flow did not end on the result page: HTTP %d %s\n%.2000s", last.Status, last.URL, last.Body)
			}
			b.get(strings.Replace(last.URL, "result?", "result?lang=en&", 1))
			ret := regexp.MustCompile(`id="return"[^>]*href="([^"]*)"`).FindStringSubmatch(last.Body)
			if f.ret == "" {
				if ret != nil {
					t.Errorf("a store without a completion URL got a return link %q", ret[1])
				}
			} else {
				if ret == nil {
					t.Fatal("no return link to the store")
				}
				u, err := browserTarget(last.URL, html.UnescapeString(ret[1]))
				if err != nil || u.Scheme != "https" || u.Host != f.ret || u.Path != "/thanks" || u.User != nil {
					t.Errorf("return link %q goes to %v (%v), want https://%s/thanks", ret[1], u, err, f.ret)
				}
			}
			allowed := []string{}
			if f.ret != "" {
				allowed = append(allowed, f.ret)
			}
			for _, r := range e.rec.list()[start:] {
				offSite(t, r, e.s.URL, allowed...)
			}
		})
	}

	// the sign-in forms' and language switch's "next"
	nexts := []string{"https://evil.example/", "http://evil.example", "//evil.example", "///evil.example", "////evil.example", `/\evil.example`,
		`\\evil.example`, `\/evil.example`, "https:evil.example", "https:/evil.example", "/%2F%2Fevil.example", "/%5Cevil.example",
		" //evil.example", "\t//evil.example", "/\t/evil.example", "javascript:alert(1)", "data:text/html,x", "//evil.example@127.0.0.1/",
		"http://127.0.0.1.evil.example/", "@evil.example", ".evil.example"}
	for _, c := range []struct{ base, sessionCookie string }{{"/console", "kessai_console"}, {"/operator", "kessai_operator"}} {
		all := slices.Clone(nexts)
		for _, n := range nexts {
			if strings.HasPrefix(n, "/") || strings.HasPrefix(n, `\`) {
				all = append(all, c.base+n, c.base+"/.."+n, c.base+"/../.."+n, c.base+"/..;"+n, c.base+"/%2e%2e"+n)
			}
		}
		all = append(all, c.base+"/../\t/evil.example", c.base+"/..\t//evil.example", c.base+"@evil.example", c.base+".evil.example/",
			c.base+"/..//evil.example", c.base+"/\\..\\..\\evil.example", c.base+"/../\\evil.example")
		for _, n := range all {
			login := func(b *secBrowser) secResp {
				if c.base == "/console" {
					return b.consoleLogin(secAidA, "owner", n)
				}
				return b.operatorLogin(n)
			}
			b := e.browser()
			form := b.get(c.base + "/login?next=" + url.QueryEscape(n))
			offSite(t, form, e.s.URL)
			if m := regexp.MustCompile(`name="next" value="([^"]*)"`).FindStringSubmatch(form.Body); m != nil {
				if u, err := browserTarget(form.URL, html.UnescapeString(m[1])); err != nil || u.Host != strings.TrimPrefix(e.s.URL, "http://") {
					t.Errorf("%s/login?next=%q carries next=%q into the form", c.base, n, m[1])
				}
			}
			offSite(t, login(b), e.s.URL)
			// already signed in, the form redirects at once
			offSite(t, b.get(c.base+"/login?next="+url.QueryEscape(n)), e.s.URL)
			offSite(t, b.post(c.base+"/lang", url.Values{"csrf": {b.token(c.base + "/")}, "lang": {"ja"}, "next": {n}}), e.s.URL)
			out := e.browser()
			offSite(t, out.post(c.base+"/lang", url.Values{"csrf": {out.token(c.base + "/login")}, "lang": {"ja"}, "next": {n}}), e.s.URL)
		}
	}
}

// ---------------------------------------------------------------------------------------------
// 5. Another store's objects by guessed IDs

func gidPlus(t *testing.T, gid string, d int64) string {
	n, ok := new(big.Int).SetString(gid, 10)
	if !ok {
		t.Fatalf("gid %q is not a number", gid)
	}
	n.Add(n, big.NewInt(d))
	out := n.String()
	if len(out) < len(gid) {
		out = strings.Repeat("0", len(gid)-len(out)) + out
	}
	return out
}

func TestSecurityGuessedIDsOfAnotherStore(t *testing.T) {
	ctx := context.Background()
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "OK") }))
	defer rcv.Close()
	e := newSecEnv(t, secSetup{EditB: func(st *store.Store) { st.ResultURL = rcv.URL + "/kb" }})
	// interleaved, concurrent payments of both stores, so neighbouring gids belong to the other store
	var mu sync.Mutex
	var wg sync.WaitGroup
	owner := map[string]string{}
	for i := range 24 {
		aid, jb := secAidA, "AUTH"
		if i%2 == 1 {
			aid = secAidB
		}
		if i%4 >= 2 {
			jb = "CAPTURE"
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			// store B's by rt=0, so they have kickbacks
			rt := "1"
			if aid == secAidB {
				rt = "0"
			}
			cod := fmt.Sprintf("g-%02d", i)
			v := url.Values{"aid": {aid}, "jb": {jb}, "rt": {rt}, "cod": {cod}, "am": {"1000"}, "tx": {"0"}, "sf": {"0"},
				"cn": {"4111111111111111"}, "ed": {secExpiry()}, "cvv": {"123"}}
			resp, err := testenv.Client.PostForm(e.s.URL+"/gateway/gateway.aspx", v)
			if err != nil {
				t.Error(err)
				return
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			gid := ""
			if cols := strings.Split(strings.TrimSpace(string(b)), ","); len(cols) >= 14 && cols[1] == "1" {
				gid = cols[0]
			} else if string(b) == "OK" {
				ps, _, err := e.s.DB.SearchPayments(ctx, store.PaymentFilter{AID: aid, Cod: cod, Limit: 2})
				if err == nil && len(ps) == 1 {
					gid = ps[0].Gid
				}
			}
			if gid == "" {
				t.Errorf("charge: %q", b)
				return
			}
			mu.Lock()
			owner[gid] = aid
			mu.Unlock()
		}()
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	var gidsB []string
	for g, aid := range owner {
		if aid == secAidB {
			gidsB = append(gidsB, g)
		}
	}
	slices.Sort(gidsB)
	before := map[string]*store.Payment{}
	for _, g := range gidsB {
		before[g] = e.payment(secAidB, g)
	}

	a := e.browser()
	a.consoleLogin(secAidA, "owner", "")
	tok := a.token("/console/")
	for g, aid := range owner { // control: the store's own payments are there
		if aid == secAidA {
			if r := a.get("/console/payments/" + g); r.Status != 200 || !strings.Contains(r.Body, g) {
				t.Fatalf("store A's own payment %s: HTTP %d", g, r.Status)
			}
			break
		}
	}
	neighbours := 0
	tried := map[string]bool{}
	for _, g := range gidsB {
		for _, d := range []int64{0, -1, 1, -2, 2, -4096, 4096} {
			c := gidPlus(t, g, d)
			if tried[c] || owner[c] == secAidA {
				continue // store A's own payment: not a guess
			}
			tried[c] = true
			if d != 0 && owner[c] == secAidB {
				neighbours++
			}
			if r := a.get("/console/payments/" + c); r.Status != http.StatusNotFound {
				t.Errorf("GET another store's (or no) payment %s (B's %s%+d): HTTP %d", c, g, d, r.Status)
			}
			for _, act := range []string{"sales", "cancel", "refund"} {
				f := url.Values{"csrf": {tok}, "confirm": {"yes"}}
				if act == "refund" {
					f.Set("amount", "100")
				}
				if r := a.post("/console/payments/"+c+"/"+act, f); r.Status != http.StatusNotFound {
					t.Errorf("POST %s on payment %s (B's %s%+d): HTTP %d, want 404", act, c, g, d, r.Status)
				}
				f.Del("confirm")
				if r := a.post("/console/payments/"+c+"/"+act, f); r.Status != http.StatusNotFound {
					t.Errorf("POST %s (confirmation step) on payment %s: HTTP %d, want 404", act, c, r.Status)
				}
			}
			// (the search box shows the typed gid back: look for rows, not the number)
			if r := a.get("/console/payments?gid=" + c); !strings.Contains(r.Body, `id="total">0<`) || strings.Contains(r.Body, `href="/console/payments/`+c+`"`) {
				t.Errorf("the payment search for %s (B's %s%+d) finds something", c, g, d)
			}
			if r := a.get("/console/payments.csv?gid=" + c); strings.Contains(r.Body, "\n"+c+",") || strings.Count(r.Body, "\n") != 1 {
				t.Errorf("the CSV export for %s (B's %s%+d) has rows:\n%s", c, g, d, r.Body)
			}
			if r := a.get("/console/kickbacks?gid=" + c); strings.Contains(r.Body, `href="/console/payments/`+c+`"`) {
				t.Errorf("the kickbacks of %s (B's %s%+d) are listed", c, g, d)
			}
		}
	}
	t.Logf("%d guesses, %d of them neighbours belonging to store B", len(tried), neighbours)
	// the gateway's follow-ups with store A's ID and store B's payment numbers
	for _, g := range gidsB {
		for _, jb := range []string{"SALES", "CANCEL"} {
			v := url.Values{"aid": {secAidA}, "jb": {jb}, "tid": {g}}
			if r := e.wire("POST", "/gateway/gateway.aspx", v); r == "OK" || !strings.HasPrefix(r, "ER:") {
				t.Errorf("%s of store B's payment %s by store A through the gateway: %q", jb, g, r)
			}
		}
	}
	// store B's auto-charge: its page and stop in store A's panel, the gateway's stop, the customer pages
	gidAC, acidB := e.signUp(secAidB, "g-ac", "4111111111111111", "123")
	for _, c := range []string{acidB, gidPlus(t, acidB, 1), gidPlus(t, acidB, -1)} {
		if owner[c] == secAidA || c == gidAC {
			continue
		}
		if r := a.get("/console/autocharges/" + c); r.Status != http.StatusNotFound {
			t.Errorf("GET store B's auto-charge %s in store A's panel: HTTP %d, want 404", c, r.Status)
		}
		for _, confirm := range []string{"", "yes"} {
			if r := a.post("/console/autocharges/"+c+"/stop", url.Values{"csrf": {tok}, "confirm": {confirm}}); r.Status != http.StatusNotFound {
				t.Errorf("stop store B's auto-charge %s from store A's panel: HTTP %d, want 404", c, r.Status)
			}
		}
	}
	if r := a.get("/console/autocharges?acid=" + acidB); strings.Contains(r.Body, `href="/console/autocharges/`+acidB+`"`) {
		t.Error("store A's auto-charge list shows store B's plan")
	}
	if r := e.wire("POST", "/gateway/acsgate.aspx", url.Values{"aid": {secAidA}, "cmd": {"1"}, "acid": {acidB}}); !strings.HasPrefix(r, "ER:") {
		t.Errorf("acsgate with store A's ID stops store B's plan: %q", r)
	}
	for _, path := range []string{"/link/creditcard/auto-charge/stop", "/link/creditcard/auto-charge/update"} {
		if r := e.browser().get(path + "?aid=" + secAidA + "&tid=" + gidAC); r.Status != http.StatusNotFound {
			t.Errorf("%s with store A's ID and store B's payment: HTTP %d, want 404", path, r.Status)
		}
	}
	if pl := e.plan(secAidB, acidB); pl.Status != store.ACActive {
		t.Errorf("store B's auto-charge was stopped from store A: %s", pl.Status)
	}
	// a session of one console is no session of the other
	if tokA := a.cookie("/console/", "kessai_console"); tokA == "" {
		t.Error("no console session cookie")
	} else {
		x := e.browser()
		u, _ := url.Parse(e.s.URL + "/operator/")
		x.jar.SetCookies(u, []*http.Cookie{{Name: "kessai_operator", Value: tokA, Path: "/operator/"}})
		if r := x.get("/operator/"); r.Status != http.StatusSeeOther || !strings.HasPrefix(r.Header.Get("Location"), "/operator/login") {
			t.Errorf("a merchant's session token opens the operator console: HTTP %d", r.Status)
		}
		if r := x.get("/operator/stores"); r.Status == 200 {
			t.Error("a merchant's session token lists the stores")
		}
	}
	opsB := e.browser()
	opsB.operatorLogin("")
	if tokO := opsB.cookie("/operator/", "kessai_operator"); tokO != "" {
		x := e.browser()
		u, _ := url.Parse(e.s.URL + "/console/")
		x.jar.SetCookies(u, []*http.Cookie{{Name: "kessai_console", Value: tokO, Path: "/console/"}})
		if r := x.get("/console/payments"); r.Status != http.StatusSeeOther {
			t.Errorf("an operator's session token opens the merchant panel: HTTP %d", r.Status)
		}
	}
	// B's kickbacks and users
	kbs, _ := e.s.DB.KickbacksOf(ctx, secAidB, "", 100)
	if len(kbs) == 0 {
		waitFor(t, "store B's kickbacks", func() bool { kbs, _ = e.s.DB.KickbacksOf(ctx, secAidB, "", 100); return len(kbs) > 0 })
	}
	audit0, _ := e.s.DB.AuditLog(ctx, store.AuditFilter{Action: "kickback.resend", Limit: 100})
	for _, k := range kbs {
		for _, id := range []int64{k.ID, k.ID + 1000} {
			if r := a.post(fmt.Sprintf("/console/kickbacks/%d/resend", id), url.Values{"csrf": {tok}}); r.Status != http.StatusNotFound {
				t.Errorf("resend store B's kickback %d: HTTP %d, want 404", id, r.Status)
			}
		}
	}
	if audit, _ := e.s.DB.AuditLog(ctx, store.AuditFilter{Action: "kickback.resend", Limit: 100}); len(audit) != len(audit0) {
		t.Errorf("a kickback of store B was resent by store A's user")
	}
	usersB, _ := e.s.DB.Users(ctx, secAidB)
	for _, u := range usersB {
		for _, act := range []string{"delete", "role"} {
			if r := a.post(fmt.Sprintf("/console/users/%d/%s", u.ID, act), url.Values{"csrf": {tok}, "role": {"viewer"}}); r.Status != http.StatusNotFound {
				t.Errorf("%s store B's user %d: HTTP %d, want 404", act, u.ID, r.Status)
			}
		}
		if x, err := e.s.DB.UserByID(ctx, secAidB, u.ID); err != nil || x.Role != u.Role {
			t.Errorf("store B's user %s changed: %+v %v", u.Login, x, err)
		}
	}
	if r := a.get("/console/autocharges/" + gidsB[0]); r.Status == 200 && strings.Contains(r.Body, gidsB[0]) {
		t.Errorf("store B's ID shown on an auto-charge page of store A")
	}
	for _, g := range gidsB {
		p := e.payment(secAidB, g)
		b := before[g]
		if p.Status != b.Status || p.Captured != b.Captured || p.Refunded != b.Refunded || !p.UpdatedAt.Equal(b.UpdatedAt) {
			t.Errorf("store B's payment %s changed: %s/%d/%d, was %s/%d/%d", g, p.Status, p.Captured, p.Refunded, b.Status, b.Captured, b.Refunded)
		}
	}
}

// ---------------------------------------------------------------------------------------------
// 6. Card numbers and security codes in clear, after a full run

const (
	secCVV    = "739"
	secCVVAmx = "8274"
)

// panPattern matches a card number also written with spaces or hyphens between its digits.
func panPattern(pan string) *regexp.Regexp {
	var b strings.Builder
	for i, c := range pan {
		if i > 0 {
			b.WriteString(`[ \-]?`)
		}
		b.WriteRune(c)
	}
	return regexp.MustCompile(b.String())
}

var cvvNear = regexp.MustCompile(`(?i)(cvv|cvc|cav|security.?code|sec.?code|セキュリティ)[^0-9]{0,16}(` + secCVV + `|` + secCVVAmx + `)([^0-9]|$)`)
var cvvValue = regexp.MustCompile(`value="(` + secCVV + `|` + secCVVAmx + `)"`)
var sandboxListRe = regexp.MustCompile(`(?s)<details class="panel testcards">.*?</details>`)

func TestSecurityCardScan(t *testing.T) {
	ctx := context.Background()
	var kbMu sync.Mutex
	var kickbacks bytes.Buffer
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		kbMu.Lock()
		fmt.Fprintf(&kickbacks, "%s %s\n%s\n", r.Method, r.URL.RequestURI(), b)
		kbMu.Unlock()
		io.WriteString(w, "OK")
	}))
	defer rcv.Close()
	e := newSecEnv(t, secSetup{EditA: func(st *store.Store) {
		st.ResultURL = rcv.URL + "/kb"
		st.CompletionURL = "https://shop.example.jp/thanks"
	}})
	cvvOf := func(pan string) string {
		if strings.HasPrefix(pan, "34") || strings.HasPrefix(pan, "37") {
			return secCVVAmx
		}
		return secCVV
	}
	var pans []string
	for _, c := range acquirer.TestCards {
		if c.PAN == acquirer.SlowCard {
			continue // the same path as 4111…, only 2 s slower per request
		}
		pans = append(pans, c.PAN)
	}
	pans = append(pans, "4111111111111112") // not Luhn-valid: refused, must not be logged either

	// the gateway: every test card, by POST (rt=0 and 1) and by GET, in each job; follow-ups
	var authGids []string
	for i, pan := range pans {
		for _, jb := range []string{"CAPTURE", "AUTH", "CHECK"} {
			v := url.Values{"aid": {secAidA}, "jb": {jb}, "rt": {"1"}, "cod": {fmt.Sprintf("scan-%s-%d", jb, i)}, "am": {"1100"}, "tx": {"10"}, "sf": {"0"},
				"cn": {pan}, "ed": {secExpiry()}, "cvv": {cvvOf(pan)}, "fn": {"TARO"}, "ln": {"YAMADA"}, "em": {"taro@example.com"}}
			if jb == "CHECK" {
				v.Set("am", "0")
				v.Set("tx", "0")
			}
			line := e.wire("POST", "/gateway/gateway.aspx", v)
			if cols := strings.Split(line, ","); jb == "AUTH" && len(cols) >= 14 && cols[1] == "1" {
				authGids = append(authGids, cols[0])
			}
			v.Set("cod", fmt.Sprintf("scang-%s-%d", jb, i))
			e.wire("GET", "/gateway/gateway.aspx", v)
			v.Set("cod", fmt.Sprintf("scan0-%s-%d", jb, i))
			v.Set("rt", "0")
			e.wire("POST", "/gateway/gateway.aspx", v)
		}
	}
	if len(authGids) < 4 {
		t.Fatalf("only %d approved AUTHs: the run did not do what it should", len(authGids))
	}
	if r := e.wire("POST", "/gateway/gateway.aspx", url.Values{"aid": {secAidA}, "jb": {"SALES"}, "tid": {authGids[0]}, "am": {"1100"}, "tx": {"10"}, "sf": {"0"}}); r != "OK" {
		t.Errorf("SALES: %q", r)
	}
	if r := e.wire("POST", "/gateway/gateway.aspx", url.Values{"aid": {secAidA}, "jb": {"CANCEL"}, "tid": {authGids[1]}}); r != "OK" {
		t.Errorf("CANCEL: %q", r)
	}

	// tokens: created by the token API, charged through gateway_token.aspx
	for i, pan := range []string{"4111111111111111", "378282246310005", "5555555555554444"} {
		r := e.browser().post("/gateway/token.json", url.Values{"aid": {secAidA}, "cn": {pan}, "ed": {secExpiry()}, "fn": {"TARO"}, "ln": {"YAMADA"},
			"cvv": {cvvOf(pan)}})
		m := regexp.MustCompile(`"token":"([A-Za-z0-9]+)"`).FindStringSubmatch(r.Body)
		if r.Status != 200 || m == nil {
			t.Fatalf("token for %s…: HTTP %d %s", pan[:6], r.Status, r.Body)
		}
		line := e.wire("POST", "/gateway/gateway_token.aspx", url.Values{"aid": {secAidA}, "jb": {"CAPTURE"}, "rt": {"1"},
			"cod": {fmt.Sprintf("scan-tkn-%d", i)}, "am": {"1200"}, "tx": {"0"}, "sf": {"0"}, "tkn": {m[1]}, "em": {"taro@example.com"}})
		if cols := strings.Split(line, ","); len(cols) < 14 || cols[1] != "1" {
			t.Fatalf("token charge: %q", line)
		}
	}
	// refused token requests (bad check digit, security-code decline)
	e.browser().post("/gateway/token.json", url.Values{"aid": {secAidA}, "cn": {"4111111111111112"}, "ed": {secExpiry()}, "cvv": {secCVV}})
	e.browser().post("/gateway/token.json", url.Values{"aid": {secAidA}, "cn": {"4000000000000127"}, "ed": {secExpiry()}, "cvv": {secCVV}})

	// the hosted page: a decline, then a success; and a 3-D Secure challenge
	shopper := e.browser()
	entry := shopper.post("/link/creditcard", url.Values{"aid": {secAidA}, "jb": {"CAPTURE"}, "am": {"1300"}, "cod": {"scan-link-1"}, "inm": {"tea"}})
	s := hostedSession(t, entry)
	shopper.follow(shopper.post("/link/creditcard/pay", cardFields(s, "4000 0000 0000 0002", secCVV, "TARO YAMADA")))
	shopper.post("/link/creditcard/pay", cardFields(s, "4444-3333-2222-1112", secCVV, "TARO YAMADA")) // bad check digit: the form again
	res := shopper.follow(shopper.post("/link/creditcard/pay", cardFields(s, "4444 3333 2222 1111", secCVV, "TARO YAMADA")))
	if !strings.Contains(res.URL, "/link/creditcard/result") {
		t.Fatalf("hosted payment: %s HTTP %d", res.URL, res.Status)
	}
	entry = shopper.post("/link/creditcard", url.Values{"aid": {secAidA}, "jb": {"CAPTURE"}, "am": {"1400"}, "cod": {"scan-link-2"}, "inm": {"tea"}})
	s = hostedSession(t, entry)
	ch := shopper.follow(shopper.post("/link/creditcard/pay", cardFields(s, "4000000000003220", secCVV, "TARO YAMADA")))
	if m := secSandboxCodeRe.FindStringSubmatch(ch.Body); m != nil {
		f := url.Values{"o": s["o"], "csrf": s["csrf"], "otp": {m[1]}, "action": {"authenticate"}}
		shopper.follow(shopper.post("/link/creditcard/3ds", f))
	} else {
		t.Errorf("no 3-D Secure challenge for the challenge card: %s", ch.URL)
	}

	// an auto-charge sign-up, and its card changed through the customer's page
	acGid, acid := e.signUp(secAidA, "scan-ac-1", "3530111333300000", secCVV)
	cust := e.browser()
	up := cust.get("/link/creditcard/auto-charge/update?aid=" + secAidA + "&tid=" + acGid)
	if m := secCSRFRe.FindStringSubmatch(up.Body); m == nil {
		t.Errorf("no form on the card update page: HTTP %d", up.Status)
	} else {
		f := url.Values{"aid": {secAidA}, "tid": {acGid}, "csrf": {html.UnescapeString(m[1])}, "em": {"taro@example.com"},
			"cn": {"4000 0000 0000 0002"}, "exp_month": {"12"}, "exp_year": {time.Now().AddDate(3, 0, 0).Format("2006")}, "cvv": {secCVV},
			"fn": {"YAMADA"}, "ln": {"TARO"}}
		cust.post("/link/creditcard/auto-charge/update", f) // declined: the form again
		m = secCSRFRe.FindStringSubmatch(cust.get("/link/creditcard/auto-charge/update?aid=" + secAidA + "&tid=" + acGid).Body)
		f.Set("csrf", html.UnescapeString(m[1]))
		f.Set("cn", "378282246310005")
		f.Set("cvv", secCVVAmx)
		if r := cust.post("/link/creditcard/auto-charge/update", f); r.Status != 200 || !strings.Contains(r.Body, "******0005") {
			t.Errorf("card update: HTTP %d\n%.1500s", r.Status, r.Body)
		}
	}

	// the panel: lists, every payment's page, the CSV export in UTF-8 and Shift_JIS; the operator's audit
	owner := e.browser()
	owner.consoleLogin(secAidA, "owner", "")
	list, _, err := e.s.DB.SearchPayments(ctx, store.PaymentFilter{AID: secAidA, Limit: 500})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range list {
		owner.get("/console/payments/" + p.Gid)
	}
	owner.get("/console/")
	owner.get("/console/payments")
	owner.get("/console/kickbacks")
	owner.get("/console/autocharges")
	owner.get("/console/autocharges/" + acid)
	csv := owner.get("/console/payments.csv")
	sjis := owner.get("/console/payments.csv?enc=sjis")
	if csv.Status != 200 || sjis.Status != 200 || strings.Count(csv.Body, "\n") < 10 {
		t.Fatalf("CSV exports: HTTP %d / %d, %d lines", csv.Status, sjis.Status, strings.Count(csv.Body, "\n"))
	}
	if !strings.Contains(csv.Body, "411111******1111") {
		t.Errorf("the CSV export has no masked card: nothing to compare against")
	}
	decoded, err := japanese.ShiftJIS.NewDecoder().String(sjis.Body)
	if err != nil {
		t.Errorf("Shift_JIS export does not decode: %v", err)
	}
	ops := e.browser()
	ops.operatorLogin("")
	ops.get("/operator/audit")
	ops.get("/operator/")

	// the database, cell by cell (both engines)
	pats := map[string]*regexp.Regexp{}
	for _, p := range pans {
		pats[p] = panPattern(p)
	}
	findings := 0
	report := func(where, what string) {
		findings++
		if findings <= 50 {
			t.Errorf("%s: %s", where, what)
		}
	}
	scanText := func(where string, text []byte) {
		for p, re := range pats {
			if loc := re.FindIndex(text); loc != nil {
				report(where, fmt.Sprintf("card %s…%s in clear: …%q…", p[:6], p[len(p)-4:], text[max(0, loc[0]-40):min(len(text), loc[1]+40)]))
			}
		}
		if loc := cvvNear.FindIndex(text); loc != nil {
			report(where, fmt.Sprintf("security code next to its name: …%q…", text[max(0, loc[0]-40):min(len(text), loc[1]+20)]))
		}
	}
	cells := 0
	for _, tbl := range secTables(t, e.s) {
		secCells(t, e.s, tbl, func(col, val string, text bool) {
			cells++
			where := "database " + tbl + "." + col
			scanText(where, []byte(val))
			if v := strings.TrimSpace(val); text && (v == secCVV || v == secCVVAmx) {
				report(where, "a security code stored as a value: "+v)
			}
		})
	}
	if cells < 200 {
		t.Errorf("only %d database cells scanned", cells)
	}

	// every answer, the kickbacks, the exports, the log
	control := false
	answers := e.rec.list()
	for _, r := range answers {
		body := r.Body
		if pats["4111111111111111"].MatchString(body) && sandboxListRe.MatchString(body) {
			control = true // the scanner sees the grouped numbers of the sandbox's own list
		}
		if r.html() {
			body = sandboxListRe.ReplaceAllString(body, "") // the sandbox's documented test cards, grouped in fours
		}
		where := fmt.Sprintf("answer to %s %s", r.Method, r.URL)
		if i := strings.Index(where, "?"); i >= 0 {
			where = where[:i] + "?…"
		}
		scanText(where, []byte(body))
		for k, vs := range r.Header {
			scanText(where+" header "+k, []byte(strings.Join(vs, " ")))
		}
		if m := cvvValue.FindString(body); m != "" {
			report(where, "security code echoed in a form field: "+m)
		}
	}
	scanText("Shift_JIS export (decoded)", []byte(decoded))
	kbMu.Lock()
	scanText("kickbacks received", kickbacks.Bytes())
	kbMu.Unlock()

	e.s.Stop()
	logs := e.log.Bytes()
	if len(logs) < 1000 {
		t.Errorf("only %d bytes of log: is logging on?", len(logs))
	}
	scanText("server log", logs)
	for _, cvv := range []string{secCVV, secCVVAmx} {
		for _, pat := range []string{"cvv=" + cvv, `"cvv":"` + cvv, "cvv:" + cvv, "cvv\x00" + cvv} {
			if bytes.Contains(bytes.ToLower(logs), []byte(pat)) {
				report("server log", "security code: "+pat)
			}
		}
	}

	// the data directory's files (SQLite: database, WAL, journal; the vault key holds no card data)
	if testenv.Postgres() {
		t.Log("PostgreSQL: the database files are the server's; the cell-by-cell scan above covered them")
	} else {
		nfiles := 0
		filepath.WalkDir(e.s.Config.DataDir, func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() || strings.HasPrefix(d.Name(), "vault") {
				return nil
			}
			b, err := os.ReadFile(p)
			if err != nil {
				t.Errorf("read %s: %v", p, err)
				return nil
			}
			nfiles++
			scanText("data file "+d.Name(), b)
			for _, cvv := range []string{secCVV, secCVVAmx} {
				if bytes.Contains(bytes.ToLower(b), []byte("cvv="+cvv)) {
					report("data file "+d.Name(), "cvv="+cvv)
				}
			}
			return nil
		})
		if nfiles == 0 {
			t.Error("no data files scanned")
		}
	}
	if findings > 50 {
		t.Errorf("… %d findings in all", findings)
	}
	if !control {
		t.Error("control failed: the scanner did not see the sandbox list's grouped test numbers")
	}
	t.Logf("scanned %d answers, %d database cells, %d bytes of log", len(answers), cells, len(logs))
}

// secTables lists the database's tables.
func secTables(t *testing.T, s *testenv.Srv) []string {
	t.Helper()
	q := `SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name`
	if testenv.Postgres() {
		q = `SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' ORDER BY table_name`
	}
	rows, err := s.DB.Query(context.Background(), q)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			t.Fatal(err)
		}
		out = append(out, n)
	}
	if len(out) < 5 {
		t.Fatalf("only %d tables: %v", len(out), out)
	}
	return out
}

// secCells calls fn with every cell of table, as text.
func secCells(t *testing.T, s *testenv.Srv, table string, fn func(col, val string, text bool)) {
	t.Helper()
	rows, err := s.DB.Query(context.Background(), `SELECT * FROM "`+strings.ReplaceAll(table, `"`, `""`)+`"`)
	if err != nil {
		t.Fatalf("read %s: %v", table, err)
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatalf("scan %s: %v", table, err)
		}
		for i, v := range vals {
			switch x := v.(type) {
			case nil:
			case []byte:
				fn(cols[i], string(x), true)
			case string:
				fn(cols[i], x, true)
			case time.Time:
				fn(cols[i], x.Format(time.RFC3339Nano), false)
			default:
				fn(cols[i], fmt.Sprint(x), false)
			}
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("rows %s: %v", table, err)
	}
}
