// Package testenv gives tests real parts: a fresh SQLite data directory, or — when
// KESSAI_TEST_PG holds an admin URL for a PostgreSQL server — a fresh PostgreSQL database per test,
// dropped afterwards; and a real Kessai server on a loopback port. The same tests thus run on both
// engines (.ci/run runs them twice).
package testenv

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib"

	"kessai/internal/clock"
	"kessai/internal/notify"
	"kessai/internal/server"
	"kessai/internal/store"
)

// PGEnv names the variable holding the PostgreSQL admin URL.
const PGEnv = "KESSAI_TEST_PG"

// Postgres reports whether tests run against PostgreSQL.
func Postgres() bool { return os.Getenv(PGEnv) != "" }

// StoreConfig returns storage for one test: a temp SQLite directory, or a new PostgreSQL database.
func StoreConfig(t testing.TB) store.Config {
	t.Helper()
	dir := t.TempDir()
	admin := os.Getenv(PGEnv)
	if admin == "" {
		return store.Config{DataDir: dir}
	}
	b := make([]byte, 6)
	rand.Read(b)
	name := "kt_" + hex.EncodeToString(b)
	db, err := sql.Open("pgx", admin)
	if err != nil {
		t.Fatalf("postgres admin: %v", err)
	}
	if _, err := db.Exec("CREATE DATABASE " + name); err != nil {
		db.Close()
		t.Fatalf("%s is set but PostgreSQL is not usable: %v", PGEnv, err)
	}
	t.Cleanup(func() {
		db.Exec("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)")
		db.Close()
	})
	return store.Config{DataDir: dir, DatabaseURL: replaceDB(admin, name)}
}

func replaceDB(u, name string) string {
	q := ""
	if i := strings.Index(u, "?"); i >= 0 {
		u, q = u[:i], u[i:]
	}
	i := strings.LastIndex(u, "/")
	if i < len("postgres://") {
		return u + "/" + name + q
	}
	return u[:i+1] + name + q
}

// Options adjust a test server.
type Options struct {
	Clock clock.Clock
	Log   io.Writer
	// Store reuses existing storage (a restart) instead of making new.
	Store *store.Config
	// VaultKey is the base64 key; a fresh one is made when empty.
	VaultKey string
	// OperatorAllow passes these CIDRs through maintenance windows.
	OperatorAllow []string
	// SMTP turns the maintenance mailer on.
	SMTP notify.SMTPConfig
	// ReadHeaderTimeout overrides the server's (10 s); ReadTimeout the whole request's (30 s).
	ReadHeaderTimeout time.Duration
	ReadTimeout       time.Duration
	// TrustedProxy lists CIDRs whose X-Forwarded-* headers are believed.
	TrustedProxy []string
	// RefusePrivateKickbacks makes the sandbox refuse kickbacks to internal addresses, as
	// production does.
	RefusePrivateKickbacks bool
	// AllowPrivateKickbacks is serve --allow-private-kickbacks: with a real acquirer, kickbacks to
	// a receiver on this machine.
	AllowPrivateKickbacks bool
	// KickbackSources are the published kickback source addresses (serve --kickback-source).
	KickbackSources []string
	// RequireMFA is kessai serve --require-mfa.
	RequireMFA bool
	// Acquirer is kessai serve --acquirer and its settings (the sandbox when empty).
	Acquirer server.AcquirerConfig
}

// Srv is a running test server.
type Srv struct {
	*server.Server
	URL    string
	Config store.Config
	Key    string
	cancel context.CancelFunc
	done   chan struct{}
}

// Start runs a real Kessai server on a loopback port until the test ends (or Stop).
func Start(t testing.TB, o Options) *Srv {
	t.Helper()
	cfg := StoreConfig(t)
	if o.Store != nil {
		cfg = *o.Store
	}
	if o.VaultKey == "" {
		k := make([]byte, 32)
		rand.Read(k)
		o.VaultKey = base64.StdEncoding.EncodeToString(k)
	}
	if o.Log == nil {
		o.Log = io.Discard
	}
	log := slog.New(server.NewRedactingHandler(slog.NewTextHandler(o.Log, &slog.HandlerOptions{Level: slog.LevelDebug})))
	ctx, cancel := context.WithCancel(context.Background())
	s, err := server.New(ctx, server.Config{DataDir: cfg.DataDir, DatabaseURL: cfg.DatabaseURL, Clock: o.Clock, VaultKeyEnv: o.VaultKey,
		SandboxClock: o.Clock != nil, OperatorAllow: o.OperatorAllow, SMTP: o.SMTP, MailPoll: 100 * time.Millisecond, ReadHeaderTimeout: o.ReadHeaderTimeout, ReadTimeout: o.ReadTimeout, TrustedProxy: o.TrustedProxy, RefusePrivateKickbacks: o.RefusePrivateKickbacks, AllowPrivateKickbacks: o.AllowPrivateKickbacks, KickbackSources: o.KickbackSources, RequireMFA: o.RequireMFA, Acquirer: o.Acquirer, Log: log})
	if err != nil {
		cancel()
		t.Fatalf("server.New: %v", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	srv := &Srv{Server: s, URL: "http://" + ln.Addr().String(), Config: cfg, Key: o.VaultKey, cancel: cancel, done: make(chan struct{})}
	s.StartWorkers(ctx)
	go func() {
		defer close(srv.done)
		s.Serve(ctx, ln)
		s.Close()
	}()
	t.Cleanup(srv.Stop)
	return srv
}

// Stop shuts the server down and waits for it.
func (s *Srv) Stop() {
	s.cancel()
	select {
	case <-s.done:
	case <-time.After(20 * time.Second):
	}
}

// CreateStore adds a store with settings applied by edit.
func (s *Srv) CreateStore(t testing.TB, aid, name string, edit func(*store.Store)) *store.Store {
	t.Helper()
	st := store.NewStore(aid, name)
	if edit != nil {
		edit(st)
	}
	if err := s.DB.CreateStore(context.Background(), st); err != nil {
		t.Fatalf("create store: %v", err)
	}
	s.Pay.Stores.Invalidate()
	return st
}

// Client is an HTTP client that does not follow redirects.
var Client = &http.Client{Timeout: 30 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
