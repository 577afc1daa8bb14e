// Package public serves what anyone may read without logging in: the maintenance notices page,
// its Atom feed, the iCalendar feed and the JSON status API with its OpenAPI description. These
// surfaces are never refused during maintenance — they are how merchants learn about it.
package public

import (
	"bytes"
	"context"
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"html/template"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"kessai/internal/clock"
	"kessai/internal/maintenance"
	"kessai/internal/store"
)

// Handler serves the public maintenance surfaces.
type Handler struct {
	DB      *store.DB
	Maint   *maintenance.Index
	Clock   clock.Clock
	Log     *slog.Logger
	Sandbox bool
}

// Register mounts the routes.
func (h *Handler) Register(mux *http.ServeMux) {
	mux.HandleFunc("GET /api/maintenance", h.status)
	mux.HandleFunc("OPTIONS /api/maintenance", h.preflight)
	mux.HandleFunc("GET /api/openapi.json", h.openapi)
	mux.HandleFunc("GET /maintenance.ics", h.ics)
	mux.HandleFunc("GET /maintenance.atom", h.atom)
	mux.HandleFunc("GET /maintenance", h.page)
	mux.HandleFunc("GET /maintenance/notice/{year}", h.notice)
	mux.HandleFunc("GET /maintenance/window/{id}", h.windowNotice)
	mux.HandleFunc("GET /maintenance/change/{id}", h.changeNotice)
	mux.HandleFunc("GET /maintenance/style.css", func(w http.ResponseWriter, r *http.Request) {
		writeCached(w, r, "text/css; charset=utf-8", 3600, styleCSS)
	})
}

// Status is the body of GET /api/maintenance (described in openapi.json).
type Status struct {
	Now           string            `json:"now"`
	Active        bool              `json:"active"`
	Code          string            `json:"code,omitempty"`
	Window        *Window           `json:"window"`
	ActiveWindows []Window          `json:"active_windows"`
	Upcoming      []Window          `json:"upcoming"`
	Messages      map[string]string `json:"messages,omitempty"`
}

// Window is a window on the status API: the schedule's JSON shape with one status (as seen now),
// the absolute URL of its public notice and the progress updates published for it.
type Window struct {
	maintenance.WindowJSON
	URL     string   `json:"url,omitempty"`
	Updates []Update `json:"updates,omitempty"`
}

// Update is one published progress update (調査中 → 対応中 → 復旧) of a window.
type Update struct {
	At        string `json:"at"`
	Stage     string `json:"stage"`
	MessageJA string `json:"message_ja,omitempty"`
	MessageEN string `json:"message_en,omitempty"`
}

// BuildStatus computes the status at now: windows in progress (announced or not: they are
// enforced) and announced windows ahead; a planned, unannounced window is not listed. Times are in
// Japan time (the windows' zone), whole seconds. chs gives each window its updates; base, when
// set, makes the notice URLs absolute.
func BuildStatus(ix *maintenance.Index, now time.Time, chs []maintenance.Change, base string) Status {
	loc, _ := time.LoadLocation(maintenance.DefaultZone)
	st := Status{Now: now.In(loc).Format(time.RFC3339), ActiveWindows: []Window{}, Upcoming: []Window{}}
	updates := updatesByWindow(chs)
	for _, w := range ix.Upcoming(now, 50) {
		if !w.Active(now) && w.Status == maintenance.StatusPlanned {
			continue // not announced yet
		}
		j := Window{WindowJSON: maintenance.ToJSON(w, now), Updates: updates[w.ID]}
		if w.Status != maintenance.StatusPlanned {
			j.URL = base + "/maintenance/window/" + strconv.FormatInt(w.ID, 10)
		}
		if w.Active(now) {
			st.ActiveWindows = append(st.ActiveWindows, j)
		} else if len(st.Upcoming) < 12 {
			st.Upcoming = append(st.Upcoming, j)
		}
	}
	if len(st.ActiveWindows) > 0 {
		st.Active = true
		st.Code = "ER999"
		w := st.ActiveWindows[0]
		st.Window = &w
		if aw := ix.Active(now); aw != nil {
			st.Messages = map[string]string{}
			for _, lang := range []string{"ja", "en"} {
				if m, err := maintenance.CustomerMessage(*aw, lang, ""); err == nil {
					st.Messages[lang] = m
				}
			}
		}
	}
	return st
}

