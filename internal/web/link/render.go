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
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"sync"

	"kessai/internal/acquirer"
	"kessai/internal/store"
	"kessai/internal/wire"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// pages holds one template set per page, each the layout plus its "content": pages[lang][page]
// for each language of texts, and pages[""][page] for any other.
//
// In a language's set every {{$.T.key}} — a fixed text of the page's own language — is already
// written into the template, escaped as html/template escapes it there. A page shows some forty
// of them, and each one run by the template was a map lookup and an escaper called through
// reflection: with the brand badges (badgeHTML), about half of the card form's render (issue 18,
// sixth pass). pages[""] leaves them to run, as every set did before; TestPagesWithTextsWritten
// renders every page both ways and compares the bytes.
var pages = func() map[string]map[string]*template.Template {
	m := map[string]map[string]*template.Template{"": parsePages(nil)}
	for lang, t := range texts {
		m[lang] = parsePages(t)
	}
	return m
}()

// pageNames are the hosted card pages (render's page argument).
var pageNames = []string{"form", "challenge", "result", "error", "maintenance", "processor"}

// fixedText matches a fixed text of the page's language in a template.
var fixedText = regexp.MustCompile(`\{\{\$\.T\.([A-Za-z0-9_]+)\}\}`)

// parsePages parses every page, with t's texts written in place of {{$.T.key}} (t nil: none).
func parsePages(t map[string]string) map[string]*template.Template {
	read := func(name string) string {
		b, err := templateFS.ReadFile("templates/" + name)
		if err != nil {
			panic(err)
		}
		if t == nil {
			return string(b)
		}
		return fixedText.ReplaceAllStringFunc(string(b), func(action string) string {
			text, ok := t[fixedText.FindStringSubmatch(action)[1]]
			if !ok {
				return action // left to the template, which renders a missing text as before
			}
			var esc strings.Builder
			escapeText.Execute(&esc, text)
			if strings.Contains(esc.String(), "{{") {
				return action
			}
			return esc.String()
		})
	}
	m := map[string]*template.Template{}
	for _, name := range pageNames {
		root := template.Must(template.New("layout.html").Parse(read("layout.html")))
		for _, file := range []string{"parts.html", name + ".html"} {
			template.Must(root.New(file).Parse(read(file)))
		}
		m[name] = root
	}
	return m
}

// escapeText escapes a text as html/template does in text and quoted attribute values, the only
// places the pages show a fixed text.
var escapeText = template.Must(template.New("").Parse(`{{.}}`))

// pageFor returns the template of page for v: the set of v's language, whose fixed texts are
// those of v.T only when v.T is that language's own.
func pageFor(v *view, page string) *template.Template {
	if set, ok := pages[v.Lang]; ok && sameTexts(v.T, texts[v.Lang]) {
		return set[page]
	}
	return pages[""][page]
}

// sameTexts reports whether a and b are the same map.
func sameTexts(a, b map[string]string) bool {
	return a != nil && b != nil && reflect.ValueOf(a).UnsafePointer() == reflect.ValueOf(b).UnsafePointer()
}

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
	Plan      *planView
	Brands    template.HTML // the card form's brand logos (badges)
	Form      *formView
	Challenge *challengeView
	Result    *resultView
	Problem   *problemView
	Processor *processorView
	Maint     *maintView
	// FormTo is one more origin the page's form may lead to (CSP form-action also governs the
	// redirect after a submission): the merchant's url on an /igateway/ authentication page.
	FormTo string
}

type langForm struct{ Session, Signed string }

type orderView struct {
	Store, Item, Cod  string
	Am, Tx, Sf, Total string
	TotalLabel        string
	ShowTx, ShowSf    bool
	Check             bool
}

type option struct {
	Value, Label string
	Selected     bool
}

type alert struct {
	Title, Text, Code string
	Note              string // a second line: what was kept, what to type again
}

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
	// Closed names the brands a maintenance window refuses now (JSON-free: "JCB AMEX"), and
	// BrandNotes says which until when; Accepted the brands the store takes ("" all).
	Closed, Accepted string
	BrandNotes       []string
	Plan             bool
	// MsgClosed is the message the page script shows for each closed brand (data-closed-BRAND);
	// its other inline-validation messages are fixed texts ({{$.T.err_cn}} …)
	MsgClosed map[string]string
}

