// Package payment owns payments and their state machine (AUTH → SALES → CANCEL …): charging a card
// through the acquirer, idempotency on the merchant's order number, durable recording with the
// kickback in the same transaction, and the follow-up jobs. Errors carry wire ER codes, the
// vocabulary every surface maps from.
package payment

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"kessai/internal/acquirer"
	"kessai/internal/clock"
	"kessai/internal/store"
	"kessai/internal/vault"
	"kessai/internal/wire"
)

// Error is a refusal with a wire error code (ER014, ER032, …).
type Error struct {
	Code string
	Msg  string
}

func (e *Error) Error() string { return e.Code + ": " + e.Msg }

// Errf builds an *Error.
func Errf(code, format string, a ...any) *Error {
	return &Error{Code: code, Msg: fmt.Sprintf(format, a...)}
}

// CodeOf extracts the wire code of err: its own code, ER000 for anything unexpected.
func CodeOf(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return "ER000"
}

// Service charges cards and runs follow-up jobs.
type Service struct {
	DB     *store.DB
	Vault  *vault.KeyRing
	Acq    acquirer.Acquirer
	Clock  clock.Clock
	Log    *slog.Logger
	Stores *StoreCache
	// Kicked is nudged after a commit that queued a kickback, so delivery starts at once.
	Kicked chan struct{}
	ids    idGen
	// voidWake nudges the void worker; voidBacklog holds voids the database could not take yet.
	voidWake    chan struct{}
	voidMu      sync.Mutex
	voidBacklog []*store.Void
	unknown     atomic.Int64
	settled     atomic.Int64
}

// New wires a payment service.
func New(db *store.DB, kr *vault.KeyRing, acq acquirer.Acquirer, clk clock.Clock, log *slog.Logger) *Service {
	s := &Service{DB: db, Vault: kr, Acq: acq, Clock: clk, Log: log, Kicked: make(chan struct{}, 1), voidWake: make(chan struct{}, 1)}
	s.Stores = NewStoreCache(db, time.Second)
	s.ids.db = db
	return s
}

// idGen hands out gids and acids from blocks of counter values reserved in the database, so IDs
// never collide across instances sharing it, each shown through the installation's permutation
// (store.IDs), so they do not count the provider's payments (see store/ids.go for the format and why).
type idGen struct {
	db   *store.DB
	mu   sync.Mutex
	next int64 // next number to hand out
	end  int64 // end of the reserved block (exclusive)
}

func (g *idGen) nextID(ctx context.Context) (string, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.next >= g.end {
		first, err := g.db.ReserveIDs(context.WithoutCancel(ctx), store.IDBlock)
		if err != nil {
			return "", err
		}
		g.next, g.end = first, first+store.IDBlock
	}
	n := g.next
	g.next++
	return g.db.IDs().Format(n), nil
}

// NewID returns a fresh identifier from the gid sequence (also used for acid). It fails only when
// the database cannot be reached to reserve a new block (ER000: nothing was done).
func (s *Service) NewID(ctx context.Context) (string, error) {
	id, err := s.ids.nextID(ctx)
	if err != nil {
		return "", unavailable(err)
	}
	return id, nil
}

// CardInput is a card typed by the shopper; validated by the caller's surface, sealed here.
type CardInput struct {
	PAN    string // digits only
	Exp    string // YYMM
	CVV    string // used for this authorisation only, never stored
	Holder string
}

