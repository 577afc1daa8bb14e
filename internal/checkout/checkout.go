// Package checkout owns the hosted order's lifecycle, shared by the card, convenience-store and
// bank-transfer flows of the hosted pages:
//
//	open ──claim──▶ busy ──paid──▶ paid                        (card: charged)
//	  ▲               │ └──challenge──▶ challenge ──claim──▶ busy (3-D Secure)
//	  └───release─────┘                    └──fail──▶ failed   (/igateway/ authentication failed)
//	busy ──redirect──▶ redirect ──return──▶ busy              (3-D Secure at the processor)
//	busy ──pending──▶ pending ──(the slip)──▶ paid | expired | cancelled   (convenience store, bank)
//
// Each step is a compare-and-set on the order's status, so of two submissions of one form exactly
// one goes on to charge or issue, and the other finds the outcome. An order is only signed into the
// page until its first submission (link/signed.go): Claim stores it then. A pending order's later
// state is its slip's (package noncard), read with State.
package checkout

import (
	"context"
	"errors"
	"math/rand/v2"
	"time"

	"kessai/internal/clock"
	"kessai/internal/store"
)

// Order statuses (store.Link*), and the non-card order's pending.
const (
	Open      = store.LinkOpen
	Busy      = store.LinkBusy
	Challenge = store.LinkChallenge
	Paid      = store.LinkPaid
	Failed    = store.LinkFailed
	// Redirect: the shopper authenticates at the processor's own page (Stripe's 3-D Secure).
	Redirect = store.LinkRedirect
	// Pending: a convenience-store slip or bank account was issued for the order (Gid); the money
	// has not arrived yet.
	Pending = "pending"
)

// Orders moves hosted orders through their lifecycle.
type Orders struct {
	DB    *store.DB
	Clock clock.Clock
}

// Get reads a stored order; store.ErrNotFound when it was never stored (or is long gone).
func (c *Orders) Get(ctx context.Context, id string) (*store.LinkOrder, error) {
	return c.DB.GetLinkOrder(ctx, id)
}

// Start stores an order opened server-to-server (an /igateway/ 3-D Secure session), in whatever
// status it begins; now and then it purges long-expired orders.
func (c *Orders) Start(ctx context.Context, o *store.LinkOrder) error {
	return c.DB.InsertLinkOrder(ctx, o, rand.IntN(64) == 0)
}

// Claim takes an open (or challenged) order for one submission, storing it first when it was only
// signed so far; false means another submission holds it or finished it.
func (c *Orders) Claim(ctx context.Context, o *store.LinkOrder, stored bool) (bool, error) {
	now := c.Clock.Now()
	if !stored {
		row := *o
		row.Status, row.UpdatedAt = Busy, now
		err := c.DB.InsertLinkOrder(ctx, &row, rand.IntN(64) == 0)
		if err == nil {
			return true, nil
		}
		if !errors.Is(err, store.ErrConflict) {
			return false, err
		}
		// a concurrent submission stored it first: take our turn through the row like any other
	}
	// (a redirected order whose shopper came back to the form instead pays anew)
	return c.DB.MoveLinkOrder(ctx, o.ID, []string{Open, Challenge, Redirect}, Busy, now, nil, nil, nil, false)
}

// ClaimChallenge takes a challenged order after its authentication, for the charge.
func (c *Orders) ClaimChallenge(ctx context.Context, id string) (bool, error) {
	return c.DB.MoveLinkOrder(ctx, id, []string{Challenge}, Busy, c.Clock.Now(), nil, nil, nil, false)
}

// Release reopens a busy or challenged order after a failed attempt, remembering why (code).
func (c *Orders) Release(ctx context.Context, id, code string) error {
	none := ""
	_, err := c.DB.MoveLinkOrder(ctx, id, []string{Busy, Challenge}, Open, c.Clock.Now(), &none, nil, &code, true)
	return err
}

