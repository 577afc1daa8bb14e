// Package operator is the operator console (/operator/): the people who run Kessai manage stores
// (create, edit, suspend), the maintenance schedule (calendar, add / move / cancel, drafting from a
// rule, annual notice preview, publication, emergency start / extend / end), and read the e-mail
// and audit logs. It has its own accounts and stays available during maintenance, since it is how
// maintenance is ended.
package operator

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"kessai/internal/auth"
	"kessai/internal/clock"
	"kessai/internal/maintenance"
	"kessai/internal/payment"
	"kessai/internal/store"
	"kessai/internal/vault"
	"kessai/internal/web/ui"
)

//go:embed templates/*.html
var pageFS embed.FS

// Base is where the console is mounted.
const Base = "/operator"

// Deps is what the console needs from the server.
type Deps struct {
	DB       *store.DB
	Pay      *payment.Service
	Maint    *maintenance.Index
	RemoteIP func(r *http.Request) netip.Addr
	Clock    clock.Clock
	Sandbox  bool
	Log      *slog.Logger
	// Reload refreshes the in-memory maintenance index after a schedule change, so this instance
	// obeys at once (others follow through the schedule watcher within a second).
	Reload func(ctx context.Context)
	// Vault seals TOTP secrets (the card-data key ring); MFA is who must use a second factor.
	Vault *vault.KeyRing
	MFA   auth.Policy
}

// Handler serves the operator console.
type Handler struct {
	Deps
	guard *ui.Guard
	pages *ui.Renderer
	mfa   *ui.MFAFlow
}

// New builds the console.
func New(d Deps) (*Handler, error) {
	if d.Clock == nil {
		d.Clock = clock.Real{}
	}
	if d.Log == nil {
		d.Log = slog.Default()
	}
	pages, err := ui.NewRenderer(pageFS, d.Log)
	if err != nil {
		return nil, err
	}
	g := &ui.Guard{Kind: store.SessionOperator, Base: Base, Cookie: "kessai_operator",
		Sessions: auth.NewSessions(d.DB, d.Clock), Auth: auth.NewAuthenticator(d.DB, d.Clock)}
	g.Auth.Vault, g.Auth.Policy = d.Vault, d.MFA
	h := &Handler{Deps: d, guard: g, pages: pages}
	h.mfa = &ui.MFAFlow{Guard: g, Pages: pages, Page: h.page, Fail: h.fail, Remote: h.remote, Log: d.Log}
	return h, nil
}

// Guard exposes the sign-in machinery.
func (h *Handler) Guard() *ui.Guard { return h.guard }

// Register mounts the console on mux under /operator/.
func (h *Handler) Register(mux *http.ServeMux) {
	m := http.NewServeMux()
	m.Handle("GET /operator/assets/", http.StripPrefix("/operator/assets/", ui.Assets()))
	m.HandleFunc("GET /operator/login", h.loginForm)
	m.HandleFunc("POST /operator/login", h.login)
	m.HandleFunc("POST /operator/lang", h.setLang)
	m.HandleFunc("GET /operator/help", h.signedIn(h.help))
	m.HandleFunc("POST /operator/logout", h.signedIn(h.logout))
	m.HandleFunc("GET /operator/{$}", h.signedIn(h.dashboard))
	m.HandleFunc("GET /operator/stores", h.signedIn(h.stores))
	m.HandleFunc("POST /operator/stores", h.signedIn(h.createStore))
	m.HandleFunc("GET /operator/stores/{aid}", h.signedIn(h.storePage))
	m.HandleFunc("POST /operator/stores/{aid}", h.signedIn(h.updateStore))
	m.HandleFunc("POST /operator/stores/{aid}/suspend", h.signedIn(h.suspend))
	m.HandleFunc("POST /operator/stores/{aid}/users", h.signedIn(h.createUser))
	m.HandleFunc("GET /operator/maintenance", h.signedIn(h.maintenance))
	m.HandleFunc("POST /operator/maintenance/windows", h.signedIn(h.addWindow))
	m.HandleFunc("POST /operator/maintenance/windows/{id}/{action}", h.signedIn(h.windowAction))
	m.HandleFunc("POST /operator/maintenance/draft", h.signedIn(h.draft))
	m.HandleFunc("POST /operator/maintenance/draft/add", h.signedIn(h.addDraft))
	m.HandleFunc("GET /operator/maintenance/notice", h.signedIn(h.notice))
	m.HandleFunc("POST /operator/maintenance/publish", h.signedIn(h.publish))
	m.HandleFunc("POST /operator/maintenance/emergency", h.signedIn(h.emergency))
	m.HandleFunc("GET /operator/email", h.signedIn(h.emailLog))
	m.HandleFunc("GET /operator/audit", h.signedIn(h.auditLog))
	h.registerSecurity(m)
	m.HandleFunc("/operator/", func(w http.ResponseWriter, r *http.Request) {
		who, _ := h.guard.Current(r)
		h.fail(w, r, who, http.StatusNotFound, "ページが見つかりません。", "Page not found.")
	})
	mux.Handle("/operator/", ui.Secure(m))
	mux.Handle("GET /operator", http.RedirectHandler("/operator/", http.StatusMovedPermanently))
}

