package link

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"strings"
	"time"

	"kessai/internal/acquirer"
	"kessai/internal/checkout"
	"kessai/internal/maintenance"
	"kessai/internal/noncard"
	"kessai/internal/store"
	"kessai/internal/token"
	"kessai/internal/vault"
	"kessai/internal/web/gateway"
	"kessai/internal/wire"
)

// Hosted convenience-store and bank-transfer payment (wire.md §8): payform.aspx with pt=2 / pt=7,
// /link/convenience and /link/bankcheck (mail links too). The shopper chooses the method among the
// store's non-card methods (one under maintenance is greyed out with the window's times), a chain,
// gives a name in katakana, and gets the printable slip page (/link/slip/{gid}): payment number,
// slip, deadline and the chain's instructions, or the account, the exact amount, the deadline and
// the transfer-name rule. The order travels as the signed field of the card form (signed.go).

// NonCardDeps are what the non-card pages need besides the card pages' Handler.
type NonCardDeps struct {
	Svc  *noncard.Service
	Gate gateway.MethodGate
	// Mail queues the shopper's e-mail (nil: no e-mail).
	Mail func(ctx context.Context, e *store.Email) error
}

// RegisterNonCard mounts the non-card pages; payform.aspx dispatches pt=2 / pt=7 here too.
func (h *Handler) RegisterNonCard(mux *http.ServeMux, d *NonCardDeps) {
	h.nc = d
	for _, m := range []string{"GET ", "POST "} {
		mux.HandleFunc(m+"/link/convenience", h.nonCardRoute(store.MethodCVS))
		mux.HandleFunc(m+"/link/bankcheck", h.nonCardRoute(store.MethodBank))
	}
	mux.HandleFunc("POST /link/noncard/issue", h.nonCardIssue)
	mux.HandleFunc("POST /link/noncard/lang", h.nonCardLang)
	mux.HandleFunc("GET /link/slip/{gid}", h.slipPage)
}

var ncPages = func() map[string]*template.Template {
	m := map[string]*template.Template{}
	for _, name := range []string{"noncard", "slip"} {
		m[name] = template.Must(template.New("layout.html").ParseFS(templateFS, "templates/layout.html", "templates/"+name+".html"))
	}
	return m
}()

// ncView is what the non-card templates get: the layout's fields and the page's own.
type ncView struct {
	Lang, Title, StoreName, AltLang, AltLangURL string
	AltLangForm                                 *langForm
	T, N                                        map[string]string
	Sandbox                                     bool
	Order                                       *orderView
	Session, CSRF, Signed                       string
	Methods                                     []ncMethod
	Chains                                      []ncChain
	Kana                                        string
	Errors                                      map[string]string
	Alert                                       *alert
	Slip                                        *slipView
}

type ncMethod struct {
	Value, Label string
	Checked      bool
	Closed       string // the maintenance window's times when the method is closed
}

type ncChain struct {
	Code, Label string
	Checked     bool
}

type slipView struct {
	Method, State, StateText string
	Gid, Cod, Total, Item    string
	Chain, ChainName, No     string
	SlipURL                  string
	Steps                    []string
	Deadline                 string
	Bank                     []kv
	Kana                     string
	ReturnURL                string
	Pending                  bool
}

type kv struct{ K, V string }

