package operator

import (
	"bytes"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"kessai/internal/maintenance"
	"kessai/internal/schedule"
	"kessai/internal/web/ui"
)

// windowView is a window as the console lists it.
type windowView struct {
	maintenance.Window
	Span    string
	State   string // status as seen now
	Date    string // local start date, for the move form
	From    string
	To      string
	Scope   string
	IsLive  bool // active now
	Changed bool // revision > 0
}

func (h *Handler) windowViews(ws []maintenance.Window, now time.Time, lang string) []windowView {
	out := make([]windowView, 0, len(ws))
	for _, w := range ws {
		loc := w.Location()
		out = append(out, windowView{Window: w, Span: ui.Span(w, lang), State: w.StatusAt(now), Date: w.Start.In(loc).Format("2006-01-02"),
			From: w.Start.In(loc).Format("15:04"), To: w.End.In(loc).Format("15:04"), Scope: ui.ScopeText(w.Scope, lang),
			IsLive: w.Active(now), Changed: w.Revision > 0})
	}
	return out
}

// calDay is one cell of a month grid.
type calDay struct {
	Day   int
	Class string
	Title string
}

type calMonth struct {
	Name  string
	Weeks [][]calDay
}

// calendar lays out year as 12 month grids (weeks from Sunday), marking holidays and windows by
// their local start date.
func calendar(year int, ws []maintenance.Window, now time.Time, lang string) []calMonth {
	type mark struct{ class, title string }
	marks := map[string][]mark{}
	for _, w := range ws {
		d := w.Start.In(w.Location())
		if d.Year() != year {
			continue
		}
		k := d.Format("2006-01-02")
		cls := "win " + w.StatusAt(now) + " " + w.Kind
		marks[k] = append(marks[k], mark{cls, "#" + strconv.FormatInt(w.ID, 10) + " " + ui.Span(w, lang) + " (" + ui.Word(lang, "wstatus."+w.StatusAt(now)) + ")"})
	}
	var out []calMonth
	for m := time.January; m <= time.December; m++ {
		first := time.Date(year, m, 1, 12, 0, 0, 0, ui.Tokyo)
		cm := calMonth{Name: ui.L(lang, fmt.Sprintf("%d年%d月", year, int(m)), first.Format("January 2006"))}
		week := make([]calDay, 7)
		for i := range week {
			week[i] = calDay{}
		}
		for d := first; d.Month() == m; d = d.AddDate(0, 0, 1) {
			wd := int(d.Weekday())
			cd := calDay{Day: d.Day()}
			var cls []string
			switch wd {
			case 0:
				cls = append(cls, "sun")
			case 6:
				cls = append(cls, "sat")
			}
			var titles []string
			if name, ok := maintenance.JapaneseHoliday(d); ok {
				cls = append(cls, "hol")
				titles = append(titles, name)
			}
			for _, mk := range marks[d.Format("2006-01-02")] {
				cls = append(cls, mk.class)
				titles = append(titles, mk.title)
			}
			cd.Class, cd.Title = strings.Join(cls, " "), strings.Join(titles, " / ")
			week[wd] = cd
			if wd == 6 {
				cm.Weeks = append(cm.Weeks, week)
				week = make([]calDay, 7)
			}
		}
		if week[0].Day != 0 || hasDay(week) {
			cm.Weeks = append(cm.Weeks, week)
		}
		out = append(out, cm)
	}
	return out
}

func hasDay(w []calDay) bool {
	for _, d := range w {
		if d.Day != 0 {
			return true
		}
	}
	return false
}

func (h *Handler) yearOf(r *http.Request) int {
	y, err := strconv.Atoi(r.FormValue("year"))
	if err != nil || y < 2000 || y > 2100 {
		return h.Clock.Now().In(ui.Tokyo).Year()
	}
	return y
}

func (h *Handler) maintenance(w http.ResponseWriter, r *http.Request, who *ui.Who) {
	h.renderMaintenance(w, r, who, http.StatusOK, "", nil)
}

