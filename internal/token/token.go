// Package token is Kessai's card-token service: the server side of CPToken.js and
// EMV3DSAdapter.js. A token stands for a card the shopper typed into a merchant's page: the number
// is sealed by the vault into a cards row at once and never leaves Kessai again; the token, 32
// letters and digits, is bound to the store, valid for ten minutes and usable once. 3-D Secure runs
// against a token and records its outcome and the authenticated amounts on it, so the later charge
// (gateway_token.aspx) can refuse a failed authentication (ER901) or other amounts (ER584).
//
// Every refusal is a *wire.Error, so each surface maps it to its own shape once.
package token

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"kessai/internal/acquirer"
	"kessai/internal/clock"
	"kessai/internal/payment"
	"kessai/internal/store"
	"kessai/internal/vault"
	"kessai/internal/wire"
)

// TTL is how long a token can be used after it is made (wire.md §6).
const TTL = 10 * time.Minute

// Len is the length of a token string.
const Len = 32

// 3-D Secure states recorded on a token (tokens.tds_status), named after the EMV 3DS transaction
// statuses they correspond to.
const (
	TDSNone       = ""   // not run
	TDSChallenge  = "C"  // a challenge was issued and is waiting for the cardholder
	TDSOK         = "Y"  // authenticated without a challenge (frictionless)
	TDSChallenged = "YC" // authenticated: the cardholder passed the challenge
	TDSAttempted  = "A"  // the issuer does not take part; the attempt stands for authentication
	TDSFailed     = "N"  // authentication failed or was cancelled
)

// Result returns the 3-D Secure result a token state stands for, as recorded on a payment
// (store.TDS…).
func Result(status string) string {
	switch status {
	case TDSOK:
		return store.TDSFrictionless
	case TDSChallenged:
		return store.TDSChallenged
	case TDSAttempted:
		return store.TDSAttempted
	case TDSFailed:
		return store.TDSFailed
	}
	return store.TDSNone
}

// FlowResult is the result recorded for a card charged straight after the issuer chose flow
// (acquirer ThreeDS) without a challenge: the hosted page asks the issuer first and charges at
// once when no cardholder step is needed.
func FlowResult(flow string) string {
	switch flow {
	case "frictionless":
		return store.TDSFrictionless
	case "attempted":
		return store.TDSAttempted
	}
	return store.TDSNone
}

// NeedsThreeDS reports whether a card must pass 3-D Secure before a token charge at a store that
// requires it [D]. With a real acquirer every card does (EMV 3-D Secure is mandatory for Japanese
// e-commerce since 2025-03). The sandbox enrols only the cards its issuer authenticates with a
// challenge or refuses (4000000000003220, 4000000000003238): its other test cards authenticate
// frictionlessly or, for 4000000000003246, by attempt, and keep working without the script, so
// merchants' existing sandbox tests do not change.
func NeedsThreeDS(acq acquirer.Acquirer, pan string) bool {
	if acq.Name() != "sandbox" {
		return true
	}
	switch acq.ThreeDS(pan) {
	case "challenge", "fail":
		return true
	}
	return false
}

// Outcomes of Authenticate.
const (
	Frictionless = "frictionless"
	Challenge    = "challenge"
)

// Service creates, authenticates and consumes tokens.
type Service struct {
	DB    *store.DB
	Vault *vault.KeyRing
	Acq   acquirer.Acquirer
	Clock clock.Clock
	Log   *slog.Logger
	// TTL overrides the token lifetime (tests); zero means TTL.
	TTL time.Duration

	lastPurge atomic.Int64
}

// New returns a token service.
func New(db *store.DB, kr *vault.KeyRing, acq acquirer.Acquirer, clk clock.Clock, log *slog.Logger) *Service {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Service{DB: db, Vault: kr, Acq: acq, Clock: clk, Log: log}
}

// Created is a new token and what may be shown about its card.
type Created struct {
	Token     string
	ExpiresAt time.Time
	Masked    string // 411111******1111
	Brand     string
	Exp       string // YYMM
}

const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

