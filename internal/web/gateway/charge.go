package gateway

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"time"

	"kessai/internal/autocharge"
	"kessai/internal/maintenance"
	"kessai/internal/payment"
	"kessai/internal/store"
	"kessai/internal/vault"
	"kessai/internal/wire"
)

// cardIn wraps the typed card so a nil card has a brand of "".
type cardIn = payment.CardInput

// Amounts reads am/tx/sf (or the product iid) and checks the store's limits: ER061–ER063, ER005,
// ER068, ER017, ER018. A product that defines an auto-charge plan also puts its plan parameters
// into p (autocharge.ExpandProduct), for the sign-up that follows. A CHECK charges nothing, so it
// takes am=0 or no amount at all (wire.md §2.1).
func Amounts(ctx context.Context, db *store.DB, st *store.Store, p *wire.Params) (am, tx, sf int64, inm string, err error) {
	inm = p.Get("inm")
	if iid := p.Get("iid"); iid != "" {
		if len(iid) > 32 {
			return 0, 0, 0, "", wire.Errf(wire.ERParamItem, "iid", "too long")
		}
		prod, err := db.GetProduct(ctx, st.AID, iid)
		if errors.Is(err, store.ErrNotFound) {
			return 0, 0, 0, "", wire.Errf(wire.ERUnknownItem, "iid", "unknown product")
		}
		if err != nil {
			return 0, 0, 0, "", err
		}
		if inm == "" {
			inm = prod.Name
		}
		am, tx, sf = prod.Am, prod.Tx, prod.Sf
		autocharge.ExpandProduct(p, prod) // a plan product: its plan, so iid alone signs up
	} else {
		check := strings.EqualFold(strings.TrimSpace(p.Get("jb")), wire.JobCheck)
		if am, tx, sf, err = p.Amounts(!check); err != nil {
			return
		}
	}
	if len([]rune(inm)) > 255 {
		return 0, 0, 0, "", wire.Errf(wire.ERMalformed, "inm", "item name longer than 255 characters")
	}
	return am, tx, sf, inm, nil
}

// CheckLimits applies the store's minimum and maximum to a total (ER017 / ER018).
func CheckLimits(st *store.Store, total int64) error {
	if total < st.MinAmount {
		return wire.Errf(wire.ERAmountTooLow, "am", "total %d below the store minimum %d", total, st.MinAmount)
	}
	if total > st.MaxAmount {
		return wire.Errf(wire.ERAmountTooHigh, "am", "total %d above the store maximum %d", total, st.MaxAmount)
	}
	return nil
}

// Card reads and checks a raw card (cn, ed, cvv, fn, ln) in the order: the parameters
// first (ER055 card number format, ER057/ER058 holder names), then the card (ER014 check digit,
// ER015 brand, ER056 expiry, ER079 security code).
func Card(st *store.Store, p *wire.Params, now time.Time) (*cardIn, error) {
	pan, err := p.CardNumber()
	if err != nil {
		return nil, err
	}
	fn, ln, err := p.HolderNames(false)
	if err != nil {
		return nil, err
	}
	if !vault.Luhn(pan) {
		return nil, wire.Errf(wire.ERCardCheckDigit, "cn", "check digit")
	}
	brand := vault.Brand(pan)
	if brand == "" || (len(st.Brands) > 0 && !contains(st.Brands, brand)) {
		return nil, wire.Errf(wire.ERBrandNotAccepted, "cn", "brand %q not accepted", brand)
	}
	exp, err := p.Expiry(now)
	if err != nil {
		return nil, err
	}
	if wire.Expired(exp, now.In(jst)) {
		return nil, wire.Errf(wire.ERParamExpiry, "ed", "card expired")
	}
	cvv, err := p.CVV(st.RequireCVV)
	if err != nil {
		return nil, err
	}
	if cvv != "" && brand != "AMEX" && len(cvv) != 3 {
		return nil, wire.Errf(wire.ERParamCVV, "cvv", "wrong length for the brand")
	}
	return &cardIn{PAN: pan, Exp: exp, CVV: cvv, Holder: strings.TrimSpace(fn + " " + ln)}, nil
}

