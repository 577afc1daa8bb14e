// Package stripeacq is the Stripe connector behind the acquirer interface (stripe-go): Kessai's
// jobs become PaymentIntents (CAPTURE: automatic capture, AUTH: manual capture, SALES: capture,
// CANCEL: cancel or refund), CHECK a SetupIntent, stored cards a Customer and PaymentMethod charged
// off-session. Every POST carries an Idempotency-Key derived from the payment, the operation and
// the request's own parameters (Stripe refuses a key used again with other parameters), and a call
// whose answer is lost is retried under the same key, then looked up by its metadata, before the
// caller is told the outcome is unknown.
package stripeacq

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/stripe/stripe-go/v82"
	"github.com/stripe/stripe-go/v82/form"

	"kessai/internal/acquirer"
)

// Config is the connector's configuration. Key is a secret: it is never logged or printed.
type Config struct {
	Key     string
	APIBase string // "" for https://api.stripe.com; stripe-mock in tests
	// CallTimeout bounds one HTTP call (default 4 s); Budget bounds one operation with its
	// retries (default 8 s, so a gateway answer stays within the 10 s clients wait).
	CallTimeout time.Duration
	Budget      time.Duration
	// Attempts is how many times one operation is sent under its key (default 3).
	Attempts   int
	HTTPClient *http.Client
	Log        *slog.Logger
}

// TestMode reports whether key is a Stripe test-mode key (sk_test_…, rk_test_…): Stripe moves no
// money for it and refuses real card numbers.
func TestMode(key string) bool {
	return strings.HasPrefix(key, "sk_test_") || strings.HasPrefix(key, "rk_test_")
}

// Acquirer is the Stripe connector.
type Acquirer struct {
	c   *stripe.Client
	cfg Config
	// failures counts consecutive calls that ended without an answer from Stripe (health).
	failures atomic.Int64
}

// Name reports the connector's name.
func (*Acquirer) Name() string { return "stripe" }

// New builds a connector. Retries are Kessai's own (stripe-go's are off), so that every one
// reuses the operation's key and the caller learns when the outcome stays unknown.
func New(cfg Config) (*Acquirer, error) {
	if cfg.Key == "" {
		return nil, errors.New("stripe: no secret key (KESSAI_STRIPE_KEY or --stripe-key-file)")
	}
	if cfg.CallTimeout <= 0 {
		cfg.CallTimeout = 4 * time.Second
	}
	if cfg.Budget <= 0 {
		cfg.Budget = 8 * time.Second
	}
	if cfg.Attempts <= 0 {
		cfg.Attempts = 3
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{}
	}
	hc := *cfg.HTTPClient
	hc.Transport = sizedBody{next: hc.Transport}
	cfg.HTTPClient = &hc
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	bc := &stripe.BackendConfig{HTTPClient: cfg.HTTPClient, MaxNetworkRetries: stripe.Int64(0),
		LeveledLogger: &stripe.LeveledLogger{Level: stripe.LevelNull}}
	if cfg.APIBase != "" {
		bc.URL = stripe.String(strings.TrimRight(cfg.APIBase, "/"))
	}
	return &Acquirer{c: stripe.NewClient(cfg.Key, stripe.WithBackends(stripe.NewBackendsWithConfig(bc))), cfg: cfg}, nil
}

// sizedBody sends every request body with its Content-Length (stripe-go streams it, chunked):
// proxies and load balancers in front of the API do not all accept chunked request bodies.
type sizedBody struct{ next http.RoundTripper }

func (t sizedBody) RoundTrip(r *http.Request) (*http.Response, error) {
	next := t.next
	if next == nil {
		next = http.DefaultTransport
	}
	if r.Body != nil && r.ContentLength <= 0 {
		b, err := io.ReadAll(r.Body)
		r.Body.Close()
		if err != nil {
			return nil, err
		}
		r = r.Clone(r.Context())
		r.Body, r.ContentLength = io.NopCloser(bytes.NewReader(b)), int64(len(b))
		r.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil }
	}
	return next.RoundTrip(r)
}

// Failures is the number of consecutive operations that ended without an answer from Stripe.
func (a *Acquirer) Failures() int64 { return a.failures.Load() }

// IdempotencyKey derives the Idempotency-Key of one operation on one payment: the same inputs give
// the same key on every retry, on every instance.
func IdempotencyKey(parts ...string) string {
	h := sha256.Sum256([]byte(strings.Join(parts, "\x00")))
	return "kessai-" + hex.EncodeToString(h[:20])
}

