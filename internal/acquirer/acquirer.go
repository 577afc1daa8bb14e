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
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
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
	// Sale asks for authorisation and capture in one (CAPTURE); otherwise the authorisation
	// stays open until Capture or Void.
	Sale bool
	// Account is the store's account at the processor (a Stripe Connect account ID), "" for the
	// platform's own. Follow-ups learn it from the reference the authorisation returned.
	Account string
	// Stored is the processor's reference of a card kept there (Response.Stored of an earlier
	// charge): charged off-session, without the card number.
	Stored string
	// Keep asks the processor to keep the card for later off-session charges (one-touch,
	// auto-charge); the answer's Stored references it.
	Keep bool
	// OffSession marks a charge made without the shopper present (auto-charge, server-to-server
	// with a stored card): a processor that would need the shopper to authenticate declines it.
	OffSession bool
	// ReturnURL, when set, lets the processor send the shopper through its own 3-D Secure
	// authentication and back there (hosted pages); without it a charge that needs
	// authentication is declined with the 3-D Secure code.
	ReturnURL string
}

// Response is the network's answer. Declines are not errors: Approved is false and Code says why.
type Response struct {
	Approved     bool
	Code         string // wire error code on decline (ER030, ER016, …)
	ApprovalCode string // 6 characters on approval
	Ref          string // network reference for capture / void / refund
	// ProcessorCode is the processor's own code for a decline or error (e.g. Stripe's
	// "card_declined/insufficient_funds"), kept on the payment for the panel.
	ProcessorCode string
	// Stored references the card kept at the processor (Request.Keep), for later charges.
	Stored string
	// RedirectURL is where the shopper must go to authenticate (3-D Secure at the processor)
	// before the authorisation completes; Approved is false and Code is ER900 until then.
	RedirectURL string
}

// Returner is implemented by processors that authenticate the shopper on their own page
// (Response.RedirectURL): once the shopper is back, Returned reads the outcome of the
// authorisation ref made for r, without authorising again. An authentication the shopper did not
// complete is ER901.
type Returner interface {
	Returned(ctx context.Context, ref string, r Request) (Response, error)
}

// ErrNetwork means the network could not be reached or did not answer: the result is unknown to
// the merchant and is reported as ER042.
var ErrNetwork = errors.New("card network unreachable")

// ErrOutcomeUnknown means the processor may have acted on the request but its answer was lost
// (timeout, cut connection, 5xx) and retries with the same idempotency key did not settle it. The
// caller must not answer a failure: it answers "outcome unknown" (ER990) and leaves the
// authorisation to a reconciler (Resolver).
var ErrOutcomeUnknown = errors.New("acquirer outcome unknown")

// Resolver is implemented by acquirers that can find, after the fact, what a request whose answer
// was lost did: Resolve returns the references of the authorisations made under the idempotency
// key carried by ref (see KeyRef) — none when the processor has none; more than one when the
// order was charged again after an earlier charge under the key was voided.
type Resolver interface {
	Resolve(ctx context.Context, ref string) (netRefs []string, err error)
}

// KeyRef names an authorisation by the idempotency key it was requested under, for a Resolver
// (the processor's own reference was never learnt).
func KeyRef(account, key string) string { return "key:" + account + "|" + key }

// ParseKeyRef splits a KeyRef; ok is false for a processor reference.
func ParseKeyRef(ref string) (account, key string, ok bool) {
	rest, ok := strings.CutPrefix(ref, "key:")
	if !ok {
		return "", "", false
	}
	account, key, ok = strings.Cut(rest, "|")
	return account, key, ok
}

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

// Sandbox is the card-network simulator. Outcomes follow from the card number, and approval codes
// and references from the idempotency key, so a retried request gets the very same authorisation —
// as a real network does for a repeated idempotency key. With a Ledger it also keeps the state of
// each authorisation, so tests can count the ones left open (Sandbox{} alone is stateless).
type Sandbox struct {
	Ledger *Ledger
}