var jst = time.FixedZone("JST", 9*3600)

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}

// chargeRequest checks a new charge's parameters in the contract's order and builds the request.
// gate, when not nil, is a brand-limited maintenance window's check: it is asked with the card's
// brand as soon as the card is known, before a token is consumed.
func (h *Handler) chargeRequest(ctx context.Context, k kind, st *store.Store, p *wire.Params, accepted time.Time, gate brandGate) (*payment.ChargeRequest, wire.Code, error) {
	req, err := h.buildCharge(ctx, k, st, p, accepted, gate)
	if err != nil {
		return nil, wire.CodeOf(err), err
	}
	return req, "", nil
}

// brandGate returns the window refusing a card of brand now, or nil.
type brandGate func(brand string) *maintenance.Window

// refusal is a maintenance window that refuses the request once its card's brand is known.
type refusal struct{ win *maintenance.Window }

func (r *refusal) Error() string { return "maintenance window for the card's brand" }

// check refuses brand when a brand-limited window covers it (a nil gate refuses nothing).
func (g brandGate) check(brand string) error {
	if g == nil {
		return nil
	}
	if win := g(brand); win != nil {
		return &refusal{win}
	}
	return nil
}

func (h *Handler) buildCharge(ctx context.Context, k kind, st *store.Store, p *wire.Params, accepted time.Time, gate brandGate) (*payment.ChargeRequest, error) {
	jb, err := p.JobType(wire.JobCapture)
	if err != nil {
		return nil, err
	}
	if _, err := p.ReplyType(); err != nil {
		return nil, err
	}
	cod, err := p.Cod()
	if err != nil {
		return nil, err
	}
	em, pn := p.Get("em"), p.Get("pn")
	if em != "" {
		if em, err = p.Email(); err != nil {
			return nil, err
		}
	}
	if pn != "" {
		if pn, err = p.Phone(); err != nil {
			return nil, err
		}
	}
	md := "10"
	if p.Get("md") != "" {
		if md, _, err = p.Method(); err != nil {
			return nil, err
		}
		if md != "10" && !st.Installments {
			return nil, wire.Errf(wire.ERParamMethod, "md", "the store does not accept installments")
		}
	}
	am, tx, sf, inm, err := Amounts(ctx, h.Pay.DB, st, p)
	if err != nil {
		return nil, err
	}
	req := &payment.ChargeRequest{Store: st, Job: jb, Cod: cod, Am: am, Tx: tx, Sf: sf, Inm: inm, Em: em, Pn: pn, Md: md,
		AcceptedAt: accepted, Source: "gateway"}
	free := p.Free()
	req.Free = wire.EncodeFree(free)
	// Nothing is charged now by a zero-yen CHECK or a zero-yen auto-charge sign-up (which only
	// registers the card): the store's minimum does not apply to them.
	noChargeNow := req.Total() == 0 && (jb == wire.JobCheck || h.AutoCharge != nil && p.Has("actp"))
	switch k {
	case kindRaw:
		if p.Get("tkn") != "" {
			return nil, wire.Errf(wire.ERTokenWithCard, "tkn", "card number sent with a token")
		}
		if req.Card, err = Card(st, p, h.Clock.Now()); err != nil {
			return nil, err
		}
		if err := gate.check(vault.Brand(req.Card.PAN)); err != nil {
			return nil, err
		}
	case kindToken:
		req.Source = "token"
		tkn, err := p.Token()
		if err != nil {
			return nil, err
		}
		if em == "" && pn == "" {
			return nil, wire.Errf(wire.ERParamEmail, "em", "token charges need em or pn")
		}
		if h.Tokens == nil {
			return nil, wire.Errf(wire.Code("ER584"), "tkn", "tokens unavailable")
		}
		if err := CheckLimits(st, req.Total()); err != nil && !noChargeNow {
			return nil, err
		}
		if gate != nil {
			// the token's card brand, before the token is spent: a refused charge keeps it usable
			if _, brand, err := h.Tokens.Card(ctx, st, tkn); err == nil {
				if err := gate.check(brand); err != nil {
					return nil, err
				}
			}
		}
		id, tds, err := h.Tokens.Consume(ctx, st, tkn, am, tx, sf)
		if err != nil {
			return nil, err
		}
		req.CardID, req.TDS = id, tds
	case kindOneTouch:
		req.Source = "onetouch"
		if em == "" || pn == "" {
			if em == "" {
				return nil, wire.Errf(wire.ERParamEmail, "em", "one-touch needs em and pn")
			}
			return nil, wire.Errf(wire.ERParamPhone, "pn", "one-touch needs em and pn")
		}
		if c := p.Get("cmd"); c != "" && c != "1" && c != "2" {
			return nil, wire.Errf(wire.ERParamCmd, "cmd", "must be 1 or 2")
		}
		c, err := h.Pay.DB.CardByCustomer(ctx, st.AID, em, pn)
		if errors.Is(err, store.ErrNotFound) {
			return nil, wire.Errf(wire.ERDeclined, "em", "no stored card for this customer")
		}
		if err != nil {
			return nil, err
		}
		if err := gate.check(c.Brand); err != nil {
			return nil, err
		}
		req.CardID = c.ID
	}
	if k != kindToken {
		if err := CheckLimits(st, req.Total()); err != nil && !noChargeNow {
			return nil, err
		}
	}
	if h.AutoCharge != nil && p.Has("actp") {
		if err := h.AutoCharge.SignUp(ctx, st, p, req); err != nil {
			return nil, err
		}
	}
	return req, nil
}

