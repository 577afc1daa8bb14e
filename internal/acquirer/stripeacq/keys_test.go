package stripeacq_test

import (
	"context"
	"strings"
	"testing"

	"kessai/internal/acquirer"
	"kessai/internal/acquirer/stripeacq/stripetest"
)

// refusedKeys lists the calls Stripe (the proxy) refused because their Idempotency-Key had been
// used with other parameters or on another endpoint.
func refusedKeys(px *stripetest.Proxy) []stripetest.Call {
	var out []stripetest.Call
	for _, c := range px.Calls() {
		if c.Method == "POST" && c.Status == 400 {
			out = append(out, c)
		}
	}
	return out
}

func chargedIntents(px *stripetest.Proxy) (out []stripetest.Intent) {
	for _, in := range px.Intents() {
		if in.Charged() {
			out = append(out, in)
		}
	}
	return out
}

// The same order paid with another card after a decline is another request at Stripe: a new
// payment method and a new intent under new keys, approved — not the first card's decline
// replayed, nor an idempotency_error. The request key carries the card (the caller's keyed
// digest); even when it does not, a payment method sent with other card data walks to the next
// key instead of failing.
func TestStripeAnotherCardForTheSameOrder(t *testing.T) {
	px := stripetest.Start(t, stripetest.MockURL(t))
	a := connector(t, px)
	ctx := context.Background()
	order := "129001/o-1/CAPTURE:1000:0:0/"
	d, err := a.Authorize(ctx, acquirer.Request{Key: order + "cAAAA", PAN: "4000000000000002", Exp: "3012", CVV: "123", Amount: 1000, Sale: true})
	if err != nil || d.Approved || d.Code != "ER030" {
		t.Fatalf("card A: %+v %v, want ER030", d, err)
	}
	ok, err := a.Authorize(ctx, acquirer.Request{Key: order + "cBBBB", PAN: "4242424242424242", Exp: "3012", CVV: "123", Amount: 1000, Sale: true})
	if err != nil || !ok.Approved {
		t.Fatalf("card B for the same order after A's decline: %+v %v", ok, err)
	}
	if ch := chargedIntents(px); len(ch) != 1 || !strings.HasSuffix(ok.Ref, ch[0].ID) {
		t.Fatalf("charges %+v, answer %s", ch, ok.Ref)
	}

	// one request key for two cards (a caller that does not name the card): the second card's
	// payment method is refused under the first key once, then made under the next; its intent
	// has its own key (its parameters name the new payment method)
	same := "129001/o-2/CAPTURE:1000:0:0"
	if d, _ := a.Authorize(ctx, acquirer.Request{Key: same, PAN: "4000000000000002", Exp: "3012", CVV: "123", Amount: 1000, Sale: true}); d.Approved {
		t.Fatal("declining card approved")
	}
	n := len(px.Calls())
	ok2, err := a.Authorize(ctx, acquirer.Request{Key: same, PAN: "4242424242424242", Exp: "3012", CVV: "123", Amount: 1000, Sale: true})
	if err != nil || !ok2.Approved {
		t.Fatalf("another card under the same request key: %+v %v", ok2, err)
	}
	pis := posts(px.Calls(), "/v1/payment_intents")
	if len(pis) < 2 || pis[len(pis)-1].Key == pis[len(pis)-2].Key {
		t.Fatalf("the second card's intent reused the first's key")
	}
	if r := refusedKeys(px); len(r) != 1 || r[0].Path != "/v1/payment_methods" {
		t.Fatalf("refusals: want exactly the payment method under the first card's key, got %+v", r)
	}
	if got := len(posts(px.Calls()[n:], "/v1/payment_methods")); got != 2 {
		t.Fatalf("payment method calls for the second card: %d, want 2 (refused, then the next key)", got)
	}
	if len(chargedIntents(px)) != 2 {
		t.Fatalf("charges: %d, want 2 (two orders)", len(chargedIntents(px)))
	}
}

