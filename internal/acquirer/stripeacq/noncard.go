package stripeacq

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/stripe/stripe-go/v82"
	"golang.org/x/text/encoding/japanese"

	"kessai/internal/acquirer"
)

// Convenience-store and bank-transfer payments through Stripe (wire.md §8): a convenience store is
// a PaymentIntent paid with konbini, a bank transfer a PaymentIntent funded from a Customer's
// balance by JP bank transfer (the Customer's virtual account; one Customer per payment, so the
// account is this payment's alone, as the wire promises). Both are confirmed at once; Stripe's
// answer carries the payment number and voucher, or the account, in next_action.

// konbiniStores maps the wire's chain codes (cv) to the stores Stripe's konbini reaches; the other
// chains are not offered through Stripe.
var konbiniStores = map[string]string{"020": "lawson", "030": "familymart", "080": "ministop", "760": "seicomart"}

// Reaches tells whether Stripe's konbini reaches chain cv (acquirer.ChainReacher).
func (*Acquirer) Reaches(cv string) bool { _, ok := konbiniStores[cv]; return ok }

var confirmationRe = regexp.MustCompile(`^[0-9]{10,11}$`)

// OpenSlip opens a convenience-store (konbini) or bank-transfer (JP bank transfer) PaymentIntent
// for one payment. Every POST carries an Idempotency-Key derived from r.Key; an answer lost on the
// way is retried under it, then the intent is looked up by metadata; ErrOutcomeUnknown when neither
// settles it (nothing reached the shopper: an intent left behind expires or stays unfunded).
func (a *Acquirer) OpenSlip(ctx context.Context, r acquirer.SlipRequest) (acquirer.SlipAnswer, error) {
	p := &stripe.PaymentIntentCreateParams{Amount: stripe.Int64(r.Amount), Currency: stripe.String("jpy"), Confirm: stripe.Bool(true),
		// no gid in the metadata: a retry of the order (after ER990) has a new gid, and every
		// parameter must be the same under one Idempotency-Key (the key names store and cod)
		Metadata: map[string]string{MetaKey: r.Key}}
	if r.Description != "" {
		p.Description = stripe.String(r.Description)
	}
	switch r.Method {
	case "cvs":
		if _, ok := konbiniStores[r.Chain]; !ok {
			return acquirer.SlipAnswer{}, fmt.Errorf("%w: Stripe's konbini does not reach chain %q", acquirer.ErrUnsupported, r.Chain)
		}
		if r.Email == "" {
			return acquirer.SlipAnswer{}, acquirer.ErrNeedsEmail
		}
		// konbini needs the shopper's name and e-mail as billing details
		bd := &stripe.PaymentIntentCreatePaymentMethodDataBillingDetailsParams{Name: stripe.String(r.Name), Email: stripe.String(r.Email)}
		if r.Phone != "" {
			bd.Phone = stripe.String(r.Phone)
		}
		p.PaymentMethodTypes = []*string{stripe.String("konbini")}
		p.PaymentMethodData = &stripe.PaymentIntentCreatePaymentMethodDataParams{Type: stripe.String("konbini"), BillingDetails: bd}
		opt := &stripe.PaymentIntentCreatePaymentMethodOptionsKonbiniParams{ExpiresAt: stripe.Int64(r.Deadline.Unix())}
		if confirmationRe.MatchString(r.Phone) && strings.Trim(r.Phone, "0") != "" {
			// the number the shopper types after the payment number at Loppi / Famiport: the phone
			// number given with the order, as the chain's steps on the slip page say
			opt.ConfirmationNumber = stripe.String(r.Phone)
		}
		p.PaymentMethodOptions = &stripe.PaymentIntentCreatePaymentMethodOptionsParams{Konbini: opt}
	case "bank":
		cp := &stripe.CustomerCreateParams{Name: stripe.String(r.Name), Metadata: map[string]string{MetaKey: r.Key}}
		if r.Email != "" {
			cp.Email = stripe.String(r.Email)
		}
		params(&cp.Params, r.Account, paramKey(cp, r.Account, r.Key, "customer"))
		var cus *stripe.Customer
		if err := a.do(ctx, func(ctx context.Context) error {
			var err error
			cus, err = a.c.V1Customers.Create(ctx, cp)
			return err
		}); err != nil {
			return acquirer.SlipAnswer{}, a.slipErr(err)
		}
		p.Customer = stripe.String(cus.ID)
		p.PaymentMethodTypes = []*string{stripe.String("customer_balance")}
		p.PaymentMethodData = &stripe.PaymentIntentCreatePaymentMethodDataParams{Type: stripe.String("customer_balance")}
		p.PaymentMethodOptions = &stripe.PaymentIntentCreatePaymentMethodOptionsParams{
			CustomerBalance: &stripe.PaymentIntentCreatePaymentMethodOptionsCustomerBalanceParams{FundingType: stripe.String("bank_transfer"),
				BankTransfer: &stripe.PaymentIntentCreatePaymentMethodOptionsCustomerBalanceBankTransferParams{
					Type: stripe.String("jp_bank_transfer"), RequestedAddressTypes: []*string{stripe.String("zengin")}}}}
	default:
		return acquirer.SlipAnswer{}, fmt.Errorf("%w: method %q", acquirer.ErrUnsupported, r.Method)
	}
	// every parameter is in the key (a retry on a later day has another deadline, another name):
	// the same key always comes with the same parameters, as Stripe requires
	pkey := paramKey(p, r.Account, r.Key, "payment_intent")
	p.Metadata[AttemptKey] = pkey
	params(&p.Params, r.Account, pkey)
	pi, err := a.createIntent(ctx, r.Account, pkey, p, "slip")
	if errors.Is(err, acquirer.ErrOutcomeUnknown) {
		return acquirer.SlipAnswer{}, err
	}
	if err != nil {
		return acquirer.SlipAnswer{}, a.slipErr(err)
	}
	return slipAnswer(r, ref(r.Account, pi.ID), pi)
}

