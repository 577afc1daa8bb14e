// Package console is the merchant control panel (/console/): sign-in, dashboard, payment search
// with its actions (capture, cancel, partial refund) and CSV export, auto-charges (自動課金) and
// their stop, kickbacks, settings and users.
// Every query is bound to the signed-in user's store, so one store's users can never see or act on
// another store's data, whatever IDs they put in a URL.
package console

import (
	"context"
	"embed"
	"errors"
	"log/slog"
	"net/http"
	"net/netip"
	"strings"
	"time"

	"kessai/internal/auth"
	"kessai/internal/autocharge"
	"kessai/internal/clock"
	"kessai/internal/maintenance"
	"kessai/internal/noncard"
	"kessai/internal/payment"
	"kessai/internal/store"
	"kessai/internal/vault"
	"kessai/internal/web/ui"
)

//go:embed templates/*.html
var pageFS embed.FS

// Base is where the panel is mounted.
const Base = "/console"

// Deps is what the panel needs from the server.
type Deps struct {
	DB       *store.DB
	Pay      *payment.Service
	AC       *autocharge.Service // auto-charges: the server's one instance (Server.AutoCharges)
	Maint    *maintenance.Index
	Gate     func(t time.Time, op maintenance.Op, brand string, r *http.Request) *maintenance.Window
	RemoteIP func(r *http.Request) netip.Addr
	Clock    clock.Clock
	Sandbox  bool
	Log      *slog.Logger
	// KickbackSources are the addresses kickbacks leave from (serve --kickback-source), shown
	// in the settings for merchants whose handlers only accept known senders.
	KickbackSources []string
	// Mail sends the payment-link e-mails of the mail-link page; nil when no SMTP is configured.
	Mail MailSender
	// Vault is the key ring whose lookup key signs mail-payment links (the server's).
	Vault *vault.KeyRing
	MFA   auth.Policy
	// CheckTarget refuses a result URL the server would not send kickbacks to (SSRF rule);
	// nil accepts every URL.
	CheckTarget func(ctx context.Context, rawURL string) error
	// NonCard moves convenience-store and bank payments (merchant cancel, sandbox buttons).
	NonCard *noncard.Service
	// PublicURL is the panel's public origin (https://pay.example.jp) for links in e-mail;
	// without it only the sandbox mails password-reset links (pwreset.go).
	PublicURL string
}

// Handler serves the merchant control panel.
type Handler struct {
	Deps
	guard *ui.Guard
	pages *ui.Renderer
	mfa   *ui.MFAFlow
}

// New builds the panel.
func New(d Deps) (*Handler, error) {
	if d.Clock == nil {
		d.Clock = clock.Real{}
	}
	if d.Log == nil {
		d.Log = slog.Default()
	}
	if d.AC == nil && d.Pay != nil {
		d.AC = autocharge.New(d.Pay, d.Clock, d.Log) // the server passes its own; this keeps a bare panel working
	}
	pages, err := ui.NewRenderer(pageFS, d.Log)
	if err != nil {
		return nil, err
	}
	g := &ui.Guard{Kind: store.SessionMerchant, Base: Base, Cookie: "kessai_console",
		Sessions: auth.NewSessions(d.DB, d.Clock), Auth: auth.NewAuthenticator(d.DB, d.Clock)}
	g.Auth.Vault, g.Auth.Policy = d.Vault, d.MFA
	h := &Handler{Deps: d, guard: g, pages: pages}
	h.mfa = &ui.MFAFlow{Guard: g, Pages: pages, Page: h.page, Fail: h.fail, Remote: h.remote, Log: d.Log}
	return h, nil
}

// Guard exposes the sign-in machinery (tests shorten lifetimes through it).
func (h *Handler) Guard() *ui.Guard { return h.guard }