// Ledger is the sandbox network's book of authorisations: open (authorised, neither captured nor
// voided), sold (authorised and captured at once, or captured later) and voided. An authorisation
// voided is final: the same idempotency key and card authorised again get a new reference. Settled
// entries (captured or voided) are forgotten after SettledTTL or once SettledMax newer ones are
// kept, so the book stays bounded under load; open ones are kept until captured or voided, as a
// network keeps an open-to-buy hold.
//
// Nothing in it holds a pointer (fixed-size keys, states as numbers, times as nanoseconds), so the
// garbage collector never scans it: under load it holds SettledMax settlements, the larger part
// of a sandbox server's live heap, and scanning it made every collection cost twice as much.
type Ledger struct {
	mu   sync.Mutex
	refs map[refKey]entry
	gen  map[[sha256.Size]byte]int // sha256(key, pan) -> authorisations of it voided so far
	// settled lists settlements oldest first (from head), to forget them in order: no scan of
	// the whole book under its lock (that took ~100 ms at 1.7M entries, every 10 s)
	settled []settlement
	head    int
	keep    int // settlements remembered at most (SettledMax unless KeepSettled changed it)
}

// KeepSettled changes how many settled authorisations the ledger remembers at most: a test that
// reconciles every sale of a long run with the database keeps them all.
func (l *Ledger) KeepSettled(n int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.keep = n
}

type settlement struct {
	ref refKey
	at  int64 // UnixNano
}

type entry struct {
	state  uint8 // stateOpen | stateSold | stateVoided
	hasKey bool  // key is set
	at     int64 // UnixNano of the last move
	key    [sha256.Size]byte
}

const (
	stateOpen = iota + 1
	stateSold
	stateVoided
)

var stateNames = [...]string{stateOpen: "open", stateSold: "sold", stateVoided: "voided"}

// stateOf is the number of a state's name (0 for "": unknown).
func stateOf(name string) uint8 {
	for i, n := range stateNames {
		if n == name && n != "" {
			return uint8(i)
		}
	}
	return 0
}

// refKey is a reference as a fixed-size map key: its bytes and length when it is shorter than the
// key (every sandbox reference is), else its SHA-256.
type refKey [32]byte

func keyOf(ref string) refKey {
	var k refKey
	if len(ref) < len(k) {
		copy(k[:], ref)
		k[len(k)-1] = byte(len(ref))
		return k
	}
	return refKey(sha256.Sum256([]byte(ref)))
}

// SettledTTL is how long the ledger remembers a captured or voided authorisation, and SettledMax
// how many it remembers at most. Under load the bound applies first (50,000 is 3.5 s at 14,000
// payments/s and about 10 MB): with the TTL alone, a sandbox under a load test kept two minutes
// of sales — 1.7M entries, 250 MB — and its collector worked harder the longer the test ran.
const (
	SettledTTL = 2 * time.Minute
	SettledMax = 50_000
)

// NewLedger returns an empty ledger.
func NewLedger() *Ledger {
	return &Ledger{refs: map[refKey]entry{}, gen: map[[sha256.Size]byte]int{}, keep: SettledMax}
}

// Stats counts the ledger's authorisations by state.
type Stats struct {
	Open   int // authorised, neither captured nor voided
	Sold   int // captured (within SettledTTL)
	Voided int // voided (within SettledTTL)
}

// Stats reports the ledger's counts.
func (l *Ledger) Stats() Stats {
	l.mu.Lock()
	defer l.mu.Unlock()
	var s Stats
	for _, e := range l.refs {
		switch e.state {
		case stateOpen:
			s.Open++
		case stateSold:
			s.Sold++
		case stateVoided:
			s.Voided++
		}
	}
	return s
}

// State is the state of one reference: open, sold, voided, or "" when unknown (or forgotten).
func (l *Ledger) State(ref string) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	if e, ok := l.refs[keyOf(ref)]; ok {
		return stateNames[e.state]
	}
	return ""
}

// forget drops the settlements older than SettledTTL, and the oldest beyond SettledMax; an entry
// that moved again since (a newer settlement, or open again) is left to its newer record.
func (l *Ledger) forget(now time.Time) {
	for l.head < len(l.settled) {
		s := l.settled[l.head]
		if len(l.settled)-l.head <= l.keep && time.Duration(now.UnixNano()-s.at) <= SettledTTL {
			break
		}
		if e, ok := l.refs[s.ref]; ok && e.state != stateOpen && e.at == s.at {
			delete(l.refs, s.ref)
		}
		l.settled[l.head] = settlement{}
		l.head++
	}
	if l.head > 4096 && l.head > len(l.settled)/2 {
		l.settled = append(l.settled[:0], l.settled[l.head:]...)
		l.head = 0
	}
}

