package token_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"kessai/internal/acquirer"
	"kessai/internal/clock"
	"kessai/internal/payment"
	"kessai/internal/store"
	"kessai/internal/testenv"
	"kessai/internal/token"
	"kessai/internal/vault"
	"kessai/internal/wire"
)

type env struct {
	svc   *token.Service
	clk   *clock.Fixed
	st    *store.Store
	other *store.Store
	db    *store.DB
}

func newEnv(tb testing.TB) *env {
	tb.Helper()
	ctx := context.Background()
	db, err := store.Open(ctx, testenv.StoreConfig(tb)) // SQLite, or PostgreSQL with KESSAI_TEST_PG
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	st := store.NewStore("123456", "テスト商店")
	other := store.NewStore("654321", "Other")
	for _, s := range []*store.Store{st, other} {
		if err := db.CreateStore(ctx, s); err != nil {
			tb.Fatal(err)
		}
	}
	clk := clock.NewFixed(time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC))
	return &env{svc: token.New(db, vault.GenerateKeyRing(), acquirer.Sandbox{}, clk, nil), clk: clk, st: st, other: other, db: db}
}

func card(pan string) *payment.CardInput {
	return &payment.CardInput{PAN: pan, Exp: "3012", CVV: "123", Holder: "TARO YAMADA"}
}

func (e *env) create(tb testing.TB, pan string) string {
	tb.Helper()
	c, err := e.svc.Create(context.Background(), e.st, card(pan), "10")
	if err != nil {
		tb.Fatal(err)
	}
	return c.Token
}

func wantCode(tb testing.TB, err error, code wire.Code) {
	tb.Helper()
	if got := wire.CodeOf(err); got != code {
		tb.Fatalf("got %v (%q), want %s", err, got, code)
	}
}

func TestCreateShape(t *testing.T) {
	e := newEnv(t)
	c, err := e.svc.Create(context.Background(), e.st, card("4111111111111111"), "")
	if err != nil {
		t.Fatal(err)
	}
	if !token.ValidString(c.Token) || c.Masked != "411111******1111" || c.Brand != "VISA" {
		t.Fatalf("created %+v", c)
	}
	if !c.ExpiresAt.Equal(e.clk.Now().Add(token.TTL)) {
		t.Fatalf("expires %v", c.ExpiresAt)
	}
	seen := map[string]bool{}
	for i := 0; i < 200; i++ {
		s := token.NewString(token.Len)
		if !token.ValidString(s) || seen[s] {
			t.Fatalf("bad or repeated token %q", s)
		}
		seen[s] = true
	}
}

func TestCreateRefusesWrongSecurityCode(t *testing.T) {
	e := newEnv(t)
	_, err := e.svc.Create(context.Background(), e.st, card("4000000000000127"), "10")
	wantCode(t, err, wire.ERParamCVV)
}

func TestUseOnceThenInvalid(t *testing.T) {
	e := newEnv(t)
	tkn := e.create(t, "4111111111111111")
	id, err := e.svc.Use(context.Background(), e.st, tkn, 1000, 100, 0)
	if err != nil || id == 0 {
		t.Fatalf("first use: %d %v", id, err)
	}
	_, err = e.svc.Use(context.Background(), e.st, tkn, 1000, 100, 0)
	wantCode(t, err, wire.ERTokenInvalid)
}

func TestUseRefusals(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	wantCode(t, func() error { _, err := e.svc.Use(ctx, e.st, "", 1, 0, 0); return err }(), wire.ERTokenMissing)
	wantCode(t, func() error { _, err := e.svc.Use(ctx, e.st, "short", 1, 0, 0); return err }(), wire.ERTokenInvalid)
	wantCode(t, func() error { _, err := e.svc.Use(ctx, e.st, token.NewString(32), 1, 0, 0); return err }(), wire.ERTokenInvalid)
	tkn := e.create(t, "4111111111111111")
	wantCode(t, func() error { _, err := e.svc.Use(ctx, e.other, tkn, 1, 0, 0); return err }(), wire.ERTokenInvalid)
	e.clk.Advance(token.TTL)
	wantCode(t, func() error { _, err := e.svc.Use(ctx, e.st, tkn, 1, 0, 0); return err }(), wire.ERTokenExpired)
}

