package link

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"

	"kessai/internal/acquirer"
	"kessai/internal/wire"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// pages holds one template set per page, each the layout plus its "content".
var pages = func() map[string]*template.Template {
	m := map[string]*template.Template{}
	for _, name := range []string{"form", "challenge", "result", "error", "maintenance"} {
		m[name] = template.Must(template.New("layout.html").ParseFS(templateFS, "templates/layout.html", "templates/"+name+".html"))
	}
	return m
}()

// view is what every page template gets.
type view struct {
	Lang       string
	T          map[string]string
	Title      string
	Sandbox    bool
	TestCards  template.HTML
	StoreName  string
	AltLang    string
	AltLangURL string
	// AltLangForm replaces AltLangURL while the order exists only as a signed field.
	AltLangForm *langForm

	Order     *orderView
	Form      *formView
	Challenge *challengeView
	Result    *resultView
	Problem   *problemView
	Maint     *maintView
	// FormTo is one more origin the page's form may lead to (CSP form-action also governs the
	// redirect after a submission): the merchant's url on an /igateway/ authentication page.
	FormTo string
}

type langForm struct{ Session, Signed string }

type orderView struct {
	Store, Item, Cod  string
	Am, Tx, Sf, Total string
	ShowTx, ShowSf    bool
	Check             bool
}

type option struct {
	Value, Label string
	Selected     bool
}

type alert struct{ Title, Text, Code string }

type formView struct {
	Session, CSRF string
	Signed        string
	Alert         *alert
	Errors        map[string]string
	Holder        string
	Months, Years template.HTML // pre-rendered <option> lists
	CVV           bool
	Methods       template.HTML
	Button        string
	NowYYMM       string
	// messages the page script shows for inline validation
	MsgCNRequired, MsgCN, MsgExp, MsgHolder, MsgCVV string
}

type challengeView struct {
	// Action is where the challenge form posts ("" for the hosted page's /link/creditcard/3ds).
	Action        string
	Session, CSRF string
	Card, Total   string
	SandboxCode   string
	Alert         *alert
}

type resultView struct {
	Heading, Gid, Card, Total string
	ReturnURL                 string
}

type problemView struct {
	Heading, Text, Code, CodeText, CodeTextOther, Hint string
}

type maintView struct {
	Lines []string
	Code  string
}

