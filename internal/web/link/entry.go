package link

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"kessai/internal/checkout"
	"kessai/internal/maintenance"
	"kessai/internal/payment"
	"kessai/internal/store"
	"kessai/internal/token"
	"kessai/internal/vault"
	"kessai/internal/web/gateway"
	"kessai/internal/wire"
)

// orderInput is a merchant's order as the hosted page accepts it.
type orderInput struct {
	Jb, Cod    string
	Am, Tx, Sf int64
	Inm        string
	Em, Pn, Md string
	Free       string
	Plan       string // auto-charge plan parameters, "" for a one-off payment
}

// planParams are the auto-charge sign-up parameters (wire.md §2.2).
var planParams = []string{"actp", "acam", "actx", "acsf", "ac1", "ac2", "ac3", "ac4", "ac5",
	"trtp", "tr1", "tr2", "tr3", "tram", "trtx", "trsf"}

// planOf returns the plan parameters of p as a query string, "" when p asks for no auto-charge
// (actp absent or 0, as forms that sell one-off and recurring products alike send it).
func planOf(p *wire.Params) string {
	if v := strings.TrimSpace(p.Get("actp")); v == "" || v == "0" {
		return ""
	}
	q := url.Values{}
	for _, n := range planParams {
		if p.Has(n) {
			q.Set(n, p.Get(n))
		}
	}
	return q.Encode()
}

// parseOrder checks a merchant's form against st with the gateway's own rules, in the contract's
// order: jb (ER051: CAPTURE, AUTH or CHECK here), cod (ER054), em (ER059), pn (ER060), md
// (ER064/ER065, and only when the store takes installments), amounts or iid (ER061–ER063, ER005,
// ER068, via gateway.Amounts), the store's limits (ER017/ER018; a CHECK of 0 yen charges nothing and
// skips them, as does an auto-charge sign-up of 0 yen that only registers the card), and an
// auto-charge plan with the auto-charge service's own checks (ER125–ER129, ER570–ER582). Free
// parameters are kept encoded for the kickback and the browser return.
func parseOrder(ctx context.Context, db *store.DB, ac gateway.AutoCharger, st *store.Store, p *wire.Params) (*orderInput, error) {
	jb, err := p.JobType(wire.JobCapture)
	if err != nil {
		return nil, err
	}
	if jb != wire.JobCapture && jb != wire.JobAuth && jb != wire.JobCheck {
		return nil, wire.Errf(wire.ERParamJob, "jb", "%s is not a hosted-page job", jb)
	}
	in := &orderInput{Jb: jb}
	if in.Cod, err = p.Cod(); err != nil {
		return nil, err
	}
	if in.Em, err = p.Email(); err != nil {
		return nil, err
	}
	if in.Pn, err = p.Phone(); err != nil {
		return nil, err
	}
	md, _, err := p.Method()
	if err != nil {
		return nil, err
	}
	if md != wire.MethodLump && !st.Installments {
		return nil, wire.Errf(wire.ERParamMethod, "md", "the store does not take installments")
	}
	in.Md = md
	if _, err := p.Item(); err != nil {
		return nil, err
	}
	if in.Am, in.Tx, in.Sf, in.Inm, err = gateway.Amounts(ctx, db, st, p); err != nil {
		return nil, err
	}
	in.Inm = strings.TrimSpace(in.Inm)
	total := in.Am + in.Tx + in.Sf
	if in.Plan = planOf(p); in.Plan != "" {
		if ac == nil {
			return nil, wire.Errf(wire.ERACCycle, "actp", "auto-charge is not available")
		}
		// validate now, so the shopper never types a card for a plan that will be refused; the
		// plan is made for real, in the payment's transaction, when the card is charged
		req := &payment.ChargeRequest{Store: st, Job: jb, Cod: in.Cod, Am: in.Am, Tx: in.Tx, Sf: in.Sf}
		if err := ac.SignUp(ctx, st, p, req); err != nil {
			return nil, err
		}
	}
	if !(total == 0 && (jb == wire.JobCheck || in.Plan != "")) {
		if err := gateway.CheckLimits(st, total); err != nil {
			return nil, err
		}
	}
	in.Free = wire.EncodeFree(p.Free())
	return in, nil
}