// The same card with another security code (the shopper typed it wrong, the charge was declined,
// they type it again) gets a new payment method and intent; each of the two requests retried
// lands on its own objects again — the same keys, nothing made twice.
func TestStripeSecurityCodeRetypedWalksKeys(t *testing.T) {
	px := stripetest.Start(t, stripetest.MockURL(t))
	declineNext := true
	px.Inject = func(c stripetest.Call) stripetest.Fault {
		if c.Method == "POST" && c.Path == "/v1/payment_intents" && declineNext {
			declineNext = false
			return "decline"
		}
		return ""
	}
	a := connector(t, px)
	ctx := context.Background()
	key := "129001/cvc-1/CAPTURE:1000:0:0/cAAAA"
	wrong := acquirer.Request{Key: key, PAN: "4242424242424242", Exp: "3012", CVV: "999", Amount: 1000, Sale: true}
	right := wrong
	right.CVV = "123"
	if d, err := a.Authorize(ctx, wrong); err != nil || d.Approved {
		t.Fatalf("first attempt should be the injected decline: %+v %v", d, err)
	}
	ok, err := a.Authorize(ctx, right)
	if err != nil || !ok.Approved {
		t.Fatalf("the security code typed again: %+v %v", ok, err)
	}
	n, intents := len(px.Calls()), len(px.Intents())
	again, err := a.Authorize(ctx, right) // the merchant's retry of the same request
	if err != nil || !again.Approved || again.Ref != ok.Ref || len(px.Intents()) != intents {
		t.Fatalf("retry of the same request: %+v %v (first %s), intents %d → %d", again, err, ok.Ref, intents, len(px.Intents()))
	}
	for _, c := range px.Calls()[n:] {
		if c.Method == "POST" && c.Status == 200 && !c.Replayed {
			t.Errorf("the retry made something new: %s %s", c.Method, c.Path)
		}
	}
	if d, err := a.Authorize(ctx, wrong); err != nil || d.Approved {
		t.Fatalf("the first request again: its remembered decline, got %+v %v", d, err)
	}
	if ch := chargedIntents(px); len(ch) != 1 {
		t.Fatalf("charges: %d, want 1", len(ch))
	}
}

// An intent whose creation answer was lost is looked up by the request that made it, not by the
// order: an earlier declined attempt of the same order (found first by the order's key) is never
// taken for it.
func TestStripeLostAnswerFindsItsOwnAttempt(t *testing.T) {
	px := stripetest.Start(t, stripetest.MockURL(t))
	a := connector(t, px)
	ctx := context.Background()
	key := "129001/la-1/CAPTURE:1000:0:0"
	if d, _ := a.Authorize(ctx, acquirer.Request{Key: key, PAN: "4000000000000002", Exp: "3012", Amount: 1000, Sale: true}); d.Approved {
		t.Fatal("declining card approved")
	}
	px.Inject = func(c stripetest.Call) stripetest.Fault {
		if c.Method == "POST" && c.Path == "/v1/payment_intents" {
			return "drop"
		}
		return ""
	}
	resp, err := a.Authorize(ctx, acquirer.Request{Key: key, PAN: "4242424242424242", Exp: "3012", Amount: 1000, Sale: true})
	ch := chargedIntents(px)
	if len(ch) != 1 {
		t.Fatalf("charges %d, want 1", len(ch))
	}
	if err != nil || !resp.Approved || !strings.HasSuffix(resp.Ref, ch[0].ID) {
		t.Fatalf("every answer cut, the look-up should find this attempt's charge %s: %+v %v", ch[0].ID, resp, err)
	}
}

// The reconciler voids every intent made under one request key in one operation (one op key):
// each follow-up's key names its intent, so the second is not refused (idempotency_error) nor
// answered with the first's result.
func TestStripeVoidOfSeveralIntentsUnderOneKey(t *testing.T) {
	px := stripetest.Start(t, stripetest.MockURL(t))
	a := connector(t, px)
	ctx := context.Background()
	key := "129001/rv-1/CAPTURE:1000:0:0/cAAAA"
	for _, cvc := range []string{"111", "123"} { // one card, typed twice: two intents, one request key
		if r, err := a.Authorize(ctx, acquirer.Request{Key: key, PAN: "4242424242424242", Exp: "3012", CVV: cvc, Amount: 1000, Sale: true}); err != nil || !r.Approved {
			t.Fatalf("cvc %s: %+v %v", cvc, r, err)
		}
	}
	a.Authorize(ctx, acquirer.Request{Key: "129001/rv-1/AUTH:1000:0:0/cAAAA", PAN: "4242424242424242", Exp: "3012", CVV: "123", Amount: 1000})
	if len(chargedIntents(px)) != 3 {
		t.Fatalf("setup: %d charges", len(chargedIntents(px)))
	}
	vctx := acquirer.WithOpKey(ctx, "g-reconcile/reconcile")
	if err := a.Void(vctx, acquirer.KeyRef("", key)); err != nil {
		t.Fatalf("void of the key's intents: %v", err)
	}
	if err := a.Void(vctx, acquirer.KeyRef("", "129001/rv-1/AUTH:1000:0:0/cAAAA")); err != nil {
		t.Fatalf("void (cancel) under the same op key: %v", err)
	}
	if ch := chargedIntents(px); len(ch) != 0 {
		t.Fatalf("left charged: %+v", ch)
	}
	for _, r := range refusedKeys(px) {
		if r.Path != "/v1/payment_methods" { // (the second security code's walk to its key)
			t.Fatalf("refused: %+v", r)
		}
	}
	// and again (the reconciler's retry): nothing more, no error
	n := len(px.Calls())
	if err := a.Void(vctx, acquirer.KeyRef("", key)); err != nil {
		t.Fatalf("void again: %v", err)
	}
	for _, c := range px.Calls()[n:] {
		if c.Method == "POST" {
			t.Errorf("a second void posted %s", c.Path)
		}
	}
}