var bufPool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// render executes a page into a buffer first, so a template failure never sends half a page.
func (h *Handler) render(w http.ResponseWriter, status int, page string, v *view) {
	v.Sandbox = h.Sandbox
	if v.T == nil {
		v.T = texts[v.Lang]
	}
	if h.Sandbox && v.Form != nil {
		v.TestCards = sandboxCards()
	}
	buf := bufPool.Get().(*bytes.Buffer)
	buf.Reset()
	defer bufPool.Put(buf)
	pageHeaders(w)
	if v.FormTo != "" {
		w.Header().Set("Content-Security-Policy", strings.Replace(pageCSP, "form-action 'self'", "form-action 'self' "+v.FormTo, 1))
	}
	if err := pages[page].Execute(buf, v); err != nil {
		if h.Log != nil {
			h.Log.Error("template failed", "page", page, "err", err)
		}
		http.Error(w, "internal error (ER000)", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Length", strconv.Itoa(buf.Len()))
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

// sandboxCards lists the sandbox's test cards, rendered once: the list never changes.
var sandboxCards = sync.OnceValue(func() template.HTML {
	var b strings.Builder
	for _, c := range acquirer.TestCards {
		// grouped in fours as printed on cards, so no unbroken number ever appears in a page
		var n strings.Builder
		for i := 0; i < len(c.PAN); i++ {
			if i > 0 && i%4 == 0 {
				n.WriteByte(' ')
			}
			n.WriteByte(c.PAN[i])
		}
		b.WriteString(`<li><span class="mono">`)
		b.WriteString(template.HTMLEscapeString(n.String()))
		b.WriteString(`</span> — `)
		b.WriteString(template.HTMLEscapeString(c.Outcome))
		b.WriteString("</li>")
	}
	return template.HTML(b.String())
})

// options renders an option list. The values and labels are Kessai's own (digits and fixed texts),
// escaped all the same; building them here rather than in the template keeps a page render cheap.
func options(opts []option) template.HTML {
	var b strings.Builder
	b.Grow(len(opts) * 40)
	for _, o := range opts {
		b.WriteString(`<option value="`)
		b.WriteString(template.HTMLEscapeString(o.Value))
		b.WriteByte('"')
		if o.Selected {
			b.WriteString(" selected")
		}
		b.WriteByte('>')
		b.WriteString(template.HTMLEscapeString(o.Label))
		b.WriteString("</option>")
	}
	return template.HTML(b.String())
}

// yen formats an amount: 2,678円 in Japanese, ¥2,678 in English.
func yen(lang string, n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	out := b.String()
	if neg {
		out = "-" + out
	}
	if lang == "en" {
		return "¥" + out
	}
	return out + "円"
}

// problem renders an error page for a wire code: the code always, its meaning in both languages.
func (h *Handler) problem(w http.ResponseWriter, r *http.Request, lang string, code wire.Code, heading, text string) {
	h.problemWith(w, r, statusOf(code), lang, code, heading, text)
}

// problemErr renders the error page for a refusal; a body over the limit answers 413.
func (h *Handler) problemErr(w http.ResponseWriter, r *http.Request, lang string, err error) {
	status := statusOf(wire.CodeOf(err))
	if errors.Is(err, wire.ErrTooLarge) {
		status = http.StatusRequestEntityTooLarge
	}
	h.problemWith(w, r, status, lang, wire.CodeOf(err), "", "")
}

func (h *Handler) problemWith(w http.ResponseWriter, r *http.Request, status int, lang string, code wire.Code, heading, text string) {
	other := "en"
	if lang == "en" {
		other = "ja"
	}
	t := texts[lang]
	if heading == "" {
		heading = t["error_title"]
	}
	v := &view{Lang: lang, Title: heading, Problem: &problemView{Heading: heading, Text: text, Code: string(code),
		CodeText: code.Describe(lang), CodeTextOther: code.Describe(other), Hint: t["error_back"]}}
	h.render(w, status, "error", v)
}

// statusOf is the HTTP status an error page answers with; the body carries the ER code either way.
func statusOf(code wire.Code) int {
	switch code {
	case wire.ERReferer, wire.ERSourceIP:
		return http.StatusForbidden
	case wire.ERUnknownStore, wire.ERUnknownItem:
		return http.StatusNotFound
	case wire.ERMethod:
		return http.StatusMethodNotAllowed
	case wire.ERInternal:
		return http.StatusInternalServerError
	case wire.ERNetwork:
		return http.StatusBadGateway
	case wire.ERMaintenance:
		return http.StatusServiceUnavailable
	case wire.ERStoreSuspended:
		return http.StatusForbidden
	}
	return http.StatusBadRequest
}

// pageURL builds a link to one of the hosted pages of an order session.
func pageURL(path, session, lang string) string {
	q := url.Values{"o": {session}}
	if lang == "en" {
		q.Set("lang", "en")
	}
	return path + "?" + q.Encode()
}

func otherLang(lang string) string {
	if lang == "en" {
		return "ja"
	}
	return "en"
}

func months(sel int) []option {
	out := make([]option, 0, 13)
	out = append(out, option{Value: "", Label: "--", Selected: sel == 0})
	for m := 1; m <= 12; m++ {
		v := fmt.Sprintf("%02d", m)
		out = append(out, option{Value: v, Label: v, Selected: m == sel})
	}
	return out
}

func years(from, sel int) []option {
	out := make([]option, 0, 22)
	out = append(out, option{Value: "", Label: "----", Selected: sel == 0})
	for y := from; y <= from+20; y++ {
		out = append(out, option{Value: fmt.Sprintf("%02d", y%100), Label: strconv.Itoa(y), Selected: y%100 == sel%100 && sel != 0})
	}
	return out
}

func methods(lang, sel string) []option {
	t := texts[lang]
	out := []option{{Value: "10", Label: t["md_lump"]}}
	for _, n := range []int{3, 5, 6, 10, 12, 15, 18, 20, 24} {
		out = append(out, option{Value: "61-" + strconv.Itoa(n), Label: fmt.Sprintf(t["md_installments"], n)})
	}
	out = append(out, option{Value: "80-0", Label: t["md_revolving"]})
	for i := range out {
		out[i].Selected = out[i].Value == sel
	}
	if sel == "" {
		out[0].Selected = true
	}
	return out
}

// static serves the page assets (style sheet, page script) from the binary.
func (h *Handler) static() http.Handler {
	sub, _ := fs.Sub(staticFS, "static")
	fsrv := http.StripPrefix("/link/static/", http.FileServer(http.FS(sub)))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/") {
			http.NotFound(w, r)
			return
		}
		apiHeaders(w)
		w.Header().Set("Cache-Control", "public, max-age=300")
		fsrv.ServeHTTP(w, r)
	})
}

// script serves CPToken.js or EMV3DSAdapter.js to merchants' pages on any origin.
func (h *Handler) script(name string) http.HandlerFunc {
	body, err := staticFS.ReadFile("static/" + name)
	if err != nil {
		panic("link: missing embedded script " + name)
	}
	return func(w http.ResponseWriter, r *http.Request) {
		apiHeaders(w)
		hd := w.Header()
		hd.Set("Content-Type", "text/javascript; charset=utf-8")
		hd.Set("Cache-Control", "public, max-age=300")
		hd.Set("Cross-Origin-Resource-Policy", "cross-origin")
		hd.Set("Access-Control-Allow-Origin", "*")
		w.Write(body)
	}
}
