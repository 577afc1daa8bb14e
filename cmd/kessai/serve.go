package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	_ "net/http/pprof" // served only on KESSAI_PPROF_ADDR
	"os"
	"strconv"
	"strings"
	"time"

	"kessai/internal/acquirer"
	"kessai/internal/acquirer/stripeacq"
	"kessai/internal/clock"
	"kessai/internal/notify"
	"kessai/internal/server"
	"kessai/internal/store"
)

func cmdServe(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("serve", stderr)
	var db dbFlags
	db.register(fs)
	addr := fs.String("addr", "127.0.0.1:8080", "listen address HOST:PORT")
	clk := fs.String("clock", "", "sandbox clock: run the service from this RFC3339 instant (sandbox only)")
	rate := fs.Float64("clock-rate", 1, "sandbox clock speed: sandbox seconds per real second")
	keyFile := fs.String("vault-key-file", os.Getenv("KESSAI_VAULT_KEY_FILE"), "vault key file (else KESSAI_VAULT_KEY, else DATA/vault.key in the sandbox)")
	var opAllow, proxies, kickFrom multiFlag
	fs.Var(&opAllow, "operator-allow", "CIDR that passes through maintenance windows, for verification (repeatable)")
	fs.Var(&proxies, "trusted-proxy", "CIDR of a reverse proxy whose X-Forwarded-For is believed (repeatable)")
	fs.Var(&kickFrom, "kickback-source", "IP address or CIDR kickbacks leave from, shown to merchants in the panel (repeatable or comma-separated; env KESSAI_KICKBACK_SOURCE)")
	allowPrivate := fs.Bool("allow-private-kickbacks", false, "let kickbacks reach internal addresses (loopback, private, link-local, …): turns the SSRF rule off")
	logLevel := fs.String("log-level", "info", "debug | info | warn | error")
	smtpAddr := fs.String("smtp", os.Getenv("KESSAI_SMTP_ADDR"), "SMTP relay HOST:PORT for maintenance e-mail (none: no e-mail)")
	mailFrom := fs.String("mail-from", os.Getenv("KESSAI_MAIL_FROM"), "sender address of maintenance e-mail")
	reminders := fs.String("mail-reminders", "7,1", "days before a window when reminder e-mail goes out, comma-separated")
	publicURL := fs.String("public-url", os.Getenv("KESSAI_PUBLIC_URL"), "public origin for links in e-mail, e.g. https://pay.example.jp (password-reset mail needs it outside the sandbox)")
	requireMFA := fs.Bool("require-mfa", false, "operators and panel admins must sign in with a second factor (TOTP) in the sandbox too; with a real acquirer they always must")
	acq := registerAcquirerFlags(fs)
	if _, err := parseInterleaved(fs, args); err != nil {
		return err
	}
	acqCfg, err := acq.config()
	if err != nil {
		return err
	}
	if len(kickFrom) == 0 && os.Getenv("KESSAI_KICKBACK_SOURCE") != "" {
		kickFrom = multiFlag{os.Getenv("KESSAI_KICKBACK_SOURCE")}
	}
	var kickSources []string
	for _, v := range kickFrom {
		for _, a := range strings.Split(v, ",") {
			if a = strings.TrimSpace(a); a != "" {
				kickSources = append(kickSources, a)
			}
		}
	}
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(*logLevel)); err != nil {
		return usageErr("--log-level: %v", err)
	}
	log := slog.New(server.NewRedactingHandler(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: lvl})))
	cfg := server.Config{DataDir: db.data, DatabaseURL: db.url, Addr: *addr, Clock: clock.Real{}, VaultKeyEnv: os.Getenv("KESSAI_VAULT_KEY"),
		VaultKeyFile: *keyFile, OperatorAllow: opAllow, TrustedProxy: proxies, KickbackSources: kickSources, RequireMFA: *requireMFA, Log: log, AllowPrivateKickbacks: *allowPrivate, PublicURL: *publicURL,
		SMTP: notify.SMTPConfig{Addr: *smtpAddr, From: *mailFrom, Username: os.Getenv("KESSAI_SMTP_USER"), Password: os.Getenv("KESSAI_SMTP_PASSWORD")}}
	for _, d := range strings.Split(*reminders, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(d))
		if err != nil || n < 1 || n > 60 {
			return usageErr("--mail-reminders %q: want whole days 1–60, comma-separated (e.g. 7,1)", *reminders)
		}
		cfg.MailReminders = append(cfg.MailReminders, time.Duration(n)*24*time.Hour)
	}
	if *clk != "" {
		t, err := time.Parse(time.RFC3339, *clk)
		if err != nil {
			return usageErr("--clock %q is not RFC3339 (e.g. 2020-07-22T02:54:50+09:00)", *clk)
		}
		if *rate <= 0 {
			return usageErr("--clock-rate must be positive")
		}
		cfg.Clock = clock.NewSandbox(t, *rate)
		cfg.SandboxClock = true
	}
	cfg.Acquirer = acqCfg
	if *clk != "" && acqCfg.Name != "" && acqCfg.Name != "sandbox" {
		return usageErr("--clock is only allowed in sandbox mode: --acquirer %s moves real money on real time", acqCfg.Name)
	}
	s, err := server.New(ctx, cfg)
	if err != nil {
		return err
	}
	defer s.Close()
	demo, err := s.EnsureDemo(ctx)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	base := "http://" + ln.Addr().String()
	gcPercent, memLimit := server.TuneGC()
	procs := server.TuneProcs(s.DB.Dialect == store.SQLite)
	log.Debug("go runtime", "gogc", gcPercent, "memory_limit_bytes", memLimit, "gomaxprocs", procs)
	banner(stdout, s, base, demo, cfg)
	log.Info("kessai serving", "addr", ln.Addr().String(), "sandbox", s.Sandbox, "storage", s.DB.Dialect, "where", s.DB.Where)
	if s.Sandbox {
		log.Warn("SANDBOX MODE: the card-network simulator is the only acquirer; no real card is charged")
	}
	if pp := os.Getenv("KESSAI_PPROF_ADDR"); pp != "" {
		// profiling on its own loopback listener, never on the public mux
		go func() { log.Info("pprof", "err", http.ListenAndServe(pp, nil)) }()
	}
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	s.StartWorkers(wctx)
	err = s.Serve(ctx, ln)
	cancel()
	return err
}