func (h *Handler) renderMaintenance(w http.ResponseWriter, r *http.Request, who *ui.Who, status int, errMsg string, draft []maintenance.Window) {
	p := h.page(r, who, "maintenance", "メンテナンス", "Maintenance")
	year := h.yearOf(r)
	now := h.Clock.Now()
	all, err := h.DB.Windows(r.Context())
	if err != nil {
		h.unavailable(w, r, who, err)
		return
	}
	var inYear []maintenance.Window
	planned := 0
	for _, x := range all {
		if x.Start.In(x.Location()).Year() == year {
			inYear = append(inYear, x)
			if x.Status == maintenance.StatusPlanned {
				planned++
			}
		}
	}
	changes, err := h.DB.Changes(r.Context())
	if err != nil {
		h.unavailable(w, r, who, err)
		return
	}
	if len(changes) > 30 {
		changes = changes[len(changes)-30:]
	}
	for i, j := 0, len(changes)-1; i < j; i, j = i+1, j-1 {
		changes[i], changes[j] = changes[j], changes[i]
	}
	if d := r.URL.Query().Get("done"); d != "" {
		p.Flash = map[string]string{
			"added":     p.T("メンテナンスを追加しました。", "Window added."),
			"moved":     p.T("日時を変更しました。", "Window moved."),
			"cancelled": p.T("メンテナンスを中止しました。", "Window cancelled."),
			"extended":  p.T("終了時刻を延長しました。", "Window extended."),
			"ended":     p.T("メンテナンスを終了しました。", "Window ended."),
			"published": p.T("年間予定を告知済みにしました。", "The year's schedule is published."),
			"started":   p.T("緊急メンテナンスを開始しました。", "Emergency maintenance started."),
			"update":    p.T("状況を更新し、公開しました。", "The update is published."),
		}[d]
	}
	p.Error = errMsg
	// planned windows that nobody has been told of yet, starting within 30 days (maintenance.md §3.6)
	var unannounced []windowView
	for _, v := range h.windowViews(all, now, p.Lang) {
		if v.Status == maintenance.StatusPlanned && v.End.After(now) && v.Start.Before(now.Add(30*24*time.Hour)) {
			unannounced = append(unannounced, v)
		}
	}
	d := map[string]any{"DraftYear": now.In(ui.Tokyo).Year() + 1, "Unannounced": unannounced, "Stages": []string{maintenance.StageInvestigating, maintenance.StageIdentified, maintenance.StageResolved}, "Year": year, "Prev": year - 1, "Next": year + 1, "Calendar": calendar(year, inYear, now, p.Lang),
		"Windows": h.windowViews(inYear, now, p.Lang), "Planned": planned, "Changes": changes, "Active": h.Maint.Active(now),
		"Zone": maintenance.DefaultZone, "Now": ui.FormatTime(now)}
	if draft != nil {
		d["Draft"] = h.windowViews(draft, now, p.Lang)
		d["DraftFrom"], d["DraftTo"] = r.PostFormValue("from"), r.PostFormValue("to")
	}
	p.Data = d
	h.pages.Render(w, status, "maintenance", p)
}

// after finishes a schedule change: refresh this instance's index, audit, and go back.
func (h *Handler) after(w http.ResponseWriter, r *http.Request, who *ui.Who, action, detail, done string, year int) {
	if h.Reload != nil {
		h.Reload(r.Context())
	}
	h.audit(r, who, "", "maintenance."+action, detail)
	http.Redirect(w, r, fmt.Sprintf("%s/maintenance?year=%d&done=%s", Base, year, done), http.StatusSeeOther)
}

// inputProblem shows an operator input error on the maintenance page, or fails on anything else.
func (h *Handler) inputProblem(w http.ResponseWriter, r *http.Request, who *ui.Who, err error) {
	var ie *maintenance.InputError
	if errors.As(err, &ie) || errors.Is(err, maintenance.ErrInvalid) {
		h.renderMaintenance(w, r, who, http.StatusUnprocessableEntity, err.Error(), nil)
		return
	}
	h.unavailable(w, r, who, err)
}