// MetaKey is the PaymentIntent / SetupIntent metadata field holding Kessai's request key
// (acquirer.Request.Key: the order and the card), by which the reconciler finds every intent made
// for it.
const MetaKey = "kessai_key"

// AttemptKey is the PaymentIntent metadata field holding the Idempotency-Key of the one request
// that made it, by which an intent whose creation answer was lost is found again — never another
// attempt of the same order and card (with another security code, another return page), which
// may have been declined while this one charged.
const AttemptKey = "kessai_attempt"

// paramKey derives the Idempotency-Key of a POST from its operation and the request's own
// parameters, form-encoded as stripe-go sends them (never used for a request carrying card data).
// Stripe keeps the first request made under a key and refuses the key with other parameters
// (400 idempotency_error), so the key must change whenever a parameter legitimately does (another
// payment method, another return page, another amount), and stay the same on a retry of the very
// same request — both hold by construction.
func paramKey(p any, parts ...string) string {
	v := &form.Values{}
	form.AppendTo(v, p)
	return IdempotencyKey(append(parts, v.ToValues().Encode())...)
}

// maxCardKeys bounds how many payment-method keys one request key walks through (see
// paymentMethod): each is one security code tried for the same card and order.
const maxCardKeys = 8

// ref joins a Connect account and an object ID into a network reference ("acct_…:pi_…").
func ref(account, id string) string {
	if account == "" {
		return id
	}
	return account + ":" + id
}

// splitRef is the inverse of ref.
func splitRef(r string) (account, id string) {
	if a, id, ok := strings.Cut(r, ":"); ok {
		return a, id
	}
	return "", r
}

// params fills the headers common to every call.
func params(p *stripe.Params, account, key string) {
	if account != "" {
		p.SetStripeAccount(account)
	}
	if key != "" {
		p.SetIdempotencyKey(key)
	}
}

// unknownErr reports whether err leaves the outcome of a call unknown: no answer (timeout, cut
// connection), a 5xx, a 409 (the same key still in flight) or a 429.
func unknownErr(err error) bool {
	if err == nil {
		return false
	}
	var se *stripe.Error
	if errors.As(err, &se) {
		return se.HTTPStatusCode == 0 || se.HTTPStatusCode >= 500 || se.HTTPStatusCode == 409 || se.HTTPStatusCode == 429
	}
	return true // transport error: the request may have reached Stripe
}

// do runs one operation under its idempotency key, retrying it while its outcome is unknown and the
// budget lasts. It returns the last error when the outcome stays unknown.
func (a *Acquirer) do(ctx context.Context, op func(ctx context.Context) error) error {
	deadline := time.Now().Add(a.cfg.Budget)
	var err error
	for i := 0; i < a.cfg.Attempts; i++ {
		left := time.Until(deadline)
		if left <= 0 || ctx.Err() != nil {
			break
		}
		cctx, cancel := context.WithTimeout(ctx, min(a.cfg.CallTimeout, left))
		err = op(cctx)
		cancel()
		if !unknownErr(err) {
			a.failures.Store(0)
			return err
		}
		a.cfg.Log.Warn("stripe call without an answer, retrying under the same key", "attempt", i+1, "err", describe(err))
		if i+1 < a.cfg.Attempts {
			t := time.NewTimer(min(time.Duration(100<<i)*time.Millisecond, time.Until(deadline)))
			select {
			case <-t.C:
			case <-ctx.Done():
			}
			t.Stop()
		}
	}
	a.failures.Add(1)
	return err
}

// describe is an error's text without anything secret (stripe-go errors never carry the key; the
// request's card data is never part of an error).
func describe(err error) string {
	var se *stripe.Error
	if errors.As(err, &se) {
		return fmt.Sprintf("stripe %d %s %s", se.HTTPStatusCode, se.Type, se.Code)
	}
	return err.Error()
}

// declineCode maps Stripe's decline and error codes to wire codes.
func declineCode(code, decline string) string {
	for _, c := range []string{decline, code} {
		switch c {
		case "insufficient_funds", "card_velocity_exceeded", "withdrawal_count_limit_exceeded":
			return "ER016"
		case "expired_card":
			return "ER056"
		case "incorrect_cvc", "invalid_cvc":
			return "ER079"
		case "processing_error", "try_again_later", "issuer_not_available":
			return "ER042"
		case "authentication_required", "authentication_not_handled", "payment_intent_authentication_failure", "setup_intent_authentication_failure":
			return "ER900"
		}
	}
	return "ER030"
}