// ChargeRequest is a new payment (CAPTURE, AUTH or CHECK).
type ChargeRequest struct {
	Store           *store.Store
	Job             string
	Cod             string
	Am, Tx, Sf      int64
	Inm, Em, Pn, Md string
	Free            string // encoded free parameters, k=v&k2=v2
	Card            *CardInput
	CardID          int64 // a stored card (token, one-touch, auto-charge)
	Source          string
	Kickback        bool // queue a kickback to the store's result URL
	AcceptedAt      time.Time
	// TDS is the 3-D Secure result of the card (store.TDS…), recorded on the payment.
	TDS string
	// NoCharge registers the card (and, via InTx, a plan) without charging now: auto-charge
	// sign-ups with am=0.
	NoCharge bool
	// InTx runs inside the payment's transaction (e.g. to create the auto-charge plan); it may set
	// p.Acid before the kickback is written.
	InTx func(tx *store.Tx, p *store.Payment) error
	// Recorded, when set, runs inside the transaction that records a successful payment (P.Rst
	// "1"), after its row: state of the caller's that must change with the payment, all or
	// nothing — the hosted order session turned paid. Unlike InTx it keeps no card. It may run
	// more than once if the transaction is tried again, so it must only touch the database
	// through tx. A replayed result (Result.Replayed) did not run it.
	Recorded func(tx *store.Tx, p *store.Payment) error
	// ReturnURL is where a processor's own 3-D Secure authentication sends the shopper back
	// (hosted pages); empty for server-to-server charges, which then cannot be authenticated.
	// A charge the processor wants authenticated first is then not recorded: its Result carries
	// the RedirectURL and the authorisation's Ref, and the charge is made again with Returned.
	ReturnURL string
	// Returned is the processor reference (Result.Ref) of an authorisation the shopper has just
	// authenticated at the processor: the charge reads its outcome rather than authorising again.
	Returned string
}

// keepsCard reports whether a new card (Card) is kept, encrypted, once it is charged: only when
// something can charge it again — one-touch, which finds a customer's newest card by e-mail and
// phone (both needed, as one-touch itself needs both), an auto-charge plan or a card
// registration (InTx, NoCharge). A plain server-to-server or hosted payment without them keeps
// its masked number (first 6, last 4, brand) on the payment and no card at rest (PCI DSS 3.2:
// card data not needed is not stored); it was also a second row, a counter update and a fifth of
// the WAL a payment wrote (issue 18).
func (r *ChargeRequest) keepsCard() bool {
	return r.Em != "" && r.Pn != "" || r.InTx != nil || r.NoCharge
}

// Result is the outcome of a charge.
type Result struct {
	P        *store.Payment
	Replayed bool // an earlier identical request's result, nothing charged now
	// RedirectURL, when set, is the processor's page where the shopper must authenticate before
	// anything is charged (ChargeRequest.ReturnURL); P is not recorded then, and Ref is the
	// authorisation waiting for it.
	RedirectURL, Ref string
}

// cardKey names the card in a charge's idempotency key: a short digest of the vault's keyed lookup
// hash of the number with the expiry — never the number, nor a hash anyone could recompute from a
// number — or, for a card kept at the processor, of the processor's reference (it is charged by
// that, not by number). A card typed in and the same card held in the vault name the same.
func cardKey(lookup []byte, exp, stored string) string {
	h := sha256.New()
	if stored != "" {
		h.Write([]byte("stored\x00" + stored))
	} else {
		h.Write([]byte("card\x00"))
		h.Write(lookup)
		h.Write([]byte("\x00" + exp))
	}
	return "c" + hex.EncodeToString(h.Sum(nil)[:8])
}

// Total is am+tx+sf.
func (r *ChargeRequest) Total() int64 { return r.Am + r.Tx + r.Sf }

func fingerprint(job string, am, tx, sf int64) string {
	return job + ":" + strconv.FormatInt(am, 10) + ":" + strconv.FormatInt(tx, 10) + ":" + strconv.FormatInt(sf, 10)
}