type handlerFunc func(w http.ResponseWriter, r *http.Request, who *ui.Who)

// signedIn requires an operator session; POSTs also need the session's CSRF token.
func (h *Handler) signedIn(fn handlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		who, err := h.guard.Current(r)
		if err != nil {
			h.Log.Error("session lookup", "err", err)
			h.fail(w, r, nil, http.StatusServiceUnavailable, "一時的に利用できません。", "Temporarily unavailable.")
			return
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			r.Body = http.MaxBytesReader(w, r.Body, 1<<20)
			if who == nil || !ui.CheckCSRF(r, who.Session) {
				h.fail(w, r, who, http.StatusForbidden, "フォームの有効期限が切れたか、不正なリクエストです。", "The form expired or the request was forged.")
				return
			}
		} else if who == nil {
			// a sign-in whose second factor is still due opens its code (or set-up) page only
			if p, _ := h.guard.Pending(r); p != nil {
				http.Redirect(w, r, h.guard.StagePath(p.Session.Stage, r.URL.RequestURI()), http.StatusSeeOther)
				return
			}
			http.Redirect(w, r, Base+"/login?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
			return
		}
		fn(w, r, who)
	}
}

func (h *Handler) page(r *http.Request, who *ui.Who, active, titleJA, titleEN string) *ui.Page {
	var s *store.Session
	if who != nil {
		s = who.Session
	}
	lang := ui.Lang(r, s)
	p := &ui.Page{Lang: lang, Base: Base, Console: ui.L(lang, "運用者コンソール", "Operator console"), Sandbox: h.Sandbox,
		Path: r.URL.RequestURI(), Title: ui.L(lang, titleJA, titleEN)}
	p.Banners = ui.Banners(h.Maint, h.Clock.Now(), lang)
	for i := range p.Banners {
		p.Banners[i].Href = Base + "/maintenance"
	}
	if who != nil {
		p.User, p.CanAct, p.CSRF = who.Account.Login, true, who.Session.CSRF
		items := []struct{ key, href, ja, en string }{
			{"dashboard", Base + "/", "概要", "Overview"},
			{"stores", Base + "/stores", "加盟店", "Stores"},
			{"maintenance", Base + "/maintenance", "メンテナンス", "Maintenance"},
			{"email", Base + "/email", "メール送信履歴", "E-mail log"},
			{"audit", Base + "/audit", "監査ログ", "Audit log"},
			{"security", Base + "/security", "セキュリティ", "Security"},
		}
		for _, it := range items {
			p.Nav = append(p.Nav, ui.NavItem{Href: it.href, Label: ui.L(lang, it.ja, it.en), Active: it.key == active})
		}
	}
	return p
}

