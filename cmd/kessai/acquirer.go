package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"regexp"
	"strings"
	"time"

	"kessai/internal/acquirer/stripeacq"
	"kessai/internal/server"
)

// acquirerFlags are serve's processor flags. The Stripe secret key and webhook secret are read
// from the environment or a file only: never from the command line (ps shows it to every user).
type acquirerFlags struct {
	name, keyFile, apiBase, hookFile *string
	healthFailures                   *int
	healthWindow                     *time.Duration
}

func registerAcquirerFlags(fs *flag.FlagSet) *acquirerFlags {
	return &acquirerFlags{
		name:           fs.String("acquirer", "sandbox", "processor: sandbox (simulated card network, no real money) | stripe (real money; key in KESSAI_STRIPE_KEY or --stripe-key-file)"),
		keyFile:        fs.String("stripe-key-file", os.Getenv("KESSAI_STRIPE_KEY_FILE"), "file holding the Stripe secret key (else KESSAI_STRIPE_KEY); never pass the key itself on the command line"),
		apiBase:        fs.String("stripe-api-base", "", "Stripe API base URL (default https://api.stripe.com; stripe-mock for tests)"),
		hookFile:       fs.String("stripe-webhook-secret-file", os.Getenv("KESSAI_STRIPE_WEBHOOK_SECRET_FILE"), "file holding the signing secret of POST /webhooks/stripe (else KESSAI_STRIPE_WEBHOOK_SECRET)"),
		healthFailures: fs.Int("acquirer-health-failures", 0, "open an emergency maintenance window by itself after this many consecutive processor failures (0: never, the default); an operator ends it"),
		healthWindow:   fs.Duration("acquirer-health-window", 30*time.Minute, "length of the emergency window --acquirer-health-failures opens"),
	}
}

// secret reads a secret from a file (trimmed) or else from an environment variable.
func secret(file, env string) (string, error) {
	if file != "" {
		b, err := os.ReadFile(file)
		if err != nil {
			return "", fmt.Errorf("reading %s: %w", file, err)
		}
		return strings.TrimSpace(string(b)), nil
	}
	return strings.TrimSpace(os.Getenv(env)), nil
}

func (f *acquirerFlags) config() (server.AcquirerConfig, error) {
	c := server.AcquirerConfig{Name: *f.name, HealthFailures: *f.healthFailures, HealthWindow: *f.healthWindow}
	if c.HealthFailures < 0 {
		return c, usageErr("--acquirer-health-failures must be 0 (off) or more")
	}
	switch c.Name {
	case "sandbox":
		if *f.keyFile != "" || *f.apiBase != "" {
			return c, usageErr("--stripe-key-file and --stripe-api-base need --acquirer stripe")
		}
		return c, nil
	case "stripe":
	default:
		return c, usageErr("--acquirer %q: want sandbox or stripe", c.Name)
	}
	key, err := secret(*f.keyFile, "KESSAI_STRIPE_KEY")
	if err != nil {
		return c, err
	}
	if key == "" {
		return c, usageErr("--acquirer stripe needs the secret key in KESSAI_STRIPE_KEY or --stripe-key-file")
	}
	if *f.apiBase != "" {
		u, err := url.Parse(*f.apiBase)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return c, usageErr("--stripe-api-base %q: want an http(s) URL", *f.apiBase)
		}
	}
	hook, err := secret(*f.hookFile, "KESSAI_STRIPE_WEBHOOK_SECRET")
	if err != nil {
		return c, err
	}
	c.Stripe = stripeacq.Config{Key: key, APIBase: *f.apiBase}
	c.WebhookSecret = hook
	return c, nil
}

// describeAcquirer names the live processor for the banner, never its key (only its mode).
func describeAcquirer(c server.AcquirerConfig) string {
	switch c.Name {
	case "stripe":
		mode := "live key"
		if stripeacq.TestMode(c.Stripe.Key) {
			mode = "test-mode key"
		}
		base := c.Stripe.APIBase
		if base == "" {
			base = "https://api.stripe.com"
		}
		hook := "webhook secret set"
		if c.WebhookSecret == "" {
			hook = "NO webhook secret: POST /webhooks/stripe refuses events"
		}
		health := "acquirer health: off"
		if c.HealthFailures > 0 {
			health = fmt.Sprintf("acquirer health: emergency window after %d failures in a row", c.HealthFailures)
		}
		return fmt.Sprintf("Stripe (%s, %s; %s; %s)", base, mode, hook, health)
	}
	return c.Name
}

var connectRe = regexp.MustCompile(`^acct_[A-Za-z0-9]{1,64}$`)

// storeAcquirer shows or sets a store's processor: which acquirer ("" = the server's) and its
// Stripe Connect account (the Stripe-Account header on each of its calls).
func storeAcquirer(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("store acquirer", stderr)
	var db dbFlags
	db.register(fs)
	aid := fs.String("aid", "", "store ID, 6 digits (required)")
	name := fs.String("acquirer", "", "stripe | sandbox | \"\" (the server's acquirer)")
	account := fs.String("stripe-account", "", "Stripe Connect account ID (acct_…) when one platform serves several stores; \"\" = the platform's own")
	d, _, err := db.parseOpen(ctx, fs, args)
	if err != nil {
		return err
	}
	defer d.Close()
	if !aidRe.MatchString(*aid) {
		return usageErr("--aid: want the store's 6-digit ID")
	}
	if _, err := d.GetStore(ctx, *aid); err != nil {
		return fmt.Errorf("store %s: %w", *aid, err)
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	cur, err := d.GetStoreAcquirer(ctx, *aid)
	if err != nil {
		return err
	}
	if set["acquirer"] {
		switch *name {
		case "", "sandbox", "stripe":
		default:
			return usageErr("--acquirer %q: want stripe, sandbox or \"\"", *name)
		}
		cur.Acquirer = *name
	}
	if set["stripe-account"] {
		if *account != "" && !connectRe.MatchString(*account) {
			return usageErr("--stripe-account %q: want a Stripe Connect account ID (acct_…)", *account)
		}
		cur.Account = *account
	}
	if set["acquirer"] || set["stripe-account"] {
		if err := d.SetStoreAcquirer(ctx, cur, time.Now()); err != nil {
			return err
		}
	}
	acq := cur.Acquirer
	if acq == "" {
		acq = "(the server's)"
	}
	acct := cur.Account
	if acct == "" {
		acct = "(the platform's own)"
	}
	fmt.Fprintf(stdout, "store %s: acquirer %s, Stripe account %s\n", *aid, acq, acct)
	return nil
}