// Charge authorises (and for CAPTURE captures) a card and records the payment durably before it
// returns. A repeat of a successful (store, cod) with the same job and amounts replays the first
// result; with other amounts it is ER054.
func (s *Service) Charge(ctx context.Context, r *ChargeRequest) (*Result, error) {
	st := r.Store
	fp := fingerprint(r.Job, r.Am, r.Tx, r.Sf)
	// No look-up of the order number before charging: the unique key decides, inside the
	// payment's transaction (a repeat is rare, and the read cost every payment ~13% of its CPU).
	// The network call is idempotent by (store, cod, amounts), so a repeat gets the same
	// authorisation, and one with other amounts has its authorisation voided below.
	now := s.Clock.Now()
	gid, err := s.NewID(ctx)
	if err != nil {
		return nil, err
	}
	p := &store.Payment{Gid: gid, AID: st.AID, Cod: r.Cod, Job: r.Job, Am: r.Am, Tx: r.Tx, Sf: r.Sf, Ta: r.Total(),
		Md: r.Md, Em: r.Em, Pn: r.Pn, Inm: r.Inm, Free: r.Free, Source: r.Source, Fingerprint: fp,
		AcceptedAt: r.AcceptedAt, CreatedAt: now, UpdatedAt: now, TDS: r.TDS}
	if p.Md == "" {
		p.Md = "10"
	}
	p.God = "KS" + gid[len(gid)-10:]

	var pan, exp, stored string
	var lookup []byte // the vault's keyed digest of the card number
	var card *store.Card
	switch {
	case r.Card != nil:
		// a card that is not kept is only described (masked parts, lookup digest): its number is
		// never encrypted, since no row will hold it
		describe := s.Vault.Describe
		if r.keepsCard() {
			describe = s.Vault.Seal
		}
		sealed, err := describe(r.Card.PAN)
		if err != nil {
			return nil, Errf("ER055", "card number")
		}
		pan, exp, lookup = r.Card.PAN, r.Card.Exp, sealed.Hash
		card = &store.Card{AID: st.AID, KeyID: sealed.KeyID, Blob: sealed.Blob, First6: sealed.First6, Last4: sealed.Last4,
			Brand: sealed.Brand, Lookup: sealed.Hash, Exp: r.Card.Exp, Holder: r.Card.Holder, Em: r.Em, Pn: r.Pn, CreatedAt: now}
		p.First6, p.Last4, p.Brand = sealed.First6, sealed.Last4, sealed.Brand
	case r.CardID != 0:
		c, err := s.DB.GetCard(ctx, st.AID, r.CardID)
		if err != nil {
			return nil, Errf("ER584", "stored card not found")
		}
		pan, err = s.Vault.Open(vault.Sealed{KeyID: c.KeyID, Blob: c.Blob})
		if err != nil {
			s.Log.Error("vault open failed", "card_id", c.ID, "err", err)
			return nil, Errf("ER000", "card unavailable")
		}
		exp = c.Exp
		if d, ok := vault.NormalizePAN(pan); ok {
			lookup = s.Vault.Lookup(d)
		}
		p.CardID, p.First6, p.Last4, p.Brand = c.ID, c.First6, c.Last4, c.Brand
		if stored, err = s.storedAtProcessor(ctx, st.AID, c.ID); err != nil {
			return nil, unavailable(err)
		}
	default:
		return nil, Errf("ER055", "no card")
	}

	// The network's idempotency key: a retry of the same order with the same card (after a
	// crash, a timeout, ER990) reuses the same authorisation rather than making a second one; the
	// same order paid with another card (the first was declined) is another request. The
	// processor sees this key (Stripe: in the intent's metadata): the card is in it only as a
	// digest of the vault's keyed hash.
	key := st.AID + "/" + gid
	if r.Cod != "" {
		key = st.AID + "/" + r.Cod + "/" + fp
	}
	key += "/" + cardKey(lookup, exp, stored)
	areq := acquirer.Request{Key: key, PAN: pan, Exp: exp, Amount: p.Ta, Method: p.Md, Sale: r.Job != "AUTH"}
	if r.Card != nil {
		areq.CVV = r.Card.CVV
	}
	if err := s.processorRequest(ctx, st.AID, &areq, r, stored); err != nil {
		return nil, err
	}
	var resp acquirer.Response
	authorised := false // an authorisation now holds at the network: voided if the payment is not recorded
	// a zero-amount verification holds no money: nothing to void
	verify := r.NoCharge || r.Job == "CHECK"
	switch {
	case r.Returned != "":
		// back from the processor's own authentication: read the authorisation (or, for a
		// zero-yen sign-up or CHECK, the verification) made before, never make another
		rt, ok := s.Acq.(acquirer.Returner)
		if !ok {
			return nil, Errf("ER900", "this processor does not authenticate on its own page")
		}
		resp, err = rt.Returned(ctx, r.Returned, areq)
		authorised = err == nil && resp.Approved && !verify
		if err == nil && resp.Approved && r.NoCharge {
			p.Status = store.StatusRegistered
		}
	case r.NoCharge && r.Card == nil:
		// a stored card registered again (a token, one-touch): it was checked when it was stored
		resp = acquirer.Response{Approved: true}
		p.Status = store.StatusRegistered
	case r.NoCharge:
		// registering a new card for later charges (am=0 with a plan): the network checks it now,
		// without charging, so a card that cannot be charged is refused at sign-up
		resp, err = s.Acq.Verify(ctx, areq)
		if err == nil && resp.Approved {
			p.Status = store.StatusRegistered
		}
	case r.Job == "CHECK":
		resp, err = s.Acq.Verify(ctx, areq)
	default:
		resp, err = s.Acq.Authorize(ctx, areq)
		authorised = err == nil && resp.Approved
	}
	pan = ""
	switch {
	case err == nil && !resp.Approved && resp.RedirectURL != "" && r.ReturnURL != "" && r.Returned == "":
		// the processor authenticates the shopper on its own page first (a charge, or a zero-yen
		// verification): nothing is charged or recorded yet (the hosted page sends the shopper
		// there and comes back with Returned)
		return &Result{P: p, RedirectURL: resp.RedirectURL, Ref: resp.Ref}, nil
	case errors.Is(err, acquirer.ErrOutcomeUnknown):
		// the processor may have charged: never a failure; the same cod retried gets the true
		// answer (same idempotency key), and a reconciler voids a charge nobody records
		s.queueUnknown(ctx, st.AID, p, areq)
		return nil, Errf(CodeOutcomeUnknown, "the processor's answer was lost: retry with the same cod for the true result")
	case errors.Is(err, acquirer.ErrNetwork):
		p.Rst, p.Ec, p.Status = "2", "ER042", store.StatusDeclined
	case err != nil:
		return nil, Errf("ER042", "acquirer: %v", err)
	case !resp.Approved:
		p.Rst, p.Ec, p.Status = "2", resp.Code, store.StatusDeclined
		if r.Job == "CHECK" && resp.Code == "ER030" {
			p.Ec = "ER031"
		}
	default:
		p.Rst, p.Ap, p.NetRef = "1", resp.ApprovalCode, resp.Ref
		if p.Status == "" {
			switch r.Job {
			case "AUTH":
				p.Status = store.StatusAuthorized
			case "CHECK":
				p.Status = store.StatusChecked
			default:
				p.Status, p.Captured = store.StatusCaptured, p.Ta
			}
		}
	}

	// A charge made under a key whose answer was once lost (ER990) may be the reconciler's to
	// void at this very moment: recording it must win its claim first (see voidOne).
	unknownRef := ""
	if authorised && s.real() && p.Rst == "1" {
		unknownRef = acquirer.KeyRef(areq.Account, areq.Key)
	}
	write := func(tx *store.Tx) error {
		if unknownRef != "" {
			queued, err := tx.UnknownQueued(unknownRef)
			if err != nil {
				return err
			}
			if queued {
				won, err := tx.ClaimUnknown(p.NetRef, store.ClaimRecorded, p.Gid, now)
				if err != nil {
					return err
				}
				if won != store.ClaimRecorded {
					return errBeingVoided
				}
			}
		}
		// A card is kept only when the network took it: a declined number is not stored (less
		// card data at rest), and one-touch, which charges a customer's newest card, can never
		// pick a card that was refused. And only when something can charge it again
		// (keepsCard): a card no feature can ever use is not kept at all.
		if card != nil && p.Rst == "1" && r.keepsCard() {
			id, err := tx.InsertCard(card)
			if err != nil {
				return err
			}
			p.CardID = id
			if resp.Stored != "" {
				if err := tx.SetCardProcessorRef(st.AID, id, resp.Stored); err != nil {
					return err
				}
			}
		}
		// a held card charged after the processor's own authentication is kept there now
		if card == nil && p.Rst == "1" && r.Returned != "" && r.CardID != 0 && resp.Stored != "" {
			if err := tx.SetCardProcessorRef(st.AID, r.CardID, resp.Stored); err != nil {
				return err
			}
		}
		// A token's card learns its customer from the first successful charge that names them,
		// so the customer can pay with it again by one-touch.
		if card == nil && p.Rst == "1" && r.CardID != 0 && r.Em != "" && r.Pn != "" && r.Source != "autocharge" {
			if err := tx.AttachCustomer(st.AID, r.CardID, r.Em, r.Pn); err != nil {
				return err
			}
		}
		if p.Rst == "1" && r.InTx != nil {
			if err := r.InTx(tx, p); err != nil {
				return err
			}
		}
		if err := tx.InsertPayment(p); err != nil {
			if errors.Is(err, store.ErrConflict) {
				// another request (or instance) recorded this order first: answer with its
				// result, read once this transaction is over (on PostgreSQL the failed insert
				// has aborted it until the savepoint is rolled back)
				return errReplay
			}
			return err
		}
		if resp.ProcessorCode != "" {
			if err := tx.SetProcessorCode(p.Gid, resp.ProcessorCode); err != nil {
				return err
			}
		}
		if p.Rst == "1" && r.Recorded != nil {
			if err := r.Recorded(tx, p); err != nil {
				return err
			}
		}
		if r.Kickback && st.ResultURL != "" {
			if err := tx.InsertKickback(&store.Kickback{AID: st.AID, Gid: gid, Acid: p.Acid, Kind: "result", URL: st.ResultURL,
				Query: KickbackQuery(p, st.KickbackEncoding), NextAt: now, CreatedAt: now}); err != nil {
				return err
			}
		}
		return nil
	}
	err = s.DB.Write(ctx, write)
	if errors.Is(err, store.ErrOutcomeUnknown) {
		// The database went away between COMMIT and its answer: the payment may be recorded.
		// Never answer a failure for it: find out first (bounded), by writing it again under the
		// same keys — a conflict on gid means the first commit happened.
		err = s.settle(ctx, write)
		if err == nil || errors.Is(err, errReplay) {
			s.settled.Add(1)
		}
	}
	switch {
	case errors.Is(err, errBeingVoided):
		// the reconciler has taken this charge to void it (its answer was lost, and it was not
		// recorded in time): not recorded, not a failure either; the same cod retried once the
		// void is through charges anew under the next key
		s.Log.Warn("retried charge is being voided by the reconciler: answered ER990", "aid", st.AID, "gid", p.Gid)
		return nil, Errf(CodeOutcomeUnknown, "the processor's answer was lost and the charge is being voided: retry with the same cod")
	case errors.Is(err, errReplay):
		return s.replayed(ctx, st, r.Cod, p, fp, authorised)
	case errors.Is(err, errStillUnknown):
		s.adopt(st, r.Cod, p, fp, authorised, write)
		return nil, Errf(CodeOutcomeUnknown, "the payment's outcome is not known yet (storage unavailable): retry with the same cod for the true result")
	case err != nil:
		// certainly not recorded: the authorisation must not stay open at the network
		lvl := slog.LevelInfo
		if authorised {
			lvl = slog.LevelWarn // money is held at the network until the void below
		}
		s.Log.Log(ctx, lvl, "payment not recorded", "aid", st.AID, "gid", p.Gid, "authorised", authorised, "err", vault.Redact(err.Error()))
		if authorised {
			s.queueVoid(ctx, st.AID, p, "not-recorded")
		}
		return nil, unavailable(err)
	}
	if r.Kickback && st.ResultURL != "" {
		s.Nudge()
	}
	return &Result{P: p}, nil
}

