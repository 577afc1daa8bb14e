package console

import (
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"strconv"
	"strings"

	"kessai/internal/acquirer"
	"kessai/internal/maintenance"
	"kessai/internal/noncard"
	"kessai/internal/store"
	"kessai/internal/web/ui"
	"kessai/internal/wire"
)

// Convenience-store and bank-transfer payments in the panel (issue 13): the slip on the payment's
// page (number, deadline, account, received vs billed with the merchant's note), the merchant's
// cancel of an unpaid slip, the sandbox's buttons, and the store's method settings.

func (h *Handler) registerNonCard(m *http.ServeMux) {
	m.HandleFunc("POST /console/slips/{gid}/{action}", h.signedIn(h.admin(h.slipAction)))
	m.HandleFunc("GET /console/methods", h.signedIn(h.methodsPage))
	m.HandleFunc("POST /console/methods", h.signedIn(h.admin(h.saveMethods)))
}

// parseMethodFilter reads the method and slip-number fields of the payment search.
func parseMethodFilter(ff *filterForm, f *store.PaymentFilter, lang string) []string {
	var probs []string
	if ff.Method != "" {
		ok := false
		for _, m := range ui.Methods {
			ok = ok || m == ff.Method
		}
		if ok {
			f.Method = ff.Method
		} else {
			probs = append(probs, ui.L(lang, "決済方法の指定が正しくありません", "Unknown payment method"))
		}
	}
	if ff.No != "" {
		if digitsRe.MatchString(ff.No) && len(ff.No) <= 32 {
			f.SlipNo = ff.No
		} else {
			f.SlipNo = "-"
			probs = append(probs, ui.L(lang, "受付番号・口座番号は数字で入力してください", "The slip number is digits only"))
		}
	}
	return probs
}

// slipInfo is the slip part of a payment's page.
type slipInfo struct {
	*store.Slip
	ChainName   string
	BankFields  []string
	Deadline    string
	Diff        int64 // received − billed, bank transfers
	CanCancel   bool
	SandboxActs bool
}

func (h *Handler) slipData(r *http.Request, pay *store.Payment) (*slipInfo, error) {
	if pay.Method == "" || pay.Method == store.MethodCard {
		return nil, nil
	}
	sl, err := h.DB.GetSlip(r.Context(), pay.Gid)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	si := &slipInfo{Slip: sl, Deadline: ui.FormatTime(sl.Deadline), CanCancel: sl.State == store.SlipPending,
		SandboxActs: h.Sandbox && h.NonCard != nil}
	if ch, ok := acquirer.ChainByCode(sl.Chain); ok {
		si.ChainName = ch.NameJa + " / " + ch.NameEn
	}
	if sl.Bank != "" {
		si.BankFields = strings.Split(sl.Bank, ".")
	}
	if sl.Method == store.MethodBank && sl.Mf != "" {
		si.Diff = sl.Received - sl.Billed
	}
	return si, nil
}

