package link

import (
	"crypto/subtle"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"kessai/internal/acquirer"
	"kessai/internal/maintenance"
	"kessai/internal/payment"
	"kessai/internal/store"
	"kessai/internal/token"
	"kessai/internal/web/gateway"
	"kessai/internal/wire"
)

// The provider's older 3-D Secure entry, /igateway/gateway.aspx (wire.md §1), is called
// server-to-server with a raw card and url (where the shopper's browser returns). Kessai decides
// by card whether the issuer wants authentication (the sandbox: by test card, as for the hosted
// page and EMV3DSAdapter.js). A card that does not is charged at once and answered like
// gateway.aspx. A card that does is held as a card token (sealed in the vault, the security code
// checked with the network now and then forgotten), 3-D Secure is started for the order's amounts,
// and the answer is the URL of the authentication page, /igateway/3ds/<session>.aspx: the EC-CUBE
// module cuts the answer after its first ".aspx", so the session is named in the path and nothing
// after ".aspx" is needed. The session is a link order row without a browser binding (the
// unguessable ID in the path is what reaches it), valid SessionTTL. After the challenge the order
// is charged with the token's card, and the browser is sent back to url with GET rst, gid, cod,
// am, tx, sf, ta, ap, ec, god (and acid, and the free parameters) — the query of the kickback,
// which goes out too. An authentication that fails or is cancelled charges nothing and returns
// rst=2 with ec=ER901 and an empty gid.

// IGatewayPrefix is where the authentication pages live.
const IGatewayPrefix = "/igateway/3ds/"

// IGatewayThreeDS is the gateway's ThreeDSecure hook (gateway.Handler.IGateway).
func (h *Handler) IGatewayThreeDS(w http.ResponseWriter, r *http.Request, st *store.Store, p *wire.Params, req *payment.ChargeRequest, ret string) bool {
	if req.Card == nil || acquirer.ThreeDSFor(r.Context(), h.Pay.Acq, req.Card.PAN) == token.Frictionless { // honours Kessai-Scenario
		return false
	}
	ctx := r.Context()
	now := h.Clock.Now()
	created, err := h.Tokens.Create(ctx, st, req.Card, req.Md)
	if err != nil {
		h.logRefusal(r, err)
		gateway.WriteBody(w, wire.ErrorBody(wire.CodeOf(err)))
		return true
	}
	req.Card = nil // from here on the card is the token's, sealed
	o := &store.LinkOrder{ID: token.NewString(token.Len), AID: st.AID, Jb: req.Job, Cod: req.Cod, Am: req.Am, Tx: req.Tx, Sf: req.Sf,
		Inm: req.Inm, Em: req.Em, Pn: req.Pn, Md: req.Md, Free: req.Free, Plan: planOf(p), Status: store.LinkChallenge,
		Token: created.Token, ReturnURL: ret, CreatedAt: now, UpdatedAt: now, ExpiresAt: now.Add(SessionTTL)}
	o.CSRF = h.csrfFor(o.ID)
	if _, _, err := h.Tokens.Authenticate(ctx, st, created.Token, req.Am, req.Tx, req.Sf); err != nil {
		if wire.CodeOf(err) != wire.ER3DSFailed {
			h.logRefusal(r, err)
			gateway.WriteBody(w, wire.ErrorBody(wire.CodeOf(err)))
			return true
		}
		// the issuer refuses authentication: the shopper learns it on the issuer's page, and the
		// browser goes back with ER901 as after a failed challenge
		o.Status, o.LastEc = store.LinkFailed, string(wire.ER3DSFailed)
	}
	if err := h.orders().Start(ctx, o); err != nil {
		h.logRefusal(r, &wire.Error{Code: wire.ERInternal, Msg: "storage", Err: err})
		gateway.WriteBody(w, wire.ErrorBody(wire.ERInternal))
		return true
	}
	gateway.WriteBody(w, baseURL(r)+IGatewayPrefix+o.ID+".aspx")
	return true
}

