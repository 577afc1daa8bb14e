package auth

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base32"
	"encoding/hex"
	"errors"
	"fmt"
	"image/png"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/hotp"
	"github.com/pquerna/otp/totp"

	"kessai/internal/store"
)

// TOTP parameters (RFC 6238), the ones every authenticator app reads from a QR code: HMAC-SHA1,
// 6 digits, 30-second steps. A code is accepted one step before or after the server's own, for
// phones whose clocks drift.
const (
	TOTPPeriod    = 30
	TOTPSkew      = 1
	TOTPDigits    = 6
	totpSecretLen = 20 // 160 bits, RFC 4226's recommendation
)

// RecoveryCodeCount is how many single-use recovery codes an enrolment gives.
const RecoveryCodeCount = 10

// Audit actions of multi-factor sign-in and the panel allow-list.
const (
	ActLoginPassword   = "login.password"       // password right, second factor (or its enrolment) due
	ActMFAEnrolled     = "mfa.enrol"            // a second factor was set up
	ActMFARemoved      = "mfa.remove"           // the account removed its own second factor
	ActMFAReset        = "mfa.reset"            // an operator (or the CLI) removed an account's second factor
	ActRecoveryUsed    = "mfa.recovery_used"    // a recovery code was spent
	ActRecoveryRenewed = "mfa.recovery_renewed" // a new set of recovery codes replaced the old
	ActAccessRefused   = "access.refused"       // a panel request from outside the store's allow-list
)

// Policy decides who must sign in with a second factor.
type Policy struct {
	// RealAcquirer is true when a real card network is configured (not the sandbox): operators
	// and panel admins can then see and move real card data, and must use a second factor.
	RealAcquirer bool
	// RequireMFA is kessai serve --require-mfa: the same rule in a sandbox.
	RequireMFA bool
}

// Required reports whether an account must have a second factor: operators and panel admins
// whenever a real acquirer is configured or --require-mfa is given; every user of a store that
// requires it (storeRequires), viewers included. Otherwise it is optional.
func (p Policy) Required(kind, role string, storeRequires bool) bool {
	strict := p.RealAcquirer || p.RequireMFA
	if kind == store.SessionOperator {
		return strict
	}
	return (strict && role == store.RoleAdmin) || storeRequires
}

// Required reports whether the policy requires a second factor of an account (reading its
// store's rule for a panel user).
func (a *Authenticator) Required(ctx context.Context, kind, aid, role string) (bool, error) {
	if kind == store.SessionOperator {
		return a.Policy.Required(kind, "", false), nil
	}
	acc, err := a.DB.GetStoreAccess(ctx, aid)
	if err != nil {
		return false, err
	}
	return a.Policy.Required(kind, role, acc.RequireMFA), nil
}

// ErrNoVault means the authenticator has no key ring to seal or open TOTP secrets with.
var ErrNoVault = errors.New("auth: no vault key ring for second factors")

// ErrEnrolled means the account already has a second factor (remove it before setting up another).
var ErrEnrolled = errors.New("auth: a second factor is already set up")

// SecretPurpose binds a sealed TOTP secret to its account (vault additional data).
func SecretPurpose(kind string, principal int64) string {
	return fmt.Sprintf("totp:%s:%d", kind, principal)
}

var b32 = base32.StdEncoding.WithPadding(base32.NoPadding)