// set moves ref to state; from, when given, must be its current state (else an error).
func (l *Ledger) set(ref, state string, from ...string) error {
	if l == nil {
		return nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	now := time.Now()
	k := keyOf(ref)
	e, found := l.refs[k]
	if len(from) > 0 && found && !slices.Contains(from, stateNames[e.state]) {
		return fmt.Errorf("%w: authorisation %s is %s", ErrRefused, ref, stateNames[e.state])
	}
	e.state, e.at = stateOf(state), now.UnixNano()
	l.refs[k] = e
	if e.state != stateOpen {
		l.settled = append(l.settled, settlement{k, e.at})
	}
	l.forget(now)
	return nil
}

// ErrRefused is the network refusing an operation on an authorisation in the wrong state
// (capturing a voided one, voiding a captured one).
var ErrRefused = errors.New("refused by the card network")

// Name reports the connector name.
func (Sandbox) Name() string { return "sandbox" }

func digest(parts ...string) string {
	h := rawDigest(parts...)
	return hex.EncodeToString(h[:])
}

func rawDigest(parts ...string) [sha256.Size]byte {
	return sha256.Sum256([]byte(strings.Join(parts, "\x00")))
}

func (s Sandbox) decide(ctx context.Context, r Request) (Response, error) {
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
	return Response{Approved: true}, nil
}

// approve makes the authorisation of r: its reference follows from the key and card, and from how
// many earlier authorisations of them were voided (a voided one is final; a new one is new).
func (s Sandbox) approve(r Request) Response {
	raw := rawDigest(r.Key, r.PAN)
	d := hex.EncodeToString(raw[:])
	ap := strings.ToUpper(d[:6])
	ref := "SBX" + d[6:22]
	if l := s.Ledger; l != nil {
		l.mu.Lock()
		g := l.gen[raw]
		l.mu.Unlock()
		if g > 0 {
			ref = "SBX" + digest(r.Key, r.PAN, strconv.Itoa(g))[6:22]
		}
		state := "open"
		if r.Sale {
			state = "sold"
		}
		l.set(ref, state)
		l.mu.Lock()
		if e, ok := l.refs[keyOf(ref)]; ok {
			e.key, e.hasKey = raw, true
			l.refs[keyOf(ref)] = e
		}
		l.mu.Unlock()
	}
	return Response{Approved: true, ApprovalCode: ap, Ref: ref}
}

// Authorize approves or declines by test card; an approval is entered in the ledger (open, or
// sold for a sale).
func (s Sandbox) Authorize(ctx context.Context, r Request) (Response, error) {
	resp, err := s.decide(ctx, r)
	if err != nil || !resp.Approved {
		return resp, err
	}
	return s.approve(r), nil
}

// Verify checks a card without charging (CHECK, registering a card for later charges): the same
// outcomes as Authorize, except that a card at its credit limit passes, as a zero-amount check
// does on a real network — so a card can be registered and decline when it is charged.
func (s Sandbox) Verify(ctx context.Context, r Request) (Response, error) {
	resp, err := s.decide(ctx, r)
	if r.PAN == "4000000000009995" && ScenarioFrom(ctx) == "" {
		resp, err = Response{Approved: true}, nil
	}
	if err == nil && resp.Approved {
		// a verification holds nothing open on the card: its reference is not in the ledger
		d := digest(r.Key, r.PAN)
		resp.ApprovalCode, resp.Ref = strings.ToUpper(d[:6]), "SBX"+d[6:22]
	}
	return resp, err
}

// Capture succeeds for a sandbox reference that is not voided.
func (s Sandbox) Capture(ctx context.Context, ref string, amount int64) error {
	if err := checkRef(ref); err != nil {
		return err
	}
	return s.Ledger.set(ref, "sold", "open", "sold", "")
}

// Void releases an authorisation (or reverses a sale not yet settled); voiding twice is fine.
func (s Sandbox) Void(ctx context.Context, ref string) error {
	if err := checkRef(ref); err != nil {
		return err
	}
	if l := s.Ledger; l != nil {
		l.mu.Lock()
		if e, ok := l.refs[keyOf(ref)]; ok && e.state != stateVoided && e.hasKey {
			l.gen[e.key]++
		}
		l.mu.Unlock()
	}
	return s.Ledger.set(ref, "voided")
}

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

type opKeyKey struct{}

// WithOpKey names the follow-up operation (capture, void, refund) ctx carries, so a processor
// derives its idempotency key from it: every retry of one operation sends the same key, and two
// different operations (two partial refunds of one amount) never share one.
func WithOpKey(ctx context.Context, key string) context.Context {
	return context.WithValue(ctx, opKeyKey{}, key)
}

// OpKeyFrom is the operation key carried by ctx, or "".
func OpKeyFrom(ctx context.Context) string {
	s, _ := ctx.Value(opKeyKey{}).(string)
	return s
}

// Event is a processor's notice that an authorisation changed on its side (a webhook): Kessai
// moves the payment holding Ref forward to State, never backwards.
type Event struct {
	ID   string // the processor's event ID (deduplicated)
	Kind string // the processor's event type
	Ref  string // the authorisation's reference, as Response.Ref gave it
	// State is the payment state the event shows: authorized, captured, partially_refunded,
	// refunded or voided; "" for an event that moves nothing.
	State              string
	Captured, Refunded int64
	// Method is "" for a card payment, "cvs" or "bank" for a convenience-store or bank-transfer
	// payment (wire.md §8): such an event moves the payment's slip, and State is then one of
	// SlipPaid, SlipPartlyFunded, SlipExpired, SlipCancelled (or "" for an event that moves
	// nothing).
	Method string
	// Received is what arrived for a slip so far (bank transfer).
	Received int64
}

// The states a processor event shows for a convenience-store or bank-transfer slip.
const (
	SlipPaid         = "paid"             // paid in full (konbini paid, transfer complete)
	SlipPartlyFunded = "partially_funded" // part of a bank transfer arrived
	SlipExpired      = "expired"          // expired, or cancelled at the processor by anyone but Kessai
	// SlipCancelled: cancelled at the processor by Kessai itself, at the merchant's request
	// (SlipNetwork.CancelSlip) — never a natural expiry.
	SlipCancelled = "cancelled"
)

// Watch wraps an acquirer and counts consecutive operations that ended without an answer
// (ErrNetwork, ErrOutcomeUnknown); at Threshold it calls Trip once (Kessai opens an emergency
// maintenance window), and counts again from zero. Threshold 0 watches nothing.
type Watch struct {
	Acquirer
	Threshold int64
	Trip      func()
	n         atomic.Int64
}

func (w *Watch) note(err error) error {
	if w.Threshold <= 0 {
		return err
	}
	if errors.Is(err, ErrNetwork) || errors.Is(err, ErrOutcomeUnknown) {
		if w.n.Add(1) == w.Threshold {
			w.n.Store(0)
			if w.Trip != nil {
				go w.Trip()
			}
		}
		return err
	}
	w.n.Store(0)
	return err
}

// Failures is the current count of consecutive failures.
func (w *Watch) Failures() int64 { return w.n.Load() }

// Authorize counts the outcome of the wrapped Authorize.
func (w *Watch) Authorize(ctx context.Context, r Request) (Response, error) {
	resp, err := w.Acquirer.Authorize(ctx, r)
	return resp, w.note(err)
}

// Verify counts the outcome of the wrapped Verify.
func (w *Watch) Verify(ctx context.Context, r Request) (Response, error) {
	resp, err := w.Acquirer.Verify(ctx, r)
	return resp, w.note(err)
}

// Capture counts the outcome of the wrapped Capture.
func (w *Watch) Capture(ctx context.Context, ref string, amount int64) error {
	return w.note(w.Acquirer.Capture(ctx, ref, amount))
}

// Refund counts the outcome of the wrapped Refund.
func (w *Watch) Refund(ctx context.Context, ref string, amount int64) error {
	return w.note(w.Acquirer.Refund(ctx, ref, amount))
}

// Resolve passes through to the wrapped acquirer when it is a Resolver.
func (w *Watch) Resolve(ctx context.Context, ref string) ([]string, error) {
	if r, ok := w.Acquirer.(Resolver); ok {
		return r.Resolve(ctx, ref)
	}
	return []string{ref}, nil
}
