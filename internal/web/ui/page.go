// Package ui is what the merchant control panel and the operator console share: the page layout
// and style sheet (embedded), the language switch, the CSRF and session-cookie machinery, security
// headers, the maintenance banner and 503 page, and a server-rendered SVG chart. Pages carry no
// script at all, so the Content-Security-Policy can forbid every script.
package ui

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"

	"kessai/internal/store"
)

//go:embed assets
var assetFS embed.FS

//go:embed templates/*.html
var layoutFS embed.FS

// Assets serves the shared style sheet and icons; mount it under a console's /assets/ path.
func Assets() http.Handler {
	sub, _ := fs.Sub(assetFS, "assets")
	fsrv := http.FileServer(http.FS(sub))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=3600")
		fsrv.ServeHTTP(w, r)
	})
}

// NavItem is one entry of a console's menu.
type NavItem struct {
	Href, Label string
	Active      bool
}

// Banner is a notice shown on top of every page (maintenance ahead, maintenance now).
type Banner struct {
	Class string // info | warn
	Text  string
	Href  string
}

// Page is what every template gets. Page-specific values are in Data.
type Page struct {
	Lang      string
	Title     string
	Base      string // "/console" or "/operator"
	Console   string // name of the console in the header
	Sandbox   bool
	AID       string // store ID shown top right (merchant pages)
	StoreName string
	User      string
	Role      string
	CanAct    bool
	CSRF      string // token for every form on the page
	Path      string // this page's path and query, where the language switch returns
	Nav       []NavItem
	Banners   []Banner
	Flash     string
	Error     string
	Data      any
}

// T picks the page's language from a Japanese / English pair.
func (p *Page) T(ja, en string) string { return L(p.Lang, ja, en) }

// Yen is an amount with its unit in the page's language, the one form every amount of the panel
// takes: "1,200円", "¥1,200".
func (p *Page) Yen(n int64) string {
	if p.Lang == EN {
		if n < 0 {
			return "-¥" + Yen(-n)
		}
		return "¥" + Yen(n)
	}
	return Yen(n) + "円"
}

// W looks a shared word up in the catalog ("status.captured").
func (p *Page) W(key string) string { return Word(p.Lang, key) }

// Funcs are the template helpers that need no page.
var Funcs = template.FuncMap{
	"yen":  Yen,
	"time": FormatTime,
	"mask": MaskCard,
	"date": func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return t.In(Tokyo).Format("2006-01-02")
	},
	"join": strings.Join,
	"list": func(xs ...string) []string { return xs },
	"add":  func(a, b int) int { return a + b },
	"query": func(base string, kv ...string) string {
		v := url.Values{}
		for i := 0; i+1 < len(kv); i += 2 {
			if kv[i+1] != "" {
				v.Set(kv[i], kv[i+1])
			}
		}
		if len(v) == 0 {
			return base
		}
		return base + "?" + v.Encode()
	},
	"canAct": func(role string) bool { return role == store.RoleAdmin },
}

// Renderer holds parsed pages: each page template is parsed together with the shared layout.
type Renderer struct {
	pages map[string]*template.Template
	log   *slog.Logger
}

// NewRenderer parses every templates/*.html of pageFS as a page named by its file name without
// extension; each defines "content". Files whose name starts with "_" hold partials shared by
// every page of pageFS.
func NewRenderer(pageFS fs.FS, log *slog.Logger) (*Renderer, error) {
	base, err := template.New("layout").Funcs(Funcs).ParseFS(layoutFS, "templates/*.html")
	if err != nil {
		return nil, err
	}
	if partials, _ := fs.Glob(pageFS, "templates/_*.html"); len(partials) > 0 {
		if base, err = base.ParseFS(pageFS, partials...); err != nil {
			return nil, err
		}
	}
	names, err := fs.Glob(pageFS, "templates/*.html")
	if err != nil {
		return nil, err
	}
	r := &Renderer{pages: map[string]*template.Template{}, log: log}
	for _, n := range names {
		if strings.HasPrefix(n[strings.LastIndexByte(n, '/')+1:], "_") {
			continue
		}
		t, err := base.Clone()
		if err != nil {
			return nil, err
		}
		if t, err = t.ParseFS(pageFS, n); err != nil {
			return nil, fmt.Errorf("template %s: %w", n, err)
		}
		key := strings.TrimSuffix(n[strings.LastIndexByte(n, '/')+1:], ".html")
		r.pages[key] = t
	}
	return r, nil
}

// Render writes page name with status. It renders into a buffer first, so a template error gives a
// clean 500 rather than half a page.
func (r *Renderer) Render(w http.ResponseWriter, status int, name string, p *Page) {
	t, ok := r.pages[name]
	if !ok {
		http.Error(w, "no such page", http.StatusInternalServerError)
		return
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout", p); err != nil {
		if r.log != nil {
			r.log.Error("template", "page", name, "err", err)
		}
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

// Has reports whether a page exists (for tests).
func (r *Renderer) Has(name string) bool { _, ok := r.pages[name]; return ok }

// CSP forbids every script and inline style; the pages need none.
const CSP = "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

// Secure adds the security headers every console response carries.
func Secure(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", CSP)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "same-origin")
		if r.TLS != nil {
			h.Set("Strict-Transport-Security", "max-age=31536000")
		}
		if !cleanInput(w, r) {
			return
		}
		next.ServeHTTP(w, r)
	})
}

// cleanInput refuses a request whose query or form values carry control characters other than
// tab and line breaks (a NUL byte, say): no field of the panels needs them, and PostgreSQL refuses
// NUL in text, which would turn a typo into a server error. It reports whether to go on.
func cleanInput(w http.ResponseWriter, r *http.Request) bool {
	bad := func(vs map[string][]string) bool {
		for k, list := range vs {
			if hasControl(k) {
				return true
			}
			for _, v := range list {
				if hasControl(v) {
					return true
				}
			}
		}
		return false
	}
	refuse := func(code int) bool {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(code)
		io.WriteString(w, "入力に使用できない文字が含まれています。 / The request contains characters that are not allowed.\n")
		return false
	}
	if bad(r.URL.Query()) {
		return refuse(http.StatusBadRequest)
	}
	if r.Method == http.MethodPost && strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-www-form-urlencoded") {
		r.Body = http.MaxBytesReader(w, r.Body, 1<<20)
		if err := r.ParseForm(); err != nil {
			var mbe *http.MaxBytesError
			if errors.As(err, &mbe) {
				return refuse(http.StatusRequestEntityTooLarge)
			}
			return refuse(http.StatusBadRequest)
		}
		if bad(r.PostForm) {
			return refuse(http.StatusBadRequest)
		}
	}
	return true
}

func hasControl(s string) bool {
	for _, c := range s {
		if (c < 0x20 && c != '\t' && c != '\n' && c != '\r') || c == 0x7f || (c >= 0x80 && c < 0xa0) || c == utf8.RuneError {
			return true
		}
	}
	return false
}

// SafeNext accepts a redirect target only inside base ("/console/…"), never another site.
func SafeNext(next, base string) string {
	if next == "" || !strings.HasPrefix(next, base+"/") && next != base || strings.HasPrefix(next, "//") ||
		strings.ContainsAny(next, "\\\r\n\t") {
		return base + "/"
	}
	return next
}
