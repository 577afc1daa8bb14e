package link

import (
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"kessai/internal/acquirer"
	"kessai/internal/maintenance"
	"kessai/internal/payment"
	"kessai/internal/store"
	"kessai/internal/token"
	"kessai/internal/vault"
	"kessai/internal/web/gateway"
	"kessai/internal/wire"
)

// session loads the order session id and checks that this browser opened it: the stored row, or,
// before the first card submission stored it, the signed field d. stored says which. When it
// returns ok false it has answered the request.
func (h *Handler) session(w http.ResponseWriter, r *http.Request, id, d, lang string) (o *store.LinkOrder, st *store.Store, stored, ok bool) {
	t := texts[lang]
	expired := func() {
		h.problem(w, r, lang, wire.ERMalformed, t["session_title"], t["session_text"])
	}
	if !token.ValidString(id) {
		expired()
		return nil, nil, false, false
	}
	o, err := h.orders().Get(r.Context(), id)
	switch {
	case err == nil:
		stored = true
	case errors.Is(err, store.ErrNotFound) && d != "":
		if o, err = h.unseal(d); err != nil || o.ID != id {
			h.logRefusal(r, wire.Errf(wire.ERMalformed, "d", "order field does not verify"))
			expired()
			return nil, nil, false, false
		}
	case errors.Is(err, store.ErrNotFound):
		expired()
		return nil, nil, false, false
	default:
		h.logRefusal(r, &wire.Error{Code: wire.ERInternal, Msg: "storage", Err: err})
		h.problem(w, r, lang, wire.ERInternal, "", "")
		return nil, nil, false, false
	}
	if !boundTo(r, o) || (o.Status != store.LinkPaid && !h.Clock.Now().Before(o.ExpiresAt)) {
		expired()
		return nil, nil, false, false
	}
	st, err = h.Pay.Stores.Get(r.Context(), o.AID)
	if err != nil {
		h.logRefusal(r, &wire.Error{Code: wire.ERInternal, Msg: "storage", Err: err})
		h.problem(w, r, lang, wire.ERInternal, "", "")
		return nil, nil, false, false
	}
	return o, st, stored, true
}

// form reads a POST from one of the session's own pages and checks its anti-forgery token.
func (h *Handler) form(w http.ResponseWriter, r *http.Request) (p *wire.Params, o *store.LinkOrder, st *store.Store, lang string, stored, ok bool) {
	r.Body = http.MaxBytesReader(w, r.Body, MaxBody)
	// Kessai's own form: its fields (the signed order among them) are not free parameters
	p, err := wire.ParseOwnForm(r, MaxBody)
	if err != nil {
		lang := langOf(r.URL.Query().Get("lang"))
		h.problemErr(w, r, lang, err)
		return nil, nil, nil, "", false, false
	}
	lang = langOf(p.Get("lang"))
	o, st, stored, ok = h.session(w, r, p.Get("o"), p.Get("d"), lang)
	if !ok {
		return nil, nil, nil, "", false, false
	}
	if subtle.ConstantTimeCompare([]byte(p.Get("csrf")), []byte(o.CSRF)) != 1 {
		t := texts[lang]
		h.logRefusal(r, wire.Errf(wire.ERMalformed, "csrf", "anti-forgery token mismatch"))
		h.problem(w, r, lang, wire.ERMalformed, t["session_title"], t["session_text"])
		return nil, nil, nil, "", false, false
	}
	return p, o, st, lang, stored, true
}

func redirect(w http.ResponseWriter, r *http.Request, path, session, lang string) {
	pageHeaders(w)
	http.Redirect(w, r, pageURL(path, session, lang), http.StatusSeeOther)
}

// orderPage shows an open order's card form again: after a decline, or in the other language.
func (h *Handler) orderPage(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	lang := langOf(q.Get("lang"))
	o, st, _, ok := h.session(w, r, q.Get("o"), "", lang)
	if !ok {
		return
	}
	if o.Status == store.LinkPaid {
		redirect(w, r, "/link/creditcard/result", o.ID, lang)
		return
	}
	fs := formState{Alert: declineAlert(lang, o.LastEc), Errors: map[string]string{}}
	if f := declineField(o.LastEc); f != "" {
		fs.Errors[f] = shopperText(lang, wire.Code(o.LastEc))
	}
	if o.Status == store.LinkBusy {
		fs.Alert = &alert{Title: texts[lang]["busy"]}
	}
	h.renderForm(w, http.StatusOK, st, o, lang, fs, h.Clock.Now())
}

