package console

import (
	"fmt"
	"net/http"
	"net/netip"
	"sort"
	"strings"

	"kessai/internal/auth"
	"kessai/internal/store"
	"kessai/internal/web/ui"
)

// Audit action of a change to a store's panel access rule.
const actStoreAccess = "store.access"

// registerSecurity mounts the two-step sign-in pages and the security page: the user's own
// second factor, and for admins the store's rule (second factor for every user, IP allow-list).
func (h *Handler) registerSecurity(m *http.ServeMux) {
	h.mfa.Register(m)
	m.HandleFunc("GET /console/security", h.signedIn(h.security))
	m.HandleFunc("POST /console/security/store", h.signedIn(h.admin(h.saveAccess)))
}

func (h *Handler) security(w http.ResponseWriter, r *http.Request, who *ui.Who) {
	h.renderSecurity(w, r, who, http.StatusOK, "", nil)
}

// renderSecurity shows the security page; form, when set, is what the admin typed (kept on an
// error).
func (h *Handler) renderSecurity(w http.ResponseWriter, r *http.Request, who *ui.Who, status int, errMsg string, form *store.StoreAccess) {
	p := h.page(r, who, "security", "セキュリティ", "Security")
	ui.SecurityMessages(p, r)
	if errMsg != "" {
		p.Error = errMsg
	}
	st, err := h.mfa.MFAStatusData(r, who)
	if err != nil {
		h.unavailable(w, r, who, err)
		return
	}
	acc, err := h.DB.GetStoreAccess(r.Context(), who.Account.AID)
	if err != nil {
		h.unavailable(w, r, who, err)
		return
	}
	if form != nil {
		acc = form
	}
	// the account's recent sign-ins and sign-in changes, so a person notices one that was not theirs
	var recent []store.AuditEntry
	for _, prefix := range []string{"login", "mfa.", "access.", "account."} {
		es, err := h.DB.AuditLog(r.Context(), store.AuditFilter{AID: who.Account.AID, Actor: who.Account.Actor(), Action: prefix, Limit: 10})
		if err != nil {
			h.unavailable(w, r, who, err)
			return
		}
		recent = append(recent, es...)
	}
	sort.Slice(recent, func(i, j int) bool { return recent[i].ID > recent[j].ID })
	if len(recent) > 10 {
		recent = recent[:10]
	}
	p.Data = map[string]any{"MFA": st, "Access": acc, "AllowText": strings.Join(acc.AllowCIDRs, "\n"), "MyIP": h.remote(r), "Recent": recent}
	h.pages.Render(w, status, "security", p)
}

// clientIP is the client's address as the server's RemoteIP decides it (trusted proxies and all).
func (h *Handler) clientIP(r *http.Request) netip.Addr {
	if h.RemoteIP != nil {
		return h.RemoteIP(r)
	}
	ap, _ := netip.ParseAddrPort(r.RemoteAddr)
	return ap.Addr()
}

// saveAccess saves the store's rule. It refuses an allow-list that would shut out the admin
// saving it, and a second-factor requirement the admin has not met yet; turning the
// requirement on signs out every user of the store who has no second factor.
func (h *Handler) saveAccess(w http.ResponseWriter, r *http.Request, who *ui.Who) {
	lang := ui.Lang(r, who.Session)
	ctx := r.Context()
	old, err := h.DB.GetStoreAccess(ctx, who.Account.AID)
	if err != nil {
		h.unavailable(w, r, who, err)
		return
	}
	text := r.PostFormValue("allow")
	form := &store.StoreAccess{AID: who.Account.AID, RequireMFA: r.PostFormValue("require_mfa") == "on"}
	list, perr := auth.ParseAllowList(text)
	if perr != nil {
		form.AllowCIDRs = strings.Fields(text)
		h.renderSecurity(w, r, who, http.StatusUnprocessableEntity,
			ui.L(lang, "IP許可リストに誤りがあります: ", "The IP allow-list is wrong: ")+perr.Error(), form)
		return
	}
	form.AllowCIDRs = list
	if !auth.AllowedFrom(list, h.clientIP(r)) {
		h.renderSecurity(w, r, who, http.StatusUnprocessableEntity, ui.L(lang,
			fmt.Sprintf("このままでは、あなた自身のアドレス（%s）から管理画面を利用できなくなります。許可リストに含めてください。", h.remote(r)),
			fmt.Sprintf("This list would lock you out: your own address (%s) is not in it.", h.remote(r))), form)
		return
	}
	if form.RequireMFA && !old.RequireMFA {
		st, err := h.mfa.MFAStatusData(r, who)
		if err != nil {
			h.unavailable(w, r, who, err)
			return
		}
		if !st.Enabled {
			h.renderSecurity(w, r, who, http.StatusUnprocessableEntity, ui.L(lang,
				"全ユーザーに2段階認証を必須にする前に、まずご自身の2段階認証を設定してください。",
				"Set up your own two-step sign-in before requiring it of every user."), form)
			return
		}
	}
	form.UpdatedAt = h.Clock.Now()
	if err := h.DB.SetStoreAccess(ctx, form); err != nil {
		h.unavailable(w, r, who, err)
		return
	}
	if form.RequireMFA && !old.RequireMFA {
		if err := h.DB.EndSessionsWithoutMFA(ctx, who.Account.AID, who.Account.ID); err != nil {
			h.Log.Error("end sessions without a second factor", "err", err)
		}
	}
	allow := strings.Join(list, ",")
	if allow == "" {
		allow = "any"
	}
	h.audit(r, who, actStoreAccess, fmt.Sprintf("require_mfa=%v allow=%s", form.RequireMFA, allow))
	http.Redirect(w, r, Base+"/security?done=saved", http.StatusSeeOther)
}

