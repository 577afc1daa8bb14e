package ui

import (
	"encoding/base64"
	"errors"
	"html/template"
	"log/slog"
	"net/http"

	"kessai/internal/auth"
	"kessai/internal/store"
)

// MFAFlow is the second-factor part of a console's sign-in, the same in the merchant panel and
// the operator console: the one-time code step after the password, the set-up page (QR code and
// key in text, confirmed by a first code), the recovery codes shown once, removal and new
// recovery codes. Each console mounts it (Register) and renders its pages with its own layout:
// the pages mfa_code, mfa_enrol and mfa_codes of its templates include the shared blocks of
// templates/mfa.html.
type MFAFlow struct {
	Guard  *Guard
	Pages  *Renderer
	Page   func(r *http.Request, who *Who, active, titleJA, titleEN string) *Page
	Fail   Fail
	Remote func(r *http.Request) string
	Log    *slog.Logger
}

// Register mounts the flow's routes under the console's base.
func (f *MFAFlow) Register(m *http.ServeMux) {
	b := f.Guard.Base
	m.HandleFunc("GET "+b+"/login/code", f.codeForm)
	m.HandleFunc("POST "+b+"/login/code", f.code)
	m.HandleFunc("POST "+b+"/login/cancel", f.cancel)
	m.HandleFunc("GET "+b+"/mfa/enrol", f.enrolForm)
	m.HandleFunc("POST "+b+"/mfa/enrol", f.enrol)
	m.HandleFunc("POST "+b+"/mfa/remove", f.remove)
	m.HandleFunc("POST "+b+"/mfa/recovery", f.renew)
}

func (f *MFAFlow) unavailable(w http.ResponseWriter, r *http.Request, err error) {
	f.Log.Error("second factor", "path", r.URL.Path, "err", err)
	f.Fail(w, r, nil, http.StatusServiceUnavailable, "一時的に利用できません。しばらくしてからお試しください。", "Temporarily unavailable; please try again shortly.")
}

// pendingPage is a page of a sign-in in progress: no menu, the pending session's CSRF token.
func (f *MFAFlow) pendingPage(r *http.Request, who *Who, ja, en string) *Page {
	p := f.Page(r, nil, "", ja, en)
	p.Lang = Lang(r, who.Session)
	p.Title = L(p.Lang, ja, en)
	p.CSRF = who.Session.CSRF
	return p
}

// pending returns the pending session of stage, or answers: GETs go back to the sign-in form,
// POSTs without the session or its CSRF token are refused.
func (f *MFAFlow) pending(w http.ResponseWriter, r *http.Request, stage string) *Who {
	who, err := f.Guard.Pending(r)
	if err != nil {
		f.unavailable(w, r, err)
		return nil
	}
	if r.Method == http.MethodPost {
		r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
		if who == nil || who.Session.Stage != stage || !CheckCSRF(r, who.Session) {
			f.Fail(w, r, nil, http.StatusForbidden, "フォームの有効期限が切れました。もう一度ログインしてください。", "The form expired. Please sign in again.")
			return nil
		}
		return who
	}
	if who == nil || who.Session.Stage != stage {
		http.Redirect(w, r, f.Guard.Base+"/login", http.StatusSeeOther)
		return nil
	}
	return who
}

// signedIn returns the complete session, or answers as the consoles do.
func (f *MFAFlow) signedIn(w http.ResponseWriter, r *http.Request) *Who {
	who, err := f.Guard.Current(r)
	if err != nil {
		f.unavailable(w, r, err)
		return nil
	}
	if r.Method == http.MethodPost {
		r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
		if who == nil || !CheckCSRF(r, who.Session) {
			f.Fail(w, r, who, http.StatusForbidden, "フォームの有効期限が切れたか、不正なリクエストです。ページを読み込み直してください。",
				"The form expired or the request was forged. Reload the page and try again.")
			return nil
		}
		return who
	}
	if who == nil {
		if p, _ := f.Guard.Pending(r); p != nil {
			http.Redirect(w, r, f.Guard.StagePath(p.Session.Stage, ""), http.StatusSeeOther)
			return nil
		}
		http.Redirect(w, r, f.Guard.Base+"/login", http.StatusSeeOther)
		return nil
	}
	return who
}

func (f *MFAFlow) renderCode(w http.ResponseWriter, r *http.Request, who *Who, status int, ja, en string) {
	p := f.pendingPage(r, who, "確認コードの入力", "Enter your code")
	if ja != "" {
		p.Error = p.T(ja, en)
	}
	p.Data = map[string]any{"Next": SafeNext(r.FormValue("next"), f.Guard.Base), "Login": who.Account.Login}
	f.Pages.Render(w, status, "mfa_code", p)
}

func (f *MFAFlow) codeForm(w http.ResponseWriter, r *http.Request) {
	if who := f.pending(w, r, store.StageCode); who != nil {
		f.renderCode(w, r, who, http.StatusOK, "", "")
	}
}