// CodeOutcomeUnknown answers a charge whose outcome Kessai could not establish before answering
// (the database went away mid-commit and did not come back within SettleWait). It is not a
// failure: the payment may be recorded. A retry with the same cod always returns the true outcome.
const CodeOutcomeUnknown = string(wire.EROutcomeUnknown)

// SettleWait bounds how long a charge whose commit outcome was lost waits for the database
// before it answers CodeOutcomeUnknown (answers stay within the 10 s clients wait).
var SettleWait = 8 * time.Second

var errStillUnknown = errors.New("outcome still unknown")

var errBeingVoided = errors.New("the charge is claimed by the reconciler")

// settle writes the payment again until the database answers: nil (recorded now — the first
// commit had not happened), errReplay (a unique key is taken: the first commit happened, or
// another request won), or errStillUnknown after SettleWait. The unique keys on gid and (store,
// cod) serialise the new write with a first commit still in flight, so the answer is certain.
func (s *Service) settle(ctx context.Context, write func(*store.Tx) error) error {
	deadline := time.Now().Add(SettleWait)
	wait := 100 * time.Millisecond
	for time.Now().Before(deadline) {
		time.Sleep(wait)
		wait = min(2*wait, time.Second)
		wctx, cancel := context.WithDeadline(context.WithoutCancel(ctx), deadline)
		err := s.DB.Write(wctx, write)
		cancel()
		if err == nil || errors.Is(err, errReplay) || errors.Is(err, errBeingVoided) {
			return err
		}
	}
	return errStillUnknown
}

