// Package noncard owns convenience-store (コンビニ決済) and bank-transfer (銀行振込) payments
// (wire.md §8): issuing a slip or a virtual account, and the state machine that follows it —
// pending → paid | expired | cancelled, and for a convenience store paid → cancelled when the
// chain takes a payment back. A state never moves backwards: a late, repeated or out-of-order
// notification changes nothing. Every change is written with its kickback in one transaction
// (the outbox), so a CLI or another instance can make it and a running server delivers it.
package noncard

import (
	"cmp"
	"context"
	"errors"
	"log/slog"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"kessai/internal/acquirer"
	"kessai/internal/clock"
	"kessai/internal/maintenance"
	"kessai/internal/payment"
	"kessai/internal/store"
	"kessai/internal/token"
	"kessai/internal/wire"
)

// JST is the zone deadlines and arrival dates are read in.
var JST = time.FixedZone("JST", 9*3600)

// Approval values (ap) of wire.md §8, and Kessai's own expiry notice values [D].
const (
	ApSlipIssued  = "CPL_PRE" // slip issued, not paid yet
	ApCVSPaid     = "CPL"     // paid at the store
	ApCVSCancel   = "CVS_CAN" // the chain took the payment back
	ApBankIssued  = "BANK"    // virtual account issued
	ApBankArrived = "BAN_SAL" // money arrived
	ApCVSExpired  = "CVS_EXP" // Kessai's expiry notice (opt-in per store)
	ApBankExpired = "BAN_EXP"
)

// Service issues non-card payments and moves them.
type Service struct {
	DB    *store.DB
	Pay   *payment.Service // gids, the store cache, the kickback nudge
	Clock clock.Clock
	// Maint is the maintenance schedule: notices of money that arrives during a window that
	// covers its method are held until the window ends.
	Maint *maintenance.Index
	// Sandbox enables the documented test values that settle by themselves.
	Sandbox bool
	// Net issues the payment numbers and virtual accounts: nil or the sandbox's simulated chains
	// and bank, or a processor's (Stripe's konbini and JP bank transfer), whose webhooks then
	// move the slips (ApplyProcessorEvent).
	Net acquirer.SlipNetwork
	Log *slog.Logger

	retry sync.Map // gid -> time.Time: a processor slip whose deadline close failed, tried again then
}

// net is the slip network in use.
func (s *Service) net() acquirer.SlipNetwork {
	if s.Net == nil {
		return acquirer.Sandbox{}
	}
	return s.Net
}

// Reaches tells whether the slip network reaches convenience-store chain cv (Stripe's konbini
// reaches four of the wire's chains; the sandbox all).
func (s *Service) Reaches(cv string) bool {
	if r, ok := s.net().(acquirer.ChainReacher); ok {
		return r.Reaches(cv)
	}
	return true
}

// Real reports whether slips are issued by a real processor (not the sandbox).
func (s *Service) Real() bool { return s.Net != nil && s.Net.Name() != "sandbox" }

// ProcessorGrace is how long after a processor slip's deadline Kessai waits for the processor's
// own word (its expiry webhook, or a payment made in the last minute) before it asks itself.
var ProcessorGrace = 10 * time.Minute

// RetryClose is how long a processor slip whose close failed waits before the next try.
var RetryClose = time.Minute

// Error is a refusal in wire terms.
func errf(code wire.Code, field, format string, a ...any) error {
	return wire.Errf(code, field, format, a...)
}

// ErrNoChange reports a notification that changed nothing: the slip is already past the state it
// would move from (a duplicate, late or out-of-order notice).
var ErrNoChange = errors.New("noncard: nothing changed")

// ErrFurtherTransfer reports money that arrived for a bank transfer already paid (a second
// transfer to its virtual account, or the rest of a short payment): it is added to what the
// payment received and recorded on its timeline (TransferAgain) for the person who settles it; no
// kickback goes out (the merchant had its BAN_SAL).
var ErrFurtherTransfer = errors.New("noncard: money arrived for a payment already paid: recorded on the payment")

// TransferAgain is the timeline step of a further transfer to an already-paid virtual account.
const TransferAgain = "BAN_SAL_AGAIN"

// ErrDeadline reports money offered for a slip whose deadline has passed: the chain or bank
// refuses it, and the slip is expired.
var ErrDeadline = errors.New("noncard: the payment deadline has passed")