// code checks the one-time (or recovery) code of a pending sign-in and completes it.
func (f *MFAFlow) code(w http.ResponseWriter, r *http.Request) {
	who := f.pending(w, r, store.StageCode)
	if who == nil {
		return
	}
	code := r.PostFormValue("code")
	if len(code) > 64 {
		code = code[:64]
	}
	out, err := f.Guard.Auth.SecondFactor(r.Context(), who.Account, code, f.Remote(r))
	if err != nil {
		f.unavailable(w, r, err)
		return
	}
	switch out {
	case auth.OK:
		if _, err := f.Guard.Promote(w, r, who); err != nil {
			f.unavailable(w, r, err)
			return
		}
		http.Redirect(w, r, SafeNext(r.PostFormValue("next"), f.Guard.Base), http.StatusSeeOther)
	case auth.Locked, auth.Throttled:
		_ = f.Guard.Sessions.End(r.Context(), who.Token)
		f.Guard.ClearSession(w, r)
		f.Fail(w, r, nil, http.StatusTooManyRequests, "確認コードの失敗が続いたため、このアカウントは一時的にロックされています（15分後にもう一度ログインしてください）。",
			"Too many wrong codes: the account is locked for 15 minutes. Sign in again later.")
	case auth.CodeReused:
		f.renderCode(w, r, who, http.StatusUnauthorized, "このコードは既に使用されています。認証アプリに次のコードが表示されるまでお待ちください。",
			"This code was already used. Wait for the next code in your authenticator app.")
	default:
		f.renderCode(w, r, who, http.StatusUnauthorized, "確認コードが正しくありません。", "The code is wrong.")
	}
}

// cancel abandons a pending sign-in.
func (f *MFAFlow) cancel(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	who, err := f.Guard.Pending(r)
	if err != nil {
		f.unavailable(w, r, err)
		return
	}
	if who != nil && CheckCSRF(r, who.Session) {
		_ = f.Guard.Sessions.End(r.Context(), who.Token)
		f.Guard.ClearSession(w, r)
	}
	http.Redirect(w, r, f.Guard.Base+"/login", http.StatusSeeOther)
}

// enrolWho is the account setting up a second factor: a signed-in one (from its security page),
// or a pending sign-in that must set one up before anything else.
func (f *MFAFlow) enrolWho(w http.ResponseWriter, r *http.Request) (*Who, bool) {
	if who, err := f.Guard.Pending(r); err == nil && who != nil && who.Session.Stage == store.StageEnrol {
		if p := f.pending(w, r, store.StageEnrol); p != nil {
			return p, true
		}
		return nil, false
	}
	return f.signedIn(w, r), false
}

func (f *MFAFlow) renderEnrol(w http.ResponseWriter, r *http.Request, who *Who, pending bool, status int, ja, en string) {
	e, err := f.Guard.Auth.BeginEnrolment(r.Context(), who.Account)
	if errors.Is(err, auth.ErrEnrolled) {
		f.enrolled(w, r, who, pending)
		return
	}
	if err != nil {
		f.unavailable(w, r, err)
		return
	}
	var p *Page
	if pending {
		p = f.pendingPage(r, who, "2段階認証の設定", "Set up two-step sign-in")
	} else {
		p = f.Page(r, who, "security", "2段階認証の設定", "Set up two-step sign-in")
	}
	if ja != "" {
		p.Error = p.T(ja, en)
	}
	p.Data = map[string]any{
		// a data: URL of a PNG made here: no external QR service ever sees the key
		"QR":      template.URL("data:image/png;base64," + base64.StdEncoding.EncodeToString(e.QRPNG)),
		"Secret":  e.GroupedSecret(),
		"URL":     e.URL,
		"Pending": pending,
		"Next":    SafeNext(r.FormValue("next"), f.Guard.Base),
	}
	f.Pages.Render(w, status, "mfa_enrol", p)
}

// enrolled answers a set-up page of an account that has a second factor already (set up in
// another browser meanwhile): a signed-in one goes to its security page; a pending sign-in ends,
// and signs in again with its code.
func (f *MFAFlow) enrolled(w http.ResponseWriter, r *http.Request, who *Who, pending bool) {
	if pending {
		_ = f.Guard.Sessions.End(r.Context(), who.Token)
		f.Guard.ClearSession(w, r)
		http.Redirect(w, r, f.Guard.Base+"/login", http.StatusSeeOther)
		return
	}
	http.Redirect(w, r, f.Guard.Base+"/security", http.StatusSeeOther)
}

func (f *MFAFlow) enrolForm(w http.ResponseWriter, r *http.Request) {
	if who, pending := f.enrolWho(w, r); who != nil {
		f.renderEnrol(w, r, who, pending, http.StatusOK, "", "")
	}
}

