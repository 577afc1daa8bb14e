package console

import (
	"errors"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"

	"kessai/internal/autocharge"
	"kessai/internal/maintenance"
	"kessai/internal/store"
	"kessai/internal/web/ui"
	"kessai/internal/wire"
)

// acStatuses lists the auto-charge statuses in the order the filter offers them.
var acStatuses = []string{store.ACActive, store.ACStopped, store.ACFailed, store.ACCompleted}

var acidRe = regexp.MustCompile(`^[A-Za-z0-9_-]{1,32}$`)

// acView is a plan as the pages show it; the words are already in the page's language.
type acView struct {
	*store.AutoCharge
	Cycle    string // actp in words
	Day      string // ac1 in words
	Total    int64  // acam + actx + acsf
	NextDate string // YYYY/MM/DD of the next charge; "" when the plan no longer charges
	NextAm   int64  // what the next charge will be (the trial-end amounts on the trial's end)
	Card     string // first6******last4, "" when the card is not found
	Brand    string
	EndDate  string // ac5, YYYY/MM/DD
}

func (h *Handler) acView(r *http.Request, lang string, a *store.AutoCharge) acView {
	v := acView{AutoCharge: a, Cycle: autocharge.Cycle(a.Cycle).Name(lang), Total: a.Am + a.Tx + a.Sf}
	switch {
	case a.Day == 99:
		v.Day = ui.L(lang, "末日", "last day")
	case a.Day > 0:
		v.Day = ui.L(lang, strconv.Itoa(a.Day)+"日", "day "+strconv.Itoa(a.Day))
	}
	if a.Status == store.ACActive {
		if d, ok := autocharge.ParseDate(a.NextDate); ok {
			v.NextDate = ui.FormatDay(d.Slash())
		}
		am, tx, sf := autocharge.Amounts(a, a.NextDate)
		v.NextAm = am + tx + sf
	}
	if t := autocharge.DecodeTerms(a.Terms); !t.End.IsZero() {
		v.EndDate = ui.FormatDay(t.End.Slash())
	}
	if a.CardID != 0 {
		if c, err := h.DB.GetCard(r.Context(), a.AID, a.CardID); err == nil {
			v.Card, v.Brand = ui.MaskCard(c.First6, c.Last4), c.Brand
		}
	}
	return v
}

// runView is a charge attempt with its period as YYYY/MM/DD.
type runView struct {
	store.ACRun
	Date string
}

// autoCharges lists the store's plans, newest first, filtered by status and paged like payments.
func (h *Handler) autoCharges(w http.ResponseWriter, r *http.Request, who *ui.Who) {
	p := h.page(r, who, "autocharges", "自動課金", "Auto-charges")
	q := r.URL.Query()
	status := strings.TrimSpace(q.Get("status"))
	filter := status
	if status != "" {
		ok := false
		for _, s := range acStatuses {
			ok = ok || s == status
		}
		if !ok {
			filter = ""
			p.Error = p.T("状態の指定が正しくありません", "Unknown status")
		}
	}
	page, _ := strconv.Atoi(q.Get("page"))
	if page < 1 {
		page = 1
	}
	offset := (page - 1) * pageSize
	// One more than a page tells whether there is a next one.
	list, err := h.DB.ListAutoCharges(r.Context(), store.AutoChargeFilter{AID: who.Account.AID, Status: filter, Limit: pageSize + 1, Offset: offset})
	if err != nil {
		h.unavailable(w, r, who, err)
		return
	}
	more := len(list) > pageSize
	if more {
		list = list[:pageSize]
	}
	views := make([]acView, len(list))
	for i, a := range list {
		views[i] = h.acView(r, p.Lang, a)
	}
	pageURL := func(n int) string {
		v := url.Values{}
		if filter != "" {
			v.Set("status", filter)
		}
		if n > 1 {
			v.Set("page", strconv.Itoa(n))
		}
		if len(v) == 0 {
			return Base + "/autocharges"
		}
		return Base + "/autocharges?" + v.Encode()
	}
	d := map[string]any{"Status": filter, "Statuses": acStatuses, "List": views, "Page": page,
		"From": offset + 1, "To": offset + len(views)}
	if page > 1 {
		d["Prev"] = pageURL(page - 1)
	}
	if more {
		d["Next"] = pageURL(page + 1)
	}
	p.Data = d
	h.pages.Render(w, http.StatusOK, "autocharges", p)
}

// loadAutoCharge reads a plan of the signed-in store; another store's plan is simply not found.
func (h *Handler) loadAutoCharge(r *http.Request, who *ui.Who) (*store.AutoCharge, error) {
	acid := r.PathValue("acid")
	if !acidRe.MatchString(acid) {
		return nil, store.ErrNotFound
	}
	return h.DB.GetAutoCharge(r.Context(), who.Account.AID, acid)
}

func (h *Handler) autoCharge(w http.ResponseWriter, r *http.Request, who *ui.Who) {
	a, err := h.loadAutoCharge(r, who)
	if errors.Is(err, store.ErrNotFound) {
		h.fail(w, r, who, http.StatusNotFound, "この自動課金は見つかりません。", "No such auto-charge.")
		return
	}
	if err != nil {
		h.unavailable(w, r, who, err)
		return
	}
	h.renderAutoCharge(w, r, who, a, http.StatusOK, "")
}