// Deadline is the last instant a slip opened at now stays payable: 23:59:59 JST, days days later.
func Deadline(now time.Time, days int) time.Time {
	d := now.In(JST)
	return time.Date(d.Year(), d.Month(), d.Day()+days, 23, 59, 59, 0, JST)
}

// IssueRequest is a new convenience-store or bank-transfer payment, already checked by its surface
// with Check.
type IssueRequest struct {
	Store       *store.Store
	Settings    *store.StoreMethods
	Method      string // store.MethodCVS or store.MethodBank
	Cod         string
	Am, Tx, Sf  int64
	Inm, Em, Pn string
	Chain       string // cv
	Kana        string // na or nmf
	Postal      string // po
	Free        string // encoded free parameters
	Source      string // gateway | link
	Kickback    bool   // queue the first kickback (rt=0 and hosted pages)
	BaseURL     string // scheme://host the slip link is built on
	AcceptedAt  time.Time
}

// Total is am+tx+sf.
func (r *IssueRequest) Total() int64 { return r.Am + r.Tx + r.Sf }

// Issued is a payment and its slip.
type Issued struct {
	P        *store.Payment
	S        *store.Slip
	Replayed bool // an earlier identical request's slip, nothing issued now
}

// Check applies the non-card rules to an order: the store is contracted for the method (ER165),
// the chain exists and the store takes it (ER160), the chain's limit (ER161), Lawson needs pn
// (ER060), the kana names (ER162 / ER163) and the postal code (ER164). It returns the cleaned
// kana name and postal code.
//
// chainLater skips the chain's checks when no chain is named yet (a hosted page asks the shopper).
func Check(set *store.StoreMethods, method, cv string, total int64, pn, kana, po string, requireKana, chainLater bool) (string, string, error) {
	if !set.Has(method) {
		return "", "", errf(wire.ERNotContracted, "pt", "store %s does not take %s", set.AID, method)
	}
	if method == store.MethodCVS && !(chainLater && cv == "") {
		ch, ok := acquirer.ChainByCode(cv)
		if !ok || !set.ChainEnabled(cv) {
			return "", "", errf(wire.ERChain, "cv", "chain %q unknown or not enabled", cv)
		}
		if total > ch.Limit {
			return "", "", errf(wire.ERChainLimit, "am", "total %d above %s's limit %d", total, ch.NameEn, ch.Limit)
		}
		if ch.NeedsPhone && pn == "" {
			return "", "", errf(wire.ERParamPhone, "pn", "%s needs the phone number", ch.NameEn)
		}
	}
	var err error
	if kana != "" || requireKana {
		code, field := wire.ERParamKana, "na"
		if method == store.MethodBank {
			code, field = wire.ERParamTransfer, "nmf"
		}
		if kana, err = wire.Kana(kana, code, field, 40); err != nil {
			return "", "", err
		}
	}
	if po, err = wire.Postal(po); err != nil {
		return "", "", err
	}
	return kana, po, nil
}

func fingerprint(method string, am, tx, sf int64) string {
	return method + ":" + strconv.FormatInt(am, 10) + ":" + strconv.FormatInt(tx, 10) + ":" + strconv.FormatInt(sf, 10)
}

var errReplay = errors.New("replay")