func TestUseIsSingleUnderConcurrency(t *testing.T) {
	e := newEnv(t)
	tkn := e.create(t, "4111111111111111")
	var wg sync.WaitGroup
	var mu sync.Mutex
	wins, invalid := 0, 0
	for i := 0; i < 16; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := e.svc.Use(context.Background(), e.st, tkn, 500, 0, 0)
			mu.Lock()
			defer mu.Unlock()
			switch wire.CodeOf(err) {
			case "":
				wins++
			case wire.ERTokenInvalid:
				invalid++
			default:
				t.Errorf("unexpected %v", err)
			}
		}()
	}
	wg.Wait()
	if wins != 1 || invalid != 15 {
		t.Fatalf("wins %d invalid %d, want 1 and 15", wins, invalid)
	}
}

func TestThreeDSFrictionlessBindsAmounts(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	tkn := e.create(t, "4111111111111111")
	out, ch, err := e.svc.Authenticate(ctx, e.st, tkn, 1000, 100, 0)
	if err != nil || out != token.Frictionless || ch != nil {
		t.Fatalf("authenticate: %q %+v %v", out, ch, err)
	}
	_, err = e.svc.Use(ctx, e.st, tkn, 2000, 100, 0)
	wantCode(t, err, wire.ERTokenInvalid)
	if _, err := e.svc.Use(ctx, e.st, tkn, 1000, 100, 0); err != nil {
		t.Fatal(err)
	}
}

func TestThreeDSCardChangeSkipsAmountCheck(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	tkn := e.create(t, "4111111111111111")
	if _, _, err := e.svc.Authenticate(ctx, e.st, tkn, 1000, 0, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Use(ctx, e.st, tkn, -1, -1, -1); err != nil {
		t.Fatal(err)
	}
}

func TestThreeDSChallengePassed(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	tkn := e.create(t, "4000000000003220")
	out, ch, err := e.svc.Authenticate(ctx, e.st, tkn, 3000, 300, 0)
	if err != nil || out != token.Challenge || ch == nil || len(ch.Code) != 6 || ch.Masked != "400000******3220" {
		t.Fatalf("authenticate: %q %+v %v", out, ch, err)
	}
	// a charge before the challenge is completed is a 3-D Secure error
	_, err = e.svc.Use(ctx, e.st, tkn, 3000, 300, 0)
	wantCode(t, err, wire.ER3DSError)
	if err := e.svc.Complete(ctx, e.st, tkn, ch.Code, true); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Use(ctx, e.st, tkn, 3000, 300, 0); err != nil {
		t.Fatal(err)
	}
}

func TestThreeDSChallengeWrongCodeOrCancelFails(t *testing.T) {
	for _, tc := range []struct {
		name string
		code string
		auth bool
	}{{"wrong code", "000000x", true}, {"cancelled", "", false}} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			ctx := context.Background()
			tkn := e.create(t, "4000000000003220")
			if _, _, err := e.svc.Authenticate(ctx, e.st, tkn, 100, 0, 0); err != nil {
				t.Fatal(err)
			}
			wantCode(t, e.svc.Complete(ctx, e.st, tkn, tc.code, tc.auth), wire.ER3DSFailed)
			_, err := e.svc.Use(ctx, e.st, tkn, 100, 0, 0)
			wantCode(t, err, wire.ER3DSFailed)
			// a failure cannot be overwritten by running 3-D Secure again
			_, _, err = e.svc.Authenticate(ctx, e.st, tkn, 100, 0, 0)
			wantCode(t, err, wire.ER3DSFailed)
		})
	}
}

func TestThreeDSIssuerRefuses(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	tkn := e.create(t, "4000000000003238")
	_, _, err := e.svc.Authenticate(ctx, e.st, tkn, 100, 0, 0)
	wantCode(t, err, wire.ER3DSFailed)
	_, err = e.svc.Use(ctx, e.st, tkn, 100, 0, 0)
	wantCode(t, err, wire.ER3DSFailed)
}

func TestPurgeDropsExpiredUnusedCards(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	tkn := e.create(t, "4111111111111111")
	tk, err := e.db.GetToken(ctx, tkn)
	if err != nil {
		t.Fatal(err)
	}
	if n, err := e.db.PurgeTokens(ctx, e.clk.Now().Add(time.Hour)); err != nil || n != 1 {
		t.Fatalf("purged %d, %v", n, err)
	}
	if _, err := e.db.GetCard(ctx, e.st.AID, tk.CardID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("card of an expired unused token kept: %v", err)
	}
}
