package gateway

import (
	"errors"
	"net/http"
	"net/url"
	"strings"

	"kessai/internal/payment"
	"kessai/internal/store"
	"kessai/internal/wire"
)

// IGatewayPath is the provider's older 3-D Secure entry (wire.md §1): gateway.aspx's parameters
// plus url, where the shopper's browser returns after authentication.
const IGatewayPath = "/igateway/gateway.aspx"

// ThreeDSecure takes over a raw-card charge of /igateway/gateway.aspx whose card the issuer wants
// authenticated: it answers the request (the URL of the authentication page, or ER:ERnnn) and
// returns true. It returns false, having written nothing, when the card needs no authentication:
// the charge then runs at once, as on gateway.aspx. returnURL is the checked url parameter.
type ThreeDSecure func(w http.ResponseWriter, r *http.Request, st *store.Store, p *wire.Params, req *payment.ChargeRequest, returnURL string) bool

// IGateway serves /igateway/gateway.aspx. Everything gateway.aspx does before charging happens in
// the same order with the same codes (method, parameters, maintenance ER999, store, source IP,
// signature, card); url must be an absolute http(s) URL (ER001) and is Kessai's, never a free
// parameter. A card that needs 3-D Secure goes to tds; any other is charged at once and answered
// like gateway.aspx (OK or ER with rt=0, the result line with rt=1). SALES and CANCEL follow-ups
// are gateway.aspx's.
func (h *Handler) IGateway(tds ThreeDSecure) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		accepted := h.Clock.Now()
		p, st, gate, ok := h.admit(w, r, kindRaw, accepted)
		if !ok {
			return
		}
		jb := strings.ToUpper(p.Get("jb"))
		if jb == "SALES" || jb == "CANCEL" {
			h.followUp(w, r, st, p, jb, gate)
			return
		}
		ret, err := ReturnURLParam(p.Get("url"))
		if err != nil {
			h.fail(w, r, wire.ERMalformed, err)
			return
		}
		req, code, err := h.chargeRequest(r.Context(), kindRaw, st, p, accepted, gate)
		var ref *refusal
		if errors.As(err, &ref) {
			h.refuse(w, r, ref.win)
			return
		}
		if err != nil {
			h.fail(w, r, code, err)
			return
		}
		req.Free = wire.EncodeFree(FreeWithout(p, "url"))
		if tds != nil && tds(w, r, st, p, req, ret) {
			return
		}
		rt, _ := p.ReplyType()
		req.Kickback = rt == wire.ReplyOK
		res, err := h.Pay.Charge(r.Context(), req)
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
		writeBody(w, string(ResultOf(res.P).AppendLine(nil)))
	}
}

// ReturnURLParam checks an /igateway/ url parameter: an absolute http or https URL.
func ReturnURLParam(v string) (string, error) {
	v = strings.TrimSpace(v)
	if v == "" {
		return "", wire.Errf(wire.ERMalformed, "url", "url missing")
	}
	u, err := url.Parse(v)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || len(v) > 1024 {
		return "", wire.Errf(wire.ERMalformed, "url", "url is not an absolute http(s) URL")
	}
	return u.String(), nil
}

// FreeWithout is p's free parameters less the named ones (Kessai's own on a given endpoint).
func FreeWithout(p *wire.Params, names ...string) []wire.KV {
	var out []wire.KV
next:
	for _, kv := range p.Free() {
		for _, n := range names {
			if kv.K == n {
				continue next
			}
		}
		out = append(out, kv)
	}
	return out
}

// WriteBody answers a server-to-server request with a plain-text body and HTTP 200.
func WriteBody(w http.ResponseWriter, body string) { writeBody(w, body) }