// processorCode is the code shown in the panel: "code/decline_code".
func processorCode(code, decline string) string {
	if decline != "" && decline != code {
		return code + "/" + decline
	}
	return code
}

// declined turns a Stripe card error into a decline; ok is false for any other error.
func declined(err error) (acquirer.Response, bool) {
	var se *stripe.Error
	if !errors.As(err, &se) || se.HTTPStatusCode >= 500 || se.HTTPStatusCode == 0 {
		return acquirer.Response{}, false
	}
	if se.Type != stripe.ErrorTypeCard && se.HTTPStatusCode != 402 && se.Code != "authentication_required" {
		return acquirer.Response{}, false
	}
	return acquirer.Response{Code: declineCode(string(se.Code), string(se.DeclineCode)),
		ProcessorCode: processorCode(string(se.Code), string(se.DeclineCode))}, true
}

// expiry splits YYMM.
func expiry(exp string) (month, year int64, err error) {
	if len(exp) != 4 {
		return 0, 0, fmt.Errorf("expiry %q is not YYMM", exp)
	}
	y, err1 := strconv.Atoi(exp[:2])
	m, err2 := strconv.Atoi(exp[2:])
	if err1 != nil || err2 != nil {
		return 0, 0, fmt.Errorf("expiry %q is not YYMM", exp)
	}
	return int64(m), int64(2000 + y), nil
}

// paymentMethod makes the Stripe PaymentMethod for a card typed in (raw card data: see SECURITY.md
// for what that means for PCI scope), or returns the stored one.
func (a *Acquirer) paymentMethod(ctx context.Context, r acquirer.Request, key string) (customer, pm string, err error) {
	if r.Stored != "" {
		customer, pm, _ = strings.Cut(r.Stored, "/")
		return customer, pm, nil
	}
	m, y, err := expiry(r.Exp)
	if err != nil {
		return "", "", err
	}
	p := &stripe.PaymentMethodCreateParams{Type: stripe.String("card"), Card: &stripe.PaymentMethodCreateCardParams{
		Number: stripe.String(r.PAN), ExpMonth: stripe.Int64(m), ExpYear: stripe.Int64(y)}}
	cvc := "no-cvc"
	if r.CVV != "" {
		p.Card.CVC = stripe.String(r.CVV)
		cvc = "cvc"
	}
	// The key cannot be derived from the parameters (they hold the card number and security code,
	// which no key sent to Stripe may carry, even hashed). The caller's key names the card (a
	// keyed digest of it, see acquirer.Request.Key) but not its security code: a shopper who
	// typed the wrong one and types it again sends other parameters under the same key, which
	// Stripe refuses (idempotency_error). Then the next key in a fixed sequence is tried: a retry
	// of either request walks the same sequence and lands on its own payment method again.
	var got *stripe.PaymentMethod
	for g := 0; ; g++ {
		params(&p.Params, r.Account, IdempotencyKey(key, "payment_method", cvc, strconv.Itoa(g)))
		err = a.do(ctx, func(ctx context.Context) error {
			var err error
			got, err = a.c.V1PaymentMethods.Create(ctx, p)
			return err
		})
		var se *stripe.Error
		if g+1 < maxCardKeys && errors.As(err, &se) && se.Type == stripe.ErrorTypeIdempotency {
			continue
		}
		break
	}
	if err != nil {
		return "", "", err
	}
	if r.Keep {
		cp := &stripe.CustomerCreateParams{Metadata: map[string]string{MetaKey: key}}
		params(&cp.Params, r.Account, paramKey(cp, r.Account, key, "customer"))
		var cus *stripe.Customer
		if err := a.do(ctx, func(ctx context.Context) error {
			var err error
			cus, err = a.c.V1Customers.Create(ctx, cp)
			return err
		}); err != nil {
			return "", "", err
		}
		customer = cus.ID
	}
	return customer, got.ID, nil
}

// Authorize makes a confirmed PaymentIntent: automatic capture for a sale (CAPTURE), manual
// capture otherwise (AUTH). An answer lost on the way is retried under the same key, then looked
// up by metadata; ErrOutcomeUnknown when neither settles it.
func (a *Acquirer) Authorize(ctx context.Context, r acquirer.Request) (acquirer.Response, error) {
	return a.authorize(ctx, r, 0)
}