type challengeView struct {
	// Action is where the challenge form posts ("" for the hosted page's /link/creditcard/3ds).
	Action        string
	Notice        *alert // a wrong code with attempts left
	Session, CSRF string
	Card, Total   string
	SandboxCode   string
	Alert         *alert
}

// processorView sends the shopper to the processor's own authentication page.
type processorView struct{ URL, Card, Total string }

type resultView struct {
	Heading, Gid, Card, Total string
	ReturnURL                 string
	Already                   bool // reached again after paying (back, reload)
}

// problemView is an error page in one language; Alt is the same page in the other language,
// shown by the page's language switch (an in-page #fragment: no script, no second request).
type problemView struct {
	Lang, Heading, Text, Code, Detail, Hint string
	// BackURL is the store's completion URL with the refusal (rst=2, ec), "" when the store is
	// unknown; the page script also offers the browser's back.
	BackURL string
	T       map[string]string
	Primary bool
	Alt     *problemView
}

type maintView struct {
	Lang    string
	Lines   []string
	Code    string // "" when the message already names it
	BackURL string
	T       map[string]string
	Primary bool
	Alt     *maintView
}

// brandBadge is one accepted brand's logo on the card form.
type brandBadge struct {
	Brand, Name string
	Closed      bool
}

// badges renders the card form's brand logos. Each badge is the "badge" template run once per
// brand, open or closed, and kept: the logos are a good part of the form's markup, and running
// them through the template on every page (a range over the brands, each picking its logo with a
// chain of eq) took a quarter of the page's render (issue 18, sixth pass).
func badges(bs []brandBadge) template.HTML {
	var b strings.Builder
	for _, bb := range bs {
		b.WriteString(string(badgeHTML(bb)))
	}
	return template.HTML(b.String())
}

var badgeCache sync.Map // brandBadge -> template.HTML

func badgeHTML(bb brandBadge) template.HTML {
	if v, ok := badgeCache.Load(bb); ok {
		return v.(template.HTML)
	}
	var b bytes.Buffer
	if err := pages[""]["form"].ExecuteTemplate(&b, "badge", bb); err != nil {
		panic("link: the badge template failed: " + err.Error()) // a fixed template and fixed values
	}
	h := template.HTML(b.String())
	badgeCache.Store(bb, h)
	return h
}