// NewString returns n random letters and digits from crypto/rand, without modulo bias.
func NewString(n int) string {
	out := make([]byte, 0, n)
	var buf [64]byte
	for len(out) < n {
		rand.Read(buf[:])
		for _, b := range buf {
			if b < 248 { // 248 = 4*62: larger bytes would favour the first letters
				out = append(out, alphabet[int(b)%len(alphabet)])
				if len(out) == n {
					break
				}
			}
		}
	}
	return string(out)
}

// ValidString reports whether s has the shape of a token: Len letters and digits.
func ValidString(s string) bool {
	if len(s) != Len {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z') {
			return false
		}
	}
	return true
}

func (s *Service) ttl() time.Duration {
	if s.TTL > 0 {
		return s.TTL
	}
	return TTL
}

// Create seals a card (already checked by the caller's surface, e.g. gateway.Card) and returns a
// token for it. When a security code is given it is checked with the card network at once — the
// only moment Kessai ever has it, since it is never stored — and a mismatch is ER079.
func (s *Service) Create(ctx context.Context, st *store.Store, c *payment.CardInput, md string) (*Created, error) {
	if c == nil {
		return nil, wire.Errf(wire.ERParamCardNumber, "cn", "no card")
	}
	if md == "" {
		md = wire.MethodLump
	}
	if c.CVV != "" {
		resp, err := s.Acq.Verify(ctx, acquirer.Request{Key: "token/" + NewString(16), PAN: c.PAN, Exp: c.Exp, CVV: c.CVV, Method: md})
		// Only the security code is judged here: other declines (limit, network) belong to the charge.
		if err == nil && !resp.Approved && resp.Code == string(wire.ERParamCVV) {
			return nil, wire.Errf(wire.ERParamCVV, "cvv", "security code does not match")
		}
	}
	sealed, err := s.Vault.Seal(c.PAN)
	if err != nil {
		return nil, wire.Errf(wire.ERParamCardNumber, "cn", "not a card number")
	}
	now := s.Clock.Now()
	card := &store.Card{AID: st.AID, KeyID: sealed.KeyID, Blob: sealed.Blob, First6: sealed.First6, Last4: sealed.Last4,
		Brand: sealed.Brand, Lookup: sealed.Hash, Exp: c.Exp, Holder: c.Holder, CreatedAt: now}
	t := &store.Token{AID: st.AID, Md: md, CreatedAt: now, ExpiresAt: now.Add(s.ttl()), TDSAm: -1, TDSTx: -1, TDSSf: -1}
	for attempt := 0; ; attempt++ {
		t.Token = NewString(Len)
		err = s.DB.CreateToken(ctx, card, t)
		if !errors.Is(err, store.ErrConflict) || attempt == 3 {
			break
		}
	}
	if err != nil {
		s.Log.Error("token create failed", "aid", st.AID, "err", err)
		return nil, wire.Errf(wire.ERInternal, "", "storage")
	}
	s.maybePurge(ctx, now)
	return &Created{Token: t.Token, ExpiresAt: t.ExpiresAt, Masked: vault.Mask(c.PAN), Brand: sealed.Brand, Exp: c.Exp}, nil
}

// maybePurge deletes day-old expired tokens (and their never-used cards) at most every ten minutes.
func (s *Service) maybePurge(ctx context.Context, now time.Time) {
	last := s.lastPurge.Load()
	if now.UnixNano()-last < int64(10*time.Minute) || !s.lastPurge.CompareAndSwap(last, now.UnixNano()) {
		return
	}
	if _, err := s.DB.PurgeTokens(ctx, now.Add(-24*time.Hour)); err != nil {
		s.Log.Warn("token purge failed", "err", err)
	}
}

// usable checks a token for st at now: ER584 unknown, another store's, or used; ER585 expired.
func usable(t *store.Token, err error, st *store.Store, now time.Time) error {
	if errors.Is(err, store.ErrNotFound) {
		return wire.Errf(wire.ERTokenInvalid, "tkn", "unknown token")
	}
	if err != nil {
		var we *wire.Error
		if errors.As(err, &we) {
			return err
		}
		return &wire.Error{Code: wire.ERInternal, Msg: "storage", Err: err}
	}
	if t.AID != st.AID {
		return wire.Errf(wire.ERTokenInvalid, "tkn", "token of another store")
	}
	if !t.UsedAt.IsZero() {
		return wire.Errf(wire.ERTokenInvalid, "tkn", "token already used")
	}
	if !now.Before(t.ExpiresAt) {
		return wire.Errf(wire.ERTokenExpired, "tkn", "token expired")
	}
	return nil
}