func (f *MFAFlow) enrol(w http.ResponseWriter, r *http.Request) {
	who, pending := f.enrolWho(w, r)
	if who == nil {
		return
	}
	codes, out, err := f.Guard.Auth.ConfirmEnrolment(r.Context(), who.Account, r.PostFormValue("code"), f.Remote(r))
	if errors.Is(err, auth.ErrEnrolled) {
		f.enrolled(w, r, who, pending)
		return
	}
	if err != nil {
		f.unavailable(w, r, err)
		return
	}
	if out != auth.OK {
		f.renderEnrol(w, r, who, pending, http.StatusUnprocessableEntity, "確認コードが正しくありません。認証アプリに表示されている6桁のコードを入力してください。",
			"The code is wrong. Enter the 6-digit code your authenticator app shows.")
		return
	}
	next := f.Guard.Base + "/security"
	if pending {
		// set up as part of signing in: the sign-in completes now, with a new session
		s, err := f.Guard.Promote(w, r, who)
		if err != nil {
			f.unavailable(w, r, err)
			return
		}
		who = &Who{Session: s, Account: who.Account}
		next = SafeNext(r.PostFormValue("next"), f.Guard.Base)
	}
	f.renderCodes(w, r, who, codes, next, true)
}

// renderCodes shows recovery codes, once: only their hashes are kept.
func (f *MFAFlow) renderCodes(w http.ResponseWriter, r *http.Request, who *Who, codes []string, next string, enrolled bool) {
	p := f.Page(r, who, "security", "リカバリーコード", "Recovery codes")
	if enrolled {
		p.Flash = p.T("2段階認証を設定しました。", "Two-step sign-in is on.")
	} else {
		p.Flash = p.T("新しいリカバリーコードを発行しました。以前のコードは使えなくなりました。", "New recovery codes were issued; the old ones no longer work.")
	}
	p.Data = map[string]any{"Codes": codes, "Next": next}
	f.Pages.Render(w, http.StatusOK, "mfa_codes", p)
}

// remove turns the account's own second factor off (password required; refused when the policy
// requires one).
func (f *MFAFlow) remove(w http.ResponseWriter, r *http.Request) {
	who := f.signedIn(w, r)
	if who == nil {
		return
	}
	out, err := f.Guard.Auth.RemoveOwn(r.Context(), who.Account, r.PostFormValue("password"), f.Remote(r))
	switch {
	case errors.Is(err, auth.ErrMFARequired):
		http.Redirect(w, r, f.Guard.Base+"/security?err=required", http.StatusSeeOther)
	case err != nil:
		f.unavailable(w, r, err)
	case out != auth.OK:
		http.Redirect(w, r, f.Guard.Base+"/security?err=password", http.StatusSeeOther)
	default:
		http.Redirect(w, r, f.Guard.Base+"/security?done=removed", http.StatusSeeOther)
	}
}

// renew issues new recovery codes after a current one-time code.
func (f *MFAFlow) renew(w http.ResponseWriter, r *http.Request) {
	who := f.signedIn(w, r)
	if who == nil {
		return
	}
	codes, out, err := f.Guard.Auth.RenewRecoveryCodes(r.Context(), who.Account, r.PostFormValue("code"), f.Remote(r))
	if err != nil {
		f.unavailable(w, r, err)
		return
	}
	switch out {
	case auth.OK:
		f.renderCodes(w, r, who, codes, f.Guard.Base+"/security", false)
	case auth.CodeReused:
		http.Redirect(w, r, f.Guard.Base+"/security?err=reused", http.StatusSeeOther)
	default:
		http.Redirect(w, r, f.Guard.Base+"/security?err=code", http.StatusSeeOther)
	}
}

// SecurityMessages turns the security page's ?done= / ?err= into its flash and error lines.
func SecurityMessages(p *Page, r *http.Request) {
	q := r.URL.Query()
	switch q.Get("done") {
	case "removed":
		p.Flash = p.T("2段階認証を解除しました。", "Two-step sign-in is off.")
	case "saved":
		p.Flash = p.T("保存しました。", "Saved.")
	case "reset":
		p.Flash = p.T("2段階認証をリセットしました。", "The second factor was reset.")
	}
	switch q.Get("err") {
	case "required":
		p.Error = p.T("このアカウントでは2段階認証が必須のため、解除できません。", "Two-step sign-in is required for this account and cannot be turned off.")
	case "password":
		p.Error = p.T("パスワードが正しくありません。", "The password is wrong.")
	case "code":
		p.Error = p.T("確認コードが正しくありません。", "The code is wrong.")
	case "reused":
		p.Error = p.T("このコードは既に使用されています。次のコードをお待ちください。", "This code was already used; wait for the next one.")
	}
}

// MFAStatusData is what the security pages show about the account's own second factor.
func (f *MFAFlow) MFAStatusData(r *http.Request, who *Who) (*auth.MFAStatus, error) {
	return f.Guard.Auth.Status(r.Context(), who.Account)
}

// AfterPassword answers a right password: a complete sign-in, or a pending one when the second
// factor (or its enrolment) is due. It returns an error when nothing was written.
func (f *MFAFlow) AfterPassword(w http.ResponseWriter, r *http.Request, acc *auth.Account, out auth.Outcome) error {
	switch out {
	case auth.NeedCode:
		return f.Guard.SignInStage(w, r, acc.ID, acc.AID, store.StageCode)
	case auth.NeedEnrol:
		return f.Guard.SignInStage(w, r, acc.ID, acc.AID, store.StageEnrol)
	}
	return f.Guard.SignIn(w, r, acc.ID, acc.AID)
}
