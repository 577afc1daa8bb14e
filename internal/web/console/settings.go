package console

import (
	"crypto/rand"
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"net/url"
	"regexp"
	"strconv"
	"strings"

	"kessai/internal/auth"
	"kessai/internal/store"
	"kessai/internal/web/ui"
)

func (h *Handler) kickbacks(w http.ResponseWriter, r *http.Request, who *ui.Who) {
	p := h.page(r, who, "kickbacks", "結果通知", "Kickbacks")
	gid := strings.TrimSpace(r.URL.Query().Get("gid"))
	if gid != "" && !digitsRe.MatchString(gid) {
		gid = "-"
	}
	kbs, err := h.kickbacksWithAttempts(r, who.Account.AID, gid, 100)
	if err != nil {
		h.unavailable(w, r, who, err)
		return
	}
	if r.URL.Query().Get("done") == "resend" {
		p.Flash = p.T("結果通知を再送信します。", "The kickback will be sent again.")
	}
	p.Data = map[string]any{"Kickbacks": kbs, "Gid": r.URL.Query().Get("gid")}
	h.pages.Render(w, http.StatusOK, "kickbacks", p)
}

func (h *Handler) resend(w http.ResponseWriter, r *http.Request, who *ui.Who) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil {
		h.notFound(w, r)
		return
	}
	k, err := h.DB.GetKickback(r.Context(), who.Account.AID, id)
	if errors.Is(err, store.ErrNotFound) {
		h.fail(w, r, who, http.StatusNotFound, "この結果通知は見つかりません。", "No such kickback.")
		return
	}
	if err != nil {
		h.unavailable(w, r, who, err)
		return
	}
	if err := h.DB.Resend(r.Context(), who.Account.AID, id, h.Clock.Now()); err != nil {
		h.unavailable(w, r, who, err)
		return
	}
	h.Pay.Nudge()
	h.audit(r, who, "kickback.resend", fmt.Sprintf("id=%d gid=%s", id, k.Gid))
	if r.PostFormValue("back") == "payment" {
		http.Redirect(w, r, Base+"/payments/"+k.Gid+"?done=resend", http.StatusSeeOther)
		return
	}
	http.Redirect(w, r, Base+"/kickbacks?done=resend", http.StatusSeeOther)
}

// Brands a store can accept.
var allBrands = []string{"VISA", "MASTER", "JCB", "AMEX", "DINERS"}

type settingsView struct {
	S        *store.Store
	Products []store.Product
	IPs      string
	Origins  string
	Brands   map[string]bool
	All      []string
	// KickbackFrom are the addresses Kessai's kickbacks come from (serve --kickback-source).
	KickbackFrom []string
	// Errors are the settings form's problems by field name, shown next to each field.
	Errors map[string]string
}

// settingsInput is a refused settings form as typed: its text fields and the problems by field.
type settingsInput struct {
	IPs, Origins string
	Errors       map[string]string
}

func (h *Handler) settings(w http.ResponseWriter, r *http.Request, who *ui.Who) {
	h.renderSettings(w, r, who, http.StatusOK, "", nil)
}

func (h *Handler) renderSettings(w http.ResponseWriter, r *http.Request, who *ui.Who, status int, errMsg string, typed *store.Store) {
	h.renderSettingsInput(w, r, who, status, errMsg, typed, nil)
}

// renderSettingsInput renders the settings with a refused form: each problem next to its field,
// and every field as typed (issue 15 item 10).
func (h *Handler) renderSettingsInput(w http.ResponseWriter, r *http.Request, who *ui.Who, status int, errMsg string, typed *store.Store, in *settingsInput) {
	p := h.page(r, who, "settings", "設定", "Settings")
	st, err := h.store(r, who)
	if err != nil {
		h.unavailable(w, r, who, err)
		return
	}
	if typed != nil {
		st = typed
	}
	prods, err := h.DB.Products(r.Context(), who.Account.AID)
	if err != nil {
		h.unavailable(w, r, who, err)
		return
	}
	v := settingsView{S: st, Products: prods, IPs: strings.Join(st.AllowIPs, "\n"), Origins: strings.Join(st.AllowOrigins, "\n"),
		Brands: map[string]bool{}, All: allBrands, KickbackFrom: h.KickbackSources}
	for _, b := range st.Brands {
		v.Brands[b] = true
	}
	if len(st.Brands) == 0 {
		for _, b := range allBrands {
			v.Brands[b] = true
		}
	}
	switch r.URL.Query().Get("done") {
	case "saved":
		p.Flash = p.T("設定を保存しました。すぐに反映されます。", "Settings saved; they apply at once.")
	case "authcode":
		p.Flash = p.T("接続認証コードを更新しました。加盟店サーバーの設定も変更してください。", "The connection auth code changed; update your servers too.")
	case "product":
		p.Flash = p.T("商品を保存しました。", "The product was saved.")
	}
	p.Error = errMsg
	if in != nil {
		v.IPs, v.Origins, v.Errors = in.IPs, in.Origins, in.Errors
	}
	p.Data = v
	h.pages.Render(w, status, "settings", p)
}

func validURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != ""
}

func lines(s string) []string {
	var out []string
	for _, l := range strings.FieldsFunc(s, func(r rune) bool { return r == '\n' || r == '\r' || r == ',' }) {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, l)
		}
	}
	return out
}

// saveSettings applies the settings form. The gateway reads stores through the payment service's
// cache, which is invalidated here, so an allow-list change holds for the very next request.
func (h *Handler) saveSettings(w http.ResponseWriter, r *http.Request, who *ui.Who) {
	lang := ui.Lang(r, who.Session)
	st, err := h.store(r, who)
	if err != nil {
		h.unavailable(w, r, who, err)
		return
	}
	f := r.PostFormValue
	var probs []string
	in := &settingsInput{IPs: f("allow_ips"), Origins: f("allow_origins"), Errors: map[string]string{}}
	bad := func(field, msg string) {
		probs = append(probs, msg)
		if in.Errors[field] == "" {
			in.Errors[field] = msg
		}
	}
	for _, u := range []struct {
		field  string
		dst    *string
		ja, en string
		server bool // Kessai's server sends to it (kickbacks): the SSRF rule applies
	}{
		{"result_url", &st.ResultURL, "決済結果通知URL", "Result URL", true},
		{"ac_result_url", &st.ACResultURL, "自動課金結果通知URL", "Auto-charge result URL", true},
		{"completion_url", &st.CompletionURL, "決済完了後の戻り先URL", "Completion URL", false},
	} {
		v := strings.TrimSpace(f(u.field))
		*u.dst = v // kept as typed for the form; saved only when every field is right
		switch {
		case v == "":
		case !validURL(v):
			bad(u.field, ui.L(lang, u.ja+"が http(s) の URL ではありません（例: https://shop.example.jp/result）", u.en+" is not an http(s) URL (e.g. https://shop.example.jp/result)"))
		case u.server && h.CheckTarget != nil && h.CheckTarget(r.Context(), v) != nil:
			bad(u.field, ui.L(lang, u.ja+"が内部アドレス（ループバック・プライベート・リンクローカル等）を指しているため、このサーバーからは送信できません",
				u.en+" points to an internal address (loopback, private, link-local, …): this server refuses to send there"))
		}
	}
	var ips []string
	for _, c := range lines(f("allow_ips")) {
		if pfx, err := netip.ParsePrefix(c); err == nil {
			ips = append(ips, pfx.Masked().String())
		} else if a, err := netip.ParseAddr(c); err == nil {
			ips = append(ips, a.String())
		} else {
			bad("allow_ips", ui.L(lang, "許可IPアドレス「"+c+"」が正しくありません（例: 203.0.113.10 または 198.51.100.0/24）", "Allowed IP \""+c+"\" is not an address or CIDR (e.g. 203.0.113.10 or 198.51.100.0/24)"))
		}
	}
	st.AllowIPs = ips
	var origins []string
	for _, o := range lines(f("allow_origins")) {
		u, err := url.Parse(o)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			bad("allow_origins", ui.L(lang, "許可URL「"+o+"」が正しくありません（例: https://shop.example.jp）", "Allowed origin \""+o+"\" is not like https://shop.example.jp"))
			continue
		}
		origins = append(origins, u.Scheme+"://"+u.Host)
	}
	st.AllowOrigins = origins
	var chosen []string
	for _, b := range allBrands {
		if f("brand_"+b) == "on" {
			chosen = append(chosen, b)
		}
	}
	switch len(chosen) {
	case 0:
		bad("brands", ui.L(lang, "利用するカードブランドを1つ以上選んでください", "Choose at least one card brand"))
	case len(allBrands):
		st.Brands = nil // every brand: stored as "no restriction"
	default:
		st.Brands = chosen
	}
	st.Installments = f("installments") == "on"
	em := strings.TrimSpace(f("notify_email"))
	st.NotifyEmail = em
	if em != "" && (!strings.Contains(em, "@") || len(em) > 254) {
		bad("notify_email", ui.L(lang, "通知先メールアドレスが正しくありません（例: shop@example.jp）", "The notification address is not an e-mail address (e.g. shop@example.jp)"))
	}
	if len(probs) > 0 {
		h.renderSettingsInput(w, r, who, http.StatusUnprocessableEntity, ui.L(lang, "入力内容を確認してください（"+strconv.Itoa(len(probs))+"件）。",
			"Please check the form ("+strconv.Itoa(len(probs))+" problems)."), st, in)
		return
	}
	if err := h.DB.UpdateStore(r.Context(), st); err != nil {
		h.unavailable(w, r, who, err)
		return
	}
	h.Pay.Stores.Invalidate()
	h.audit(r, who, "settings.update", fmt.Sprintf("result_url=%q allow_ips=%q allow_origins=%q brands=%q installments=%v",
		st.ResultURL, strings.Join(st.AllowIPs, ","), strings.Join(st.AllowOrigins, ","), strings.Join(st.Brands, ","), st.Installments))
	http.Redirect(w, r, Base+"/settings?done=saved", http.StatusSeeOther)
}