// Use consumes a token for a charge of am/tx/sf and returns its card's ID; see Consume.
func (s *Service) Use(ctx context.Context, st *store.Store, tkn string, am, tx, sf int64) (int64, error) {
	id, _, err := s.Consume(ctx, st, tkn, am, tx, sf)
	return id, err
}

// Consume consumes a token for a charge of am/tx/sf and returns its card's ID and the 3-D Secure
// result to record on the payment (store.TDS…); it implements the gateway's TokenResolver.
// am = tx = sf = -1 is a card change (auto-charge), where amounts are not compared with 3-D
// Secure's and nothing is charged. A failed authentication is ER901, an open challenge ER900, other
// amounts than the authenticated ones ER584; when st requires 3-D Secure, a charge of a card that
// needs it (NeedsThreeDS) whose token did not pass it is ER900 (wire.md §4/§6: the 3-D Secure
// error; ER901 means an authentication that ran and failed). The token is marked used by a
// conditional update inside the same transaction as the checks, so of two racing charges exactly
// one gets the card.
func (s *Service) Consume(ctx context.Context, st *store.Store, tkn string, am, tx, sf int64) (int64, string, error) {
	if tkn == "" {
		return 0, "", wire.Errf(wire.ERTokenMissing, "tkn", "token missing")
	}
	if !ValidString(tkn) {
		return 0, "", wire.Errf(wire.ERTokenInvalid, "tkn", "not a token")
	}
	now := s.Clock.Now()
	change := am == -1 && tx == -1 && sf == -1
	// whether the card needs 3-D Secure is asked before the transaction (it opens the card); the
	// token's state is read again inside it
	needs := false
	if st.Require3DS && !change {
		if t, err := s.DB.GetToken(ctx, tkn); err == nil && t.AID == st.AID && t.TDSStatus == TDSNone {
			if needs, err = s.cardNeedsThreeDS(ctx, st, t.CardID); err != nil {
				return 0, "", err
			}
		}
	}
	var cardID int64
	var result string
	err := s.DB.Write(ctx, func(wtx *store.Tx) error {
		t, err := wtx.GetToken(tkn)
		if err := usable(t, err, st, now); err != nil {
			return err
		}
		switch t.TDSStatus {
		case TDSFailed:
			return wire.Errf(wire.ER3DSFailed, "tkn", "3-D Secure authentication failed")
		case TDSChallenge:
			return wire.Errf(wire.ER3DSError, "tkn", "3-D Secure challenge not completed")
		case TDSOK, TDSChallenged, TDSAttempted:
			if !change && (am != t.TDSAm || tx != t.TDSTx || sf != t.TDSSf) {
				return wire.Errf(wire.ERTokenInvalid, "am", "amounts differ from the 3-D Secure authentication")
			}
		case TDSNone:
			if needs {
				return wire.Errf(wire.ER3DSError, "tkn", "the store requires 3-D Secure and this card needs it")
			}
		default:
			return wire.Errf(wire.ER3DSError, "tkn", "unknown 3-D Secure state")
		}
		result = Result(t.TDSStatus)
		ok, err := wtx.UseToken(tkn, now)
		if err != nil {
			return err
		}
		if !ok {
			return wire.Errf(wire.ERTokenInvalid, "tkn", "token already used")
		}
		cardID = t.CardID
		return nil
	})
	if err != nil {
		var we *wire.Error
		if errors.As(err, &we) {
			return 0, "", err
		}
		s.Log.Error("token use failed", "aid", st.AID, "err", err)
		return 0, "", &wire.Error{Code: wire.ERInternal, Msg: "storage", Err: err}
	}
	return cardID, result, nil
}

// cardNeedsThreeDS opens a token's card to ask the issuer (NeedsThreeDS); the number is dropped at
// once.
func (s *Service) cardNeedsThreeDS(ctx context.Context, st *store.Store, cardID int64) (bool, error) {
	if s.Acq.Name() != "sandbox" {
		return true, nil
	}
	c, err := s.DB.GetCard(ctx, st.AID, cardID)
	if err != nil {
		return false, wire.Errf(wire.ER3DSError, "tkn", "card unavailable")
	}
	pan, err := s.Vault.Open(vault.Sealed{KeyID: c.KeyID, Blob: c.Blob, First6: c.First6, Last4: c.Last4})
	if err != nil {
		s.Log.Error("vault open failed", "card_id", c.ID, "err", err)
		return false, wire.Errf(wire.ER3DSError, "tkn", "card unavailable")
	}
	return NeedsThreeDS(s.Acq, pan), nil
}