func (h *Handler) fail(w http.ResponseWriter, r *http.Request, who *ui.Who, status int, ja, en string) {
	p := h.page(r, who, "", "エラー", "Error")
	if who == nil {
		p.CSRF = h.guard.PreToken(w, r)
	}
	p.Error = p.T(ja, en)
	p.Data = map[string]any{"Status": status, "SignedIn": who != nil}
	h.pages.Render(w, status, "error", p)
}

func (h *Handler) unavailable(w http.ResponseWriter, r *http.Request, who *ui.Who, err error) {
	h.Log.Error("operator console", "path", r.URL.Path, "err", err)
	h.fail(w, r, who, http.StatusServiceUnavailable, "一時的に利用できません。", "Temporarily unavailable.")
}

func (h *Handler) remote(r *http.Request) string {
	if h.RemoteIP == nil {
		return r.RemoteAddr
	}
	return h.RemoteIP(r).String()
}

func (h *Handler) audit(r *http.Request, who *ui.Who, aid, action, detail string) {
	e := store.AuditEntry{At: h.Clock.Now(), Actor: who.Account.Actor(), AID: aid, Action: action, Detail: detail, Remote: h.remote(r)}
	if err := h.DB.Audit(context.WithoutCancel(r.Context()), e); err != nil {
		h.Log.Error("audit write failed", "action", action, "err", err)
	}
}

func (h *Handler) loginForm(w http.ResponseWriter, r *http.Request) {
	if who, _ := h.guard.Current(r); who != nil {
		http.Redirect(w, r, ui.SafeNext(r.URL.Query().Get("next"), Base), http.StatusSeeOther)
		return
	}
	h.renderLogin(w, r, http.StatusOK, "", "", "")
}

func (h *Handler) renderLogin(w http.ResponseWriter, r *http.Request, status int, login, ja, en string) {
	p := h.page(r, nil, "", "運用者ログイン", "Operator sign-in")
	p.CSRF = h.guard.PreToken(w, r)
	if ja != "" {
		p.Error = p.T(ja, en)
	}
	p.Data = map[string]any{"Login": login, "Next": ui.SafeNext(r.FormValue("next"), Base)}
	h.pages.Render(w, status, "login", p)
}

func (h *Handler) login(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	if !h.guard.CheckPre(r) {
		h.fail(w, r, nil, http.StatusForbidden, "フォームの有効期限が切れました。", "The form expired.")
		return
	}
	login := strings.TrimSpace(r.PostFormValue("login"))
	pw := r.PostFormValue("password")
	if login == "" || pw == "" || len(login) > 64 || len(pw) > 256 {
		h.renderLogin(w, r, http.StatusUnauthorized, login, "ログインIDとパスワードを入力してください。", "Enter the login ID and password.")
		return
	}
	acc, out, err := h.guard.Auth.Login(r.Context(), store.SessionOperator, "", login, pw, h.remote(r))
	if err != nil {
		h.Log.Error("operator login", "err", err)
		h.renderLogin(w, r, http.StatusServiceUnavailable, login, "一時的にログインできません。", "Sign-in is temporarily unavailable.")
		return
	}
	switch out {
	case auth.Throttled:
		h.renderLogin(w, r, http.StatusTooManyRequests, login, "失敗が続いたため、しばらくログインできません。", "Too many failed attempts from your address.")
		return
	case auth.Locked:
		h.renderLogin(w, r, http.StatusTooManyRequests, login, "このアカウントは一時的にロックされています。", "This account is locked for 15 minutes.")
		return
	case auth.BadCredentials:
		h.renderLogin(w, r, http.StatusUnauthorized, login, "ログインIDまたはパスワードが正しくありません。", "The login ID or password is wrong.")
		return
	}
	// a new session on every sign-in (never the one the browser came with): no fixation; when a
	// second factor is due, the session opens its code or set-up page only
	if err := h.mfa.AfterPassword(w, r, acc, out); err != nil {
		h.Log.Error("operator session start", "err", err)
		h.renderLogin(w, r, http.StatusServiceUnavailable, login, "一時的にログインできません。", "Sign-in is temporarily unavailable.")
	}
}