// MatchTOTP finds the time step of code among the steps within TOTPSkew of now; ok is false when
// the code matches none. Every candidate is compared in constant time.
func MatchTOTP(secret []byte, code string, now time.Time) (step int64, ok bool) {
	code = strings.TrimSpace(code)
	if len(code) != TOTPDigits {
		return 0, false
	}
	enc := b32.EncodeToString(secret)
	cur := now.Unix() / TOTPPeriod
	for d := int64(-TOTPSkew); d <= TOTPSkew; d++ {
		want, err := hotp.GenerateCodeCustom(enc, uint64(cur+d), hotp.ValidateOpts{Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
		if err != nil {
			return 0, false
		}
		if subtle.ConstantTimeCompare([]byte(want), []byte(code)) == 1 && !ok {
			step, ok = cur+d, true
		}
	}
	return step, ok
}

// TOTPCode is the code of secret at t (for tests and the CLI's self-check).
func TOTPCode(secret []byte, t time.Time) string {
	c, _ := totp.GenerateCodeCustom(b32.EncodeToString(secret), t, totp.ValidateOpts{Period: TOTPPeriod, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	return c
}

// recoveryAlphabet leaves out I, O, 0 and 1, which people misread.
const recoveryAlphabet = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"

// newRecoveryCodes makes RecoveryCodeCount codes of 16 characters (80 random bits), shown as
// XXXX-XXXX-XXXX-XXXX, and their stored hashes.
func newRecoveryCodes() (codes, hashes []string) {
	for range RecoveryCodeCount {
		b := make([]byte, 16)
		if _, err := rand.Read(b); err != nil {
			panic("crypto/rand failed: " + err.Error())
		}
		var sb strings.Builder
		for i, x := range b {
			if i > 0 && i%4 == 0 {
				sb.WriteByte('-')
			}
			sb.WriteByte(recoveryAlphabet[int(x)%len(recoveryAlphabet)]) // 256 is a multiple of 32: no bias
		}
		codes = append(codes, sb.String())
		hashes = append(hashes, HashRecoveryCode(sb.String()))
	}
	return codes, hashes
}

// normRecovery upper-cases a typed recovery code and drops spaces and hyphens; "" when it cannot
// be one.
func normRecovery(code string) string {
	var sb strings.Builder
	for _, c := range strings.ToUpper(code) {
		switch {
		case c == '-' || c == ' ':
		case strings.ContainsRune(recoveryAlphabet, c):
			sb.WriteRune(c)
		default:
			return ""
		}
	}
	if sb.Len() != 16 {
		return ""
	}
	return sb.String()
}

// HashRecoveryCode is the stored form of a recovery code: SHA-256 of its 16 characters. The codes
// carry 80 random bits, so a fast hash is enough (there is no dictionary to guess from).
func HashRecoveryCode(code string) string {
	h := sha256.Sum256([]byte(normRecovery(code)))
	return hex.EncodeToString(h[:])
}

// Enrolment is what the set-up page shows: the key in text, the otpauth:// URL and its QR code.
type Enrolment struct {
	Secret string // base32, as typed into an app by hand
	URL    string
	QRPNG  []byte
}

// GroupedSecret shows the key in groups of four, as apps print it.
func (e *Enrolment) GroupedSecret() string {
	var parts []string
	for s := e.Secret; len(s) > 0; {
		n := min(4, len(s))
		parts = append(parts, s[:n])
		s = s[n:]
	}
	return strings.Join(parts, " ")
}

func (a *Authenticator) accountName(acc *Account) string {
	if acc.Kind == store.SessionOperator {
		return "operator:" + acc.Login
	}
	return acc.AID + ":" + acc.Login
}

// BeginEnrolment returns the secret an account is setting up: the pending one when the page is
// shown again (a QR code already scanned stays valid), else a fresh one, sealed by the vault.
func (a *Authenticator) BeginEnrolment(ctx context.Context, acc *Account) (*Enrolment, error) {
	if a.Vault == nil {
		return nil, ErrNoVault
	}
	var raw []byte
	m, err := a.DB.GetMFA(ctx, acc.Kind, acc.ID)
	switch {
	case err == nil && m.Enabled():
		return nil, ErrEnrolled
	case err == nil:
		raw, _ = a.Vault.OpenSecret(SecretPurpose(acc.Kind, acc.ID), m.KeyID, m.Secret)
	case !errors.Is(err, store.ErrNotFound):
		return nil, err
	}
	if raw == nil {
		raw = make([]byte, totpSecretLen)
		if _, err := rand.Read(raw); err != nil {
			return nil, err
		}
		id, blob := a.Vault.SealSecret(SecretPurpose(acc.Kind, acc.ID), raw)
		if err := a.DB.PutPendingMFA(ctx, &store.MFA{Kind: acc.Kind, Principal: acc.ID, KeyID: id, Secret: blob, CreatedAt: a.Clock.Now()}); err != nil {
			if errors.Is(err, store.ErrConflict) {
				return nil, ErrEnrolled
			}
			return nil, err
		}
	}
	issuer := a.Issuer
	if issuer == "" {
		issuer = "Kessai"
	}
	key, err := totp.Generate(totp.GenerateOpts{Issuer: issuer, AccountName: a.accountName(acc), Period: TOTPPeriod,
		Secret: raw, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	if err != nil {
		return nil, err
	}
	img, err := key.Image(240, 240)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		return nil, err
	}
	return &Enrolment{Secret: key.Secret(), URL: key.URL(), QRPNG: buf.Bytes()}, nil
}

func (a *Authenticator) openSecret(acc *Account, m *store.MFA) ([]byte, error) {
	if a.Vault == nil {
		return nil, ErrNoVault
	}
	return a.Vault.OpenSecret(SecretPurpose(acc.Kind, acc.ID), m.KeyID, m.Secret)
}

func (a *Authenticator) auditAs(ctx context.Context, acc *Account, action, detail, remote string) {
	_ = a.DB.Audit(ctx, store.AuditEntry{At: a.Clock.Now(), Actor: acc.Actor(), AID: acc.AID, Action: action, Detail: detail, Remote: remote})
}

// ConfirmEnrolment checks the first code of a pending secret; on success the second factor is on
// and the recovery codes are returned (to be shown once: only their hashes are kept).
func (a *Authenticator) ConfirmEnrolment(ctx context.Context, acc *Account, code, remote string) ([]string, Outcome, error) {
	m, err := a.DB.GetMFA(ctx, acc.Kind, acc.ID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, BadCode, nil
	}
	if err != nil {
		return nil, BadCode, err
	}
	if m.Enabled() {
		return nil, BadCode, ErrEnrolled
	}
	secret, err := a.openSecret(acc, m)
	if err != nil {
		return nil, BadCode, err
	}
	step, ok := MatchTOTP(secret, code, a.Clock.Now())
	clear(secret)
	if !ok {
		return nil, BadCode, nil
	}
	codes, hashes := newRecoveryCodes()
	if err := a.DB.EnableMFA(ctx, acc.Kind, acc.ID, step, a.Clock.Now(), hashes); err != nil {
		if errors.Is(err, store.ErrConflict) {
			return nil, BadCode, nil
		}
		return nil, BadCode, err
	}
	a.auditAs(ctx, acc, ActMFAEnrolled, fmt.Sprintf("authenticator app (TOTP); %d recovery codes", len(codes)), remote)
	return codes, OK, nil
}

// MFAStatus says whether an account has an enabled second factor, since when, and how many
// recovery codes it has left.
type MFAStatus struct {
	Enabled       bool
	Since         time.Time
	RecoveryLeft  int
	Required      bool
	PendingSecret bool
}

// Status reads an account's second-factor state and whether the policy requires one.
func (a *Authenticator) Status(ctx context.Context, acc *Account) (*MFAStatus, error) {
	st := &MFAStatus{}
	req, err := a.Required(ctx, acc.Kind, acc.AID, acc.Role)
	if err != nil {
		return nil, err
	}
	st.Required = req
	m, err := a.DB.GetMFA(ctx, acc.Kind, acc.ID)
	if errors.Is(err, store.ErrNotFound) {
		return st, nil
	}
	if err != nil {
		return nil, err
	}
	st.Enabled, st.Since, st.PendingSecret = m.Enabled(), m.EnabledAt, !m.Enabled()
	if st.Enabled {
		if st.RecoveryLeft, err = a.DB.RecoveryCodesLeft(ctx, acc.Kind, acc.ID); err != nil {
			return nil, err
		}
	}
	return st, nil
}

// ErrMFARequired refuses to remove a second factor the policy requires.
var ErrMFARequired = errors.New("auth: a second factor is required for this account")

// RemoveOwn removes an account's own second factor, after checking its password; refused with
// ErrMFARequired when the policy requires one. The account's other sessions end.
func (a *Authenticator) RemoveOwn(ctx context.Context, acc *Account, pw, remote string) (Outcome, error) {
	req, err := a.Required(ctx, acc.Kind, acc.AID, acc.Role)
	if err != nil {
		return BadCredentials, err
	}
	if req {
		return BadCredentials, ErrMFARequired
	}
	cur, err := a.lookup(ctx, acc.Kind, acc.AID, acc.Login)
	if err != nil {
		return BadCredentials, err
	}
	if !VerifyPassword(cur.hash, pw) {
		return BadCredentials, nil
	}
	had, err := a.DB.DeleteMFA(ctx, acc.Kind, acc.ID, false)
	if err != nil {
		return BadCredentials, err
	}
	if had {
		a.auditAs(ctx, acc, ActMFARemoved, "removed by the account itself", remote)
	}
	return OK, nil
}

// Reset removes another account's second factor (an operator in the console, or the CLI) and
// signs that account out everywhere; by names who did it in the audit log, with the reason. It reports whether
// there was a second factor.
func (a *Authenticator) Reset(ctx context.Context, target *Account, by, reason, remote string) (bool, error) {
	had, err := a.DB.DeleteMFA(ctx, target.Kind, target.ID, true)
	if err != nil {
		return false, err
	}
	detail := "account=" + target.Actor()
	if reason != "" {
		detail += " reason=" + strconv.Quote(reason)
	}
	if !had {
		detail += " (had no second factor)"
	}
	err = a.DB.Audit(ctx, store.AuditEntry{At: a.Clock.Now(), Actor: by, AID: target.AID, Action: ActMFAReset, Detail: detail, Remote: remote})
	return had, err
}

// RenewRecoveryCodes replaces an account's recovery codes after checking a current one-time code
// (replay-protected like a sign-in); the new codes are returned to be shown once.
func (a *Authenticator) RenewRecoveryCodes(ctx context.Context, acc *Account, code, remote string) ([]string, Outcome, error) {
	m, err := a.DB.GetMFA(ctx, acc.Kind, acc.ID)
	if errors.Is(err, store.ErrNotFound) || (err == nil && !m.Enabled()) {
		return nil, BadCode, nil
	}
	if err != nil {
		return nil, BadCode, err
	}
	secret, err := a.openSecret(acc, m)
	if err != nil {
		return nil, BadCode, err
	}
	step, ok := MatchTOTP(secret, code, a.Clock.Now())
	clear(secret)
	if !ok {
		return nil, BadCode, nil
	}
	if used, err := a.DB.UseMFAStep(ctx, acc.Kind, acc.ID, step); err != nil || !used {
		return nil, CodeReused, err
	}
	codes, hashes := newRecoveryCodes()
	if err := a.DB.ReplaceRecoveryCodes(ctx, acc.Kind, acc.ID, hashes); err != nil {
		return nil, BadCode, err
	}
	a.auditAs(ctx, acc, ActRecoveryRenewed, fmt.Sprintf("%d new recovery codes; the old ones no longer work", len(codes)), remote)
	return codes, OK, nil
}

// SecondFactor checks the one-time code (or a recovery code) of an account whose password was
// right. It shares the password's limits: every wrong code counts toward the account's lock and
// the address's throttle, and a correct code is the only thing that clears the account's count.
// A code of a time step already used (or older) is refused (CodeReused); a recovery code works once.
func (a *Authenticator) SecondFactor(ctx context.Context, acc *Account, code, remote string) (Outcome, error) {
	now := a.Clock.Now()
	audit := func(action, detail string) { a.auditAs(ctx, acc, action, detail, remote) }
	n, err := a.DB.CountAudit(ctx, ActLoginFailed, remote, now.Add(-a.IPWindow))
	if err != nil {
		return BadCode, err
	}
	if n >= a.MaxPerIP {
		audit(ActLoginThrottled, "too many failures from this address")
		return Throttled, nil
	}
	cur, err := a.lookup(ctx, acc.Kind, acc.AID, acc.Login)
	if err != nil {
		return BadCode, err
	}
	if now.Before(cur.lockedUntil) {
		audit(ActLoginFailed, "account locked")
		return Locked, nil
	}
	fail := func(out Outcome, detail string) (Outcome, error) {
		locked, err := a.DB.LoginFailed(ctx, acc.Kind, acc.ID, now, a.MaxFailures, a.LockFor)
		if err != nil {
			return BadCode, err
		}
		audit(ActLoginFailed, detail)
		if locked {
			audit(ActAccountLocked, "locked until "+now.Add(a.LockFor).Format(time.RFC3339))
			return Locked, nil
		}
		return out, nil
	}
	m, err := a.DB.GetMFA(ctx, acc.Kind, acc.ID)
	if errors.Is(err, store.ErrNotFound) || (err == nil && !m.Enabled()) {
		return fail(BadCode, "no second factor set up")
	}
	if err != nil {
		return BadCode, err
	}
	code = strings.Join(strings.Fields(code), "")
	how := ""
	switch {
	case len(code) == TOTPDigits && strings.Trim(code, "0123456789") == "":
		secret, err := a.openSecret(acc, m)
		if err != nil {
			return BadCode, err
		}
		step, ok := MatchTOTP(secret, code, now)
		clear(secret)
		if !ok {
			return fail(BadCode, "wrong one-time code")
		}
		used, err := a.DB.UseMFAStep(ctx, acc.Kind, acc.ID, step)
		if err != nil {
			return BadCode, err
		}
		if !used {
			return fail(CodeReused, "one-time code already used")
		}
		how = "one-time code"
	case normRecovery(code) != "":
		ok, err := a.DB.UseRecoveryCode(ctx, acc.Kind, acc.ID, HashRecoveryCode(code), now)
		if err != nil {
			return BadCode, err
		}
		if !ok {
			return fail(BadCode, "wrong or spent recovery code")
		}
		left, _ := a.DB.RecoveryCodesLeft(ctx, acc.Kind, acc.ID)
		audit(ActRecoveryUsed, fmt.Sprintf("%d recovery codes left", left))
		how = "recovery code"
	default:
		return fail(BadCode, "malformed code")
	}
	if err := a.DB.LoginSucceeded(ctx, acc.Kind, acc.ID); err != nil {
		return BadCode, err
	}
	audit(ActLogin, "second factor: "+how)
	return OK, nil
}

// ParseAllowList reads a panel allow-list typed by a person: addresses or CIDRs separated by
// commas, spaces or line breaks. It returns them in canonical form, or an error naming the first
// entry that is neither.
func ParseAllowList(text string) ([]string, error) {
	var out []string
	seen := map[string]bool{}
	for _, f := range strings.FieldsFunc(text, func(r rune) bool { return r == ',' || r == ' ' || r == '\n' || r == '\r' || r == '\t' || r == '、' }) {
		var p netip.Prefix
		if q, err := netip.ParsePrefix(f); err == nil {
			p = q.Masked()
		} else if a, err := netip.ParseAddr(f); err == nil && a.Zone() == "" {
			a = a.Unmap()
			p = netip.PrefixFrom(a, a.BitLen())
		} else {
			return nil, fmt.Errorf("%q is not an IP address or CIDR", f)
		}
		if p.Addr().Is4In6() {
			return nil, fmt.Errorf("%q: write IPv4 networks as a.b.c.d/n", f)
		}
		if !seen[p.String()] {
			seen[p.String()] = true
			out = append(out, p.String())
		}
	}
	if len(out) > 100 {
		return nil, errors.New("at most 100 entries")
	}
	return out, nil
}

// AllowedFrom reports whether ip may use a panel whose allow-list is list: an empty list allows
// every address; otherwise ip must fall in one of its entries (an invalid ip falls in none).
func AllowedFrom(list []string, ip netip.Addr) bool {
	if len(list) == 0 {
		return true
	}
	ip = ip.Unmap()
	for _, s := range list {
		if p, err := netip.ParsePrefix(s); err == nil && ip.IsValid() && p.Contains(ip) {
			return true
		}
	}
	return false
}
