// Package link serves the browser-facing side of Kessai: the hosted payment page of the link method
// (/link/creditcard and the older /gateway/payform.aspx), its 3-D Secure challenge and result pages,
// and the scripts merchants embed in their own pages — CPToken.js (card tokens) and
// EMV3DSAdapter.js (3-D Secure) — with the small JSON API behind them.
//
// The merchant's order is kept on the server (store.LinkOrder) under an unguessable session ID, so
// the card form carries no amount a browser could change. Every page is rendered by html/template
// and served with a Content-Security-Policy that allows scripts only from Kessai's own static files;
// no page carries an inline script or event handler.
package link

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"log/slog"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"time"

	"kessai/internal/acquirer"
	"kessai/internal/clock"
	"kessai/internal/maintenance"
	"kessai/internal/payment"
	"kessai/internal/store"
	"kessai/internal/token"
	"kessai/internal/vault"
	"kessai/internal/velocity"
	"kessai/internal/web/gateway"
	"kessai/internal/wire"
)

// MaxBody bounds a hosted-page request: a merchant's form with a long item name and free parameters
// in Shift_JIS is a few KiB.
const MaxBody = 64 << 10

// SessionTTL is how long a shopper has to pay once the hosted page opened.
const SessionTTL = 30 * time.Minute

// CookieName is the browser-binding cookie: an order session can only be paid from the browser that
// opened it, which with the per-session token in the form makes cross-site form posts useless.
const CookieName = "kessai_link"

// Handler serves the hosted pages, scripts and token API.
type Handler struct {
	Pay     *payment.Service
	Tokens  *token.Service
	Clock   clock.Clock
	Gate    gateway.Gate
	Log     *slog.Logger
	Sandbox bool
	// AutoCharge, when it returns a service, lets the hosted page sign shoppers up for auto-charges
	// (actp, acam, … with the first payment), with the same checks as the gateway. It is a func so
	// the service can be wired after the hosted pages.
	AutoCharge func() gateway.AutoCharger
	// MessageTemplate, when set, returns the customer-message template for a language ("" for
	// Kessai's default wording). When nil, the operator's templates from the notice settings are
	// used, so customers read what the notices promised merchants they would.
	MessageTemplate func(lang string) string
	// Velocity refuses card attempts from an address after too many failed ones at a store (card
	// testing); nil never refuses. RemoteIP names the client behind a trusted proxy.
	Velocity *velocity.Limiter
	RemoteIP func(r *http.Request) netip.Addr
	// nc serves convenience-store and bank-transfer payments when set (RegisterNonCard).
	nc *NonCardDeps
}

// Register mounts the routes on mux.
func (h *Handler) Register(mux *http.ServeMux) {
	mux.HandleFunc("GET /link/creditcard", h.entry())
	mux.HandleFunc("POST /link/creditcard", h.entry())
	mux.HandleFunc("GET /gateway/payform.aspx", h.entry())
	mux.HandleFunc("POST /gateway/payform.aspx", h.entry())
	// the same forms under /igateway/ (Welcart posts there for mobile browsers), and the
	// authentication pages of /igateway/gateway.aspx (igateway.go)
	mux.HandleFunc("GET /igateway/payform.aspx", h.entry())
	mux.HandleFunc("POST /igateway/payform.aspx", h.entry())
	mux.HandleFunc("GET "+IGatewayPrefix+"{file}", h.iGatewayPage)
	mux.HandleFunc("POST "+IGatewayPrefix+"{file}", h.iGatewaySubmit)
	mux.HandleFunc("GET /link/creditcard/order", h.orderPage)
	mux.HandleFunc("POST /link/creditcard/lang", h.langSwitch)
	mux.HandleFunc("POST /link/creditcard/pay", h.pay)
	mux.HandleFunc("GET /link/creditcard/3ds", h.challengePage)
	mux.HandleFunc("POST /link/creditcard/3ds", h.challengeSubmit)
	mux.HandleFunc("GET /link/creditcard/result", h.resultPage)
	mux.HandleFunc("GET /link/creditcard/state", h.orderState)
	mux.HandleFunc("GET /link/creditcard/authenticate", h.authenticatePage)
	mux.HandleFunc("GET /link/creditcard/return", h.processorReturn)
	mux.Handle("GET /link/static/", h.static())
	mux.HandleFunc("GET /gateway/js/CPToken.js", h.script("CPToken.js"))
	mux.HandleFunc("GET /gateway/js/EMV3DSAdapter.js", h.script("EMV3DSAdapter.js"))
	// jQuery 3.8.0 (MIT, from npm, licence in static/jquery.LICENSE.txt): merchant pages written
	// for the original service load it from this path before the token script
	mux.HandleFunc("GET /gateway/js/jquery.js", h.script("jquery.js"))
	mux.HandleFunc("POST /gateway/token.json", h.tokenCreate)
	mux.HandleFunc("POST /gateway/3ds/authenticate.json", h.tdsAuthenticate)
	mux.HandleFunc("POST /gateway/3ds/complete.json", h.tdsComplete)
	for _, p := range []string{"/gateway/token.json", "/gateway/3ds/authenticate.json", "/gateway/3ds/complete.json"} {
		mux.HandleFunc("OPTIONS "+p, h.preflight)
	}
}

