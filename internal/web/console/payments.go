package console

import (
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/japanese"
	"golang.org/x/text/transform"

	"kessai/internal/maintenance"
	"kessai/internal/payment"
	"kessai/internal/store"
	"kessai/internal/web/ui"
	"kessai/internal/wire"
)

func urlQueryEscape(s string) string { return url.QueryEscape(s) }

// dayBounds returns the start of the day of t in Japan time and of the next day.
func dayBounds(t time.Time) (time.Time, time.Time) {
	l := t.In(ui.Tokyo)
	d := time.Date(l.Year(), l.Month(), l.Day(), 0, 0, 0, 0, ui.Tokyo)
	return d, d.AddDate(0, 0, 1)
}

func monthBounds(t time.Time) (time.Time, time.Time) {
	l := t.In(ui.Tokyo)
	m := time.Date(l.Year(), l.Month(), 1, 0, 0, 0, 0, ui.Tokyo)
	return m, m.AddDate(0, 1, 0)
}

type summary struct {
	Today, Month store.Totals
}

func (h *Handler) summary(r *http.Request, aid string) (summary, error) {
	now := h.Clock.Now()
	var s summary
	var err error
	d0, d1 := dayBounds(now)
	if s.Today, err = h.DB.PaymentTotals(r.Context(), aid, d0, d1); err != nil {
		return s, err
	}
	m0, m1 := monthBounds(now)
	s.Month, err = h.DB.PaymentTotals(r.Context(), aid, m0, m1)
	return s, err
}

func (h *Handler) dashboard(w http.ResponseWriter, r *http.Request, who *ui.Who) {
	p := h.page(r, who, "dashboard", "ダッシュボード", "Dashboard")
	aid := who.Account.AID
	sum, err := h.summary(r, aid)
	if err != nil {
		h.unavailable(w, r, who, err)
		return
	}
	_, end := dayBounds(h.Clock.Now())
	start := end.AddDate(0, 0, -30)
	days, err := h.DB.DailyTotals(r.Context(), aid, start, end, ui.Tokyo)
	if err != nil {
		h.unavailable(w, r, who, err)
		return
	}
	pts := make([]ui.ChartPoint, len(days))
	for i, d := range days {
		pts[i] = ui.ChartPoint{Label: d.Day.Format("1/2"), Value: d.Sales,
			Tip: fmt.Sprintf("%s: %s%s (%d)", d.Day.Format("2006-01-02"), ui.Yen(d.Sales), p.T("円", " JPY"), d.Count)}
	}
	recent, _, err := h.DB.SearchPayments(r.Context(), store.PaymentFilter{AID: aid, Limit: 10})
	if err != nil {
		h.unavailable(w, r, who, err)
		return
	}
	byMethod, err := h.methodCharts(r, p, aid)
	if err != nil {
		h.unavailable(w, r, who, err)
		return
	}
	p.Data = map[string]any{"Sum": sum, "Chart": ui.BarChart(p.T("過去30日間の日別売上", "Daily sales, last 30 days"), pts), "Recent": recent,
		"MethodCharts": byMethod}
	h.pages.Render(w, http.StatusOK, "dashboard", p)
}

func (h *Handler) unavailable(w http.ResponseWriter, r *http.Request, who *ui.Who, err error) {
	h.Log.Error("console", "path", r.URL.Path, "err", err)
	h.fail(w, r, who, http.StatusServiceUnavailable, "一時的に利用できません。しばらくしてからお試しください。", "Temporarily unavailable; please try again shortly.")
}

// filterForm is the search form as typed; its URL is the filtered view's address.
type filterForm struct {
	From, To, Status, Cod, Gid, Amount, Last4, Em string
	Method, No                                    string // payment method; slip number or bank reference
}

func (f filterForm) values() url.Values {
	v := url.Values{}
	for k, s := range map[string]string{"from": f.From, "to": f.To, "status": f.Status, "cod": f.Cod, "gid": f.Gid,
		"amount": f.Amount, "last4": f.Last4, "em": f.Em, "method": f.Method, "no": f.No} {
		if s != "" {
			v.Set(k, s)
		}
	}
	return v
}

var (
	digitsRe = regexp.MustCompile(`^[0-9]+$`)
	last4Re  = regexp.MustCompile(`^[0-9]{4}$`)
)