func banner(w io.Writer, s *server.Server, base string, demo *server.Demo, cfg server.Config) {
	mode := "PRODUCTION"
	if s.Sandbox {
		mode = "テスト環境 / TEST (sandbox: simulated card network, no real money)"
	}
	fmt.Fprintf(w, "Kessai 決済 — %s\n", mode)
	if !s.Sandbox {
		live := "LIVE: real cards are charged"
		if cfg.Acquirer.Name == "stripe" && stripeacq.TestMode(cfg.Acquirer.Stripe.Key) {
			live = "LIVE processor in Stripe test mode: only Stripe's test cards, no money moves"
		}
		fmt.Fprintf(w, "  processor: %s — %s\n", describeAcquirer(cfg.Acquirer), live)
	}
	fmt.Fprintf(w, "  storage:   %s (%s)\n", s.DB.Dialect, s.DB.Where)
	fmt.Fprintf(w, "  %s\n", s.KeyNote)
	switch {
	case !s.Sandbox:
		fmt.Fprintf(w, "  two-step sign-in: required for operators and panel admins (real acquirer)\n")
	case cfg.RequireMFA:
		fmt.Fprintf(w, "  two-step sign-in: required for operators and panel admins (--require-mfa)\n")
	default:
		fmt.Fprintf(w, "  two-step sign-in: optional (sandbox; --require-mfa makes it mandatory)\n")
	}
	fmt.Fprintf(w, "  kickbacks: %s\n", s.KickbackRule)
	if cfg.SandboxClock {
		fmt.Fprintf(w, "  sandbox clock: starts at %s\n", cfg.Clock.Now().Format(time.RFC3339))
	}
	fmt.Fprintf(w, "\nOpen:\n")
	fmt.Fprintf(w, "  gateway (server-to-server)  %s/gateway/gateway.aspx\n", base)
	fmt.Fprintf(w, "  hosted payment page         %s/link/creditcard\n", base)
	fmt.Fprintf(w, "  merchant control panel      %s/console/\n", base)
	fmt.Fprintf(w, "  operator console            %s/operator/\n", base)
	fmt.Fprintf(w, "  maintenance notices         %s/maintenance  (feed %s/maintenance.ics, status %s/api/maintenance)\n", base, base, base)
	fmt.Fprintf(w, "  developer API               %s/api/v1/  (OpenAPI %s/api/openapi.json; keys: kessai apikey create)\n", base, base)
	if demo != nil {
		fmt.Fprintf(w, "\nDemo store: %s (%s) — created now, with these sign-ins (shown once; change them in the panel):\n", demo.Store.AID, demo.Store.Name)
		fmt.Fprintf(w, "  control panel  %s/console/   store ID %s, login %s, password %s\n", base, demo.Store.AID, demo.UserLogin, demo.UserPassword)
		fmt.Fprintf(w, "  operator       %s/operator/  login %s, password %s\n", base, demo.OperatorLogin, demo.OperatorPassword)
		fmt.Fprintf(w, "  try: curl -d 'aid=%s&jb=CAPTURE&rt=1&cod=demo-1&am=1000&tx=100&sf=0&cn=4111+1111+1111+1111&ed=%s&cvv=123&fn=TARO&ln=YAMADA' %s/gateway/gateway.aspx\n",
			demo.Store.AID, time.Now().AddDate(3, 0, 0).Format("0601"), base)
	}
	if s.Sandbox {
		fmt.Fprintf(w, "\nTest cards (any future expiry YYMM, any 3-digit security code; 4 for Amex):\n")
		// Grouped in fours, as printed on cards: test numbers are documentation, and the banner
		// lands in logs, where no unbroken card number may ever appear.
		for _, c := range acquirer.TestCards {
			fmt.Fprintf(w, "  %-22s %-7s %s %s\n", groupDigits(c.PAN), c.Brand, c.Outcome, c.Code)
		}
		names := make([]string, len(acquirer.Scenarios))
		for i, sc := range acquirer.Scenarios {
			names[i] = sc.Name
		}
		fmt.Fprintf(w, "Any card, forced outcome: header %s: %s\n", acquirer.ScenarioHeader, strings.Join(names, " | "))
		fmt.Fprintf(w, "Test clock: kessai clock advance 720h --url %s --key KEY (moves this server's clock; see README)\n", base)
	}
	fmt.Fprintln(w)
}

func groupDigits(pan string) string {
	var b []byte
	for i := 0; i < len(pan); i++ {
		if i > 0 && i%4 == 0 {
			b = append(b, ' ')
		}
		b = append(b, pan[i])
	}
	return string(b)
}
