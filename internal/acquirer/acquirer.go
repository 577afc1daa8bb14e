// Package acquirer is the edge between Kessai and the card networks: an Acquirer interface that a
// real connector can implement later, and the sandbox simulator with documented test cards, which is
// the only acquirer for now (and the only place Kessai uses a stand-in for a real part).
package acquirer

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Request asks the network to authorise or verify a card.
type Request struct {
	Key    string // idempotency key: the same key yields the same authorisation, never a second one
	PAN    string
	Exp    string // YYMM
	CVV    string // may be empty (token and stored-card charges); never stored
	Amount int64
	Method string // md: 10, 61-N, 80-0
}

// Response is the network's answer. Declines are not errors: Approved is false and Code says why.
type Response struct {
	Approved     bool
	Code         string // wire error code on decline (ER030, ER016, …)
	ApprovalCode string // 6 characters on approval
	Ref          string // network reference for capture / void / refund
}

// ErrNetwork means the network could not be reached or did not answer: the result is unknown to
// the merchant and is reported as ER042.
var ErrNetwork = errors.New("card network unreachable")

// Acquirer is a card network connection.
type Acquirer interface {
	Authorize(ctx context.Context, r Request) (Response, error)
	Capture(ctx context.Context, ref string, amount int64) error
	Void(ctx context.Context, ref string) error
	Refund(ctx context.Context, ref string, amount int64) error
	Verify(ctx context.Context, r Request) (Response, error)
	// ThreeDS says how the issuer wants a card authenticated: "frictionless", "challenge", "fail",
	// or "attempted" (the issuer does not take part; the attempt stands for authentication).
	ThreeDS(pan string) string
	Name() string
}

// TestCard documents one sandbox card.
type TestCard struct {
	PAN     string
	Brand   string
	Outcome string // what happens
	Code    string // wire code when declined
}

// TestCards lists the sandbox's documented cards; any future expiry works, any 3–4 digit CVV.
var TestCards = []TestCard{
	{"4111111111111111", "VISA", "approved", ""},
	{"4444333322221111", "VISA", "approved", ""},
	{"5555555555554444", "MASTER", "approved", ""},
	{"3530111333300000", "JCB", "approved", ""},
	{"378282246310005", "AMEX", "approved", ""},
	{"36227206271667", "DINERS", "approved", ""},
	{"4000000000000002", "VISA", "declined (generic)", "ER030"},
	{"4000000000009995", "VISA", "declined: credit limit reached (a zero-amount check passes)", "ER016"},
	{"4000000000000069", "VISA", "declined: card expired", "ER056"},
	{"4000000000000127", "VISA", "declined: security code mismatch", "ER079"},
	{"4000000000000119", "VISA", "network failure", "ER042"},
	{SlowCard, "VISA", "approved after a 2-second network delay (a payment in flight at 02:55)", ""},
	{"4000000000003220", "VISA", "approved after a 3-D Secure challenge", ""},
	{"4000000000003238", "VISA", "3-D Secure authentication fails", "ER901"},
	{"4000000000003246", "VISA", "3-D Secure attempted (the issuer does not take part), then approved", ""},
}

// IsTestCard reports whether pan is one of the sandbox's documented cards.
func IsTestCard(pan string) bool {
	for _, c := range TestCards {
		if c.PAN == pan {
			return true
		}
	}
	return false
}

// SlowCard is approved after SlowDelay: the network answers late, so a merchant can see what
// happens to a payment that is in flight when a maintenance window starts (it completes).
const SlowCard = "4000000000000259"

// SlowDelay is how long the sandbox takes to answer for SlowCard.
const SlowDelay = 2 * time.Second

// Sandbox is the card-network simulator. It is stateless: outcomes follow from the card number, and
// approval codes and references from the idempotency key, so a retried request gets the very same
// authorisation — as a real network does for a repeated idempotency key.
type Sandbox struct{}

// Name reports the connector name.
func (Sandbox) Name() string { return "sandbox" }

func digest(parts ...string) string {
	h := sha256.Sum256([]byte(strings.Join(parts, "\x00")))
	return hex.EncodeToString(h[:])
}

func (Sandbox) decide(ctx context.Context, r Request) (Response, error) {
	if resp, err, ok := forced(ctx, r); ok { // Kessai-Scenario (scenario.go)
		return resp, err
	}
	switch r.PAN {
	case SlowCard:
		t := time.NewTimer(SlowDelay)
		defer t.Stop()
		select {
		case <-t.C:
		case <-ctx.Done():
			return Response{}, fmt.Errorf("%w: %v", ErrNetwork, ctx.Err())
		}
	case "4000000000000119":
		return Response{}, fmt.Errorf("%w: simulated timeout", ErrNetwork)
	case "4000000000000002":
		return Response{Code: "ER030"}, nil
	case "4000000000009995":
		return Response{Code: "ER016"}, nil
	case "4000000000000069":
		return Response{Code: "ER056"}, nil
	case "4000000000000127":
		return Response{Code: "ER079"}, nil
	}
	d := digest(r.Key, r.PAN)
	ap := strings.ToUpper(d[:6])
	return Response{Approved: true, ApprovalCode: ap, Ref: "SBX" + d[6:22]}, nil
}

// Authorize approves or declines by test card.
func (s Sandbox) Authorize(ctx context.Context, r Request) (Response, error) { return s.decide(ctx, r) }

// Verify checks a card without charging (CHECK, registering a card for later charges): the same
// outcomes as Authorize, except that a card at its credit limit passes, as a zero-amount check
// does on a real network — so a card can be registered and decline when it is charged.
func (s Sandbox) Verify(ctx context.Context, r Request) (Response, error) {
	if r.PAN == "4000000000009995" && ScenarioFrom(ctx) == "" {
		d := digest(r.Key, r.PAN)
		return Response{Approved: true, ApprovalCode: strings.ToUpper(d[:6]), Ref: "SBX" + d[6:22]}, nil
	}
	return s.decide(ctx, r)
}

// Capture always succeeds for a sandbox reference.
func (Sandbox) Capture(ctx context.Context, ref string, amount int64) error { return checkRef(ref) }

// Void always succeeds for a sandbox reference.
func (Sandbox) Void(ctx context.Context, ref string) error { return checkRef(ref) }

// Refund always succeeds for a sandbox reference.
func (Sandbox) Refund(ctx context.Context, ref string, amount int64) error { return checkRef(ref) }

func checkRef(ref string) error {
	if !strings.HasPrefix(ref, "SBX") {
		return fmt.Errorf("%w: unknown reference", ErrNetwork)
	}
	return nil
}

// ThreeDS decides the 3-D Secure flow by test card.
func (Sandbox) ThreeDS(pan string) string {
	switch pan {
	case "4000000000003220":
		return "challenge"
	case "4000000000003238":
		return "fail"
	case "4000000000003246":
		return "attempted"
	}
	return "frictionless"
}