// Card returns the masked number and brand of a usable token's card, for pages that confirm it.
func (s *Service) Card(ctx context.Context, st *store.Store, tkn string) (masked, brand string, err error) {
	t, err := s.DB.GetToken(ctx, tkn)
	if err := usable(t, err, st, s.Clock.Now()); err != nil {
		return "", "", err
	}
	c, err := s.DB.GetCard(ctx, st.AID, t.CardID)
	if err != nil {
		return "", "", wire.Errf(wire.ERTokenInvalid, "tkn", "card gone")
	}
	return vault.MaskStored(c.First6, c.Last4), c.Brand, nil
}

// ChallengeInfo is an open 3-D Secure challenge: what the challenge form shows.
type ChallengeInfo struct {
	// Code is the one-time code the sandbox issuer "sent" to the cardholder; the sandbox shows it
	// on the form, where a real issuer would text it.
	Code   string
	Masked string
	Brand  string
}

// Authenticate runs 3-D Secure for a token and the amounts to be charged. The issuer (the
// sandbox, by card) decides: frictionless authenticates at once (outcome Frictionless), a
// challenge returns Challenge and the info to show, a refusal is ER901. The outcome is recorded on
// the token. A token whose authentication already failed stays failed.
func (s *Service) Authenticate(ctx context.Context, st *store.Store, tkn string, am, tx, sf int64) (string, *ChallengeInfo, error) {
	if tkn == "" {
		return "", nil, wire.Errf(wire.ERTokenMissing, "tkn", "token missing")
	}
	if !ValidString(tkn) {
		return "", nil, wire.Errf(wire.ERTokenInvalid, "tkn", "not a token")
	}
	t, err := s.DB.GetToken(ctx, tkn)
	if err := usable(t, err, st, s.Clock.Now()); err != nil {
		return "", nil, err
	}
	if t.TDSStatus == TDSFailed {
		return "", nil, wire.Errf(wire.ER3DSFailed, "tkn", "3-D Secure authentication failed earlier")
	}
	c, err := s.DB.GetCard(ctx, st.AID, t.CardID)
	if err != nil {
		return "", nil, wire.Errf(wire.ER3DSError, "tkn", "card unavailable")
	}
	pan, err := s.Vault.Open(vault.Sealed{KeyID: c.KeyID, Blob: c.Blob, First6: c.First6, Last4: c.Last4})
	if err != nil {
		s.Log.Error("vault open failed", "card_id", c.ID, "err", err)
		return "", nil, wire.Errf(wire.ER3DSError, "tkn", "card unavailable")
	}
	flow := acquirer.ThreeDSFor(ctx, s.Acq, pan) // honours Kessai-Scenario
	pan = ""
	from := []string{TDSNone, TDSChallenge, TDSOK, TDSChallenged, TDSAttempted}
	var status, code, outcome string
	switch flow {
	case "frictionless":
		status, outcome = TDSOK, Frictionless
	case "attempted":
		// the issuer does not take part: no cardholder step, as for frictionless
		status, outcome = TDSAttempted, Frictionless
	case "challenge":
		status, outcome, code = TDSChallenge, Challenge, NewDigits(6)
	default:
		status = TDSFailed
	}
	var ok bool
	err = s.DB.Write(ctx, func(wtx *store.Tx) error {
		var err error
		ok, err = wtx.SetTokenTDS(tkn, from, status, am, tx, sf, code)
		return err
	})
	if err != nil {
		return "", nil, &wire.Error{Code: wire.ER3DSError, Msg: "storage", Err: err}
	}
	if !ok {
		return "", nil, wire.Errf(wire.ERTokenInvalid, "tkn", "token used meanwhile")
	}
	switch status {
	case TDSFailed:
		return "", nil, wire.Errf(wire.ER3DSFailed, "tkn", "the issuer refused authentication")
	case TDSChallenge:
		return outcome, &ChallengeInfo{Code: code, Masked: vault.MaskStored(c.First6, c.Last4), Brand: c.Brand}, nil
	}
	return outcome, nil, nil
}