// Issue opens the slip (convenience store) or the virtual account (bank) of a new payment and
// records both durably. A repeat of (store, cod) with the same method and amounts answers the
// first slip; with others it is ER054.
func (s *Service) Issue(ctx context.Context, r *IssueRequest) (*Issued, error) {
	st := r.Store
	now := s.Clock.Now()
	gid, err := s.Pay.NewID(ctx)
	if err != nil {
		return nil, err
	}
	fp := fingerprint(r.Method, r.Am, r.Tx, r.Sf)
	if s.Real() && r.Cod != "" {
		// a repeat is answered from the database before the processor is asked again (its
		// idempotency keys expire; Kessai's order numbers do not)
		if w, err := s.DB.SuccessfulByCod(ctx, st.AID, r.Cod); err == nil {
			return s.replay(ctx, r, w, fp)
		} else if !errors.Is(err, store.ErrNotFound) {
			return nil, wire.Errf(wire.ERInternal, "", "storage unavailable: nothing was issued, retry with the same cod")
		}
	}
	p := &store.Payment{Gid: gid, AID: st.AID, Cod: r.Cod, Job: "CAPTURE", Status: store.SlipPending, Rst: wire.RstSuccess,
		Am: r.Am, Tx: r.Tx, Sf: r.Sf, Ta: r.Total(), Md: "10", Em: r.Em, Pn: r.Pn, Inm: r.Inm, Free: r.Free, Source: r.Source,
		Fingerprint: fp, AcceptedAt: r.AcceptedAt, CreatedAt: now, UpdatedAt: now}
	p.God = "KS" + gid[len(gid)-10:]
	sl := &store.Slip{Gid: gid, AID: st.AID, Method: r.Method, State: store.SlipPending, Kana: r.Kana, Postal: r.Postal,
		Billed: p.Ta, ViewKey: token.NewString(24), CreatedAt: now, UpdatedAt: now}
	switch r.Method {
	case store.MethodCVS:
		p.Ap = ApSlipIssued
		sl.Chain, sl.Deadline = r.Chain, Deadline(now, r.Settings.CVSDays)
	case store.MethodBank:
		p.Ap = ApBankIssued
		sl.Deadline = Deadline(now, r.Settings.BankDays)
	default:
		return nil, errf(wire.ERNotContracted, "pt", "unknown method %q", r.Method)
	}
	ans, err := s.open(ctx, r, gid, fp, sl.Deadline)
	if err != nil {
		return nil, err
	}
	p.NetRef, sl.PayNo = ans.Ref, ans.PayNo
	if !ans.Deadline.IsZero() {
		sl.Deadline = ans.Deadline
	}
	switch r.Method {
	case store.MethodCVS:
		ch, _ := acquirer.ChainByCode(r.Chain)
		switch {
		case ans.SlipURL != "":
			sl.SlipURL = ans.SlipURL // the processor's voucher
		case !ch.NoSlip:
			sl.SlipURL = strings.TrimRight(r.BaseURL, "/") + SlipPath(gid, sl.ViewKey)
		}
	case store.MethodBank:
		sl.Bank = ans.Bank.String()
	}
	if s.Sandbox {
		if amt, ok := acquirer.AutoSettle(r.Method, r.Pn, p.Ta); ok {
			sl.SettleAt, sl.SettleAmount = now.Add(acquirer.SettleDelay), amt
		}
	}
	err = s.DB.Write(ctx, func(tx *store.Tx) error {
		if err := tx.InsertPayment(p); err != nil {
			if errors.Is(err, store.ErrConflict) {
				return errReplay
			}
			return err
		}
		if err := tx.SetPaymentMethod(gid, r.Method); err != nil {
			return err
		}
		if err := tx.InsertSlip(sl); err != nil {
			return err
		}
		if r.Kickback && st.ResultURL != "" {
			return tx.InsertKickback(&store.Kickback{AID: st.AID, Gid: gid, Kind: "result", URL: st.ResultURL,
				Query: Query(p, sl, p.Ap, st.KickbackEncoding), NextAt: now, CreatedAt: now})
		}
		return nil
	})
	if errors.Is(err, errReplay) {
		w, err := s.DB.SuccessfulByCod(ctx, st.AID, r.Cod)
		if err != nil {
			return nil, wire.Errf(wire.ERInternal, "", "storage unavailable")
		}
		return s.replay(ctx, r, w, fp)
	}
	if err != nil {
		return nil, wire.Errf(wire.ERInternal, "", "storage unavailable: nothing was issued, retry with the same cod")
	}
	if r.Kickback && st.ResultURL != "" {
		s.Pay.Nudge()
	}
	return &Issued{P: p, S: sl}, nil
}

// replay answers a repeat of an order with the slip of its first payment w: ER054 when the method
// or amounts differ, or when that payment is over.
func (s *Service) replay(ctx context.Context, r *IssueRequest, w *store.Payment, fp string) (*Issued, error) {
	if w.Fingerprint != fp {
		return nil, errf(wire.ERParamCod, "cod", "order number %s was already used with another method or amounts", r.Cod)
	}
	ws, err := s.DB.GetSlip(ctx, w.Gid)
	if err != nil {
		return nil, wire.Errf(wire.ERInternal, "", "slip of %s unavailable", w.Gid)
	}
	if ws.State == store.SlipExpired || ws.State == store.SlipCancelled {
		// the order number's payment is over: a new slip needs a new order number
		return nil, errf(wire.ERParamCod, "cod", "order number %s belongs to a payment that is %s", r.Cod, ws.State)
	}
	return &Issued{P: w, S: ws, Replayed: true}, nil
}

