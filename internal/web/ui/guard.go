package ui

import (
	"context"
	"crypto/subtle"
	"errors"
	"net/http"
	"net/url"
	"strings"

	"kessai/internal/auth"
	"kessai/internal/store"
)

// LangCookie keeps the language choice of a browser, signed in or not.
const LangCookie = "kessai_lang"

// CSRFField is the name of the hidden field every form carries.
const CSRFField = "csrf"

// Guard is one console's sign-in machinery: its session cookie, the pre-login CSRF cookie, and the
// checks every request goes through.
type Guard struct {
	Kind     string // store.SessionMerchant or store.SessionOperator
	Base     string // "/console"
	Cookie   string // session cookie name
	Sessions *auth.Sessions
	Auth     *auth.Authenticator
}

// Who is the signed-in state of a request.
type Who struct {
	Session *store.Session
	Account *auth.Account
	Token   string
}

type whoKey struct{}

// WithWho stores the signed-in state in the request context.
func WithWho(ctx context.Context, w *Who) context.Context { return context.WithValue(ctx, whoKey{}, w) }

// WhoOf returns the signed-in state stored by the guard, or nil.
func WhoOf(ctx context.Context) *Who {
	w, _ := ctx.Value(whoKey{}).(*Who)
	return w
}

func (g *Guard) cookie(r *http.Request, name, value string, maxAge int) *http.Cookie {
	return &http.Cookie{Name: name, Value: value, Path: g.Base + "/", HttpOnly: true, SameSite: http.SameSiteLaxMode,
		Secure: r.TLS != nil, MaxAge: maxAge}
}

// SetSession gives the browser its new session token.
func (g *Guard) SetSession(w http.ResponseWriter, r *http.Request, token string) {
	http.SetCookie(w, g.cookie(r, g.Cookie, token, 0))
}

// ClearSession removes the session cookie.
func (g *Guard) ClearSession(w http.ResponseWriter, r *http.Request) {
	http.SetCookie(w, g.cookie(r, g.Cookie, "", -1))
}

// Current returns the live, complete session and its account, or nil when signed out (or the
// account is gone). A session whose second factor is still due is not signed in: Current returns
// nil for it (see Pending), so no page can be reached with a password alone. A failing database
// is an error, not a sign-out.
func (g *Guard) Current(r *http.Request) (*Who, error) {
	who, err := g.Any(r)
	if who != nil && who.Session.Stage != "" {
		return nil, err
	}
	return who, err
}

// Pending returns the session of a sign-in whose second factor (or its enrolment) is still due,
// or nil.
func (g *Guard) Pending(r *http.Request) (*Who, error) {
	who, err := g.Any(r)
	if who != nil && who.Session.Stage == "" {
		return nil, err
	}
	return who, err
}