// parseFilter reads the query into a store filter bound to aid; problems are reported, and the
// offending field ignored, rather than failing the whole page.
func parseFilter(q url.Values, aid, lang string) (filterForm, store.PaymentFilter, []string) {
	g := func(k string) string { return strings.TrimSpace(q.Get(k)) }
	ff := filterForm{From: g("from"), To: g("to"), Status: g("status"), Cod: g("cod"), Gid: g("gid"), Amount: g("amount"),
		Last4: g("last4"), Em: g("em"), Method: g("method"), No: g("no")}
	f := store.PaymentFilter{AID: aid, Cod: ff.Cod, Em: ff.Em}
	var probs []string
	if ff.From != "" {
		if t, err := time.ParseInLocation("2006-01-02", ff.From, ui.Tokyo); err == nil {
			f.From = t
		} else {
			probs = append(probs, ui.L(lang, "開始日の形式が正しくありません（YYYY-MM-DD）", "Bad from date (YYYY-MM-DD)"))
		}
	}
	if ff.To != "" {
		if t, err := time.ParseInLocation("2006-01-02", ff.To, ui.Tokyo); err == nil {
			f.To = t.AddDate(0, 0, 1) // the end date is included
		} else {
			probs = append(probs, ui.L(lang, "終了日の形式が正しくありません（YYYY-MM-DD）", "Bad to date (YYYY-MM-DD)"))
		}
	}
	if !f.From.IsZero() && !f.To.IsZero() && !f.From.Before(f.To) {
		// a from date after the to date finds nothing: say so rather than show an empty list
		probs = append(probs, ui.L(lang, "開始日が終了日より後になっています。期間を確認してください", "The from date is after the to date; check the range"))
		f.From, f.To = f.To.AddDate(0, 0, -1), f.From.AddDate(0, 0, 1) // and search the range meant
	}
	if ff.Status != "" {
		ok := false
		for _, s := range ui.Statuses {
			if s == ff.Status {
				ok = true
			}
		}
		if ok {
			f.Status = ff.Status
		} else {
			probs = append(probs, ui.L(lang, "状態の指定が正しくありません", "Unknown status"))
		}
	}
	if ff.Gid != "" {
		if digitsRe.MatchString(ff.Gid) && len(ff.Gid) <= 32 {
			f.Gid = ff.Gid
		} else {
			f.Gid = "-" // matches nothing, as a number that cannot exist
			probs = append(probs, ui.L(lang, "決済番号は数字で入力してください", "The payment number is digits only"))
		}
	}
	if ff.Amount != "" {
		if n, err := strconv.ParseInt(strings.ReplaceAll(ff.Amount, ",", ""), 10, 64); err == nil && n > 0 {
			f.Amount = n
		} else {
			probs = append(probs, ui.L(lang, "金額は正の整数で入力してください", "The amount must be a positive whole number"))
		}
	}
	if ff.Last4 != "" {
		if last4Re.MatchString(ff.Last4) {
			f.Last4 = ff.Last4
		} else {
			probs = append(probs, ui.L(lang, "カード番号下4桁は4桁の数字です", "Last 4 digits must be 4 digits"))
		}
	}
	probs = append(probs, parseMethodFilter(&ff, &f, lang)...)
	return ff, f, probs
}

const pageSize = 50

func (h *Handler) payments(w http.ResponseWriter, r *http.Request, who *ui.Who) {
	p := h.page(r, who, "payments", "決済一覧", "Payments")
	q := r.URL.Query()
	ff, f, probs := parseFilter(q, who.Account.AID, p.Lang)
	page, _ := strconv.Atoi(q.Get("page"))
	if page < 1 {
		page = 1
	}
	f.Limit, f.Offset = pageSize, (page-1)*pageSize
	list, total, err := h.DB.SearchPayments(r.Context(), f)
	if err != nil {
		h.unavailable(w, r, who, err)
		return
	}
	if len(probs) > 0 {
		p.Error = strings.Join(probs, " / ")
	}
	v := ff.values()
	pageURL := func(n int) string {
		vv := url.Values{}
		for k, x := range v {
			vv[k] = x
		}
		if n > 1 {
			vv.Set("page", strconv.Itoa(n))
		}
		if len(vv) == 0 {
			return Base + "/payments"
		}
		return Base + "/payments?" + vv.Encode()
	}
	d := map[string]any{"F": ff, "List": list, "Total": total, "Page": page, "Statuses": ui.Statuses, "Methods": ui.Methods,
		"From": f.Offset + 1, "To": f.Offset + len(list)}
	if page > 1 {
		d["Prev"] = pageURL(page - 1)
	}
	if f.Offset+len(list) < total {
		d["Next"] = pageURL(page + 1)
	}
	csvq := url.Values{}
	for k, x := range v {
		csvq[k] = x
	}
	d["CSV"] = Base + "/payments.csv?" + csvq.Encode()
	csvq.Set("enc", "sjis")
	d["CSVSJIS"] = Base + "/payments.csv?" + csvq.Encode()
	p.Data = d
	h.pages.Render(w, http.StatusOK, "payments", p)
}

