// Package acpages serves the customer's own auto-charge pages (wire.md §1): the page that stops an
// auto-charge (/link/creditcard/auto-charge/stop) and the page that changes its card
// (/link/creditcard/auto-charge/update), both reached with the store ID (aid) and the sign-up
// payment number (tid).
//
// A payment number is not a secret — it travels in merchants' e-mails and order pages — so when the
// plan knows the customer's e-mail or phone the form asks for one of them before acting [D]. Forms
// carry a double-submit CSRF token and refuse foreign origins. The pages use no script.
package acpages

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"html/template"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"kessai/internal/autocharge"
	"kessai/internal/clock"
	"kessai/internal/maintenance"
	"kessai/internal/payment"
	"kessai/internal/store"
	"kessai/internal/vault"
	"kessai/internal/web/gateway"
	"kessai/internal/web/link"
	"kessai/internal/wire"
)

// Paths of the pages.
const (
	StopPath   = "/link/creditcard/auto-charge/stop"
	UpdatePath = "/link/creditcard/auto-charge/update"
)

// Handler serves the pages.
type Handler struct {
	AC    *autocharge.Service
	Clock clock.Clock
	// Gate returns the maintenance window refusing op for this request, or nil (server.Gate).
	Gate func(t time.Time, op maintenance.Op, brand string, r *http.Request) *maintenance.Window
	Log  *slog.Logger
	// Sandbox marks every page テスト環境 / TEST.
	Sandbox bool
}

// Register mounts the pages on mux. Patterns carry their method, so they stay more specific than
// any catch-all the hosted payment pages register under /link/.
func (h *Handler) Register(mux *http.ServeMux) {
	mux.HandleFunc("GET "+StopPath, h.page(false))
	mux.HandleFunc("POST "+StopPath, h.page(false))
	mux.HandleFunc("GET "+UpdatePath, h.page(true))
	mux.HandleFunc("POST "+UpdatePath, h.page(true))
}

const csrfCookie = "kessai_acp"

// view is what the template gets.
type view struct {
	Lang      string
	Page      string // stop | update | done | error | refused | maintenance
	Update    bool
	Path      string
	AID, TID  string
	CSRF      string
	StoreName string
	Amount    int64
	Cycle     string
	NextDate  string
	Card      string
	Status    string
	Verify    bool // ask for e-mail or phone
	Em, Pn    string
	Error     string
	Message   string
	Sandbox   bool
}

// T picks the page's language.
func (v *view) T(ja, en string) string {
	if v.Lang == "en" {
		return en
	}
	return ja
}

