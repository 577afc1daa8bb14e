// Package gateway serves the server-to-server ROBOT PAYMENT endpoints (/gateway/*.aspx): it parses
// the wire parameters, runs the checks in the contract's order, calls the payment service and
// answers with a result line, "OK" or "ER:ERnnn" — always HTTP 200, as merchants' clients expect.
package gateway

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"kessai/internal/clock"
	"kessai/internal/maintenance"
	"kessai/internal/payment"
	"kessai/internal/store"
	"kessai/internal/vault"
	"kessai/internal/wire"
)

// MaxBody bounds a gateway request; real requests are well under 4 KiB.
const MaxBody = 64 << 10

// Gate decides whether maintenance refuses op at t for a request from remote; it returns the
// refusing window or nil. One implementation serves every surface (server.Gate).
type Gate func(t time.Time, op maintenance.Op, brand string, r *http.Request) *maintenance.Window

// Handler serves the gateway endpoints.
type Handler struct {
	Pay      *payment.Service
	Clock    clock.Clock
	Gate     Gate
	Log      *slog.Logger
	RemoteIP func(r *http.Request) netip.Addr
	// AutoCharge handles sign-up parameters and the accgate/acsgate endpoints when set.
	AutoCharge AutoCharger
	// Tokens resolves tkn for gateway_token.aspx when set.
	Tokens TokenResolver
}

// AutoCharger is the auto-charge service as the gateway needs it.
type AutoCharger interface {
	// SignUp validates the plan parameters and returns a hook that creates the plan inside the
	// payment's transaction, or nil when p carries no plan.
	SignUp(ctx context.Context, st *store.Store, p *wire.Params, req *payment.ChargeRequest) error
	Change(ctx context.Context, st *store.Store, p *wire.Params, cardID int64) error
	Stop(ctx context.Context, st *store.Store, acid string, via string) error
}

// TokenResolver consumes a card token for a charge.
type TokenResolver interface {
	Use(ctx context.Context, st *store.Store, tkn string, am, tx, sf int64) (cardID int64, err error)
	// Consume is Use for a charge: it also returns the 3-D Secure result to record on the payment,
	// and refuses (ER900) a card that needs 3-D Secure at a store that requires it.
	Consume(ctx context.Context, st *store.Store, tkn string, am, tx, sf int64) (cardID int64, tds string, err error)
	// Card tells the masked number and brand of a usable token's card, without spending it.
	Card(ctx context.Context, st *store.Store, tkn string) (masked, brand string, err error)
}

// Register adds the gateway routes to mux.
func (h *Handler) Register(mux *http.ServeMux) {
	mux.HandleFunc("/gateway/gateway.aspx", h.serve(kindRaw))
	mux.HandleFunc("/gateway/gateway_token.aspx", h.serve(kindToken))
	mux.HandleFunc("/gateway/onetouch.aspx", h.serve(kindOneTouch))
	mux.HandleFunc("/gateway/accgate.aspx", h.serve(kindACChange))
	mux.HandleFunc("/gateway/accgate_token.aspx", h.serve(kindACCard))
	mux.HandleFunc("/gateway/acsgate.aspx", h.serve(kindACStop))
}

type kind int

const (
	kindRaw kind = iota
	kindToken
	kindOneTouch
	kindACChange
	kindACCard
	kindACStop
)

// The answer's headers, shared by every answer (net/http only reads them; a one-element slice is
// copied, never changed, by a later Add). Setting them through Header().Set canonicalised the
// names and allocated on every request.
var (
	textPlain = []string{"text/plain; charset=utf-8"}
	noStore   = []string{"no-store"}
)

// writeLine answers a result line (without copying it into a string first).
func writeLine(w http.ResponseWriter, line []byte) {
	h := w.Header()
	h["Content-Type"] = textPlain
	h["Cache-Control"] = noStore
	w.WriteHeader(http.StatusOK)
	w.Write(line)
}

func writeBody(w http.ResponseWriter, body string) {
	h := w.Header()
	h["Content-Type"] = textPlain
	h["Cache-Control"] = noStore
	w.WriteHeader(http.StatusOK)
	io.WriteString(w, body)
}

func (h *Handler) fail(w http.ResponseWriter, r *http.Request, code wire.Code, err error) {
	if err != nil {
		h.Log.Info("gateway refused", "path", r.URL.Path, "code", string(code), "reason", vault.Redact(err.Error()))
	}
	writeBody(w, wire.ErrorBody(code))
}

// admit runs what every gateway request goes through before its job, in the contract's order:
// the method (ER107), the parameters, maintenance (ER999; a window limited to some brands becomes a
// brand gate checked once the card is known), the store's checks and its encoding. ok is false when
// the refusal has been answered. gateway.aspx, its siblings and /igateway/gateway.aspx share it.
func (h *Handler) admit(w http.ResponseWriter, r *http.Request, k kind, accepted time.Time) (p *wire.Params, st *store.Store, gate brandGate, ok bool) {
	if r.Method != http.MethodGet && r.Method != http.MethodPost {
		h.fail(w, r, wire.ERMethod, nil)
		return nil, nil, nil, false
	}
	p, err := wire.Parse(r, MaxBody)
	if err != nil {
		h.fail(w, r, wire.CodeOf(err), err)
		return nil, nil, nil, false
	}
	op := h.opFor(k, p)
	// One index look-up on the hot path when no window is active. A window limited to some
	// brands only refuses once the card's brand is known, unless another window (for every
	// brand) is active too.
	if win := h.Gate(accepted, op, "", r); win != nil {
		if len(win.Scope.Brands) == 0 {
			h.refuse(w, r, win)
			return nil, nil, nil, false
		}
		if every := h.Gate(accepted, op, maintenance.EveryBrand, r); every != nil {
			h.refuse(w, r, every)
			return nil, nil, nil, false
		}
		gate = brandGate(func(brand string) *maintenance.Window { return h.Gate(accepted, op, brand, r) })
	}
	st, code, err := h.storeChecks(r, p, accepted)
	if err != nil {
		h.fail(w, r, code, err)
		return nil, nil, nil, false
	}
	if err := p.Recode(st.Encoding); err != nil {
		h.fail(w, r, wire.CodeOf(err), err)
		return nil, nil, nil, false
	}
	return p, st, gate, true
}