func (h *Handler) addWindow(w http.ResponseWriter, r *http.Request, who *ui.Who) {
	f := r.PostFormValue
	zone := strings.TrimSpace(f("zone"))
	win, err := maintenance.WallWindow(strings.TrimSpace(f("date")), strings.TrimSpace(f("from")), strings.TrimSpace(f("to")), zone)
	if err != nil {
		h.inputProblem(w, r, who, err)
		return
	}
	if win.Scope, err = maintenance.ParseScope(f("scope")); err != nil {
		h.inputProblem(w, r, who, &maintenance.InputError{Msg: err.Error()})
		return
	}
	if rs := strings.TrimSpace(f("reserve")); rs != "" {
		rw, err := maintenance.WallWindow(strings.TrimSpace(f("date")), strings.TrimSpace(f("from")), rs, zone)
		if err != nil {
			h.inputProblem(w, r, who, err)
			return
		}
		win.ReserveEnd = rw.End
	}
	win.TitleJA, win.TitleEN = strings.TrimSpace(f("title_ja")), strings.TrimSpace(f("title_en"))
	t := changeText(r)
	win.NotesJA, win.NotesEN, win.Note = t.MessageJA, t.MessageEN, t.Note
	added, err := h.DB.AddWindows(r.Context(), []maintenance.Window{win}, who.Account.Actor())
	if err != nil {
		h.inputProblem(w, r, who, err)
		return
	}
	a := added[0]
	h.after(w, r, who, maintenance.ChangeAdded, a.Describe()+" scope="+a.Scope.String(), "added", a.Start.In(a.Location()).Year())
}

func (h *Handler) windowAction(w http.ResponseWriter, r *http.Request, who *ui.Who) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		h.fail(w, r, who, http.StatusNotFound, "メンテナンスが見つかりません。", "No such window.")
		return
	}
	f := r.PostFormValue
	text := changeText(r)
	reason := text.Note
	actor := who.Account.Actor()
	now := h.Clock.Now()
	var win maintenance.Window
	var kind string
	switch r.PathValue("action") {
	case "move":
		kind = maintenance.ChangeMoved
		win, err = schedule.Move(r.Context(), h.DB, id, strings.TrimSpace(f("date")), strings.TrimSpace(f("from")), strings.TrimSpace(f("to")), text, actor)
	case "cancel":
		kind = maintenance.ChangeCancelled
		win, err = schedule.Cancel(r.Context(), h.DB, id, text, actor)
	case "extend":
		kind = maintenance.ChangeExtended
		mins, perr := strconv.Atoi(strings.TrimSpace(f("minutes")))
		if perr != nil || mins <= 0 || mins > 24*60 {
			h.inputProblem(w, r, who, &maintenance.InputError{Msg: ui.L(ui.Lang(r, who.Session), "延長時間（分）を1～1440で入力してください", "Enter the extension in minutes, 1–1440")})
			return
		}
		win, err = schedule.Extend(r.Context(), h.DB, id, time.Duration(mins)*time.Minute, text, actor)
	case "end":
		kind = maintenance.ChangeEnded
		win, err = schedule.End(r.Context(), h.DB, id, now, text, actor)
	case "update":
		kind = maintenance.ChangeUpdate
		win, err = schedule.Update(r.Context(), h.DB, id, now, text, actor)
	default:
		h.fail(w, r, who, http.StatusNotFound, "不明な操作です。", "Unknown action.")
		return
	}
	if err != nil {
		h.inputProblem(w, r, who, err)
		return
	}
	h.after(w, r, who, kind, fmt.Sprintf("%s revision=%d reason=%q", win.Describe(), win.Revision, reason), kind, win.Start.In(win.Location()).Year())
}

func (h *Handler) draftRequest(r *http.Request) maintenance.DraftRequest {
	f := r.PostFormValue
	return maintenance.DraftRequest{Year: h.yearOf(r), RRule: strings.TrimSpace(f("rrule")), From: strings.TrimSpace(f("from")),
		To: strings.TrimSpace(f("to")), Zone: strings.TrimSpace(f("zone")), HolidayShift: f("shift")}
}