// open asks the slip network for the payment number or account of a new payment. Its
// idempotency key is the order's (store, cod, method, amounts), so a retry of the order gets the
// same slip at the processor. A processor's answer that never came is ER990 (nothing reached the
// shopper; the retry of the same cod gets the slip under the same key); its refusal ER042.
func (s *Service) open(ctx context.Context, r *IssueRequest, gid, fp string, deadline time.Time) (acquirer.SlipAnswer, error) {
	req := acquirer.SlipRequest{Key: r.Store.AID + "/" + r.Cod + "/" + fp, Method: r.Method, Gid: gid, Chain: r.Chain,
		Amount: r.Total(), Name: r.Kana, Email: r.Em, Phone: r.Pn, Deadline: deadline, Description: r.Inm}
	if r.Cod == "" {
		req.Key = r.Store.AID + "/gid:" + gid + "/" + fp // no order number: this payment's own
	}
	if s.Real() {
		acct, err := s.Pay.StoreAccount(ctx, r.Store.AID)
		if err != nil {
			return acquirer.SlipAnswer{}, wire.Errf(wire.Code(payment.CodeOf(err)), "", "%v", err)
		}
		req.Account = acct
	}
	ans, err := s.net().OpenSlip(ctx, req)
	switch {
	case err == nil:
		return ans, nil
	case errors.Is(err, acquirer.ErrOutcomeUnknown):
		if s.Log != nil {
			s.Log.Warn("slip outcome unknown at the processor: answered ER990", "aid", r.Store.AID, "method", r.Method, "err", err)
		}
		return ans, wire.Errf(wire.EROutcomeUnknown, "", "the processor's answer was lost: send the same order again")
	case errors.Is(err, acquirer.ErrUnsupported) && r.Method == store.MethodCVS:
		return ans, errf(wire.ERChain, "cv", "chain %s is not offered by %s", r.Chain, s.net().Name())
	case errors.Is(err, acquirer.ErrNeedsEmail):
		return ans, errf(wire.ERParamEmail, "em", "%s needs the shopper's e-mail address for this payment", s.net().Name())
	}
	if s.Log != nil {
		s.Log.Warn("slip refused by the processor", "aid", r.Store.AID, "method", r.Method, "err", err)
	}
	return ans, wire.Errf(wire.ERNetwork, "", "the payment network refused the slip: %v", err)
}

// SlipPath is the shopper's printable result page of a slip: the key makes it unguessable.
func SlipPath(gid, key string) string { return "/link/slip/" + gid + "?k=" + key }

// Query is a non-card kickback's query: the wire.md §3.3 parameters in order, then §8's for the
// notice (cv/no/cu, bank/exp, mf/nk/nkd), then the free parameters; everything after ta is
// re-encoded for a store that wants Shift_JIS.
func Query(p *store.Payment, sl *store.Slip, ap, encoding string) string {
	rst, ec := wire.RstSuccess, ""
	if ap == ApCVSExpired || ap == ApBankExpired {
		rst, ec = wire.RstFailure, string(wire.ERSlipExpired)
	}
	var b strings.Builder
	add := func(k, val string) {
		if b.Len() > 0 {
			b.WriteByte('&')
		}
		b.WriteString(k)
		b.WriteByte('=')
		b.WriteString(url.QueryEscape(val))
	}
	add("gid", p.Gid)
	add("rst", rst)
	add("ap", ap)
	add("ec", ec)
	add("god", p.God)
	add("cod", p.Cod)
	add("am", strconv.FormatInt(p.Am, 10))
	add("tx", strconv.FormatInt(p.Tx, 10))
	add("sf", strconv.FormatInt(p.Sf, 10))
	add("ta", strconv.FormatInt(p.Ta, 10))
	var extra []wire.KV
	switch ap {
	case ApSlipIssued, ApCVSPaid, ApCVSCancel, ApCVSExpired:
		extra = append(extra, wire.KV{K: "cv", V: sl.Chain}, wire.KV{K: "no", V: sl.PayNo}, wire.KV{K: "cu", V: sl.SlipURL})
	case ApBankIssued, ApBankExpired:
		extra = append(extra, wire.KV{K: "bank", V: sl.Bank}, wire.KV{K: "exp", V: sl.Deadline.In(JST).Format("20060102")})
	case ApBankArrived:
		extra = append(extra, wire.KV{K: "mf", V: sl.Mf}, wire.KV{K: "nk", V: strconv.FormatInt(sl.Received, 10)},
			wire.KV{K: "nkd", V: sl.ReceivedDate})
	}
	rest := wire.EncodeFree(extra)
	if p.Free != "" {
		rest += "&" + p.Free
	}
	b.WriteByte('&')
	b.WriteString(wire.RecodeQuery(rest, encoding))
	return b.String()
}