// slipAction runs the merchant's cancel of an unpaid slip, keeps the note on a bank difference,
// and (sandbox only) the chain network's and bank's actions.
func (h *Handler) slipAction(w http.ResponseWriter, r *http.Request, who *ui.Who) {
	pay, err := h.loadPayment(r, who)
	if errors.Is(err, store.ErrNotFound) || (err == nil && pay.Method == store.MethodCard) {
		h.fail(w, r, who, http.StatusNotFound, "この決済は見つかりません。", "No such payment.")
		return
	}
	if err != nil {
		h.unavailable(w, r, who, err)
		return
	}
	lang := ui.Lang(r, who.Session)
	action := r.PathValue("action")
	if action == "note" {
		note := strings.TrimSpace(r.PostFormValue("note"))
		if len([]rune(note)) > 500 {
			h.renderPayment(w, r, who, pay, http.StatusUnprocessableEntity, ui.L(lang, "メモは500文字までです。", "The note is at most 500 characters."))
			return
		}
		if err := h.DB.SetSlipNote(r.Context(), who.Account.AID, pay.Gid, note); err != nil {
			h.unavailable(w, r, who, err)
			return
		}
		h.audit(r, who, "slip.note", "gid="+pay.Gid)
		http.Redirect(w, r, Base+"/payments/"+pay.Gid+"?done=note", http.StatusSeeOther)
		return
	}
	kinds := map[string]noncard.Kind{"cancel": noncard.Cancel, "sandbox-pay": noncard.Paid, "sandbox-cancel": noncard.ChainCancel,
		"sandbox-transfer": noncard.Transfer, "sandbox-expire": noncard.Expire}
	kind, ok := kinds[action]
	if !ok || h.NonCard == nil || (strings.HasPrefix(action, "sandbox-") && !h.Sandbox) {
		h.notFound(w, r)
		return
	}
	if action == "cancel" {
		if win := h.Maint.Refused(h.Clock.Now(), maintenance.OpCancel, pay.Method, ""); win != nil {
			h.renderPayment(w, r, who, pay, http.StatusServiceUnavailable, ui.L(lang,
				"メンテナンス中のため実行できません（ER999）: "+ui.Span(*win, lang), "Refused during maintenance (ER999): "+ui.Span(*win, lang)))
			return
		}
	}
	var amount int64
	if kind == noncard.Transfer {
		s := strings.ReplaceAll(strings.TrimSpace(r.PostFormValue("amount")), ",", "")
		n, err := strconv.ParseInt(s, 10, 64)
		if s == "" {
			n, err = pay.Ta, nil
		}
		if err != nil || n <= 0 {
			h.renderPayment(w, r, who, pay, http.StatusUnprocessableEntity, ui.L(lang, "金額は正の整数で入力してください。", "The amount must be a positive whole number."))
			return
		}
		amount = n
	}
	actor := who.Account.Actor()
	if strings.HasPrefix(action, "sandbox-") {
		actor = "sandbox-panel:" + actor
	}
	_, err = h.NonCard.Apply(r.Context(), who.Account.AID, pay.Gid, kind, amount, actor)
	switch {
	case errors.Is(err, noncard.ErrFurtherTransfer):
		// recorded on the timeline: the payment was paid before
	case errors.Is(err, noncard.ErrNoChange):
		h.renderPayment(w, r, who, pay, http.StatusConflict, ui.L(lang, "この状態では実行できません（変更はありません）。", "Not possible in this state (nothing changed)."))
		return
	case errors.Is(err, noncard.ErrDeadline):
		h.renderPayment(w, r, who, pay, http.StatusConflict, ui.L(lang, "支払期限を過ぎているため受け付けられません（期限切れにしました）。", "The deadline has passed: refused, and the payment is now expired."))
		return
	case err != nil:
		code := string(wire.CodeOf(err))
		h.renderPayment(w, r, who, pay, http.StatusConflict, ui.L(lang, "実行できませんでした", "Refused")+" ("+code+")")
		return
	}
	h.audit(r, who, "slip."+action, fmt.Sprintf("gid=%s amount=%d", pay.Gid, amount))
	http.Redirect(w, r, Base+"/payments/"+pay.Gid+"?done="+action, http.StatusSeeOther)
}

// methodsPage shows the store's payment methods and their settings.
func (h *Handler) methodsPage(w http.ResponseWriter, r *http.Request, who *ui.Who) {
	set, err := h.DB.GetStoreMethods(r.Context(), who.Account.AID)
	if err != nil {
		h.unavailable(w, r, who, err)
		return
	}
	p := h.page(r, who, "methods", "決済方法", "Payment methods")
	if r.URL.Query().Get("done") == "1" {
		p.Flash = p.T("保存しました。", "Saved.")
	}
	h.renderMethods(w, p, set, http.StatusOK, nil)
}

type chainOpt struct {
	Code, Name string
	On         bool
}