// cardParams turns the hosted form's fields into the wire parameters gateway.Card checks, so the
// hosted page and the gateway refuse the same cards with the same codes.
func cardParams(p *wire.Params) (*wire.Params, formState) {
	fs := formState{Holder: strings.Join(strings.Fields(strings.ToUpper(p.Get("holder"))), " "), Md: p.Get("md")}
	fs.ExpMonth, _ = strconv.Atoi(p.Get("exp_month"))
	fs.ExpYear, _ = strconv.Atoi(p.Get("exp_year"))
	ed := ""
	if fs.ExpMonth >= 1 && fs.ExpMonth <= 12 && fs.ExpYear >= 0 && fs.ExpYear <= 99 && p.Get("exp_year") != "" {
		ed = twoDigits(fs.ExpYear) + twoDigits(fs.ExpMonth)
	}
	v := url.Values{"cn": {p.Get("cn")}, "ed": {ed}, "fn": {fs.Holder}, "cvv": {p.Get("cvv")}}
	cp, err := wire.ParseQuery(v.Encode())
	if err != nil {
		cp, _ = wire.ParseQuery("")
	}
	return cp, fs
}

func twoDigits(n int) string {
	if n < 10 {
		return "0" + strconv.Itoa(n)
	}
	return strconv.Itoa(n % 100)
}

// fieldError places a card error next to its field.
func fieldError(lang string, code wire.Code, cnEmpty bool) (field, msg string) {
	t := texts[lang]
	switch code {
	case wire.ERParamCardNumber:
		if cnEmpty {
			return "cn", t["err_cn_required"]
		}
		return "cn", t["err_cn"]
	case wire.ERCardCheckDigit:
		return "cn", t["err_cn"]
	case wire.ERBrandNotAccepted:
		return "cn", t["err_brand"]
	case wire.ERParamExpiry:
		return "ed", t["err_exp"]
	case wire.ERParamFN, wire.ERParamLN:
		return "holder", t["err_holder"]
	case wire.ERParamCVV:
		return "cvv", t["err_cvv"]
	case wire.ERParamMethod, wire.ERParamInstallments:
		return "md", t["err_md"]
	}
	return "", code.Describe(lang)
}