// followUp runs SALES or CANCEL on an earlier payment (wire.md §3.2). Every parameter the job
// takes is checked first, with its own code, as a body "ER:ERnnn": rt (ER052), tid (ER053), am, tx
// and sf (ER061–ER063; a capture of am+tx+sf when am is given, of the whole authorisation when not;
// CANCEL takes no amount but a malformed one is still refused rather than ignored). Then:
//   - rt=0 (or no rt): "OK", or "ER:ER032" / "ER:ER033" (and ER042, ER000) when the job is refused;
//   - rt=1 (the provider's EC-CUBE module): the payment's result line, rst=1 on success; a refused
//     follow-up is a line with rst=2 and ec=ER032 (SALES) or ER033 (CANCEL) — or ER042 when the card
//     network failed — in column 3. An unknown tid is a refused job too (its line carries the tid as
//     gid), and a storage failure, whose outcome is unknown, stays "ER:ER000".
func (h *Handler) followUp(w http.ResponseWriter, r *http.Request, st *store.Store, p *wire.Params, jb string, gate brandGate) {
	rt, err := p.ReplyType()
	if err != nil {
		h.fail(w, r, wire.CodeOf(err), err)
		return
	}
	if strings.TrimSpace(p.Get("rt")) == "" {
		// A follow-up without rt has always been answered "OK" / "ER:ERnnn" [D]: only a client
		// that asks for the line (rt=1, the EC-CUBE module) gets it.
		rt = wire.ReplyOK
	}
	tid, err := p.TID()
	if err != nil {
		h.fail(w, r, wire.CodeOf(err), err)
		return
	}
	am, tx, sf, err := p.Amounts(false)
	if err != nil {
		h.fail(w, r, wire.CodeOf(err), err)
		return
	}
	var amount int64
	if jb == wire.JobSales && strings.TrimSpace(p.Get("am")) != "" {
		if am < 1 {
			e := wire.Errf(wire.ERParamAmount, "am", "a capture of 0 yen")
			h.fail(w, r, wire.CodeOf(e), e)
			return
		}
		amount = am + tx + sf
	}
	if gate != nil {
		// the payment's card brand decides whether a brand-limited window refuses its capture
		if pay, err := h.Pay.DB.GetPayment(r.Context(), st.AID, tid); err == nil {
			if win := gate(pay.Brand); win != nil {
				h.refuse(w, r, win)
				return
			}
		}
	}
	var done *store.Payment
	if jb == wire.JobSales {
		done, err = h.Pay.Sales(r.Context(), st, tid, amount, "gateway")
	} else {
		done, err = h.Pay.Cancel(r.Context(), st, tid, "gateway")
	}
	if err != nil {
		code := wire.Code(payment.CodeOf(err))
		if code == wire.ERParamTID {
			// an unknown tid cannot be captured or cancelled: answer the job's own failure code
			if jb == wire.JobSales {
				code = wire.ERSalesFailed
			} else {
				code = wire.ERCancelFailed
			}
		}
		if rt == wire.ReplyLine && code != wire.ERInternal {
			h.Log.Info("gateway follow-up refused", "path", r.URL.Path, "job", jb, "code", string(code), "reason", vault.Redact(err.Error()))
			writeBody(w, string(h.refusedLine(r, st, tid, code).AppendLine(nil)))
			return
		}
		h.fail(w, r, code, err)
		return
	}
	if rt == wire.ReplyLine {
		writeBody(w, string(ResultOf(done).AppendLine(nil)))
		return
	}
	writeBody(w, wire.OKBody)
}