// pageCSP allows Kessai's own scripts and styles only: no 'unsafe-inline', no eval, no framing.
const pageCSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
	"form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

// apiCSP is for JSON and scripts: they are never rendered as documents.
const apiCSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'"

func pageHeaders(w http.ResponseWriter) {
	hd := w.Header()
	hd.Set("Content-Security-Policy", pageCSP)
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Referrer-Policy", "same-origin")
	hd.Set("X-Frame-Options", "DENY")
	hd.Set("Cache-Control", "no-store")
	hd.Set("Cross-Origin-Opener-Policy", "same-origin")
	hd.Set("Permissions-Policy", "camera=(), microphone=(), geolocation=(), payment=()")
}

func apiHeaders(w http.ResponseWriter) {
	hd := w.Header()
	hd.Set("Content-Security-Policy", apiCSP)
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Referrer-Policy", "same-origin")
	hd.Set("Cache-Control", "no-store")
}

// langOf picks the page language: English when asked for with lang=en, else Japanese.
func langOf(v string) string {
	if strings.HasPrefix(strings.ToLower(strings.TrimSpace(v)), "en") {
		return "en"
	}
	return "ja"
}

// entryLang picks the language of a page a shopper arrives on: the merchant's lang when sent,
// else the browser's Accept-Language (its most preferred of Japanese and English; Japanese when it
// names neither), as Stripe Checkout does (issue 15 item 6).
func entryLang(v string, r *http.Request) string {
	if strings.TrimSpace(v) != "" {
		return langOf(v)
	}
	return acceptLang(r.Header.Get("Accept-Language"))
}

// acceptLang reads an Accept-Language header (RFC 9110 §12.5.4) and returns "en" when English is
// preferred over Japanese, else "ja".
func acceptLang(h string) string {
	best, bestQ := "ja", -1.0
	for i, part := range strings.Split(h, ",") {
		tag, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		base, _, _ := strings.Cut(strings.ToLower(strings.TrimSpace(tag)), "-")
		if base != "ja" && base != "en" {
			continue
		}
		q := 1.0
		if k, v, ok := strings.Cut(strings.TrimSpace(params), "="); ok && strings.TrimSpace(k) == "q" {
			f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			if err != nil {
				continue
			}
			q = f
		}
		// earlier entries win ties: the header lists preferences in order
		if q > bestQ || q == bestQ && i == 0 {
			best, bestQ = base, q
		}
	}
	if bestQ <= 0 {
		return "ja"
	}
	return best
}

// RequestOrigin is requestOrigin, for Kessai's other browser-facing pages.
func RequestOrigin(r *http.Request) string { return requestOrigin(r) }

// OriginAllowed is originAllowed, for Kessai's other browser-facing pages: the store's source-URL
// allow-list (wire.md §2.3).
func OriginAllowed(st *store.Store, origin string) bool { return originAllowed(st, origin) }

// requestOrigin is the origin a form or script call came from: the Origin header, else the
// Referer's scheme://host[:port]; "" when neither says.
func requestOrigin(r *http.Request) string {
	if o := r.Header.Get("Origin"); o != "" && o != "null" {
		return strings.ToLower(strings.TrimRight(o, "/"))
	}
	if ref := r.Header.Get("Referer"); ref != "" {
		if u, err := url.Parse(ref); err == nil && u.Scheme != "" && u.Host != "" {
			return strings.ToLower(u.Scheme + "://" + u.Host)
		}
	}
	return ""
}

// originAllowed applies the store's source-URL allow-list (wire.md §2.3, ER002): an empty list
// allows everyone; otherwise the origin must be listed, and a request that names no origin at all
// is refused, since the check could not be made.
func originAllowed(st *store.Store, origin string) bool {
	if len(st.AllowOrigins) == 0 {
		return true
	}
	if origin == "" {
		return false
	}
	for _, a := range st.AllowOrigins {
		a = strings.ToLower(strings.TrimRight(strings.TrimSpace(a), "/"))
		if a == origin || a == stripDefaultPort(origin) || stripDefaultPort(a) == origin {
			return true
		}
	}
	return false
}

func stripDefaultPort(o string) string {
	switch {
	case strings.HasPrefix(o, "https://") && strings.HasSuffix(o, ":443"):
		return strings.TrimSuffix(o, ":443")
	case strings.HasPrefix(o, "http://") && strings.HasSuffix(o, ":80"):
		return strings.TrimSuffix(o, ":80")
	}
	return o
}

// storeFor runs the checks that come before a store's parameters: aid (ER050), the store
// (ER004), suspension (ER998, with the store).
func (h *Handler) storeFor(ctx context.Context, p *wire.Params) (*store.Store, error) {
	aid, err := p.AID()
	if err != nil {
		return nil, err
	}
	st, err := h.Pay.Stores.Get(ctx, aid)
	if errors.Is(err, store.ErrNotFound) {
		return nil, wire.Errf(wire.ERUnknownStore, "aid", "unknown store")
	}
	if err != nil {
		return nil, &wire.Error{Code: wire.ERInternal, Msg: "storage", Err: err}
	}
	if st.Suspended {
		// the store is returned with the refusal: its page leads back to the store
		return st, wire.Errf(wire.ERStoreSuspended, "aid", "store suspended")
	}
	return st, nil
}