// draft expands a rule into a proposed list of windows and shows it for review; nothing is saved
// until the operator adds the (possibly edited) list.
func (h *Handler) draft(w http.ResponseWriter, r *http.Request, who *ui.Who) {
	ws, err := maintenance.Draft(h.draftRequest(r))
	if err != nil {
		h.inputProblem(w, r, who, err)
		return
	}
	h.renderMaintenance(w, r, who, http.StatusOK, "", ws)
}

func (h *Handler) addDraft(w http.ResponseWriter, r *http.Request, who *ui.Who) {
	if err := r.ParseForm(); err != nil {
		h.fail(w, r, who, http.StatusBadRequest, "不正な入力です。", "Bad input.")
		return
	}
	f := r.PostFormValue
	dates := r.PostForm["date"]
	if len(dates) == 0 || len(dates) > 366 {
		h.inputProblem(w, r, who, &maintenance.InputError{Msg: ui.L(ui.Lang(r, who.Session), "追加する日付を選んでください", "Choose the dates to add")})
		return
	}
	sc, err := maintenance.ParseScope(f("scope"))
	if err != nil {
		h.inputProblem(w, r, who, &maintenance.InputError{Msg: err.Error()})
		return
	}
	var ws []maintenance.Window
	for _, d := range dates {
		win, err := maintenance.WallWindow(d, f("from"), f("to"), f("zone"))
		if err != nil {
			h.inputProblem(w, r, who, err)
			return
		}
		win.Scope = sc
		ws = append(ws, win)
	}
	added, err := h.DB.AddWindows(r.Context(), ws, who.Account.Actor())
	if err != nil {
		h.inputProblem(w, r, who, err)
		return
	}
	h.after(w, r, who, "draft.added", fmt.Sprintf("%d windows from %s to %s", len(added), dates[0], dates[len(dates)-1]), "added",
		added[0].Start.In(added[0].Location()).Year())
}

// notice previews the annual notice of a year in Japanese and English, as it would be sent.
func (h *Handler) notice(w http.ResponseWriter, r *http.Request, who *ui.Who) {
	p := h.page(r, who, "maintenance", "年間メンテナンス告知のプレビュー", "Annual notice preview")
	year := h.yearOf(r)
	ws, err := h.DB.Windows(r.Context())
	if err != nil {
		h.unavailable(w, r, who, err)
		return
	}
	// the stored notice settings, as the mailer and the public pages use them: the preview is
	// what will be sent
	cfg, err := h.DB.NoticeConfig(r.Context())
	if err != nil {
		h.unavailable(w, r, who, err)
		return
	}
	var ja, en bytes.Buffer
	errJA := maintenance.RenderAnnualNotice(&ja, cfg, year, ws, maintenance.LangJA, maintenance.FormatText)
	errEN := maintenance.RenderAnnualNotice(&en, cfg, year, ws, maintenance.LangEN, maintenance.FormatText)
	if errJA != nil {
		p.Error = errJA.Error()
	} else if errEN != nil {
		p.Error = errEN.Error()
	}
	planned := 0
	for _, x := range ws {
		if x.Status == maintenance.StatusPlanned && x.Start.In(x.Location()).Year() == year {
			planned++
		}
	}
	p.Data = map[string]any{"Year": year, "JA": ja.String(), "EN": en.String(), "Planned": planned}
	h.pages.Render(w, http.StatusOK, "notice", p)
}