func (h *Handler) logout(w http.ResponseWriter, r *http.Request, who *ui.Who) {
	_ = h.guard.Sessions.End(r.Context(), who.Token)
	h.audit(r, who, "", auth.ActLogout, "")
	h.guard.ClearSession(w, r)
	http.Redirect(w, r, Base+"/login", http.StatusSeeOther)
}

func (h *Handler) setLang(w http.ResponseWriter, r *http.Request) {
	h.guard.SetLang(w, r, h.DB, h.fail)
}

func (h *Handler) help(w http.ResponseWriter, r *http.Request, who *ui.Who) {
	h.pages.Render(w, http.StatusOK, "help", h.page(r, who, "", "運用マニュアル", "Operator manual"))
}

func (h *Handler) dashboard(w http.ResponseWriter, r *http.Request, who *ui.Who) {
	p := h.page(r, who, "dashboard", "概要", "Overview")
	now := h.Clock.Now()
	ss, err := h.DB.ListStores(r.Context())
	if err != nil {
		h.unavailable(w, r, who, err)
		return
	}
	suspended := 0
	for _, s := range ss {
		if s.Suspended {
			suspended++
		}
	}
	recent, err := h.DB.AuditLog(r.Context(), store.AuditFilter{Limit: 15})
	if err != nil {
		h.unavailable(w, r, who, err)
		return
	}
	p.Data = map[string]any{"Stores": len(ss), "Suspended": suspended, "Active": h.Maint.Active(now),
		"Upcoming": h.windowViews(h.Maint.Upcoming(now, 5), now, p.Lang), "Audit": recent, "Now": ui.FormatTime(now)}
	h.pages.Render(w, http.StatusOK, "dashboard", p)
}

var aidRe = regexp.MustCompile(`^[0-9]{6}$`)

func (h *Handler) stores(w http.ResponseWriter, r *http.Request, who *ui.Who) {
	h.renderStores(w, r, who, http.StatusOK, "")
}

func (h *Handler) renderStores(w http.ResponseWriter, r *http.Request, who *ui.Who, status int, errMsg string) {
	p := h.page(r, who, "stores", "加盟店", "Stores")
	ss, err := h.DB.ListStores(r.Context())
	if err != nil {
		h.unavailable(w, r, who, err)
		return
	}
	if r.URL.Query().Get("done") == "created" {
		p.Flash = p.T("加盟店を作成しました。", "The store was created.")
	}
	p.Error = errMsg
	p.Data = map[string]any{"Stores": ss}
	h.pages.Render(w, status, "stores", p)
}

func (h *Handler) createStore(w http.ResponseWriter, r *http.Request, who *ui.Who) {
	lang := ui.Lang(r, who.Session)
	aid := strings.TrimSpace(r.PostFormValue("aid"))
	name := strings.TrimSpace(r.PostFormValue("name"))
	if !aidRe.MatchString(aid) {
		h.renderStores(w, r, who, http.StatusUnprocessableEntity, ui.L(lang, "店舗IDは6桁の数字です。", "The store ID is 6 digits."))
		return
	}
	if name == "" || len([]rune(name)) > 100 {
		h.renderStores(w, r, who, http.StatusUnprocessableEntity, ui.L(lang, "店舗名を100文字以内で入力してください。", "Enter a store name of up to 100 characters."))
		return
	}
	st := store.NewStore(aid, name)
	st.Require3DS = true // stores created from now on require 3-D Secure (EMV 3DS, mandatory since 2025-03)
	st.NotifyEmail = strings.TrimSpace(r.PostFormValue("notify_email"))
	err := h.DB.CreateStore(r.Context(), st)
	if errors.Is(err, store.ErrConflict) {
		h.renderStores(w, r, who, http.StatusConflict, ui.L(lang, "この店舗IDは既に使われています。", "That store ID is taken."))
		return
	}
	if err != nil {
		h.unavailable(w, r, who, err)
		return
	}
	h.Pay.Stores.Invalidate()
	h.audit(r, who, aid, "store.create", "name="+name)
	http.Redirect(w, r, Base+"/stores/"+aid+"?done=created", http.StatusSeeOther)
}