// slipErr is a refused slip request: unknown outcome, or Stripe's refusal (nothing issued).
func (a *Acquirer) slipErr(err error) error {
	if unknownErr(err) {
		return fmt.Errorf("%w: %s", acquirer.ErrOutcomeUnknown, describe(err))
	}
	return fmt.Errorf("stripe refused the slip: %s", describe(err))
}

// ErrNoInstructions is an intent Stripe answered without the payment number or account the
// shopper needs (nothing can be shown, so nothing is issued).
var ErrNoInstructions = errors.New("stripe answered without payment instructions")

// slipAnswer reads the payment number and voucher (konbini) or the account (JP bank transfer) from
// the intent's next_action.
func slipAnswer(r acquirer.SlipRequest, netRef string, pi *stripe.PaymentIntent) (acquirer.SlipAnswer, error) {
	out := acquirer.SlipAnswer{Ref: netRef}
	na := pi.NextAction
	switch r.Method {
	case "cvs":
		if na == nil || na.KonbiniDisplayDetails == nil || na.KonbiniDisplayDetails.Stores == nil {
			return out, fmt.Errorf("%w: intent %s is %s", ErrNoInstructions, pi.ID, pi.Status)
		}
		d := na.KonbiniDisplayDetails
		var code string
		switch s := d.Stores; konbiniStores[r.Chain] {
		case "lawson":
			if s.Lawson != nil {
				code = s.Lawson.PaymentCode
			}
		case "familymart":
			if s.FamilyMart != nil {
				code = s.FamilyMart.PaymentCode
			}
		case "ministop":
			if s.Ministop != nil {
				code = s.Ministop.PaymentCode
			}
		case "seicomart":
			if s.Seicomart != nil {
				code = s.Seicomart.PaymentCode
			}
		}
		if code == "" || d.HostedVoucherURL == "" {
			return out, fmt.Errorf("%w: intent %s has no payment code for chain %s", ErrNoInstructions, pi.ID, r.Chain)
		}
		out.PayNo, out.SlipURL = code, d.HostedVoucherURL
		if d.ExpiresAt > 0 {
			out.Deadline = unixJST(d.ExpiresAt)
		}
	case "bank":
		if na == nil || na.DisplayBankTransferInstructions == nil {
			return out, fmt.Errorf("%w: intent %s is %s", ErrNoInstructions, pi.ID, pi.Status)
		}
		for _, fa := range na.DisplayBankTransferInstructions.FinancialAddresses {
			if fa == nil || fa.Zengin == nil {
				continue
			}
			z := fa.Zengin
			acct := acquirer.VirtualAccount{BankCode: z.BankCode, BankName: wireText(z.BankName), BranchCode: z.BranchCode,
				BranchName: wireText(z.BranchName), Type: accountType(z.AccountType), Number: z.AccountNumber, Holder: wireText(z.AccountHolderName)}
			if acct.BankCode == "" || acct.BranchCode == "" || acct.Number == "" {
				break
			}
			out.Bank, out.PayNo = acct, acct.Reference()
			return out, nil
		}
		return out, fmt.Errorf("%w: intent %s has no zengin account", ErrNoInstructions, pi.ID)
	}
	return out, nil
}

// accountType is the account type as the sandbox's bank string spells it.
func accountType(t string) string {
	switch t {
	case "futsu":
		return "普通"
	case "toza":
		return "当座"
	}
	return wireText(t)
}

