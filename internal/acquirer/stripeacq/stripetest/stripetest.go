// Package stripetest puts a recording, state-keeping and fault-injecting proxy in front of
// stripe-mock for tests. stripe-mock validates every request against Stripe's OpenAPI but keeps no
// state, so the proxy forwards each request to it first (a request the mock refuses fails the
// test's operation as it would at Stripe), then answers from its own book the way Stripe would:
// intents keep their status, a search finds intents by metadata, and an Idempotency-Key keeps
// Stripe's rules (docs.stripe.com/api/idempotent_requests): the first answer given under a key once
// the endpoint ran (whatever its status) is saved, and the same key with the same endpoint and
// parameters replays it without acting again; with another endpoint or other parameters it is
// refused, 400 idempotency_error, and nothing is done; a request the API refuses before running
// it (here: one stripe-mock's validation refuses) saves nothing; keys are forgotten after KeyTTL
// (Stripe: 24 hours), when the same key acts anew. Faults can be injected per request: the answer dropped after the request
// took effect, a delay past the client's timeout, a 500, a decline.
package stripetest

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// MockEnv names the variable holding stripe-mock's base URL (e.g. http://127.0.0.1:12111). When it
// is set, tests that need the mock fail if it does not answer; when unset they are skipped.
const MockEnv = "KESSAI_STRIPE_MOCK"

// MockURL returns stripe-mock's URL, skipping the test when MockEnv is unset and failing it when
// the mock does not answer.
func MockURL(t testing.TB) string {
	t.Helper()
	u := os.Getenv(MockEnv)
	if u == "" {
		t.Skipf("%s not set: stripe-mock tests skipped (.ci/run starts stripe-mock and sets it)", MockEnv)
	}
	c := &http.Client{Timeout: 5 * time.Second}
	req, _ := http.NewRequest("GET", strings.TrimRight(u, "/")+"/v1/balance", nil)
	req.SetBasicAuth("sk_test_123", "")
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s=%s is set but stripe-mock does not answer: %v", MockEnv, u, err)
	}
	resp.Body.Close()
	return strings.TrimRight(u, "/")
}

// Call is one request as the proxy saw it.
type Call struct {
	Method, Path, Key, Account string
	Form                       url.Values
	Status                     int // what the proxy answered (0: dropped)
	Replayed                   bool
}

// Intent is the proxy's book entry for one PaymentIntent.
type Intent struct {
	ID, Status, Key, Account string
	// Attempt is the intent's metadata[kessai_attempt]: the one request that made it.
	Attempt          string
	Amount, Captured int64
	Refunded         int64
	Manual           bool
	authFailed       bool
	// Method is the intent's payment method type: card, konbini or customer_balance.
	Method string
	// Funded is what arrived for a customer_balance intent so far.
	Funded int64
	// ExpiresAt and Confirmation are the konbini options the intent was made with.
	ExpiresAt              int64
	Confirmation, Customer string
	// CancelReason and CancelKey are the cancellation_reason and Idempotency-Key of the request
	// that cancelled the intent (a payment_intent.canceled event names that key in its request).
	CancelReason, CancelKey string
	slipN                   int
}

// Setup is the proxy's book entry for one SetupIntent (a zero-amount verification).
type Setup struct {
	ID, Status, Key, Account string
	Customer, PaymentMethod  string
	authFailed               bool
}

// Fault is what to do to one request: "" (nothing), "drop" (apply it, then cut the connection
// without an answer), "delay" (apply it, answer after Delay), "500" (apply it, answer 500),
// "500-before" (answer 500 without applying it), "decline" (answer Stripe's card_declined body
// without charging anything; remembered under the request's Idempotency-Key, as Stripe does).
type Fault string

