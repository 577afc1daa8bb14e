package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/url"
	"regexp"
	"strings"
	"text/tabwriter"

	"kessai/internal/notify"
	"kessai/internal/store"
)

var aidRe = regexp.MustCompile(`^[0-9]{6}$`)

func cmdStore(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return usageErr("kessai store create|list|update|acquirer")
	}
	switch args[0] {
	case "create", "add":
		return storeCreateOrUpdate(ctx, true, args[1:], stdout, stderr)
	case "update", "set":
		return storeCreateOrUpdate(ctx, false, args[1:], stdout, stderr)
	case "list", "ls":
		return storeList(ctx, args[1:], stdout, stderr)
	case "acquirer":
		return storeAcquirer(ctx, args[1:], stdout, stderr) // acquirer.go
	}
	return usageErr("unknown store command %q", args[0])
}

// storeSettings are the flags shared by store create and store update; only flags given on the
// command line change a setting on update.
type storeSettings struct {
	aid, name, resultURL, acResultURL, completionURL, authCode, brands, encoding, notifyEmail, stopNotice, secret string
	allowIP, allowOrigin                                                                                          multiFlag
	minAmount, maxAmount                                                                                          int64
	installments, requireCVV, suspended                                                                           bool
	require3DS                                                                                                    bool
}

func (s *storeSettings) register(fs *flag.FlagSet) {
	fs.StringVar(&s.aid, "aid", "", "store ID, 6 digits (required)")
	fs.StringVar(&s.name, "name", "", "store name")
	fs.StringVar(&s.resultURL, "result-url", "", "決済結果通知URL: where kickbacks go")
	fs.StringVar(&s.acResultURL, "autocharge-result-url", "", "自動課金結果通知URL: where auto-charge kickbacks go")
	fs.StringVar(&s.completionURL, "completion-url", "", "where the hosted page sends the shopper back")
	fs.Var(&s.allowIP, "allow-ip", "source IP or CIDR allowed for server-to-server calls (repeatable; none = all)")
	fs.Var(&s.allowOrigin, "allow-origin", "origin allowed to post hosted forms and use the token script (repeatable; none = all)")
	fs.StringVar(&s.authCode, "auth-code", "", "接続認証コード: require ut/hak signatures")
	fs.StringVar(&s.brands, "brands", "", "accepted brands, comma list (VISA,MASTER,JCB,AMEX,DINERS; empty = all)")
	fs.Int64Var(&s.minAmount, "min-amount", 1, "minimum total in yen")
	fs.Int64Var(&s.maxAmount, "max-amount", 9999999, "maximum total in yen")
	fs.BoolVar(&s.installments, "installments", false, "allow installments / revolving (md 61-N, 80-0)")
	fs.BoolVar(&s.requireCVV, "require-cvv", true, "require the security code")
	fs.BoolVar(&s.require3DS, "require-3ds", true, "3-D Secure required: refuse token charges of cards that need it unless it passed (ER900); on for new stores")
	fs.BoolVar(&s.suspended, "suspended", false, "suspend the store (the wire answers ER998)")
	fs.StringVar(&s.encoding, "encoding", "auto", "request text encoding: auto | utf-8 | shift_jis")
	fs.StringVar(&s.notifyEmail, "notify-email", "", "address for maintenance and service e-mail")
	fs.StringVar(&s.stopNotice, "stop-notice", "immediate", "when an auto-charge stop is notified: immediate | next")
	fs.StringVar(&s.secret, "kickback-secret", "", "HMAC key for signed kickbacks (empty = unsigned)")
}

// warnInternalTargets accepts a kickback URL that points to an internal address (the operator
// may mean it, for a sandbox on loopback or a server run with --allow-private-kickbacks) but says
// that servers refuse it by default.
func (s *storeSettings) warnInternalTargets(ctx context.Context, set map[string]bool, stderr io.Writer) {
	for _, f := range []struct{ name, v string }{{"result-url", s.resultURL}, {"autocharge-result-url", s.acResultURL}} {
		if set[f.name] && notify.CheckTarget(ctx, f.v, notify.PublicOnly) != nil {
			fmt.Fprintf(stderr, "warning: --%s %s points to an internal address (loopback, private, link-local, …). "+
				"Servers refuse to send kickbacks there (SSRF rule), except a sandbox listening on loopback only (loopback receivers) "+
				"or a server started with --allow-private-kickbacks.\n", f.name, f.v)
		}
	}
}