// refusedLine is the result line of a refused follow-up: the payment's own line (gid, cod, amounts,
// acid, free parameters) with rst=2 and ec=code, or, for an unknown tid, a line naming just the tid.
func (h *Handler) refusedLine(r *http.Request, st *store.Store, tid string, code wire.Code) *wire.Result {
	res := &wire.Result{Gid: tid}
	if pay, err := h.Pay.DB.GetPayment(r.Context(), st.AID, tid); err == nil {
		res = ResultOf(pay)
		res.Ap = ""
	}
	res.Rst, res.Ec = wire.RstFailure, string(code)
	return res
}

func (h *Handler) autoCharge(w http.ResponseWriter, r *http.Request, k kind, st *store.Store, p *wire.Params) {
	if h.AutoCharge == nil {
		h.fail(w, r, wire.ERParamACID, errors.New("auto-charge unavailable"))
		return
	}
	if p.Get("cmd") != "1" {
		h.fail(w, r, wire.ERParamCmd, errors.New("cmd must be 1"))
		return
	}
	acid := p.Get("acid")
	if acid == "" || len(acid) > 32 {
		h.fail(w, r, wire.ERParamACID, errors.New("acid missing"))
		return
	}
	var err error
	switch k {
	case kindACStop:
		err = h.AutoCharge.Stop(r.Context(), st, acid, "acsgate")
	case kindACChange:
		err = h.AutoCharge.Change(r.Context(), st, p, 0)
	case kindACCard:
		tkn := p.Get("tkn")
		if tkn == "" {
			h.fail(w, r, wire.Code("ER583"), errors.New("token missing"))
			return
		}
		if h.Tokens == nil {
			h.fail(w, r, wire.Code("ER584"), errors.New("tokens unavailable"))
			return
		}
		id, e := h.Tokens.Use(r.Context(), st, tkn, -1, -1, -1)
		if e != nil {
			h.fail(w, r, wire.CodeOf(e), e)
			return
		}
		err = h.AutoCharge.Change(r.Context(), st, p, id)
	}
	if err != nil {
		code := wire.CodeOf(err)
		if c := payment.CodeOf(err); c != "ER000" {
			code = wire.Code(c)
		}
		h.fail(w, r, code, err)
		return
	}
	writeBody(w, "OK")
}