// Complete ends an open challenge: authenticate with the code the cardholder typed, or give up
// (authenticate false). A wrong code or giving up records the failure and is ER901; completing an
// already-authenticated token again is harmless.
func (s *Service) Complete(ctx context.Context, st *store.Store, tkn, code string, authenticate bool) error {
	if !ValidString(tkn) {
		return wire.Errf(wire.ERTokenInvalid, "tkn", "not a token")
	}
	t, err := s.DB.GetToken(ctx, tkn)
	if err := usable(t, err, st, s.Clock.Now()); err != nil {
		return err
	}
	switch t.TDSStatus {
	case TDSOK, TDSChallenged, TDSAttempted:
		return nil
	case TDSFailed:
		return wire.Errf(wire.ER3DSFailed, "tkn", "3-D Secure authentication failed")
	case TDSChallenge:
	default:
		return wire.Errf(wire.ER3DSError, "tkn", "no challenge is open for this token")
	}
	pass := authenticate && t.TDSChallenge != "" && subtle.ConstantTimeCompare([]byte(code), []byte(t.TDSChallenge)) == 1
	status := TDSFailed
	if pass {
		status = TDSChallenged
	}
	var ok bool
	err = s.DB.Write(ctx, func(wtx *store.Tx) error {
		var err error
		ok, err = wtx.SetTokenTDS(tkn, []string{TDSChallenge}, status, t.TDSAm, t.TDSTx, t.TDSSf, "")
		return err
	})
	if err != nil {
		return &wire.Error{Code: wire.ER3DSError, Msg: "storage", Err: err}
	}
	if !ok {
		return wire.Errf(wire.ER3DSError, "tkn", "challenge changed meanwhile")
	}
	if !pass {
		return wire.Errf(wire.ER3DSFailed, "tkn", "authentication failed or cancelled")
	}
	return nil
}

// NewDigits returns n random decimal digits.
func NewDigits(n int) string {
	out := make([]byte, 0, n)
	var buf [16]byte
	for len(out) < n {
		rand.Read(buf[:])
		for _, b := range buf {
			if b < 250 {
				out = append(out, '0'+b%10)
				if len(out) == n {
					break
				}
			}
		}
	}
	return string(out)
}

// ChallengeTries is how many codes a cardholder may type at one challenge on Kessai's own hosted
// page before the authentication fails.
const ChallengeTries = 3

// WrongCode is Try's answer to a wrong code while attempts are left: the challenge stays open.
type WrongCode struct{ Left int }

func (e *WrongCode) Error() string {
	return fmt.Sprintf("wrong authentication code, %d attempts left", e.Left)
}

// Try checks a challenge code typed on the hosted page. A wrong code leaves the challenge open
// while attempts are left (*WrongCode); the ChallengeTries-th wrong code fails it (ER901), as
// Complete does at once. A right code completes it.
func (s *Service) Try(ctx context.Context, st *store.Store, tkn, code string) error {
	if !ValidString(tkn) {
		return wire.Errf(wire.ERTokenInvalid, "tkn", "not a token")
	}
	t, err := s.DB.GetToken(ctx, tkn)
	if err := usable(t, err, st, s.Clock.Now()); err != nil {
		return err
	}
	if t.TDSStatus != TDSChallenge || t.TDSChallenge == "" || subtle.ConstantTimeCompare([]byte(code), []byte(t.TDSChallenge)) == 1 {
		return s.Complete(ctx, st, tkn, code, true)
	}
	var tries int
	var ok bool
	err = s.DB.Write(ctx, func(wtx *store.Tx) error {
		var err error
		tries, ok, err = wtx.BumpTokenTDSTries(tkn)
		return err
	})
	if err != nil {
		return &wire.Error{Code: wire.ER3DSError, Msg: "storage", Err: err}
	}
	if !ok {
		return wire.Errf(wire.ER3DSError, "tkn", "challenge changed meanwhile")
	}
	if left := ChallengeTries - tries; left > 0 {
		return &WrongCode{Left: left}
	}
	return s.Complete(ctx, st, tkn, code, true)
}