func (a *Acquirer) authorize(ctx context.Context, r acquirer.Request, gen int) (acquirer.Response, error) {
	key := r.Key
	if gen > 0 {
		key = r.Key + "#" + strconv.Itoa(gen)
	}
	customer, pm, err := a.paymentMethod(ctx, r, key)
	if err != nil {
		return a.failed(err)
	}
	p := &stripe.PaymentIntentCreateParams{Amount: stripe.Int64(r.Amount), Currency: stripe.String("jpy"),
		PaymentMethod: stripe.String(pm), Confirm: stripe.Bool(true), PaymentMethodTypes: []*string{stripe.String("card")},
		Metadata: map[string]string{MetaKey: r.Key}}
	if r.Sale {
		p.CaptureMethod = stripe.String("automatic")
	} else {
		p.CaptureMethod = stripe.String("manual")
	}
	if customer != "" {
		p.Customer = stripe.String(customer)
		if r.Stored == "" && r.Keep {
			p.SetupFutureUsage = stripe.String("off_session")
		}
	}
	switch {
	case r.OffSession && r.Stored != "":
		p.OffSession = stripe.Bool(true)
	case r.ReturnURL != "":
		p.ReturnURL = stripe.String(r.ReturnURL)
	default:
		// server to server: no shopper to authenticate, a charge that needs it is declined
		p.ErrorOnRequiresAction = stripe.Bool(true)
	}
	// the payment method (another card, another security code), the return page, the amount…
	// are all in the key: the same key always comes with the same parameters
	pkey := paramKey(p, r.Account, key, "payment_intent")
	p.Metadata[AttemptKey] = pkey
	params(&p.Params, r.Account, pkey)
	pi, err := a.createIntent(ctx, r.Account, pkey, p, "payment intent")
	if errors.Is(err, acquirer.ErrOutcomeUnknown) {
		return acquirer.Response{}, err
	}
	if err != nil {
		return a.failed(err)
	}
	if pi.LastResponse != nil && pi.LastResponse.Header.Get("Idempotent-Replayed") == "true" && gen < 5 {
		// Stripe answered from its idempotency cache: the intent may have been cancelled or
		// refunded since (a reconciler voided an outcome-unknown charge), or its 3-D Secure
		// authentication failed (back to requires_payment_method: it holds nothing). Such an
		// intent is over; the retried order is a new charge under the next key.
		cur, err := a.retrieve(ctx, r.Account, pi.ID)
		if err != nil {
			return acquirer.Response{}, fmt.Errorf("%w: %s", acquirer.ErrOutcomeUnknown, describe(err))
		}
		if over(cur) || cur.Status == stripe.PaymentIntentStatusRequiresPaymentMethod {
			return a.authorize(ctx, r, gen+1)
		}
		pi = cur
	}
	resp := a.intent(r.Account, pi, r.Sale)
	if resp.Approved && r.Keep && customer != "" {
		resp.Stored = customer + "/" + pm
	}
	return resp, nil
}

// Returned reads the intent a hosted-page charge left in requires_action once the shopper is back
// from Stripe's authentication: succeeded or requires_capture is an approval, still
// requires_action an authentication not completed (ER901), a failed authentication Stripe's
// decline. The intent must be this charge's (its amount).
//
// A SetupIntent (seti_…: a zero-yen CHECK or auto-charge sign-up) is read the same way: succeeded
// is a verified card (kept at Stripe: its Customer and PaymentMethod), still requires_action or a
// failed authentication ER901. It must be this store's (its metadata key).
func (a *Acquirer) Returned(ctx context.Context, netRef string, r acquirer.Request) (acquirer.Response, error) {
	account, id := splitRef(netRef)
	if strings.HasPrefix(id, "seti_") {
		return a.returnedSetup(ctx, account, id, r)
	}
	pi, err := a.retrieve(ctx, account, id)
	if unknownErr(err) {
		return acquirer.Response{}, fmt.Errorf("%w: %s", acquirer.ErrOutcomeUnknown, describe(err))
	}
	if err != nil {
		return a.failed(err)
	}
	if pi.Amount != r.Amount {
		return acquirer.Response{}, fmt.Errorf("stripe: intent %s is for %d, not %d", pi.ID, pi.Amount, r.Amount)
	}
	resp := a.intent(account, pi, r.Sale)
	if resp.RedirectURL != "" || pi.Status == stripe.PaymentIntentStatusRequiresAction {
		resp.Code, resp.ProcessorCode, resp.RedirectURL = "ER901", "authentication_incomplete", ""
	} else if !resp.Approved && pi.LastPaymentError != nil && pi.LastPaymentError.Code == "payment_intent_authentication_failure" {
		resp.Code = "ER901"
	}
	if resp.Approved && r.Keep && pi.Customer != nil && pi.PaymentMethod != nil && pi.Customer.ID != "" {
		resp.Stored = pi.Customer.ID + "/" + pi.PaymentMethod.ID
	}
	return resp, nil
}

