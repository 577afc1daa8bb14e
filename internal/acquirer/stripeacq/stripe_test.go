package stripeacq_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"kessai/internal/acquirer"
	"kessai/internal/acquirer/stripeacq"
	"kessai/internal/acquirer/stripeacq/stripetest"
)

func connector(t *testing.T, px *stripetest.Proxy) *stripeacq.Acquirer {
	t.Helper()
	a, err := stripeacq.New(stripeacq.Config{Key: "sk_test_123", APIBase: px.URL, CallTimeout: 500 * time.Millisecond, Budget: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func posts(calls []stripetest.Call, path string) []stripetest.Call {
	var out []stripetest.Call
	for _, c := range calls {
		if c.Method == "POST" && c.Path == path {
			out = append(out, c)
		}
	}
	return out
}

func want(t *testing.T, c stripetest.Call, field, value string) {
	t.Helper()
	if got := c.Form.Get(field); got != value {
		t.Errorf("%s %s: %s = %q, want %q", c.Method, c.Path, field, got, value)
	}
}

// Every job reaches Stripe as the issue maps it, each request accepted by stripe-mock (it validates
// against Stripe's OpenAPI: a refused shape comes back as an error and fails the job here), and every
// mapped field is what Kessai meant.
func TestStripeJobsMappedAndAcceptedByMock(t *testing.T) {
	px := stripetest.Start(t, stripetest.MockURL(t))
	a := connector(t, px)
	ctx := context.Background()

	// CAPTURE: a card typed in, kept for later, a PaymentIntent confirmed with automatic capture
	sale, err := a.Authorize(ctx, acquirer.Request{Key: "129001/s-1/CAPTURE:1000:100:0", PAN: "4242424242424242", Exp: "3012", CVV: "123",
		Amount: 1100, Sale: true, Keep: true, Account: "acct_1Store"})
	if err != nil || !sale.Approved || len(sale.ApprovalCode) != 6 {
		t.Fatalf("CAPTURE: %+v %v", sale, err)
	}
	calls := px.Calls()
	pm := posts(calls, "/v1/payment_methods")
	if len(pm) != 1 {
		t.Fatalf("want one payment method made, got %d", len(pm))
	}
	want(t, pm[0], "type", "card")
	want(t, pm[0], "card[number]", "4242424242424242")
	want(t, pm[0], "card[exp_month]", "12")
	want(t, pm[0], "card[exp_year]", "2030")
	want(t, pm[0], "card[cvc]", "123")
	if len(posts(calls, "/v1/customers")) != 1 {
		t.Errorf("a kept card needs a customer at Stripe")
	}
	pi := posts(calls, "/v1/payment_intents")
	if len(pi) != 1 {
		t.Fatalf("want one payment intent, got %d", len(pi))
	}
	for f, v := range map[string]string{"amount": "1100", "currency": "jpy", "confirm": "true", "capture_method": "automatic",
		"payment_method": pm[0].Form.Get("payment_method") + "pm_test_1", "setup_future_usage": "off_session",
		"error_on_requires_action": "true", "metadata[kessai_key]": "129001/s-1/CAPTURE:1000:100:0", "payment_method_types[0]": "card"} {
		if f == "payment_method" {
			v = "pm_test_1"
		}
		want(t, pi[0], f, v)
	}
	if pi[0].Account != "acct_1Store" || pm[0].Account != "acct_1Store" {
		t.Errorf("the store's Connect account is not on every call: %q %q", pi[0].Account, pm[0].Account)
	}
	if !strings.HasPrefix(sale.Ref, "acct_1Store:pi_") || !strings.HasPrefix(sale.Stored, "cus_") || !strings.Contains(sale.Stored, "/pm_") {
		t.Errorf("reference %q / stored card %q", sale.Ref, sale.Stored)
	}
	for _, c := range calls {
		if c.Method == "POST" && !strings.HasPrefix(c.Key, "kessai-") {
			t.Errorf("POST %s without a Kessai Idempotency-Key (%q)", c.Path, c.Key)
		}
	}

	// AUTH → manual capture; SALES → capture of part; CANCEL after capture → refund (partial too)
	n := len(px.Calls())
	auth, err := a.Authorize(ctx, acquirer.Request{Key: "129001/s-2/AUTH:1000:0:0", PAN: "4242424242424242", Exp: "3012", Amount: 1000})
	if err != nil || !auth.Approved {
		t.Fatalf("AUTH: %+v %v", auth, err)
	}
	want(t, posts(px.Calls()[n:], "/v1/payment_intents")[0], "capture_method", "manual")
	if err := a.Capture(acquirer.WithOpKey(ctx, "g2/capture"), auth.Ref, 600); err != nil {
		t.Fatalf("SALES: %v", err)
	}
	cp := posts(px.Calls()[n:], "/v1/payment_intents/"+auth.Ref+"/capture")
	if len(cp) != 1 {
		t.Fatalf("SALES did not capture")
	}
	want(t, cp[0], "amount_to_capture", "600")
	if err := a.Refund(acquirer.WithOpKey(ctx, "g2/refund/0"), auth.Ref, 200); err != nil {
		t.Fatalf("partial refund: %v", err)
	}
	if err := a.Refund(acquirer.WithOpKey(ctx, "g2/refund/200"), auth.Ref, 400); err != nil {
		t.Fatalf("rest refunded: %v", err)
	}
	rf := posts(px.Calls()[n:], "/v1/refunds")
	if len(rf) != 2 || rf[0].Form.Get("amount") != "200" || rf[1].Form.Get("amount") != "400" || rf[0].Form.Get("payment_intent") != auth.Ref {
		t.Fatalf("refunds: %+v", rf)
	}
	if rf[0].Key == rf[1].Key {
		t.Errorf("two refunds shared one Idempotency-Key")
	}
	if in := px.Intents()[1]; in.Charged() || in.Captured != 600 || in.Refunded != 600 {
		t.Errorf("intent after capture and refunds: %+v", in)
	}

	// CANCEL before capture → the intent is cancelled
	n = len(px.Calls())
	auth2, _ := a.Authorize(ctx, acquirer.Request{Key: "129001/s-3/AUTH:500:0:0", PAN: "4242424242424242", Exp: "3012", Amount: 500})
	if err := a.Void(acquirer.WithOpKey(ctx, "g3/void"), auth2.Ref); err != nil {
		t.Fatalf("CANCEL: %v", err)
	}
	if len(posts(px.Calls()[n:], "/v1/payment_intents/"+auth2.Ref+"/cancel")) != 1 {
		t.Errorf("CANCEL before capture did not cancel the intent")
	}

	// CHECK → a SetupIntent, no money
	n = len(px.Calls())
	chk, err := a.Verify(ctx, acquirer.Request{Key: "129001/s-4/CHECK:0:0:0", PAN: "4242424242424242", Exp: "3012", CVV: "123"})
	if err != nil || !chk.Approved || !strings.HasPrefix(chk.Ref, "seti_") {
		t.Fatalf("CHECK: %+v %v", chk, err)
	}
	si := posts(px.Calls()[n:], "/v1/setup_intents")
	if len(si) != 1 || len(posts(px.Calls()[n:], "/v1/payment_intents")) != 0 {
		t.Fatalf("CHECK should make one SetupIntent and no PaymentIntent")
	}
	want(t, si[0], "confirm", "true")
	want(t, si[0], "usage", "off_session")

	// one-touch / auto-charge: the stored customer and payment method, off-session, no card number
	n = len(px.Calls())
	ot, err := a.Authorize(ctx, acquirer.Request{Key: "129001/ac-1/CAPTURE:980:0:0", Stored: sale.Stored, OffSession: true, Amount: 980, Sale: true})
	if err != nil || !ot.Approved {
		t.Fatalf("off-session charge: %+v %v", ot, err)
	}
	cus, pmID, _ := strings.Cut(sale.Stored, "/")
	op := posts(px.Calls()[n:], "/v1/payment_intents")
	if len(op) != 1 || len(posts(px.Calls()[n:], "/v1/payment_methods")) != 0 {
		t.Fatalf("an off-session charge should reuse the stored payment method")
	}
	want(t, op[0], "customer", cus)
	want(t, op[0], "payment_method", pmID)
	want(t, op[0], "off_session", "true")
}

// Stripe's declines and errors become the wire's codes, the processor's own code kept.
func TestStripeDeclinesMapped(t *testing.T) {
	px := stripetest.Start(t, stripetest.MockURL(t))
	a := connector(t, px)
	for _, c := range []struct{ pan, code, proc string }{
		{"4000000000000002", "ER030", "card_declined/generic_decline"},
		{"4000000000009995", "ER016", "card_declined/insufficient_funds"},
		{"4000000000000069", "ER056", "expired_card"},
		{"4000000000000127", "ER079", "incorrect_cvc"},
		{"4000000000000119", "ER042", "processing_error"},
		{stripetest.ThreeDSCard, "ER900", "authentication_required"},
	} {
		t.Run(c.code, func(t *testing.T) {
			resp, err := a.Authorize(context.Background(), acquirer.Request{Key: "k/" + c.pan, PAN: c.pan, Exp: "3012", Amount: 1000, Sale: true})
			if err != nil || resp.Approved || resp.Code != c.code || resp.ProcessorCode != c.proc {
				t.Fatalf("%s: %+v %v, want %s (%s)", c.pan, resp, err, c.code, c.proc)
			}
		})
	}
	// hosted pages: Stripe's own 3-D Secure, with the way back
	resp, err := a.Authorize(context.Background(), acquirer.Request{Key: "k/3ds-hosted", PAN: stripetest.ThreeDSCard, Exp: "3012", Amount: 1000, Sale: true,
		ReturnURL: "https://kessai.example/link/stripe/return"})
	if err != nil || resp.Approved || resp.Code != "ER900" || !strings.HasPrefix(resp.RedirectURL, "https://hooks.stripe.com/") {
		t.Fatalf("3-D Secure on a hosted page: %+v %v", resp, err)
	}
	last := posts(px.Calls(), "/v1/payment_intents")
	want(t, last[len(last)-1], "return_url", "https://kessai.example/link/stripe/return")

	// a zero-amount verification (SetupIntent) Stripe wants authenticated: server to server
	// (no return URL) it is ER900 with nowhere to send anyone; on a hosted page, Stripe's page
	// (the proxy rewrites stripe-mock's fixture into the requires_action Stripe answers)
	chk, err := a.Verify(context.Background(), acquirer.Request{Key: "129001/v-3ds/CHECK:0:0:0", PAN: stripetest.ThreeDSCard, Exp: "3012"})
	if err != nil || chk.Approved || chk.Code != "ER900" || chk.RedirectURL != "" {
		t.Fatalf("server-to-server verification needing 3-D Secure: %+v %v", chk, err)
	}
	chk, err = a.Verify(context.Background(), acquirer.Request{Key: "129001/v-3ds-hosted/CHECK:0:0:0", PAN: stripetest.ThreeDSCard, Exp: "3012",
		Keep: true, ReturnURL: "https://kessai.example/link/creditcard/return?o=x"})
	if err != nil || chk.Approved || chk.Code != "ER900" || !strings.HasPrefix(chk.RedirectURL, "https://hooks.stripe.com/") || !strings.HasPrefix(chk.Ref, "seti_") {
		t.Fatalf("hosted-page verification needing 3-D Secure: %+v %v", chk, err)
	}
	si := posts(px.Calls(), "/v1/setup_intents")
	want(t, si[len(si)-1], "return_url", "https://kessai.example/link/creditcard/return?o=x")
	req := acquirer.Request{Key: "129001/v-3ds-hosted/CHECK:0:0:0", Keep: true}
	if back, err := a.Returned(context.Background(), chk.Ref, req); err != nil || back.Approved || back.Code != "ER901" {
		t.Fatalf("back before authenticating: %+v %v, want ER901", back, err)
	}
	if back, err := a.Returned(context.Background(), chk.Ref, acquirer.Request{Key: "999999/v-3ds-hosted/CHECK:0:0:0"}); err == nil || back.Approved {
		t.Fatalf("another store's return read this store's SetupIntent: %+v %v", back, err)
	}
	px.Authenticate(chk.Ref, true)
	back, err := a.Returned(context.Background(), chk.Ref, req)
	setups := px.Setups()
	kept := setups[len(setups)-1]
	if err != nil || !back.Approved || back.Stored != kept.Customer+"/"+kept.PaymentMethod || !strings.HasPrefix(back.Stored, "cus_") {
		t.Fatalf("back after authenticating: %+v %v (kept %+v)", back, err, kept)
	}
}

// One operation keeps its Idempotency-Key on every retry, whatever the fault: an answer cut after
// the request took effect, a delay past the timeout, a 500. The retry under the same key finds
// what the first attempt did: one charge, never two.
func TestStripeRetriesKeepTheKey(t *testing.T) {
	for _, fault := range []stripetest.Fault{"drop", "delay", "500", "500-before"} {
		t.Run(string(fault), func(t *testing.T) {
			px := stripetest.Start(t, stripetest.MockURL(t))
			px.Delay = 1500 * time.Millisecond
			first := true
			px.Inject = func(c stripetest.Call) stripetest.Fault {
				if c.Path == "/v1/payment_intents" && c.Method == "POST" && first {
					first = false
					return fault
				}
				return ""
			}
			a := connector(t, px)
			resp, err := a.Authorize(context.Background(), acquirer.Request{Key: "129001/f-1/CAPTURE:1000:0:0", PAN: "4242424242424242", Exp: "3012", Amount: 1000, Sale: true})
			if err != nil || !resp.Approved {
				t.Fatalf("after one %s the retry should find the charge: %+v %v", fault, resp, err)
			}
			pi := posts(px.Calls(), "/v1/payment_intents")
			if len(pi) < 2 {
				t.Fatalf("no retry after %s: %d calls", fault, len(pi))
			}
			for _, c := range pi {
				if c.Key != pi[0].Key {
					t.Fatalf("retries used different keys: %q, %q", pi[0].Key, c.Key)
				}
			}
			charged := 0
			for _, in := range px.Intents() {
				if in.Charged() {
					charged++
				}
			}
			if charged != 1 || !strings.HasSuffix(resp.Ref, px.Intents()[0].ID) {
				t.Fatalf("charges at Stripe: %d (want 1), answer %s, intents %+v", charged, resp.Ref, px.Intents())
			}
		})
	}
}

// When no attempt is answered, the outcome is unknown (never a decline), and the intent made is
// found by its metadata (the reconciler's look-up).
func TestStripeUnknownOutcomeIsFoundByMetadata(t *testing.T) {
	px := stripetest.Start(t, stripetest.MockURL(t))
	px.Inject = func(c stripetest.Call) stripetest.Fault {
		if c.Path == "/v1/payment_intents" && c.Method == "POST" {
			return "drop"
		}
		if c.Path == "/v1/payment_intents/search" {
			return "500-before"
		}
		return ""
	}
	a := connector(t, px)
	key := "129001/u-1/CAPTURE:1000:0:0"
	_, err := a.Authorize(context.Background(), acquirer.Request{Key: key, PAN: "4242424242424242", Exp: "3012", Amount: 1000, Sale: true})
	if !errors.Is(err, acquirer.ErrOutcomeUnknown) {
		t.Fatalf("every answer cut: want ErrOutcomeUnknown, got %v", err)
	}
	px.Inject = nil
	refs, err := a.Resolve(context.Background(), acquirer.KeyRef("", key))
	if err != nil || len(refs) != 1 || refs[0] != px.Intents()[0].ID {
		t.Fatalf("resolve by metadata: %q %v", refs, err)
	}
	if err := a.Void(context.Background(), acquirer.KeyRef("", key)); err != nil {
		t.Fatal(err)
	}
	if px.Intents()[0].Charged() {
		t.Fatalf("the reconciler's void left the charge: %+v", px.Intents()[0])
	}
	// the merchant retries the same order after the void: Stripe replays the old answer, Kessai sees
	// the intent is over and charges anew under the next key — exactly one charge holds
	resp, err := a.Authorize(context.Background(), acquirer.Request{Key: key, PAN: "4242424242424242", Exp: "3012", Amount: 1000, Sale: true})
	if err != nil || !resp.Approved {
		t.Fatalf("retry after the void: %+v %v", resp, err)
	}
	charged := 0
	for _, in := range px.Intents() {
		if in.Charged() {
			charged++
		}
	}
	if charged != 1 {
		t.Fatalf("charges held after void and retry: %d", charged)
	}
	// the reconciler's look-up finds both charges made under the order's key: the voided one and
	// the new one (each settled on its own)
	if refs, err := a.Resolve(context.Background(), acquirer.KeyRef("", key)); err != nil || len(refs) != 2 {
		t.Fatalf("resolve after a void and a new charge: %q %v", refs, err)
	}
}