// wireText makes a name fit the wire's bank string: "." separates its fields and "," the line's
// columns, so both become their full-width forms; a character Shift_JIS cannot carry (column 12
// goes out in Shift_JIS) becomes "?".
func wireText(s string) string {
	s = strings.NewReplacer(".", "．", ",", "，").Replace(strings.TrimSpace(s))
	enc := japanese.ShiftJIS.NewEncoder()
	var b strings.Builder
	for _, c := range s {
		if _, err := enc.String(string(c)); err != nil {
			b.WriteByte('?')
			enc.Reset()
			continue
		}
		b.WriteRune(c)
	}
	return b.String()
}

// CloseSlip reads a slip's intent once its deadline passed: succeeded → paid; funded in part →
// what arrived (a short payment); still waiting → cancelled at Stripe first, so that no money can
// arrive to a payment Kessai has expired. An intent that was paid meanwhile makes the cancel fail:
// the error leaves the slip for the next pass, which sees it paid.
func (a *Acquirer) CloseSlip(ctx context.Context, netRef string) (acquirer.SlipStatus, error) {
	return a.closeSlip(ctx, netRef, nil, "slip-deadline-cancel")
}

// MerchantCancelKey is the Idempotency-Key purpose of the cancel Kessai sends when the merchant
// cancels a slip (CancelSlip). Stripe's payment_intent.canceled event names the key of the
// request that caused it (request.idempotency_key): with this one, and the cancellation reason
// MerchantCancelReason, the event is Kessai's own cancel (acquirer.SlipCancelled), not an expiry.
const MerchantCancelKey = "slip-merchant-cancel"

// MerchantCancelReason is the cancellation_reason CancelSlip gives Stripe (one of the four an API
// cancel may give; it shows on the intent in Stripe's dashboard too).
const MerchantCancelReason = stripe.PaymentIntentCancellationReasonRequestedByCustomer

// CancelSlip is CloseSlip for the merchant's cancel of a slip before its deadline: the intent is
// cancelled with MerchantCancelReason under the key MerchantCancelKey, so that Stripe's
// payment_intent.canceled — which may be applied before Kessai records the cancel — reads as the
// cancel (acquirer.SlipCancelled) and never as an expiry. Stripe records the reason with the
// cancel itself: nothing needs to be written at Kessai before the call.
func (a *Acquirer) CancelSlip(ctx context.Context, netRef string) (acquirer.SlipStatus, error) {
	return a.closeSlip(ctx, netRef, stripe.String(string(MerchantCancelReason)), MerchantCancelKey)
}

// closeSlip reads the slip's intent and cancels it when nothing arrived, with reason (nil: none)
// under the intent's key for purpose.
func (a *Acquirer) closeSlip(ctx context.Context, netRef string, reason *string, purpose string) (acquirer.SlipStatus, error) {
	account, id := splitRef(netRef)
	pi, err := a.retrieve(ctx, account, id)
	if err != nil {
		return acquirer.SlipStatus{}, a.followErr("slip lookup", err)
	}
	switch pi.Status {
	case stripe.PaymentIntentStatusSucceeded:
		return acquirer.SlipStatus{Paid: true, Received: pi.AmountReceived}, nil
	case stripe.PaymentIntentStatusCanceled, stripe.PaymentIntentStatusRequiresPaymentMethod:
		return acquirer.SlipStatus{}, nil // expired or cancelled at Stripe
	case stripe.PaymentIntentStatusProcessing:
		return acquirer.SlipStatus{}, errors.New("stripe: slip payment still processing")
	}
	if got := received(pi); got > 0 {
		return acquirer.SlipStatus{Received: got}, nil
	}
	p := &stripe.PaymentIntentCancelParams{CancellationReason: reason}
	params(&p.Params, account, IdempotencyKey(netRef, purpose))
	err = a.do(ctx, func(ctx context.Context) error {
		_, err := a.c.V1PaymentIntents.Cancel(ctx, id, p)
		return err
	})
	if err != nil {
		return acquirer.SlipStatus{}, a.followErr("slip cancel", err)
	}
	return acquirer.SlipStatus{}, nil
}

// received is what arrived for a customer_balance intent not yet fully funded.
func received(pi *stripe.PaymentIntent) int64 {
	if na := pi.NextAction; na != nil && na.DisplayBankTransferInstructions != nil {
		if rem := na.DisplayBankTransferInstructions.AmountRemaining; rem < pi.Amount && rem >= 0 {
			return pi.Amount - rem
		}
	}
	return 0
}

var jst = time.FixedZone("JST", 9*3600)

// unixJST reads a Stripe timestamp in Japan's time (deadlines are shown as JST dates).
func unixJST(sec int64) time.Time { return time.Unix(sec, 0).In(jst) }