// returnedSetup reads a SetupIntent the shopper authenticated (or not) at Stripe. Nothing is
// charged by it, so an answer lost on the way is a network error to retry (ER042), as in Verify.
func (a *Acquirer) returnedSetup(ctx context.Context, account, id string, r acquirer.Request) (acquirer.Response, error) {
	si, err := a.retrieveSetup(ctx, account, id)
	if unknownErr(err) {
		return acquirer.Response{ProcessorCode: "timeout"}, fmt.Errorf("%w: %s", acquirer.ErrNetwork, describe(err))
	}
	if err != nil {
		return a.failed(err)
	}
	// the verification was made for this store's order: its key starts with the store's ID
	if store, _, _ := strings.Cut(r.Key, "/"); !strings.HasPrefix(si.Metadata[MetaKey], store+"/") {
		return acquirer.Response{}, fmt.Errorf("stripe: setup intent %s was not made for store %s", si.ID, store)
	}
	resp := a.setup(account, si, "")
	switch {
	case si.Status == stripe.SetupIntentStatusRequiresAction:
		resp.Code, resp.ProcessorCode, resp.RedirectURL = "ER901", "authentication_incomplete", ""
	case !resp.Approved && si.LastSetupError != nil && si.LastSetupError.Code == "setup_intent_authentication_failure":
		resp.Code = "ER901"
	}
	if resp.Approved && r.Keep && si.Customer != nil && si.PaymentMethod != nil && si.Customer.ID != "" {
		resp.Stored = si.Customer.ID + "/" + si.PaymentMethod.ID
	}
	return resp, nil
}

func (a *Acquirer) retrieveSetup(ctx context.Context, account, id string) (*stripe.SetupIntent, error) {
	p := &stripe.SetupIntentRetrieveParams{}
	params(&p.Params, account, "")
	var si *stripe.SetupIntent
	err := a.do(ctx, func(ctx context.Context) error {
		var err error
		si, err = a.c.V1SetupIntents.Retrieve(ctx, id, p)
		return err
	})
	return si, err
}

// setup turns a SetupIntent into the acquirer's answer (customer/pm: the card kept at Stripe, "" for
// none).
func (a *Acquirer) setup(account string, si *stripe.SetupIntent, stored string) acquirer.Response {
	resp := acquirer.Response{Ref: ref(account, si.ID)}
	switch si.Status {
	case stripe.SetupIntentStatusSucceeded:
		resp.Approved, resp.ApprovalCode, resp.Stored = true, approval(si.ID), stored
	case stripe.SetupIntentStatusRequiresAction:
		resp.Code, resp.ProcessorCode = "ER900", "requires_action"
		if na := si.NextAction; na != nil && na.RedirectToURL != nil {
			resp.RedirectURL = na.RedirectToURL.URL
		}
	default:
		resp.Code, resp.ProcessorCode = "ER030", string(si.Status)
		if e := si.LastSetupError; e != nil {
			resp.Code, resp.ProcessorCode = declineCode(string(e.Code), string(e.DeclineCode)), processorCode(string(e.Code), string(e.DeclineCode))
		}
	}
	return resp
}

// over reports whether an intent was cancelled or refunded.
func over(pi *stripe.PaymentIntent) bool {
	if pi.Status == stripe.PaymentIntentStatusCanceled {
		return true
	}
	return pi.LatestCharge != nil && pi.LatestCharge.Refunded
}