func (h *Handler) loadStore(w http.ResponseWriter, r *http.Request, who *ui.Who) *store.Store {
	aid := r.PathValue("aid")
	if !aidRe.MatchString(aid) {
		h.fail(w, r, who, http.StatusNotFound, "加盟店が見つかりません。", "No such store.")
		return nil
	}
	st, err := h.DB.GetStore(r.Context(), aid)
	if errors.Is(err, store.ErrNotFound) {
		h.fail(w, r, who, http.StatusNotFound, "加盟店が見つかりません。", "No such store.")
		return nil
	}
	if err != nil {
		h.unavailable(w, r, who, err)
		return nil
	}
	return st
}

func (h *Handler) storePage(w http.ResponseWriter, r *http.Request, who *ui.Who) {
	if st := h.loadStore(w, r, who); st != nil {
		h.renderStore(w, r, who, st, http.StatusOK, "")
	}
}

func (h *Handler) renderStore(w http.ResponseWriter, r *http.Request, who *ui.Who, st *store.Store, status int, errMsg string) {
	p := h.page(r, who, "stores", "加盟店の編集", "Store")
	us, err := h.DB.Users(r.Context(), st.AID)
	if err != nil {
		h.unavailable(w, r, who, err)
		return
	}
	switch r.URL.Query().Get("done") {
	case "created":
		p.Flash = p.T("加盟店を作成しました。管理画面のユーザーを追加してください。", "The store was created; add a console user for it.")
	case "saved":
		p.Flash = p.T("保存しました。", "Saved.")
	case "suspended":
		p.Flash = p.T("加盟店を停止しました。決済は ER998 で拒否されます。", "The store is suspended; payments are refused with ER998.")
	case "resumed":
		p.Flash = p.T("加盟店の停止を解除しました。", "The store is active again.")
	case "user":
		p.Flash = p.T("ユーザーを追加しました。", "The user was added.")
	}
	p.Error = errMsg
	mfa, err := h.DB.MFAEnabledSet(r.Context(), st.AID)
	if err != nil {
		h.unavailable(w, r, who, err)
		return
	}
	if r.URL.Query().Get("done") == "mfareset" {
		p.Flash = p.T("ユーザーの2段階認証をリセットしました（ログイン中の端末はすべてログアウトされました）。", "The user's second factor was reset (and the user signed out everywhere).")
	}
	p.Data = map[string]any{"S": st, "Users": us, "IPs": strings.Join(st.AllowIPs, ", "), "Min": auth.MinPasswordLen, "MFA": mfa}
	if m, err := h.DB.GetStoreMethods(r.Context(), st.AID); err == nil {
		p.Data.(map[string]any)["Methods"] = m // payment methods (issue 13), read only here
	}
	h.pages.Render(w, status, "store", p)
}

func (h *Handler) updateStore(w http.ResponseWriter, r *http.Request, who *ui.Who) {
	st := h.loadStore(w, r, who)
	if st == nil {
		return
	}
	lang := ui.Lang(r, who.Session)
	f := r.PostFormValue
	var probs []string
	if n := strings.TrimSpace(f("name")); n != "" && len([]rune(n)) <= 100 {
		st.Name = n
	} else {
		probs = append(probs, ui.L(lang, "店舗名を100文字以内で入力してください", "Enter a name of up to 100 characters"))
	}
	minA, err1 := strconv.ParseInt(strings.TrimSpace(f("min_amount")), 10, 64)
	maxA, err2 := strconv.ParseInt(strings.TrimSpace(f("max_amount")), 10, 64)
	if err1 != nil || err2 != nil || minA < 0 || maxA < minA {
		probs = append(probs, ui.L(lang, "金額の上限・下限が正しくありません", "The amount limits make no sense"))
	} else {
		st.MinAmount, st.MaxAmount = minA, maxA
	}
	st.RequireCVV = f("require_cvv") == "on"
	st.Require3DS = f("require_3ds") == "on"
	st.NotifyEmail = strings.TrimSpace(f("notify_email"))
	switch e := f("encoding"); e {
	case "auto", "utf-8", "shift_jis":
		st.Encoding = e
	}
	switch e := f("kickback_encoding"); e {
	case "utf-8", "shift_jis":
		st.KickbackEncoding = e
	}
	if len(probs) > 0 {
		h.renderStore(w, r, who, st, http.StatusUnprocessableEntity, strings.Join(probs, " / "))
		return
	}
	if err := h.DB.UpdateStore(r.Context(), st); err != nil {
		h.unavailable(w, r, who, err)
		return
	}
	h.Pay.Stores.Invalidate()
	h.audit(r, who, st.AID, "store.update", fmt.Sprintf("name=%q min=%d max=%d cvv=%v 3ds=%v", st.Name, st.MinAmount, st.MaxAmount, st.RequireCVV, st.Require3DS))
	http.Redirect(w, r, Base+"/stores/"+st.AID+"?done=saved", http.StatusSeeOther)
}

