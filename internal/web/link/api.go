package link

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"kessai/internal/maintenance"
	"kessai/internal/store"
	"kessai/internal/token"
	"kessai/internal/vault"
	"kessai/internal/web/gateway"
	"kessai/internal/wire"
)

// The JSON API behind CPToken.js and EMV3DSAdapter.js. Requests are form-encoded POSTs (a CORS
// "simple request", so no preflight is needed, though one is answered); answers are JSON, and
// refusals are RFC 9457 problem details whose "code" is the wire ER code the scripts hand to the
// merchant's callback. Nothing is ever sent back that a merchant page could not already see: a
// token, the masked card, and in the sandbox the challenge's test code.

// problemJSON is an RFC 9457 problem with the wire code.
type problemJSON struct {
	Type    string `json:"type"`
	Title   string `json:"title"`
	TitleJA string `json:"title_ja"`
	Status  int    `json:"status"`
	Code    string `json:"code"`
	Param   string `json:"param,omitempty"`
	Detail  string `json:"detail,omitempty"`
	// Start and End are the window's, on ER999 (RFC 3339 in the window's zone).
	Start string `json:"start,omitempty"`
	End   string `json:"end,omitempty"`
}

func writeJSON(w http.ResponseWriter, status int, ctype string, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status, b = http.StatusInternalServerError, []byte(`{"code":"ER000"}`)
	}
	w.Header().Set("Content-Type", ctype)
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	w.Write(b)
}

func (h *Handler) apiProblem(w http.ResponseWriter, r *http.Request, err error) {
	h.logRefusal(r, err)
	code := wire.CodeOf(err)
	pj := problemJSON{Type: "about:blank", Title: code.Describe("en"), TitleJA: code.Describe("ja"), Status: statusOf(code), Code: string(code)}
	if errors.Is(err, wire.ErrTooLarge) {
		pj.Status = http.StatusRequestEntityTooLarge
	}
	if we, ok := err.(*wire.Error); ok && code != wire.ERInternal {
		pj.Param = we.Field
	}
	writeJSON(w, pj.Status, "application/problem+json", pj)
}

// apiMaintenance answers ER999 during a window: 503, Retry-After, and the window's start and end,
// so the merchant's callback can tell the shopper when to come back.
func (h *Handler) apiMaintenance(w http.ResponseWriter, r *http.Request, now time.Time, win *maintenance.Window) {
	gateway.RetryAfter(w, now, win)
	code := wire.ERMaintenance
	loc := win.Location()
	writeJSON(w, http.StatusServiceUnavailable, "application/problem+json", problemJSON{Type: "about:blank", Title: code.Describe("en"),
		TitleJA: code.Describe("ja"), Status: http.StatusServiceUnavailable, Code: string(code), Detail: maintenance.FormatSpanEN(*win),
		Start: win.Start.In(loc).Format(time.RFC3339), End: win.End.In(loc).Format(time.RFC3339)})
}

// apiStart runs what every API call begins with: CORS, the maintenance gate (ER999 with 503 and
// Retry-After, before anything else), parsing, the store and its source-URL allow-list (ER002).
// When ok is false it has answered.
func (h *Handler) apiStart(w http.ResponseWriter, r *http.Request) (p *wire.Params, st *store.Store, now time.Time, ok bool) {
	now = h.Clock.Now()
	apiHeaders(w)
	hd := w.Header()
	hd.Add("Vary", "Origin")
	if o := r.Header.Get("Origin"); o != "" {
		// Answers are readable from any page so the script can report even a refusal; whether the
		// store accepts that page is decided below (ER002), and no cookie is ever involved.
		hd.Set("Access-Control-Allow-Origin", o)
		hd.Set("Access-Control-Expose-Headers", "Retry-After")
	}
	if win := h.refusing(now, maintenance.OpToken, maintenance.EveryBrand, r); win != nil {
		h.apiMaintenance(w, r, now, win)
		return nil, nil, now, false
	}
	r.Body = http.MaxBytesReader(w, r.Body, MaxBody)
	p, err := wire.Parse(r, MaxBody)
	if err != nil {
		h.apiProblem(w, r, err)
		return nil, nil, now, false
	}
	st, err = h.storeFor(r.Context(), p)
	if err != nil {
		h.apiProblem(w, r, err)
		return nil, nil, now, false
	}
	if !originAllowed(st, requestOrigin(r)) {
		h.apiProblem(w, r, wire.Errf(wire.ERReferer, "origin", "origin not in the store's allow-list"))
		return nil, nil, now, false
	}
	if err := p.Recode(st.Encoding); err != nil {
		h.apiProblem(w, r, err)
		return nil, nil, now, false
	}
	return p, st, now, true
}

// preflight answers CORS preflights for the API; the real checks happen on the POST.
func (h *Handler) preflight(w http.ResponseWriter, r *http.Request) {
	apiHeaders(w)
	hd := w.Header()
	hd.Add("Vary", "Origin")
	if o := r.Header.Get("Origin"); o != "" {
		hd.Set("Access-Control-Allow-Origin", o)
	}
	hd.Set("Access-Control-Allow-Methods", "POST")
	hd.Set("Access-Control-Allow-Headers", "Content-Type")
	hd.Set("Access-Control-Max-Age", "600")
	w.WriteHeader(http.StatusNoContent)
}

type cardJSON struct {
	Masked string `json:"masked"`
	Brand  string `json:"brand"`
	Expiry string `json:"expiry,omitempty"`
}