// Kind is what happens to a slip.
type Kind string

// The events of a slip's life.
const (
	Paid        Kind = "CPL"     // paid at the store (convenience store)
	ChainCancel Kind = "CVS_CAN" // the chain took a paid slip back (convenience store)
	Transfer    Kind = "BAN_SAL" // money arrived (bank); Amount says how much
	Expire      Kind = "EXPIRE"  // the deadline passed, or the sandbox expires it now
	Cancel      Kind = "CANCEL"  // the merchant cancels an unpaid slip
)

// Outcome is what Apply did.
type Outcome struct {
	Slip     *store.Slip
	P        *store.Payment
	From, To string
	Notified bool      // a kickback was queued
	NotifyAt time.Time // when it goes out (later than now when held)
}

// transitions: kind → (method or "" for both, from state, to state).
var transitions = map[Kind]struct{ method, from, to string }{
	Paid:        {store.MethodCVS, store.SlipPending, store.SlipPaid},
	ChainCancel: {store.MethodCVS, store.SlipPaid, store.SlipCancelled},
	Transfer:    {store.MethodBank, store.SlipPending, store.SlipPaid},
	Expire:      {"", store.SlipPending, store.SlipExpired},
	Cancel:      {"", store.SlipPending, store.SlipCancelled},
}

// Apply moves the slip of gid by kind, with its kickback in the same transaction. A slip not in
// the state kind moves from is left as it is: ErrNoChange (a duplicate or late notice). Money
// offered after the deadline expires the slip instead: ErrDeadline. aid, when not "", limits
// the slip to that store.
func (s *Service) Apply(ctx context.Context, aid, gid string, kind Kind, amount int64, actor string) (*Outcome, error) {
	if kind == Cancel && s.Real() {
		// the merchant cancels an unpaid slip: closed at the processor first, so that no money
		// arrives to a cancelled payment (and one paid meanwhile is recorded paid instead). The
		// processor knows the cancel as Kessai's (CancelSlip), so its own notice of it, which may
		// be applied before the cancel below is recorded, cancels the slip too: never an expiry.
		if sl, err := s.DB.GetSlip(ctx, gid); err == nil && sl.State == store.SlipPending && (aid == "" || sl.AID == aid) {
			p, err := s.DB.GetPayment(ctx, sl.AID, gid)
			if err != nil {
				return nil, wire.Errf(wire.ERInternal, "", "storage unavailable: %v", err)
			}
			if p.NetRef != "" {
				st, err := s.net().CancelSlip(ctx, p.NetRef)
				if err != nil {
					return nil, wire.Errf(wire.ERNetwork, "", "the processor did not close the slip: %v", err)
				}
				if k, amt, moves := arrived(sl.Method, st); moves {
					return s.apply(ctx, aid, gid, k, amt, s.net().Name()+":cancel", applyOpts{late: true})
				}
				out, err := s.apply(ctx, aid, gid, kind, amount, actor, applyOpts{})
				if errors.Is(err, ErrNoChange) && out != nil && out.Slip.State == store.SlipCancelled {
					// the processor's notice of this very cancel was recorded first: the cancel
					// asked for is done
					out.From, out.To = store.SlipPending, store.SlipCancelled
					return out, nil
				}
				return out, err
			}
		}
	}
	return s.apply(ctx, aid, gid, kind, amount, actor, applyOpts{})
}

// arrived is the transition a processor's slip status calls for: paid (or part of a transfer
// arrived), or none.
func arrived(method string, st acquirer.SlipStatus) (Kind, int64, bool) {
	switch {
	case method == store.MethodCVS && st.Paid:
		return Paid, 0, true
	case method == store.MethodBank && (st.Paid || st.Received > 0):
		return Transfer, st.Received, true
	}
	return "", 0, false
}

// applyOpts are the variations of a transition.
type applyOpts struct {
	// late: money reported by the processor counts even after the deadline (it took it).
	late bool
	// event, when set, is the processor's event ID, recorded in the same transaction: a
	// duplicate delivery applies nothing.
	event, eventKind string
	// cumulative: a Transfer's amount is all that arrived so far (Stripe's amount received),
	// not one transfer's.
	cumulative bool
}

var errDuplicate = errors.New("noncard: duplicate processor event")