// Register mounts the panel on mux under /console/.
func (h *Handler) Register(mux *http.ServeMux) {
	m := http.NewServeMux()
	m.Handle("GET /console/assets/", http.StripPrefix("/console/assets/", ui.Assets()))
	m.HandleFunc("GET /console/login", h.loginForm)
	m.HandleFunc("POST /console/login", h.login)
	m.HandleFunc("POST /console/lang", h.setLang)
	m.HandleFunc("GET /console/help", h.help)
	m.HandleFunc("POST /console/logout", h.signedIn(h.logout))
	m.HandleFunc("GET /console/{$}", h.signedIn(h.dashboard))
	m.HandleFunc("GET /console/payments", h.signedIn(h.payments))
	m.HandleFunc("GET /console/payments.csv", h.signedIn(h.paymentsCSV))
	m.HandleFunc("GET /console/payments/{gid}", h.signedIn(h.payment))
	m.HandleFunc("POST /console/payments/{gid}/{action}", h.signedIn(h.admin(h.paymentAction)))
	h.registerNonCard(m) // convenience-store and bank payments: slip actions, method settings (noncard.go)
	m.HandleFunc("GET /console/autocharges", h.signedIn(h.autoCharges))
	m.HandleFunc("GET /console/autocharges/{acid}", h.signedIn(h.autoCharge))
	m.HandleFunc("POST /console/autocharges/{acid}/stop", h.signedIn(h.admin(h.stopAutoCharge)))
	m.HandleFunc("GET /console/kickbacks", h.signedIn(h.kickbackLog))                      // kickbacklog.go
	m.HandleFunc("POST /console/kickbacks/resend", h.signedIn(h.admin(h.bulkResend)))      // kickbacklog.go
	m.HandleFunc("GET /console/apikeys", h.signedIn(h.admin(h.apiKeys)))                   // apikeys.go
	m.HandleFunc("POST /console/apikeys", h.signedIn(h.admin(h.createAPIKey)))             // apikeys.go
	m.HandleFunc("POST /console/apikeys/{id}/revoke", h.signedIn(h.admin(h.revokeAPIKey))) // apikeys.go
	m.HandleFunc("POST /console/kickbacks/{id}/resend", h.signedIn(h.admin(h.resend)))
	m.HandleFunc("GET /console/settings", h.signedIn(h.settings))
	m.HandleFunc("POST /console/settings", h.signedIn(h.admin(h.saveSettings)))
	m.HandleFunc("POST /console/settings/authcode", h.signedIn(h.admin(h.authCode)))
	m.HandleFunc("POST /console/settings/products", h.signedIn(h.admin(h.putProduct)))
	m.HandleFunc("GET /console/links", h.signedIn(h.linksPage))
	m.HandleFunc("POST /console/links", h.signedIn(h.admin(h.createLink)))
	m.HandleFunc("GET /console/products", h.signedIn(h.products))
	m.HandleFunc("POST /console/products", h.signedIn(h.admin(h.saveProduct)))
	m.HandleFunc("GET /console/users", h.signedIn(h.admin(h.users)))
	m.HandleFunc("POST /console/users", h.signedIn(h.admin(h.createUser)))
	m.HandleFunc("POST /console/users/{id}/{action}", h.signedIn(h.admin(h.userAction)))
	m.HandleFunc("GET /console/password", h.signedIn(h.passwordForm))
	m.HandleFunc("POST /console/password", h.signedIn(h.changePassword))
	h.registerPasswordReset(m) // pwreset.go
	m.HandleFunc("GET /console/api/summary", h.apiSummary)
	h.registerSecurity(m)
	m.HandleFunc("/console/", func(w http.ResponseWriter, r *http.Request) { h.notFound(w, r) })
	mux.Handle("/console/", ui.Secure(h.gate(h.allowList(m))))
	mux.Handle("GET /console", http.RedirectHandler("/console/", http.StatusMovedPermanently))
}

// gate refuses every panel page while a window covering the panel is active: 503, Retry-After, the
// maintenance page (problem+json on the JSON API). Only the style sheet stays reachable.
func (h *Handler) gate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasPrefix(r.URL.Path, Base+"/assets/") {
			now := h.Clock.Now()
			if win := h.Gate(now, maintenance.OpPanel, maintenance.EveryBrand, r); win != nil {
				if strings.HasPrefix(r.URL.Path, Base+"/api/") {
					ui.MaintenanceProblem(w, r, win, now)
					return
				}
				ui.MaintenancePage(w, r, Base, h.Sandbox, ui.Lang(r, nil), win, now)
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

type handlerFunc func(w http.ResponseWriter, r *http.Request, who *ui.Who)

// signedIn requires a live session: a GET without one goes to the sign-in form; a POST without one,
// or without the session's CSRF token, is refused with 403.
func (h *Handler) signedIn(fn handlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		who, err := h.guard.Current(r)
		if err != nil {
			h.Log.Error("session lookup", "err", err)
			h.fail(w, r, nil, http.StatusServiceUnavailable, "一時的に利用できません。しばらくしてからお試しください。", "Temporarily unavailable; please try again shortly.")
			return
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			r.Body = http.MaxBytesReader(w, r.Body, 1<<20)
			if who == nil || !ui.CheckCSRF(r, who.Session) {
				h.fail(w, r, who, http.StatusForbidden, "フォームの有効期限が切れたか、不正なリクエストです。ページを読み込み直してください。",
					"The form expired or the request was forged. Reload the page and try again.")
				return
			}
		} else if who == nil {
			// a sign-in whose second factor is still due opens its code (or set-up) page only
			if p, _ := h.guard.Pending(r); p != nil {
				http.Redirect(w, r, h.guard.StagePath(p.Session.Stage, r.URL.RequestURI()), http.StatusSeeOther)
				return
			}
			http.Redirect(w, r, Base+"/login?next="+urlQueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
			return
		}
		fn(w, r.WithContext(ui.WithWho(r.Context(), who)), who)
	}
}

// admin lets only users who may act through: viewers get 403.
func (h *Handler) admin(fn handlerFunc) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request, who *ui.Who) {
		if !who.Account.CanAct() {
			h.fail(w, r, who, http.StatusForbidden, "この操作を行う権限がありません（閲覧のみのユーザーです）。",
				"You are not allowed to do this (view-only user).")
			return
		}
		fn(w, r, who)
	}
}