func (h *Handler) page(update bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		v := &view{Lang: "ja", Update: update, Path: StopPath}
		if update {
			v.Path = UpdatePath
		}
		if r.FormValue("lang") == "en" {
			v.Lang = "en"
		}
		now := h.Clock.Now()
		if h.Gate != nil {
			if win := h.Gate(now, maintenance.OpAutoCharge, maintenance.EveryBrand, r); win != nil {
				msg, err := maintenance.CustomerMessage(*win, v.Lang, "")
				if err != nil {
					msg = v.T("ただいまメンテナンス中です。", "The service is under maintenance.")
				}
				gateway.RetryAfter(w, now, win)
				v.Page, v.Message = "maintenance", msg
				h.render(w, http.StatusServiceUnavailable, v)
				return
			}
		}
		st, a, code := h.load(r.Context(), r.FormValue("aid"), r.FormValue("tid"))
		if code != "" {
			v.Page, v.Error = "error", code.Describe(v.Lang)
			status := http.StatusNotFound
			if code == wire.ERInternal {
				status = http.StatusServiceUnavailable
			}
			h.render(w, status, v)
			return
		}
		v.AID, v.TID, v.StoreName = st.AID, r.FormValue("tid"), st.Name
		h.describe(r.Context(), v, st, a)
		if a.Status != store.ACActive {
			v.Page, v.Message = "done", v.T("この自動課金は停止済みです。", "This auto-charge has already stopped.")
			h.render(w, http.StatusOK, v)
			return
		}
		v.Verify = a.Em != "" || a.Pn != ""
		if r.Method == http.MethodGet {
			h.form(w, r, v, http.StatusOK)
			return
		}
		if merchantEntry(r) {
			// A merchant's own form (e.g. a React "change card" button posting aid and tid) opens
			// the page like a GET link does; only Kessai's form, with its token, acts. The store's
			// source-URL allow-list applies as on the hosted payment page's entry (ER002).
			if !link.OriginAllowed(st, link.RequestOrigin(r)) {
				h.Log.Info("auto-charge page refused", "path", r.URL.Path, "code", string(wire.ERReferer))
				v.Page, v.Error = "refused", wire.ERReferer.Describe(v.Lang)+" ("+string(wire.ERReferer)+")"
				h.render(w, http.StatusForbidden, v)
				return
			}
			h.form(w, r, v, http.StatusOK)
			return
		}
		if !h.csrfOK(r) {
			v.Error = v.T("画面の有効期限が切れました。もう一度お試しください。", "This form has expired. Please try again.")
			h.form(w, r, v, http.StatusForbidden)
			return
		}
		v.Em, v.Pn = strings.TrimSpace(r.PostFormValue("em")), strings.TrimSpace(r.PostFormValue("pn"))
		if v.Verify && !sameCustomer(a, v.Em, v.Pn) {
			v.Error = v.T("ご登録のメールアドレスまたは電話番号と一致しません。", "This does not match the e-mail address or phone number on record.")
			h.form(w, r, v, http.StatusOK)
			return
		}
		if update {
			h.updateCard(w, r, v, st, a)
			return
		}
		err := h.AC.Stop(r.Context(), st, a.Acid, "link")
		switch c := wire.CodeOf(err); {
		case err == nil:
			v.Page, v.Message = "done", v.T("自動課金を停止しました。", "Your auto-charge has been stopped.")
			v.Status = store.ACStopped
		case c == wire.ERAlreadyStopped:
			v.Page, v.Message = "done", v.T("この自動課金は停止済みです。", "This auto-charge has already stopped.")
		default:
			h.Log.Warn("auto-charge stop page failed", "aid", st.AID, "err", err)
			v.Error = c.Describe(v.Lang)
			h.form(w, r, v, http.StatusOK)
			return
		}
		h.render(w, http.StatusOK, v)
	}
}

// ownFields are the fields only Kessai's own forms on these pages post: a POST carrying none of
// them is a merchant's entry to the page, not a submission.
var ownFields = []string{"csrf", "em", "pn", "cn", "cvv", "exp_month", "exp_year", "fn", "ln"}

// merchantEntry reports whether a POST is a merchant's form opening the page (aid, tid and maybe
// lang or fields of the merchant's own), rather than a submission of Kessai's form.
func merchantEntry(r *http.Request) bool {
	if r.Method != http.MethodPost {
		return false
	}
	for _, f := range ownFields {
		if _, ok := r.PostForm[f]; ok {
			return false
		}
	}
	return true
}

// load finds the store and the plan of (aid, tid), or the code that says why not.
func (h *Handler) load(ctx context.Context, aid, tid string) (*store.Store, *store.AutoCharge, wire.Code) {
	if len(aid) != 6 || strings.Trim(aid, "0123456789") != "" {
		return nil, nil, wire.ERParamAID
	}
	if tid == "" || len(tid) > 32 {
		return nil, nil, wire.ERParamTID
	}
	st, err := h.AC.Pay.Stores.Get(ctx, aid)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil, wire.ERUnknownStore
	}
	if err != nil {
		return nil, nil, wire.ERInternal
	}
	if st.Suspended {
		return nil, nil, wire.ERStoreSuspended
	}
	a, err := h.AC.ByPayment(ctx, st, tid)
	if err != nil {
		return nil, nil, wire.CodeOf(err)
	}
	return st, a, ""
}