// adopt keeps settling a payment answered CodeOutcomeUnknown in the background until the
// database answers, so its authorisation is either recorded (with its kickback) or voided. The
// merchant's retry of the same cod gets the true outcome either way. (In memory: lost if this
// instance stops first; the retry then settles it.)
func (s *Service) adopt(st *store.Store, cod string, p *store.Payment, fp string, authorised bool, write func(*store.Tx) error) {
	s.unknown.Add(1)
	go func() {
		defer s.unknown.Add(-1)
		ctx := context.Background()
		for start, wait := time.Now(), time.Second; time.Since(start) < 24*time.Hour; wait = min(2*wait, time.Minute) {
			time.Sleep(wait)
			err := s.DB.Write(ctx, write)
			switch {
			case err == nil:
				s.Log.Warn("payment answered outcome-unknown is recorded", "aid", st.AID, "gid", p.Gid)
				s.Nudge()
				return
			case errors.Is(err, errReplay):
				s.replayed(ctx, st, cod, p, fp, authorised)
				return
			case errors.Is(err, errBeingVoided):
				s.Log.Warn("payment answered outcome-unknown is the reconciler's to void: not recorded", "aid", st.AID, "gid", p.Gid)
				return
			}
		}
		s.Log.Error("payment answered outcome-unknown could not be settled in 24 h", "aid", st.AID, "gid", p.Gid, "net_ref_set", p.NetRef != "")
	}()
}

