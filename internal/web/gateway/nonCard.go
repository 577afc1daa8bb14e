package gateway

import (
	"context"
	"net/http"
	"strings"
	"time"

	"kessai/internal/maintenance"
	"kessai/internal/noncard"
	"kessai/internal/store"
	"kessai/internal/wire"
)

// MethodGate is the maintenance decision for a payment method (card, cvs, bank): the window
// refusing op for it at t, or nil. A window scoped method:cvs refuses convenience-store payments
// only.
type MethodGate func(t time.Time, op maintenance.Op, method string, r *http.Request) *maintenance.Window

// NonCard serves the server-to-server convenience-store and bank-transfer endpoints (wire.md §8):
// /gateway/cvs2.aspx (na, cv) and /gateway/bank.aspx (nmf, po).
type NonCard struct {
	H    *Handler
	Svc  *noncard.Service
	Gate MethodGate
}

// Register adds the routes.
func (n *NonCard) Register(mux *http.ServeMux) {
	mux.HandleFunc("/gateway/cvs2.aspx", n.serve(store.MethodCVS))
	mux.HandleFunc("/igateway/cvs2.aspx", n.serve(store.MethodCVS))
	mux.HandleFunc("/gateway/bank.aspx", n.serve(store.MethodBank))
}

// BaseURL is the scheme and host the request reached Kessai at: the slip links it hands out
// point back at the same host.
func BaseURL(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

func (n *NonCard) serve(method string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		h := n.H
		accepted := h.Clock.Now()
		if r.Method != http.MethodGet && r.Method != http.MethodPost {
			h.fail(w, r, wire.ERMethod, nil)
			return
		}
		p, err := wire.Parse(r, MaxBody)
		if err != nil {
			h.fail(w, r, wire.CodeOf(err), err)
			return
		}
		if win := n.Gate(accepted, maintenance.OpCapture, method, r); win != nil {
			h.refuse(w, r, win)
			return
		}
		st, code, err := h.storeChecks(r, p, accepted)
		if err != nil {
			h.fail(w, r, code, err)
			return
		}
		if err := p.Recode(st.Encoding); err != nil {
			h.fail(w, r, wire.CodeOf(err), err)
			return
		}
		req, err := n.request(r.Context(), st, p, method, accepted)
		if err != nil {
			h.fail(w, r, wire.CodeOf(err), err)
			return
		}
		req.BaseURL = BaseURL(r)
		rt, _ := p.ReplyType()
		req.Kickback = rt == wire.ReplyOK
		is, err := n.Svc.Issue(r.Context(), req)
		if err != nil {
			h.fail(w, r, wire.CodeOf(err), err)
			return
		}
		if rt == wire.ReplyOK {
			writeBody(w, wire.OKBody)
			return
		}
		res := *ResultOf(is.P)
		if method == store.MethodCVS {
			writeBody(w, string(wire.CVSLine(res, is.S.Chain, is.S.PayNo, is.S.SlipURL)))
			return
		}
		w.Header().Set("Content-Type", "text/plain; charset=Shift_JIS")
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(http.StatusOK)
		w.Write(wire.BankLine(res, is.S.Bank, is.S.Deadline.In(noncard.JST).Format("20060102")))
	}
}

// request checks a non-card order in the contract's order: jb (CAPTURE only), rt, cod, em, pn,
// amounts or iid and the store's limits, then the method's own rules (noncard.Check).
func (n *NonCard) request(ctx context.Context, st *store.Store, p *wire.Params, method string, accepted time.Time) (*noncard.IssueRequest, error) {
	jb, err := p.JobType(wire.JobCapture)
	if err != nil {
		return nil, err
	}
	if jb != wire.JobCapture {
		return nil, wire.Errf(wire.ERParamJob, "jb", "%s: convenience-store and bank payments are CAPTURE only", jb)
	}
	if _, err := p.ReplyType(); err != nil {
		return nil, err
	}
	return BuildNonCard(ctx, n.H.Pay.DB, st, p, method, p.Get("cv"), true, accepted)
}

// BuildNonCard reads and checks a non-card order (gateway and hosted pages alike): cod, em, pn,
// amounts (ER05x/ER06x, ER017/ER018), then the method's rules (ER165, ER160, ER161, ER060,
// ER162–ER164). requireKana is true server-to-server, where na / nmf are required.
func BuildNonCard(ctx context.Context, db *store.DB, st *store.Store, p *wire.Params, method, cv string, requireKana bool, accepted time.Time) (*noncard.IssueRequest, error) {
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
	am, tx, sf, inm, err := Amounts(ctx, db, st, p)
	if err != nil {
		return nil, err
	}
	if p.Has("actp") && strings.TrimSpace(p.Get("actp")) != "0" {
		return nil, wire.Errf(wire.ERACCycle, "actp", "auto-charge is for cards only")
	}
	if err := CheckLimits(st, am+tx+sf); err != nil {
		return nil, err
	}
	set, err := db.GetStoreMethods(ctx, st.AID)
	if err != nil {
		return nil, err
	}
	kanaName := "na"
	if method == store.MethodBank {
		kanaName = "nmf"
	}
	kana, po, err := noncard.Check(set, method, cv, am+tx+sf, pn, p.Get(kanaName), p.Get("po"), requireKana, !requireKana)
	if err != nil {
		return nil, err
	}
	free := wire.NonCardFree(p)
	return &noncard.IssueRequest{Store: st, Settings: set, Method: method, Cod: cod, Am: am, Tx: tx, Sf: sf, Inm: strings.TrimSpace(inm),
		Em: em, Pn: pn, Chain: cv, Kana: kana, Postal: po, Free: wire.EncodeFree(free), Source: "gateway", AcceptedAt: accepted}, nil
}