func (h *Handler) describe(ctx context.Context, v *view, st *store.Store, a *store.AutoCharge) {
	am, tx, sf := autocharge.Amounts(a, a.NextDate)
	v.Amount = am + tx + sf
	v.Cycle = autocharge.Cycle(a.Cycle).Name(v.Lang)
	if d, ok := autocharge.ParseDate(a.NextDate); ok {
		v.NextDate = d.Slash()
	}
	v.Status = a.Status
	if c, err := h.AC.DB.GetCard(ctx, st.AID, a.CardID); err == nil {
		v.Card = c.Brand + " " + vault.MaskStored(c.First6, c.Last4)
	}
}

// sameCustomer accepts the e-mail (any case) or the phone (digits only) on record.
func sameCustomer(a *store.AutoCharge, em, pn string) bool {
	if em != "" && a.Em != "" && strings.EqualFold(em, a.Em) {
		return true
	}
	d := digitsOnly(pn)
	return d != "" && a.Pn != "" && d == digitsOnly(a.Pn)
}

func digitsOnly(s string) string {
	var b strings.Builder
	for _, c := range s {
		if c >= '0' && c <= '9' {
			b.WriteRune(c)
		}
	}
	return b.String()
}

// updateCard checks the new card with the network (a CHECK payment, which seals and stores it)
// and puts it on the plan in the same transaction.
func (h *Handler) updateCard(w http.ResponseWriter, r *http.Request, v *view, st *store.Store, a *store.AutoCharge) {
	f := url.Values{}
	for _, k := range []string{"cn", "cvv", "fn", "ln"} {
		f.Set(k, strings.TrimSpace(r.PostFormValue(k)))
	}
	mm, yy := strings.TrimSpace(r.PostFormValue("exp_month")), strings.TrimSpace(r.PostFormValue("exp_year"))
	if len(mm) == 1 {
		mm = "0" + mm
	}
	if len(yy) == 4 {
		yy = yy[2:]
	}
	f.Set("ed", yy+mm)
	p, err := wire.ParseQuery(f.Encode())
	var card *payment.CardInput
	if err == nil {
		card, err = gateway.Card(st, p, h.Clock.Now())
	}
	if err != nil {
		v.Error = wire.CodeOf(err).Describe(v.Lang)
		h.form(w, r, v, http.StatusOK)
		return
	}
	req := &payment.ChargeRequest{Store: st, Job: wire.JobCheck, Card: card, Em: a.Em, Pn: a.Pn, Md: wire.MethodLump,
		Source: "link", AcceptedAt: h.Clock.Now()}
	req.InTx = func(tx *store.Tx, p *store.Payment) error {
		p.Acid = a.Acid
		return h.AC.SetCardTx(tx, st, a.Acid, p.CardID, "link")
	}
	res, err := h.AC.Pay.Charge(r.Context(), req)
	switch {
	case err != nil:
		c := wire.CodeOf(err)
		if pc := payment.CodeOf(err); pc != string(wire.ERInternal) {
			c = wire.Code(pc)
		}
		if c == wire.ERInternal {
			h.Log.Warn("auto-charge card update failed", "aid", st.AID, "err", err)
		}
		v.Error = c.Describe(v.Lang)
		h.form(w, r, v, http.StatusOK)
		return
	case res.P.Rst != "1":
		v.Error = wire.Code(res.P.Ec).Describe(v.Lang)
		h.form(w, r, v, http.StatusOK)
		return
	}
	v.Card = res.P.Brand + " " + vault.MaskStored(res.P.First6, res.P.Last4)
	v.Page, v.Message = "done", v.T("お支払いに使うカードを変更しました。", "Your card has been updated.")
	h.render(w, http.StatusOK, v)
}