func (h *Handler) nav(lang, active string, who *ui.Who) []ui.NavItem {
	items := []struct{ key, href, ja, en string }{
		{"dashboard", Base + "/", "ダッシュボード", "Dashboard"},
		{"payments", Base + "/payments", "決済一覧", "Payments"},
		{"autocharges", Base + "/autocharges", "自動課金", "Auto-charges"},
		{"kickbacks", Base + "/kickbacks", "結果通知", "Kickbacks"},
		{"links", Base + "/links", "メール決済リンク", "Payment links by e-mail"},
		{"products", Base + "/products", "商品", "Products"},
		{"methods", Base + "/methods", "決済方法", "Payment methods"},
		{"settings", Base + "/settings", "設定", "Settings"},
		{"security", Base + "/security", "セキュリティ", "Security"},
	}
	var out []ui.NavItem
	for _, it := range items {
		out = append(out, ui.NavItem{Href: it.href, Label: ui.L(lang, it.ja, it.en), Active: it.key == active})
	}
	if who != nil && who.Account.CanAct() {
		out = append(out, ui.NavItem{Href: Base + "/users", Label: ui.L(lang, "ユーザー", "Users"), Active: active == "users"})
		out = append(out, ui.NavItem{Href: Base + "/apikeys", Label: ui.L(lang, "APIキー", "API keys"), Active: active == "apikeys"})
	}
	return out
}

// page builds the common part of a page.
func (h *Handler) page(r *http.Request, who *ui.Who, active, titleJA, titleEN string) *ui.Page {
	var s *store.Session
	if who != nil {
		s = who.Session
	}
	lang := ui.Lang(r, s)
	p := &ui.Page{Lang: lang, Base: Base, Console: ui.L(lang, "加盟店管理画面", "Merchant console"), Sandbox: h.Sandbox,
		Path: r.URL.RequestURI(), Title: ui.L(lang, titleJA, titleEN)}
	p.Banners = ui.Banners(h.Maint, h.Clock.Now(), lang)
	if who != nil {
		p.AID, p.User, p.Role, p.CanAct, p.CSRF = who.Account.AID, who.Account.Login, who.Account.Role, who.Account.CanAct(), who.Session.CSRF
		if st, err := h.Pay.Stores.Get(r.Context(), who.Account.AID); err == nil {
			p.StoreName = st.Name
		}
		p.Nav = h.nav(lang, active, who)
	}
	return p
}

// fail renders an error page.
func (h *Handler) fail(w http.ResponseWriter, r *http.Request, who *ui.Who, status int, ja, en string) {
	p := h.page(r, who, "", "エラー", "Error")
	if who == nil {
		p.CSRF = h.guard.PreToken(w, r)
	}
	p.Error = p.T(ja, en)
	p.Data = map[string]any{"Status": status, "SignedIn": who != nil}
	h.pages.Render(w, status, "error", p)
}

func (h *Handler) notFound(w http.ResponseWriter, r *http.Request) {
	who, _ := h.guard.Current(r)
	h.fail(w, r, who, http.StatusNotFound, "ページが見つかりません。", "Page not found.")
}

func (h *Handler) remote(r *http.Request) string {
	if h.RemoteIP == nil {
		return r.RemoteAddr
	}
	return h.RemoteIP(r).String()
}

// audit records a merchant action; a failure to write it is logged, not shown.
func (h *Handler) audit(r *http.Request, who *ui.Who, action, detail string) {
	e := store.AuditEntry{At: h.Clock.Now(), Actor: who.Account.Actor(), AID: who.Account.AID, Action: action, Detail: detail, Remote: h.remote(r)}
	if err := h.DB.Audit(context.WithoutCancel(r.Context()), e); err != nil {
		h.Log.Error("audit write failed", "action", action, "err", err)
	}
}