// Settled counts payments whose commit answer was lost and whose true outcome was found before
// answering.
func (s *Service) Settled() int64 { return s.settled.Load() }

// Unsettled counts payments answered CodeOutcomeUnknown that this instance is still settling.
func (s *Service) Unsettled() int64 { return s.unknown.Load() }

// replayed answers a charge whose insert met a taken unique key: its own earlier commit (the
// answer of which was lost), or another request's payment of the same cod — whose result it
// answers, voiding its own authorisation unless it is the very same one.
func (s *Service) replayed(ctx context.Context, st *store.Store, cod string, p *store.Payment, fp string, authorised bool) (*Result, error) {
	own, err := s.DB.GetPayment(ctx, st.AID, p.Gid)
	if err == nil {
		return &Result{P: own}, nil
	}
	// The key taken may be our own gid (a first commit whose answer was lost): ours is known not
	// to be recorded only when the look-up found nothing, not when it failed.
	oursMissing := errors.Is(err, store.ErrNotFound)
	if cod == "" {
		// only our own gid can have been taken: recorded, but unreadable just now
		return nil, Errf(CodeOutcomeUnknown, "payment %s is recorded but cannot be read now", p.Gid)
	}
	w, err := s.DB.SuccessfulByCod(ctx, st.AID, cod)
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return nil, unavailable(err)
		}
		// the winner cannot be read now; it is another request (ours is not recorded) or ours
		if authorised {
			if oursMissing {
				s.queueVoid(ctx, st.AID, p, "lost-race")
			} else {
				// never voided before the void worker has read that no payment holds it
				s.queueVoidChecked(ctx, st.AID, p, "lost-race-unread")
			}
		}
		return nil, Errf(CodeOutcomeUnknown, "order %s was recorded by another request whose result cannot be read now: retry with the same cod", cod)
	}
	if authorised && w.NetRef != p.NetRef {
		// our authorisation (another card, other amounts: another reference) is not wanted
		s.queueVoid(ctx, st.AID, p, "lost-race")
	}
	return replay(w, fp)
}

var errReplay = errors.New("replay")

// Nudge wakes the kickback worker.
func (s *Service) Nudge() {
	select {
	case s.Kicked <- struct{}{}:
	default:
	}
}

func replay(p *store.Payment, fp string) (*Result, error) {
	if p.Fingerprint != fp {
		return nil, Errf("ER054", "order number %s was already used with other amounts", p.Cod)
	}
	return &Result{P: p, Replayed: true}, nil
}

func unavailable(err error) error {
	var e *Error
	if errors.As(err, &e) {
		return err
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, store.ErrUnavailable) {
		return &Error{Code: "ER000", Msg: "storage unavailable, nothing was charged or the charge is recorded: retry with the same cod"}
	}
	return &Error{Code: "ER000", Msg: "internal error"}
}

