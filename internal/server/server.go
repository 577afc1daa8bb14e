// Package server wires Kessai's parts into one running service: storage, vault, payment service,
// maintenance index and its watcher, the background workers, and every HTTP surface behind its
// middleware chain (request ID → logging → recovery → surface gate → handler).
package server

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	"kessai/internal/acquirer"
	"kessai/internal/acquirer/stripeacq"
	"kessai/internal/api"
	"kessai/internal/auth"
	"kessai/internal/clock"
	"kessai/internal/maintenance"
	"kessai/internal/noncard"
	"kessai/internal/notify"
	"kessai/internal/payment"
	"kessai/internal/store"
	"kessai/internal/vault"
	"kessai/internal/web/gateway"
)

// Config is the typed configuration of a server, parsed once in main.
type Config struct {
	DataDir       string
	DatabaseURL   string
	Addr          string
	Clock         clock.Clock
	SandboxClock  bool
	VaultKeyEnv   string // value of KESSAI_VAULT_KEY
	VaultKeyFile  string
	OperatorAllow []string // CIDRs passing through maintenance for verification
	TrustedProxy  []string // CIDRs whose X-Forwarded-For is believed
	SMTP          notify.SMTPConfig
	PublicURL     string          // the public origin for links in e-mail (serve --public-url); see console.Deps
	MailPoll      time.Duration   // how often the mailer looks for due messages (default 1 s)
	MailReminders []time.Duration // reminder offsets before a window (default 7 days and 1 day)
	// ReadHeaderTimeout cuts off clients that send their request headers too slowly (default 10 s).
	ReadHeaderTimeout time.Duration
	// ReadTimeout cuts off clients that send a whole request, body included, too slowly
	// (default 30 s).
	ReadTimeout time.Duration
	// RefusePrivateKickbacks applies the production rule in the sandbox too: kickbacks to
	// loopback and private addresses are refused (outside the sandbox they always are).
	RefusePrivateKickbacks bool
	// KickbackSources are the addresses (IPs or CIDRs) kickbacks leave from, published to
	// merchants in the panel (serve --kickback-source); informational, nothing binds to them.
	KickbackSources []string
	// RequireMFA (kessai serve --require-mfa) makes operators and panel admins sign in with a
	// second factor in the sandbox too (with a real acquirer they always must).
	RequireMFA bool
	// AllowPrivateKickbacks (--allow-private-kickbacks) lets kickbacks reach any address,
	// internal ones included: an explicit opt-out of the SSRF rule.
	AllowPrivateKickbacks bool
	// Acquirer chooses the processor (sandbox by default; Stripe moves real money) (processor.go).
	Acquirer AcquirerConfig
	Log      *slog.Logger
}

// Server is a running Kessai.
type Server struct {
	Cfg     Config
	DB      *store.DB
	Vault   *vault.KeyRing
	Pay     *payment.Service
	Maint   *maintenance.Index
	Kick    *notify.Kickbacks
	Mail    *notify.Mailer
	NonCard *noncard.Service // convenience-store and bank-transfer payments (noncard.go)
	Sandbox bool
	Log     *slog.Logger
	mux     *http.ServeMux
	workers sync.WaitGroup
	KeyNote string // what happened with the vault key at start, for the banner
	// Ledger is the sandbox network's book of authorisations (open ones can be counted).
	Ledger *acquirer.Ledger
	// KickbackRule says which receiver addresses kickbacks may reach (the banner prints it).
	KickbackRule notify.TargetRule
	allowOps     []netip.Prefix
	proxies      []netip.Prefix
	gateway      *gateway.Handler
	metrics      *metrics
	api          *api.Handler // devtools.go
}

