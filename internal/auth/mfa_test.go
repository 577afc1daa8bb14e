package auth_test

import (
	"bytes"
	"context"
	"encoding/base32"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"

	"kessai/internal/auth"
	"kessai/internal/clock"
	"kessai/internal/store"
	"kessai/internal/testenv"
	"kessai/internal/vault"
)

// These tests run on SQLite, and on PostgreSQL when KESSAI_TEST_PG is set (a fresh database each).

func openStore(t *testing.T) *store.DB {
	t.Helper()
	db, err := store.Open(context.Background(), testenv.StoreConfig(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

const pw = "the-right-password"

type fixture struct {
	db  *store.DB
	clk *clock.Fixed
	a   *auth.Authenticator
	kr  *vault.KeyRing
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	db := openStore(t)
	ctx := context.Background()
	// a whole TOTP step boundary plus 10 s, so "the next step" is 30 s away and never ambiguous
	clk := clock.NewFixed(time.Unix(1_780_000_000/30*30+10, 0).UTC())
	if err := db.CreateStore(ctx, store.NewStore("123456", "x")); err != nil {
		t.Fatal(err)
	}
	h, _ := auth.HashPassword(pw)
	for _, u := range []struct{ login, role string }{{"boss", store.RoleAdmin}, {"clerk", store.RoleViewer}} {
		if err := db.CreateUser(ctx, &store.User{AID: "123456", Login: u.login, PwHash: h, Role: u.role}); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.CreateOperator(ctx, &store.Operator{Login: "ops", PwHash: h}); err != nil {
		t.Fatal(err)
	}
	a := auth.NewAuthenticator(db, clk)
	a.Vault = vault.GenerateKeyRing()
	return &fixture{db: db, clk: clk, a: a, kr: a.Vault}
}

func (f *fixture) login(t *testing.T, kind, login string) (*auth.Account, auth.Outcome) {
	t.Helper()
	aid := "123456"
	if kind == store.SessionOperator {
		aid = ""
	}
	acc, out, err := f.a.Login(context.Background(), kind, aid, login, pw, "192.0.2.1")
	if err != nil {
		t.Fatal(err)
	}
	return acc, out
}

// enrol sets up a second factor for acc and returns its secret (read back from the key text, as a
// person would type it) and the recovery codes.
func (f *fixture) enrol(t *testing.T, acc *auth.Account) ([]byte, []string) {
	t.Helper()
	ctx := context.Background()
	e, err := f.a.BeginEnrolment(ctx, acc)
	if err != nil {
		t.Fatal(err)
	}
	secret, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(strings.ReplaceAll(e.GroupedSecret(), " ", ""))
	if err != nil {
		t.Fatal(err)
	}
	codes, out, err := f.a.ConfirmEnrolment(ctx, acc, auth.TOTPCode(secret, f.clk.Now()), "192.0.2.1")
	if err != nil || out != auth.OK {
		t.Fatalf("confirm: %v %v", out, err)
	}
	return secret, codes
}

func (f *fixture) audits(t *testing.T, action string) []store.AuditEntry {
	t.Helper()
	es, err := f.db.AuditLog(context.Background(), store.AuditFilter{Action: action, Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	var out []store.AuditEntry
	for _, e := range es {
		if e.Action == action {
			out = append(out, e)
		}
	}
	return out
}

// RFC 6238 appendix B test vectors (SHA-1 key "12345678901234567890"), last 6 of the 8 digits.
func TestTOTPRFC6238Vectors(t *testing.T) {
	secret := []byte("12345678901234567890")
	for _, v := range []struct {
		unix int64
		code string
	}{{59, "287082"}, {1111111109, "081804"}, {1111111111, "050471"}, {1234567890, "005924"}, {2000000000, "279037"}, {20000000000, "353130"}} {
		if got := auth.TOTPCode(secret, time.Unix(v.unix, 0)); got != v.code {
			t.Errorf("T=%d: %s, want %s", v.unix, got, v.code)
		}
		if step, ok := auth.MatchTOTP(secret, v.code, time.Unix(v.unix, 0)); !ok || step != v.unix/30 {
			t.Errorf("T=%d: match %d %v", v.unix, step, ok)
		}
	}
}

func TestTOTPValidationWindow(t *testing.T) {
	secret := []byte("0123456789abcdefghij")
	now := time.Unix(1_780_000_000/30*30+10, 0)
	cur := now.Unix() / 30
	for _, c := range []struct {
		at   time.Duration
		ok   bool
		step int64
	}{
		{-90 * time.Second, false, 0}, {-60 * time.Second, false, 0}, {-30 * time.Second, true, cur - 1}, {0, true, cur},
		{30 * time.Second, true, cur + 1}, {60 * time.Second, false, 0}, {90 * time.Second, false, 0},
	} {
		code := auth.TOTPCode(secret, now.Add(c.at))
		step, ok := auth.MatchTOTP(secret, code, now)
		if ok != c.ok || (ok && step != c.step) {
			t.Errorf("code of now%+v: ok=%v step=%d, want ok=%v step=%d", c.at, ok, step, c.ok, c.step)
		}
	}
	// the library's own generator agrees with ours (what an authenticator app computes)
	lib, _ := totp.GenerateCode(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(secret), now)
	if lib != auth.TOTPCode(secret, now) {
		t.Fatalf("pquerna/otp %s, ours %s", lib, auth.TOTPCode(secret, now))
	}
	for _, bad := range []string{"", "12345", "1234567", "abcdef", "000000"} {
		if bad == auth.TOTPCode(secret, now) {
			continue
		}
		if _, ok := auth.MatchTOTP(secret, bad, now); ok {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestMFASignInReplayAndRecovery(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	// optional in the sandbox: a user without a second factor signs in as before
	acc, out := f.login(t, store.SessionMerchant, "boss")
	if out != auth.OK {
		t.Fatalf("without MFA: %v", out)
	}
	t.Run("enrolment keeps its pending secret and needs a right first code", func(t *testing.T) {
		e1, err := f.a.BeginEnrolment(ctx, acc)
		if err != nil {
			t.Fatal(err)
		}
		e2, _ := f.a.BeginEnrolment(ctx, acc)
		if e1.Secret != e2.Secret || len(e1.QRPNG) < 100 || !bytes.HasPrefix(e1.QRPNG, []byte("\x89PNG")) ||
			!strings.HasPrefix(e1.URL, "otpauth://totp/Kessai:123456:boss?") {
			t.Fatalf("enrolment: %q %q %d", e1.Secret, e1.URL, len(e1.QRPNG))
		}
		if _, out, _ := f.a.ConfirmEnrolment(ctx, acc, "000000", ""); out != auth.BadCode {
			t.Fatalf("wrong first code: %v", out)
		}
		if _, out := f.login(t, store.SessionMerchant, "boss"); out != auth.OK {
			t.Fatalf("an unconfirmed secret asks for no code: %v", out)
		}
	})
	secret, codes := f.enrol(t, acc)
	if len(codes) != auth.RecoveryCodeCount {
		t.Fatalf("%d recovery codes", len(codes))
	}
	t.Run("secret sealed, recovery codes hashed", func(t *testing.T) {
		m, err := f.db.GetMFA(ctx, store.SessionMerchant, acc.ID)
		if err != nil {
			t.Fatal(err)
		}
		b32 := base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(secret)
		if bytes.Contains(m.Secret, secret) || bytes.Contains(m.Secret, []byte(b32)) || m.KeyID != f.kr.Active() {
			t.Fatal("secret stored in clear")
		}
		if _, err := f.kr.OpenSecret(auth.SecretPurpose(store.SessionOperator, acc.ID), m.KeyID, m.Secret); err == nil {
			t.Fatal("a sealed secret opens for another account")
		}
		var n int
		if err := f.db.QueryRow(ctx, `SELECT COUNT(*) FROM mfa_recovery WHERE hash = ?`, codes[0]).Scan(&n); err != nil || n != 0 {
			t.Fatalf("recovery code stored in clear: %d %v", n, err)
		}
	})
	if got := f.audits(t, auth.ActMFAEnrolled); len(got) != 1 || got[0].Actor != "user:123456/boss" {
		t.Fatalf("enrolment audit: %+v", got)
	}

	_, out = f.login(t, store.SessionMerchant, "boss")
	if out != auth.NeedCode {
		t.Fatalf("with MFA: %v", out)
	}
	code := auth.TOTPCode(secret, f.clk.Now())
	wrong := "000000"
	if wrong == code {
		wrong = "111111"
	}
	if out, err := f.a.SecondFactor(ctx, acc, wrong, "192.0.2.1"); err != nil || out != auth.BadCode {
		t.Fatalf("wrong code: %v %v", out, err)
	}
	// the enrolment's own code (same step) was already used
	if out, _ := f.a.SecondFactor(ctx, acc, code, "192.0.2.1"); out != auth.CodeReused {
		t.Fatalf("code of the enrolment's step: %v", out)
	}
	f.clk.Advance(30 * time.Second)
	code = auth.TOTPCode(secret, f.clk.Now())
	if out, _ := f.a.SecondFactor(ctx, acc, code, "192.0.2.1"); out != auth.OK {
		t.Fatalf("right code: %v", out)
	}
	if out, _ := f.a.SecondFactor(ctx, acc, code, "192.0.2.1"); out != auth.CodeReused {
		t.Fatalf("replayed code: %v", out)
	}
	f.clk.Advance(30 * time.Second)
	// the previous step's code is still inside the window, but older than the one used: refused
	if out, _ := f.a.SecondFactor(ctx, acc, code, "192.0.2.1"); out != auth.CodeReused {
		t.Fatalf("older step's code: %v", out)
	}
	if out, _ := f.a.SecondFactor(ctx, acc, " "+auth.TOTPCode(secret, f.clk.Now())[:3]+" "+auth.TOTPCode(secret, f.clk.Now())[3:], "192.0.2.1"); out != auth.OK {
		t.Fatalf("code typed with spaces: %v", out)
	}

	t.Run("recovery code works once", func(t *testing.T) {
		typed := strings.ToLower(strings.ReplaceAll(codes[3], "-", ""))
		if out, _ := f.a.SecondFactor(ctx, acc, typed, "192.0.2.1"); out != auth.OK {
			t.Fatalf("recovery code: %v", out)
		}
		if out, _ := f.a.SecondFactor(ctx, acc, codes[3], "192.0.2.1"); out != auth.BadCode {
			t.Fatalf("spent recovery code: %v", out)
		}
		if out, _ := f.a.SecondFactor(ctx, acc, "ABCD-EFGH-JKLM-NPQR", "192.0.2.1"); out != auth.BadCode {
			t.Fatalf("made-up recovery code: %v", out)
		}
		if n, _ := f.db.RecoveryCodesLeft(ctx, store.SessionMerchant, acc.ID); n != auth.RecoveryCodeCount-1 {
			t.Fatalf("%d left", n)
		}
		if got := f.audits(t, auth.ActRecoveryUsed); len(got) != 1 || got[0].Detail != "9 recovery codes left" {
			t.Fatalf("recovery audit: %+v", got)
		}
	})
	t.Run("new recovery codes need a current code and void the old", func(t *testing.T) {
		f.clk.Advance(30 * time.Second)
		if _, out, _ := f.a.RenewRecoveryCodes(ctx, acc, wrong, ""); out != auth.BadCode {
			t.Fatalf("renew with a wrong code: %v", out)
		}
		fresh, out, err := f.a.RenewRecoveryCodes(ctx, acc, auth.TOTPCode(secret, f.clk.Now()), "")
		if err != nil || out != auth.OK || len(fresh) != auth.RecoveryCodeCount {
			t.Fatalf("renew: %v %v", out, err)
		}
		if out, _ := f.a.SecondFactor(ctx, acc, codes[5], "192.0.2.1"); out != auth.BadCode {
			t.Fatalf("old recovery code after renewal: %v", out)
		}
		if out, _ := f.a.SecondFactor(ctx, acc, fresh[0], "192.0.2.1"); out != auth.OK {
			t.Fatalf("new recovery code: %v", out)
		}
	})
	// every step in the audit log
	for action, want := range map[string]string{auth.ActLoginPassword: "one-time code due", auth.ActLogin: "second factor: one-time code"} {
		found := false
		for _, e := range f.audits(t, action) {
			found = found || strings.Contains(e.Detail, want)
		}
		if !found {
			t.Errorf("no %s audit with %q", action, want)
		}
	}
	fails := map[string]bool{}
	for _, e := range f.audits(t, auth.ActLoginFailed) {
		fails[e.Detail] = true
	}
	for _, d := range []string{"wrong one-time code", "one-time code already used", "wrong or spent recovery code"} {
		if !fails[d] {
			t.Errorf("no login.failed %q in %v", d, fails)
		}
	}

	t.Run("reset by an operator", func(t *testing.T) {
		tok, _, err := auth.NewSessions(f.db, f.clk).Start(ctx, store.SessionMerchant, acc.ID, "123456", "ja")
		if err != nil {
			t.Fatal(err)
		}
		had, err := f.a.Reset(ctx, acc, "operator:ops", "lost phone", "198.51.100.1")
		if err != nil || !had {
			t.Fatalf("reset: %v %v", had, err)
		}
		if _, err := auth.NewSessions(f.db, f.clk).Get(ctx, store.SessionMerchant, tok); err != auth.ErrNoSession {
			t.Fatalf("session after reset: %v", err)
		}
		if _, out := f.login(t, store.SessionMerchant, "boss"); out != auth.OK {
			t.Fatalf("after reset: %v", out)
		}
		got := f.audits(t, auth.ActMFAReset)
		if len(got) != 1 || got[0].Actor != "operator:ops" || got[0].AID != "123456" || !strings.Contains(got[0].Detail, "user:123456/boss") ||
			!strings.Contains(got[0].Detail, "lost phone") {
			t.Fatalf("reset audit: %+v", got)
		}
	})
}

// A right password must not clear the failures of wrong codes: otherwise a thief with the
// password could guess codes forever, four at a time.
func TestMFACodeAttemptsLock(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	acc, _ := f.login(t, store.SessionMerchant, "boss")
	secret, _ := f.enrol(t, acc)
	wrong := "000000"
	if wrong == auth.TOTPCode(secret, f.clk.Now()) || wrong == auth.TOTPCode(secret, f.clk.Now().Add(30*time.Second)) {
		wrong = "111111"
	}
	for round := 0; round < 2; round++ {
		if _, out := f.login(t, store.SessionMerchant, "boss"); out != auth.NeedCode {
			t.Fatalf("round %d password: %v", round, out)
		}
		for i := 0; i < 2; i++ {
			if out, _ := f.a.SecondFactor(ctx, acc, wrong, "192.0.2.1"); out != auth.BadCode {
				t.Fatalf("round %d wrong code %d: %v", round, i, out)
			}
		}
	}
	if _, out := f.login(t, store.SessionMerchant, "boss"); out != auth.NeedCode {
		t.Fatalf("password: %v", out)
	}
	if out, _ := f.a.SecondFactor(ctx, acc, wrong, "192.0.2.1"); out != auth.Locked {
		t.Fatalf("5th wrong code: %v", out)
	}
	f.clk.Advance(30 * time.Second)
	if out, _ := f.a.SecondFactor(ctx, acc, auth.TOTPCode(secret, f.clk.Now()), "192.0.2.1"); out != auth.Locked {
		t.Fatalf("right code on a locked account: %v", out)
	}
	if len(f.audits(t, auth.ActAccountLocked)) != 1 {
		t.Fatal("no lock in the audit log")
	}
	t.Run("the address throttle counts wrong codes", func(t *testing.T) {
		f.a.MaxPerIP = len(f.audits(t, auth.ActLoginFailed))
		op, out := f.login(t, store.SessionOperator, "ops") // another account, same address
		if out != auth.Throttled || op != nil {
			t.Fatalf("password from a throttled address: %v", out)
		}
	})
}

func TestMFAPolicyMatrix(t *testing.T) {
	for _, real := range []bool{false, true} {
		for _, flag := range []bool{false, true} {
			for _, storeReq := range []bool{false, true} {
				p := auth.Policy{RealAcquirer: real, RequireMFA: flag}
				strict := real || flag
				if got := p.Required(store.SessionOperator, "", storeReq); got != strict {
					t.Errorf("operator real=%v flag=%v: %v", real, flag, got)
				}
				if got := p.Required(store.SessionMerchant, store.RoleAdmin, storeReq); got != (strict || storeReq) {
					t.Errorf("admin real=%v flag=%v store=%v: %v", real, flag, storeReq, got)
				}
				if got := p.Required(store.SessionMerchant, store.RoleViewer, storeReq); got != storeReq {
					t.Errorf("viewer real=%v flag=%v store=%v: %v", real, flag, storeReq, got)
				}
			}
		}
	}
	// the same decisions through sign-in: NeedEnrol exactly where the policy requires
	f := newFixture(t)
	ctx := context.Background()
	cases := []struct {
		name        string
		policy      auth.Policy
		storeReq    bool
		op, ad, vie auth.Outcome
	}{
		{"sandbox default", auth.Policy{}, false, auth.OK, auth.OK, auth.OK},
		{"real acquirer", auth.Policy{RealAcquirer: true}, false, auth.NeedEnrol, auth.NeedEnrol, auth.OK},
		{"sandbox --require-mfa", auth.Policy{RequireMFA: true}, false, auth.NeedEnrol, auth.NeedEnrol, auth.OK},
		{"store requires it", auth.Policy{}, true, auth.OK, auth.NeedEnrol, auth.NeedEnrol},
		{"real acquirer and store", auth.Policy{RealAcquirer: true}, true, auth.NeedEnrol, auth.NeedEnrol, auth.NeedEnrol},
	}
	for _, c := range cases {
		f.a.Policy = c.policy
		if err := f.db.SetStoreAccess(ctx, &store.StoreAccess{AID: "123456", RequireMFA: c.storeReq}); err != nil {
			t.Fatal(err)
		}
		_, op := f.login(t, store.SessionOperator, "ops")
		_, ad := f.login(t, store.SessionMerchant, "boss")
		_, vie := f.login(t, store.SessionMerchant, "clerk")
		if op != c.op || ad != c.ad || vie != c.vie {
			t.Errorf("%s: operator %v admin %v viewer %v, want %v %v %v", c.name, op, ad, vie, c.op, c.ad, c.vie)
		}
	}
	// once enrolled, a required account is asked for its code, never to enrol again; and it may
	// not remove a second factor the policy requires
	f.a.Policy = auth.Policy{RealAcquirer: true}
	acc, _ := f.login(t, store.SessionOperator, "ops")
	f.enrol(t, acc)
	if _, out := f.login(t, store.SessionOperator, "ops"); out != auth.NeedCode {
		t.Fatalf("enrolled operator: %v", out)
	}
	if _, err := f.a.RemoveOwn(ctx, acc, pw, ""); err != auth.ErrMFARequired {
		t.Fatalf("removing a required factor: %v", err)
	}
	f.a.Policy = auth.Policy{}
	if out, _ := f.a.RemoveOwn(ctx, acc, "not-the-password", ""); out != auth.BadCredentials {
		t.Fatalf("removing with a wrong password: %v", out)
	}
	if out, err := f.a.RemoveOwn(ctx, acc, pw, ""); err != nil || out != auth.OK {
		t.Fatalf("removing an optional factor: %v %v", out, err)
	}
	if _, out := f.login(t, store.SessionOperator, "ops"); out != auth.OK {
		t.Fatalf("after removal: %v", out)
	}
	if len(f.audits(t, auth.ActMFARemoved)) != 1 {
		t.Fatal("removal not audited")
	}
}

func TestAllowList(t *testing.T) {
	list, err := auth.ParseAllowList("203.0.113.0/24\n198.51.100.7, 2001:db8::/32 10.1.2.3/8\n203.0.113.9/24")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(list, " ") != "203.0.113.0/24 198.51.100.7/32 2001:db8::/32 10.0.0.0/8" {
		t.Fatalf("canonical list: %v", list)
	}
	for _, bad := range []string{"203.0.113.0/33", "example.com", "1.2.3", "::ffff:1.2.3.4/120", "fe80::1%eth0"} {
		if _, err := auth.ParseAllowList(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	for _, c := range []struct {
		ip string
		ok bool
	}{
		{"203.0.113.200", true}, {"203.0.114.1", false}, {"198.51.100.7", true}, {"198.51.100.8", false},
		{"::ffff:198.51.100.7", true}, {"2001:db8:1::5", true}, {"2001:db9::1", false}, {"10.200.0.1", true},
	} {
		if got := auth.AllowedFrom(list, netip.MustParseAddr(c.ip)); got != c.ok {
			t.Errorf("%s: %v", c.ip, got)
		}
	}
	if auth.AllowedFrom(list, netip.Addr{}) {
		t.Error("an unknown address passes a list")
	}
	if !auth.AllowedFrom(nil, netip.MustParseAddr("192.0.2.1")) {
		t.Error("an empty list refuses")
	}
	// stored and read back the same on both engines
	db := openStore(t)
	ctx := context.Background()
	if err := db.SetStoreAccess(ctx, &store.StoreAccess{AID: "123456", AllowCIDRs: list, RequireMFA: true}); err != nil {
		t.Fatal(err)
	}
	a, err := db.GetStoreAccess(ctx, "123456")
	if err != nil || !a.RequireMFA || strings.Join(a.AllowCIDRs, " ") != strings.Join(list, " ") {
		t.Fatalf("read back: %+v %v", a, err)
	}
	if a, _ := db.GetStoreAccess(ctx, "999999"); a.RequireMFA || len(a.AllowCIDRs) != 0 {
		t.Fatalf("default rule: %+v", a)
	}
}

// A pending session (password right, code due) lives 15 minutes at most, however it is used.
func TestPendingSessionLifetime(t *testing.T) {
	db := openStore(t)
	ctx := context.Background()
	clk := clock.NewFixed(time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC))
	s := auth.NewSessions(db, clk)
	pend, _, err := s.StartStage(ctx, store.SessionMerchant, 7, "123456", "ja", store.StageCode)
	if err != nil {
		t.Fatal(err)
	}
	full, _, _ := s.Start(ctx, store.SessionMerchant, 7, "123456", "ja")
	for i := 0; i < 2; i++ {
		clk.Advance(7 * time.Minute)
		got, err := s.Get(ctx, store.SessionMerchant, pend)
		if err != nil || got.Stage != store.StageCode {
			t.Fatalf("pending at %d min: %v", (i+1)*7, err)
		}
	}
	clk.Advance(2 * time.Minute)
	if _, err := s.Get(ctx, store.SessionMerchant, pend); err != auth.ErrNoSession {
		t.Fatalf("pending at 16 min: %v", err)
	}
	if got, err := s.Get(ctx, store.SessionMerchant, full); err != nil || got.Stage != "" {
		t.Fatalf("complete session at 16 min: %v", err)
	}
}