// entry serves /link/creditcard and /gateway/payform.aspx: the merchant's form arrives (POST, or GET
// for e-mailed links), is checked, and becomes an order session with its card form.
func (h *Handler) entry() http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		now := h.Clock.Now()
		ctx := r.Context()
		if r.Body != nil {
			r.Body = http.MaxBytesReader(w, r.Body, MaxBody)
		}
		p, perr := wire.Parse(r, MaxBody)
		if perr == nil && h.nc != nil {
			if m := ptMethod(p.Get("pt")); m != "" {
				// pt=2 / pt=7: convenience store or bank transfer (noncard.go), with the
				// maintenance decision of that method, not the card's
				h.nonCardEntry(w, r, p, m)
				return
			}
		}
		lang, op := "ja", maintenance.OpCapture
		if perr == nil {
			lang = entryLang(p.Get("lang"), r)
			if jb := p.Get("jb"); jb != "" {
				op = maintenance.OpForJob(jb)
			}
		} else {
			lang = entryLang(r.URL.Query().Get("lang"), r)
		}
		// Maintenance comes first: during a window the shopper learns when to come back, whatever
		// else is wrong with the request.
		if win := h.refusing(now, op, maintenance.EveryBrand, r); win != nil {
			h.maintenancePage(w, r, lang, now, win)
			return
		}
		if perr != nil {
			h.logRefusal(r, perr)
			h.problemErr(w, r, lang, perr)
			return
		}
		if pt := strings.TrimSpace(p.Get("pt")); pt != "" && pt != "1" {
			// Only cards are offered. The page names the method and carries ER001 (malformed
			// request: a payment type this service does not accept) so a merchant can see why.
			t := texts[lang]
			name := t["pt_other"]
			switch pt {
			case "2":
				name = t["pt_cvs"]
			case "7":
				name = t["pt_bank"]
			}
			h.problem(w, r, lang, wire.ERMalformed, t["unavailable_title"], strings.Replace(t["unavailable_text"], "%s", name, 1))
			return
		}
		st, err := h.storeFor(ctx, p)
		if err != nil {
			h.logRefusal(r, err)
			h.problemAt(w, r, st, p.Get("cod"), lang, err)
			return
		}
		if p.Has(MailKeyParam) {
			// a mail-payment link (wire.md §9): its key stands for the Referer check, and a key
			// that does not verify is refused, never shown a payment form
			if err := h.mailLinkOK(r, now); err != nil {
				h.logRefusal(r, wire.Errf(wire.ERReferer, MailKeyParam, "%v", err))
				t := texts[lang]
				text := t["mail_invalid"]
				if errors.Is(err, ErrMailKeyExpired) {
					text = t["mail_expired"]
				}
				h.problemWith(w, r, http.StatusForbidden, lang, wire.ERReferer, t["mail_title"], text)
				return
			}
		} else if !originAllowed(st, requestOrigin(r)) {
			err := wire.Errf(wire.ERReferer, "referer", "origin not in the store's allow-list")
			h.logRefusal(r, err)
			h.problemAt(w, r, st, "", lang, err)
			return
		}
		if err := p.Recode(st.Encoding); err != nil {
			h.logRefusal(r, err)
			h.problemAt(w, r, st, "", lang, err)
			return
		}
		in, err := parseOrder(ctx, h.Pay.DB, h.autoCharger(), st, p)
		if err != nil {
			h.logRefusal(r, err)
			h.problemAt(w, r, st, p.Get("cod"), lang, err)
			return
		}
		if c, err := r.Cookie(CookieName); err == nil && token.ValidString(c.Value) && in.Cod != "" {
			// the same form sent again from this browser after it was paid (back, reload): the
			// result, not a second card form
			if paid, err := h.orders().PaidOf(ctx, st.AID, in.Cod, digest(c.Value)); err == nil &&
				paid.Am == in.Am && paid.Tx == in.Tx && paid.Sf == in.Sf && paid.Jb == in.Jb && !checkout.Expired(paid, now) {
				pageHeaders(w)
				http.Redirect(w, r, pageURL("/link/creditcard/result", paid.ID, lang)+"&again=1", http.StatusSeeOther)
				return
			}
		}
		// The order is signed into the page, not stored: see signed.go.
		o := &store.LinkOrder{ID: token.NewString(token.Len), AID: st.AID, Jb: in.Jb, Cod: in.Cod, Am: in.Am, Tx: in.Tx, Sf: in.Sf,
			Inm: in.Inm, Em: in.Em, Pn: in.Pn, Md: in.Md, Free: in.Free, Plan: in.Plan,
			Binding: h.binding(w, r), Status: store.LinkOpen, CreatedAt: now, UpdatedAt: now, ExpiresAt: now.Add(SessionTTL)}
		o.CSRF = h.csrfFor(o.ID)
		h.renderForm(w, http.StatusOK, st, o, lang, formState{Signed: h.seal(o)}, now)
	}
}

