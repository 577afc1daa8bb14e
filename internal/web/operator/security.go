package operator

import (
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"kessai/internal/auth"
	"kessai/internal/store"
	"kessai/internal/web/ui"
)

// registerSecurity mounts the two-step sign-in pages, the operator's own security page, and the
// reset of a panel user's second factor.
func (h *Handler) registerSecurity(m *http.ServeMux) {
	h.mfa.Register(m)
	m.HandleFunc("GET /operator/security", h.signedIn(h.security))
	m.HandleFunc("POST /operator/stores/{aid}/users/{id}/mfa-reset", h.signedIn(h.resetUserMFA))
	m.HandleFunc("POST /operator/stores/{aid}/users/{id}/password-reset", h.signedIn(h.resetUserPassword))
}

// storeUser finds the store and the panel user named by the path ({aid}, {id}) of an operator's
// action on a user; nil user when the answer (404, or unavailable) has been written.
func (h *Handler) storeUser(w http.ResponseWriter, r *http.Request, who *ui.Who) (*store.Store, *store.User) {
	st := h.loadStore(w, r, who)
	if st == nil {
		return nil, nil
	}
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil {
		h.fail(w, r, who, http.StatusNotFound, "ユーザーが見つかりません。", "No such user.")
		return nil, nil
	}
	u, err := h.DB.UserByID(r.Context(), st.AID, id)
	if errors.Is(err, store.ErrNotFound) {
		h.fail(w, r, who, http.StatusNotFound, "ユーザーが見つかりません。", "No such user.")
		return nil, nil
	}
	if err != nil {
		h.unavailable(w, r, who, err)
		return nil, nil
	}
	return st, u
}

// resetUserPassword issues a one-time password-reset link for a panel user who forgot the
// password (issue 15 item 11) and shows it once, for the operator to pass on after checking who
// asks; the link works for an hour, once, and ends the user's sessions when used. The reason goes
// to the audit log.
func (h *Handler) resetUserPassword(w http.ResponseWriter, r *http.Request, who *ui.Who) {
	st, u := h.storeUser(w, r, who)
	if u == nil {
		return
	}
	reason := strings.TrimSpace(r.PostFormValue("reason"))
	if reason == "" || len([]rune(reason)) > 200 {
		h.fail(w, r, who, http.StatusUnprocessableEntity, "再設定の理由を200文字以内で入力してください（監査ログに記録されます）。",
			"Give the reason for the reset, up to 200 characters (it goes to the audit log).")
		return
	}
	token, err := h.DB.CreatePasswordReset(r.Context(), st.AID, u.ID, who.Account.Actor())
	if err != nil {
		h.unavailable(w, r, who, err)
		return
	}
	h.audit(r, who, st.AID, "user.password.reset-link", "login="+u.Login+" reason="+reason)
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	p := h.page(r, who, "stores", "パスワード再設定リンク", "Password reset link")
	p.Data = map[string]any{"AID": st.AID, "Name": st.Name, "Login": u.Login,
		"Link": scheme + "://" + r.Host + "/console/password/reset?t=" + url.QueryEscape(token)}
	w.Header().Set("Cache-Control", "no-store")
	h.pages.Render(w, http.StatusOK, "pwlink", p)
}

func (h *Handler) security(w http.ResponseWriter, r *http.Request, who *ui.Who) {
	p := h.page(r, who, "security", "セキュリティ", "Security")
	ui.SecurityMessages(p, r)
	st, err := h.mfa.MFAStatusData(r, who)
	if err != nil {
		h.unavailable(w, r, who, err)
		return
	}
	p.Data = map[string]any{"MFA": st}
	h.pages.Render(w, http.StatusOK, "security", p)
}

// resetUserMFA removes a panel user's second factor (the user lost the phone and the recovery
// codes): the user is signed out everywhere and sets up a new one at the next sign-in if the
// policy requires it. The audit entry names the operator, the user and the reason given.
func (h *Handler) resetUserMFA(w http.ResponseWriter, r *http.Request, who *ui.Who) {
	st, u := h.storeUser(w, r, who)
	if u == nil {
		return
	}
	reason := strings.TrimSpace(r.PostFormValue("reason"))
	if reason == "" || len([]rune(reason)) > 200 {
		h.fail(w, r, who, http.StatusUnprocessableEntity, "リセットの理由を200文字以内で入力してください（監査ログに記録されます）。",
			"Give the reason for the reset, up to 200 characters (it goes to the audit log).")
		return
	}
	target := &auth.Account{Kind: store.SessionMerchant, ID: u.ID, AID: u.AID, Login: u.Login, Role: u.Role}
	if _, err := h.guard.Auth.Reset(r.Context(), target, who.Account.Actor(), reason, h.remote(r)); err != nil {
		h.unavailable(w, r, who, err)
		return
	}
	http.Redirect(w, r, Base+"/stores/"+st.AID+"?done=mfareset", http.StatusSeeOther)
}