func (s *storeSettings) apply(st *store.Store, set map[string]bool) error {
	if set["name"] {
		st.Name = s.name
	}
	for flagName, dst := range map[string]*string{"result-url": &st.ResultURL, "autocharge-result-url": &st.ACResultURL, "completion-url": &st.CompletionURL} {
		if set[flagName] {
			v := map[string]string{"result-url": s.resultURL, "autocharge-result-url": s.acResultURL, "completion-url": s.completionURL}[flagName]
			if v != "" {
				u, err := url.Parse(v)
				if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
					return usageErr("--%s %q is not an http(s) URL", flagName, v)
				}
			}
			*dst = v
		}
	}
	if set["allow-ip"] {
		for _, c := range s.allowIP {
			if _, _, err := net.ParseCIDR(c); err != nil && net.ParseIP(c) == nil {
				return usageErr("--allow-ip %q is not an IP address or CIDR", c)
			}
		}
		st.AllowIPs = s.allowIP
	}
	if set["allow-origin"] {
		var origins []string
		for _, o := range s.allowOrigin {
			u, err := url.Parse(o)
			if err != nil || u.Scheme == "" || u.Host == "" {
				return usageErr("--allow-origin %q is not an origin such as https://shop.example.jp", o)
			}
			origins = append(origins, u.Scheme+"://"+u.Host)
		}
		st.AllowOrigins = origins
	}
	if set["auth-code"] {
		st.AuthCode = s.authCode
	}
	if set["brands"] {
		st.Brands = nil
		for _, b := range strings.Split(s.brands, ",") {
			b = strings.ToUpper(strings.TrimSpace(b))
			switch b {
			case "":
			case "VISA", "MASTER", "JCB", "AMEX", "DINERS":
				st.Brands = append(st.Brands, b)
			default:
				return usageErr("--brands: unknown brand %q", b)
			}
		}
	}
	if set["min-amount"] {
		st.MinAmount = s.minAmount
	}
	if set["max-amount"] {
		st.MaxAmount = s.maxAmount
	}
	if st.MinAmount < 0 || st.MaxAmount < st.MinAmount {
		return usageErr("amount limits %d…%d make no sense", st.MinAmount, st.MaxAmount)
	}
	if set["installments"] {
		st.Installments = s.installments
	}
	if set["require-cvv"] {
		st.RequireCVV = s.requireCVV
	}
	if set["suspended"] {
		st.Suspended = s.suspended
	}
	if set["require-3ds"] {
		st.Require3DS = s.require3DS
	}
	if set["encoding"] {
		switch s.encoding {
		case "auto", "utf-8", "shift_jis":
		default:
			return usageErr("--encoding must be auto, utf-8 or shift_jis")
		}
		st.Encoding = s.encoding
	}
	if set["notify-email"] {
		st.NotifyEmail = s.notifyEmail
	}
	if set["stop-notice"] {
		if s.stopNotice != "immediate" && s.stopNotice != "next" {
			return usageErr("--stop-notice must be immediate or next")
		}
		st.StopNotice = s.stopNotice
	}
	if set["kickback-secret"] {
		st.KickbackSecret = s.secret
	}
	return nil
}

func storeCreateOrUpdate(ctx context.Context, create bool, args []string, stdout, stderr io.Writer) error {
	name := "store update"
	if create {
		name = "store create"
	}
	fs := newFlagSet(name, stderr)
	var db dbFlags
	db.register(fs)
	var s storeSettings
	s.register(fs)
	var mf methodFlags // --methods, --chains, deadlines (noncard.go)
	mf.register(fs)
	if _, err := parseInterleaved(fs, args); err != nil {
		return err
	}
	if !aidRe.MatchString(s.aid) {
		return usageErr("--aid must be 6 digits, got %q", s.aid)
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	s.warnInternalTargets(ctx, set, stderr)
	d, err := db.open(ctx)
	if err != nil {
		return err
	}
	defer d.Close()
	if create {
		if s.name == "" {
			return usageErr("--name is required")
		}
		st := store.NewStore(s.aid, s.name)
		st.Require3DS = true // stores created from now on require 3-D Secure (EMV 3DS, mandatory since 2025-03)
		if err := s.apply(st, set); err != nil {
			return err
		}
		if err := d.CreateStore(ctx, st); err != nil {
			return err
		}
		if err := mf.save(ctx, d, st.AID, set, true); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "created store %s %s\n", st.AID, st.Name)
		return nil
	}
	st, err := d.GetStore(ctx, s.aid)
	if errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("no store %s", s.aid)
	}
	if err != nil {
		return err
	}
	if err := s.apply(st, set); err != nil {
		return err
	}
	if err := d.UpdateStore(ctx, st); err != nil {
		return err
	}
	if err := mf.save(ctx, d, st.AID, set, false); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "updated store %s\n", st.AID)
	return nil
}

func storeList(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("store list", stderr)
	var db dbFlags
	db.register(fs)
	d, _, err := db.parseOpen(ctx, fs, args)
	if err != nil {
		return err
	}
	defer d.Close()
	ss, err := d.ListStores(ctx)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "AID\tNAME\tSUSPENDED\tRESULT URL\tALLOWED IPS\tALLOWED ORIGINS")
	for _, s := range ss {
		fmt.Fprintf(tw, "%s\t%s\t%v\t%s\t%s\t%s\n", s.AID, s.Name, s.Suspended, s.ResultURL, strings.Join(s.AllowIPs, ","), strings.Join(s.AllowOrigins, ","))
	}
	return tw.Flush()
}
