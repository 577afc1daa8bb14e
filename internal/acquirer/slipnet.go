package acquirer

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// SlipRequest asks a network for what a shopper pays a convenience-store or bank-transfer payment
// with (wire.md §8): a payment number at the chain, or a virtual account at a bank.
type SlipRequest struct {
	// Key is the idempotency key (store, cod, method, amounts): every retry of one order sends
	// the same key, so a processor never opens a second slip for it.
	Key     string
	Account string // the store's account at the processor ("" for the platform's own)
	Method  string // "cvs" or "bank"
	Gid     string // Kessai's payment number (the sandbox derives its numbers from it)
	Chain   string // cv, convenience store only
	Amount  int64
	// Name is the shopper's name as given (na / nmf, kana); Email and Phone as given (em, pn).
	Name, Email, Phone string
	Deadline           time.Time // the last instant the slip is payable
	Description        string    // inm
}

// SlipAnswer is what the network issued.
type SlipAnswer struct {
	// Ref is the processor's reference of the payment (a Stripe PaymentIntent, "acct_…:pi_…"),
	// kept on the payment so its webhooks find it; "" for the sandbox.
	Ref     string
	PayNo   string // convenience store: 受付番号; bank: the account's reference
	SlipURL string // the slip or voucher to print; "" lets Kessai show its own slip page
	Bank    VirtualAccount
	// Deadline is the deadline as the processor set it; zero when it took the requested one.
	Deadline time.Time
}

// SlipStatus is what a processor shows for a slip once its deadline passed.
type SlipStatus struct {
	// Paid: the whole amount arrived (Received says how much).
	Paid bool
	// Received is what arrived so far; more than 0 and not Paid is a short payment (bank).
	Received int64
}

// SlipNetwork issues convenience-store slips and virtual bank accounts: the sandbox's simulated
// chains and bank, or a processor (Stripe's konbini and JP bank transfer).
type SlipNetwork interface {
	OpenSlip(ctx context.Context, r SlipRequest) (SlipAnswer, error)
	// CloseSlip settles, after its deadline, a slip whose money would arrive at the processor:
	// it reports what arrived, and a slip still open there is cancelled first, so that nothing
	// can arrive to it once Kessai has expired it.
	CloseSlip(ctx context.Context, ref string) (SlipStatus, error)
	// CancelSlip is CloseSlip for a slip the merchant cancels before its deadline: a slip still
	// open there is cancelled so that the processor's own notice of it reads as Kessai's cancel
	// (SlipCancelled), not as an expiry, whichever of the two is recorded first.
	CancelSlip(ctx context.Context, ref string) (SlipStatus, error)
	Name() string
}

// ErrUnsupported is a request the network cannot serve (a chain the processor does not reach).
var ErrUnsupported = errors.New("not offered by this payment network")

// ErrNeedsEmail is a request the network refuses without the shopper's e-mail address (Stripe's
// konbini sends the voucher to it).
var ErrNeedsEmail = errors.New("the payment network needs the shopper's e-mail address")

// OpenSlip issues the sandbox chain's payment number, or opens the sandbox bank's virtual account,
// from the payment number: one payment always gets the same, two never share one.
func (Sandbox) OpenSlip(ctx context.Context, r SlipRequest) (SlipAnswer, error) {
	switch r.Method {
	case "cvs":
		if _, ok := ChainByCode(r.Chain); !ok {
			return SlipAnswer{}, fmt.Errorf("%w: chain %q", ErrUnsupported, r.Chain)
		}
		return SlipAnswer{PayNo: SlipNumber(r.Chain, r.Gid)}, nil
	case "bank":
		a := OpenAccount(r.Gid)
		return SlipAnswer{PayNo: a.Reference(), Bank: a}, nil
	}
	return SlipAnswer{}, fmt.Errorf("%w: method %q", ErrUnsupported, r.Method)
}

// CloseSlip: the sandbox's slips settle in Kessai (the test values, the CLI, the panel's sandbox
// buttons), nothing arrives elsewhere.
func (Sandbox) CloseSlip(ctx context.Context, ref string) (SlipStatus, error) {
	return SlipStatus{}, nil
}

// CancelSlip: as CloseSlip, nothing to close elsewhere.
func (Sandbox) CancelSlip(ctx context.Context, ref string) (SlipStatus, error) {
	return SlipStatus{}, nil
}

// OpenSlip passes through to the wrapped acquirer's slip network, counting calls without an answer.
func (w *Watch) OpenSlip(ctx context.Context, r SlipRequest) (SlipAnswer, error) {
	n, ok := w.Acquirer.(SlipNetwork)
	if !ok {
		return SlipAnswer{}, fmt.Errorf("%w: %s issues no slips", ErrUnsupported, w.Acquirer.Name())
	}
	a, err := n.OpenSlip(ctx, r)
	return a, w.note(err)
}

// CloseSlip passes through to the wrapped acquirer's slip network.
func (w *Watch) CloseSlip(ctx context.Context, ref string) (SlipStatus, error) {
	n, ok := w.Acquirer.(SlipNetwork)
	if !ok {
		return SlipStatus{}, nil
	}
	st, err := n.CloseSlip(ctx, ref)
	return st, w.note(err)
}

// CancelSlip passes through to the wrapped acquirer's slip network.
func (w *Watch) CancelSlip(ctx context.Context, ref string) (SlipStatus, error) {
	n, ok := w.Acquirer.(SlipNetwork)
	if !ok {
		return SlipStatus{}, nil
	}
	st, err := n.CancelSlip(ctx, ref)
	return st, w.note(err)
}

// ChainReacher is implemented by slip networks that reach only some convenience-store chains
// (Stripe's konbini): hosted pages offer only those, and an order for another is refused (ER160).
type ChainReacher interface {
	Reaches(cv string) bool
}

// Reaches tells whether the wrapped acquirer's slip network reaches chain cv.
func (w *Watch) Reaches(cv string) bool {
	if r, ok := w.Acquirer.(ChainReacher); ok {
		return r.Reaches(cv)
	}
	return true
}