func (h *Handler) form(w http.ResponseWriter, r *http.Request, v *view, status int) {
	v.Page = "stop"
	if v.Update {
		v.Page = "update"
	}
	tok := make([]byte, 16)
	rand.Read(tok)
	v.CSRF = hex.EncodeToString(tok)
	http.SetCookie(w, &http.Cookie{Name: csrfCookie, Value: v.CSRF, Path: "/link/creditcard/auto-charge/", HttpOnly: true,
		SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil, MaxAge: 3600})
	h.render(w, status, v)
}

// csrfOK checks the double-submit token and that the POST comes from this site.
func (h *Handler) csrfOK(r *http.Request) bool {
	c, err := r.Cookie(csrfCookie)
	got := r.PostFormValue("csrf")
	if err != nil || c.Value == "" || got == "" || subtle.ConstantTimeCompare([]byte(c.Value), []byte(got)) != 1 {
		return false
	}
	if o := r.Header.Get("Origin"); o != "" {
		u, err := url.Parse(o)
		if err != nil || !strings.EqualFold(u.Host, r.Host) {
			return false
		}
	}
	return true
}

func (h *Handler) render(w http.ResponseWriter, status int, v *view) {
	hd := w.Header()
	hd.Set("Content-Type", "text/html; charset=utf-8")
	hd.Set("Cache-Control", "no-store")
	hd.Set("Content-Security-Policy", csp)
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Referrer-Policy", "no-referrer")
	w.WriteHeader(status)
	v.Sandbox = h.Sandbox
	if err := pageTmpl.Execute(w, v); err != nil && h.Log != nil {
		h.Log.Error("auto-charge page", "err", err)
	}
}

func yen(n int64) string {
	s := strconv.FormatInt(n, 10)
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return "¥" + b.String()
}

// pageCSS is the pages' only style, allowed by its hash: the CSP has no 'unsafe-inline'.
const pageCSS = `body{font-family:system-ui,-apple-system,"Hiragino Sans","Noto Sans JP",sans-serif;margin:0;background:#f4f5f7;color:#222}
main{max-width:34rem;margin:2rem auto;background:#fff;padding:1.5rem 2rem;border-radius:8px;box-shadow:0 1px 3px #0002}
h1{font-size:1.3rem;margin-top:0}dl{display:grid;grid-template-columns:auto 1fr;gap:.3rem 1rem}dt{color:#666}dd{margin:0}
label{display:block;margin:.7rem 0 .2rem}input{font-size:1rem;padding:.4rem;width:100%;box-sizing:border-box}
.row{display:flex;gap:.5rem}.row input{width:5rem}button{margin-top:1.2rem;font-size:1rem;padding:.6rem 1.4rem;border:0;border-radius:4px;background:#c0392b;color:#fff}
button.ok{background:#2c6fbb}.err{background:#fdecea;color:#8a1c12;padding:.6rem .8rem;border-radius:4px}.msg{background:#eaf4ea;padding:.6rem .8rem;border-radius:4px}
.lang{float:right;font-size:.85rem}.pre{white-space:pre-line}
.test{background:#b00020;color:#fff;font-weight:bold;text-align:center;padding:.3rem;margin:-1.5rem -2rem 1rem;border-radius:8px 8px 0 0}
`

var csp = func() string {
	sum := sha256.Sum256([]byte(pageCSS))
	return "default-src 'none'; style-src 'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
}()