// New opens storage and builds the service; it does not start serving.
func New(ctx context.Context, cfg Config) (*Server, error) {
	if cfg.Clock == nil {
		cfg.Clock = clock.Real{}
	}
	log := cfg.Log
	db, err := store.Open(ctx, store.Config{DataDir: cfg.DataDir, DatabaseURL: cfg.DatabaseURL})
	if err != nil {
		return nil, err
	}
	kr, note, err := openVault(ctx, db, cfg)
	if err != nil {
		db.Close()
		return nil, err
	}
	s := &Server{Cfg: cfg, DB: db, Vault: kr, Log: log, KeyNote: note}
	acq, err := s.newAcquirer(cfg.Acquirer)
	if err != nil {
		db.Close()
		return nil, err
	}
	s.Sandbox = acq.Name() == "sandbox" // a real processor: no TEST mark, no test clock, MFA required
	if cfg.SandboxClock && !s.Sandbox {
		db.Close()
		return nil, errors.New("--clock is only allowed in sandbox mode")
	}
	if _, real := cfg.Clock.(clock.Real); real && s.Sandbox {
		// the sandbox's clock can be moved at run time (POST /api/v1/sandbox/clock); it starts at
		// real time and runs at real speed, and every component holds this one clock
		cfg.Clock = clock.NewSandbox(time.Now(), 1)
		s.Cfg.Clock = cfg.Clock
	}
	db.SetClock(cfg.Clock) // rows the database dates itself follow the (sandbox) clock too
	for _, c := range cfg.OperatorAllow {
		p, err := parsePrefix(c)
		if err != nil {
			return nil, fmt.Errorf("operator allow-list: %w", err)
		}
		s.allowOps = append(s.allowOps, p)
	}
	for _, c := range cfg.TrustedProxy {
		p, err := parsePrefix(c)
		if err != nil {
			return nil, fmt.Errorf("trusted proxy: %w", err)
		}
		s.proxies = append(s.proxies, p)
	}
	for _, c := range cfg.KickbackSources {
		if _, err := parsePrefix(c); err != nil {
			db.Close()
			return nil, fmt.Errorf("kickback source: %w", err)
		}
	}
	s.Pay = payment.New(db, kr, acq, cfg.Clock, log)
	ws, err := db.Windows(ctx)
	if err != nil {
		db.Close()
		return nil, err
	}
	s.Maint = maintenance.NewIndex(ws)
	s.KickbackRule = kickbackRule(cfg, s.Sandbox)
	s.Kick = &notify.Kickbacks{DB: db, Clock: cfg.Clock, Maint: s.Maint, Log: log, Stores: s.Pay.Stores.Get, Wake: s.Pay.Kicked,
		Rule: s.KickbackRule}
	if cfg.SMTP.Addr != "" {
		if cfg.SMTP.From == "" {
			cfg.SMTP.From = "noreply@kessai.example"
		}
		s.Mail = &notify.Mailer{DB: db, Clock: cfg.Clock, Log: log, Sender: notify.SMTP{Cfg: cfg.SMTP}, Poll: cfg.MailPoll,
			Reminders: cfg.MailReminders}
	}
	s.routes()
	return s, nil
}

// kickbackRule decides the SSRF rule: internal addresses are refused, except loopback for a
// sandbox that itself listens on loopback only (a developer's receiver on the same machine; a
// sandbox shared on any other address refuses it too), and anything with --allow-private-kickbacks.
func kickbackRule(cfg Config, sandbox bool) notify.TargetRule {
	switch {
	case cfg.AllowPrivateKickbacks:
		return notify.AnyAddress
	case sandbox && !cfg.RefusePrivateKickbacks && LoopbackOnly(cfg.Addr):
		return notify.PublicAndLoopback
	}
	return notify.PublicOnly
}

// LoopbackOnly reports whether a listen address HOST:PORT accepts connections from this machine
// only: 127.0.0.0/8, ::1 or localhost. An empty address is serve's default, 127.0.0.1:8080; an
// empty host (":8080") listens everywhere.
func LoopbackOnly(addr string) bool {
	if addr == "" {
		return true
	}
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	a, err := netip.ParseAddr(host)
	return err == nil && a.Unmap().IsLoopback()
}

// CheckResultURL refuses a result URL that kickbacks could not reach under the server's rule
// (the panel says so next to the field when it is saved).
func (s *Server) CheckResultURL(ctx context.Context, raw string) error {
	return notify.CheckTarget(ctx, raw, s.KickbackRule)
}

