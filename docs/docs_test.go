// Package docs holds the merchant-facing reference (wire.md) and the migration guide. Its test runs
// every example of the reference against a real Kessai server over real HTTP, so the document cannot
// drift from the code, and checks that every ER code the code can produce is documented.
package docs_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"kessai/internal/store"
	"kessai/internal/testenv"
	"kessai/internal/wire"
)

// example is one fenced block of wire.md: a request, its expected response, or an expected
// kickback.
type example struct {
	kind string // "request", "response" or "kickback"
	line int    // line number of the opening fence, for messages
	text string
}

// examples reads the fenced blocks tagged request, response and kickback, in document order.
func examples(t *testing.T, path string) []example {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []example
	var cur *example
	sc := bufio.NewScanner(f)
	n := 0
	for sc.Scan() {
		n++
		l := sc.Text()
		switch {
		case cur == nil && (l == "```request" || l == "```response" || l == "```kickback"):
			cur = &example{kind: strings.TrimPrefix(l, "```"), line: n}
		case cur != nil && l == "```":
			cur.text = strings.TrimRight(cur.text, "\n")
			out = append(out, *cur)
			cur = nil
		case cur != nil:
			cur.text += l + "\n"
		}
	}
	if cur != nil {
		t.Fatalf("%s:%d: unterminated block", path, cur.line)
	}
	return out
}

// placeholder is {name}: in a response or kickback it matches one value and binds it; in a
// request it is replaced by the bound value.
var placeholder = regexp.MustCompile(`\{([a-z0-9_]+)\}`)

// pattern turns an expected text into an anchored regexp: literal text must match exactly, a
// placeholder matches a run of characters that are not a column or parameter separator.
func pattern(expected string, vars map[string]string) (*regexp.Regexp, []string) {
	var b strings.Builder
	var names []string
	last := 0
	for _, m := range placeholder.FindAllStringSubmatchIndex(expected, -1) {
		b.WriteString(regexp.QuoteMeta(expected[last:m[0]]))
		name := expected[m[2]:m[3]]
		if v, ok := vars[name]; ok {
			b.WriteString(regexp.QuoteMeta(v))
		} else {
			b.WriteString(`([^,&\s]*)`)
			names = append(names, name)
		}
		last = m[1]
	}
	b.WriteString(regexp.QuoteMeta(expected[last:]))
	return regexp.MustCompile("^" + b.String() + "$"), names
}

func substitute(s string, vars map[string]string) string {
	return placeholder.ReplaceAllStringFunc(s, func(m string) string {
		if v, ok := vars[m[1:len(m)-1]]; ok {
			return v
		}
		return m
	})
}

// kickbacks collects the queries the server delivers to the result URL.
type kickbacks struct {
	mu  sync.Mutex
	got []string
	srv *httptest.Server
}

func newKickbacks(t *testing.T) *kickbacks {
	k := &kickbacks{}
	k.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		k.mu.Lock()
		k.got = append(k.got, r.URL.RawQuery)
		k.mu.Unlock()
		io.WriteString(w, "OK")
	}))
	t.Cleanup(k.srv.Close)
	return k
}

// wait returns the first kickback not yet consumed that matches re, waiting up to the wire's 30 s.
func (k *kickbacks) wait(re *regexp.Regexp, used map[int]bool) (string, []string, bool) {
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		k.mu.Lock()
		for i, q := range k.got {
			if used[i] {
				continue
			}
			if m := re.FindStringSubmatch(q); m != nil {
				used[i] = true
				k.mu.Unlock()
				return q, m[1:], true
			}
		}
		k.mu.Unlock()
		time.Sleep(50 * time.Millisecond)
	}
	return "", nil, false
}

func (k *kickbacks) all() []string {
	k.mu.Lock()
	defer k.mu.Unlock()
	return append([]string(nil), k.got...)
}