func (s *Service) apply(ctx context.Context, aid, gid string, kind Kind, amount int64, actor string, o applyOpts) (*Outcome, error) {
	tr, ok := transitions[kind]
	if !ok {
		return nil, errors.New("noncard: unknown event " + string(kind))
	}
	now := s.Clock.Now()
	sl0, err := s.DB.GetSlip(ctx, gid)
	if errors.Is(err, store.ErrNotFound) || (err == nil && aid != "" && sl0.AID != aid) {
		return nil, errf(wire.ERParamTID, "gid", "no convenience-store or bank payment %s", gid)
	}
	if err != nil {
		return nil, wire.Errf(wire.ERInternal, "", "storage unavailable: %v", err)
	}
	// what the transaction needs besides the slip, read before it: a group-committed
	// transaction touches the database only through its tx
	st, err := s.Pay.Stores.Get(ctx, sl0.AID)
	if err != nil {
		return nil, wire.Errf(wire.ERInternal, "", "store unavailable: %v", err)
	}
	set, err := s.DB.GetStoreMethods(ctx, sl0.AID)
	if err != nil {
		return nil, wire.Errf(wire.ERInternal, "", "store settings unavailable: %v", err)
	}
	noticeAt := s.NoticeAt(set, sl0.Method, now)
	var out *Outcome
	var deadline, further bool
	err = s.DB.Write(ctx, func(tx *store.Tx) error {
		out, deadline, further = nil, false, false
		if o.event != "" {
			fresh, err := tx.RecordProcessorEvent(o.event, o.eventKind, "applied", now)
			if err != nil {
				return err
			}
			if !fresh {
				return errDuplicate
			}
		}
		sl, err := tx.GetSlip(gid)
		if errors.Is(err, store.ErrNotFound) || (err == nil && aid != "" && sl.AID != aid) {
			return errf(wire.ERParamTID, "gid", "no convenience-store or bank payment %s", gid)
		}
		if err != nil {
			return err
		}
		if tr.method != "" && sl.Method != tr.method {
			return errf(wire.ERParamTID, "gid", "payment %s is a %s payment, %s does not apply", gid, sl.Method, kind)
		}
		p, err := tx.GetPayment(sl.AID, sl.Gid)
		if err != nil {
			return err
		}
		from, to := tr.from, tr.to
		if kind == Transfer && sl.State == store.SlipPaid {
			// money for a transfer already paid: kept on the payment, never lost
			extra := amount
			if o.cumulative {
				extra = amount - sl.Received
			}
			out = &Outcome{Slip: sl, P: p, From: sl.State, To: sl.State}
			if extra <= 0 {
				return ErrNoChange // an earlier report of money already counted
			}
			sl.Received += extra
			moved, err := tx.MoveSlip(sl, store.SlipPaid, sl.Received, now)
			if err != nil || !moved {
				return cmp.Or(err, ErrNoChange)
			}
			p.Captured, further = sl.Received, true
			return tx.AddEvent(store.Event{Gid: sl.Gid, At: now, Kind: TransferAgain, From: store.SlipPaid, To: store.SlipPaid, Amount: extra, Actor: actor})
		}
		if sl.State != from {
			out = &Outcome{Slip: sl, P: p, From: sl.State, To: sl.State}
			return ErrNoChange
		}
		if (kind == Paid || kind == Transfer) && now.After(sl.Deadline) && !o.late {
			kind, to, deadline = Expire, store.SlipExpired, true
		}
		captured := p.Captured
		ap := ""
		switch kind {
		case Paid:
			captured, ap = p.Ta, ApCVSPaid
		case ChainCancel:
			captured, ap = 0, ApCVSCancel
		case Transfer:
			sl.Received, sl.ReceivedDate = amount, now.In(JST).Format("20060102")
			switch {
			case amount == sl.Billed:
				sl.Mf = "1"
			case amount < sl.Billed:
				sl.Mf = "2"
			default:
				sl.Mf = "3"
			}
			captured, ap = amount, ApBankArrived
		case Expire:
			captured = 0
		case Cancel:
			captured = 0
		}
		sl.State = to
		moved, err := tx.MoveSlip(sl, from, captured, now)
		if err != nil {
			return err
		}
		if !moved {
			return ErrNoChange
		}
		ev := store.Event{Gid: sl.Gid, At: now, Kind: string(kind), From: from, To: to, Amount: amount, Actor: actor}
		if kind != Transfer {
			ev.Amount = p.Ta
		}
		if err := tx.AddEvent(ev); err != nil {
			return err
		}
		p.Status, p.Captured = to, captured
		out = &Outcome{Slip: sl, P: p, From: from, To: to}
		if kind == Expire {
			if !set.ExpiryNotice {
				return nil
			}
			ap = ApCVSExpired
			if sl.Method == store.MethodBank {
				ap = ApBankExpired
			}
		}
		if ap == "" || st.ResultURL == "" {
			return nil
		}
		at := now
		if kind == Paid || kind == Transfer || kind == ChainCancel {
			at = noticeAt
		}
		out.Notified, out.NotifyAt = true, at
		return tx.InsertKickback(&store.Kickback{AID: sl.AID, Gid: sl.Gid, Kind: "result", URL: st.ResultURL,
			Query: Query(p, sl, ap, st.KickbackEncoding), NextAt: at, CreatedAt: now})
	})
	if errors.Is(err, ErrNoChange) || errors.Is(err, errDuplicate) {
		return out, err
	}
	if err != nil {
		var we *wire.Error
		if errors.As(err, &we) {
			return nil, err
		}
		return nil, wire.Errf(wire.ERInternal, "", "storage unavailable: %v", err)
	}
	if further {
		return out, ErrFurtherTransfer
	}
	if out.Notified && s.Pay != nil {
		s.Pay.Nudge()
	}
	if deadline {
		return out, ErrDeadline
	}
	return out, nil
}