// Proxy is the fake Stripe in front of stripe-mock.
type Proxy struct {
	URL   string
	mock  string
	srv   *httptest.Server
	Delay time.Duration
	// Inject decides a fault per request (nil: none). It runs before the request takes effect and
	// may block, holding the request back.
	Inject func(c Call) Fault
	// Answered, when set, runs once the request has taken effect and before its answer is sent;
	// it may block, holding the answer back (a reader that has seen a state, not yet acted on it).
	Answered func(c Call)
	// KeyTTL is how long an Idempotency-Key's saved answer is kept (default 24 h, as Stripe).
	KeyTTL time.Duration

	mu      sync.Mutex
	calls   []Call
	intents map[string]*Intent
	order   []string
	setups  map[string]*Setup
	sorder  []string
	pms     map[string]string // pm ID -> card number
	replay  map[string]*saved // idempotency key -> the first request made under it, and its answer
	n       int
}

// saved is what Stripe keeps under one Idempotency-Key.
type saved struct {
	endpoint string // "POST /v1/…"
	params   string // the form parameters, canonical (sorted)
	status   int
	body     []byte
	at       time.Time
}

// IdempotencyMismatch is the start of Stripe's message for a key used again with other
// parameters.
const IdempotencyMismatch = "Keys for idempotent requests can only be used with the same parameters they were first used with."

// savedFor is the answer saved under c's key, nil when there is none (or it has expired); an
// error body (400 idempotency_error) when the key was first used for another endpoint or with
// other parameters. The caller holds p.mu.
func (p *Proxy) savedFor(c Call, endpoint string) (s *saved, refusal []byte) {
	s = p.replay[c.Key]
	if s == nil {
		return nil, nil
	}
	if time.Since(s.at) > p.KeyTTL {
		delete(p.replay, c.Key)
		return nil, nil
	}
	msg := ""
	switch {
	case s.endpoint != endpoint:
		msg = fmt.Sprintf("Keys for idempotent requests can only be used for the same endpoint they were first used for ('%s' vs '%s'). Try using a key other than '%s' if you meant to execute a different request.",
			s.endpoint, endpoint, c.Key)
	case s.params != c.Form.Encode():
		msg = IdempotencyMismatch + fmt.Sprintf(" Try using a key other than '%s' if you meant to execute a different request.", c.Key)
	default:
		return s, nil
	}
	b, _ := json.Marshal(map[string]any{"error": map[string]any{"type": "idempotency_error", "message": msg}})
	return nil, b
}

// save keeps the first answer given under c's key. The caller holds p.mu.
func (p *Proxy) save(c Call, endpoint string, status int, body []byte) {
	if c.Key == "" || c.Method != "POST" {
		return
	}
	if s := p.replay[c.Key]; s != nil && time.Since(s.at) <= p.KeyTTL {
		return // a request racing the first under the same key: the first saved holds
	}
	p.replay[c.Key] = &saved{endpoint: endpoint, params: c.Form.Encode(), status: status, body: body, at: time.Now()}
}

// ExpireKeys makes every saved Idempotency-Key older than KeyTTL, as if a day had passed.
func (p *Proxy) ExpireKeys() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, s := range p.replay {
		s.at = time.Now().Add(-p.KeyTTL - time.Second)
	}
}

// Start runs a proxy in front of the stripe-mock at mock.
func Start(t testing.TB, mock string) *Proxy {
	p := &Proxy{mock: mock, Delay: 2 * time.Second, intents: map[string]*Intent{}, setups: map[string]*Setup{}, pms: map[string]string{},
		replay: map[string]*saved{}, KeyTTL: 24 * time.Hour}
	p.srv = httptest.NewServer(http.HandlerFunc(p.serve))
	p.URL = p.srv.URL
	t.Cleanup(p.srv.Close)
	return p
}

// Calls returns the requests seen so far.
func (p *Proxy) Calls() []Call {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]Call(nil), p.calls...)
}

// Intents returns the book's intents in creation order.
func (p *Proxy) Intents() []Intent {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []Intent
	for _, id := range p.order {
		out = append(out, *p.intents[id])
	}
	return out
}

// Setups returns the book's SetupIntents in creation order.
func (p *Proxy) Setups() []Setup {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []Setup
	for _, id := range p.sorder {
		out = append(out, *p.setups[id])
	}
	return out
}

