package auth

import (
	"context"
	"strings"
	"testing"
	"time"

	"kessai/internal/clock"
	"kessai/internal/store"
)

func TestPasswordHash(t *testing.T) {
	h, err := HashPassword("correct horse battery")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Fatalf("hash form %q", h)
	}
	if strings.Contains(h, "correct horse") {
		t.Fatal("hash contains the password")
	}
	h2, _ := HashPassword("correct horse battery")
	if h == h2 {
		t.Fatal("same hash twice: no salt")
	}
	t.Run("right password verifies", func(t *testing.T) {
		if !VerifyPassword(h, "correct horse battery") {
			t.Fatal("refused")
		}
	})
	t.Run("wrong password fails", func(t *testing.T) {
		if VerifyPassword(h, "correct horse batterY") || VerifyPassword(h, "") {
			t.Fatal("accepted")
		}
	})
	t.Run("malformed hashes fail", func(t *testing.T) {
		for _, bad := range []string{"", "plain", "$argon2i$v=19$m=1,t=1,p=1$AA$AA", "$argon2id$v=19$m=99999999,t=1,p=1$AA$AA",
			strings.Replace(h, "$argon2id$", "$bcrypt$", 1)} {
			if VerifyPassword(bad, "x") {
				t.Fatalf("accepted %q", bad)
			}
		}
	})
}

func TestPasswordPolicy(t *testing.T) {
	if CheckPasswordPolicy("short") == nil || CheckPasswordPolicy("long-enough-1") != nil {
		t.Fatal("policy")
	}
	if CheckPasswordPolicy("パスワード十文字以上です") != nil {
		t.Fatal("length counts characters, not bytes")
	}
}

func openDB(t *testing.T) *store.DB {
	t.Helper()
	db, err := store.Open(context.Background(), store.Config{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func TestSessions(t *testing.T) {
	db := openDB(t)
	clk := clock.NewFixed(time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC))
	s := NewSessions(db, clk)
	ctx := context.Background()
	tok, sess, err := s.Start(ctx, store.SessionMerchant, 7, "123456", "ja")
	if err != nil {
		t.Fatal(err)
	}
	if sess.ID == tok || sess.ID != TokenID(tok) || len(sess.CSRF) < 40 {
		t.Fatal("token stored in clear or weak CSRF token")
	}
	t.Run("wrong kind is no session", func(t *testing.T) {
		if _, err := s.Get(ctx, store.SessionOperator, tok); err != ErrNoSession {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("idle deadline moves with use", func(t *testing.T) {
		for i := 0; i < 5; i++ {
			clk.Advance(25 * time.Minute)
			if _, err := s.Get(ctx, store.SessionMerchant, tok); err != nil {
				t.Fatalf("after %d uses: %v", i, err)
			}
		}
		clk.Advance(31 * time.Minute)
		if _, err := s.Get(ctx, store.SessionMerchant, tok); err != ErrNoSession {
			t.Fatalf("idle: %v", err)
		}
	})
	t.Run("absolute lifetime", func(t *testing.T) {
		tok, _, _ := s.Start(ctx, store.SessionOperator, 1, "", "en")
		for i := 0; i < 12*60/20; i++ {
			clk.Advance(20 * time.Minute)
			_, err := s.Get(ctx, store.SessionOperator, tok)
			if i < 12*60/20-1 && err != nil {
				t.Fatalf("at %d min: %v", (i+1)*20, err)
			}
			if i == 12*60/20-1 && err != ErrNoSession {
				t.Fatalf("at 12h: %v", err)
			}
		}
	})
	t.Run("end", func(t *testing.T) {
		tok, _, _ := s.Start(ctx, store.SessionMerchant, 7, "123456", "ja")
		s.End(ctx, tok)
		if _, err := s.Get(ctx, store.SessionMerchant, tok); err != ErrNoSession {
			t.Fatalf("after end: %v", err)
		}
	})
}

func TestLoginThrottle(t *testing.T) {
	db := openDB(t)
	ctx := context.Background()
	clk := clock.NewFixed(time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC))
	if err := db.CreateStore(ctx, store.NewStore("123456", "x")); err != nil {
		t.Fatal(err)
	}
	h, _ := HashPassword("the-right-password")
	db.CreateUser(ctx, &store.User{AID: "123456", Login: "a", PwHash: h, Role: store.RoleAdmin})
	a := NewAuthenticator(db, clk)
	a.MaxPerIP = 8
	for i := 1; i <= 4; i++ {
		if _, out, _ := a.Login(ctx, store.SessionMerchant, "123456", "a", "nope", "192.0.2.1"); out != BadCredentials {
			t.Fatalf("failure %d: %v", i, out)
		}
	}
	if _, out, _ := a.Login(ctx, store.SessionMerchant, "123456", "a", "nope", "192.0.2.1"); out != Locked {
		t.Fatalf("5th failure: %v", out)
	}
	if _, out, _ := a.Login(ctx, store.SessionMerchant, "123456", "a", "the-right-password", "192.0.2.2"); out != Locked {
		t.Fatalf("locked account, other address: %v", out)
	}
	clk.Advance(15 * time.Minute)
	acc, out, _ := a.Login(ctx, store.SessionMerchant, "123456", "a", "the-right-password", "192.0.2.2")
	if out != OK || acc.Role != store.RoleAdmin || acc.Actor() != "user:123456/a" {
		t.Fatalf("after the lock: %v %+v", out, acc)
	}
	for i := 0; i < 8; i++ {
		a.Login(ctx, store.SessionMerchant, "123456", "ghost", "x", "192.0.2.9")
	}
	if _, out, _ := a.Login(ctx, store.SessionMerchant, "123456", "a", "the-right-password", "192.0.2.9"); out != Throttled {
		t.Fatalf("throttled address: %v", out)
	}
	if _, out, _ := a.Login(ctx, store.SessionMerchant, "123456", "a", "the-right-password", "192.0.2.10"); out != OK {
		t.Fatalf("another address: %v", out)
	}
}