// NoticeAt is when the notice of money that arrived at now goes out: at once; after the end of a
// maintenance window that covers the method's notices; and for a bank transfer on a Japanese
// public holiday (when the store holds them, the default), at 09:00 JST of the next business day
// — the provider reconciles only on business days.
func (s *Service) NoticeAt(set *store.StoreMethods, method string, now time.Time) time.Time {
	at := now
	hold := method == store.MethodBank && set.HolidayHold
	for i := 0; i < 8; i++ {
		moved := false
		if s.Maint != nil {
			if w := s.Maint.Refused(at, maintenance.OpKickback, method, ""); w != nil && w.End.After(at) {
				at, moved = w.End, true
			}
		}
		if hold {
			if _, isHol := maintenance.JapaneseHoliday(at.In(JST)); isHol {
				at, moved = NextBusinessMorning(at), true
			}
		}
		if !moved {
			break
		}
	}
	return at
}

// NextBusinessMorning is 09:00 JST of the first business day (not a weekend or a Japanese public
// holiday) after t's date.
func NextBusinessMorning(t time.Time) time.Time {
	d := t.In(JST)
	day := time.Date(d.Year(), d.Month(), d.Day()+1, 9, 0, 0, 0, JST)
	for !maintenance.IsBusinessDay(day) {
		day = day.AddDate(0, 0, 1)
	}
	return day
}

