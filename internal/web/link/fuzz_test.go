package link

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"kessai/internal/acquirer"
	"kessai/internal/clock"
	"kessai/internal/payment"
	"kessai/internal/store"
	"kessai/internal/vault"
	"kessai/internal/wire"
)

// fuzzHandler is a Handler over a real SQLite store with one shop and one product.
func fuzzHandler(tb testing.TB) *Handler {
	tb.Helper()
	ctx := context.Background()
	db, err := store.Open(ctx, store.Config{DataDir: tb.TempDir()})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	st := store.NewStore("123456", "テスト商店")
	st.Installments = true
	if err := db.CreateStore(ctx, st); err != nil {
		tb.Fatal(err)
	}
	if err := db.PutProduct(ctx, &store.Product{AID: "123456", IID: "TEA-1", Name: "煎茶", Am: 1000, Tx: 100}); err != nil {
		tb.Fatal(err)
	}
	clk := clock.NewFixed(time.Date(2026, 5, 1, 12, 0, 0, 0, jst))
	log := slog.New(slog.DiscardHandler)
	return &Handler{Pay: payment.New(db, vault.GenerateKeyRing(), acquirer.Sandbox{}, clk, log), Clock: clk, Log: log, Sandbox: true}
}

var (
	reScriptTag = regexp.MustCompile(`(?i)<script[^>]*>`)
	reHandler   = regexp.MustCompile(`(?i)<[^>]*\son[a-z]+\s*=`)
)

// FuzzHostedForm feeds arbitrary merchant forms (query string and body, any bytes, Shift_JIS or
// not) through the hosted page's parsing and rendering: nothing may panic, every refusal must be a
// code Kessai documents, an accepted order must respect the store's rules, and the rendered page
// must carry no script or event handler other than Kessai's own file, whatever the input.
func FuzzHostedForm(f *testing.F) {
	f.Add("", []byte("aid=123456&pt=1&jb=CAPTURE&am=1980&tx=198&sf=500&cod=W-1001&inm=%E6%8A%B9%E8%8C%B6&acting=jpayment_card"))
	f.Add("lang=en", []byte("aid=123456&am=500&inm=%82%D9%82%A4%82%B6%92%83")) // Shift_JIS ほうじ茶
	f.Add("aid=123456&iid=TEA-1", []byte(""))
	f.Add("", []byte("aid=123456&am=1&inm=%3Cscript%3Ealert(1)%3C%2Fscript%3E&x=%22%3E%3Cimg+src%3Dx+onerror%3Dalert(2)%3E"))
	f.Add("", []byte("aid=123456&jb=CHECK&am=0"))
	f.Add("", []byte("aid=123456&am=100&md=61-3&em=taro@example.com&pn=090-1234-5678"))
	f.Add("", []byte("aid=123456&am=%ZZ"))
	f.Add("pt=2", []byte("aid=123456&am=100"))
	h := fuzzHandler(f)
	ctx := context.Background()
	st, err := h.Pay.Stores.Get(ctx, "123456")
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, query string, body []byte) {
		if _, err := url.ParseRequestURI("/link/creditcard?" + query); err != nil || strings.ContainsAny(query, "# ") {
			return // not a request line a client could send
		}
		r := httptest.NewRequest(http.MethodPost, "/link/creditcard?"+query, strings.NewReader(string(body)))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		p, err := wire.Parse(r, MaxBody)
		if err != nil {
			if c := wire.CodeOf(err); !c.Known() {
				t.Fatalf("parse refused with undocumented code %q", c)
			}
			return
		}
		if err := p.Recode(st.Encoding); err != nil {
			return
		}
		in, err := parseOrder(ctx, h.Pay.DB, nil, st, p)
		if err != nil {
			c := wire.CodeOf(err)
			if !c.Known() || c == wire.ERInternal {
				t.Fatalf("order refused with %q: %v", c, err)
			}
			w := httptest.NewRecorder()
			h.problem(w, r, langOf(p.Get("lang")), c, "", "")
			checkPage(t, w, string(c))
			return
		}
		total := in.Am + in.Tx + in.Sf
		if in.Am < 0 || in.Tx < 0 || in.Sf < 0 || (!(in.Jb == wire.JobCheck && total == 0) && (total < st.MinAmount || total > st.MaxAmount)) {
			t.Fatalf("accepted amounts %d+%d+%d", in.Am, in.Tx, in.Sf)
		}
		switch in.Jb {
		case wire.JobCapture, wire.JobAuth, wire.JobCheck:
		default:
			t.Fatalf("accepted job %q", in.Jb)
		}
		if len(in.Free) > wire.MaxFreeBytes {
			t.Fatalf("free parameters of %d bytes", len(in.Free))
		}
		now := h.Clock.Now()
		o := &store.LinkOrder{ID: strings.Repeat("A", 32), AID: st.AID, Jb: in.Jb, Cod: in.Cod, Am: in.Am, Tx: in.Tx, Sf: in.Sf,
			Inm: in.Inm, Em: in.Em, Pn: in.Pn, Md: in.Md, Free: in.Free, Plan: in.Plan, Binding: "b", CreatedAt: now,
			ExpiresAt: now.Add(SessionTTL)}
		o.CSRF = h.csrfFor(o.ID)
		// the signed field carries the order through the browser unchanged
		signed := h.seal(o)
		back, err := h.unseal(signed)
		if err != nil {
			t.Fatalf("unseal: %v", err)
		}
		if back.Am != o.Am || back.Tx != o.Tx || back.Sf != o.Sf || back.Inm != o.Inm || back.Free != o.Free || back.Cod != o.Cod ||
			back.Jb != o.Jb || back.Em != o.Em || back.Pn != o.Pn || back.Md != o.Md || back.CSRF != o.CSRF || !back.ExpiresAt.Equal(o.ExpiresAt) {
			t.Fatalf("signed order changed: %+v -> %+v", o, back)
		}
		if _, err := h.unseal(signed[:len(signed)-2] + "AA"); err == nil && !strings.HasSuffix(signed, "AA") {
			t.Fatal("a changed signature verified")
		}
		w := httptest.NewRecorder()
		h.renderForm(w, http.StatusOK, st, o, langOf(p.Get("lang")), formState{Signed: signed}, now)
		checkPage(t, w, yen(langOf(p.Get("lang")), total))
	})
}

func checkPage(t *testing.T, w *httptest.ResponseRecorder, want string) {
	t.Helper()
	page := w.Body.String()
	if !strings.Contains(page, want) {
		t.Fatalf("page lacks %q", want)
	}
	tags := reScriptTag.FindAllString(page, -1)
	if len(tags) != 1 || tags[0] != `<script src="/link/static/link.js" defer>` {
		t.Fatalf("script tags %q", tags)
	}
	if m := reHandler.FindString(page); m != "" {
		t.Fatalf("event handler attribute in %q", m)
	}
	if csp := w.Header().Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self';") {
		t.Fatalf("CSP %q", csp)
	}
}