// intent turns a PaymentIntent into the acquirer's answer.
func (a *Acquirer) intent(account string, pi *stripe.PaymentIntent, sale bool) acquirer.Response {
	resp := acquirer.Response{Ref: ref(account, pi.ID)}
	switch pi.Status {
	case stripe.PaymentIntentStatusSucceeded, stripe.PaymentIntentStatusRequiresCapture:
		resp.Approved = true
		resp.ApprovalCode = approval(pi.ID)
	case stripe.PaymentIntentStatusRequiresAction:
		resp.Code, resp.ProcessorCode = "ER900", "requires_action"
		if na := pi.NextAction; na != nil && na.RedirectToURL != nil {
			resp.RedirectURL = na.RedirectToURL.URL
		}
	default:
		resp.Code, resp.ProcessorCode = "ER030", string(pi.Status)
		if e := pi.LastPaymentError; e != nil {
			resp.Code, resp.ProcessorCode = declineCode(string(e.Code), string(e.DeclineCode)), processorCode(string(e.Code), string(e.DeclineCode))
		}
	}
	return resp
}

// approval derives the 6-character approval code shown to merchants from the intent's ID (Stripe
// does not expose the issuer's authorisation code on the intent).
func approval(id string) string {
	h := sha256.Sum256([]byte(id))
	return strings.ToUpper(hex.EncodeToString(h[:3]))
}

// failed answers a call that ended: a card decline is a decline, no answer is ErrOutcomeUnknown,
// anything else an error (nothing was charged: the request was refused as a whole).
func (a *Acquirer) failed(err error) (acquirer.Response, error) {
	if resp, ok := declined(err); ok {
		var se *stripe.Error
		if errors.As(err, &se) && se.PaymentIntent != nil {
			resp.Ref = se.PaymentIntent.ID
		}
		return resp, nil
	}
	if unknownErr(err) {
		return acquirer.Response{}, fmt.Errorf("%w: %s", acquirer.ErrOutcomeUnknown, describe(err))
	}
	return acquirer.Response{ProcessorCode: "invalid_request"}, fmt.Errorf("stripe refused the request: %s", describe(err))
}

func (a *Acquirer) retrieve(ctx context.Context, account, id string) (*stripe.PaymentIntent, error) {
	p := &stripe.PaymentIntentRetrieveParams{}
	p.AddExpand("latest_charge")
	params(&p.Params, account, "")
	var pi *stripe.PaymentIntent
	err := a.do(ctx, func(ctx context.Context) error {
		var err error
		pi, err = a.c.V1PaymentIntents.Retrieve(ctx, id, p)
		return err
	})
	return pi, err
}

// lookup finds the PaymentIntents whose metadata field holds key (MetaKey: made under Kessai's
// request key; AttemptKey: by one request), newest first (more than one when the order was charged
// again after a void, or with another security code); none when there are none.
// createIntent creates the PaymentIntent p, sent under Idempotency-Key pkey (also its
// AttemptKey metadata) and retried under it (do). An answer that never came is looked up by that
// metadata: the intent the request made, unless it is over (an earlier intent voided since is never
// the answer); ErrOutcomeUnknown when neither settles it. Other errors are Stripe's answer.
func (a *Acquirer) createIntent(ctx context.Context, account, pkey string, p *stripe.PaymentIntentCreateParams, what string) (*stripe.PaymentIntent, error) {
	var pi *stripe.PaymentIntent
	err := a.do(ctx, func(ctx context.Context) error {
		var err error
		pi, err = a.c.V1PaymentIntents.Create(ctx, p)
		return err
	})
	if !unknownErr(err) {
		return pi, err
	}
	found, lerr := a.lookup(ctx, account, AttemptKey, pkey)
	if cur := live(found); lerr == nil && cur != nil {
		return cur, nil
	}
	a.cfg.Log.Warn("stripe "+what+" outcome unknown", "err", describe(err))
	return nil, fmt.Errorf("%w: %s", acquirer.ErrOutcomeUnknown, describe(err))
}

func (a *Acquirer) lookup(ctx context.Context, account, field, key string) ([]*stripe.PaymentIntent, error) {
	p := &stripe.PaymentIntentSearchParams{}
	p.Query = fmt.Sprintf("metadata['%s']:'%s'", field, strings.ReplaceAll(key, "'", "\\'"))
	p.Single = true
	p.Limit = stripe.Int64(100)
	p.AddExpand("data.latest_charge")
	if account != "" {
		p.SetStripeAccount(account)
	}
	cctx, cancel := context.WithTimeout(ctx, a.cfg.CallTimeout)
	defer cancel()
	var out []*stripe.PaymentIntent
	for pi, err := range a.c.V1PaymentIntents.Search(cctx, p) {
		if err != nil {
			return nil, err
		}
		if pi.Metadata[field] == key { // exactly ours (search is a text match)
			out = append(out, pi)
		}
	}
	return out, nil
}