// pay takes the card form: checks the card as the gateway does, then charges it through the same
// payment service (Source "link", with the kickback), running 3-D Secure first when the issuer asks
// for a challenge. A decline returns to the form of the same order session.
func (h *Handler) pay(w http.ResponseWriter, r *http.Request) {
	now := h.Clock.Now()
	ctx := r.Context()
	p, o, st, lang, stored, ok := h.form(w, r)
	if !ok {
		return
	}
	if o.Status == store.LinkPaid {
		redirect(w, r, "/link/creditcard/result", o.ID, lang)
		return
	}
	op := maintenance.OpForJob(o.Jb)
	if win := h.refusing(now, op, maintenance.EveryBrand, r); win != nil {
		h.maintenancePage(w, r, lang, now, win)
		return
	}
	cp, fs := cardParams(p)
	fs.Errors = map[string]string{}
	if !stored {
		fs.Signed = p.Get("d")
	}
	if wait := h.cardWait(r, st, now); wait > 0 {
		// card testing from this address: refuse before the card is looked at
		fs.Alert = &alert{Title: texts[lang]["decline_title"], Text: fmt.Sprintf(texts[lang]["too_many"], waitMinutes(wait)), Code: string(wire.ERDeclined)}
		w.Header().Set("Retry-After", strconv.FormatInt(int64((wait+time.Second-1)/time.Second), 10))
		h.renderForm(w, http.StatusTooManyRequests, st, o, lang, fs, now)
		return
	}
	card, err := gateway.Card(st, cp, now)
	if err != nil {
		h.cardFailed(r, st, p.Get("cn"), wire.CodeOf(err), now)
		f, msg := fieldError(lang, wire.CodeOf(err), strings.TrimSpace(p.Get("cn")) == "")
		if f == "" {
			fs.Alert = &alert{Title: texts[lang]["decline_title"], Text: msg, Code: string(wire.CodeOf(err))}
		} else {
			fs.Errors[f] = msg
		}
	}
	if fs.Holder == "" {
		fs.Errors["holder"] = texts[lang]["err_holder"]
	}
	if st.RequireCVV && p.Get("cvv") == "" {
		fs.Errors["cvv"] = texts[lang]["err_cvv"]
	}
	md := wire.MethodLump
	if st.Installments {
		mp, _ := wire.ParseQuery(url.Values{"md": {fs.Md}}.Encode())
		if mp != nil {
			var merr error
			if md, _, merr = mp.Method(); merr != nil {
				_, fs.Errors["md"] = fieldError(lang, wire.CodeOf(merr), false)
			}
		}
	}
	if len(fs.Errors) > 0 || fs.Alert != nil {
		h.renderForm(w, http.StatusUnprocessableEntity, st, o, lang, fs, now)
		return
	}
	if brand := vault.Brand(card.PAN); brand != "" {
		if win := h.refusing(now, op, brand, r); win != nil {
			// a window limited to some brands: the shopper may pay with another card, so the
			// form comes back with the order kept and what is closed until when
			gateway.RetryAfter(w, now, win)
			msg := brandClosedText(lang, brand, win)
			fs.Errors["cn"] = msg
			fs.Alert = &alert{Title: texts[lang]["brand_closed_title"], Text: msg, Code: maintenance.ErrorCode}
			h.renderForm(w, http.StatusServiceUnavailable, st, o, lang, fs, now)
			return
		}
	}
	// the order turns busy for this submission (stored first when it was only signed so far): of
	// two submissions of one form, exactly one goes on to charge
	if won, err := h.orders().Claim(r.Context(), o, stored); !h.claimed(w, r, o, lang, won, err) {
		return
	}
	flow := acquirer.ThreeDSFor(r.Context(), h.Pay.Acq, card.PAN) // honours Kessai-Scenario
	switch flow {
	case "challenge":
		h.startChallenge(w, r, st, o, lang, card, md)
		return
	case "fail":
		h.cardFailed(r, st, card.PAN, wire.ER3DSFailed, now)
		h.backToForm(w, r, o, lang, string(wire.ER3DSFailed))
		return
	}
	req, err := h.chargeRequest(r, st, o, md, now)
	if err != nil {
		h.finish(w, r, o, lang, nil, err)
		return
	}
	req.Card, req.TDS = card, token.FlowResult(flow)
	req.ReturnURL = processorReturnURL(r, o, lang) // a processor's own 3-D Secure comes back there
	res, err := h.Pay.Charge(ctx, req)
	if err == nil && res.RedirectURL != "" {
		h.toProcessor(w, r, st, o, lang, card, md, res)
		return
	}
	switch {
	case err != nil:
		h.cardFailed(r, st, card.PAN, wire.Code(payment.CodeOf(err)), now)
	case res.P.Rst != wire.RstSuccess:
		h.cardFailed(r, st, card.PAN, wire.Code(res.P.Ec), now)
	}
	h.finish(w, r, o, lang, res, err)
}

// chargeRequest builds the order's payment; an auto-charge sign-up gets its plan attached (made
// inside the payment's transaction) by the auto-charge service.
func (h *Handler) chargeRequest(r *http.Request, st *store.Store, o *store.LinkOrder, md string, accepted time.Time) (*payment.ChargeRequest, error) {
	req := &payment.ChargeRequest{Store: st, Job: o.Jb, Cod: o.Cod, Am: o.Am, Tx: o.Tx, Sf: o.Sf, Inm: o.Inm, Em: o.Em, Pn: o.Pn,
		Md: md, Free: o.Free, Source: "link", Kickback: true, AcceptedAt: accepted}
	// a successful payment turns the order paid in its own transaction (finish does it for a
	// replayed result, which did not run this)
	orders := h.orders()
	req.Recorded = func(tx *store.Tx, p *store.Payment) error { return orders.ChargedIn(tx, o.ID, p.Gid) }
	if o.Plan != "" {
		ac := h.autoCharger()
		pp, err := wire.ParseQuery(o.Plan)
		if ac == nil || err != nil {
			return nil, wire.Errf(wire.ERACCycle, "actp", "auto-charge is not available")
		}
		if err := ac.SignUp(r.Context(), st, pp, req); err != nil {
			return nil, err
		}
	}
	return req, nil
}