func parsePrefix(c string) (netip.Prefix, error) {
	if p, err := netip.ParsePrefix(c); err == nil {
		return p, nil
	}
	a, err := netip.ParseAddr(c)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("%q is not an address or CIDR", c)
	}
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// openVault loads the card-data key and checks it against the database's key-check value, so
// that an instance started with the wrong key refuses to start instead of writing unreadable data.
func openVault(ctx context.Context, db *store.DB, cfg Config) (*vault.KeyRing, string, error) {
	var kr *vault.KeyRing
	var err error
	note := ""
	switch {
	case cfg.VaultKeyEnv != "" || cfg.VaultKeyFile != "":
		kr, err = vault.LoadKeyRing(cfg.VaultKeyEnv, cfg.VaultKeyFile)
		note = "vault key from " + map[bool]string{true: "KESSAI_VAULT_KEY", false: cfg.VaultKeyFile}[cfg.VaultKeyEnv != ""]
	case cfg.Acquirer.Name == "stripe" && !stripeacq.TestMode(cfg.Acquirer.Stripe.Key):
		// real money: card data under a key generated next to the database is not protected
		// by it; the operator provides the key (a secret store, a file apart from the data)
		return nil, "", errors.New("--acquirer stripe with a live key needs the card-data key: set KESSAI_VAULT_KEY (32 random bytes, standard base64) or --vault-key-file; a key generated in the data directory is for the sandbox and Stripe test mode only")
	case db.Dialect == store.SQLite:
		var created bool
		kr, created, err = vault.LoadOrCreate(cfg.DataDir, "")
		note = "vault key from " + cfg.DataDir + "/" + vault.KeyFileName
		switch {
		case created && cfg.Acquirer.Name == "stripe":
			note = "Stripe test mode: generated a new vault key in " + cfg.DataDir + "/" + vault.KeyFileName + " (a live key refuses to start without KESSAI_VAULT_KEY or --vault-key-file)"
		case created:
			note = "SANDBOX: generated a new vault key in " + cfg.DataDir + "/" + vault.KeyFileName + " (set KESSAI_VAULT_KEY in production)"
		case cfg.Acquirer.Name == "stripe":
			note += " (Stripe test mode; a live key needs KESSAI_VAULT_KEY or --vault-key-file)"
		}
	default:
		return nil, "", errors.New("PostgreSQL needs the shared vault key: set KESSAI_VAULT_KEY (32 random bytes, standard base64) or --vault-key-file")
	}
	if err != nil {
		return nil, "", err
	}
	check, err := db.InitMeta(ctx, "vault_check", kr.CheckValue())
	if err != nil {
		return nil, "", err
	}
	if err := kr.Verify(check); err != nil {
		return nil, "", fmt.Errorf("%w: this instance's vault key cannot read the card data already in %s; start it with the key the other instances use", err, db.Where)
	}
	return kr, note, nil
}

// Gate is the one maintenance decision every surface consults: the window refusing op at t for
// this request, or nil. Operators on the allow-list pass through, to verify the service before a
// window ends.
func (s *Server) Gate(t time.Time, op maintenance.Op, brand string, r *http.Request) *maintenance.Window {
	w := s.Maint.Refused(t, op, "card", brand)
	if w == nil {
		return nil
	}
	if r != nil && len(s.allowOps) > 0 {
		ip := s.RemoteIP(r)
		for _, p := range s.allowOps {
			if p.Contains(ip) {
				return nil
			}
		}
	}
	return w
}

// RemoteIP is the client address: the TCP peer, or, when the peer is a trusted proxy, the first
// untrusted hop of X-Forwarded-For read from the right. Every X-Forwarded-For line counts: the
// lines are joined in order into one list (RFC 9110 §5.3), so a client cannot hide an address of
// its choosing in a first line while the proxy appends the real one in a second. Empty entries are
// skipped; an entry that is not an address (a typo, a name, "unknown", a zone) makes the client
// unknown: the zero Addr, which no allow-list contains — never the proxy's own address.
// The same answer decides the store's IP allow-list (ER003), --operator-allow and the
// card-testing brake.
func (s *Server) RemoteIP(r *http.Request) netip.Addr {
	return ClientAddr(r.RemoteAddr, r.Header.Values("X-Forwarded-For"), s.proxies)
}

// ClientAddr is RemoteIP's rule over its inputs: the peer address (host:port), every
// X-Forwarded-For header line in order, and the trusted proxies.
func ClientAddr(remoteAddr string, xff []string, proxies []netip.Prefix) netip.Addr {
	host, _, err := net.SplitHostPort(remoteAddr)
	if err != nil {
		host = remoteAddr
	}
	ip, _ := netip.ParseAddr(host)
	ip = ip.Unmap()
	if len(proxies) == 0 {
		return ip
	}
	trusted := func(a netip.Addr) bool {
		for _, p := range proxies {
			if p.Contains(a) {
				return true
			}
		}
		return false
	}
	if !trusted(ip) {
		return ip
	}
	var hops []string
	for _, line := range xff {
		hops = append(hops, strings.Split(line, ",")...)
	}
	for i := len(hops) - 1; i >= 0; i-- {
		h := strings.TrimSpace(hops[i])
		if h == "" {
			continue
		}
		a, ok := hopAddr(h)
		if !ok {
			return netip.Addr{}
		}
		if !trusted(a) {
			return a
		}
		ip = a // a chain of trusted proxies: go on to the left
	}
	return ip
}