// kbView is a kickback with its delivery attempts.
type kbView struct {
	*store.Kickback
	Tries []store.Attempt
}

func (h *Handler) kickbacksWithAttempts(r *http.Request, aid, gid string, limit int) ([]kbView, error) {
	ks, err := h.DB.KickbacksOf(r.Context(), aid, gid, limit)
	if err != nil {
		return nil, err
	}
	out := make([]kbView, 0, len(ks))
	for _, k := range ks {
		as, err := h.DB.Attempts(r.Context(), k.ID)
		if err != nil {
			return nil, err
		}
		out = append(out, kbView{Kickback: k, Tries: as})
	}
	return out, nil
}

// loadPayment reads a payment of the signed-in store; another store's payment is simply not found.
func (h *Handler) loadPayment(r *http.Request, who *ui.Who) (*store.Payment, error) {
	gid := r.PathValue("gid")
	if !digitsRe.MatchString(gid) || len(gid) > 32 {
		return nil, store.ErrNotFound
	}
	return h.DB.GetPayment(r.Context(), who.Account.AID, gid)
}

func (h *Handler) payment(w http.ResponseWriter, r *http.Request, who *ui.Who) {
	pay, err := h.loadPayment(r, who)
	if errors.Is(err, store.ErrNotFound) {
		h.fail(w, r, who, http.StatusNotFound, "この決済は見つかりません。", "No such payment.")
		return
	}
	if err != nil {
		h.unavailable(w, r, who, err)
		return
	}
	h.renderPayment(w, r, who, pay, http.StatusOK, "")
}

func (h *Handler) renderPayment(w http.ResponseWriter, r *http.Request, who *ui.Who, pay *store.Payment, status int, errMsg string) {
	p := h.page(r, who, "payments", "決済詳細", "Payment")
	events, err := h.DB.Events(r.Context(), pay.Gid)
	if err != nil {
		h.unavailable(w, r, who, err)
		return
	}
	kbs, err := h.kickbacksWithAttempts(r, who.Account.AID, pay.Gid, 50)
	if err != nil {
		h.unavailable(w, r, who, err)
		return
	}
	switch r.URL.Query().Get("done") {
	case "sales":
		p.Flash = p.T("売上を確定しました。", "The payment was captured.")
	case "cancel":
		p.Flash = p.T("取消（返金）しました。", "The payment was cancelled.")
	case "refund":
		p.Flash = p.T("一部返金しました。", "The partial refund was made.")
	case "resend":
		p.Flash = p.T("結果通知を再送信します。", "The kickback will be sent again.")
	}
	tds, err := h.DB.PaymentTDS(r.Context(), who.Account.AID, pay.Gid)
	if err != nil {
		h.unavailable(w, r, who, err)
		return
	}
	proc, err := h.DB.ProcessorCode(r.Context(), pay.Gid) // the processor's own code (Stripe's decline reason)
	if err != nil {
		h.unavailable(w, r, who, err)
		return
	}
	p.Error = errMsg
	slip, err := h.slipData(r, pay)
	if err != nil {
		h.unavailable(w, r, who, err)
		return
	}
	p.Data = map[string]any{"P": pay, "Events": events, "Kickbacks": kbs, "FromPayment": true, "Slip": slip, "TDS": tdsLabel(tds), "Processor": proc,
		"CanSales":  pay.Status == store.StatusAuthorized,
		"CanCancel": pay.Status == store.StatusAuthorized || pay.Status == store.StatusCaptured || pay.Status == store.StatusPartiallyRefunded,
		"CanRefund": pay.Status == store.StatusCaptured || pay.Status == store.StatusPartiallyRefunded,
		"Rest":      pay.Captured - pay.Refunded}
	h.pages.Render(w, status, "payment", p)
}