var bufPool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// render executes a page into a buffer first, so a template failure never sends half a page.
func (h *Handler) render(w http.ResponseWriter, status int, page string, v *view) {
	v.Sandbox = h.Sandbox
	if v.T == nil {
		v.T = texts[v.Lang]
	}
	if h.Sandbox && v.Form != nil {
		v.TestCards = sandboxCards()[v.Lang]
	}
	buf := bufPool.Get().(*bytes.Buffer)
	buf.Reset()
	defer bufPool.Put(buf)
	pageHeaders(w)
	if v.FormTo != "" {
		w.Header().Set("Content-Security-Policy", strings.Replace(pageCSP, "form-action 'self'", "form-action 'self' "+v.FormTo, 1))
	}
	if err := pageFor(v, page).Execute(buf, v); err != nil {
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

// sandboxCards lists the sandbox's test cards in each language, rendered once: the list never
// changes.
var sandboxCards = sync.OnceValue(func() map[string]template.HTML {
	return map[string]template.HTML{"ja": sandboxCardList("ja"), "en": sandboxCardList("en")}
})

func sandboxCardList(lang string) template.HTML {
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
		out := c.Outcome
		if ja, ok := testCardOutcomesJA[out]; ok && lang == "ja" {
			out = ja
		}
		b.WriteString(template.HTMLEscapeString(out))
		b.WriteString("</li>")
	}
	return template.HTML(b.String())
}

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

// problem renders an error page for a wire code: the code once, what happened in the page's
// language (the other language behind the page's switch), and a way back.
func (h *Handler) problem(w http.ResponseWriter, r *http.Request, lang string, code wire.Code, heading, text string) {
	h.problemWith(w, r, statusOf(code), lang, code, heading, text)
}

// problemErr renders the error page for a refusal; a body over the limit answers 413.
func (h *Handler) problemErr(w http.ResponseWriter, r *http.Request, lang string, err error) {
	h.problemAt(w, r, nil, "", lang, err)
}

// problemAt is problemErr for a refusal of a known store's order (cod): the page leads back to
// the store's completion URL.
func (h *Handler) problemAt(w http.ResponseWriter, r *http.Request, st *store.Store, cod, lang string, err error) {
	status := statusOf(wire.CodeOf(err))
	if errors.Is(err, wire.ErrTooLarge) {
		status = http.StatusRequestEntityTooLarge
	}
	h.problemPage(w, r, status, lang, wire.CodeOf(err), "", "", backURL(st, cod, wire.CodeOf(err)))
}

func (h *Handler) problemWith(w http.ResponseWriter, r *http.Request, status int, lang string, code wire.Code, heading, text string) {
	h.problemPage(w, r, status, lang, code, heading, text, "")
}

// problemPage renders the error page. heading and text, when given, are in lang: the other
// language's page then uses the same keys' text when they are Kessai's own (see problemText).
func (h *Handler) problemPage(w http.ResponseWriter, r *http.Request, status int, lang string, code wire.Code, heading, text, back string) {
	pv := problemFor(lang, code, heading, text, back)
	pv.Primary = true
	pv.Alt = problemFor(otherLang(lang), code, translate(lang, heading), translate(lang, text), back)
	v := &view{Lang: lang, Title: pv.Heading, AltLang: otherLang(lang), AltLangURL: "#alt-" + otherLang(lang), Problem: pv}
	h.render(w, status, "error", v)
}

func problemFor(lang string, code wire.Code, heading, text, back string) *problemView {
	t := texts[lang]
	if heading == "" {
		heading = t["error_title"]
	}
	// what happened in the shopper's words, and the code's own meaning (for the store, whom the
	// shopper may tell) in the page's language without wire parameter names
	detail := describe(lang, code)
	if text == "" {
		text = shopperText(lang, code)
	}
	if detail == text {
		detail = ""
	}
	return &problemView{Lang: lang, Heading: heading, Text: text, Code: string(code), Detail: detail, Hint: t["error_back"],
		BackURL: back, T: t}
}

// translate returns the other language's version of one of Kessai's fixed texts (a heading or a
// text given to problem), "" when s is not one (the other language then says the code's meaning).
func translate(lang, s string) string {
	if s == "" {
		return ""
	}
	other := texts[otherLang(lang)]
	for k, v := range texts[lang] {
		if v == s {
			return other[k]
		}
	}
	// a text with the payment method's name filled in (unavailable_text)
	for _, k := range []string{"pt_cvs", "pt_bank", "pt_other"} {
		if strings.Replace(texts[lang]["unavailable_text"], "%s", texts[lang][k], 1) == s {
			return strings.Replace(other["unavailable_text"], "%s", other[k], 1)
		}
	}
	return ""
}

// backURL is the way back to the store after a refusal: its completion URL with rst=2, the code
// and the order number, as a failed payment's return would carry them; "" without a store or a
// usable completion URL (the page then offers the browser's back only).
func backURL(st *store.Store, cod string, code wire.Code) string {
	if st == nil || st.CompletionURL == "" {
		return ""
	}
	u, err := url.Parse(st.CompletionURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return ""
	}
	q := url.Values{"rst": {"2"}, "ec": {string(code)}}
	if cod != "" {
		q.Set("cod", cod)
	}
	if u.RawQuery != "" {
		u.RawQuery += "&" + q.Encode()
	} else {
		u.RawQuery = q.Encode()
	}
	return u.String()
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

// expiryOptions is the expiry month's <option> list (from 0) or the year's (from this year), with
// sel selected: a few dozen lists in all, each built once and kept.
func expiryOptions(from, sel int) template.HTML {
	k := [2]int{from, sel}
	if v, ok := expiryLists.Load(k); ok {
		return v.(template.HTML)
	}
	var h template.HTML
	if from == 0 {
		h = options(months(sel))
	} else {
		h = options(years(from, sel))
	}
	if sel >= 0 && sel <= 99 { // what a form can select; anything else is not worth keeping
		expiryLists.Store(k, h)
	}
	return h
}

var expiryLists sync.Map // [2]int{from, sel} -> template.HTML

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