// allowList refuses every panel request of a session whose store has an IP allow-list that does
// not include the client's address (as the server's RemoteIP sees it): a clear page, 403, and an
// audit entry. Requests without a session are left to the sign-in, which checks the store typed
// into the form (signInAllowed).
func (h *Handler) allowList(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, Base+"/assets/") {
			next.ServeHTTP(w, r)
			return
		}
		// the session's store is all this needs: the account is loaded only to name it on a refusal
		c, err := r.Cookie(h.guard.Cookie)
		if err != nil || c.Value == "" {
			next.ServeHTTP(w, r)
			return
		}
		s, err := h.guard.Sessions.Get(r.Context(), store.SessionMerchant, c.Value)
		if err != nil {
			next.ServeHTTP(w, r) // no session: the page itself answers (a failing database too)
			return
		}
		acc, err := h.DB.GetStoreAccess(r.Context(), s.AID)
		if err != nil {
			h.unavailable(w, r, nil, err)
			return
		}
		if auth.AllowedFrom(acc.AllowCIDRs, h.clientIP(r)) {
			next.ServeHTTP(w, r)
			return
		}
		actor := "user:" + s.AID + "/?"
		if a, err := h.guard.Auth.Load(r.Context(), s); err == nil {
			actor = a.Actor()
		}
		h.refuseAddress(w, r, actor, s.AID, r.Method+" "+r.URL.Path)
	})
}

// signInAllowed checks the sign-in form's store against its allow-list before any password is
// looked at; it answers and returns false when the address is refused.
func (h *Handler) signInAllowed(w http.ResponseWriter, r *http.Request, aid, login string) bool {
	acc, err := h.DB.GetStoreAccess(r.Context(), aid)
	if err != nil {
		h.unavailable(w, r, nil, err)
		return false
	}
	if auth.AllowedFrom(acc.AllowCIDRs, h.clientIP(r)) {
		return true
	}
	h.refuseAddress(w, r, auth.ActorOf(store.SessionMerchant, aid, login), aid, "sign-in")
	return false
}

func (h *Handler) refuseAddress(w http.ResponseWriter, r *http.Request, actor, aid, what string) {
	ip := h.remote(r)
	e := store.AuditEntry{At: h.Clock.Now(), Actor: actor, AID: aid, Action: auth.ActAccessRefused,
		Detail: "address not in the store's panel allow-list: " + what, Remote: ip}
	if err := h.DB.Audit(r.Context(), e); err != nil {
		h.Log.Error("audit write failed", "action", e.Action, "err", err)
	}
	if strings.HasPrefix(r.URL.Path, Base+"/api/") {
		ui.WriteProblem(w, ui.Problem{Type: "about:blank", Title: "Address not allowed", Status: http.StatusForbidden, Code: "ip_not_allowed",
			Detail: "This store's control panel can be used only from its allowed networks.", Instance: r.URL.Path})
		return
	}
	h.fail(w, r, nil, http.StatusForbidden,
		fmt.Sprintf("この店舗の管理画面は、許可されたネットワークからのみ利用できます（お使いのアドレス: %s）。店舗の管理者にIP許可リストの変更を依頼してください。", ip),
		fmt.Sprintf("This store's control panel can be used only from its allowed networks (your address: %s). Ask the store's administrator to change the IP allow-list.", ip))
}