// live is the first intent found that is not over (cancelled or refunded): the order's current
// charge; nil when there is none.
func live(found []*stripe.PaymentIntent) *stripe.PaymentIntent {
	for _, pi := range found {
		if !over(pi) {
			return pi
		}
	}
	return nil
}

// Resolve finds the intents made under the key of a KeyRef (acquirer.Resolver).
func (a *Acquirer) Resolve(ctx context.Context, r string) ([]string, error) {
	account, key, ok := acquirer.ParseKeyRef(r)
	if !ok {
		return []string{r}, nil
	}
	found, err := a.lookup(ctx, account, MetaKey, key)
	if err != nil {
		return nil, err
	}
	refs := make([]string, len(found))
	for i, pi := range found {
		refs[i] = ref(account, pi.ID)
	}
	return refs, nil
}

// Verify checks a card without charging: a SetupIntent, confirmed (CHECK; a card registered for
// later off-session charges keeps its Customer and PaymentMethod at Stripe).
func (a *Acquirer) Verify(ctx context.Context, r acquirer.Request) (acquirer.Response, error) {
	return a.verify(ctx, r, 0)
}

func (a *Acquirer) verify(ctx context.Context, r acquirer.Request, gen int) (acquirer.Response, error) {
	key := r.Key
	if gen > 0 {
		key = r.Key + "#" + strconv.Itoa(gen)
	}
	customer, pm, err := a.paymentMethod(ctx, r, key)
	if err != nil {
		return a.failed(err)
	}
	p := &stripe.SetupIntentCreateParams{PaymentMethod: stripe.String(pm), Confirm: stripe.Bool(true),
		Usage: stripe.String("off_session"), PaymentMethodTypes: []*string{stripe.String("card")}, Metadata: map[string]string{MetaKey: r.Key}}
	if customer != "" {
		p.Customer = stripe.String(customer)
	}
	if r.ReturnURL != "" {
		p.ReturnURL = stripe.String(r.ReturnURL)
	}
	params(&p.Params, r.Account, paramKey(p, r.Account, key, "setup_intent"))
	var si *stripe.SetupIntent
	err = a.do(ctx, func(ctx context.Context) error {
		var err error
		si, err = a.c.V1SetupIntents.Create(ctx, p)
		return err
	})
	if err != nil {
		if resp, ok := declined(err); ok {
			return resp, nil
		}
		if unknownErr(err) {
			// a verification holds no money: an unknown one is a network error to retry
			return acquirer.Response{ProcessorCode: "timeout"}, fmt.Errorf("%w: %s", acquirer.ErrNetwork, describe(err))
		}
		return a.failed(err)
	}
	if si.LastResponse != nil && si.LastResponse.Header.Get("Idempotent-Replayed") == "true" && gen < 5 {
		// Stripe answered from its idempotency cache (the shopper tries the same order again):
		// a verification whose authentication failed since, or that was cancelled, is over;
		// the new attempt is a new SetupIntent under the next key. One still waiting for the
		// shopper is sent to again.
		cur, err := a.retrieveSetup(ctx, r.Account, si.ID)
		if err != nil {
			return acquirer.Response{ProcessorCode: "timeout"}, fmt.Errorf("%w: %s", acquirer.ErrNetwork, describe(err))
		}
		if cur.Status == stripe.SetupIntentStatusRequiresPaymentMethod || cur.Status == stripe.SetupIntentStatusCanceled {
			return a.verify(ctx, r, gen+1)
		}
		if cur.Status != stripe.SetupIntentStatusRequiresAction {
			si = cur
		}
	}
	stored := ""
	if customer != "" {
		stored = customer + "/" + pm
	}
	// requires_action with a redirect (a ReturnURL was given: the hosted page) sends the shopper
	// to Stripe's authentication; without one (server to server) it is ER900
	return a.setup(r.Account, si, stored), nil
}