// finish records a charge's outcome on the order session and sends the shopper on: to the result
// page after a success, back to the card form (same order) after a decline or an error.
func (h *Handler) finish(w http.ResponseWriter, r *http.Request, o *store.LinkOrder, lang string, res *payment.Result, err error) {
	if err != nil {
		code := payment.CodeOf(err)
		if wc := wire.CodeOf(err); code == string(wire.ERInternal) && wc != wire.ERInternal {
			code = string(wc) // a wire.Error from the auto-charge service
		}
		if code == string(wire.ERInternal) {
			h.logRefusal(r, err)
		}
		h.backToForm(w, r, o, lang, code)
		return
	}
	if res.P.Rst == wire.RstSuccess {
		// a payment recorded now turned the order paid with it (chargeRequest); a replayed one
		// (the order number was paid before) did not
		if res.Replayed {
			if err := h.orders().Charged(r.Context(), o.ID, res.P.Gid, ""); err != nil {
				// the payment is recorded and its kickback queued; only the page state is lost
				h.logRefusal(r, &wire.Error{Code: wire.ERInternal, Msg: "storage", Err: err})
			}
		}
		redirect(w, r, "/link/creditcard/result", o.ID, lang)
		return
	}
	h.backToForm(w, r, o, lang, res.P.Ec)
}

// backToForm reopens a busy or challenged order after a failed attempt, remembering why (code,
// which the form then shows), and sends the shopper back to the order's card form.
func (h *Handler) backToForm(w http.ResponseWriter, r *http.Request, o *store.LinkOrder, lang, code string) {
	if err := h.orders().Release(r.Context(), o.ID, code); err != nil {
		h.logRefusal(r, &wire.Error{Code: wire.ERInternal, Msg: "storage", Err: err})
	}
	redirect(w, r, "/link/creditcard/order", o.ID, lang)
}

// at reports whether the order is in the state a page is for (a challenge, a return from the
// processor). When it is not, it has sent the shopper where the order stands: its result once
// paid, else its card form.
func at(w http.ResponseWriter, r *http.Request, o *store.LinkOrder, lang, status string) bool {
	switch o.Status {
	case status:
		return true
	case store.LinkPaid:
		redirect(w, r, "/link/creditcard/result", o.ID, lang)
	default:
		redirect(w, r, "/link/creditcard/order", o.ID, lang)
	}
	return false
}

// claimed takes the outcome of one of the order's claims (the form's submission, the challenge's
// answer, the return from the processor: each lets one request charge) and reports whether this
// request won it. When it did not, it has answered: an error page when the claim failed, else
// the order's card form, which shows what the request that won is doing or did.
func (h *Handler) claimed(w http.ResponseWriter, r *http.Request, o *store.LinkOrder, lang string, won bool, err error) bool {
	if err != nil {
		h.fail(w, r, lang, err)
		return false
	}
	if !won {
		redirect(w, r, "/link/creditcard/order", o.ID, lang)
	}
	return won
}

func (h *Handler) fail(w http.ResponseWriter, r *http.Request, lang string, err error) {
	h.logRefusal(r, &wire.Error{Code: wire.ERInternal, Msg: "storage", Err: err})
	h.problem(w, r, lang, wire.ERInternal, "", "")
}

// startChallenge holds the card as a token (sealed; the security code is checked with the network
// now and then forgotten), runs 3-D Secure for the order's amounts and shows the challenge.
func (h *Handler) startChallenge(w http.ResponseWriter, r *http.Request, st *store.Store, o *store.LinkOrder, lang string, card *payment.CardInput, md string) {
	ctx := r.Context()
	created, err := h.Tokens.Create(ctx, st, card, md)
	if err != nil {
		h.cardFailed(r, st, card.PAN, wire.CodeOf(err), h.Clock.Now())
		h.backToForm(w, r, o, lang, string(wire.CodeOf(err)))
		return
	}
	outcome, _, err := h.Tokens.Authenticate(ctx, st, created.Token, o.Am, o.Tx, o.Sf)
	if err != nil {
		h.backToForm(w, r, o, lang, string(wire.CodeOf(err)))
		return
	}
	if outcome == token.Frictionless {
		h.chargeToken(w, r, st, o, lang, created.Token, md)
		return
	}
	if err := h.orders().Challenged(ctx, o.ID, created.Token); err != nil {
		h.fail(w, r, lang, err)
		return
	}
	redirect(w, r, "/link/creditcard/3ds", o.ID, lang)
}