// paymentAction runs SALES, CANCEL or a partial refund after a confirmation step: the first POST
// shows what will happen, the second (confirm=yes) does it.
func (h *Handler) paymentAction(w http.ResponseWriter, r *http.Request, who *ui.Who) {
	action := r.PathValue("action")
	var op maintenance.Op
	switch action {
	case "sales":
		op = maintenance.OpSales
	case "cancel", "refund":
		op = maintenance.OpCancel
	default:
		h.notFound(w, r)
		return
	}
	pay, err := h.loadPayment(r, who)
	if errors.Is(err, store.ErrNotFound) {
		h.fail(w, r, who, http.StatusNotFound, "この決済は見つかりません。", "No such payment.")
		return
	}
	if err != nil {
		h.unavailable(w, r, who, err)
		return
	}
	lang := ui.Lang(r, who.Session)
	var amount int64
	if s := strings.ReplaceAll(strings.TrimSpace(r.PostFormValue("amount")), ",", ""); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n <= 0 {
			h.renderPayment(w, r, who, pay, http.StatusUnprocessableEntity, ui.L(lang, "金額は正の整数で入力してください。", "The amount must be a positive whole number."))
			return
		}
		amount = n
	}
	if action == "refund" && amount == 0 {
		h.renderPayment(w, r, who, pay, http.StatusUnprocessableEntity, ui.L(lang, "返金額を入力してください。", "Enter the amount to refund."))
		return
	}
	// checked before the confirmation page, saying what is possible (issue 15 item 10)
	rest := pay.Captured - pay.Refunded
	switch {
	case action == "refund" && pay.Status != store.StatusCaptured && pay.Status != store.StatusPartiallyRefunded:
		h.renderPayment(w, r, who, pay, http.StatusUnprocessableEntity, ui.L(lang, "この決済は売上確定されていないため返金できません（仮売上は「取消」を使ってください）。",
			"This payment is not captured, so it cannot be refunded (cancel an authorization instead)."))
		return
	case action == "refund" && amount > rest:
		h.renderPayment(w, r, who, pay, http.StatusUnprocessableEntity, ui.L(lang,
			fmt.Sprintf("返金できるのは %s 円までです（売上 %s 円、返金済み %s 円）。", ui.Yen(rest), ui.Yen(pay.Captured), ui.Yen(pay.Refunded)),
			fmt.Sprintf("At most ¥%s can be refunded (captured ¥%s, already refunded ¥%s).", ui.Yen(rest), ui.Yen(pay.Captured), ui.Yen(pay.Refunded))))
		return
	case action == "sales" && pay.Status != store.StatusAuthorized:
		h.renderPayment(w, r, who, pay, http.StatusUnprocessableEntity, ui.L(lang, "仮売上の決済だけが売上確定できます。", "Only an authorization can be captured."))
		return
	case action == "sales" && amount > pay.Ta:
		h.renderPayment(w, r, who, pay, http.StatusUnprocessableEntity, ui.L(lang,
			fmt.Sprintf("売上確定できるのは仮売上額の %s 円までです。", ui.Yen(pay.Ta)), fmt.Sprintf("At most the authorized ¥%s can be captured.", ui.Yen(pay.Ta))))
		return
	}
	if r.PostFormValue("confirm") != "yes" {
		p := h.page(r, who, "payments", "操作の確認", "Confirm")
		shown := amount
		if shown == 0 {
			shown = pay.Ta
			if action == "cancel" && pay.Status != store.StatusAuthorized {
				shown = pay.Captured - pay.Refunded
			}
		}
		p.Data = map[string]any{"P": pay, "Action": action, "Amount": amount, "Shown": shown}
		h.pages.Render(w, http.StatusOK, "confirm", p)
		return
	}
	now := h.Clock.Now()
	if win := h.Gate(now, op, pay.Brand, r); win != nil {
		h.renderPayment(w, r, who, pay, http.StatusServiceUnavailable, ui.L(lang,
			"メンテナンス中のため実行できません（ER999）: "+ui.Span(*win, lang), "Refused during maintenance (ER999): "+ui.Span(*win, lang)))
		return
	}
	st, err := h.store(r, who)
	if err != nil {
		h.unavailable(w, r, who, err)
		return
	}
	actor := who.Account.Actor()
	switch action {
	case "sales":
		_, err = h.Pay.Sales(r.Context(), st, pay.Gid, amount, actor)
	case "cancel":
		_, err = h.Pay.Cancel(r.Context(), st, pay.Gid, actor)
	case "refund":
		_, err = h.Pay.Refund(r.Context(), st, pay.Gid, amount, actor)
	}
	if err != nil {
		code := payment.CodeOf(err)
		h.audit(r, who, "payment."+action+".refused", fmt.Sprintf("gid=%s amount=%d code=%s", pay.Gid, amount, code))
		h.renderPayment(w, r, who, pay, http.StatusConflict, ui.L(lang, "実行できませんでした", "Refused")+" ("+code+"): "+actionError(code, lang))
		return
	}
	h.audit(r, who, "payment."+action, fmt.Sprintf("gid=%s amount=%d", pay.Gid, amount))
	http.Redirect(w, r, Base+"/payments/"+pay.Gid+"?done="+action, http.StatusSeeOther)
}

