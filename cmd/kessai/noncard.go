package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"kessai/internal/acquirer"
	"kessai/internal/clock"
	"kessai/internal/maintenance"
	"kessai/internal/noncard"
	"kessai/internal/payment"
	"kessai/internal/store"
)

// methodFlags are store create/update's settings of the payment methods (store_methods).
type methodFlags struct {
	methods, chains           string
	cvsDays, bankDays         int
	expiryNotice, holidayHold bool
}

func (m *methodFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&m.methods, "methods", "card", "payment methods the store is contracted for: card,cvs,bank")
	fs.StringVar(&m.chains, "chains", "", "convenience-store chains taken (cv codes, e.g. 010,020; empty = all)")
	fs.IntVar(&m.cvsDays, "cvs-days", 14, "days a convenience-store slip stays payable (deadline 23:59:59 JST)")
	fs.IntVar(&m.bankDays, "bank-days", 14, "days a bank-transfer account takes money (deadline 23:59:59 JST)")
	fs.BoolVar(&m.expiryNotice, "expiry-notice", false, "send a kickback (rst=2, ap=CVS_EXP/BAN_EXP, ec=ER166) when a slip expires")
	fs.BoolVar(&m.holidayHold, "holiday-hold", true, "hold bank notices on Japanese public holidays to the next business day")
}

// save writes the method settings given on the command line (all of them on create).
func (m *methodFlags) save(ctx context.Context, d *store.DB, aid string, set map[string]bool, create bool) error {
	cur, err := d.GetStoreMethods(ctx, aid)
	if err != nil {
		return err
	}
	changed := create
	if set["methods"] {
		cur.Methods = nil
		for _, x := range strings.Split(m.methods, ",") {
			switch x = strings.ToLower(strings.TrimSpace(x)); x {
			case "":
			case store.MethodCard, store.MethodCVS, store.MethodBank:
				cur.Methods = append(cur.Methods, x)
			default:
				return usageErr("--methods: unknown method %q (card, cvs, bank)", x)
			}
		}
		changed = true
	}
	if set["chains"] {
		cur.Chains = nil
		for _, x := range strings.Split(m.chains, ",") {
			if x = strings.TrimSpace(x); x == "" {
				continue
			}
			if _, ok := acquirer.ChainByCode(x); !ok {
				return usageErr("--chains: unknown chain %q", x)
			}
			cur.Chains = append(cur.Chains, x)
		}
		changed = true
	}
	for name, dst := range map[string]*int{"cvs-days": &cur.CVSDays, "bank-days": &cur.BankDays} {
		if set[name] {
			v := map[string]int{"cvs-days": m.cvsDays, "bank-days": m.bankDays}[name]
			if v < 1 || v > 60 {
				return usageErr("--%s must be 1…60", name)
			}
			*dst, changed = v, true
		}
	}
	if set["expiry-notice"] {
		cur.ExpiryNotice, changed = m.expiryNotice, true
	}
	if set["holiday-hold"] {
		cur.HolidayHold, changed = m.holidayHold, true
	}
	if !changed {
		return nil
	}
	return d.PutStoreMethods(ctx, cur)
}

// cmdSandbox drives the sandbox chain network and bank: kessai sandbox pay|cancel|transfer|expire
// GID. The change and its kickback are written to the database (the outbox); a running server
// delivers the kickback.
func cmdSandbox(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return usageErr("kessai sandbox pay|cancel|transfer|expire GID [--amount N]")
	}
	action := args[0]
	kinds := map[string]noncard.Kind{"pay": noncard.Paid, "cancel": noncard.ChainCancel, "transfer": noncard.Transfer, "expire": noncard.Expire}
	kind, ok := kinds[action]
	if !ok {
		return usageErr("unknown sandbox action %q (pay, cancel, transfer, expire)", action)
	}
	fs := newFlagSet("sandbox "+action, stderr)
	var db dbFlags
	db.register(fs)
	amount := fs.Int64("amount", -1, "yen arriving (transfer; default: the amount billed)")
	at := fs.String("at", "", "the instant it happens, RFC3339: match a server running on a sandbox clock (serve --clock)")
	pos, err := parseInterleaved(fs, args[1:])
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usageErr("kessai sandbox %s GID", action)
	}
	if (acquirer.Sandbox{}).Name() != "sandbox" {
		return errors.New("sandbox actions need the sandbox acquirer")
	}
	d, err := db.open(ctx)
	if err != nil {
		return err
	}
	defer d.Close()
	ws, err := d.Windows(ctx)
	if err != nil {
		return err
	}
	var clk clock.Clock = clock.Real{}
	if *at != "" {
		t, err := time.Parse(time.RFC3339, *at)
		if err != nil {
			return usageErr("--at %q is not RFC3339 (e.g. 2026-03-10T10:00:00+09:00)", *at)
		}
		clk = clock.NewFixed(t)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	pay := payment.New(d, nil, acquirer.Sandbox{}, clk, log)
	svc := &noncard.Service{DB: d, Pay: pay, Clock: clk, Maint: maintenance.NewIndex(ws), Sandbox: true, Log: log}
	gid := store.CanonicalID(pos[0])
	amt := int64(0)
	if kind == noncard.Transfer {
		sl, err := d.GetSlip(ctx, gid)
		if err != nil {
			return fmt.Errorf("no convenience-store or bank payment %s", pos[0])
		}
		amt = sl.Billed
		if *amount >= 0 {
			amt = *amount
		}
		if amt <= 0 {
			return usageErr("--amount must be positive")
		}
	}
	out, err := svc.Apply(ctx, "", gid, kind, amt, "sandbox-cli")
	switch {
	case errors.Is(err, noncard.ErrNoChange):
		fmt.Fprintf(stdout, "%s: nothing changed, the payment is %s\n", gid, out.To)
		return nil
	case errors.Is(err, noncard.ErrDeadline):
		fmt.Fprintf(stdout, "%s: the deadline had passed: refused, the payment is now expired\n", gid)
		return nil
	case errors.Is(err, noncard.ErrFurtherTransfer):
		fmt.Fprintf(stdout, "%s: already paid: %d more recorded on the payment (received %d of %d), no kickback\n", gid, amt, out.Slip.Received, out.Slip.Billed)
		return nil
	case err != nil:
		return err
	}
	fmt.Fprintf(stdout, "%s: %s → %s", gid, out.From, out.To)
	if out.Slip.Mf != "" && kind == noncard.Transfer {
		fmt.Fprintf(stdout, " (received %d of %d, mf=%s)", out.Slip.Received, out.Slip.Billed, out.Slip.Mf)
	}
	if out.Notified {
		fmt.Fprintf(stdout, "; kickback queued for %s", out.NotifyAt.In(noncard.JST).Format("2006-01-02 15:04:05 MST"))
	}
	fmt.Fprintln(stdout)
	return nil
}