// store returns the signed-in user's store, fresh from the database.
func (h *Handler) store(r *http.Request, who *ui.Who) (*store.Store, error) {
	return h.DB.GetStore(r.Context(), who.Account.AID)
}

func (h *Handler) loginForm(w http.ResponseWriter, r *http.Request) {
	if who, _ := h.guard.Current(r); who != nil {
		http.Redirect(w, r, ui.SafeNext(r.URL.Query().Get("next"), Base), http.StatusSeeOther)
		return
	}
	h.renderLogin(w, r, http.StatusOK, "", "", "", "")
}

func (h *Handler) renderLogin(w http.ResponseWriter, r *http.Request, status int, aid, login, errJA, errEN string) {
	p := h.page(r, nil, "", "ログイン", "Sign in")
	p.CSRF = h.guard.PreToken(w, r)
	if errJA != "" {
		p.Error = p.T(errJA, errEN)
	}
	next := r.FormValue("next")
	p.Data = map[string]any{"AID": aid, "Login": login, "Next": ui.SafeNext(next, Base)}
	h.pages.Render(w, status, "login", p)
}

func (h *Handler) login(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	if !h.guard.CheckPre(r) {
		h.fail(w, r, nil, http.StatusForbidden, "フォームの有効期限が切れました。もう一度ログインしてください。", "The form expired. Please sign in again.")
		return
	}
	aid := strings.TrimSpace(r.PostFormValue("aid"))
	login := strings.TrimSpace(r.PostFormValue("login"))
	pw := r.PostFormValue("password")
	if aid == "" || login == "" || pw == "" || len(aid) > 16 || len(login) > 64 || len(pw) > 256 {
		h.renderLogin(w, r, http.StatusUnauthorized, aid, login, "店舗ID・ログインID・パスワードを入力してください。", "Enter the store ID, login ID and password.")
		return
	}
	if !h.signInAllowed(w, r, aid, login) {
		return
	}
	acc, out, err := h.guard.Auth.Login(r.Context(), store.SessionMerchant, aid, login, pw, h.remote(r))
	if err != nil {
		h.Log.Error("login", "err", err)
		h.renderLogin(w, r, http.StatusServiceUnavailable, aid, login, "一時的にログインできません。しばらくしてからお試しください。", "Sign-in is temporarily unavailable.")
		return
	}
	switch out {
	case auth.Throttled:
		h.renderLogin(w, r, http.StatusTooManyRequests, aid, login, "ログインの失敗が続いたため、しばらくログインできません。", "Too many failed attempts from your address; please wait and try again.")
		return
	case auth.Locked:
		h.renderLogin(w, r, http.StatusTooManyRequests, aid, login, "ログインの失敗が続いたため、このアカウントは一時的にロックされています（15分後に再度お試しください）。", "This account is locked for 15 minutes after repeated failures.")
		return
	case auth.BadCredentials:
		h.renderLogin(w, r, http.StatusUnauthorized, aid, login, "店舗ID・ログインID・パスワードのいずれかが正しくありません。", "The store ID, login ID or password is wrong.")
		return
	}
	// a new session on every sign-in (never the one the browser came with): no fixation; when a
	// second factor is due, the session opens its code or set-up page only
	if err := h.mfa.AfterPassword(w, r, acc, out); err != nil {
		h.Log.Error("session start", "err", err)
		h.renderLogin(w, r, http.StatusServiceUnavailable, aid, login, "一時的にログインできません。", "Sign-in is temporarily unavailable.")
	}
}

func (h *Handler) logout(w http.ResponseWriter, r *http.Request, who *ui.Who) {
	_ = h.guard.Sessions.End(r.Context(), who.Token)
	h.audit(r, who, auth.ActLogout, "")
	h.guard.ClearSession(w, r)
	http.Redirect(w, r, Base+"/login", http.StatusSeeOther)
}

// setLang switches the language: kept in a cookie, and in the session when signed in.
func (h *Handler) setLang(w http.ResponseWriter, r *http.Request) {
	h.guard.SetLang(w, r, h.DB, h.fail)
}

func (h *Handler) help(w http.ResponseWriter, r *http.Request) {
	who, _ := h.guard.Current(r)
	p := h.page(r, who, "", "マニュアル", "Manual")
	if who == nil {
		p.CSRF = h.guard.PreToken(w, r)
	}
	h.pages.Render(w, http.StatusOK, "help", p)
}

// errNotFound is what every look-up of another store's object turns into.
var errNotFound = errors.New("not found")