// suspend stops or resumes a store; the wire answers ER998 for a suspended store from the next
// request on (the store cache is invalidated here).
func (h *Handler) suspend(w http.ResponseWriter, r *http.Request, who *ui.Who) {
	st := h.loadStore(w, r, who)
	if st == nil {
		return
	}
	action := r.PostFormValue("action")
	lang := ui.Lang(r, who.Session)
	reason := strings.TrimSpace(r.PostFormValue("reason"))
	switch action {
	case "suspend":
		// irreversible for the merchant's customers: confirm with the store's name and what
		// happens, and require a reason (issue 15 item 14)
		if r.PostFormValue("confirm") != "yes" || reason == "" {
			c := confirmation{
				Heading:  ui.L(lang, "加盟店の利用を停止しますか？", "Suspend this store?"),
				Question: ui.L(lang, "加盟店 "+st.AID+"「"+st.Name+"」の利用を停止します。", "You are about to suspend store "+st.AID+" ("+st.Name+")."),
				Consequences: []string{
					ui.L(lang, "この加盟店のすべての決済（リンク方式・サーバ間・自動課金・トークン）が、次のリクエストからエラーコード ER998 で拒否されます。",
						"Every payment of this store (hosted page, server-to-server, auto-charge, tokens) is refused with ER998 from the next request."),
					ui.L(lang, "お客様の決済画面には「ご利用いただけません」と表示されます。", "Its customers see that payment is unavailable."),
					ui.L(lang, "停止は「停止を解除する」でいつでも元に戻せます。理由は監査ログに残ります。", "You can resume the store at any time; the reason is kept in the audit log."),
				},
				Action: Base + "/stores/" + st.AID + "/suspend", Hidden: []hiddenField{{"action", "suspend"}},
				AskReason: true, Reason: reason, Button: ui.L(lang, "停止する", "Suspend the store"), Back: Base + "/stores/" + st.AID,
			}
			status := http.StatusOK
			if r.PostFormValue("confirm") == "yes" {
				c.ReasonError = ui.L(lang, "停止の理由を入力してください。", "Enter the reason for the suspension.")
				status = http.StatusUnprocessableEntity
			}
			h.confirm(w, r, who, status, c)
			return
		}
		st.Suspended = true
	case "resume":
		st.Suspended = false
	default:
		h.fail(w, r, who, http.StatusBadRequest, "不明な操作です。", "Unknown action.")
		return
	}
	if err := h.DB.UpdateStore(r.Context(), st); err != nil {
		h.unavailable(w, r, who, err)
		return
	}
	h.Pay.Stores.Invalidate()
	h.audit(r, who, st.AID, "store."+action, reason)
	done := map[string]string{"suspend": "suspended", "resume": "resumed"}[action]
	http.Redirect(w, r, Base+"/stores/"+st.AID+"?done="+done, http.StatusSeeOther)
}

// confirmation is the page that stands between an operator and an action that cannot be taken
// back: what it is, what will happen, and (when asked) a required reason.
type confirmation struct {
	Heading, Question    string
	Consequences         []string
	Action, Button, Back string
	Hidden               []hiddenField
	AskReason            bool
	Reason, ReasonError  string
}