// Authenticate plays the shopper on Stripe's 3-D Secure page for an intent in requires_action:
// passed, it is authorised (captured at once unless manual); failed, it is back to
// requires_payment_method with Stripe's authentication failure. A SetupIntent (seti_…) passed
// is succeeded; failed, back to requires_payment_method with setup_intent_authentication_failure.
// It reports whether the intent was waiting for authentication.
func (p *Proxy) Authenticate(id string, pass bool) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if si := p.setups[id]; si != nil {
		if si.Status != "requires_action" {
			return false
		}
		if pass {
			si.Status = "succeeded"
		} else {
			si.Status, si.authFailed = "requires_payment_method", true
		}
		return true
	}
	in := p.intents[id]
	if in == nil || in.Status != "requires_action" {
		return false
	}
	switch {
	case !pass:
		in.Status, in.authFailed = "requires_payment_method", true
	case in.Manual:
		in.Status = "requires_capture"
	default:
		in.Status, in.Captured = "succeeded", in.Amount
	}
	return true
}

// Charged reports whether an intent holds money now (authorised or captured, not cancelled and
// not fully refunded).
func (i Intent) Charged() bool {
	switch i.Status {
	case "requires_capture":
		return true
	case "succeeded":
		return i.Refunded < i.Captured
	}
	return false
}

var piPath = regexp.MustCompile(`^/v1/payment_intents/([^/]+)(/capture|/cancel|/confirm)?$`)

var siPath = regexp.MustCompile(`^/v1/setup_intents/([^/]+)$`)

// declines maps test card numbers to Stripe's card errors (code, decline_code).
var declines = map[string][2]string{
	"4000000000000002": {"card_declined", "generic_decline"},
	"4000000000009995": {"card_declined", "insufficient_funds"},
	"4000000000000069": {"expired_card", ""},
	"4000000000000127": {"incorrect_cvc", ""},
	"4000000000000119": {"processing_error", ""},
}

// ThreeDSCard is Stripe's test card that always asks for 3-D Secure.
const ThreeDSCard = "4000002760003184"

func (p *Proxy) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	form, _ := url.ParseQuery(string(body))
	if r.Method == "GET" {
		form = r.URL.Query()
	}
	c := Call{Method: r.Method, Path: r.URL.Path, Key: r.Header.Get("Idempotency-Key"), Account: r.Header.Get("Stripe-Account"), Form: form}
	var fault Fault
	if p.Inject != nil {
		fault = p.Inject(c)
	}
	record := func(status int, replayed bool) {
		p.mu.Lock()
		c.Status, c.Replayed = status, replayed
		p.calls = append(p.calls, c)
		p.mu.Unlock()
	}
	if fault == "500-before" {
		record(500, false)
		writeJSON(w, 500, map[string]any{"error": map[string]any{"type": "api_error", "message": "injected before the request took effect"}})
		return
	}
	endpoint := r.Method + " " + r.URL.Path
	// Stripe's idempotency: a key seen before with the same endpoint and parameters answers its
	// first answer and does nothing again; with others it is refused and does nothing either
	var status int
	var out []byte
	replayed := false
	if c.Key != "" && r.Method == "POST" {
		p.mu.Lock()
		s, refusal := p.savedFor(c, endpoint)
		p.mu.Unlock()
		if refusal != nil {
			record(400, false)
			writeAnswer(w, 400, refusal, false)
			return
		}
		if s != nil {
			status, out, replayed = s.status, s.body, true
		}
	}
	if fault == "decline" && !replayed {
		b, _ := json.Marshal(cardError("card_declined", "generic_decline", ""))
		p.mu.Lock()
		p.save(c, endpoint, 402, b)
		p.mu.Unlock()
		record(402, false)
		writeAnswer(w, 402, b, false)
		return
	}
	if !replayed {
		// the mock validates the request's shape against Stripe's OpenAPI
		req, _ := http.NewRequest(r.Method, p.mock+r.URL.RequestURI(), strings.NewReader(string(body)))
		for _, h := range []string{"Authorization", "Content-Type", "Stripe-Version", "Stripe-Account"} {
			if v := r.Header.Get(h); v != "" {
				req.Header.Set(h, v)
			}
		}
		if r.Method == "GET" {
			req.Body = nil
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			record(502, false)
			http.Error(w, err.Error(), 502)
			return
		}
		mb, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		status, out = resp.StatusCode, mb
		if status == 200 {
			// the endpoint ran: its answer, whatever its status, is saved under the key (a
			// request the mock refused never ran, and saves nothing)
			status, out = p.apply(r.Method, r.URL.Path, c, form, mb)
			p.mu.Lock()
			p.save(c, endpoint, status, out)
			p.mu.Unlock()
		}
	}
	if p.Answered != nil {
		p.Answered(c)
	}
	switch fault {
	case "drop":
		record(0, false)
		if hj, ok := w.(http.Hijacker); ok {
			conn, _, err := hj.Hijack()
			if err == nil {
				conn.(*net.TCPConn).SetLinger(0)
				conn.Close()
			}
		}
		return
	case "delay":
		record(status, replayed)
		time.Sleep(p.Delay)
		writeAnswer(w, status, out, replayed)
		return
	case "500":
		record(500, false)
		writeJSON(w, 500, map[string]any{"error": map[string]any{"type": "api_error", "message": "injected after the request took effect"}})
		return
	}
	record(status, replayed)
	writeAnswer(w, status, out, replayed)
}