// mailLinkOK verifies a mail link's key over the link's own parameters: opened with GET, every
// parameter in the query string.
func (h *Handler) mailLinkOK(r *http.Request, now time.Time) error {
	if r.Method != http.MethodGet {
		return ErrMailKeyInvalid
	}
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return ErrMailKeyInvalid
	}
	return VerifyMailKey(h.Pay.Vault, q, now)
}

// formState is what a re-shown card form keeps from the last submission (never the card number
// or the security code).
type formState struct {
	Signed            string // the signed order field, while the order is not stored yet
	Errors            map[string]string
	Alert             *alert
	Holder            string
	ExpMonth, ExpYear int
	Md                string
}

func (h *Handler) orderView(st *store.Store, o *store.LinkOrder, lang string) *orderView {
	t := texts[lang]
	item := o.Inm
	if item == "" {
		item = t["item_default"]
	}
	ov := &orderView{Store: st.Name, Item: item, Cod: o.Cod, Am: yen(lang, o.Am), Tx: yen(lang, o.Tx), Sf: yen(lang, o.Sf),
		Total: yen(lang, o.Am+o.Tx+o.Sf), TotalLabel: t["total"], ShowTx: o.Tx != 0, ShowSf: o.Sf != 0, Check: o.Jb == wire.JobCheck}
	if o.Plan != "" {
		ov.TotalLabel = t["today"] // the recurring charges are stated with the plan
	}
	return ov
}

// lastCancelled is the order's last outcome when the shopper cancelled 3-D Secure: not an error
// code, and never sent anywhere; the form says the authentication was cancelled.
const lastCancelled = "cancelled"

// declineAlert explains a failed attempt: what happened and what to do, once, with its code.
func declineAlert(lang, code string) *alert {
	if code == "" {
		return nil
	}
	t := texts[lang]
	if code == lastCancelled {
		return &alert{Title: t["tds_cancelled_title"], Text: t["tds_cancelled"]}
	}
	c := wire.Code(code)
	a := &alert{Title: t["decline_title"], Text: shopperText(lang, c), Code: code, Note: t["order_kept"]}
	if f := declineField(code); f != "" {
		// the field says what to fix; the alert says the rest was kept
		a.Note = t["order_kept"] + t["kept_note"]
	}
	return a
}

// declineField is the form field a declined attempt's code is about ("" for none): the shopper
// fixes that field and keeps the others.
func declineField(code string) string {
	switch wire.Code(code) {
	case wire.ERParamCVV:
		return "cvv"
	case wire.ERParamExpiry:
		return "ed"
	}
	return ""
}

// brandClosedText says which brand a maintenance window refuses until when.
func brandClosedText(lang, brand string, win *maintenance.Window) string {
	return fmt.Sprintf(texts[lang]["brand_closed"], brandName(brand), untilText(lang, win))
}

// brandOrder is the order brands are shown in; brandNames their names for shoppers.
var (
	brandOrder = []string{vault.BrandVisa, vault.BrandMaster, vault.BrandJCB, vault.BrandAmex, vault.BrandDiners}
	brandNames = map[string]string{vault.BrandVisa: "Visa", vault.BrandMaster: "Mastercard", vault.BrandJCB: "JCB",
		vault.BrandAmex: "American Express", vault.BrandDiners: "Diners Club"}
)

func brandName(b string) string {
	if n, ok := brandNames[b]; ok {
		return n
	}
	return b
}

// untilText is a window's end for shoppers: 7月22日 04:30, or 22 Jul 04:30 JST.
func untilText(lang string, win *maintenance.Window) string {
	loc := jst
	if win.Zone != "" {
		if l, err := time.LoadLocation(win.Zone); err == nil {
			loc = l
		}
	}
	e := win.End.In(loc)
	if lang == "en" {
		return e.Format("2 Jan 15:04 MST")
	}
	return fmt.Sprintf("%d月%d日 %s", int(e.Month()), e.Day(), e.Format("15:04"))
}

// halfWidth turns full-width digits (what a Japanese IME types) into ASCII ones.
func halfWidth(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= '０' && r <= '９' {
			return '0' + (r - '０')
		}
		return r
	}, s)
}

