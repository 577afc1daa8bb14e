package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"text/tabwriter"
	"time"

	"kessai/internal/autocharge"
	"kessai/internal/clock"
	"kessai/internal/server"
	"kessai/internal/store"
)

// cmdAutoCharge is "kessai autocharge list|run": look at plans, or settle what is due now without a
// server (the server's runner does this by itself; "run" is for operators and rehearsals).
func cmdAutoCharge(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return usageErr("kessai autocharge list|run")
	}
	switch args[0] {
	case "list", "ls":
		return acList(ctx, args[1:], stdout, stderr)
	case "run":
		return acRun(ctx, args[1:], stdout, stderr)
	}
	return usageErr("unknown autocharge command %q", args[0])
}

func acList(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("autocharge list", stderr)
	var dbf dbFlags
	dbf.register(fs)
	aid := fs.String("aid", "", "only this store's plans")
	status := fs.String("status", "", "only plans in this status: active | stopped | failed | completed")
	limit := fs.Int("limit", 100, "at most this many plans, newest first")
	if _, err := parseInterleaved(fs, args); err != nil {
		return err
	}
	db, err := dbf.open(ctx)
	if err != nil {
		return err
	}
	defer db.Close()
	as, err := db.ListAutoCharges(ctx, store.AutoChargeFilter{AID: *aid, Status: *status, Limit: *limit})
	if err != nil {
		return err
	}
	w := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "ACID\tAID\tSTATUS\tCYCLE\tAMOUNT\tNEXT\tCHARGES\tFAILURES\tCOD")
	for _, a := range as {
		next := "-"
		if a.Status == store.ACActive {
			next = a.NextAt.In(autocharge.JST).Format("2006-01-02 15:04")
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%d\t%s\t%d\t%d\t%s\n", a.Acid, a.AID, a.Status, autocharge.Cycle(a.Cycle).Name("en"),
			a.Am+a.Tx+a.Sf, next, a.Charges, a.Failures, a.Cod)
	}
	return w.Flush()
}

func acRun(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("autocharge run", stderr)
	var dbf dbFlags
	dbf.register(fs)
	at := fs.String("at", "", "sandbox only: settle what is due at this RFC3339 instant instead of now")
	keyFile := fs.String("vault-key-file", os.Getenv("KESSAI_VAULT_KEY_FILE"), "vault key file (else KESSAI_VAULT_KEY, else DATA/vault.key in the sandbox)")
	if _, err := parseInterleaved(fs, args); err != nil {
		return err
	}
	cfg := server.Config{DataDir: dbf.data, DatabaseURL: dbf.url, Clock: clock.Real{}, VaultKeyEnv: os.Getenv("KESSAI_VAULT_KEY"),
		VaultKeyFile: *keyFile, Log: slog.New(server.NewRedactingHandler(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn})))}
	if *at != "" {
		t, err := time.Parse(time.RFC3339, *at)
		if err != nil {
			return usageErr("--at %q is not RFC3339", *at)
		}
		cfg.Clock, cfg.SandboxClock = clock.NewSandbox(t, 1), true
	}
	s, err := server.New(ctx, cfg)
	if err != nil {
		return err
	}
	defer s.Close()
	r := &autocharge.Runner{Svc: s.AutoCharges(), Maint: s.Maint}
	if r.Paused(cfg.Clock.Now()) {
		fmt.Fprintln(stdout, "a maintenance window covers auto-charge now: nothing run")
		return nil
	}
	o, err := r.RunOnce(ctx)
	fmt.Fprintf(stdout, "charged %d, declined %d, left for later %d (kickbacks are queued for the server to deliver)\n", o.Charged, o.Declined, o.Skipped)
	return err
}