// binding returns the browser's binding cookie value, making one when absent, and the digest an
// order session stores.
func (h *Handler) binding(w http.ResponseWriter, r *http.Request) string {
	v := ""
	if c, err := r.Cookie(CookieName); err == nil && token.ValidString(c.Value) {
		v = c.Value
	} else {
		v = token.NewString(token.Len)
	}
	// refreshed on every order so it outlives the newest session
	http.SetCookie(w, &http.Cookie{Name: CookieName, Value: v, Path: "/", MaxAge: int((SessionTTL + 10*time.Minute).Seconds()),
		HttpOnly: true, Secure: r.TLS != nil, SameSite: http.SameSiteLaxMode})
	return digest(v)
}

func digest(v string) string {
	s := sha256.Sum256([]byte("kessai-link-binding\x00" + v))
	return hex.EncodeToString(s[:])
}

// boundTo reports whether r carries the cookie o was opened with.
func boundTo(r *http.Request, o *store.LinkOrder) bool {
	c, err := r.Cookie(CookieName)
	if err != nil || !token.ValidString(c.Value) {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(digest(c.Value)), []byte(o.Binding)) == 1
}

func (h *Handler) autoCharger() gateway.AutoCharger {
	if h.AutoCharge == nil {
		return nil
	}
	return h.AutoCharge()
}

// refusing is the maintenance gate: the window refusing op now, or nil.
func (h *Handler) refusing(now time.Time, op maintenance.Op, brand string, r *http.Request) *maintenance.Window {
	if h.Gate == nil {
		return nil
	}
	return h.Gate(now, op, brand, r)
}

func (h *Handler) customerMessage(ctx context.Context, win *maintenance.Window, lang string) string {
	tmpl := ""
	if h.MessageTemplate != nil {
		tmpl = h.MessageTemplate(lang)
	} else if cfg, err := h.Pay.DB.NoticeConfig(ctx); err == nil {
		tmpl = cfg.MessageTemplateJA
		if lang == "en" {
			tmpl = cfg.MessageTemplateEN
		}
	}
	msg, err := maintenance.CustomerMessage(*win, lang, tmpl)
	if err != nil && tmpl != "" {
		msg, err = maintenance.CustomerMessage(*win, lang, "")
	}
	if err != nil {
		// never a broken page during maintenance: the span and code say what matters
		if lang == "en" {
			return "Our payment system is under maintenance: " + maintenance.FormatSpanEN(*win) + " (" + maintenance.ErrorCode + ")"
		}
		return "ただいまメンテナンス中です：" + maintenance.FormatSpanJA(*win) + "（" + maintenance.ErrorCode + "）"
	}
	return msg
}

func (h *Handler) logRefusal(r *http.Request, err error) {
	if h.Log == nil || err == nil {
		return
	}
	var we *wire.Error
	if errors.As(err, &we) && we.Err == nil {
		h.Log.Info("link refused", "path", r.URL.Path, "code", string(we.Code), "field", we.Field)
		return
	}
	// for the operator only, and redacted: the customer sees a code, never this text
	h.Log.Warn("link error", "path", r.URL.Path, "code", string(wire.CodeOf(err)), "err", vault.Redact(err.Error()))
}

func (h *Handler) remoteIP(r *http.Request) netip.Addr {
	if h.RemoteIP != nil {
		return h.RemoteIP(r)
	}
	ap, _ := netip.ParseAddrPort(r.RemoteAddr)
	return ap.Addr()
}

// cardWait is how long card attempts from this request's address at st are refused (0: go on).
func (h *Handler) cardWait(r *http.Request, st *store.Store, now time.Time) time.Duration {
	return h.Velocity.Wait(st.AID, h.remoteIP(r), now)
}

// cardFailed counts a card attempt refused with code: a number that is not a card, a decline, a
// wrong security code. Refusals that say nothing about the card (maintenance, storage, a
// suspended store) do not count, nor do the sandbox's documented test cards, which developers
// decline on purpose.
func (h *Handler) cardFailed(r *http.Request, st *store.Store, pan string, code wire.Code, now time.Time) {
	switch code {
	case "", wire.ERInternal, wire.ERMaintenance, wire.ERStoreSuspended, wire.ERNetwork:
		return
	}
	if strings.TrimSpace(pan) == "" {
		return // an empty form is a slip, not a card tried
	}
	if h.Sandbox && acquirer.IsTestCard(strings.Join(strings.Fields(pan), "")) {
		return
	}
	h.Velocity.Fail(st.AID, h.remoteIP(r), now)
}

// waitMinutes rounds a refusal's wait up to whole minutes for the shopper.
func waitMinutes(d time.Duration) int { return int((d + time.Minute - 1) / time.Minute) }