// KickbackQuery builds the result notification's query string: the wire.md parameters in order
// (ASCII), then the payment's free parameters as the merchant sent them, percent-encoded as UTF-8
// or, when the store asks for it (encoding "shift_jis"), as Shift_JIS.
func KickbackQuery(p *store.Payment, encoding string) string {
	var b strings.Builder
	add := func(k, v string) {
		if b.Len() > 0 {
			b.WriteByte('&')
		}
		b.WriteString(k)
		b.WriteByte('=')
		b.WriteString(url.QueryEscape(v))
	}
	add("gid", p.Gid)
	add("rst", p.Rst)
	add("ap", p.Ap)
	add("ec", p.Ec)
	add("god", p.God)
	add("cod", p.Cod)
	add("am", strconv.FormatInt(p.Am, 10))
	add("tx", strconv.FormatInt(p.Tx, 10))
	add("sf", strconv.FormatInt(p.Sf, 10))
	add("ta", strconv.FormatInt(p.Ta, 10))
	if p.Acid != "" {
		add("acid", p.Acid)
	}
	if p.Free != "" {
		// the merchant's own parameters, in the store's kickback encoding (UTF-8 or Shift_JIS)
		// (never a result field's name: a payment recorded before that rule may hold one)
		if free := wire.DropResultFields(p.Free); free != "" {
			b.WriteByte('&')
			b.WriteString(wire.RecodeQuery(free, encoding))
		}
	}
	return b.String()
}

// Sales captures an earlier AUTH, fully (amount 0) or partly.
//
// The claim comes first and returns the payment (one write, no read before it); only a SALES that
// claims nothing reads the payment, to say why.
func (s *Service) Sales(ctx context.Context, st *store.Store, gid string, amount int64, actor string) (*store.Payment, error) {
	now := time.Now()
	p, err := s.DB.ClaimFollowUpPayment(ctx, st.AID, gid, store.StatusAuthorized, now, now.Add(followLease))
	if errors.Is(err, store.ErrNotFound) {
		return nil, s.notClaimed(ctx, st, gid)
	}
	if err != nil {
		return nil, unavailable(err)
	}
	if amount == 0 {
		amount = p.Ta
	}
	if amount < 0 || amount > p.Ta {
		s.release(ctx, p)
		return nil, Errf("ER032", "capture amount %d exceeds the authorised %d", amount, p.Ta)
	}
	if err := s.Acq.Capture(acquirer.WithOpKey(ctx, p.Gid+"/capture"), p.NetRef, amount); err != nil {
		s.release(ctx, p)
		return nil, followErr("capture", err)
	}
	return s.transition(ctx, p, store.StatusAuthorized, store.StatusCaptured, amount, p.Refunded, "SALES", amount, actor, "ER032")
}

// notClaimed says why a SALES claimed nothing: no such payment (ER053), a payment that is not
// authorised, or one another follow-up holds (ER032).
func (s *Service) notClaimed(ctx context.Context, st *store.Store, gid string) error {
	p, err := s.DB.GetPayment(ctx, st.AID, gid)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return Errf("ER053", "no payment %s", gid)
	case err != nil:
		return unavailable(err)
	case p.Status != store.StatusAuthorized:
		return Errf("ER032", "payment %s is %s, not authorised", gid, p.Status)
	}
	return Errf("ER032", "payment %s is being changed by another request, or changed meanwhile", gid)
}

// Cancel voids an AUTH or refunds the rest of a capture.
func (s *Service) Cancel(ctx context.Context, st *store.Store, gid string, actor string) (*store.Payment, error) {
	p, err := s.DB.GetPayment(ctx, st.AID, gid)
	if errors.Is(err, store.ErrNotFound) {
		return nil, Errf("ER053", "no payment %s", gid)
	}
	if err != nil {
		return nil, unavailable(err)
	}
	switch p.Status {
	case store.StatusAuthorized:
		if err := s.claim(ctx, p, p.Status, "ER033"); err != nil {
			return nil, err
		}
		if err := s.Acq.Void(acquirer.WithOpKey(ctx, p.Gid+"/void"), p.NetRef); err != nil {
			s.release(ctx, p)
			return nil, followErr("void", err)
		}
		return s.transition(ctx, p, p.Status, store.StatusVoided, p.Captured, p.Refunded, "CANCEL", p.Ta, actor, "ER033")
	case store.StatusCaptured, store.StatusPartiallyRefunded:
		rest := p.Captured - p.Refunded
		if err := s.claim(ctx, p, p.Status, "ER033"); err != nil {
			return nil, err
		}
		if err := s.Acq.Refund(refundKey(ctx, p), p.NetRef, rest); err != nil {
			s.release(ctx, p)
			return nil, followErr("refund", err)
		}
		return s.transition(ctx, p, p.Status, store.StatusRefunded, p.Captured, p.Captured, "CANCEL", rest, actor, "ER033")
	}
	return nil, Errf("ER033", "payment %s is %s and cannot be cancelled", gid, p.Status)
}