const codeAlphabet = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789"

// newAuthCode makes a 24-character 接続認証コード (about 140 bits).
func newAuthCode() string {
	b := make([]byte, 24)
	rand.Read(b)
	for i := range b {
		b[i] = codeAlphabet[int(b[i])%len(codeAlphabet)]
	}
	return string(b)
}

func (h *Handler) authCode(w http.ResponseWriter, r *http.Request, who *ui.Who) {
	st, err := h.store(r, who)
	if err != nil {
		h.unavailable(w, r, who, err)
		return
	}
	action := r.PostFormValue("action")
	switch action {
	case "regenerate":
		st.AuthCode = newAuthCode()
	case "disable":
		st.AuthCode = ""
	default:
		h.fail(w, r, who, http.StatusBadRequest, "不明な操作です。", "Unknown action.")
		return
	}
	if err := h.DB.UpdateStore(r.Context(), st); err != nil {
		h.unavailable(w, r, who, err)
		return
	}
	h.Pay.Stores.Invalidate()
	h.audit(r, who, "settings.authcode."+action, "")
	http.Redirect(w, r, Base+"/settings?done=authcode", http.StatusSeeOther)
}

var iidRe = regexp.MustCompile(`^[A-Za-z0-9_-]{1,32}$`)

func (h *Handler) putProduct(w http.ResponseWriter, r *http.Request, who *ui.Who) {
	lang := ui.Lang(r, who.Session)
	f := r.PostFormValue
	pr := &store.Product{AID: who.Account.AID, IID: strings.TrimSpace(f("iid")), Name: strings.TrimSpace(f("name"))}
	var probs []string
	if !iidRe.MatchString(pr.IID) {
		probs = append(probs, ui.L(lang, "商品コードは英数字・-・_ の32文字以内です", "The product code is up to 32 letters, digits, - or _"))
	}
	if pr.Name == "" || len([]rune(pr.Name)) > 100 {
		probs = append(probs, ui.L(lang, "商品名を100文字以内で入力してください", "Enter a product name of up to 100 characters"))
	}
	for _, x := range []struct {
		k   string
		dst *int64
	}{{"am", &pr.Am}, {"tx", &pr.Tx}, {"sf", &pr.Sf}} {
		s := strings.ReplaceAll(strings.TrimSpace(f(x.k)), ",", "")
		if s == "" {
			s = "0"
		}
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n < 0 || n > 9999999 {
			probs = append(probs, ui.L(lang, "金額・税・送料は0以上の整数です", "Amount, tax and shipping are whole numbers from 0"))
			break
		}
		*x.dst = n
	}
	if len(probs) == 0 && pr.Am <= 0 {
		probs = append(probs, ui.L(lang, "金額を入力してください", "Enter the amount"))
	}
	if len(probs) > 0 {
		h.renderSettings(w, r, who, http.StatusUnprocessableEntity, strings.Join(probs, " / "), nil)
		return
	}
	if old, err := h.DB.GetProduct(r.Context(), pr.AID, pr.IID); err == nil {
		pr.Plan = old.Plan // this short form edits amounts only: a product's plan stays (see /console/products)
	}
	if err := h.DB.PutProduct(r.Context(), pr); err != nil {
		h.unavailable(w, r, who, err)
		return
	}
	h.audit(r, who, "product.put", fmt.Sprintf("iid=%s am=%d tx=%d sf=%d", pr.IID, pr.Am, pr.Tx, pr.Sf))
	http.Redirect(w, r, Base+"/settings?done=product", http.StatusSeeOther)
}