// hopAddr parses one X-Forwarded-For entry: an address, optionally with a port as some proxies
// write it ("192.0.2.1:4711", "[2001:db8::1]:4711"). Zoned addresses are refused.
func hopAddr(h string) (netip.Addr, bool) {
	a, err := netip.ParseAddr(h)
	if err != nil {
		ap, err2 := netip.ParseAddrPort(h)
		if err2 != nil {
			return netip.Addr{}, false
		}
		a = ap.Addr()
	}
	if a.Zone() != "" {
		return netip.Addr{}, false
	}
	return a.Unmap(), true
}

func (s *Server) routes() {
	s.mux = http.NewServeMux()
	s.metrics = newMetrics(s)
	s.mux.Handle("GET /metrics", s.metrics.handler())
	gw := &gateway.Handler{Pay: s.Pay, Clock: s.Cfg.Clock, Gate: s.Gate, Log: s.Log, RemoteIP: s.RemoteIP}
	gw.Register(s.mux)
	s.gateway = gw
	s.registerNonCard() // convenience-store and bank-transfer endpoints (noncard.go)
	s.registerLink()    // hosted pages, token and 3-D Secure scripts (link.go)
	s.registerConsole() // merchant control panel and operator console (console.go)
	s.registerPublic()  // maintenance notices, feeds, status API (public.go)
	s.mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		if err := s.DB.R.PingContext(r.Context()); err != nil {
			http.Error(w, "database unavailable", http.StatusServiceUnavailable)
			return
		}
		w.Write([]byte("ok\n"))
	})
	s.registerAPI()                         // JSON API for developers: kickbacks, stream, sandbox clock (devtools.go)
	s.registerAutoCharge()                  // auto-charge service for the gateway, customer stop / card pages (autocharge.go)
	s.registerWebhooks()                    // POST /webhooks/stripe with a real processor (processor.go)
	s.mux.HandleFunc("GET /{$}", s.landing) // landing page listing the surfaces (landing.go)
}

// Handler is the whole HTTP surface with its middleware.
func (s *Server) Handler() http.Handler {
	var h http.Handler = s.mux
	h = s.scenario(h) // Kessai-Scenario, sandbox only (devtools.go)
	h = s.forwardedTLS(h)
	h = s.recoverer(h)
	h = s.logging(h)
	return h
}

type ctxKey int

const reqIDKey ctxKey = 0

func newReqID() string {
	b := make([]byte, 8)
	rand.Read(b)
	return hex.EncodeToString(b)
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(c int)           { w.status = c; w.ResponseWriter.WriteHeader(c) }
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (s *Server) logging(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := newReqID()
		w.Header().Set("X-Request-Id", id)
		if s.Sandbox {
			w.Header().Set("X-Kessai-Environment", "sandbox")
		}
		sw := &statusWriter{ResponseWriter: w, status: 200}
		start := time.Now()
		next.ServeHTTP(sw, r.WithContext(context.WithValue(r.Context(), reqIDKey, id)))
		s.metrics.requests.WithLabelValues(surfaceOf(r.URL.Path), strconv.Itoa(sw.status)).Inc()
		// Only the path is logged: query strings can carry card data on GET requests. (Enabled
		// first: the arguments alone cost allocations on every request when debug is off.)
		if s.Log.Enabled(r.Context(), slog.LevelDebug) {
			s.Log.Debug("http", "id", id, "method", r.Method, "path", r.URL.Path, "status", sw.status, "ms", time.Since(start).Milliseconds())
		}
	})
}

// forwardedTLS marks a request as having arrived over TLS when a trusted proxy terminated it
// (X-Forwarded-Proto: https), so cookies get their Secure flag and pages their HSTS header behind
// a TLS-terminating load balancer. Requests from anyone else cannot claim it.
func (s *Server) forwardedTLS(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.TLS == nil && len(s.proxies) > 0 && strings.EqualFold(r.Header.Get("X-Forwarded-Proto"), "https") {
			host, _, _ := net.SplitHostPort(r.RemoteAddr)
			if peer, err := netip.ParseAddr(host); err == nil {
				for _, p := range s.proxies {
					if p.Contains(peer.Unmap()) {
						r = r.Clone(r.Context())
						r.TLS = &tls.ConnectionState{} // terminated by the trusted proxy
						break
					}
				}
			}
		}
		next.ServeHTTP(w, r)
	})
}

