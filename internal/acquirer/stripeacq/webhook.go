package stripeacq

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/stripe/stripe-go/v82"
	"github.com/stripe/stripe-go/v82/webhook"

	"kessai/internal/acquirer"
)

// WebhookTolerance is how old a signed event may be (Stripe-Signature's timestamp): an older one is
// a replay and refused.
const WebhookTolerance = 300 * time.Second

// ErrSignature is a webhook whose signature does not verify (forged, another secret, or too old).
var ErrSignature = errors.New("stripe webhook signature does not verify")

// ParseEvent verifies a webhook's Stripe-Signature with the endpoint's signing secret (stripe-go's
// webhook package, tolerance WebhookTolerance) and maps the event to an acquirer.Event: which
// payment (by its PaymentIntent, on the event's Connect account) and the state it shows.
func ParseEvent(payload []byte, sigHeader, secret string) (acquirer.Event, error) {
	ev, err := webhook.ConstructEventWithOptions(payload, sigHeader, secret,
		webhook.ConstructEventOptions{Tolerance: WebhookTolerance, IgnoreAPIVersionMismatch: true})
	if err != nil {
		return acquirer.Event{}, fmt.Errorf("%w: %v", ErrSignature, err)
	}
	out := acquirer.Event{ID: ev.ID, Kind: string(ev.Type)}
	if ev.Data == nil {
		return out, nil
	}
	switch ev.Type {
	case "payment_intent.succeeded", "payment_intent.amount_capturable_updated", "payment_intent.canceled",
		"payment_intent.partially_funded", "payment_intent.payment_failed":
		var pi stripe.PaymentIntent
		if err := json.Unmarshal(ev.Data.Raw, &pi); err != nil {
			return out, fmt.Errorf("payment intent: %w", err)
		}
		out.Ref = ref(ev.Account, pi.ID)
		if m := slipMethod(&pi); m != "" {
			out.Method = m
			key := ""
			if ev.Request != nil {
				key = ev.Request.IdempotencyKey
			}
			slipEvent(&out, string(ev.Type), &pi, key)
			return out, nil
		}
		switch ev.Type {
		case "payment_intent.succeeded":
			out.State, out.Captured = "captured", pi.AmountReceived
		case "payment_intent.amount_capturable_updated":
			out.State = "authorized"
		case "payment_intent.canceled":
			out.State = "voided"
		}
	case "charge.refunded", "charge.captured":
		var ch stripe.Charge
		if err := json.Unmarshal(ev.Data.Raw, &ch); err != nil {
			return out, fmt.Errorf("charge: %w", err)
		}
		if ch.PaymentIntent == nil {
			return out, nil
		}
		out.Ref = ref(ev.Account, ch.PaymentIntent.ID)
		out.Captured, out.Refunded = ch.AmountCaptured, ch.AmountRefunded
		switch {
		case ch.Refunded:
			out.State = "refunded"
		case ch.AmountRefunded > 0:
			out.State = "partially_refunded"
		default:
			out.State = "captured"
		}
	}
	return out, nil
}

// slipMethod tells a convenience-store (konbini) or bank-transfer (customer_balance) intent from a
// card one: "cvs", "bank" or "".
func slipMethod(pi *stripe.PaymentIntent) string {
	for _, t := range pi.PaymentMethodTypes {
		switch t {
		case "konbini":
			return "cvs"
		case "customer_balance":
			return "bank"
		}
	}
	return ""
}

// slipEvent maps a konbini or bank-transfer intent's event to the slip state it shows: succeeded →
// paid (with what arrived); partially_funded → part of a transfer arrived; payment_failed (a
// konbini voucher that expired unpaid) and canceled → expired, except a canceled caused by Kessai's
// own merchant cancel (CancelSlip: its reason, and its request's Idempotency-Key, key) → cancelled.
// The key makes it Kessai's: a cancel in Stripe's dashboard with the same reason stays an expiry.
// Anything else moves nothing.
func slipEvent(out *acquirer.Event, typ string, pi *stripe.PaymentIntent, key string) {
	switch typ {
	case "payment_intent.succeeded":
		out.State, out.Received = acquirer.SlipPaid, pi.AmountReceived
		if out.Received == 0 {
			out.Received = pi.Amount
		}
	case "payment_intent.partially_funded":
		if got := received(pi); got > 0 && out.Method == "bank" {
			out.State, out.Received = acquirer.SlipPartlyFunded, got
		}
	case "payment_intent.canceled":
		out.State = acquirer.SlipExpired
		if pi.CancellationReason == MerchantCancelReason && key != "" && key == IdempotencyKey(out.Ref, MerchantCancelKey) {
			out.State = acquirer.SlipCancelled
		}
	case "payment_intent.payment_failed":
		out.State = acquirer.SlipExpired
	}
}
