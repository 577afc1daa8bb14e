package console

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"kessai/internal/api"
	"kessai/internal/store"
	"kessai/internal/web/ui"
)

// apiKeys lists the store's API keys (admins only): name, prefix, created, last used, revoked.
func (h *Handler) apiKeys(w http.ResponseWriter, r *http.Request, who *ui.Who) {
	h.renderAPIKeys(w, r, who, http.StatusOK, "", "", "", "")
}

func (h *Handler) renderAPIKeys(w http.ResponseWriter, r *http.Request, who *ui.Who, status int, newKey, name, errJA, errEN string) {
	ks, err := h.DB.APIKeys(r.Context(), who.Account.AID)
	if err != nil {
		h.unavailable(w, r, who, err)
		return
	}
	p := h.page(r, who, "apikeys", "APIキー", "API keys")
	if errJA != "" {
		p.Error = p.T(errJA, errEN)
	}
	if r.URL.Query().Get("done") == "revoke" {
		p.Flash = p.T("APIキーを無効にしました。", "The API key was revoked.")
	}
	p.Data = map[string]any{"Keys": ks, "NewKey": newKey, "Name": name, "NameError": errJA != ""}
	h.pages.Render(w, status, "apikeys", p)
}

// createAPIKey makes a key and shows it once, in this answer only; only its hash is stored.
func (h *Handler) createAPIKey(w http.ResponseWriter, r *http.Request, who *ui.Who) {
	name := strings.TrimSpace(r.PostFormValue("name"))
	if err := api.CheckName(name); err != nil {
		h.renderAPIKeys(w, r, who, http.StatusUnprocessableEntity, "", name, "名前を1〜64文字で入力してください（制御文字は使えません）。",
			"Give the key a name of 1–64 characters (no control characters).")
		return
	}
	now := h.Clock.Now()
	text, k := api.NewKey(who.Account.AID, name, who.Account.Actor(), now)
	audit := store.AuditEntry{At: now, Actor: who.Account.Actor(), AID: who.Account.AID, Action: "apikey.create",
		Detail: fmt.Sprintf("name=%s prefix=%s", k.Name, k.Prefix), Remote: h.remote(r)}
	if err := h.DB.CreateAPIKey(r.Context(), k, audit); err != nil {
		h.unavailable(w, r, who, err)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	h.renderAPIKeys(w, r, who, http.StatusOK, text, "", "", "")
}

func (h *Handler) revokeAPIKey(w http.ResponseWriter, r *http.Request, who *ui.Who) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil {
		h.notFound(w, r)
		return
	}
	now := h.Clock.Now()
	err = h.DB.RevokeAPIKey(r.Context(), who.Account.AID, id, now, store.AuditEntry{At: now, Actor: who.Account.Actor(),
		AID: who.Account.AID, Action: "apikey.revoke", Detail: fmt.Sprintf("id=%d", id), Remote: h.remote(r)})
	if errors.Is(err, store.ErrNotFound) {
		h.fail(w, r, who, http.StatusNotFound, "このAPIキーは見つからないか、すでに無効です。", "No such active API key.")
		return
	}
	if err != nil {
		h.unavailable(w, r, who, err)
		return
	}
	http.Redirect(w, r, Base+"/apikeys?done=revoke", http.StatusSeeOther)
}