var pageTmpl = template.Must(template.New("page").Funcs(template.FuncMap{"yen": yen, "css": func() template.CSS { return template.CSS(pageCSS) }}).Parse(`<!doctype html>
<html lang="{{.Lang}}"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<title>{{if .Update}}{{.T "お支払いカードの変更" "Change your card"}}{{else}}{{.T "自動課金の停止" "Stop your auto-charge"}}{{end}}</title>
<style>{{css}}</style></head><body><main>
{{if .Sandbox}}<p class="test" role="note">テスト環境 / TEST</p>{{end}}
{{if eq .Page "maintenance"}}
<h1>{{.T "メンテナンス中" "Under maintenance"}}</h1><p class="pre">{{.Message}}</p>
{{else if eq .Page "refused"}}
<h1>{{.T "このページからは開けません" "This page cannot be opened from there"}}</h1><p class="err">{{.Error}}</p>
{{else if eq .Page "error"}}
<h1>{{.T "自動課金が見つかりません" "Auto-charge not found"}}</h1><p class="err">{{.Error}}</p>
{{else}}
<a class="lang" href="{{.Path}}?aid={{.AID}}&amp;tid={{.TID}}&amp;lang={{if eq .Lang "en"}}ja{{else}}en{{end}}">{{if eq .Lang "en"}}日本語{{else}}English{{end}}</a>
<h1>{{if .Update}}{{.T "お支払いカードの変更" "Change your card"}}{{else}}{{.T "自動課金の停止" "Stop your auto-charge"}}{{end}}</h1>
<dl>
<dt>{{.T "ご契約先" "Merchant"}}</dt><dd>{{.StoreName}}</dd>
<dt>{{.T "金額" "Amount"}}</dt><dd>{{yen .Amount}} ({{.Cycle}})</dd>
{{if eq .Status "active"}}<dt>{{.T "次回課金日" "Next charge"}}</dt><dd>{{.NextDate}}</dd>{{end}}
{{if .Card}}<dt>{{.T "カード" "Card"}}</dt><dd>{{.Card}}</dd>{{end}}
</dl>
{{if eq .Page "done"}}<p class="msg">{{.Message}}</p>{{else}}
{{if .Error}}<p class="err">{{.Error}}</p>{{end}}
<form method="post" action="{{.Path}}">
<input type="hidden" name="aid" value="{{.AID}}"><input type="hidden" name="tid" value="{{.TID}}">
<input type="hidden" name="csrf" value="{{.CSRF}}"><input type="hidden" name="lang" value="{{.Lang}}">
{{if .Verify}}<p>{{.T "ご本人確認のため、ご登録のメールアドレスまたは電話番号を入力してください。" "To confirm it is you, enter the e-mail address or phone number you registered."}}</p>
<label for="em">{{.T "メールアドレス" "E-mail address"}}</label><input id="em" name="em" type="email" value="{{.Em}}" autocomplete="email">
<label for="pn">{{.T "電話番号" "Phone number"}}</label><input id="pn" name="pn" type="tel" value="{{.Pn}}" autocomplete="tel">{{end}}
{{if .Update}}
<label for="cn">{{.T "カード番号" "Card number"}}</label><input id="cn" name="cn" inputmode="numeric" autocomplete="cc-number" required>
<label>{{.T "有効期限 (月 / 年)" "Expiry (month / year)"}}</label><div class="row"><input name="exp_month" placeholder="MM" inputmode="numeric" autocomplete="cc-exp-month" required><input name="exp_year" placeholder="YY" inputmode="numeric" autocomplete="cc-exp-year" required></div>
<label for="cvv">{{.T "セキュリティコード" "Security code"}}</label><input id="cvv" name="cvv" inputmode="numeric" autocomplete="cc-csc">
<label for="fn">{{.T "カード名義 (姓)" "Cardholder family name"}}</label><input id="fn" name="fn" autocomplete="cc-family-name">
<label for="ln">{{.T "カード名義 (名)" "Cardholder given name"}}</label><input id="ln" name="ln" autocomplete="cc-given-name">
<button class="ok" type="submit">{{.T "カードを変更する" "Update card"}}</button>
{{else}}
<p>{{.T "停止すると、次回以降の課金は行われません。" "Once stopped, no further charges are made."}}</p>
<button type="submit">{{.T "自動課金を停止する" "Stop auto-charge"}}</button>
{{end}}
</form>{{end}}
{{end}}
</main></body></html>
`))