// chargeToken consumes an authenticated token (amounts checked against 3-D Secure's) and charges it.
func (h *Handler) chargeToken(w http.ResponseWriter, r *http.Request, st *store.Store, o *store.LinkOrder, lang, tkn, md string) {
	ctx := r.Context()
	now := h.Clock.Now()
	cardID, tds, err := h.Tokens.Consume(ctx, st, tkn, o.Am, o.Tx, o.Sf)
	if err != nil {
		h.backToForm(w, r, o, lang, string(wire.CodeOf(err)))
		return
	}
	req, err := h.chargeRequest(r, st, o, md, now)
	if err != nil {
		h.finish(w, r, o, lang, nil, err)
		return
	}
	req.CardID, req.TDS = cardID, tds
	res, err := h.Pay.Charge(ctx, req)
	h.finish(w, r, o, lang, res, err)
}

// challengePage shows the open 3-D Secure challenge of an order.
func (h *Handler) challengePage(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	lang := langOf(q.Get("lang"))
	o, st, _, ok := h.session(w, r, q.Get("o"), "", lang)
	if !ok {
		return
	}
	h.showChallenge(w, r, st, o, lang, nil)
}

func (h *Handler) showChallenge(w http.ResponseWriter, r *http.Request, st *store.Store, o *store.LinkOrder, lang string, al *alert) {
	if !at(w, r, o, lang, store.LinkChallenge) {
		return
	}
	tk, err := h.Pay.DB.GetToken(r.Context(), o.Token)
	if err != nil {
		h.backToForm(w, r, o, lang, string(wire.ER3DSError))
		return
	}
	masked, _, err := h.Tokens.Card(r.Context(), st, o.Token)
	if err != nil {
		h.backToForm(w, r, o, lang, string(wire.CodeOf(err)))
		return
	}
	cv := &challengeView{Session: o.ID, CSRF: o.CSRF, Card: masked, Total: yen(lang, o.Am+o.Tx+o.Sf), Alert: al}
	if h.Sandbox {
		cv.SandboxCode = tk.TDSChallenge
	}
	v := &view{Lang: lang, Title: texts[lang]["tds_title"], StoreName: st.Name, AltLang: otherLang(lang),
		AltLangURL: pageURL("/link/creditcard/3ds", o.ID, otherLang(lang)), Challenge: cv}
	h.render(w, http.StatusOK, "challenge", v)
}

// challengeSubmit completes or cancels the challenge; when authenticated, the order is charged with
// the token's card for the authenticated amounts.
func (h *Handler) challengeSubmit(w http.ResponseWriter, r *http.Request) {
	now := h.Clock.Now()
	ctx := r.Context()
	p, o, st, lang, _, ok := h.form(w, r)
	if !ok {
		return
	}
	if o.Status != store.LinkChallenge {
		h.showChallenge(w, r, st, o, lang, nil)
		return
	}
	if win := h.refusing(now, maintenance.OpForJob(o.Jb), maintenance.EveryBrand, r); win != nil {
		h.maintenancePage(w, r, lang, now, win)
		return
	}
	tkn := o.Token
	if p.Get("action") != "authenticate" {
		// the shopper gave up: nothing was charged, the order stays open; the form says it
		// was cancelled (not that authentication failed)
		h.Tokens.Complete(ctx, st, tkn, "", false)
		h.backToForm(w, r, o, lang, lastCancelled)
		return
	}
	if err := h.Tokens.Try(ctx, st, tkn, halfWidth(strings.TrimSpace(p.Get("otp")))); err != nil {
		var wrong *token.WrongCode
		if errors.As(err, &wrong) {
			t := texts[lang]
			h.showChallenge(w, r, st, o, lang, &alert{Title: fmt.Sprintf(t["tds_wrong"], wrong.Left)})
			return
		}
		h.backToForm(w, r, o, lang, string(wire.CodeOf(err)))
		return
	}
	if won, err := h.orders().ClaimChallenge(ctx, o.ID); !h.claimed(w, r, o, lang, won, err) {
		return
	}
	md := wire.MethodLump
	if t, err := h.Pay.DB.GetToken(ctx, tkn); err == nil && t.Md != "" {
		md = t.Md
	}
	h.chargeToken(w, r, st, o, lang, tkn, md)
}

