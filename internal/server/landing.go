package server

import (
	"bytes"
	"html/template"
	"net/http"

	"kessai/internal/web/public"
)

// landingTmpl is "/": what the start-up banner lists, for someone who opens the server's address
// in a browser (issue 15 item 17). Japanese first, English second, as every page.
var landingTmpl = template.Must(template.New("landing").Parse(`<!DOCTYPE html>
<html lang="ja"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Kessai 決済</title><link rel="stylesheet" href="/maintenance/style.css"></head><body>
{{if .Sandbox}}<div class="sandbox">テスト環境 / TEST — 模擬カードネットワーク、実際のお金は動きません / simulated card network, no real money</div>{{end}}
<header><h1>Kessai 決済</h1><p>カード決済ゲートウェイ（ROBOT PAYMENT 互換） / A card payment gateway (ROBOT PAYMENT wire-compatible)</p></header>
<main><section><h2>入口 / Where to go</h2><ul>
<li><a href="/console/">加盟店管理画面 / Merchant control panel</a> — <code>/console/</code></li>
<li><a href="/operator/">運営者コンソール / Operator console</a> — <code>/operator/</code></li>
<li><a href="/maintenance">メンテナンスのお知らせ / Maintenance notices</a> — <code>/maintenance</code>
 (<a href="/maintenance.ics">iCalendar</a> · <a href="/maintenance.atom">Atom</a> · <a href="/api/maintenance">JSON</a>)</li>
<li>サーバ間決済 / Gateway (server-to-server): <code>POST /gateway/gateway.aspx</code></li>
<li>決済ページ（リンク方式） / Hosted payment page: <code>POST /link/creditcard</code></li>
<li>開発者 API / Developer API: <code>/api/v1/</code> (<a href="/api/openapi.json">OpenAPI</a>; キー / keys: <code>kessai apikey create</code>)</li>
<li><a href="/healthz">稼働確認 / Health check</a> · <a href="/metrics">Metrics</a></li>
</ul></section>
{{if .Sandbox}}<section><h2>テストカード / Test cards</h2><p>4111 1111 1111 1111 (Visa, 承認 / approved) — 有効期限は未来の任意の年月、セキュリティコードは任意の3桁 / any future expiry, any 3-digit security code. 一覧は起動時の表示と README / full list in the start-up banner and the README.</p></section>{{end}}
</main></body></html>
`))

// landing serves "/" (exactly: other unknown paths stay 404).
func (s *Server) landing(w http.ResponseWriter, r *http.Request) {
	var b bytes.Buffer
	if err := landingTmpl.Execute(&b, struct{ Sandbox bool }{s.Sandbox}); err != nil {
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	public.SecurityHeaders(w)
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Write(b.Bytes())
}
