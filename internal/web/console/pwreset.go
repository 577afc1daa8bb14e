package console

import (
	"errors"
	"fmt"
	"net/http"
	"net/mail"
	"net/url"
	"strings"

	"kessai/internal/auth"
	"kessai/internal/store"
	"kessai/internal/web/ui"
)

// Password reset for panel users (issue 15 item 11): a user who forgot the password asks for a
// one-time link, mailed through the configured SMTP relay to the address the user set on the
// password page; an operator can issue the same link from the operator console. A link works once,
// for an hour; using it unlocks the account and ends every session of the user.

func (h *Handler) registerPasswordReset(m *http.ServeMux) {
	m.HandleFunc("GET /console/password/forgot", h.forgotForm)
	m.HandleFunc("POST /console/password/forgot", h.forgot)
	m.HandleFunc("GET /console/password/reset", h.resetForm)
	m.HandleFunc("POST /console/password/reset", h.reset)
	m.HandleFunc("POST /console/password/email", h.signedIn(h.setResetEmail))
}

// resetBase is the absolute address reset links point to: the configured public URL, or in the
// sandbox the address the request came to. Without a public URL a production server sends no reset
// mail (a Host header an attacker chose must never become the link's host).
func (h *Handler) resetBase(r *http.Request) string {
	if h.PublicURL != "" {
		return strings.TrimRight(h.PublicURL, "/")
	}
	if h.Sandbox {
		return publicBase(r)
	}
	return ""
}

func (h *Handler) forgotForm(w http.ResponseWriter, r *http.Request) {
	h.renderForgot(w, r, http.StatusOK, "", "", false)
}

func (h *Handler) renderForgot(w http.ResponseWriter, r *http.Request, status int, aid, login string, sent bool) {
	p := h.page(r, nil, "", "パスワードの再設定", "Reset your password")
	p.CSRF = h.guard.PreToken(w, r)
	p.Data = map[string]any{"AID": aid, "Login": login, "Sent": sent, "MailOff": h.Mail == nil || h.resetBase(r) == ""}
	h.pages.Render(w, status, "forgot", p)
}

// forgot mails a reset link when the account exists and has an address; the answer is the same
// either way, so the form tells nobody which accounts exist.
func (h *Handler) forgot(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 16<<10)
	if !h.guard.CheckPre(r) {
		h.fail(w, r, nil, http.StatusForbidden, "フォームの有効期限が切れました。もう一度お試しください。", "The form expired. Please try again.")
		return
	}
	aid := strings.TrimSpace(r.PostFormValue("aid"))
	login := strings.TrimSpace(r.PostFormValue("login"))
	if aid == "" || login == "" || len(aid) > 16 || len(login) > 64 {
		p := h.page(r, nil, "", "パスワードの再設定", "Reset your password")
		p.CSRF = h.guard.PreToken(w, r)
		p.Error = p.T("店舗IDとログインIDを入力してください。", "Enter the store ID and the login ID.")
		p.Data = map[string]any{"AID": aid, "Login": login, "MailOff": h.Mail == nil || h.resetBase(r) == ""}
		h.pages.Render(w, http.StatusUnprocessableEntity, "forgot", p)
		return
	}
	base := h.resetBase(r)
	// the store's panel allow-list applies to the reset as to sign-in; refused silently, as for
	// an unknown account
	allowed := false
	if acc, err := h.DB.GetStoreAccess(r.Context(), aid); err == nil {
		allowed = auth.AllowedFrom(acc.AllowCIDRs, h.clientIP(r))
	}
	if h.Mail != nil && base != "" && allowed {
		if u, err := h.DB.UserByLogin(r.Context(), aid, login); err == nil {
			if to, err := h.DB.UserEmail(r.Context(), aid, u.ID); err == nil && to != "" {
				token, err := h.DB.CreatePasswordReset(r.Context(), aid, u.ID, "self")
				if err == nil {
					link := base + Base + "/password/reset?t=" + url.QueryEscape(token)
					body := fmt.Sprintf("Kessai 加盟店管理画面（店舗ID %s、ログインID %s）のパスワード再設定のご依頼を受け付けました。\n"+
						"1時間以内に次のリンクを開き、新しいパスワードを設定してください（1回だけ使えます）。\n\n%s\n\n"+
						"お心当たりのない場合は、このメールを破棄してください。パスワードは変わりません。\n\n"+
						"---------------- English ----------------\n\n"+
						"We received a request to reset the password of the Kessai merchant console (store ID %s, login ID %s).\n"+
						"Open this link within an hour to set a new one (it works once):\n\n%s\n\n"+
						"If you did not ask for this, ignore this e-mail; your password stays as it is.\n", aid, login, link, aid, login, link)
					if err := h.Mail.Send(r.Context(), to, "【Kessai】パスワード再設定のご案内 / Reset your password", body); err != nil {
						h.Log.Warn("password reset mail not sent", "aid", aid, "err", err)
					}
					h.DB.Audit(r.Context(), store.AuditEntry{Actor: "user:" + login, AID: aid, Action: "password.reset.requested", Remote: h.remote(r)})
				} else {
					h.Log.Error("password reset", "err", err)
				}
			}
		}
	}
	h.renderForgot(w, r, http.StatusOK, "", "", true)
}