// RunDue expires slips whose deadline passed and settles the sandbox's test values when due, until
// ctx ends; every runs between passes. Each step is a compare-and-set, so several instances may
// run it at once.
func (s *Service) RunDue(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		s.DuePass(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// DuePass runs one pass of RunDue and reports how many slips it moved.
func (s *Service) DuePass(ctx context.Context) int {
	n := 0
	for {
		now := s.Clock.Now()
		cut := now
		if s.Real() {
			cut = now.Add(-ProcessorGrace) // the processor's own expiry comes first
		}
		due, err := s.DB.DueSlips(ctx, cut, 200)
		if err != nil {
			if ctx.Err() == nil && s.Log != nil {
				s.Log.Warn("slip deadline pass failed", "err", err)
			}
			return n
		}
		moved := 0
		for _, sl := range due {
			if s.Real() {
				if done, ok := s.closeAtProcessor(ctx, sl, now); ok {
					if done {
						moved++
					}
					continue
				}
			}
			kind, amount := Expire, int64(0)
			if !sl.SettleAt.IsZero() && !sl.SettleAt.After(now) && !now.After(sl.Deadline) {
				kind, amount = Paid, sl.SettleAmount
				if sl.Method == store.MethodBank {
					kind = Transfer
				}
			}
			if _, err := s.Apply(ctx, "", sl.Gid, kind, amount, "sandbox"); err == nil || errors.Is(err, ErrDeadline) {
				moved++
			}
		}
		n += moved
		if len(due) < 200 || moved == 0 {
			return n
		}
	}
}

// closeAtProcessor settles a processor slip whose deadline (and ProcessorGrace) passed without
// the processor's word: what arrived there is recorded (paid, or a short transfer), else the slip
// is closed there and expired here. ok is false for a slip the processor never issued (Kessai
// expires it itself); done reports a slip moved.
func (s *Service) closeAtProcessor(ctx context.Context, sl *store.Slip, now time.Time) (done, ok bool) {
	if at, wait := s.retry.Load(sl.Gid); wait && now.Before(at.(time.Time)) {
		return false, true
	}
	p, err := s.DB.GetPayment(ctx, sl.AID, sl.Gid)
	if err != nil || p.NetRef == "" {
		return false, err != nil
	}
	st, err := s.net().CloseSlip(ctx, p.NetRef)
	if err != nil {
		s.retry.Store(sl.Gid, now.Add(RetryClose))
		if s.Log != nil {
			s.Log.Warn("slip past its deadline not closed at the processor: trying again", "gid", sl.Gid, "err", err)
		}
		return false, true
	}
	s.retry.Delete(sl.Gid)
	kind, amount, moves := arrived(sl.Method, st)
	if !moves {
		kind, amount = Expire, 0
	}
	_, err = s.apply(ctx, "", sl.Gid, kind, amount, s.net().Name()+":deadline", applyOpts{late: true})
	return err == nil, true
}

// ApplyProcessorEvent applies a processor's webhook about a convenience-store or bank-transfer
// payment (ev.Method set) once, through the same transitions as every other notice: paid → CPL,
// money arrived (in full or in part) → BAN_SAL with mf/nk/nkd, expired or cancelled there → the
// expiry (and its opt-in notice), except Kessai's own cancel at the merchant's request there →
// cancelled (no notice, as the merchant's cancel). The event's ID is recorded in the transition's transaction, so
// a duplicate delivery changes nothing, and a slip never moves backwards: an event arriving after
// a later one is recorded and changes nothing. It reports what it did: applied, not-forward,
// duplicate, no-payment or ignored.
func (s *Service) ApplyProcessorEvent(ctx context.Context, ev acquirer.Event) (string, error) {
	var p *store.Payment
	if ev.Ref != "" {
		var err error
		if p, err = s.DB.PaymentByNetRef(ctx, ev.Ref); err != nil && !errors.Is(err, store.ErrNotFound) {
			return "", err
		}
	}
	var kind Kind
	var amount int64
	switch ev.State {
	case acquirer.SlipPaid:
		kind = Paid
		if ev.Method == store.MethodBank {
			kind, amount = Transfer, ev.Received
		}
	case acquirer.SlipPartlyFunded:
		kind, amount = Transfer, ev.Received
	case acquirer.SlipExpired:
		kind = Expire
	case acquirer.SlipCancelled:
		// Kessai's own cancel at the merchant's request (acquirer.SlipNetwork.CancelSlip), its
		// notice perhaps applied before the cancel is recorded: the slip ends cancelled either way
		kind = Cancel
	}
	if p == nil || kind == "" {
		outcome := "ignored"
		if p == nil && ev.State != "" {
			outcome = "no-payment"
		}
		return s.recordEvent(ctx, ev, outcome)
	}
	_, err := s.apply(ctx, "", p.Gid, kind, amount, s.net().Name()+":"+ev.Kind, applyOpts{late: true, event: ev.ID, eventKind: ev.Kind, cumulative: true})
	var we *wire.Error
	switch {
	case err == nil:
		return "applied", nil
	case errors.Is(err, ErrFurtherTransfer):
		return "recorded", nil
	case errors.Is(err, errDuplicate):
		return "duplicate", nil
	case errors.Is(err, ErrNoChange):
		return s.recordEvent(ctx, ev, "not-forward")
	case errors.As(err, &we) && we.Code == wire.ERParamTID:
		return s.recordEvent(ctx, ev, "ignored") // not a slip, or another method's event
	}
	return "", err
}

// recordEvent records an event that moved nothing, so a repeat is known as a duplicate.
func (s *Service) recordEvent(ctx context.Context, ev acquirer.Event, outcome string) (string, error) {
	err := s.DB.Write(ctx, func(tx *store.Tx) error {
		fresh, err := tx.RecordProcessorEvent(ev.ID, ev.Kind, outcome, s.Clock.Now())
		if err != nil {
			return err
		}
		if !fresh {
			return errDuplicate
		}
		return nil
	})
	if errors.Is(err, errDuplicate) {
		return "duplicate", nil
	}
	return outcome, err
}