func (h *Handler) publish(w http.ResponseWriter, r *http.Request, who *ui.Who) {
	year := h.yearOf(r)
	if r.PostFormValue("confirm") != "yes" {
		// publishing mails every merchant: say how many windows and recipients first (issue 15 item 14)
		lang := ui.Lang(r, who.Session)
		ws, err := h.DB.Windows(r.Context())
		if err != nil {
			h.unavailable(w, r, who, err)
			return
		}
		planned := 0
		for _, x := range ws {
			if x.Status == maintenance.StatusPlanned && x.Start.In(x.Location()).Year() == year {
				planned++
			}
		}
		stores, err := h.DB.ListStores(r.Context())
		if err != nil {
			h.unavailable(w, r, who, err)
			return
		}
		rcpt := 0
		for _, st := range stores {
			if st.NotifyEmail != "" {
				rcpt++
			}
		}
		y, n, m := strconv.Itoa(year), strconv.Itoa(planned), strconv.Itoa(rcpt)
		h.confirm(w, r, who, http.StatusOK, confirmation{
			Heading:  ui.L(lang, y+"年の年間予定を告知しますか？", "Publish the "+y+" schedule?"),
			Question: ui.L(lang, "未告知の "+n+" 件のメンテナンスを告知済みにします。", "The "+n+" planned windows of "+y+" will be announced."),
			Consequences: []string{
				ui.L(lang, "年間メンテナンス告知が "+m+" 件の加盟店の通知先アドレスへ電子メールで送信されます（取り消せません）。",
					"The annual notice is e-mailed to the notification addresses of "+m+" stores (this cannot be taken back)."),
				ui.L(lang, n+" 件のメンテナンスがお知らせページ・Atom・iCalendar・ステータス API に公開されます。",
					"The "+n+" windows appear on the notices page, the Atom and iCalendar feeds and the status API."),
				ui.L(lang, "各回の7日前・1日前・開始・終了にも通知が送られます。", "Reminders (7 and 1 days before), start and end mails follow for each window."),
			},
			Action: Base + "/maintenance/publish", Hidden: []hiddenField{{"year", y}},
			Button: ui.L(lang, "告知して送信する", "Publish and send"), Back: fmt.Sprintf("%s/maintenance?year=%d", Base, year),
		})
		return
	}
	n, err := schedule.PublishYear(r.Context(), h.DB, year, changeText(r), who.Account.Actor())
	if err != nil {
		h.inputProblem(w, r, who, err)
		return
	}
	h.after(w, r, who, maintenance.ChangePublished, fmt.Sprintf("year=%d windows=%d", year, n), "published", year)
}

func (h *Handler) emergency(w http.ResponseWriter, r *http.Request, who *ui.Who) {
	f := r.PostFormValue
	lang := ui.Lang(r, who.Session)
	mins, err := strconv.Atoi(strings.TrimSpace(f("minutes")))
	if err != nil || mins <= 0 || mins > 7*24*60 {
		h.inputProblem(w, r, who, &maintenance.InputError{Msg: ui.L(lang, "継続時間（分）を正しく入力してください", "Enter the duration in minutes")})
		return
	}
	sc, err := maintenance.ParseScope(f("scope"))
	if err != nil {
		h.inputProblem(w, r, who, &maintenance.InputError{Msg: err.Error()})
		return
	}
	if f("confirm") != "yes" {
		h.inputProblem(w, r, who, &maintenance.InputError{Msg: ui.L(lang, "確認のチェックを入れてください（開始するとすぐに決済が停止します）", "Tick the confirmation: payments stop at once")})
		return
	}
	text := changeText(r)
	reason := text.Note
	win, err := schedule.StartEmergency(r.Context(), h.DB, h.Clock.Now(), time.Duration(mins)*time.Minute, sc, text, who.Account.Actor())
	if err != nil {
		h.inputProblem(w, r, who, err)
		return
	}
	h.after(w, r, who, maintenance.ChangeStarted, fmt.Sprintf("%s for %s scope=%s reason=%q", win.Describe(), formatDur(time.Duration(mins)*time.Minute), win.Scope, reason),
		"started", win.Start.In(win.Location()).Year())
}

// changeText reads what the operator wrote with a change: the public message (message_ja,
// message_en) and the internal note (note; "reason" is the older name of the same field).
func changeText(r *http.Request) maintenance.ChangeText {
	f := func(k string) string { return strings.TrimSpace(r.PostFormValue(k)) }
	note := f("note")
	if rs := f("reason"); rs != "" {
		if note != "" {
			note += "\n"
		}
		note += rs
	}
	return maintenance.ChangeText{MessageJA: f("message_ja"), MessageEN: f("message_en"), Note: note, Stage: f("stage"), Mail: f("mail") == "yes"}
}