func writeAnswer(w http.ResponseWriter, status int, out []byte, replayed bool) {
	if replayed {
		w.Header().Set("Idempotent-Replayed", "true")
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(out)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func cardError(code, decline, pi string) map[string]any {
	e := map[string]any{"type": "card_error", "code": code, "message": "Your card was declined."}
	if decline != "" {
		e["decline_code"] = decline
	}
	if pi != "" {
		e["payment_intent"] = map[string]any{"id": pi, "object": "payment_intent", "status": "requires_payment_method"}
	}
	return map[string]any{"error": e}
}

// apply updates the book for a request the mock accepted and rewrites the mock's answer to match.
func (p *Proxy) apply(method, path string, c Call, form url.Values, mock []byte) (int, []byte) {
	p.mu.Lock()
	defer p.mu.Unlock()
	var o map[string]any
	if json.Unmarshal(mock, &o) != nil {
		return 200, mock
	}
	switch {
	case method == "POST" && path == "/v1/payment_methods":
		p.n++
		id := fmt.Sprintf("pm_test_%d", p.n)
		p.pms[id] = form.Get("card[number]")
		o["id"] = id
	case method == "POST" && path == "/v1/customers":
		p.n++
		o["id"] = fmt.Sprintf("cus_test_%d", p.n)
	case method == "POST" && path == "/v1/setup_intents":
		p.n++
		si := &Setup{ID: fmt.Sprintf("seti_test_%d", p.n), Key: form.Get("metadata[kessai_key]"), Account: c.Account,
			Customer: form.Get("customer"), PaymentMethod: form.Get("payment_method"), Status: "succeeded"}
		card := p.pms[si.PaymentMethod]
		if d, ok := declines[card]; ok {
			b, _ := json.Marshal(cardError(d[0], d[1], ""))
			return 402, b
		}
		p.setups[si.ID] = si
		p.sorder = append(p.sorder, si.ID)
		// stripe-mock answers a fixture (status requires_payment_method, a placeholder
		// next_action); the proxy rewrites it the way Stripe answers a confirmed SetupIntent. A
		// card that needs 3-D Secure is requires_action: with a return_url, a redirect_to_url to
		// Stripe's authentication page; without one (server to server), use_stripe_sdk — a step
		// only Stripe's own client-side code can take.
		if card == ThreeDSCard {
			si.Status = "requires_action"
			if ru := form.Get("return_url"); ru != "" {
				o["next_action"] = map[string]any{"type": "redirect_to_url",
					"redirect_to_url": map[string]any{"url": "https://hooks.stripe.com/3d_secure_2/hosted?setup_intent=" + si.ID, "return_url": ru}}
			} else {
				o["next_action"] = map[string]any{"type": "use_stripe_sdk", "use_stripe_sdk": map[string]any{}}
			}
		}
		p.setupJSON(o, si)
	case method == "GET" && siPath.MatchString(path):
		si := p.setups[siPath.FindStringSubmatch(path)[1]]
		if si == nil {
			return 200, mock
		}
		p.setupJSON(o, si)
	case method == "POST" && path == "/v1/payment_intents":
		p.n++
		in := &Intent{ID: fmt.Sprintf("pi_test_%d", p.n), Key: form.Get("metadata[kessai_key]"), Attempt: form.Get("metadata[kessai_attempt]"), Account: c.Account,
			Manual: form.Get("capture_method") == "manual"}
		fmt.Sscan(form.Get("amount"), &in.Amount)
		p.intents[in.ID] = in
		p.order = append(p.order, in.ID)
		in.Method = form.Get("payment_method_types[0]")
		if in.Method == "konbini" || in.Method == "customer_balance" {
			// stripe-mock accepted the request's shape but answers a fixture without the
			// konbini voucher or the bank account (next_action {"type":"type"}): the proxy
			// answers what Stripe documents for a confirmed konbini / JP bank transfer intent,
			// with numbers of its own (see slipAction), so every mapped field can be checked.
			in.Status, in.slipN, in.Customer = "requires_action", p.n, form.Get("customer")
			fmt.Sscan(form.Get("payment_method_options[konbini][expires_at]"), &in.ExpiresAt)
			in.Confirmation = form.Get("payment_method_options[konbini][confirmation_number]")
			if in.Confirmation == "" {
				in.Confirmation = "11111111111"
			}
			p.intentJSON(o, in)
			break
		}
		card := p.pms[form.Get("payment_method")]
		if d, ok := declines[card]; ok {
			in.Status = "requires_payment_method"
			b, _ := json.Marshal(cardError(d[0], d[1], in.ID))
			return 402, b
		}
		if card == ThreeDSCard {
			if form.Get("error_on_requires_action") == "true" || form.Get("off_session") == "true" {
				in.Status = "requires_payment_method"
				b, _ := json.Marshal(cardError("authentication_required", "authentication_required", in.ID))
				return 402, b
			}
			in.Status = "requires_action"
			o["next_action"] = map[string]any{"type": "redirect_to_url",
				"redirect_to_url": map[string]any{"url": "https://hooks.stripe.com/3d_secure_2/hosted?pi=" + in.ID, "return_url": form.Get("return_url")}}
		} else if in.Manual {
			in.Status = "requires_capture"
		} else {
			in.Status, in.Captured = "succeeded", in.Amount
		}
		p.intentJSON(o, in)
	case method == "GET" && path == "/v1/payment_intents/search":
		var data []any
		field, value := searchQuery(form.Get("query"))
		for _, id := range p.order {
			in := p.intents[id]
			v := in.Key
			if field == "kessai_attempt" {
				v = in.Attempt
			}
			if in.Account == c.Account && v != "" && v == value {
				m := map[string]any{"object": "payment_intent"}
				p.intentJSON(m, in)
				data = append(data, m)
			}
		}
		o["data"], o["has_more"] = data, false
	default:
		m := piPath.FindStringSubmatch(path)
		if m == nil {
			if method == "POST" && path == "/v1/refunds" {
				in := p.intents[form.Get("payment_intent")]
				if in == nil || in.Status != "succeeded" {
					b, _ := json.Marshal(map[string]any{"error": map[string]any{"type": "invalid_request_error", "code": "charge_not_refundable"}})
					return 400, b
				}
				amt := in.Captured - in.Refunded
				if a := form.Get("amount"); a != "" {
					fmt.Sscan(a, &amt)
				}
				if amt > in.Captured-in.Refunded {
					b, _ := json.Marshal(map[string]any{"error": map[string]any{"type": "invalid_request_error", "code": "amount_too_large"}})
					return 400, b
				}
				in.Refunded += amt
				o["amount"], o["status"], o["payment_intent"] = amt, "succeeded", in.ID
			}
			break
		}
		in := p.intents[m[1]]
		if in == nil {
			return 200, mock
		}
		switch m[2] {
		case "/capture":
			if in.Status != "requires_capture" {
				b, _ := json.Marshal(map[string]any{"error": map[string]any{"type": "invalid_request_error", "code": "payment_intent_unexpected_state"}})
				return 400, b
			}
			in.Captured = in.Amount
			if a := form.Get("amount_to_capture"); a != "" {
				fmt.Sscan(a, &in.Captured)
			}
			in.Status = "succeeded"
		case "/cancel":
			if in.Status == "succeeded" || in.Status == "canceled" {
				b, _ := json.Marshal(map[string]any{"error": map[string]any{"type": "invalid_request_error", "code": "payment_intent_unexpected_state"}})
				return 400, b
			}
			in.Status, in.CancelReason, in.CancelKey = "canceled", form.Get("cancellation_reason"), c.Key
		}
		p.intentJSON(o, in)
	}
	b, _ := json.Marshal(o)
	return 200, b
}

var metaQuery = regexp.MustCompile(`^metadata\['([^']+)'\]:'((?:[^'\\]|\\.)*)'$`)

// searchQuery reads a search query of the one form Kessai sends: metadata['field']:'value'.
func searchQuery(q string) (field, value string) {
	m := metaQuery.FindStringSubmatch(q)
	if m == nil {
		return "", ""
	}
	return m[1], strings.ReplaceAll(m[2], "\\'", "'")
}

func (p *Proxy) intentJSON(o map[string]any, in *Intent) {
	o["id"], o["status"], o["amount"], o["currency"] = in.ID, in.Status, in.Amount, "jpy"
	o["amount_received"] = in.Captured
	o["metadata"] = map[string]any{"kessai_key": in.Key}
	if in.Attempt != "" {
		o["metadata"].(map[string]any)["kessai_attempt"] = in.Attempt
	}
	o["latest_charge"] = map[string]any{"id": "ch_" + in.ID, "object": "charge", "amount_captured": in.Captured,
		"amount_refunded": in.Refunded, "refunded": in.Captured > 0 && in.Refunded >= in.Captured}
	if in.Status == "requires_capture" {
		o["amount_capturable"] = in.Amount
	} else {
		o["amount_capturable"] = 0
	}
	if in.Status != "requires_action" {
		o["next_action"] = nil
	}
	if in.Method == "konbini" || in.Method == "customer_balance" {
		o["payment_method_types"] = []string{in.Method}
		o["latest_charge"] = nil
		o["amount_received"] = in.Captured
		if in.Customer != "" {
			o["customer"] = in.Customer
		}
		if in.Status == "requires_action" {
			o["next_action"] = slipAction(in)
		}
	}
	o["cancellation_reason"] = nil
	if in.CancelReason != "" {
		o["cancellation_reason"] = in.CancelReason
	}
	o["last_payment_error"] = nil
	if in.authFailed && in.Status == "requires_payment_method" {
		o["last_payment_error"] = map[string]any{"type": "card_error", "code": "payment_intent_authentication_failure",
			"message": "The provided PaymentMethod has failed authentication."}
	}
}

func (p *Proxy) setupJSON(o map[string]any, si *Setup) {
	o["id"], o["status"], o["usage"] = si.ID, si.Status, "off_session"
	o["metadata"] = map[string]any{"kessai_key": si.Key}
	o["customer"], o["payment_method"] = nil, nil
	if si.Customer != "" {
		o["customer"] = si.Customer
	}
	if si.PaymentMethod != "" {
		o["payment_method"] = si.PaymentMethod
	}
	na, _ := o["next_action"].(map[string]any)
	switch {
	case si.Status != "requires_action":
		o["next_action"] = nil
	case na == nil || na["type"] != "redirect_to_url" && na["type"] != "use_stripe_sdk":
		// a retrieve of an intent still waiting: the mock's placeholder becomes the redirect again
		o["next_action"] = map[string]any{"type": "redirect_to_url",
			"redirect_to_url": map[string]any{"url": "https://hooks.stripe.com/3d_secure_2/hosted?setup_intent=" + si.ID}}
	}
	o["last_setup_error"] = nil
	if si.authFailed && si.Status == "requires_payment_method" {
		o["last_setup_error"] = map[string]any{"type": "invalid_request_error", "code": "setup_intent_authentication_failure",
			"message": "The latest attempt to set up the payment method has failed because authentication failed."}
	}
}

// Slip test values: what the proxy answers for a confirmed konbini or JP bank transfer intent.
const (
	BankCode   = "0001"
	BankName   = "みずほ銀行"
	BranchName = "ストライプ支店"
	// Holder has a "." as zengin names may: the wire's bank string separates its fields with ".".
	Holder = "ｽﾄﾗｲﾌﾟ.ｼﾞﾔﾊﾟﾝ(ｶ"
)

// PaymentCode is the konbini payment code the proxy gives intent n at a store (lawson,
// familymart, ministop, seicomart).
func PaymentCode(store string, n int) string {
	off := map[string]int{"lawson": 1, "familymart": 2, "ministop": 3, "seicomart": 4}[store]
	return fmt.Sprintf("%d%010d", off, 5000000+n)
}

// Branch and Account are the zengin branch code and account number of intent n.
func Branch(n int) string  { return fmt.Sprintf("9%02d", n%100) }
func Account(n int) string { return fmt.Sprintf("%07d", 1200000+n) }

// VoucherURL is the hosted voucher of intent id.
func VoucherURL(id string) string { return "https://payment.stripe.com/konbini/voucher/test_" + id }

// SlipN is the number the proxy derived an intent's slip values from.
func (i Intent) SlipN() int { return i.slipN }

func slipAction(in *Intent) map[string]any {
	if in.Method == "konbini" {
		stores := map[string]any{}
		for _, st := range []string{"familymart", "lawson", "ministop", "seicomart"} {
			stores[st] = map[string]any{"confirmation_number": in.Confirmation, "payment_code": PaymentCode(st, in.slipN)}
		}
		return map[string]any{"type": "konbini_display_details", "konbini_display_details": map[string]any{
			"expires_at": in.ExpiresAt, "hosted_voucher_url": VoucherURL(in.ID), "stores": stores}}
	}
	return map[string]any{"type": "display_bank_transfer_instructions", "display_bank_transfer_instructions": map[string]any{
		"amount_remaining": in.Amount - in.Funded, "currency": "jpy", "type": "jp_bank_transfer", "reference": nil,
		"hosted_instructions_url": "https://payment.stripe.com/payment/test_" + in.ID + "/instructions",
		"financial_addresses": []any{map[string]any{"type": "zengin", "supported_networks": []string{"zengin"},
			"zengin": map[string]any{"bank_code": BankCode, "bank_name": BankName, "branch_code": Branch(in.slipN),
				"branch_name": BranchName, "account_type": "futsu", "account_number": Account(in.slipN), "account_holder_name": Holder}}}}}
}

// Fund plays a bank transfer of amount arriving for a customer_balance intent: in part, the intent
// waits for the rest (partially funded); in full, it succeeds.
func (p *Proxy) Fund(id string, amount int64) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	in := p.intents[id]
	if in == nil || in.Method != "customer_balance" || in.Status != "requires_action" {
		return false
	}
	in.Funded += amount
	if in.Funded >= in.Amount {
		in.Status, in.Captured = "succeeded", in.Amount
	}
	return true
}

// PayKonbini plays the shopper paying a konbini voucher at the store.
func (p *Proxy) PayKonbini(id string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	in := p.intents[id]
	if in == nil || in.Method != "konbini" || in.Status != "requires_action" {
		return false
	}
	in.Status, in.Captured = "succeeded", in.Amount
	return true
}

// Object is the intent as Stripe shows it now (the data.object of its webhook events).
func (p *Proxy) Object(id string) string {
	p.mu.Lock()
	defer p.mu.Unlock()
	in := p.intents[id]
	if in == nil {
		return "null"
	}
	o := map[string]any{"object": "payment_intent", "currency": "jpy"}
	p.intentJSON(o, in)
	b, _ := json.Marshal(o)
	return string(b)
}