// updatesByWindow collects the published progress updates of each window, oldest first.
func updatesByWindow(chs []maintenance.Change) map[int64][]Update {
	out := map[int64][]Update{}
	for _, c := range chs {
		if c.Kind != maintenance.ChangeUpdate {
			continue
		}
		loc, _ := time.LoadLocation(maintenance.DefaultZone)
		out[c.WindowID] = append(out[c.WindowID], Update{At: c.At.In(loc).Format(time.RFC3339), Stage: c.Stage,
			MessageJA: c.MessageJA, MessageEN: c.MessageEN})
	}
	return out
}

// baseURL is the absolute origin of the request ("https://host"), for links that leave the page
// (Atom, iCalendar, the status API).
func baseURL(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

func cors(w http.ResponseWriter) {
	w.Header().Set("Access-Control-Allow-Origin", "*")
	w.Header().Set("Access-Control-Allow-Methods", "GET, OPTIONS")
	w.Header().Set("Access-Control-Allow-Headers", "If-None-Match")
	w.Header().Set("Access-Control-Expose-Headers", "ETag, Retry-After")
}

func (h *Handler) preflight(w http.ResponseWriter, r *http.Request) {
	cors(w)
	w.Header().Set("Access-Control-Max-Age", "600")
	w.WriteHeader(http.StatusNoContent)
}

// writeCached answers with an ETag over the body and honours If-None-Match.
func writeCached(w http.ResponseWriter, r *http.Request, ctype string, maxAge int, body []byte) {
	sum := sha256.Sum256(body)
	etag := `"` + hex.EncodeToString(sum[:12]) + `"`
	w.Header().Set("ETag", etag)
	w.Header().Set("Cache-Control", "public, max-age="+strconv.Itoa(maxAge))
	w.Header().Set("Content-Type", ctype)
	if r.Header.Get("If-None-Match") == etag {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	w.Write(body)
}

func (h *Handler) status(w http.ResponseWriter, r *http.Request) {
	cors(w)
	now := h.Clock.Now()
	chs, err := h.DB.Changes(r.Context())
	if err != nil {
		http.Error(w, "schedule unavailable / スケジュールを取得できません", http.StatusServiceUnavailable)
		return
	}
	st := BuildStatus(h.Maint, now, chs, baseURL(r))
	// "now" changes every second; the ETag must only change when the answer does
	etagBody, _ := json.Marshal(struct {
		A bool
		W []Window
		U []Window
	}{st.Active, st.ActiveWindows, st.Upcoming})
	body, _ := json.MarshalIndent(st, "", "  ")
	sum := sha256.Sum256(etagBody)
	etag := `"` + hex.EncodeToString(sum[:12]) + `"`
	w.Header().Set("ETag", etag)
	w.Header().Set("Cache-Control", "public, max-age=15")
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	if st.Active {
		if aw := h.Maint.Active(now); aw != nil {
			secs := int64(aw.End.Sub(now).Seconds() + 0.999)
			w.Header().Set("Retry-After", strconv.FormatInt(max(secs, 1), 10))
		}
	}
	if r.Header.Get("If-None-Match") == etag {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	w.Write(append(body, '\n'))
}

//go:embed openapi.json
var openapiDoc []byte

//go:embed style.css
var styleCSS []byte

func (h *Handler) openapi(w http.ResponseWriter, r *http.Request) {
	cors(w)
	writeCached(w, r, "application/json; charset=utf-8", 3600, openapiDoc)
}

func (h *Handler) windows(ctx context.Context) ([]maintenance.Window, error) {
	return h.DB.Windows(ctx)
}

// publicWindows lists the windows a public surface may show at now (maintenance.md §3.6): those
// merchants have been told of, and any in progress. It also returns the told set.
func (h *Handler) publicWindows(ctx context.Context, now time.Time) ([]maintenance.Window, []maintenance.Change, map[int64]bool, error) {
	ws, err := h.windows(ctx)
	if err != nil {
		return nil, nil, nil, err
	}
	chs, err := h.DB.Changes(ctx)
	if err != nil {
		return nil, nil, nil, err
	}
	told := maintenance.Told(ws, chs)
	var out []maintenance.Window
	for _, x := range ws {
		if maintenance.Public(x, told, now) {
			out = append(out, x)
		}
	}
	return out, chs, told, nil
}

func (h *Handler) ics(w http.ResponseWriter, r *http.Request) {
	ws, _, _, err := h.publicWindows(r.Context(), h.Clock.Now())
	if err != nil {
		http.Error(w, "schedule unavailable / スケジュールを取得できません", http.StatusServiceUnavailable)
		return
	}
	var b bytes.Buffer
	if err := maintenance.ExportICS(&b, ws, maintenance.ICSOptions{Name: "Kessai メンテナンス / maintenance", Now: latestChange(ws), BaseURL: baseURL(r)}); err != nil {
		h.Log.Error("ics export", "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Disposition", `inline; filename="kessai-maintenance.ics"`)
	cors(w)
	writeCached(w, r, "text/calendar; charset=utf-8", 300, b.Bytes())
}

// latestChange gives DTSTAMP a stable value (the last edit), so the feed's bytes — and its ETag —
// change only when the schedule does.
func latestChange(ws []maintenance.Window) time.Time {
	var t time.Time
	for _, w := range ws {
		if w.UpdatedAt.After(t) {
			t = w.UpdatedAt
		}
	}
	if t.IsZero() {
		t = time.Unix(0, 0).UTC()
	}
	return t.Truncate(time.Second)
}

type atomFeed struct {
	XMLName xml.Name    `xml:"http://www.w3.org/2005/Atom feed"`
	Lang    string      `xml:"xml:lang,attr"`
	ID      string      `xml:"id"`
	Title   string      `xml:"title"`
	Updated string      `xml:"updated"`
	Author  atomAuthor  `xml:"author"`
	Link    []atomLink  `xml:"link"`
	Entries []atomEntry `xml:"entry"`
}
type atomAuthor struct {
	Name string `xml:"name"`
}
type atomLink struct {
	Href string `xml:"href,attr"`
	Rel  string `xml:"rel,attr,omitempty"`
}
type atomEntry struct {
	ID      string   `xml:"id"`
	Title   string   `xml:"title"`
	Updated string   `xml:"updated"`
	Link    atomLink `xml:"link"`
	Content struct {
		Type string `xml:"type,attr"`
		Body string `xml:",chardata"`
	} `xml:"content"`
}

// feedItem is one piece of news about the schedule, as the Atom feed and the notices page list it.
type feedItem struct {
	c       maintenance.Change
	w       maintenance.Window
	annual  bool // a window's publication with its year's annual notice (not an addition)
	addedAt bool // a window's publication after its year's annual notice: 追加
}

// news lists the changes merchants are told of, newest first (issue 15 item 16): one item per
// window published (a publication with the annual notice, or 追加 for a window published after
// it), and each later change of a published window (moved, cancelled, extended, ended, updates);
// an emergency is news from its start. A scheduled window's creation and the edits of a draft are
// not news: they were never announced.
func news(ws []maintenance.Window, chs []maintenance.Change) []feedItem {
	byID := map[int64]maintenance.Window{}
	for _, x := range ws {
		byID[x.ID] = x
	}
	firstPub := map[int64]time.Time{}
	yearFirst := map[int]time.Time{}
	for _, c := range chs {
		x, ok := byID[c.WindowID]
		if !ok || c.Kind != maintenance.ChangePublished {
			continue
		}
		if _, seen := firstPub[x.ID]; !seen {
			firstPub[x.ID] = c.At
		}
		y := x.Start.In(x.Location()).Year()
		if t, ok := yearFirst[y]; !ok || c.At.Before(t) {
			yearFirst[y] = c.At
		}
	}
	var out []feedItem
	for i := len(chs) - 1; i >= 0; i-- {
		c := chs[i]
		x, ok := byID[c.WindowID]
		if !ok {
			continue
		}
		it := feedItem{c: c, w: x}
		if x.Kind != maintenance.KindEmergency {
			p, published := firstPub[x.ID]
			switch {
			case !published && x.Status != maintenance.StatusAnnounced:
				continue // an unannounced window (listed while in progress, but its history is not news)
			case c.Kind == maintenance.ChangeAdded:
				if published {
					continue // announced by its publication
				}
			case published && c.At.Before(p):
				continue // an edit of the draft
			case c.Kind == maintenance.ChangePublished:
				if !c.At.Equal(p) {
					continue // published again after a cancellation: its notice is the change's
				}
				y := x.Start.In(x.Location()).Year()
				if c.At.Sub(yearFirst[y]) > time.Minute {
					it.addedAt = true
				} else {
					it.annual = true
				}
			}
		}
		out = append(out, it)
	}
	return out
}

func (it feedItem) title(lang string) string {
	if it.annual {
		span := maintenance.FormatSpanJA(it.w)
		if lang == "en" {
			return "Scheduled maintenance: " + maintenance.FormatSpanEN(it.w)
		}
		return "メンテナンス予定：" + span
	}
	return changeTitle(it.c, it.w, lang)
}

func (it feedItem) render(b *bytes.Buffer, cfg maintenance.NoticeConfig, lang string) error {
	if it.annual {
		return maintenance.RenderWindowNotice(b, cfg, it.w, lang, maintenance.FormatText)
	}
	return maintenance.RenderChangeNotice(b, cfg, it.w, it.c, lang, maintenance.FormatText)
}

// href is the item's own notice: the window's for a publication, else the change's.
func (it feedItem) href(base, lang string) string {
	if it.annual {
		return fmt.Sprintf("%s/maintenance/window/%d?lang=%s", base, it.w.ID, lang)
	}
	return fmt.Sprintf("%s/maintenance/change/%d?lang=%s", base, it.c.ID, lang)
}

func (h *Handler) atom(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	lang := langOf(r)
	base := baseURL(r)
	ws, chs, _, err := h.publicWindows(ctx, h.Clock.Now())
	cfg, err3 := h.DB.NoticeConfig(ctx)
	if err != nil || err3 != nil {
		http.Error(w, "schedule unavailable / スケジュールを取得できません", http.StatusServiceUnavailable)
		return
	}
	f := atomFeed{Lang: lang, ID: "tag:kessai,2026:maintenance", Title: map[string]string{"ja": "Kessai メンテナンスのお知らせ", "en": "Kessai maintenance notices"}[lang],
		Author: atomAuthor{Name: "Kessai"}, Link: []atomLink{{Href: base + "/maintenance.atom?lang=" + lang, Rel: "self"}, {Href: base + "/maintenance?lang=" + lang, Rel: "alternate"}}}
	updated := time.Unix(0, 0).UTC()
	for _, it := range news(ws, chs) {
		var body bytes.Buffer
		if err := it.render(&body, cfg, lang); err != nil {
			continue
		}
		e := atomEntry{ID: fmt.Sprintf("tag:kessai,2026:maintenance/change/%d", it.c.ID), Updated: it.c.At.UTC().Format(time.RFC3339),
			Title: it.title(lang), Link: atomLink{Href: it.href(base, lang), Rel: "alternate"}}
		e.Content.Type = "text"
		e.Content.Body = body.String()
		f.Entries = append(f.Entries, e)
		if it.c.At.After(updated) {
			updated = it.c.At
		}
		if len(f.Entries) == 100 {
			break
		}
	}
	f.Updated = updated.UTC().Format(time.RFC3339)
	b, _ := xml.MarshalIndent(f, "", "  ")
	writeCached(w, r, "application/atom+xml; charset=utf-8", 300, append([]byte(xml.Header), b...))
}

func changeTitle(c maintenance.Change, w maintenance.Window, lang string) string {
	span := maintenance.FormatSpanJA(w)
	if lang == "en" {
		span = maintenance.FormatSpanEN(w)
	}
	names := map[string][2]string{
		maintenance.ChangeAdded: {"メンテナンス追加", "Maintenance added"}, maintenance.ChangeMoved: {"メンテナンス日時変更", "Maintenance moved"},
		maintenance.ChangeCancelled: {"メンテナンス中止", "Maintenance cancelled"}, maintenance.ChangeExtended: {"メンテナンス延長", "Maintenance extended"},
		maintenance.ChangeEnded: {"メンテナンス終了", "Maintenance ended early"}, maintenance.ChangeStarted: {"緊急メンテナンス", "Emergency maintenance"},
		maintenance.ChangePublished: {"メンテナンス追加", "Maintenance added"},
		maintenance.ChangeUpdate:    {"メンテナンス状況（" + maintenance.StageName(c.Stage, "ja") + "）", "Maintenance update (" + maintenance.StageName(c.Stage, "en") + ")"},
	}
	if w.Kind == maintenance.KindEmergency && c.Kind == maintenance.ChangeAdded {
		names[maintenance.ChangeAdded] = [2]string{"緊急メンテナンス", "Emergency maintenance"}
	}
	n, ok := names[c.Kind]
	if !ok {
		n = [2]string{"メンテナンスのお知らせ", "Maintenance notice"}
	}
	if lang == "en" {
		return n[1] + ": " + span
	}
	return n[0] + "：" + span
}

func langOf(r *http.Request) string {
	if r.URL.Query().Get("lang") == "en" {
		return "en"
	}
	return "ja"
}

var pageTmpl = template.Must(template.New("page").Parse(`<!DOCTYPE html>
<html lang="{{.Lang}}"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.T.Title}}</title>
<link rel="alternate" type="application/atom+xml" href="/maintenance.atom?lang={{.Lang}}">
<link rel="stylesheet" href="/maintenance/style.css">
</head><body>
{{if .Sandbox}}<div class="sandbox">テスト環境 / TEST</div>{{end}}
<header><h1>{{.T.Title}}</h1>
<nav><a href="/maintenance?lang=ja" lang="ja">日本語</a> | <a href="/maintenance?lang=en" lang="en">English</a>
 · <a href="/maintenance.ics">{{.T.Calendar}}</a> · <a href="/maintenance.atom?lang={{.Lang}}">Atom</a> · <a href="/api/maintenance">JSON</a></nav></header>
<main>
{{if .InProgress}}{{range .InProgress}}<section class="active" role="alert" id="in-progress"><h2>{{$.T.Now}}{{if .Emergency}} ({{$.T.Emergency}}){{end}}</h2>
<p class="span">{{.Span}} — {{.Scope}}</p>
{{if .Message}}<p class="message">{{range $i, $l := .Message}}{{if $i}}<br>{{end}}{{$l}}{{end}}</p>{{end}}
{{if .Updates}}<ol class="updates">{{range .Updates}}<li><strong class="stage {{.Stage}}">{{.StageName}}</strong> <time>{{.At}}</time>{{if .Lines}}<br>{{range $i, $l := .Lines}}{{if $i}}<br>{{end}}{{$l}}{{end}}{{end}}</li>{{end}}</ol>{{end}}
</section>{{end}}
{{else}}<section class="ok" id="operational"><h2>{{.T.OK}}</h2><p>{{.T.OKText}}</p></section>{{end}}
<section id="upcoming"><h2>{{.T.Upcoming}}</h2>
{{if .Upcoming}}<ul>{{range .Upcoming}}<li>{{if .ID}}<a href="/maintenance/window/{{.ID}}?lang={{$.Lang}}">{{.Span}}</a>{{else}}{{.Span}}{{end}}{{if .Partial}} — {{.Scope}}{{end}}{{if .Emergency}} ({{$.T.Emergency}}){{end}}</li>{{end}}</ul>{{else}}<p>{{.T.None}}</p>{{end}}
</section>
{{range .Notices}}<section class="notice"><h2>{{.Title}}</h2><pre>{{.Body}}</pre>
<p><a href="/maintenance/notice/{{.Year}}?lang={{$.Lang}}&amp;format=html">HTML</a> · <a href="/maintenance/notice/{{.Year}}?lang={{$.Lang}}&amp;format=md">Markdown</a> · <a href="/maintenance/notice/{{.Year}}?lang={{$.Lang}}&amp;format=text">Text</a></p></section>{{end}}
{{if .Changes}}<section id="changes"><h2>{{.T.Changes}}</h2><ul>{{range .Changes}}<li><time>{{.At}}</time> <a href="{{.Href}}">{{.Title}}</a></li>{{end}}</ul></section>{{end}}
</main></body></html>
`))

var pageText = map[string]map[string]string{
	"ja": {"Title": "メンテナンスのお知らせ", "Calendar": "カレンダー (iCalendar)", "Now": "ただいまメンテナンス中です", "Upcoming": "今後のメンテナンス予定",
		"Emergency": "緊急", "None": "予定されているメンテナンスはありません。", "Changes": "変更履歴",
		"OK": "すべてのシステムは正常に稼働しています", "OKText": "現在、メンテナンスは行っておりません。決済は通常どおりご利用いただけます。"},
	"en": {"Title": "Maintenance notices", "Calendar": "Calendar (iCalendar)", "Now": "Maintenance in progress", "Upcoming": "Upcoming maintenance",
		"Emergency": "emergency", "None": "No maintenance is scheduled.", "Changes": "Changes",
		"OK": "All systems operational", "OKText": "No maintenance is in progress. Payments are available as usual."},
}

type pageWindow struct {
	ID                 int64 // set when the window is published: its notice is linked
	Span, Scope        string
	Partial, Emergency bool
	Message            []string
	Updates            []pageUpdate
}
type pageUpdate struct {
	Stage, StageName, At string
	Lines                []string
}
type pageNotice struct {
	Title, Body string
	Year        int
}
type pageChange struct {
	At, Title, Href string
}

// lines splits text into its non-empty lines, for pages that show them one under another.
func lines(s string) []string {
	var out []string
	for _, l := range strings.Split(strings.ReplaceAll(s, "\r\n", "\n"), "\n") {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, l)
		}
	}
	return out
}

func (h *Handler) page(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	lang := langOf(r)
	now := h.Clock.Now()
	ws, chs, told, err := h.publicWindows(ctx, now)
	cfg, err3 := h.DB.NoticeConfig(ctx)
	if err != nil || err3 != nil {
		http.Error(w, "schedule unavailable / スケジュールを取得できません", http.StatusServiceUnavailable)
		return
	}
	data := struct {
		Lang       string
		Sandbox    bool
		T          map[string]string
		InProgress []pageWindow
		Upcoming   []pageWindow
		Notices    []pageNotice
		Changes    []pageChange
	}{Lang: lang, Sandbox: h.Sandbox, T: pageText[lang]}
	loc, _ := time.LoadLocation(maintenance.DefaultZone)
	updates := map[int64][]pageUpdate{}
	for _, c := range chs {
		if c.Kind == maintenance.ChangeUpdate {
			updates[c.WindowID] = append(updates[c.WindowID], pageUpdate{Stage: c.Stage, StageName: maintenance.StageName(c.Stage, lang),
				At: c.At.In(loc).Format("2006-01-02 15:04"), Lines: lines(c.Message(lang))})
		}
	}
	for _, x := range h.Maint.Upcoming(now, 24) {
		if !maintenance.Public(x, told, now) {
			continue
		}
		span := maintenance.FormatSpanJA(x)
		if lang == "en" {
			span = maintenance.FormatSpanEN(x)
		}
		pw := pageWindow{Span: span, Scope: maintenance.ScopeWords(x.Scope, lang), Partial: x.Scope.String() != "all", Emergency: x.Kind == maintenance.KindEmergency}
		if published(x) {
			pw.ID = x.ID
		}
		if x.Active(now) {
			// the live message, line by line: the window's public message when the operator wrote
			// one, else the customer message; then its updates, newest first
			msg := x.NotesJA
			if lang == "en" {
				msg = x.NotesEN
			}
			if strings.TrimSpace(msg) == "" {
				msg, _ = maintenance.CustomerMessage(x, lang, "")
			}
			pw.Message = lines(msg)
			us := updates[x.ID]
			for i := len(us) - 1; i >= 0; i-- {
				pw.Updates = append(pw.Updates, us[i])
			}
			data.InProgress = append(data.InProgress, pw)
			continue
		}
		data.Upcoming = append(data.Upcoming, pw)
	}
	years := map[int]bool{}
	var pub []maintenance.Window
	for _, x := range ws {
		if x.Status == maintenance.StatusAnnounced && x.Kind != maintenance.KindEmergency {
			years[x.Start.In(x.Location()).Year()] = true // a year's schedule, not an emergency alone
		}
		if x.Status != maintenance.StatusPlanned {
			pub = append(pub, x)
		}
	}
	for y := now.Year() - 1; y <= now.Year()+1; y++ {
		if !years[y] {
			continue
		}
		var b bytes.Buffer
		if err := maintenance.RenderAnnualNotice(&b, cfg, y, pub, lang, maintenance.FormatText); err == nil {
			t := fmt.Sprintf("%d年 決済サーバ定期メンテナンス", y)
			if lang == "en" {
				t = fmt.Sprintf("%d payment-server maintenance", y)
			}
			data.Notices = append(data.Notices, pageNotice{Title: t, Body: b.String(), Year: y})
		}
	}
	for _, it := range news(ws, chs) {
		if len(data.Changes) == 50 {
			break
		}
		data.Changes = append(data.Changes, pageChange{At: it.c.At.In(loc).Format("2006-01-02 15:04"), Title: it.title(lang), Href: it.href("", lang)})
	}
	var b bytes.Buffer
	if err := pageTmpl.Execute(&b, data); err != nil {
		h.Log.Error("notices page", "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	SecurityHeaders(w)
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-cache") // a live status page: never shown stale from a cache
	w.Write(b.Bytes())
}

// notice serves one year's annual notice in any format and language.
func (h *Handler) notice(w http.ResponseWriter, r *http.Request) {
	y, err := strconv.Atoi(r.PathValue("year"))
	if err != nil || y < 2000 || y > 2100 {
		http.Error(w, "bad year / 年の指定が正しくありません", http.StatusBadRequest)
		return
	}
	format := r.URL.Query().Get("format")
	if format == "" {
		format = maintenance.FormatHTML
	}
	ctx := r.Context()
	ws, err := h.windows(ctx)
	cfg, err2 := h.DB.NoticeConfig(ctx)
	if err != nil || err2 != nil {
		http.Error(w, "schedule unavailable / スケジュールを取得できません", http.StatusServiceUnavailable)
		return
	}
	var pub []maintenance.Window
	for _, x := range ws {
		if x.Status == maintenance.StatusAnnounced || x.Status == maintenance.StatusCancelled {
			pub = append(pub, x)
		}
	}
	var b bytes.Buffer
	if err := maintenance.RenderAnnualNotice(&b, cfg, y, pub, langOf(r), format); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	ct := map[string]string{maintenance.FormatHTML: "text/html", maintenance.FormatMarkdown: "text/markdown", maintenance.FormatText: "text/plain"}[format]
	SecurityHeaders(w)
	writeCached(w, r, ct+"; charset=utf-8", 300, b.Bytes())
}

// published reports whether merchants have been told of a window: announced (emergencies are
// announced when they start) or cancelled after that. Drafts are enforced but not announced.
func published(w maintenance.Window) bool {
	return w.Status == maintenance.StatusAnnounced || w.Status == maintenance.StatusCancelled
}

// noticeFormat reads ?format= (html by default) and its content type.
func noticeFormat(r *http.Request) (format, contentType string, ok bool) {
	format = r.URL.Query().Get("format")
	if format == "" {
		format = maintenance.FormatHTML
	}
	ct, ok := map[string]string{maintenance.FormatHTML: "text/html", maintenance.FormatMarkdown: "text/markdown", maintenance.FormatText: "text/plain"}[format]
	return format, ct + "; charset=utf-8", ok
}

// windowNotice is one published window's notice (告知), in the request's language and format.
func (h *Handler) windowNotice(w http.ResponseWriter, r *http.Request) {
	h.oneNotice(w, r, func(ctx context.Context, id int64, cfg maintenance.NoticeConfig, lang, format string, b *bytes.Buffer) (bool, error) {
		win, err := h.DB.Window(ctx, id)
		if errors.Is(err, store.ErrNotFound) || err == nil && !published(win) {
			return false, nil
		}
		if err != nil {
			return false, err
		}
		return true, maintenance.RenderWindowNotice(b, cfg, win, lang, format)
	})
}

// changeNotice is the notice of one recorded change (moved, extended, cancelled, …) of a
// published window.
func (h *Handler) changeNotice(w http.ResponseWriter, r *http.Request) {
	h.oneNotice(w, r, func(ctx context.Context, id int64, cfg maintenance.NoticeConfig, lang, format string, b *bytes.Buffer) (bool, error) {
		chs, err := h.DB.Changes(ctx)
		if err != nil {
			return false, err
		}
		for _, c := range chs {
			if c.ID != id {
				continue
			}
			win, err := h.DB.Window(ctx, c.WindowID)
			if err != nil {
				return false, err
			}
			if !published(win) {
				return false, nil // a draft's changes are not news to merchants
			}
			return true, maintenance.RenderChangeNotice(b, cfg, win, c, lang, format)
		}
		return false, nil
	})
}

func (h *Handler) oneNotice(w http.ResponseWriter, r *http.Request, render func(ctx context.Context, id int64, cfg maintenance.NoticeConfig, lang, format string, b *bytes.Buffer) (bool, error)) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		http.Error(w, "bad notice number / お知らせ番号が正しくありません", http.StatusBadRequest)
		return
	}
	format, ct, ok := noticeFormat(r)
	if !ok {
		http.Error(w, "format must be html, md or text / format は html・md・text のいずれかです", http.StatusBadRequest)
		return
	}
	ctx := r.Context()
	cfg, err := h.DB.NoticeConfig(ctx)
	if err != nil {
		http.Error(w, "schedule unavailable / スケジュールを取得できません", http.StatusServiceUnavailable)
		return
	}
	var b bytes.Buffer
	found, err := render(ctx, id, cfg, langOf(r), format, &b)
	switch {
	case err != nil:
		h.Log.Error("notice", "id", id, "err", err)
		http.Error(w, "schedule unavailable / スケジュールを取得できません", http.StatusServiceUnavailable)
		return
	case !found:
		http.Error(w, "no such notice / お知らせが見つかりません", http.StatusNotFound)
		return
	}
	SecurityHeaders(w)
	writeCached(w, r, ct, 300, b.Bytes())
}

// SecurityHeaders sets the headers every HTML page of Kessai carries.
func SecurityHeaders(w http.ResponseWriter) {
	h := w.Header()
	h.Set("Content-Security-Policy", "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'self'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "same-origin")
	h.Set("X-Frame-Options", "DENY")
}