// baseURL is this server as the client reached it: scheme and host of the request.
func baseURL(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

// iGatewaySession loads the /igateway/ 3-D Secure session named by the path. When ok is false it
// has answered.
func (h *Handler) iGatewaySession(w http.ResponseWriter, r *http.Request, lang string) (*store.LinkOrder, *store.Store, bool) {
	t := texts[lang]
	expired := func() { h.problem(w, r, lang, wire.ERMalformed, t["session_title"], t["session_text"]) }
	id, ok := strings.CutSuffix(r.PathValue("file"), ".aspx")
	if !ok || !token.ValidString(id) {
		expired()
		return nil, nil, false
	}
	o, err := h.orders().Get(r.Context(), id)
	if errors.Is(err, store.ErrNotFound) || (err == nil && o.ReturnURL == "") {
		expired()
		return nil, nil, false
	}
	if err != nil {
		h.fail(w, r, lang, err)
		return nil, nil, false
	}
	finished := o.Status == store.LinkPaid || o.Status == store.LinkFailed
	if !finished && !h.Clock.Now().Before(o.ExpiresAt) {
		expired()
		return nil, nil, false
	}
	st, err := h.Pay.Stores.Get(r.Context(), o.AID)
	if err != nil {
		h.fail(w, r, lang, err)
		return nil, nil, false
	}
	return o, st, true
}

// iGatewayPage shows the authentication page of a session, or sends a finished one back to url.
func (h *Handler) iGatewayPage(w http.ResponseWriter, r *http.Request) {
	lang := langOf(r.URL.Query().Get("lang"))
	now := h.Clock.Now()
	o, st, ok := h.iGatewaySession(w, r, lang)
	if !ok {
		return
	}
	if h.iGatewayFinished(w, r, st, o, lang) {
		return
	}
	if win := h.refusing(now, maintenance.OpForJob(o.Jb), maintenance.EveryBrand, r); win != nil {
		h.maintenancePage(w, r, lang, now, win)
		return
	}
	h.iGatewayChallenge(w, r, st, o, lang, nil)
}

func (h *Handler) iGatewayChallenge(w http.ResponseWriter, r *http.Request, st *store.Store, o *store.LinkOrder, lang string, al *alert) {
	if o.Status == store.LinkBusy {
		al = &alert{Title: texts[lang]["busy"]}
	}
	tk, err := h.Pay.DB.GetToken(r.Context(), o.Token)
	if err != nil {
		h.fail(w, r, lang, err)
		return
	}
	masked, _, err := h.Tokens.Card(r.Context(), st, o.Token)
	if err != nil && o.Status != store.LinkBusy {
		h.iGatewayFail(w, r, st, o, lang, string(wire.CodeOf(err)))
		return
	}
	self := IGatewayPrefix + o.ID + ".aspx"
	cv := &challengeView{Action: self, Session: o.ID, CSRF: o.CSRF, Card: masked, Total: yen(lang, o.Am+o.Tx+o.Sf), Alert: al}
	if h.Sandbox && o.Status == store.LinkChallenge {
		cv.SandboxCode = tk.TDSChallenge
	}
	alt := self
	if lang == "ja" {
		alt += "?lang=en"
	}
	v := &view{Lang: lang, Title: texts[lang]["tds_title"], StoreName: st.Name, AltLang: otherLang(lang), AltLangURL: alt, Challenge: cv,
		FormTo: cspOrigin(o.ReturnURL)}
	h.render(w, http.StatusOK, "challenge", v)
}

// iGatewayFinished sends the browser of a finished session back to url with its result.
func (h *Handler) iGatewayFinished(w http.ResponseWriter, r *http.Request, st *store.Store, o *store.LinkOrder, lang string) bool {
	switch o.Status {
	case store.LinkFailed:
		h.iGatewayReturn(w, r, o, failedResult(o, o.LastEc))
		return true
	case store.LinkPaid:
		pm, err := h.Pay.DB.GetPayment(r.Context(), st.AID, o.Gid)
		if err != nil {
			h.fail(w, r, lang, err)
			return true
		}
		h.iGatewayReturn(w, r, o, pm)
		return true
	}
	return false
}

// failedResult is the browser return of a session that charged nothing.
func failedResult(o *store.LinkOrder, code string) *store.Payment {
	if code == "" {
		code = string(wire.ER3DSFailed)
	}
	return &store.Payment{Rst: wire.RstFailure, Ec: code, Cod: o.Cod, Am: o.Am, Tx: o.Tx, Sf: o.Sf, Ta: o.Am + o.Tx + o.Sf, Free: o.Free}
}

// iGatewayReturn redirects the shopper to the merchant's url with the result parameters.
func (h *Handler) iGatewayReturn(w http.ResponseWriter, r *http.Request, o *store.LinkOrder, p *store.Payment) {
	u, err := url.Parse(o.ReturnURL)
	if err != nil {
		h.fail(w, r, "ja", err)
		return
	}
	q := payment.KickbackQuery(p, "utf-8")
	if u.RawQuery != "" {
		u.RawQuery += "&" + q
	} else {
		u.RawQuery = q
	}
	pageHeaders(w)
	http.Redirect(w, r, u.String(), http.StatusSeeOther)
}

// iGatewayFail ends a session that failed authentication and sends the browser back.
func (h *Handler) iGatewayFail(w http.ResponseWriter, r *http.Request, st *store.Store, o *store.LinkOrder, lang, code string) {
	if err := h.orders().Fail(r.Context(), o.ID, code); err != nil {
		h.fail(w, r, lang, err)
		return
	}
	o.Status, o.LastEc = store.LinkFailed, code
	h.iGatewayReturn(w, r, o, failedResult(o, code))
}

// iGatewaySubmit completes or cancels the challenge. Once authenticated, the order is charged
// with the token's card for the authenticated amounts (exactly once: the session moves from
// challenge to busy by a conditional update) and the browser goes back to url.
func (h *Handler) iGatewaySubmit(w http.ResponseWriter, r *http.Request) {
	now := h.Clock.Now()
	ctx := r.Context()
	r.Body = http.MaxBytesReader(w, r.Body, MaxBody)
	p, err := wire.ParseOwnForm(r, MaxBody)
	if err != nil {
		h.problemErr(w, r, langOf(r.URL.Query().Get("lang")), err)
		return
	}
	lang := langOf(p.Get("lang"))
	o, st, ok := h.iGatewaySession(w, r, lang)
	if !ok {
		return
	}
	if h.iGatewayFinished(w, r, st, o, lang) {
		return
	}
	if subtle.ConstantTimeCompare([]byte(p.Get("csrf")), []byte(o.CSRF)) != 1 {
		t := texts[lang]
		h.logRefusal(r, wire.Errf(wire.ERMalformed, "csrf", "anti-forgery token mismatch"))
		h.problem(w, r, lang, wire.ERMalformed, t["session_title"], t["session_text"])
		return
	}
	if o.Status != store.LinkChallenge {
		h.iGatewayChallenge(w, r, st, o, lang, nil)
		return
	}
	if win := h.refusing(now, maintenance.OpForJob(o.Jb), maintenance.EveryBrand, r); win != nil {
		h.maintenancePage(w, r, lang, now, win)
		return
	}
	if p.Get("action") == "authenticate" {
		// a few attempts at the code, as on the hosted page; the last wrong one fails it
		err = h.Tokens.Try(ctx, st, o.Token, halfWidth(strings.TrimSpace(p.Get("otp"))))
		var wrong *token.WrongCode
		if errors.As(err, &wrong) {
			h.iGatewayChallenge(w, r, st, o, lang, &alert{Title: fmt.Sprintf(texts[lang]["tds_wrong"], wrong.Left)})
			return
		}
	} else {
		err = h.Tokens.Complete(ctx, st, o.Token, "", false)
	}
	if err != nil {
		h.iGatewayFail(w, r, st, o, lang, string(wire.CodeOf(err)))
		return
	}
	claimed, err := h.orders().ClaimChallenge(ctx, o.ID)
	if err != nil {
		h.fail(w, r, lang, err)
		return
	}
	if !claimed {
		// another submission of this session is charging or finished it
		pageHeaders(w)
		http.Redirect(w, r, IGatewayPrefix+o.ID+".aspx", http.StatusSeeOther)
		return
	}
	o.Status = store.LinkBusy
	cardID, err := h.Tokens.Use(ctx, st, o.Token, o.Am, o.Tx, o.Sf)
	if err != nil {
		h.iGatewayFail(w, r, st, o, lang, string(wire.CodeOf(err)))
		return
	}
	req, err := h.chargeRequest(r, st, o, o.Md, now)
	if err != nil {
		h.iGatewayFail(w, r, st, o, lang, string(wire.CodeOf(err)))
		return
	}
	req.CardID, req.Source = cardID, "gateway"
	res, err := h.Pay.Charge(ctx, req)
	if err != nil {
		code := payment.CodeOf(err)
		if wc := wire.CodeOf(err); code == string(wire.ERInternal) && wc != wire.ERInternal {
			code = string(wc)
		}
		h.logRefusal(r, err)
		h.iGatewayFail(w, r, st, o, lang, code)
		return
	}
	if res.P.Rst != wire.RstSuccess || res.Replayed { // a success recorded now turned the session paid with it
		if err := h.orders().Charged(ctx, o.ID, res.P.Gid, res.P.Ec); err != nil {
			// the payment is recorded and its kickback queued; only the session's state is lost
			h.logRefusal(r, &wire.Error{Code: wire.ERInternal, Msg: "storage", Err: err})
		}
	}
	h.iGatewayReturn(w, r, o, res.P)
}

// cspOrigin is the scheme://host[:port] of u for a CSP source list, or "" when it holds anything
// a source expression could not (the page then keeps form-action 'self' only).
func cspOrigin(u string) string {
	p, err := url.Parse(u)
	if err != nil || (p.Scheme != "http" && p.Scheme != "https") || p.Host == "" {
		return ""
	}
	for _, c := range p.Host {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '-' || c == ':' || c == '[' || c == ']') {
			return ""
		}
	}
	return p.Scheme + "://" + p.Host
}