func (s *Server) recoverer(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				s.Log.Error("panic", "path", r.URL.Path, "panic", fmt.Sprint(v))
				http.Error(w, "internal error", http.StatusInternalServerError)
			}
		}()
		next.ServeHTTP(w, r)
	})
}

// StartWorkers runs the background workers until ctx ends.
func (s *Server) StartWorkers(ctx context.Context) {
	s.workers.Add(3)
	go func() { defer s.workers.Done(); watchSchedule(ctx, s.DB, s.Maint, s.Log, 200*time.Millisecond) }()
	go func() { defer s.workers.Done(); s.Kick.Run(ctx) }()
	// voids of authorisations whose payment is not recorded
	go func() { defer s.workers.Done(); s.Pay.RunVoids(ctx) }()
	s.startAutoCharge(ctx) // auto-charge runner (autocharge.go)
	s.startNonCard(ctx)    // slip deadlines and sandbox test values (noncard.go)
	if s.Mail != nil {
		s.workers.Add(1)
		go func() { defer s.workers.Done(); s.Mail.Run(ctx) }()
	}
}

// Serve listens on addr and serves until ctx ends, then drains in-flight requests (a request
// accepted before shutdown or a window's start runs to completion).
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	rht := s.Cfg.ReadHeaderTimeout
	if rht == 0 {
		rht = 10 * time.Second
	}
	rt := s.Cfg.ReadTimeout
	if rt == 0 {
		rt = 30 * time.Second
	}
	srv := &http.Server{Handler: s.Handler(), ReadHeaderTimeout: rht, ReadTimeout: rt,
		WriteTimeout: 60 * time.Second, IdleTimeout: 120 * time.Second, MaxHeaderBytes: 64 << 10}
	srv.RegisterOnShutdown(s.api.Stop) // end kickback streams, which never finish on their own
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	err := srv.Shutdown(sctx)
	s.workers.Wait()
	return err
}

// Close releases storage.
func (s *Server) Close() error { return s.DB.Close() }

// Demo is what a fresh sandbox was given so it can be tried at once.
type Demo struct {
	Store            *store.Store
	UserLogin        string // control-panel admin of the demo store
	UserPassword     string
	OperatorLogin    string // operator-console account
	OperatorPassword string
}

// EnsureDemo sets up an empty sandbox database: the demo store, an admin user for it and an
// operator account, with fresh random passwords that are printed once at start and stored only
// hashed. It returns nil when the database already has stores (or outside the sandbox).
func (s *Server) EnsureDemo(ctx context.Context) (*Demo, error) {
	if !s.Sandbox {
		return nil, nil
	}
	ss, err := s.DB.ListStores(ctx)
	if err != nil || len(ss) > 0 {
		return nil, err
	}
	st := store.NewStore(DemoAID, "デモストア / Demo Store")
	// The demo store shows what a store created today does: 3-D Secure is required, so a token of
	// the challenge card 4000000000003220 is charged only after EMV3DSAdapter.js authenticated it.
	st.Require3DS = true
	if err := s.DB.CreateStore(ctx, st); err != nil {
		if errors.Is(err, store.ErrConflict) {
			return nil, nil // another instance set it up
		}
		return nil, err
	}
	// the demo store takes every method, so each can be tried at once
	all := store.DefaultStoreMethods(st.AID)
	all.Methods = []string{store.MethodCard, store.MethodCVS, store.MethodBank}
	if err := s.DB.PutStoreMethods(ctx, all); err != nil {
		return nil, err
	}
	d := &Demo{Store: st, UserLogin: "demo", UserPassword: "demo-" + auth.RandomToken(9), OperatorLogin: "operator", OperatorPassword: "op-" + auth.RandomToken(9)}
	uh, err := auth.HashPassword(d.UserPassword)
	if err != nil {
		return nil, err
	}
	if err := s.DB.CreateUser(ctx, &store.User{AID: st.AID, Login: d.UserLogin, PwHash: uh, Role: store.RoleAdmin}); err != nil {
		return nil, err
	}
	oh, err := auth.HashPassword(d.OperatorPassword)
	if err != nil {
		return nil, err
	}
	if err := s.DB.CreateOperator(ctx, &store.Operator{Login: d.OperatorLogin, PwHash: oh}); err != nil && !errors.Is(err, store.ErrConflict) {
		return nil, err
	}
	return d, nil
}

// DemoAID is the store ID of the sandbox's demo store.
const DemoAID = "100001"