// orderState answers the card form's script, which asks when the page is shown again from the
// browser's history: {"paid":true,"result":URL} once the order is paid, so a shopper who went back
// after paying is sent to the result instead of a card form. Only the browser that opened the
// order learns anything.
func (h *Handler) orderState(w http.ResponseWriter, r *http.Request) {
	apiHeaders(w)
	w.Header().Set("Content-Type", "application/json")
	q := r.URL.Query()
	id := q.Get("o")
	paid := false
	if token.ValidString(id) {
		if o, err := h.orders().Get(r.Context(), id); err == nil && boundTo(r, o) && o.Status == store.LinkPaid {
			paid = true
		}
	}
	if !paid {
		io.WriteString(w, `{"paid":false}`)
		return
	}
	u := pageURL("/link/creditcard/result", id, langOf(q.Get("lang"))) + "&again=1"
	b, _ := json.Marshal(map[string]any{"paid": true, "result": u})
	w.Write(b)
}

// langSwitch shows an order's card form in the other language. Before the first submission the
// order exists only as the signed field, so the switch is a small form posting it back.
func (h *Handler) langSwitch(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, MaxBody)
	p, err := wire.ParseOwnForm(r, MaxBody)
	if err != nil {
		h.problemErr(w, r, "ja", err)
		return
	}
	lang := langOf(p.Get("lang"))
	o, st, stored, ok := h.session(w, r, p.Get("o"), p.Get("d"), lang)
	if !ok {
		return
	}
	if stored {
		redirect(w, r, "/link/creditcard/order", o.ID, lang)
		return
	}
	h.renderForm(w, http.StatusOK, st, o, lang, formState{Signed: p.Get("d")}, h.Clock.Now())
}

// resultPage shows a paid order and the way back to the store with the result parameters.
func (h *Handler) resultPage(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	lang := langOf(q.Get("lang"))
	o, st, _, ok := h.session(w, r, q.Get("o"), "", lang)
	if !ok {
		return
	}
	if o.Status != store.LinkPaid || o.Gid == "" {
		redirect(w, r, "/link/creditcard/order", o.ID, lang)
		return
	}
	pm, err := h.Pay.DB.GetPayment(r.Context(), st.AID, o.Gid)
	if err != nil {
		h.fail(w, r, lang, err)
		return
	}
	t := texts[lang]
	heading := t["result_ok"]
	switch {
	case pm.Status == store.StatusRegistered:
		heading = t["result_registered"]
	case pm.Job == wire.JobCheck:
		heading = t["result_check"]
	case pm.Job == wire.JobAuth:
		heading = t["result_auth"]
	}
	rv := &resultView{Heading: heading, Gid: pm.Gid, Card: maskedOf(pm), Total: yen(lang, pm.Ta), ReturnURL: ReturnURL(st.CompletionURL, pm),
		Already: q.Get("again") == "1"}
	v := &view{Lang: lang, Title: heading, StoreName: st.Name, AltLang: otherLang(lang),
		AltLangURL: pageURL("/link/creditcard/result", o.ID, otherLang(lang)), Order: h.orderView(st, o, lang), Result: rv,
		Plan: h.resultPlan(r.Context(), st, pm, lang)}
	h.render(w, http.StatusOK, "result", v)
}

func maskedOf(p *store.Payment) string {
	if p.First6 == "" && p.Last4 == "" {
		return ""
	}
	return strings.TrimSpace(p.Brand + " " + vault.MaskStored(p.First6, p.Last4))
}

// ReturnURL is the store's completion URL with the result parameters and the echoed free
// parameters (wire.md §3.4), in the same form as the kickback's query; "" when the store has no
// usable completion URL.
func ReturnURL(completion string, p *store.Payment) string {
	if completion == "" {
		return ""
	}
	u, err := url.Parse(completion)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return ""
	}
	q := payment.KickbackQuery(p, "utf-8")
	if u.RawQuery != "" {
		u.RawQuery += "&" + q
	} else {
		u.RawQuery = q
	}
	return u.String()
}