// opKey is the idempotency key of a follow-up on the intent netRef: the caller's name for the
// operation (acquirer.WithOpKey, e.g. one refund of a payment), the intent — one operation may act
// on several (the reconciler voiding every intent made under one key), and Stripe refuses a key
// used again on another endpoint — and the request's parameters.
func opKey(ctx context.Context, netRef string, p any, op string) string {
	return paramKey(p, acquirer.OpKeyFrom(ctx), netRef, op)
}

// Capture captures amount of a manual-capture intent (SALES; partial amounts allowed).
func (a *Acquirer) Capture(ctx context.Context, netRef string, amount int64) error {
	account, id := splitRef(netRef)
	p := &stripe.PaymentIntentCaptureParams{AmountToCapture: stripe.Int64(amount)}
	params(&p.Params, account, opKey(ctx, netRef, p, "capture"))
	var pi *stripe.PaymentIntent
	err := a.do(ctx, func(ctx context.Context) error {
		var err error
		pi, err = a.c.V1PaymentIntents.Capture(ctx, id, p)
		return err
	})
	if err != nil {
		return a.followErr("capture", err)
	}
	if pi.Status != stripe.PaymentIntentStatusSucceeded {
		return fmt.Errorf("%w: capture left the intent %s", acquirer.ErrRefused, pi.Status)
	}
	return nil
}

func (a *Acquirer) followErr(op string, err error) error {
	if unknownErr(err) {
		return fmt.Errorf("%w: %s: %s", acquirer.ErrOutcomeUnknown, op, describe(err))
	}
	return fmt.Errorf("%w: %s: %s", acquirer.ErrRefused, op, describe(err))
}

// Void releases an authorisation: a cancelled intent before capture, a refund of what was
// captured after (an unwanted sale). Voiding twice is fine.
func (a *Acquirer) Void(ctx context.Context, netRef string) error {
	if _, _, ok := acquirer.ParseKeyRef(netRef); ok {
		refs, err := a.Resolve(ctx, netRef)
		if err != nil {
			return a.followErr("void lookup", err)
		}
		for _, r := range refs {
			if err := a.Void(ctx, r); err != nil {
				return err
			}
		}
		return nil
	}
	account, id := splitRef(netRef)
	if strings.HasPrefix(id, "seti_") {
		return nil // a verification holds nothing
	}
	pi, err := a.retrieve(ctx, account, id)
	if err != nil {
		return a.followErr("void", err)
	}
	switch pi.Status {
	case stripe.PaymentIntentStatusCanceled:
		return nil
	case stripe.PaymentIntentStatusSucceeded:
		if pi.LatestCharge != nil && pi.LatestCharge.Refunded {
			return nil
		}
		return a.refund(ctx, netRef, 0, "void-refund")
	}
	p := &stripe.PaymentIntentCancelParams{}
	params(&p.Params, account, opKey(ctx, netRef, p, "cancel"))
	err = a.do(ctx, func(ctx context.Context) error {
		_, err := a.c.V1PaymentIntents.Cancel(ctx, id, p)
		return err
	})
	if err != nil {
		return a.followErr("cancel", err)
	}
	return nil
}

// Refund refunds amount of a captured intent (CANCEL after capture, partial refunds).
func (a *Acquirer) Refund(ctx context.Context, netRef string, amount int64) error {
	return a.refund(ctx, netRef, amount, "refund")
}

func (a *Acquirer) refund(ctx context.Context, netRef string, amount int64, op string) error {
	account, id := splitRef(netRef)
	p := &stripe.RefundCreateParams{PaymentIntent: stripe.String(id)}
	if amount > 0 {
		p.Amount = stripe.Int64(amount)
	}
	params(&p.Params, account, opKey(ctx, netRef, p, op))
	var rf *stripe.Refund
	err := a.do(ctx, func(ctx context.Context) error {
		var err error
		rf, err = a.c.V1Refunds.Create(ctx, p)
		return err
	})
	if err != nil {
		return a.followErr("refund", err)
	}
	if rf.Status == stripe.RefundStatusFailed || rf.Status == stripe.RefundStatusCanceled {
		return fmt.Errorf("%w: refund %s", acquirer.ErrRefused, rf.Status)
	}
	return nil
}

// ThreeDS is "frictionless": Kessai runs no 3-D Secure of its own in front of Stripe; Stripe asks
// for authentication when the issuer wants it (requires_action), and the hosted page follows it.
func (*Acquirer) ThreeDS(string) string { return "frictionless" }