// TestWireReferenceExamples runs wire.md's examples in order against one server with the demo
// store the reference describes (100001, result URL set, security code required).
func TestWireReferenceExamples(t *testing.T) {
	kb := newKickbacks(t)
	srv := testenv.Start(t, testenv.Options{})
	srv.CreateStore(t, "100001", "デモストア", func(s *store.Store) {
		s.ResultURL = kb.srv.URL + "/notify"
		s.ACResultURL = kb.srv.URL + "/ac-notify"
	})
	// the demo store takes every method (§9: convenience store and bank transfer)
	all := store.DefaultStoreMethods("100001")
	all.Methods = []string{store.MethodCard, store.MethodCVS, store.MethodBank}
	if err := srv.DB.PutStoreMethods(context.Background(), all); err != nil {
		t.Fatal(err)
	}
	ex := examples(t, "wire.md")
	if len(ex) < 8 {
		t.Fatalf("wire.md has only %d examples", len(ex))
	}
	vars := map[string]string{}
	used := map[int]bool{}
	var lastBody string
	for i := 0; i < len(ex); i++ {
		e := ex[i]
		switch e.kind {
		case "request":
			lastBody = send(t, srv.URL, e, vars)
		case "response":
			re, names := pattern(e.text, vars)
			m := re.FindStringSubmatch(lastBody)
			if m == nil {
				t.Fatalf("wire.md:%d: the answer\n  %q\ndoes not match the documented\n  %q", e.line, lastBody, e.text)
			}
			bind(t, e, vars, names, m[1:])
		case "kickback":
			re, names := pattern(e.text, vars)
			q, m, ok := kb.wait(re, used)
			if !ok {
				t.Fatalf("wire.md:%d: no kickback matching\n  %q\narrived within 30 s; received:\n  %s", e.line, e.text, strings.Join(kb.all(), "\n  "))
			}
			_ = q
			bind(t, e, vars, names, m)
		}
	}
}

func bind(t *testing.T, e example, vars map[string]string, names, values []string) {
	t.Helper()
	for i, n := range names {
		if old, ok := vars[n]; ok && old != values[i] {
			t.Fatalf("wire.md:%d: {%s} is %q here but was %q before", e.line, n, values[i], old)
		}
		vars[n] = values[i]
	}
}

// send performs a request block: "METHOD /path?query", optional header lines, a blank line and a
// form body.
func send(t *testing.T, base string, e example, vars map[string]string) string {
	t.Helper()
	text := substitute(e.text, vars)
	head, body, _ := strings.Cut(text, "\n\n")
	lines := strings.Split(head, "\n")
	method, target, ok := strings.Cut(lines[0], " ")
	if !ok {
		t.Fatalf("wire.md:%d: request line %q", e.line, lines[0])
	}
	req, err := http.NewRequestWithContext(context.Background(), method, base+target, strings.NewReader(body))
	if err != nil {
		t.Fatalf("wire.md:%d: %v", e.line, err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for _, h := range lines[1:] {
		k, v, ok := strings.Cut(h, ": ")
		if !ok {
			t.Fatalf("wire.md:%d: header line %q", e.line, h)
		}
		req.Header.Set(k, v)
	}
	resp, err := testenv.Client.Do(req)
	if err != nil {
		t.Fatalf("wire.md:%d: %v", e.line, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	out := strings.TrimRight(string(b), "\r\n")
	if resp.StatusCode == http.StatusFound || resp.StatusCode == http.StatusSeeOther {
		out = fmt.Sprintf("%d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	return out
}

// TestEveryCodeDocumented: every ER code the wire package can produce has a row in the reference's
// code table, and the table names no code the code cannot produce.
func TestEveryCodeDocumented(t *testing.T) {
	b, err := os.ReadFile("wire.md")
	if err != nil {
		t.Fatal(err)
	}
	row := regexp.MustCompile(`(?m)^\| ` + "`" + `(ER\d{3})` + "`" + ` \|`)
	documented := map[string]bool{}
	for _, m := range row.FindAllStringSubmatch(string(b), -1) {
		documented[m[1]] = true
	}
	known := map[string]bool{}
	for _, c := range wire.Codes() {
		known[string(c)] = true
		if !documented[string(c)] {
			t.Errorf("%s (%s) is produced by the code but has no row in docs/wire.md's code table", c, c.Describe("en"))
		}
	}
	for c := range documented {
		if !known[c] {
			t.Errorf("docs/wire.md documents %s, which the code never produces", c)
		}
	}
}

// TestReferenceLinks: the README points merchants to the reference and the migration guide inside
// the repository, not to a path outside it.
func TestReferenceLinks(t *testing.T) {
	b, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"docs/wire.md", "docs/migration.md"} {
		if !strings.Contains(string(b), want) {
			t.Errorf("README does not link %s", want)
		}
	}
	if strings.Contains(string(b), "../shared/spec/wire.md") {
		t.Error("README still sends merchants to ../shared/spec/wire.md, outside the repository")
	}
	if _, err := url.Parse("docs/migration.md"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat("migration.md"); err != nil {
		t.Error(err)
	}
}