type tokenJSON struct {
	ResultCode string   `json:"resultCode"`
	Token      string   `json:"token"`
	ExpiresAt  string   `json:"expiresAt"`
	Card       cardJSON `json:"card"`
}

// tokenCreate is CPToken.TokenCreate's server side: the card is checked as the gateway checks it
// (ER055, ER014, ER015, ER056, ER057/ER058, ER079), the security code verified with the network,
// the number sealed, and a token returned.
func (h *Handler) tokenCreate(w http.ResponseWriter, r *http.Request) {
	p, st, now, ok := h.apiStart(w, r)
	if !ok {
		return
	}
	if wait := h.cardWait(r, st, now); wait > 0 {
		// card testing: the answer says a card was refused and for how long, nothing about the card
		w.Header().Set("Retry-After", strconv.FormatInt(int64((wait+time.Second-1)/time.Second), 10))
		code := wire.ERDeclined
		writeJSON(w, http.StatusTooManyRequests, "application/problem+json", problemJSON{Type: "about:blank", Title: code.Describe("en"),
			TitleJA: code.Describe("ja"), Status: http.StatusTooManyRequests, Code: string(code),
			Detail: fmt.Sprintf(texts["en"]["too_many"], waitMinutes(wait))})
		return
	}
	card, err := gateway.Card(st, p, now)
	if err != nil {
		h.cardFailed(r, st, p.Get("cn"), wire.CodeOf(err), now)
		h.apiProblem(w, r, err)
		return
	}
	if win := h.refusing(now, maintenance.OpToken, vault.Brand(card.PAN), r); win != nil {
		h.apiMaintenance(w, r, now, win) // a window limited to this card's brand
		return
	}
	md, _, err := p.Method()
	if err != nil {
		h.apiProblem(w, r, err)
		return
	}
	if md != wire.MethodLump && !st.Installments {
		h.apiProblem(w, r, wire.Errf(wire.ERParamMethod, "md", "the store does not take installments"))
		return
	}
	created, err := h.Tokens.Create(r.Context(), st, card, md)
	if err != nil {
		h.cardFailed(r, st, card.PAN, wire.CodeOf(err), now)
		h.apiProblem(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, "application/json", tokenJSON{ResultCode: "Success", Token: created.Token,
		ExpiresAt: created.ExpiresAt.UTC().Format(time.RFC3339), Card: cardJSON{Masked: created.Masked, Brand: created.Brand, Expiry: created.Exp}})
}

type challengeJSON struct {
	Card        string `json:"card"`
	Brand       string `json:"brand"`
	Store       string `json:"store"`
	Total       int64  `json:"total"`
	SandboxCode string `json:"sandboxCode,omitempty"`
}

type tdsJSON struct {
	ResultCode string         `json:"resultCode"`
	Flow       string         `json:"flow,omitempty"`
	Challenge  *challengeJSON `json:"challenge,omitempty"`
}

// tdsAuthenticate starts 3-D Secure for a token and the amounts the merchant will charge (am/tx/sf
// or iid), with the customer's em or pn as the protocol asks.
func (h *Handler) tdsAuthenticate(w http.ResponseWriter, r *http.Request) {
	p, st, _, ok := h.apiStart(w, r)
	if !ok {
		return
	}
	tkn := p.Get("tkn")
	if tkn == "" {
		h.apiProblem(w, r, wire.Errf(wire.ERTokenMissing, "tkn", "token missing"))
		return
	}
	em, err := p.Email()
	if err != nil {
		h.apiProblem(w, r, err)
		return
	}
	pn, err := p.Phone()
	if err != nil {
		h.apiProblem(w, r, err)
		return
	}
	if em == "" && pn == "" {
		h.apiProblem(w, r, wire.Errf(wire.ERParamEmail, "em", "3-D Secure needs em or pn"))
		return
	}
	am, tx, sf, _, err := gateway.Amounts(r.Context(), h.Pay.DB, st, p)
	if err != nil {
		h.apiProblem(w, r, err)
		return
	}
	outcome, ch, err := h.Tokens.Authenticate(r.Context(), st, tkn, am, tx, sf)
	if err != nil {
		h.apiProblem(w, r, err)
		return
	}
	if outcome == token.Frictionless {
		writeJSON(w, http.StatusOK, "application/json", tdsJSON{ResultCode: "Success", Flow: token.Frictionless})
		return
	}
	cj := &challengeJSON{Card: ch.Masked, Brand: ch.Brand, Store: st.Name, Total: am + tx + sf}
	if h.Sandbox {
		cj.SandboxCode = ch.Code
	}
	writeJSON(w, http.StatusOK, "application/json", tdsJSON{ResultCode: "Challenge", Flow: token.Challenge, Challenge: cj})
}

// tdsComplete ends a challenge: action=authenticate with the otp, or action=cancel.
func (h *Handler) tdsComplete(w http.ResponseWriter, r *http.Request) {
	p, st, _, ok := h.apiStart(w, r)
	if !ok {
		return
	}
	tkn := p.Get("tkn")
	if tkn == "" {
		h.apiProblem(w, r, wire.Errf(wire.ERTokenMissing, "tkn", "token missing"))
		return
	}
	if err := h.Tokens.Complete(r.Context(), st, tkn, p.Get("otp"), p.Get("action") == "authenticate"); err != nil {
		h.apiProblem(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, "application/json", tdsJSON{ResultCode: "Success"})
}