func actionError(code, lang string) string {
	switch code {
	case "ER032":
		return ui.L(lang, "仮売上の状態ではないか、金額が仮売上額を超えています。", "The payment is not authorized, or the amount exceeds the authorized amount.")
	case "ER033":
		return ui.L(lang, "この状態では取消・返金できないか、金額が返金可能額を超えています。", "It cannot be cancelled in this state, or the amount exceeds what can be refunded.")
	case "ER042":
		return ui.L(lang, "カード会社との通信に失敗しました。時間をおいてお試しください。", "The card network did not answer; please try again later.")
	case "ER053":
		return ui.L(lang, "決済が見つかりません。", "No such payment.")
	}
	return ui.L(lang, "処理できませんでした。時間をおいてお試しください。", "It could not be processed; please try again later.")
}

// paymentsCSV streams the filtered set as CSV, UTF-8 (with BOM) or Shift_JIS for Excel. Cards
// appear only masked, from the stored first six and last four digits.
func (h *Handler) paymentsCSV(w http.ResponseWriter, r *http.Request, who *ui.Who) {
	lang := ui.Lang(r, who.Session)
	_, f, probs := parseFilter(r.URL.Query(), who.Account.AID, lang)
	if len(probs) > 0 {
		h.fail(w, r, who, http.StatusBadRequest, "検索条件が正しくありません: "+strings.Join(probs, " / "), "Bad search: "+strings.Join(probs, " / "))
		return
	}
	sjis := strings.EqualFold(r.URL.Query().Get("enc"), "sjis") || strings.EqualFold(r.URL.Query().Get("enc"), "shift_jis")
	name := "payments-" + who.Account.AID + "-" + h.Clock.Now().In(ui.Tokyo).Format("20060102-1504")
	if sjis {
		w.Header().Set("Content-Type", "text/csv; charset=Shift_JIS")
		name += "-sjis"
	} else {
		w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	}
	w.Header().Set("Content-Disposition", `attachment; filename="`+name+`.csv"`)
	w.Header().Set("Cache-Control", "no-store")
	cw, closeCSV := exportWriter(w, sjis)
	defer closeCSV()
	cw.Write(csvHeader(lang))
	n := 0
	err := h.DB.StreamPayments(r.Context(), f, func(p *store.Payment) error {
		cw.Write(csvRecord(p, lang))
		n++
		if n%500 == 0 {
			cw.Flush()
			if fl, ok := w.(http.Flusher); ok {
				fl.Flush()
			}
		}
		return cw.Error()
	})
	cw.Flush()
	if err != nil {
		h.Log.Error("csv export", "err", err)
	}
	h.audit(r, who, "payments.export", fmt.Sprintf("rows=%d sjis=%v query=%s", n, sjis, r.URL.RawQuery))
}

// exportWriter is the payments export's CSV writer over out (CRLF rows): UTF-8 with a BOM so
// Excel recognises it, or Shift_JIS with characters it lacks written as '?'. closeCSV flushes it.
func exportWriter(out io.Writer, sjis bool) (*csv.Writer, func() error) {
	closeOut := func() error { return nil }
	if sjis {
		tw := transform.NewWriter(out, encoding.ReplaceUnsupported(japanese.ShiftJIS.NewEncoder()))
		out, closeOut = tw, tw.Close
	} else {
		io.WriteString(out, "\ufeff")
	}
	cw := csv.NewWriter(out)
	cw.UseCRLF = true
	return cw, func() error { cw.Flush(); return closeOut() }
}

func csvHeader(lang string) []string {
	return []string{
		ui.L(lang, "決済番号", "gid"), ui.L(lang, "オーダー番号", "cod"), ui.L(lang, "状態", "status"), ui.L(lang, "処理区分", "job"),
		ui.L(lang, "結果", "rst"), ui.L(lang, "エラーコード", "ec"), ui.L(lang, "承認番号", "ap"),
		ui.L(lang, "金額", "am"), ui.L(lang, "税", "tx"), ui.L(lang, "送料", "sf"), ui.L(lang, "合計", "ta"),
		ui.L(lang, "売上額", "captured"), ui.L(lang, "返金額", "refunded"), ui.L(lang, "カード番号", "card"), ui.L(lang, "ブランド", "brand"),
		ui.L(lang, "メールアドレス", "em"), ui.L(lang, "電話番号", "pn"), ui.L(lang, "決済日時", "created_at"),
		ui.L(lang, "決済方法", "method"), ui.L(lang, "自由項目", "free parameters"),
	}
}