// Refund returns part of a captured amount (the control panel's partial refund).
func (s *Service) Refund(ctx context.Context, st *store.Store, gid string, amount int64, actor string) (*store.Payment, error) {
	p, err := s.DB.GetPayment(ctx, st.AID, gid)
	if errors.Is(err, store.ErrNotFound) {
		return nil, Errf("ER053", "no payment %s", gid)
	}
	if err != nil {
		return nil, unavailable(err)
	}
	if p.Status != store.StatusCaptured && p.Status != store.StatusPartiallyRefunded {
		return nil, Errf("ER033", "payment %s is %s and cannot be refunded", gid, p.Status)
	}
	rest := p.Captured - p.Refunded
	if amount <= 0 || amount > rest {
		return nil, Errf("ER033", "refund amount %d outside 1…%d", amount, rest)
	}
	if err := s.claim(ctx, p, p.Status, "ER033"); err != nil {
		return nil, err
	}
	if err := s.Acq.Refund(refundKey(ctx, p), p.NetRef, amount); err != nil {
		s.release(ctx, p)
		return nil, followErr("refund", err)
	}
	to := store.StatusPartiallyRefunded
	if amount == rest {
		to = store.StatusRefunded
	}
	return s.transition(ctx, p, p.Status, to, p.Captured, p.Refunded+amount, "REFUND", amount, actor, "ER033")
}

func (s *Service) transition(ctx context.Context, p *store.Payment, from, to string, captured, refunded int64, kind string, amount int64, actor, failCode string) (*store.Payment, error) {
	now := s.Clock.Now()
	var ok bool
	err := s.DB.Write(ctx, func(tx *store.Tx) error {
		var err error
		// p was read or claimed before this write: an earlier batch committed it
		ok, err = tx.SetCommittedPaymentState(p.Gid, from, to, captured, refunded, now)
		if err != nil || !ok {
			return err
		}
		return tx.AddCommittedEvent(store.Event{Gid: p.Gid, At: now, Kind: kind, From: from, To: to, Amount: amount, Actor: actor})
	})
	if err != nil {
		return nil, unavailable(err)
	}
	if !ok {
		return nil, Errf(failCode, "payment %s changed meanwhile", p.Gid)
	}
	q := *p
	q.Status, q.Captured, q.Refunded, q.UpdatedAt = to, captured, refunded, now
	return &q, nil
}

// StoreCache keeps recently read stores for a short time: every request needs its store, and a
// settings change reaches the wire within the TTL (and at once on the instance that made it).
type StoreCache struct {
	db  *store.DB
	ttl time.Duration
	m   sync.Map // aid -> *cached
	gen atomic.Int64
}

type cached struct {
	s   *store.Store
	at  time.Time
	gen int64
}

// NewStoreCache returns a cache over db.
func NewStoreCache(db *store.DB, ttl time.Duration) *StoreCache { return &StoreCache{db: db, ttl: ttl} }

// Get returns the store, store.ErrNotFound when unknown.
func (c *StoreCache) Get(ctx context.Context, aid string) (*store.Store, error) {
	if v, ok := c.m.Load(aid); ok {
		e := v.(*cached)
		if e.gen == c.gen.Load() && time.Since(e.at) < c.ttl {
			return e.s, nil
		}
	}
	s, err := c.db.GetStore(ctx, aid)
	if err != nil {
		return nil, err
	}
	c.m.Store(aid, &cached{s: s, at: time.Now(), gen: c.gen.Load()})
	return s, nil
}

// Invalidate drops every cached store (after a settings change).
func (c *StoreCache) Invalidate() { c.gen.Add(1) }