func (h *Handler) renderForm(w http.ResponseWriter, status int, st *store.Store, o *store.LinkOrder, lang string, fs formState, now time.Time) {
	t := texts[lang]
	title, button := t["title_pay"], t["pay"]
	var plan *planView
	switch {
	case o.Plan != "":
		title, button = t["title_register"], t["register"]
		if o.Am+o.Tx+o.Sf > 0 {
			button = t["register_pay"]
		}
		plan = previewPlan(st, o, lang, now)
	case o.Jb == wire.JobCheck:
		title, button = t["title_check"], t["check"]
	}
	jstNow := now.In(jst)
	f := &formView{Session: o.ID, CSRF: o.CSRF, Signed: fs.Signed, Alert: fs.Alert, Errors: fs.Errors, Holder: fs.Holder,
		Months: expiryOptions(0, fs.ExpMonth), Years: expiryOptions(jstNow.Year(), fs.ExpYear), CVV: st.RequireCVV, Button: button,
		NowYYMM: jstNow.Format("0601")}
	if f.Errors == nil {
		f.Errors = map[string]string{}
	}
	if st.Installments {
		md := fs.Md
		if md == "" {
			md = o.Md
		}
		f.Methods = options(methods(lang, md))
	}
	f.Plan = plan != nil
	f.MsgClosed = map[string]string{}
	// the store's brands, and those a maintenance window limited to some brands refuses now
	accepted := map[string]bool{}
	for _, b := range st.Brands {
		accepted[strings.ToUpper(strings.TrimSpace(b))] = true
	}
	var bbs []brandBadge
	var acc, closed []string
	for _, b := range brandOrder {
		if len(accepted) > 0 && !accepted[b] {
			continue
		}
		bb := brandBadge{Brand: strings.ToLower(b), Name: brandName(b)}
		acc = append(acc, strings.ToLower(b))
		if win := h.refusing(now, maintenance.OpForJob(o.Jb), b, nil); win != nil {
			bb.Closed = true
			closed = append(closed, strings.ToLower(b))
			msg := brandClosedText(lang, b, win)
			f.BrandNotes = append(f.BrandNotes, msg)
			f.MsgClosed[strings.ToLower(b)] = msg
		}
		bbs = append(bbs, bb)
	}
	if len(accepted) > 0 {
		f.Accepted = strings.Join(acc, " ")
	}
	f.Closed = strings.Join(closed, " ")
	v := &view{Lang: lang, Title: title, StoreName: st.Name, AltLang: otherLang(lang), Order: h.orderView(st, o, lang), Form: f,
		Plan: plan, Brands: badges(bbs)}
	if fs.Signed != "" {
		v.AltLangForm = &langForm{Session: o.ID, Signed: fs.Signed}
	} else {
		v.AltLangURL = pageURL("/link/creditcard/order", o.ID, otherLang(lang))
	}
	h.render(w, status, "form", v)
}

var jst = time.FixedZone("JST", 9*3600)

// maintenancePage answers 503 with Retry-After and the window's customer message (wire.md §7), in
// the page's language with the other behind its switch, and a way back.
func (h *Handler) maintenancePage(w http.ResponseWriter, r *http.Request, lang string, now time.Time, win *maintenance.Window) {
	h.maintenancePageAt(w, r, nil, "", lang, now, win)
}

// maintenancePageAt is maintenancePage for a known store's order (cod): the way back is the
// store's completion URL.
func (h *Handler) maintenancePageAt(w http.ResponseWriter, r *http.Request, st *store.Store, cod, lang string, now time.Time, win *maintenance.Window) {
	gateway.RetryAfter(w, now, win)
	back := backURL(st, cod, wire.ERMaintenance)
	mv := h.maintView(r.Context(), win, lang, back)
	mv.Primary = true
	mv.Alt = h.maintView(r.Context(), win, otherLang(lang), back)
	v := &view{Lang: lang, Title: texts[lang]["maint_title"], AltLang: otherLang(lang), AltLangURL: "#alt-" + otherLang(lang), Maint: mv}
	if st != nil {
		v.StoreName = st.Name
	}
	h.render(w, http.StatusServiceUnavailable, "maintenance", v)
}

func (h *Handler) maintView(ctx context.Context, win *maintenance.Window, lang, back string) *maintView {
	msg := h.customerMessage(ctx, win, lang)
	mv := &maintView{Lang: lang, Lines: strings.Split(msg, "\n"), BackURL: back, T: texts[lang]}
	if !strings.Contains(msg, maintenance.ErrorCode) {
		mv.Code = maintenance.ErrorCode // said once: the operator's wording may already name it
	}
	return mv
}