func (h *Handler) renderMethods(w http.ResponseWriter, p *ui.Page, set *store.StoreMethods, status int, errs map[string]string) {
	var chains []chainOpt
	for _, c := range acquirer.Chains {
		chains = append(chains, chainOpt{Code: c.Code, Name: ui.L(p.Lang, c.NameJa, c.NameEn), On: len(set.Chains) == 0 || set.ChainEnabled(c.Code)})
	}
	if errs == nil {
		errs = map[string]string{}
	}
	p.Data = map[string]any{"S": set, "Card": set.Has(store.MethodCard), "CVS": set.Has(store.MethodCVS), "Bank": set.Has(store.MethodBank),
		"Chains": chains, "Errors": errs}
	h.pages.Render(w, status, "methods", p)
}

func (h *Handler) saveMethods(w http.ResponseWriter, r *http.Request, who *ui.Who) {
	p := h.page(r, who, "methods", "決済方法", "Payment methods")
	set := store.DefaultStoreMethods(who.Account.AID)
	set.Methods = nil
	for _, m := range ui.Methods {
		if r.PostFormValue("m_"+m) == "on" {
			set.Methods = append(set.Methods, m)
		}
	}
	all := true
	for _, c := range acquirer.Chains {
		if r.PostFormValue("cv_"+c.Code) == "on" {
			set.Chains = append(set.Chains, c.Code)
		} else {
			all = false
		}
	}
	if all {
		set.Chains = nil // every chain, including chains added later
	}
	errs := map[string]string{}
	day := func(name string, dst *int) {
		n, err := strconv.Atoi(strings.TrimSpace(r.PostFormValue(name)))
		if err != nil || n < 1 || n > 60 {
			errs[name] = p.T("1〜60の日数で入力してください。", "Enter a number of days, 1–60.")
			return
		}
		*dst = n
	}
	day("cvs_days", &set.CVSDays)
	day("bank_days", &set.BankDays)
	set.ExpiryNotice = r.PostFormValue("expiry_notice") == "on"
	set.HolidayHold = r.PostFormValue("holiday_hold") == "on"
	if len(set.Methods) == 0 {
		errs["methods"] = p.T("決済方法を1つ以上選んでください。", "Choose at least one payment method.")
	}
	if set.Has(store.MethodCVS) && len(set.Chains) == 0 && !all {
		errs["chains"] = p.T("コンビニを1つ以上選んでください。", "Choose at least one chain.")
	}
	if len(errs) > 0 {
		p.Error = p.T("入力内容を確認してください。", "Please check the highlighted fields.")
		h.renderMethods(w, p, set, http.StatusUnprocessableEntity, errs)
		return
	}
	if err := h.DB.PutStoreMethods(r.Context(), set); err != nil {
		h.unavailable(w, r, who, err)
		return
	}
	h.audit(r, who, "store.methods", "methods="+strings.Join(set.Methods, ",")+" chains="+strings.Join(set.Chains, ","))
	http.Redirect(w, r, Base+"/methods?done=1", http.StatusSeeOther)
}

// methodCharts renders the last 30 days' sales, one chart per payment method.
func (h *Handler) methodCharts(r *http.Request, p *ui.Page, aid string) ([]template.HTML, error) {
	_, end := dayBounds(h.Clock.Now())
	start := end.AddDate(0, 0, -30)
	days, err := h.DB.DailyTotalsByMethod(r.Context(), aid, start, end, ui.Tokyo)
	if err != nil {
		return nil, err
	}
	var out []template.HTML
	for _, m := range ui.Methods {
		var pts []ui.ChartPoint
		var any bool
		for _, d := range days {
			if d.Method != m {
				continue
			}
			any = any || d.Count > 0
			pts = append(pts, ui.ChartPoint{Label: d.Day.Format("1/2"), Value: d.Sales,
				Tip: fmt.Sprintf("%s %s: %s%s (%d)", ui.Word(p.Lang, "method."+m), d.Day.Format("2006-01-02"), ui.Yen(d.Sales), p.T("円", " JPY"), d.Count)})
		}
		if any {
			out = append(out, ui.BarChart(p.T("日別売上: ", "Daily sales: ")+ui.Word(p.Lang, "method."+m), pts))
		}
	}
	return out, nil
}