// csvRecord is one payment's export row: the card masked, merchant- and customer-supplied text
// defused (csvSafe).
//
// Identifiers made of digits (payment numbers, order numbers, approval codes, phone numbers) are
// written as Excel text formulas (="0312345678"), so Excel neither rounds a 16–19-digit number nor
// drops a leading 0 (issue 15 item 9); the free parameters come last, as name=value pairs.
func csvRecord(p *store.Payment, lang string) []string {
	return []string{excelText(p.Gid), excelText(csvSafe(p.Cod)), ui.Word(lang, "status."+p.Status), p.Job, p.Rst, p.Ec, excelText(p.Ap),
		strconv.FormatInt(p.Am, 10), strconv.FormatInt(p.Tx, 10), strconv.FormatInt(p.Sf, 10), strconv.FormatInt(p.Ta, 10),
		strconv.FormatInt(p.Captured, 10), strconv.FormatInt(p.Refunded, 10), ui.MaskCard(p.First6, p.Last4), p.Brand,
		csvSafe(p.Em), excelText(csvSafe(p.Pn)), ui.FormatTime(p.CreatedAt), ui.Word(lang, "method."+p.Method), csvSafe(freeText(p.Free))}
}

// excelText writes a value Excel would read as a number — digits, optionally after '+' — as a text
// formula ="…", which keeps every digit and a leading 0 and 0 or + as typed. The value is digits
// only, so the formula can compute nothing else; any other value is returned as is.
func excelText(s string) string {
	d := strings.TrimPrefix(s, "+")
	if d == "" {
		return s
	}
	for i := 0; i < len(d); i++ {
		if d[i] < '0' || d[i] > '9' {
			return s
		}
	}
	return `="` + s + `"`
}

// freeText is a payment's free parameters as "name=value" pairs separated by "; ", decoded.
func freeText(enc string) string {
	kv, err := wire.DecodeFree(wire.DropResultFields(enc))
	if err != nil {
		return ""
	}
	parts := make([]string, 0, len(kv))
	for _, p := range kv {
		parts = append(parts, p.K+"="+p.V)
	}
	return strings.Join(parts, "; ")
}

// csvSafe defuses spreadsheet formulas in merchant- or customer-supplied text (CSV injection).
func csvSafe(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}

// apiSummary is the JSON form of the dashboard's figures (for the merchant's own monitoring).
func (h *Handler) apiSummary(w http.ResponseWriter, r *http.Request) {
	who, err := h.guard.Current(r)
	if err != nil {
		ui.WriteProblem(w, ui.Problem{Type: "about:blank", Title: "Service unavailable", Status: 503, Code: "ER000"})
		return
	}
	if who == nil {
		ui.WriteProblem(w, ui.Problem{Type: "about:blank", Title: "Sign in required", Status: 401, Code: "unauthorized", Instance: r.URL.Path})
		return
	}
	sum, err := h.summary(r, who.Account.AID)
	if err != nil {
		ui.WriteProblem(w, ui.Problem{Type: "about:blank", Title: "Service unavailable", Status: 503, Code: "ER000"})
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	json.NewEncoder(w).Encode(map[string]any{"aid": who.Account.AID,
		"today": map[string]int64{"count": int64(sum.Today.Count), "sales": sum.Today.Sales},
		"month": map[string]int64{"count": int64(sum.Month.Count), "sales": sum.Month.Sales}})
}

// tdsLabel names a payment's 3-D Secure result (store.TDS…) for the detail page, Japanese and
// English.
func tdsLabel(result string) [2]string {
	switch result {
	case store.TDSFrictionless:
		return [2]string{"認証済み（フリクションレス）", "Authenticated (frictionless)"}
	case store.TDSChallenged:
		return [2]string{"認証済み（チャレンジ）", "Authenticated (challenge)"}
	case store.TDSAttempted:
		return [2]string{"認証試行（アテンプト）", "Attempted"}
	case store.TDSFailed:
		return [2]string{"認証失敗", "Failed"}
	}
	return [2]string{"なし", "None"}
}