func (h *Handler) users(w http.ResponseWriter, r *http.Request, who *ui.Who) {
	h.renderUsers(w, r, who, http.StatusOK, "")
}

func (h *Handler) renderUsers(w http.ResponseWriter, r *http.Request, who *ui.Who, status int, errMsg string) {
	p := h.page(r, who, "users", "ユーザー管理", "Users")
	us, err := h.DB.Users(r.Context(), who.Account.AID)
	if err != nil {
		h.unavailable(w, r, who, err)
		return
	}
	switch r.URL.Query().Get("done") {
	case "created":
		p.Flash = p.T("ユーザーを追加しました。", "The user was added.")
	case "deleted":
		p.Flash = p.T("ユーザーを削除しました。", "The user was deleted.")
	case "role":
		p.Flash = p.T("権限を変更しました。", "The role was changed.")
	}
	p.Error = errMsg
	p.Data = map[string]any{"Users": us, "Me": who.Account.ID, "Min": auth.MinPasswordLen}
	h.pages.Render(w, status, "users", p)
}

var loginRe = regexp.MustCompile(`^[A-Za-z0-9._@-]{1,64}$`)

func (h *Handler) createUser(w http.ResponseWriter, r *http.Request, who *ui.Who) {
	lang := ui.Lang(r, who.Session)
	login := strings.TrimSpace(r.PostFormValue("login"))
	pw := r.PostFormValue("password")
	role := r.PostFormValue("role")
	if !loginRe.MatchString(login) {
		h.renderUsers(w, r, who, http.StatusUnprocessableEntity, ui.L(lang, "ログインIDは英数字と . _ @ - の64文字以内です。", "The login ID is up to 64 letters, digits, . _ @ -."))
		return
	}
	if role != store.RoleAdmin && role != store.RoleViewer {
		h.renderUsers(w, r, who, http.StatusUnprocessableEntity, ui.L(lang, "権限を選んでください。", "Choose a role."))
		return
	}
	if err := auth.CheckPasswordPolicy(pw); err != nil {
		h.renderUsers(w, r, who, http.StatusUnprocessableEntity, ui.L(lang, fmt.Sprintf("パスワードは%d文字以上にしてください。", auth.MinPasswordLen), err.Error()))
		return
	}
	hash, err := auth.HashPassword(pw)
	if err != nil {
		h.unavailable(w, r, who, err)
		return
	}
	err = h.DB.CreateUser(r.Context(), &store.User{AID: who.Account.AID, Login: login, PwHash: hash, Role: role})
	if errors.Is(err, store.ErrConflict) {
		h.renderUsers(w, r, who, http.StatusConflict, ui.L(lang, "このログインIDは既に使われています。", "That login ID is taken."))
		return
	}
	if err != nil {
		h.unavailable(w, r, who, err)
		return
	}
	h.audit(r, who, "user.create", "login="+login+" role="+role)
	http.Redirect(w, r, Base+"/users?done=created", http.StatusSeeOther)
}