// Any returns the browser's session whatever its stage, or nil.
func (g *Guard) Any(r *http.Request) (*Who, error) {
	c, err := r.Cookie(g.Cookie)
	if err != nil || c.Value == "" {
		return nil, nil
	}
	s, err := g.Sessions.Get(r.Context(), g.Kind, c.Value)
	if errors.Is(err, auth.ErrNoSession) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	acc, err := g.Auth.Load(r.Context(), s)
	if errors.Is(err, store.ErrNotFound) {
		_ = g.Sessions.End(r.Context(), c.Value)
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return &Who{Session: s, Account: acc, Token: c.Value}, nil
}

// StagePath is where a pending session continues: the code form or the set-up page.
func (g *Guard) StagePath(stage, next string) string {
	p := g.Base + "/login/code"
	if stage == store.StageEnrol {
		p = g.Base + "/mfa/enrol"
	}
	if next = SafeNext(next, g.Base); next != g.Base+"/" {
		p += "?next=" + url.QueryEscape(next)
	}
	return p
}

func (g *Guard) preCookie() string { return g.Cookie + "_pre" }

// PreToken returns the pre-login CSRF token, setting its cookie when the browser has none: the
// login form itself is protected (double-submit), so nobody can sign a victim in to an
// attacker's account.
func (g *Guard) PreToken(w http.ResponseWriter, r *http.Request) string {
	if c, err := r.Cookie(g.preCookie()); err == nil && len(c.Value) >= 32 && len(c.Value) <= 64 {
		return c.Value
	}
	tok := auth.RandomToken(32)
	http.SetCookie(w, g.cookie(r, g.preCookie(), tok, 3600*12))
	return tok
}

// CheckPre verifies the pre-login CSRF token of a POST.
func (g *Guard) CheckPre(r *http.Request) bool {
	c, err := r.Cookie(g.preCookie())
	if err != nil || c.Value == "" {
		return false
	}
	return TokenEqual(r.PostFormValue(CSRFField), c.Value) && SameOrigin(r)
}

// CheckCSRF verifies a signed-in POST: the session's token in the form, and no foreign Origin.
func CheckCSRF(r *http.Request, s *store.Session) bool {
	return s != nil && TokenEqual(r.PostFormValue(CSRFField), s.CSRF) && SameOrigin(r)
}

// TokenEqual compares two tokens in constant time; empty never matches.
func TokenEqual(got, want string) bool {
	return got != "" && want != "" && subtle.ConstantTimeCompare([]byte(got), []byte(want)) == 1
}

// SameOrigin refuses a request whose Origin (when the browser sends one) is another site.
func SameOrigin(r *http.Request) bool {
	o := r.Header.Get("Origin")
	if o == "" {
		return true
	}
	u, err := url.Parse(o)
	if err != nil {
		return false
	}
	return strings.EqualFold(u.Host, r.Host)
}

// Lang is the language of a request: the session's choice, else the cookie, else Japanese.
func Lang(r *http.Request, s *store.Session) string {
	if s != nil && s.Lang != "" {
		return NormLang(s.Lang)
	}
	if c, err := r.Cookie(LangCookie); err == nil {
		return NormLang(c.Value)
	}
	return JA
}

// SetLangCookie remembers a language choice in the browser for a year.
func SetLangCookie(w http.ResponseWriter, r *http.Request, lang string) {
	http.SetCookie(w, &http.Cookie{Name: LangCookie, Value: NormLang(lang), Path: "/", MaxAge: 365 * 24 * 3600,
		HttpOnly: true, SameSite: http.SameSiteLaxMode, Secure: r.TLS != nil})
}

// Fail answers a refused console request with a page in the request's language.
type Fail func(w http.ResponseWriter, r *http.Request, who *Who, status int, ja, en string)

// SignIn ends the session the browser came with (a new one on every sign-in: no fixation), starts
// one for the account, and sends the browser on to the form's "next" page. On an error nothing
// has been written: the caller answers.
func (g *Guard) SignIn(w http.ResponseWriter, r *http.Request, principal int64, aid string) error {
	if c, err := r.Cookie(g.Cookie); err == nil {
		_ = g.Sessions.End(r.Context(), c.Value)
	}
	tok, _, err := g.Sessions.Start(r.Context(), g.Kind, principal, aid, Lang(r, nil))
	if err != nil {
		return err
	}
	g.SetSession(w, r, tok)
	http.Redirect(w, r, SafeNext(r.PostFormValue("next"), g.Base), http.StatusSeeOther)
	return nil
}

// SignInStage is SignIn for a password that was right when the second factor is still due: the
// new session opens only the code form (StageCode) or the set-up page (StageEnrol), where the
// browser is sent.
func (g *Guard) SignInStage(w http.ResponseWriter, r *http.Request, principal int64, aid, stage string) error {
	if c, err := r.Cookie(g.Cookie); err == nil {
		_ = g.Sessions.End(r.Context(), c.Value)
	}
	tok, _, err := g.Sessions.StartStage(r.Context(), g.Kind, principal, aid, Lang(r, nil), stage)
	if err != nil {
		return err
	}
	g.SetSession(w, r, tok)
	http.Redirect(w, r, g.StagePath(stage, r.PostFormValue("next")), http.StatusSeeOther)
	return nil
}

// Promote completes a pending sign-in: the pending session ends and a new, complete one starts
// (a new token again), whose cookie is set. The caller answers.
func (g *Guard) Promote(w http.ResponseWriter, r *http.Request, who *Who) (*store.Session, error) {
	_ = g.Sessions.End(r.Context(), who.Token)
	tok, s, err := g.Sessions.Start(r.Context(), g.Kind, who.Session.Principal, who.Session.AID, who.Session.Lang)
	if err != nil {
		return nil, err
	}
	g.SetSession(w, r, tok)
	return s, nil
}

// SetLang handles a console's language form: the choice is kept in a cookie, and in the session
// when signed in. The form carries the session's CSRF token, or the pre-login one.
func (g *Guard) SetLang(w http.ResponseWriter, r *http.Request, db *store.DB, fail Fail) {
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	who, err := g.Current(r)
	if err != nil {
		fail(w, r, nil, http.StatusServiceUnavailable, "一時的に利用できません。", "Temporarily unavailable.")
		return
	}
	pending := (*Who)(nil)
	if who == nil { // the code and set-up pages of a pending sign-in have the switch too
		if pending, err = g.Pending(r); err != nil {
			fail(w, r, nil, http.StatusServiceUnavailable, "一時的に利用できません。", "Temporarily unavailable.")
			return
		}
	}
	var ok bool
	switch {
	case who != nil:
		ok = CheckCSRF(r, who.Session)
	case pending != nil:
		ok = CheckCSRF(r, pending.Session)
	default:
		ok = g.CheckPre(r)
	}
	if !ok {
		fail(w, r, who, http.StatusForbidden, "不正なリクエストです。", "Forged request refused.")
		return
	}
	if pending != nil {
		who = pending
	}
	lang := NormLang(r.PostFormValue("lang"))
	SetLangCookie(w, r, lang)
	if who != nil {
		_ = db.SetSessionLang(r.Context(), who.Session.ID, lang)
	}
	http.Redirect(w, r, SafeNext(r.PostFormValue("next"), g.Base), http.StatusSeeOther)
}