func (h *Handler) ncRender(w http.ResponseWriter, status int, page string, v *ncView) {
	v.Sandbox = h.Sandbox
	v.T, v.N = texts[v.Lang], ncTexts[v.Lang]
	pageHeaders(w)
	var b strings.Builder
	if err := ncPages[page].Execute(&b, v); err != nil {
		if h.Log != nil {
			h.Log.Error("template failed", "page", page, "err", err)
		}
		http.Error(w, "internal error (ER000)", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	w.Write([]byte(b.String()))
}

func (h *Handler) nonCardRoute(method string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if r.Body != nil {
			r.Body = http.MaxBytesReader(w, r.Body, MaxBody)
		}
		p, err := wire.Parse(r, MaxBody)
		if err != nil {
			lang := langOf(r.URL.Query().Get("lang"))
			h.logRefusal(r, err)
			h.problemErr(w, r, lang, err)
			return
		}
		h.nonCardEntry(w, r, p, method)
	}
}

// ptMethod maps payform.aspx's pt to a non-card method ("" for cards or unknown values).
func ptMethod(pt string) string {
	switch strings.TrimSpace(pt) {
	case "2":
		return store.MethodCVS
	case "7":
		return store.MethodBank
	}
	return ""
}

// windowTimes formats a maintenance window's span in JST for the greyed-out method.
func windowTimes(win *maintenance.Window, lang string) string {
	s, e := win.Start.In(jst), win.End.In(jst)
	if lang == "en" {
		return fmt.Sprintf("under maintenance %s – %s JST", s.Format("Jan 2 15:04"), e.Format("Jan 2 15:04"))
	}
	return fmt.Sprintf("メンテナンス中 %s〜%s", s.Format("1月2日 15:04"), e.Format("1月2日 15:04"))
}

// methodChoices lists the store's non-card methods, each closed when a window refuses it.
func (h *Handler) methodChoices(r *http.Request, set *store.StoreMethods, want, lang string, now time.Time) ([]ncMethod, *maintenance.Window) {
	var out []ncMethod
	var first *maintenance.Window
	open := false
	for _, m := range []string{store.MethodCVS, store.MethodBank} {
		if !set.Has(m) {
			continue
		}
		c := ncMethod{Value: m, Label: ncTexts[lang]["method_"+m]}
		if win := h.nc.Gate(now, maintenance.OpCapture, m, r); win != nil {
			c.Closed = windowTimes(win, lang)
			if first == nil {
				first = win
			}
		} else {
			open = true
		}
		out = append(out, c)
	}
	// the wanted method is checked when open, else the first open one
	for i := range out {
		if out[i].Value == want && out[i].Closed == "" {
			out[i].Checked = true
			return out, nil
		}
	}
	for i := range out {
		if out[i].Closed == "" {
			out[i].Checked = true
			break
		}
	}
	if !open {
		return out, first
	}
	return out, nil
}

func chainChoices(set *store.StoreMethods, svc *noncard.Service, sel, lang string) []ncChain {
	var out []ncChain
	for _, c := range acquirer.Chains {
		if !set.ChainEnabled(c.Code) || (svc != nil && !svc.Reaches(c.Code)) {
			continue
		}
		name := c.NameJa
		if lang == "en" {
			name = c.NameEn
		}
		out = append(out, ncChain{Code: c.Code, Label: name, Checked: c.Code == sel})
	}
	if sel == "" && len(out) > 0 {
		out[0].Checked = true
	}
	return out
}

// nonCardEntry opens the non-card page for a merchant's form: the same store, Referer / mail-key
// and parameter checks as the card page, then the store's contract for the method (ER165).
func (h *Handler) nonCardEntry(w http.ResponseWriter, r *http.Request, p *wire.Params, method string) {
	now := h.Clock.Now()
	ctx := r.Context()
	lang := langOf(p.Get("lang"))
	if h.nc == nil {
		h.problem(w, r, lang, wire.ERNotContracted, "", "")
		return
	}
	st, err := h.storeFor(ctx, p)
	if err != nil {
		h.logRefusal(r, err)
		h.problemErr(w, r, lang, err)
		return
	}
	if p.Has(MailKeyParam) {
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
		h.logRefusal(r, wire.Errf(wire.ERReferer, "referer", "origin not in the store's allow-list"))
		h.problem(w, r, lang, wire.ERReferer, "", "")
		return
	}
	if err := p.Recode(st.Encoding); err != nil {
		h.problemErr(w, r, lang, err)
		return
	}
	if jb, err := p.JobType(wire.JobCapture); err != nil || jb != wire.JobCapture {
		h.problem(w, r, lang, wire.ERParamJob, "", "")
		return
	}
	req, err := gateway.BuildNonCard(ctx, h.Pay.DB, st, p, method, p.Get("cv"), false, now)
	if err != nil {
		h.logRefusal(r, err)
		if wire.CodeOf(err) == wire.ERNotContracted {
			// the store does not take this method: say so by name, with the wire's code
			t := texts[lang]
			h.problem(w, r, lang, wire.ERNotContracted, t["unavailable_title"], strings.Replace(t["unavailable_text"], "%s", t["pt_"+method], 1))
			return
		}
		h.problemErr(w, r, lang, err)
		return
	}
	methods, closed := h.methodChoices(r, req.Settings, method, lang, now)
	if closed != nil {
		h.maintenancePage(w, r, lang, now, closed)
		return
	}
	o := &store.LinkOrder{ID: token.NewString(token.Len), AID: st.AID, Jb: wire.JobCapture, Cod: req.Cod, Am: req.Am, Tx: req.Tx, Sf: req.Sf,
		Inm: req.Inm, Em: req.Em, Pn: req.Pn, Md: "10", Free: req.Free, Binding: h.binding(w, r), Status: store.LinkOpen,
		CreatedAt: now, UpdatedAt: now, ExpiresAt: now.Add(SessionTTL)}
	o.CSRF = h.csrfFor(o.ID)
	v := &ncView{Lang: lang, StoreName: st.Name, AltLang: otherLang(lang), Order: h.orderView(st, o, lang), Session: o.ID,
		CSRF: o.CSRF, Signed: h.seal(o), Methods: methods, Chains: chainChoices(req.Settings, h.nc.Svc, p.Get("cv"), lang), Kana: req.Kana,
		Errors: map[string]string{}}
	v.Title = ncTexts[lang]["title"]
	h.ncRender(w, http.StatusOK, "noncard", v)
}

// nonCardLang re-renders the choice page in the other language (the order stays signed).
func (h *Handler) nonCardLang(w http.ResponseWriter, r *http.Request) {
	h.nonCardForm(w, r, false)
}

// nonCardIssue issues the slip or account the shopper chose, then shows the slip page.
func (h *Handler) nonCardIssue(w http.ResponseWriter, r *http.Request) {
	h.nonCardForm(w, r, true)
}

func (h *Handler) nonCardForm(w http.ResponseWriter, r *http.Request, issue bool) {
	now := h.Clock.Now()
	ctx := r.Context()
	r.Body = http.MaxBytesReader(w, r.Body, MaxBody)
	if err := r.ParseForm(); err != nil {
		h.problem(w, r, "ja", wire.ERMalformed, "", "")
		return
	}
	lang := langOf(r.PostFormValue("lang"))
	o, err := h.unseal(r.PostFormValue("d"))
	if err != nil || h.nc == nil || o.ID != r.PostFormValue("o") || subtle.ConstantTimeCompare([]byte(o.CSRF), []byte(r.PostFormValue("csrf"))) != 1 || !boundTo(r, o) {
		h.problem(w, r, lang, wire.ERMalformed, texts[lang]["session_title"], texts[lang]["session_text"])
		return
	}
	if now.After(o.ExpiresAt) {
		h.problem(w, r, lang, wire.ERMalformed, texts[lang]["session_title"], texts[lang]["session_text"])
		return
	}
	st, err := h.Pay.Stores.Get(ctx, o.AID)
	if err != nil {
		h.problemErr(w, r, lang, wire.Errf(wire.ERUnknownStore, "aid", "store gone"))
		return
	}
	set, err := h.Pay.DB.GetStoreMethods(ctx, st.AID)
	if err != nil {
		h.problemErr(w, r, lang, err)
		return
	}
	method, cv, kana := r.PostFormValue("method"), r.PostFormValue("cv"), strings.TrimSpace(r.PostFormValue("kana"))
	methods, closed := h.methodChoices(r, set, method, lang, now)
	if closed != nil {
		h.maintenancePage(w, r, lang, now, closed)
		return
	}
	v := &ncView{Lang: lang, StoreName: st.Name, AltLang: otherLang(lang), Order: h.orderView(st, o, lang), Session: o.ID, CSRF: o.CSRF,
		Signed: r.PostFormValue("d"), Methods: methods, Chains: chainChoices(set, h.nc.Svc, cv, lang), Kana: kana, Errors: map[string]string{}}
	v.Title = ncTexts[lang]["title"]
	if !issue {
		h.ncRender(w, http.StatusOK, "noncard", v)
		return
	}
	n := ncTexts[lang]
	for _, m := range methods {
		if m.Value == method && m.Closed != "" {
			v.Alert = &alert{Title: n["closed_title"], Text: m.Closed, Code: string(wire.ERMaintenance)}
			h.ncRender(w, http.StatusServiceUnavailable, "noncard", v)
			return
		}
	}
	total := o.Am + o.Tx + o.Sf
	name, _, err := noncard.Check(set, method, cv, total, o.Pn, kana, "", true, false)
	if err != nil {
		code := wire.CodeOf(err)
		switch code {
		case wire.ERParamKana, wire.ERParamTransfer:
			v.Errors["kana"] = n["err_kana"]
		case wire.ERChain, wire.ERChainLimit, wire.ERParamPhone:
			v.Errors["cv"] = code.Describe(lang)
		default:
			v.Alert = &alert{Title: texts[lang]["error_title"], Text: code.Describe(lang), Code: string(code)}
		}
		h.ncRender(w, http.StatusBadRequest, "noncard", v)
		return
	}
	req := &noncard.IssueRequest{Store: st, Settings: set, Method: method, Cod: o.Cod, Am: o.Am, Tx: o.Tx, Sf: o.Sf, Inm: o.Inm, Em: o.Em,
		Pn: o.Pn, Chain: cv, Kana: name, Free: o.Free, Source: "link", Kickback: true, BaseURL: gateway.BaseURL(r), AcceptedAt: now}
	if method == store.MethodBank {
		req.Chain = ""
	}
	// the order's lifecycle (package checkout): of two submissions of one form one issues, the
	// other finds the slip — also for an order without an order number
	orders := h.orders()
	stored := false
	if so, err := orders.Get(ctx, o.ID); err == nil {
		stored = true
		if so.Status == checkout.Pending && so.Gid != "" {
			h.redirectSlip(w, r, so.Gid, lang)
			return
		}
	}
	claimed, err := orders.Claim(ctx, o, stored)
	if err != nil || !claimed {
		v.Alert = &alert{Title: texts[lang]["error_title"], Text: texts[lang]["busy"], Code: string(wire.ERInternal)}
		h.ncRender(w, http.StatusConflict, "noncard", v)
		return
	}
	is, err := h.nc.Svc.Issue(ctx, req)
	if err != nil {
		code := wire.CodeOf(err)
		if rerr := orders.Release(ctx, o.ID, string(code)); rerr != nil {
			h.logRefusal(r, &wire.Error{Code: wire.ERInternal, Msg: "storage", Err: rerr})
		}
		v.Alert = &alert{Title: texts[lang]["error_title"], Text: code.Describe(lang), Code: string(code)}
		h.ncRender(w, statusOf(code), "noncard", v)
		return
	}
	if err := orders.Issued(ctx, o.ID, is.P.Gid); err != nil {
		// the slip is recorded and its kickback queued; only the page state is lost
		h.logRefusal(r, &wire.Error{Code: wire.ERInternal, Msg: "storage", Err: err})
	}
	if o.Em != "" && h.nc.Mail != nil && !is.Replayed {
		if err := h.nc.Mail(ctx, slipMail(st, is.P, is.S, lang)); err != nil && h.Log != nil {
			h.Log.Warn("slip e-mail not queued", "gid", is.P.Gid, "err", err)
		}
	}
	h.redirectSlip(w, r, is.S.Gid, lang)
}

// redirectSlip sends the shopper to the slip page of gid.
func (h *Handler) redirectSlip(w http.ResponseWriter, r *http.Request, gid, lang string) {
	sl, err := h.Pay.DB.GetSlip(r.Context(), gid)
	if err != nil {
		h.problemErr(w, r, lang, err)
		return
	}
	u := noncard.SlipPath(sl.Gid, sl.ViewKey)
	if lang == "en" {
		u += "&lang=en"
	}
	http.Redirect(w, r, u, http.StatusSeeOther)
}

// slipPage is the shopper's printable, bookmarkable result page of a slip.
func (h *Handler) slipPage(w http.ResponseWriter, r *http.Request) {
	lang := langOf(r.URL.Query().Get("lang"))
	ctx := r.Context()
	sl, err := h.Pay.DB.GetSlip(ctx, r.PathValue("gid"))
	if err != nil || sl.ViewKey == "" || subtle.ConstantTimeCompare([]byte(sl.ViewKey), []byte(r.URL.Query().Get("k"))) != 1 {
		h.problemWith(w, r, http.StatusNotFound, lang, wire.ERParamTID, "", "")
		return
	}
	p, err := h.Pay.DB.GetPayment(ctx, sl.AID, sl.Gid)
	if err != nil {
		h.problemErr(w, r, lang, err)
		return
	}
	st, err := h.Pay.Stores.Get(ctx, sl.AID)
	if err != nil {
		h.problemErr(w, r, lang, err)
		return
	}
	n := ncTexts[lang]
	sv := slipViewOf(st, p, sl, lang)
	if st.CompletionURL != "" && p.Source == "link" {
		ap := noncard.ApSlipIssued
		if sl.Method == store.MethodBank {
			ap = noncard.ApBankIssued
		}
		q := noncard.Query(p, sl, ap, "utf-8")
		sep := "?"
		if strings.Contains(st.CompletionURL, "?") {
			sep = "&"
		}
		sv.ReturnURL = st.CompletionURL + sep + q
	}
	q := r.URL.Query()
	q.Set("lang", otherLang(lang))
	v := &ncView{Lang: lang, StoreName: st.Name, AltLang: otherLang(lang), AltLangURL: r.URL.Path + "?" + q.Encode(), Slip: sv}
	v.Title = n["slip_title_"+sl.Method]
	h.ncRender(w, http.StatusOK, "slip", v)
}

func slipViewOf(st *store.Store, p *store.Payment, sl *store.Slip, lang string) *slipView {
	n := ncTexts[lang]
	item := p.Inm
	if item == "" {
		item = texts[lang]["item_default"]
	}
	dl := sl.Deadline.In(jst)
	deadline := dl.Format("2006年1月2日 15:04")
	if lang == "en" {
		deadline = dl.Format("2 Jan 2006 15:04") + " JST"
	}
	sv := &slipView{Method: sl.Method, State: sl.State, StateText: n["state_"+sl.State], Gid: p.Gid, Cod: p.Cod, Total: yen(lang, p.Ta),
		Item: item, Deadline: deadline, Pending: sl.State == store.SlipPending, Kana: sl.Kana}
	if sl.Method == store.MethodCVS {
		ch, _ := acquirer.ChainByCode(sl.Chain)
		sv.Chain, sv.No, sv.SlipURL = sl.Chain, sl.PayNo, sl.SlipURL
		sv.ChainName = ch.NameJa
		steps := ch.HowJa
		if lang == "en" {
			sv.ChainName, steps = ch.NameEn, ch.HowEn
		}
		for _, s := range steps {
			if strings.Contains(s, "%s") {
				s = fmt.Sprintf(s, sl.PayNo)
			}
			sv.Steps = append(sv.Steps, s)
		}
		return sv
	}
	f := strings.Split(sl.Bank, ".")
	if len(f) == 7 {
		sv.Bank = []kv{{n["bank_name"], f[1] + " (" + f[0] + ")"}, {n["bank_branch"], f[3] + " (" + f[2] + ")"},
			{n["bank_type"], f[4]}, {n["bank_number"], f[5]}, {n["bank_holder"], f[6]}}
	}
	return sv
}

// slipMail is the shopper's e-mail with the slip's details, Japanese then English.
func slipMail(st *store.Store, p *store.Payment, sl *store.Slip, lang string) *store.Email {
	var b strings.Builder
	for _, l := range []string{"ja", "en"} {
		n := ncTexts[l]
		sv := slipViewOf(st, p, sl, l)
		fmt.Fprintf(&b, "%s\n\n%s: %s\n%s: %s\n%s: %s\n%s: %s\n", n["mail_intro_"+sl.Method], texts[l]["store"], st.Name,
			texts[l]["payment_no"], p.Gid, texts[l]["total"], sv.Total, n["deadline"], sv.Deadline)
		if sl.Method == store.MethodCVS {
			fmt.Fprintf(&b, "%s: %s\n%s: %s\n", n["chain"], sv.ChainName, n["pay_no"], sv.No)
			if sv.SlipURL != "" {
				fmt.Fprintf(&b, "%s: %s\n", n["slip_link"], sv.SlipURL)
			}
			for i, s := range sv.Steps {
				fmt.Fprintf(&b, "%d. %s\n", i+1, s)
			}
		} else {
			for _, x := range sv.Bank {
				fmt.Fprintf(&b, "%s: %s\n", x.K, x.V)
			}
			fmt.Fprintf(&b, "%s\n", n["transfer_rule"])
		}
		b.WriteString("\n----\n\n")
	}
	subj := ncTexts["ja"]["mail_subject_"+sl.Method] + " / " + ncTexts["en"]["mail_subject_"+sl.Method]
	return &store.Email{Dedupe: "slip:" + sl.Gid, AID: st.AID, Rcpt: p.Em, Subject: subj, Kind: "slip", Body: b.String()}
}

// SlipQuery is the browser return's query for a slip (exported for tests).
func SlipQuery(p *store.Payment, sl *store.Slip) url.Values {
	ap := noncard.ApSlipIssued
	if sl.Method == store.MethodBank {
		ap = noncard.ApBankIssued
	}
	q, _ := url.ParseQuery(noncard.Query(p, sl, ap, "utf-8"))
	return q
}

var ncTexts = map[string]map[string]string{
	"ja": {
		"title":             "コンビニ・銀行振込でのお支払い",
		"method":            "お支払い方法",
		"method_cvs":        "コンビニ決済",
		"method_bank":       "銀行振込",
		"chain":             "お支払いになるコンビニ",
		"kana":              "お名前（全角カタカナ）",
		"kana_hint":         "全角カタカナで入力してください（小さい「ャ・ュ・ョ・ッ」は大きい文字で）。銀行振込ではこのお名前で振り込んでください。",
		"err_kana":          "お名前を全角カタカナで入力してください（小さい「ャュョッ」は使えません）。",
		"issue":             "お支払い番号を発行する",
		"closed_title":      "この支払方法は現在ご利用いただけません",
		"slip_title_cvs":    "コンビニでのお支払い",
		"slip_title_bank":   "銀行振込のご案内",
		"pay_no":            "受付番号",
		"slip_link":         "払込票",
		"open_slip":         "払込票を表示・印刷する",
		"deadline":          "お支払期限",
		"steps":             "お支払い方法",
		"bank_name":         "銀行",
		"bank_branch":       "支店",
		"bank_type":         "口座種別",
		"bank_number":       "口座番号",
		"bank_holder":       "口座名義",
		"exact_amount":      "お振込金額",
		"exact_note":        "この金額ちょうどをお振り込みください（過不足があると確認に時間がかかります）。",
		"transfer_rule":     "振込名義はご注文時のお名前（全角カタカナ）でお願いします。この口座はこのご注文専用です。振込手数料はお客様のご負担となります。",
		"print_note":        "このページを印刷するか、ブックマークしてください。",
		"state":             "状態",
		"state_pending":     "お支払い待ち",
		"state_paid":        "お支払い済み",
		"state_expired":     "期限切れ",
		"state_cancelled":   "取消済み",
		"mail_subject_cvs":  "コンビニ決済のご案内",
		"mail_subject_bank": "銀行振込のご案内",
		"mail_intro_cvs":    "ご注文ありがとうございます。下記のコンビニでお支払いください。",
		"mail_intro_bank":   "ご注文ありがとうございます。下記の口座にお振り込みください。",
		"sandbox_note":      "テスト環境: 電話番号 09000000001 のご注文は数秒後に自動で入金済みになります。",
	},
	"en": {
		"title":             "Pay at a convenience store or by bank transfer",
		"method":            "Payment method",
		"method_cvs":        "Convenience store",
		"method_bank":       "Bank transfer",
		"chain":             "Convenience store chain",
		"kana":              "Your name (full-width katakana)",
		"kana_hint":         "Type it in full-width katakana (small ャ ュ ョ ッ as large letters). For a bank transfer, send the money under this name.",
		"err_kana":          "Enter your name in full-width katakana (small ャュョッ are not allowed).",
		"issue":             "Get a payment number",
		"closed_title":      "This payment method is not available right now",
		"slip_title_cvs":    "Pay at a convenience store",
		"slip_title_bank":   "Bank transfer details",
		"pay_no":            "Reception number",
		"slip_link":         "Payment slip",
		"open_slip":         "Show and print the slip",
		"deadline":          "Pay by",
		"steps":             "How to pay",
		"bank_name":         "Bank",
		"bank_branch":       "Branch",
		"bank_type":         "Account type",
		"bank_number":       "Account number",
		"bank_holder":       "Account holder",
		"exact_amount":      "Amount to transfer",
		"exact_note":        "Send exactly this amount (a different amount takes longer to confirm).",
		"transfer_rule":     "Transfer under the name you gave with your order (full-width katakana). This account is for this order only. Transfer fees are yours.",
		"print_note":        "Print this page or bookmark it.",
		"state":             "Status",
		"state_pending":     "awaiting payment",
		"state_paid":        "paid",
		"state_expired":     "expired",
		"state_cancelled":   "cancelled",
		"mail_subject_cvs":  "How to pay at the convenience store",
		"mail_subject_bank": "Bank transfer details",
		"mail_intro_cvs":    "Thank you for your order. Please pay at the convenience store below.",
		"mail_intro_bank":   "Thank you for your order. Please transfer the amount to the account below.",
		"sandbox_note":      "Test environment: an order with phone number 09000000001 is paid by itself after a few seconds.",
	},
}

// MailLinkTo is MailLink for another hosted page: /link/convenience or /link/bankcheck (wire.md
// §9 mail links of convenience-store and bank payments), with the same key.
func MailLinkTo(kr *vault.KeyRing, base, path string, q url.Values, expires time.Time) string {
	return strings.TrimRight(base, "/") + path + "?" + q.Encode() + "&" + MailKeyParam + "=" + url.QueryEscape(MailKey(kr, q, expires))
}
