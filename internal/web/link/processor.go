package link

import (
	"errors"
	"net/http"
	"net/url"
	"strings"

	"kessai/internal/payment"
	"kessai/internal/store"
	"kessai/internal/wire"
)

// A processor that authenticates the shopper on its own page (Stripe: next_action.redirect_to_url)
// answers the hosted page's charge with a page to send the shopper to. The order then holds the
// card as a token and the processor's reference of the authorisation (checkout: redirect); the
// shopper goes there through /link/creditcard/authenticate and comes back to
// /link/creditcard/return, where the charge reads the authorisation's outcome (it does not
// authorise again) and the order finishes through checkout once: a reload of the return finds the
// order paid and shows its result.

// processorReturnURL is where the processor sends the shopper back: absolute, on the host the
// shopper used.
func processorReturnURL(r *http.Request, o *store.LinkOrder, lang string) string {
	scheme := "http"
	if r.TLS != nil || strings.EqualFold(r.Header.Get("X-Forwarded-Proto"), "https") {
		scheme = "https"
	}
	return scheme + "://" + r.Host + pageURL("/link/creditcard/return", o.ID, lang)
}

// toProcessor keeps the card as a token for the return (sealed; the security code was used by
// the authorisation and is forgotten) and sends the shopper to the processor's authentication.
func (h *Handler) toProcessor(w http.ResponseWriter, r *http.Request, st *store.Store, o *store.LinkOrder, lang string,
	card *payment.CardInput, md string, res *payment.Result) {
	created, err := h.Tokens.Create(r.Context(), st, &payment.CardInput{PAN: card.PAN, Exp: card.Exp, Holder: card.Holder}, md)
	if err != nil {
		h.backToForm(w, r, o, lang, string(wire.CodeOf(err)))
		return
	}
	if err := h.orders().Redirected(r.Context(), o.ID, created.Token, res.Ref, res.RedirectURL); err != nil {
		h.fail(w, r, lang, err)
		return
	}
	redirect(w, r, "/link/creditcard/authenticate", o.ID, lang)
}

// authenticatePage sends the shopper on to the processor's page (a link the page script follows:
// the card form's CSP form-action would not allow the form's own redirect to leave Kessai).
func (h *Handler) authenticatePage(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	lang := langOf(q.Get("lang"))
	o, st, _, ok := h.session(w, r, q.Get("o"), "", lang)
	if !ok {
		return
	}
	if !at(w, r, o, lang, store.LinkRedirect) {
		return
	}
	_, u, err := h.orders().Processor(r.Context(), o.ID)
	if pu, perr := url.Parse(u); err != nil || perr != nil || pu.Scheme != "https" && pu.Scheme != "http" {
		h.fail(w, r, lang, errors.Join(err, perr, errors.New("processor page missing")))
		return
	}
	masked, _, _ := h.Tokens.Card(r.Context(), st, o.Token)
	v := &view{Lang: lang, Title: texts[lang]["tds_title"], StoreName: st.Name,
		Processor: &processorView{URL: u, Card: masked, Total: yen(lang, o.Am+o.Tx+o.Sf)}}
	h.render(w, http.StatusOK, "processor", v)
}

// processorReturn finishes an order whose shopper is back from the processor's authentication.
func (h *Handler) processorReturn(w http.ResponseWriter, r *http.Request) {
	now := h.Clock.Now()
	ctx := r.Context()
	q := r.URL.Query()
	lang := langOf(q.Get("lang"))
	o, st, _, ok := h.session(w, r, q.Get("o"), "", lang)
	if !ok {
		return
	}
	// not on a reload, or in a second tab: the first return finished (or is finishing) the order
	if !at(w, r, o, lang, store.LinkRedirect) {
		return
	}
	ref, _, err := h.orders().Processor(ctx, o.ID)
	if err != nil {
		h.fail(w, r, lang, err)
		return
	}
	if won, err := h.orders().ClaimReturn(ctx, o.ID); !h.claimed(w, r, o, lang, won, err) {
		return
	}
	tk, err := h.Pay.DB.GetToken(ctx, o.Token)
	if err != nil {
		h.backToForm(w, r, o, lang, string(wire.ER3DSError))
		return
	}
	md := tk.Md
	if md == "" {
		md = wire.MethodLump
	}
	req, err := h.chargeRequest(r, st, o, md, now)
	if err != nil {
		h.finish(w, r, o, lang, nil, err)
		return
	}
	req.CardID, req.Returned = tk.CardID, ref
	res, err := h.Pay.Charge(ctx, req)
	if err == nil && res.P.Rst != wire.RstSuccess {
		h.cardFailed(r, st, "returned", wire.Code(res.P.Ec), now)
	}
	h.finish(w, r, o, lang, res, err)
}