func (h *Handler) serve(k kind) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		accepted := h.Clock.Now()
		p, st, gate, ok := h.admit(w, r, k, accepted)
		if !ok {
			return
		}
		ctx := r.Context()
		switch k {
		case kindACChange, kindACCard, kindACStop:
			h.autoCharge(w, r, k, st, p)
			return
		}
		jb := strings.ToUpper(p.Get("jb"))
		if jb == "SALES" || jb == "CANCEL" {
			h.followUp(w, r, st, p, jb, gate)
			return
		}
		req, code, err := h.chargeRequest(ctx, k, st, p, accepted, gate)
		var ref *refusal
		if errors.As(err, &ref) {
			h.refuse(w, r, ref.win)
			return
		}
		if err != nil {
			h.fail(w, r, code, err)
			return
		}
		rt, _ := p.ReplyType()
		req.Kickback = rt == wire.ReplyOK
		res, err := h.Pay.Charge(ctx, req)
		if err != nil {
			h.fail(w, r, wire.Code(payment.CodeOf(err)), err)
			return
		}
		if rt == wire.ReplyOK {
			if res.P.Rst == "1" {
				writeBody(w, "OK")
			} else {
				writeBody(w, wire.ErrorBody(wire.Code(res.P.Ec)))
			}
			return
		}
		var buf [256]byte
		writeLine(w, ResultOf(res.P).AppendLine(buf[:0]))
	}
}

// refuse answers ER999 for a maintenance window, with Retry-After until its end.
func (h *Handler) refuse(w http.ResponseWriter, r *http.Request, win *maintenance.Window) {
	RetryAfter(w, h.Clock.Now(), win)
	h.fail(w, r, wire.ERMaintenance, nil)
}

// ResultOf turns a recorded payment into its wire result line. Column 13 never echoes a result
// field's name (a payment recorded before that rule may have stored one).
func ResultOf(p *store.Payment) *wire.Result {
	return &wire.Result{Gid: p.Gid, Rst: p.Rst, Ap: p.Ap, Ec: p.Ec, God: p.God, Cod: p.Cod, Am: p.Am, Tx: p.Tx, Sf: p.Sf,
		Ta: p.Ta, Acid: p.Acid, Other: wire.DropResultFields(p.Free)}
}

// RetryAfter sets Retry-After to the seconds until the window ends (at least 1).
func RetryAfter(w http.ResponseWriter, now time.Time, win *maintenance.Window) {
	secs := int64(win.End.Sub(now).Seconds() + 0.999)
	if secs < 1 {
		secs = 1
	}
	w.Header().Set("Retry-After", strconv.FormatInt(secs, 10))
}

func (h *Handler) opFor(k kind, p *wire.Params) maintenance.Op {
	switch k {
	case kindACChange, kindACCard, kindACStop:
		return maintenance.OpAutoCharge
	}
	jb := p.Get("jb")
	if jb == "" {
		return maintenance.OpCapture
	}
	return maintenance.OpForJob(jb)
}

// storeChecks runs the checks that come before the parameters: the store (ER050, ER004, ER998),
// the source IP (ER003) and, when the store turned it on, the ut/hak signature.
func (h *Handler) storeChecks(r *http.Request, p *wire.Params, now time.Time) (*store.Store, wire.Code, error) {
	aid, err := p.AID()
	if err != nil {
		return nil, wire.CodeOf(err), err
	}
	st, err := h.Pay.Stores.Get(r.Context(), aid)
	if errors.Is(err, store.ErrNotFound) {
		return nil, wire.ERUnknownStore, err
	}
	if err != nil {
		return nil, wire.ERInternal, err
	}
	if st.Suspended {
		return nil, wire.Code("ER998"), errors.New("store suspended")
	}
	if len(st.AllowIPs) > 0 && !IPAllowed(h.RemoteIP(r), st.AllowIPs) {
		return nil, wire.ERSourceIP, errors.New("source address not in the store's allow-list")
	}
	if st.AuthCode != "" {
		if err := wire.CheckSignature(p.Get("ut"), p.Get("hak"), st.AuthCode, time.Now(), 300*time.Second); err != nil {
			return nil, wire.CodeOf(err), err
		}
	}
	return st, "", nil
}

// IPAllowed reports whether ip matches one of the allowed addresses or CIDRs.
func IPAllowed(ip netip.Addr, allowed []string) bool {
	ip = ip.Unmap()
	for _, a := range allowed {
		if pfx, err := netip.ParsePrefix(a); err == nil {
			if pfx.Contains(ip) {
				return true
			}
			continue
		}
		if x, err := netip.ParseAddr(a); err == nil && x.Unmap() == ip {
			return true
		}
	}
	return false
}