func (h *Handler) userAction(w http.ResponseWriter, r *http.Request, who *ui.Who) {
	lang := ui.Lang(r, who.Session)
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil {
		h.notFound(w, r)
		return
	}
	u, err := h.DB.UserByID(r.Context(), who.Account.AID, id)
	if errors.Is(err, store.ErrNotFound) {
		h.fail(w, r, who, http.StatusNotFound, "このユーザーは見つかりません。", "No such user.")
		return
	}
	if err != nil {
		h.unavailable(w, r, who, err)
		return
	}
	if u.ID == who.Account.ID {
		h.renderUsers(w, r, who, http.StatusUnprocessableEntity, ui.L(lang, "自分自身の削除・権限変更はできません。", "You cannot delete or demote yourself."))
		return
	}
	switch r.PathValue("action") {
	case "delete":
		if err := h.DB.DeleteUser(r.Context(), who.Account.AID, id); err != nil {
			h.unavailable(w, r, who, err)
			return
		}
		h.audit(r, who, "user.delete", "login="+u.Login)
		http.Redirect(w, r, Base+"/users?done=deleted", http.StatusSeeOther)
	case "role":
		role := r.PostFormValue("role")
		if role != store.RoleAdmin && role != store.RoleViewer {
			h.renderUsers(w, r, who, http.StatusUnprocessableEntity, ui.L(lang, "権限を選んでください。", "Choose a role."))
			return
		}
		if err := h.DB.SetUserRole(r.Context(), who.Account.AID, id, role); err != nil {
			h.unavailable(w, r, who, err)
			return
		}
		h.audit(r, who, "user.role", "login="+u.Login+" role="+role)
		http.Redirect(w, r, Base+"/users?done=role", http.StatusSeeOther)
	default:
		h.notFound(w, r)
	}
}

func (h *Handler) passwordForm(w http.ResponseWriter, r *http.Request, who *ui.Who) {
	h.renderPassword(w, r, who, http.StatusOK, "")
}

func (h *Handler) renderPassword(w http.ResponseWriter, r *http.Request, who *ui.Who, status int, errMsg string) {
	h.renderPasswordWith(w, r, who, status, errMsg, "", "")
}

// renderPasswordWith is the password page with an error of the password form (errMsg) or of the
// reset-address form (emailErr, shown next to that field with what was typed).
func (h *Handler) renderPasswordWith(w http.ResponseWriter, r *http.Request, who *ui.Who, status int, errMsg, email, emailErr string) {
	p := h.page(r, who, "", "パスワード変更", "Change password")
	p.Error = errMsg
	switch r.URL.Query().Get("done") {
	case "1":
		p.Flash = p.T("パスワードを変更しました。", "Your password was changed.")
	case "email":
		p.Flash = p.T("再設定用のメールアドレスを保存しました。", "The reset address was saved.")
	}
	if emailErr == "" {
		email, _ = h.DB.UserEmail(r.Context(), who.Account.AID, who.Account.ID)
	}
	p.Data = map[string]any{"Min": auth.MinPasswordLen, "Email": email, "EmailError": emailErr}
	h.pages.Render(w, status, "password", p)
}

// changePassword lets any user change their own password; every other session of the user ends,
// and this browser gets a fresh session.
func (h *Handler) changePassword(w http.ResponseWriter, r *http.Request, who *ui.Who) {
	lang := ui.Lang(r, who.Session)
	u, err := h.DB.UserByID(r.Context(), who.Account.AID, who.Account.ID)
	if err != nil {
		h.unavailable(w, r, who, err)
		return
	}
	if !auth.VerifyPassword(u.PwHash, r.PostFormValue("current")) {
		h.audit(r, who, "password.change.failed", "wrong current password")
		h.renderPassword(w, r, who, http.StatusUnprocessableEntity, ui.L(lang, "現在のパスワードが正しくありません。", "The current password is wrong."))
		return
	}
	pw := r.PostFormValue("new")
	if err := auth.CheckPasswordPolicy(pw); err != nil {
		h.renderPassword(w, r, who, http.StatusUnprocessableEntity, ui.L(lang, fmt.Sprintf("パスワードは%d文字以上にしてください。", auth.MinPasswordLen), err.Error()))
		return
	}
	if pw != r.PostFormValue("confirm") {
		h.renderPassword(w, r, who, http.StatusUnprocessableEntity, ui.L(lang, "確認用パスワードが一致しません。", "The passwords do not match."))
		return
	}
	hash, err := auth.HashPassword(pw)
	if err != nil {
		h.unavailable(w, r, who, err)
		return
	}
	if err := h.DB.SetUserPassword(r.Context(), who.Account.AID, who.Account.ID, hash); err != nil {
		h.unavailable(w, r, who, err)
		return
	}
	h.audit(r, who, "password.change", "")
	tok, _, err := h.guard.Sessions.Start(r.Context(), store.SessionMerchant, who.Account.ID, who.Account.AID, lang)
	if err != nil {
		h.unavailable(w, r, who, err)
		return
	}
	h.guard.SetSession(w, r, tok)
	http.Redirect(w, r, Base+"/password?done=1", http.StatusSeeOther)
}