func (h *Handler) renderAutoCharge(w http.ResponseWriter, r *http.Request, who *ui.Who, a *store.AutoCharge, status int, errMsg string) {
	p := h.page(r, who, "autocharges", "自動課金詳細", "Auto-charge")
	rs, err := h.AC.Runs(r.Context(), a.Acid)
	if err != nil {
		h.unavailable(w, r, who, err)
		return
	}
	runs := make([]runView, len(rs))
	for i, x := range rs {
		runs[i] = runView{ACRun: x, Date: x.Period}
		if d, ok := autocharge.ParseDate(x.Period); ok {
			runs[i].Date = ui.FormatDay(d.Slash())
		}
	}
	if r.URL.Query().Get("done") == "stop" {
		p.Flash = p.T("自動課金を停止しました。以降の課金は行われません。", "The auto-charge was stopped; nothing more will be charged.")
		if st, err := h.store(r, who); err == nil && st.ACResultURL != "" {
			if st.StopNotice == "next" {
				p.Flash += p.T("停止の結果通知（rst=4）は次回課金予定日時に送信されます。", " The stop notice (rst=4) will be sent when the next charge would have been due.")
			} else {
				p.Flash += p.T("停止の結果通知（rst=4）を送信します。", " The stop notice (rst=4) is being sent.")
			}
		}
	}
	p.Error = errMsg
	p.Data = map[string]any{"A": h.acView(r, p.Lang, a), "Runs": runs, "CanStop": a.Status == store.ACActive}
	h.pages.Render(w, status, "autocharge", p)
}

// stopAutoCharge stops a plan after a confirmation step: the first POST shows what will happen,
// the second (confirm=yes) does it. The rst=4 notice follows the store's stop-notice timing.
func (h *Handler) stopAutoCharge(w http.ResponseWriter, r *http.Request, who *ui.Who) {
	a, err := h.loadAutoCharge(r, who)
	if errors.Is(err, store.ErrNotFound) {
		h.fail(w, r, who, http.StatusNotFound, "この自動課金は見つかりません。", "No such auto-charge.")
		return
	}
	if err != nil {
		h.unavailable(w, r, who, err)
		return
	}
	lang := ui.Lang(r, who.Session)
	if a.Status != store.ACActive {
		h.renderAutoCharge(w, r, who, a, http.StatusConflict, acStopError(string(wire.ERAlreadyStopped), lang))
		return
	}
	if r.PostFormValue("confirm") != "yes" {
		p := h.page(r, who, "autocharges", "操作の確認", "Confirm")
		p.Data = map[string]any{"A": h.acView(r, p.Lang, a)}
		h.pages.Render(w, http.StatusOK, "acconfirm", p)
		return
	}
	now := h.Clock.Now()
	if win := h.Gate(now, maintenance.OpAutoCharge, maintenance.EveryBrand, r); win != nil {
		h.renderAutoCharge(w, r, who, a, http.StatusServiceUnavailable, ui.L(lang,
			"メンテナンス中のため実行できません（ER999）: "+ui.Span(*win, lang), "Refused during maintenance (ER999): "+ui.Span(*win, lang)))
		return
	}
	st, err := h.store(r, who)
	if err != nil {
		h.unavailable(w, r, who, err)
		return
	}
	if err := h.AC.Stop(r.Context(), st, a.Acid, "console:"+who.Account.Login); err != nil {
		code := string(wire.CodeOf(err))
		h.audit(r, who, "autocharge.stop.refused", "acid="+a.Acid+" code="+code)
		switch code {
		case string(wire.ERParamACID):
			h.fail(w, r, who, http.StatusNotFound, "この自動課金は見つかりません。", "No such auto-charge.")
			return
		case string(wire.ERInternal):
			h.Log.Error("console auto-charge stop", "acid", a.Acid, "err", err)
		}
		if cur, err := h.DB.GetAutoCharge(r.Context(), who.Account.AID, a.Acid); err == nil {
			a = cur
		}
		h.renderAutoCharge(w, r, who, a, http.StatusConflict, ui.L(lang, "実行できませんでした", "Refused")+" ("+code+"): "+acStopError(code, lang))
		return
	}
	// The service writes its own entry (actor console:<login>) with the stop; this one adds the
	// user and the address the request came from, as every console action does.
	h.audit(r, who, "autocharge.stop.console", "acid="+a.Acid)
	http.Redirect(w, r, Base+"/autocharges/"+a.Acid+"?done=stop", http.StatusSeeOther)
}

func acStopError(code, lang string) string {
	if code == string(wire.ERAlreadyStopped) {
		return ui.L(lang, "この自動課金は既に停止しています（停止済み・ER024）。", "This auto-charge has already stopped (ER024).")
	}
	return ui.L(lang, "処理できませんでした。時間をおいてお試しください。", "It could not be processed; please try again later.")
}
