package auth

import (
	"context"
	"errors"
	"time"

	"kessai/internal/clock"
	"kessai/internal/store"
	"kessai/internal/vault"
)

// Outcome is the result of a login attempt.
type Outcome int

// Login outcomes. Bad credentials never say whether the account exists.
const (
	OK Outcome = iota
	BadCredentials
	Locked     // the account is locked after too many failures
	Throttled  // the address made too many failed attempts
	NeedCode   // the password is right; the one-time code is due
	NeedEnrol  // the password is right; the account must set up a second factor first
	BadCode    // a wrong one-time or recovery code
	CodeReused // a one-time code of a time step already used
)

// Throttling defaults: 5 wrong passwords lock an account for 15 minutes; 20 failures from one
// address within 15 minutes stop that address for the rest of the window.
const (
	DefaultMaxFailures = 5
	DefaultLockFor     = 15 * time.Minute
	DefaultMaxPerIP    = 20
	DefaultIPWindow    = 15 * time.Minute
)

// Account is a signed-in principal: a merchant user (AID, Role set) or an operator.
type Account struct {
	Kind  string
	ID    int64
	AID   string
	Login string
	Role  string
}

// Actor names the account in the audit log.
func (a *Account) Actor() string { return ActorOf(a.Kind, a.AID, a.Login) }

// ActorOf names an account in the audit log: "user:AID/login" or "operator:login".
func ActorOf(kind, aid, login string) string {
	if kind == store.SessionOperator {
		return "operator:" + login
	}
	return "user:" + aid + "/" + login
}

// CanAct reports whether the account may change anything (operators and merchant admins).
func (a *Account) CanAct() bool { return a.Kind == store.SessionOperator || a.Role == store.RoleAdmin }

// Authenticator checks passwords with throttling and writes every attempt to the audit log.
type Authenticator struct {
	DB          *store.DB
	Clock       clock.Clock
	MaxFailures int
	LockFor     time.Duration
	MaxPerIP    int
	IPWindow    time.Duration
	// Vault seals and opens TOTP secrets (the card-data key ring); without it nobody can set up
	// or use a second factor.
	Vault *vault.KeyRing
	// Policy says who must use a second factor.
	Policy Policy
	// Issuer names the service in authenticator apps ("Kessai").
	Issuer string
}

// NewAuthenticator returns an authenticator with the default limits.
func NewAuthenticator(db *store.DB, clk clock.Clock) *Authenticator {
	return &Authenticator{DB: db, Clock: clk, MaxFailures: DefaultMaxFailures, LockFor: DefaultLockFor,
		MaxPerIP: DefaultMaxPerIP, IPWindow: DefaultIPWindow, Issuer: "Kessai"}
}

// Audit actions written by the authenticator.
const (
	ActLogin          = "login"
	ActLoginFailed    = "login.failed"
	ActAccountLocked  = "account.locked"
	ActLoginThrottled = "login.throttled"
	ActLogout         = "logout"
)

type account struct {
	id          int64
	aid, role   string
	hash        string
	lockedUntil time.Time
}

func (a *Authenticator) lookup(ctx context.Context, kind, aid, login string) (*account, error) {
	if kind == store.SessionOperator {
		o, err := a.DB.OperatorByLogin(ctx, login)
		if err != nil {
			return nil, err
		}
		return &account{id: o.ID, hash: o.PwHash, lockedUntil: o.LockedUntil}, nil
	}
	u, err := a.DB.UserByLogin(ctx, aid, login)
	if err != nil {
		return nil, err
	}
	return &account{id: u.ID, aid: u.AID, role: u.Role, hash: u.PwHash, lockedUntil: u.LockedUntil}, nil
}

// Login checks a password for kind's account (aid is ignored for operators) from remote. With the
// right password the outcome is OK, or NeedCode when the account has a second factor (the
// account's failure count is cleared only by the code, so alternating a right password with
// wrong codes still locks it), or NeedEnrol when the policy requires a second factor the account
// has not set up.
func (a *Authenticator) Login(ctx context.Context, kind, aid, login, pw, remote string) (*Account, Outcome, error) {
	now := a.Clock.Now()
	actor := ActorOf(kind, aid, login)
	audit := func(action, detail string) {
		_ = a.DB.Audit(ctx, store.AuditEntry{At: now, Actor: actor, AID: aid, Action: action, Detail: detail, Remote: remote})
	}
	n, err := a.DB.CountAudit(ctx, ActLoginFailed, remote, now.Add(-a.IPWindow))
	if err != nil {
		return nil, BadCredentials, err
	}
	if n >= a.MaxPerIP {
		audit(ActLoginThrottled, "too many failures from this address")
		return nil, Throttled, nil
	}
	acc, err := a.lookup(ctx, kind, aid, login)
	if errors.Is(err, store.ErrNotFound) {
		Burn(pw)
		audit(ActLoginFailed, "unknown account")
		return nil, BadCredentials, nil
	}
	if err != nil {
		return nil, BadCredentials, err
	}
	if now.Before(acc.lockedUntil) {
		Burn(pw)
		audit(ActLoginFailed, "account locked")
		return nil, Locked, nil
	}
	if !VerifyPassword(acc.hash, pw) {
		locked, err := a.DB.LoginFailed(ctx, kind, acc.id, now, a.MaxFailures, a.LockFor)
		if err != nil {
			return nil, BadCredentials, err
		}
		audit(ActLoginFailed, "wrong password")
		if locked {
			audit(ActAccountLocked, "locked until "+now.Add(a.LockFor).Format(time.RFC3339))
			return nil, Locked, nil
		}
		return nil, BadCredentials, nil
	}
	who := &Account{Kind: kind, ID: acc.id, AID: acc.aid, Login: login, Role: acc.role}
	m, err := a.DB.GetMFA(ctx, kind, acc.id)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return nil, BadCredentials, err
	}
	if err == nil && m.Enabled() {
		audit(ActLoginPassword, "password accepted; one-time code due")
		return who, NeedCode, nil
	}
	required, err := a.Required(ctx, kind, acc.aid, acc.role)
	if err != nil {
		return nil, BadCredentials, err
	}
	if err := a.DB.LoginSucceeded(ctx, kind, acc.id); err != nil {
		return nil, BadCredentials, err
	}
	if required {
		audit(ActLoginPassword, "password accepted; a second factor must be set up first")
		return who, NeedEnrol, nil
	}
	audit(ActLogin, "")
	return who, OK, nil
}

// Load returns the account a session belongs to (it may have been deleted or demoted since).
func (a *Authenticator) Load(ctx context.Context, s *store.Session) (*Account, error) {
	if s.Kind == store.SessionOperator {
		o, err := a.DB.OperatorByID(ctx, s.Principal)
		if err != nil {
			return nil, err
		}
		return &Account{Kind: s.Kind, ID: o.ID, Login: o.Login}, nil
	}
	u, err := a.DB.UserByID(ctx, s.AID, s.Principal)
	if err != nil {
		return nil, err
	}
	return &Account{Kind: s.Kind, ID: u.ID, AID: u.AID, Login: u.Login, Role: u.Role}, nil
}
