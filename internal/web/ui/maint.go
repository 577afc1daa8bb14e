package ui

import (
	"encoding/json"
	"html/template"
	"net/http"
	"strconv"
	"strings"
	"time"

	"kessai/internal/maintenance"
)

// BannerHorizon is how far ahead a maintenance window is announced on every page.
const BannerHorizon = 7 * 24 * time.Hour

// Banners lists what every page should say about maintenance at now: windows in progress and
// windows starting within seven days.
func Banners(ix *maintenance.Index, now time.Time, lang string) []Banner {
	if ix == nil {
		return nil
	}
	var out []Banner
	for _, w := range ix.Upcoming(now, 5) {
		if w.Status == maintenance.StatusPlanned && !w.Active(now) {
			continue // not announced yet (maintenance.md §3.6); one in progress is enforced, so shown
		}
		span := Span(w, lang)
		switch {
		case w.Active(now):
			out = append(out, Banner{Class: "warn", Href: "/maintenance", Text: L(lang,
				"メンテナンス実施中（"+ScopeText(w.Scope, lang)+"）: "+span,
				"Maintenance in progress ("+ScopeText(w.Scope, lang)+"): "+span)})
		case w.Start.Sub(now) <= BannerHorizon:
			out = append(out, Banner{Class: "info", Href: "/maintenance", Text: L(lang,
				"メンテナンスのお知らせ: "+span+" の間、"+ScopeText(w.Scope, lang)+"を停止します。",
				"Scheduled maintenance: "+span+" — "+ScopeText(w.Scope, lang)+" will be unavailable.")})
		}
	}
	return out
}

// Span renders a window's times for lang.
func Span(w maintenance.Window, lang string) string {
	if lang == EN {
		return maintenance.FormatSpanEN(w)
	}
	return maintenance.FormatSpanJA(w)
}

// ScopeText says in words what a window refuses.
func ScopeText(sc maintenance.Scope, lang string) string {
	var parts []string
	switch {
	case sc.Ops&maintenance.AllPayments == maintenance.AllPayments:
		parts = append(parts, L(lang, "すべての決済処理", "all payment processing"))
	default:
		names := (sc.Ops &^ maintenance.OpPanel).Names()
		if len(names) > 0 {
			parts = append(parts, L(lang, "決済処理の一部 ("+strings.Join(names, ", ")+")", "some payment jobs ("+strings.Join(names, ", ")+")"))
		}
	}
	if sc.Ops&maintenance.OpPanel != 0 {
		parts = append(parts, L(lang, "管理画面", "the control panel"))
	}
	s := strings.Join(parts, L(lang, "・", " and "))
	var narrow []string
	narrow = append(narrow, sc.Methods...)
	narrow = append(narrow, sc.Brands...)
	if len(narrow) > 0 {
		s += " [" + strings.Join(narrow, ", ") + "]"
	}
	return s
}

// RetryAfter sets Retry-After to the seconds until the window ends (at least 1), as the gateway does.
func RetryAfter(w http.ResponseWriter, now time.Time, win *maintenance.Window) {
	secs := int64(win.End.Sub(now).Seconds() + 0.999)
	if secs < 1 {
		secs = 1
	}
	w.Header().Set("Retry-After", strconv.FormatInt(secs, 10))
}

var maintTmpl = template.Must(template.New("maint").Parse(`<!doctype html>
<html lang="{{.Lang}}"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>メンテナンス中 / Under maintenance — Kessai</title><link rel="stylesheet" href="{{.Base}}/assets/kessai.css"></head>
<body>{{if .Sandbox}}<div class="testmark" role="note">テスト環境 / TEST</div>{{end}}
<main class="maint">
<h1>ただいまメンテナンス中です</h1>
<p>決済システムのメンテナンスのため、管理画面をご利用いただけません。</p>
<p class="span">メンテナンス時間: {{.SpanJA}}</p>
{{if .ReserveJA}}<p>作業の状況により最長 {{.ReserveJA}} まで延長する場合があります。</p>{{end}}
<p>ご不便をおかけして申し訳ございません。終了後に改めてアクセスしてください。</p>
<hr>
<h2 lang="en">Under maintenance</h2>
<p lang="en">The control panel is unavailable during payment-system maintenance.</p>
<p lang="en" class="span">Maintenance window: {{.SpanEN}}</p>
<p lang="en">We apologise for the inconvenience. Please come back after the window ends.</p>
<p class="code">エラーコード / Error code: <strong>{{.Code}}</strong></p>
<p><a href="/maintenance">メンテナンス情報 / Maintenance notices</a></p>
</main></body></html>`))

// MaintenancePage answers 503 with Retry-After and the bilingual maintenance page (code ER999).
func MaintenancePage(w http.ResponseWriter, r *http.Request, base string, sandbox bool, lang string, win *maintenance.Window, now time.Time) {
	RetryAfter(w, now, win)
	w.Header().Set("Cache-Control", "no-store")
	d := map[string]any{"Lang": lang, "Base": base, "Sandbox": sandbox, "Code": maintenance.ErrorCode,
		"SpanJA": maintenance.FormatSpanJA(*win), "SpanEN": maintenance.FormatSpanEN(*win), "ReserveJA": ""}
	if !win.ReserveEnd.IsZero() {
		d["ReserveJA"] = win.ReserveEnd.In(win.Location()).Format("2006年01月02日 15:04")
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(http.StatusServiceUnavailable)
	maintTmpl.Execute(w, d)
}

// Problem is an RFC 9457 problem document, Kessai's shape for JSON errors.
type Problem struct {
	Type     string `json:"type"`
	Title    string `json:"title"`
	Status   int    `json:"status"`
	Detail   string `json:"detail,omitempty"`
	Instance string `json:"instance,omitempty"`
	Code     string `json:"code"`
	Start    string `json:"start,omitempty"`
	End      string `json:"end,omitempty"`
}

// WriteProblem answers with application/problem+json.
func WriteProblem(w http.ResponseWriter, p Problem) {
	w.Header().Set("Content-Type", "application/problem+json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(p.Status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(true)
	enc.Encode(p)
}

// MaintenanceProblem answers a JSON endpoint during a window: 503, ER999, the window's start and end.
func MaintenanceProblem(w http.ResponseWriter, r *http.Request, win *maintenance.Window, now time.Time) {
	RetryAfter(w, now, win)
	loc := win.Location()
	WriteProblem(w, Problem{Type: "https://kessai.example/problems/maintenance", Title: "Service under maintenance",
		Status: http.StatusServiceUnavailable, Detail: "メンテナンス中です / under maintenance: " + maintenance.FormatSpanEN(*win),
		Instance: r.URL.Path, Code: maintenance.ErrorCode, Start: win.Start.In(loc).Format(time.RFC3339), End: win.End.In(loc).Format(time.RFC3339)})
}