// Challenged parks a busy order while the shopper authenticates the card held as tkn.
func (c *Orders) Challenged(ctx context.Context, id, tkn string) error {
	_, err := c.DB.MoveLinkOrder(ctx, id, []string{Busy}, Challenge, c.Clock.Now(), &tkn, nil, nil, false)
	return err
}

// Fail ends an order whose authentication failed (code says why); nothing was charged.
func (c *Orders) Fail(ctx context.Context, id, code string) error {
	_, err := c.DB.MoveLinkOrder(ctx, id, []string{Challenge, Busy}, Failed, c.Clock.Now(), nil, nil, &code, true)
	return err
}

// Charged records the card payment gid (with its ec, "" on success) on a busy order.
func (c *Orders) Charged(ctx context.Context, id, gid, ec string) error {
	none := ""
	_, err := c.DB.MoveLinkOrder(ctx, id, []string{Busy}, Paid, c.Clock.Now(), &none, &gid, &ec, true)
	return err
}

// ChargedIn is Charged for a successful payment, inside the transaction that records it
// (payment.ChargeRequest.Recorded): the order is paid exactly when the payment is, and the
// payment costs one write fewer.
func (c *Orders) ChargedIn(tx *store.Tx, id, gid string) error {
	none := ""
	_, err := tx.MoveLinkOrder(id, []string{Busy}, Paid, c.Clock.Now(), &none, &gid, &none, true)
	return err
}

// Issued records the convenience-store or bank payment gid on a busy order: it is pending until
// the money arrives.
func (c *Orders) Issued(ctx context.Context, id, gid string) error {
	none := ""
	_, err := c.DB.MoveLinkOrder(ctx, id, []string{Busy}, Pending, c.Clock.Now(), &none, &gid, &none, true)
	return err
}

// State is an order's state in the lifecycle: its own status, and for a pending order its slip's
// (pending, paid, expired or cancelled).
func (c *Orders) State(ctx context.Context, o *store.LinkOrder) (string, error) {
	if o.Status != Pending || o.Gid == "" {
		return o.Status, nil
	}
	sl, err := c.DB.GetSlip(ctx, o.Gid)
	if err != nil {
		return "", err
	}
	return sl.State, nil
}

// Expired reports whether an order can no longer be paid at now (a paid or pending order keeps
// its pages).
func Expired(o *store.LinkOrder, now time.Time) bool {
	return o.Status != Paid && o.Status != Pending && !now.Before(o.ExpiresAt)
}

// PaidOf returns this browser's (binding) paid order of store aid with order number cod, or
// store.ErrNotFound: a merchant's form submitted again after paying (back, reload) shows that
// order's result rather than a new card form.
func (c *Orders) PaidOf(ctx context.Context, aid, cod, binding string) (*store.LinkOrder, error) {
	if cod == "" || binding == "" {
		return nil, store.ErrNotFound
	}
	return c.DB.PaidLinkOrderOf(ctx, aid, cod, binding)
}

// Redirected parks a busy order while the shopper authenticates at the processor's own page (the
// card held as tkn, the authorisation ref, the page u); the order is then in status Redirect.
func (c *Orders) Redirected(ctx context.Context, id, tkn, ref, u string) error {
	ok, err := c.DB.RedirectLinkOrder(ctx, id, tkn, ref, u, c.Clock.Now())
	if err == nil && !ok {
		err = errors.New("checkout: order not busy")
	}
	return err
}

// ClaimReturn takes a redirected order when its shopper is back from the processor, for reading
// the outcome: of two returns (a reload), exactly one goes on.
func (c *Orders) ClaimReturn(ctx context.Context, id string) (bool, error) {
	return c.DB.MoveLinkOrder(ctx, id, []string{Redirect}, Busy, c.Clock.Now(), nil, nil, nil, false)
}

// Processor returns a redirected order's authorisation reference and authentication page.
func (c *Orders) Processor(ctx context.Context, id string) (ref, u string, err error) {
	return c.DB.LinkOrderProcessor(ctx, id)
}
