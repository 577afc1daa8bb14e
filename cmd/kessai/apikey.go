package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"kessai/internal/api"
	"kessai/internal/store"
)

// cmdAPIKey manages store API keys, which authenticate the JSON API (never the control panel).
func cmdAPIKey(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return usageErr("kessai apikey create|list|revoke")
	}
	switch args[0] {
	case "create", "add":
		return apikeyCreate(ctx, args[1:], stdout, stderr)
	case "list", "ls":
		return apikeyList(ctx, args[1:], stdout, stderr)
	case "revoke":
		return apikeyRevoke(ctx, args[1:], stdout, stderr)
	}
	return usageErr("unknown apikey command %q", args[0])
}

func apikeyCreate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("apikey create", stderr)
	var db dbFlags
	db.register(fs)
	aid := fs.String("aid", "", "store ID (6 digits)")
	name := fs.String("name", "", "what the key is for, e.g. ci or laptop (1–64 characters)")
	d, _, err := db.parseOpen(ctx, fs, args)
	if err != nil {
		return err
	}
	defer d.Close()
	if *aid == "" {
		return usageErr("give --aid")
	}
	if err := api.CheckName(*name); err != nil {
		return usageErr("--name: %v", err)
	}
	if _, err := d.GetStore(ctx, *aid); errors.Is(err, store.ErrNotFound) {
		return usageErr("no store %s", *aid)
	} else if err != nil {
		return err
	}
	now := time.Now()
	text, k := api.NewKey(*aid, strings.TrimSpace(*name), "cli", now)
	if err := d.CreateAPIKey(ctx, k, store.AuditEntry{At: now, Actor: "cli", AID: *aid, Action: "apikey.create",
		Detail: fmt.Sprintf("name=%s prefix=%s", k.Name, k.Prefix), Remote: "cli"}); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "API key %d %q for store %s — shown once, keep it secret (only its hash is stored):\n", k.ID, k.Name, *aid)
	fmt.Fprintln(stdout, text)
	return nil
}

func apikeyList(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("apikey list", stderr)
	var db dbFlags
	db.register(fs)
	aid := fs.String("aid", "", "store ID (6 digits)")
	d, _, err := db.parseOpen(ctx, fs, args)
	if err != nil {
		return err
	}
	defer d.Close()
	if *aid == "" {
		return usageErr("give --aid")
	}
	ks, err := d.APIKeys(ctx, *aid)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(stdout, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tNAME\tKEY\tCREATED\tLAST USED\tSTATE")
	ts := func(t time.Time) string {
		if t.IsZero() {
			return "-"
		}
		return t.Local().Format("2006-01-02 15:04")
	}
	for _, k := range ks {
		state := "active"
		if k.Revoked() {
			state = "revoked " + ts(k.RevokedAt)
		}
		fmt.Fprintf(tw, "%d\t%s\t%s…\t%s\t%s\t%s\n", k.ID, k.Name, k.Prefix, ts(k.CreatedAt), ts(k.LastUsedAt), state)
	}
	return tw.Flush()
}

func apikeyRevoke(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("apikey revoke", stderr)
	var db dbFlags
	db.register(fs)
	aid := fs.String("aid", "", "store ID (6 digits)")
	d, pos, err := db.parseOpen(ctx, fs, args)
	if err != nil {
		return err
	}
	defer d.Close()
	if *aid == "" || len(pos) != 1 {
		return usageErr("kessai apikey revoke --aid NNNNNN ID")
	}
	id, err := strconv.ParseInt(pos[0], 10, 64)
	if err != nil {
		return usageErr("%q is not a key ID (see kessai apikey list)", pos[0])
	}
	now := time.Now()
	err = d.RevokeAPIKey(ctx, *aid, id, now, store.AuditEntry{At: now, Actor: "cli", AID: *aid, Action: "apikey.revoke",
		Detail: fmt.Sprintf("id=%d", id), Remote: "cli"})
	if errors.Is(err, store.ErrNotFound) {
		return usageErr("store %s has no active key %d", *aid, id)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "revoked API key %d of store %s\n", id, *aid)
	return nil
}