func (h *Handler) resetForm(w http.ResponseWriter, r *http.Request) {
	h.renderReset(w, r, http.StatusOK, r.URL.Query().Get("t"), "")
}

func (h *Handler) renderReset(w http.ResponseWriter, r *http.Request, status int, token, errMsg string) {
	p := h.page(r, nil, "", "新しいパスワードの設定", "Set a new password")
	u, err := h.DB.PasswordResetUser(r.Context(), token)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		h.unavailable(w, r, nil, err)
		return
	}
	p.CSRF = h.guard.PreToken(w, r)
	p.Error = errMsg
	d := map[string]any{"Token": token, "Min": auth.MinPasswordLen, "Valid": u != nil}
	if u != nil {
		d["AID"], d["Login"] = u.AID, u.Login
	} else if status == http.StatusOK {
		status = http.StatusNotFound
	}
	p.Data = d
	h.pages.Render(w, status, "reset", p)
}

func (h *Handler) reset(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 16<<10)
	if !h.guard.CheckPre(r) {
		h.fail(w, r, nil, http.StatusForbidden, "フォームの有効期限が切れました。もう一度お試しください。", "The form expired. Please try again.")
		return
	}
	lang := ui.Lang(r, nil)
	token := r.PostFormValue("t")
	pw := r.PostFormValue("new")
	if err := auth.CheckPasswordPolicy(pw); err != nil {
		h.renderReset(w, r, http.StatusUnprocessableEntity, token, ui.L(lang, fmt.Sprintf("パスワードは%d文字以上にしてください。", auth.MinPasswordLen), err.Error()))
		return
	}
	if pw != r.PostFormValue("confirm") {
		h.renderReset(w, r, http.StatusUnprocessableEntity, token, ui.L(lang, "確認用パスワードが一致しません。", "The passwords do not match."))
		return
	}
	hash, err := auth.HashPassword(pw)
	if err != nil {
		h.unavailable(w, r, nil, err)
		return
	}
	u, err := h.DB.UsePasswordReset(r.Context(), token, hash)
	if errors.Is(err, store.ErrNotFound) {
		h.renderReset(w, r, http.StatusNotFound, token, "")
		return
	}
	if err != nil {
		h.unavailable(w, r, nil, err)
		return
	}
	h.DB.Audit(r.Context(), store.AuditEntry{Actor: "user:" + u.Login, AID: u.AID, Action: "password.reset", Remote: h.remote(r)})
	h.renderLogin(w, r, http.StatusOK, u.AID, u.Login, "", "")
}

// setResetEmail sets the signed-in user's own password-reset address.
func (h *Handler) setResetEmail(w http.ResponseWriter, r *http.Request, who *ui.Who) {
	lang := ui.Lang(r, who.Session)
	email := strings.TrimSpace(r.PostFormValue("email"))
	if email != "" {
		if a, err := mail.ParseAddress(email); err != nil || a.Address != email || len(email) > 254 {
			h.renderPasswordWith(w, r, who, http.StatusUnprocessableEntity, "", email,
				ui.L(lang, "メールアドレスの形式が正しくありません（例: taro@example.jp）。", "Not an e-mail address (e.g. taro@example.jp)."))
			return
		}
	}
	if err := h.DB.SetUserEmail(r.Context(), who.Account.AID, who.Account.ID, email); err != nil {
		h.unavailable(w, r, who, err)
		return
	}
	h.audit(r, who, "password.email", "")
	http.Redirect(w, r, Base+"/password?done=email", http.StatusSeeOther)
}