type hiddenField struct{ Name, Value string }

func (h *Handler) confirm(w http.ResponseWriter, r *http.Request, who *ui.Who, status int, c confirmation) {
	p := h.page(r, who, "", "確認", "Confirm")
	p.Data = c
	h.pages.Render(w, status, "confirm", p)
}

var loginRe = regexp.MustCompile(`^[A-Za-z0-9._@-]{1,64}$`)

func (h *Handler) createUser(w http.ResponseWriter, r *http.Request, who *ui.Who) {
	st := h.loadStore(w, r, who)
	if st == nil {
		return
	}
	lang := ui.Lang(r, who.Session)
	login := strings.TrimSpace(r.PostFormValue("login"))
	pw := r.PostFormValue("password")
	role := r.PostFormValue("role")
	if !loginRe.MatchString(login) || (role != store.RoleAdmin && role != store.RoleViewer) {
		h.renderStore(w, r, who, st, http.StatusUnprocessableEntity, ui.L(lang, "ログインIDと権限を正しく入力してください。", "Enter a valid login ID and role."))
		return
	}
	if err := auth.CheckPasswordPolicy(pw); err != nil {
		h.renderStore(w, r, who, st, http.StatusUnprocessableEntity, ui.L(lang, fmt.Sprintf("パスワードは%d文字以上にしてください。", auth.MinPasswordLen), err.Error()))
		return
	}
	hash, err := auth.HashPassword(pw)
	if err != nil {
		h.unavailable(w, r, who, err)
		return
	}
	err = h.DB.CreateUser(r.Context(), &store.User{AID: st.AID, Login: login, PwHash: hash, Role: role})
	if errors.Is(err, store.ErrConflict) {
		h.renderStore(w, r, who, st, http.StatusConflict, ui.L(lang, "このログインIDは既に使われています。", "That login ID is taken."))
		return
	}
	if err != nil {
		h.unavailable(w, r, who, err)
		return
	}
	h.audit(r, who, st.AID, "user.create", "login="+login+" role="+role)
	http.Redirect(w, r, Base+"/stores/"+st.AID+"?done=user", http.StatusSeeOther)
}

func (h *Handler) emailLog(w http.ResponseWriter, r *http.Request, who *ui.Who) {
	p := h.page(r, who, "email", "メール送信履歴", "E-mail log")
	es, err := h.DB.Emails(r.Context(), 200)
	if err != nil {
		h.unavailable(w, r, who, err)
		return
	}
	p.Data = map[string]any{"Emails": es}
	h.pages.Render(w, http.StatusOK, "email", p)
}

func (h *Handler) auditLog(w http.ResponseWriter, r *http.Request, who *ui.Who) {
	p := h.page(r, who, "audit", "監査ログ", "Audit log")
	q := r.URL.Query()
	f := store.AuditFilter{AID: strings.TrimSpace(q.Get("aid")), Actor: strings.TrimSpace(q.Get("actor")), Action: strings.TrimSpace(q.Get("action")), Limit: 100}
	f.Before, _ = strconv.ParseInt(q.Get("before"), 10, 64)
	es, err := h.DB.AuditLog(r.Context(), f)
	if err != nil {
		h.unavailable(w, r, who, err)
		return
	}
	d := map[string]any{"Audit": es, "F": f}
	if len(es) == f.Limit {
		v := url.Values{}
		for k, s := range map[string]string{"aid": f.AID, "actor": f.Actor, "action": f.Action} {
			if s != "" {
				v.Set(k, s)
			}
		}
		v.Set("before", strconv.FormatInt(es[len(es)-1].ID, 10))
		d["Older"] = Base + "/audit?" + v.Encode()
	}
	p.Data = d
	h.pages.Render(w, http.StatusOK, "audit", p)
}

// formatDur prints a duration as operators type it (1h30m).
func formatDur(d time.Duration) string {
	return strings.TrimSuffix(strings.TrimSuffix(d.Round(time.Minute).String(), "0s"), "0m")
}
