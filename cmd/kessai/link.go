package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"kessai/internal/store"
	"kessai/internal/vault"
	"kessai/internal/web/link"
)

const linkUsage = "kessai link create --aid NNNNNN (--am N [--tx N] [--sf N] | --iid CODE | --jb CHECK) [--expires DURATION] [--base-url URL]"

// cmdLink is "kessai link create": a mail-payment link (wire.md §9) whose mailauthckey the server
// verifies. The key is made with the vault's key, so this command reads the same key the server
// does (KESSAI_VAULT_KEY, --vault-key-file, or DATA/vault.key in the sandbox).
func cmdLink(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "create" {
		return usageErr(linkUsage)
	}
	fs := newFlagSet("link create", stderr)
	var dbf dbFlags
	dbf.register(fs)
	aid := fs.String("aid", "", "store ID (6 digits)")
	am := fs.String("am", "", "amount in yen")
	tx := fs.String("tx", "", "tax in yen")
	sf := fs.String("sf", "", "shipping in yen")
	iid := fs.String("iid", "", "code of a registered product (its price, and its auto-charge plan if it has one)")
	jb := fs.String("jb", "", "CHECK: a card check that charges nothing")
	page := fs.String("page", "creditcard", "the page the link opens: creditcard, convenience (コンビニ) or bankcheck (銀行振込)")
	expires := fs.String("expires", "30d", "how long the link works: a duration (72h) or days (30d), at most 366d")
	base := fs.String("base-url", "http://127.0.0.1:8080", "the server's public address, scheme://host[:port]")
	keyFile := fs.String("vault-key-file", os.Getenv("KESSAI_VAULT_KEY_FILE"), "vault key file (else KESSAI_VAULT_KEY, else DATA/vault.key in the sandbox)")
	if _, err := parseInterleaved(fs, args[1:]); err != nil {
		return err
	}
	if len(*aid) != 6 || strings.Trim(*aid, "0123456789") != "" {
		return usageErr("--aid: a 6-digit store ID is required (%s)", linkUsage)
	}
	o := link.MailOrder{AID: *aid}
	kinds := 0
	if *am != "" {
		kinds++
	}
	if *iid != "" {
		kinds++
		o.IID = *iid
	}
	if *jb != "" {
		if !strings.EqualFold(*jb, "CHECK") {
			return usageErr("--jb: only CHECK (a card check) can be sent as a link")
		}
		kinds++
		o.Check = true
	}
	if kinds != 1 {
		return usageErr("give exactly one of --am, --iid or --jb CHECK (%s)", linkUsage)
	}
	if (*tx != "" || *sf != "") && *am == "" {
		return usageErr("--tx and --sf go with --am")
	}
	if *am != "" {
		var err error
		if o.Am, err = yenFlag("am", *am, 1); err != nil {
			return err
		}
		if o.Tx, err = yenFlag("tx", *tx, 0); err != nil {
			return err
		}
		if o.Sf, err = yenFlag("sf", *sf, 0); err != nil {
			return err
		}
	}
	ttl, err := link.ParseTTL(*expires)
	if err != nil {
		return usageErr("--expires %q: %v", *expires, err)
	}
	if !strings.HasPrefix(*base, "http://") && !strings.HasPrefix(*base, "https://") {
		return usageErr("--base-url %q: want http://… or https://…", *base)
	}
	db, err := dbf.open(ctx)
	if err != nil {
		return err
	}
	defer db.Close()
	st, err := db.GetStore(ctx, *aid)
	if errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("store %s does not exist", *aid)
	}
	if err != nil {
		return err
	}
	if o.IID != "" {
		if _, err := db.GetProduct(ctx, st.AID, o.IID); errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("store %s has no product %q", st.AID, o.IID)
		} else if err != nil {
			return err
		}
	}
	kr, err := linkKeyRing(ctx, db, dbf, *keyFile)
	if err != nil {
		return err
	}
	exp := time.Now().Add(ttl)
	if *page != "creditcard" && *page != "convenience" && *page != "bankcheck" {
		return usageErr("--page must be creditcard, convenience or bankcheck")
	}
	if *page != "creditcard" && o.Check {
		return usageErr("--jb CHECK is for the card page")
	}
	fmt.Fprintln(stdout, link.MailLinkTo(kr, *base, "/link/"+*page, o.Params(), exp))
	fmt.Fprintf(stdout, "store %s (%s), valid until %s\n", st.AID, st.Name, exp.In(time.FixedZone("JST", 9*3600)).Format("2006-01-02 15:04 JST"))
	return nil
}

func yenFlag(name, v string, min int64) (int64, error) {
	if v == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < min || n > 99999999 {
		return 0, usageErr("--%s %q: whole yen, %d to 99999999", name, v, min)
	}
	return n, nil
}

// linkKeyRing loads the vault key as the server does, and checks it is this database's.
func linkKeyRing(ctx context.Context, db *store.DB, dbf dbFlags, keyFile string) (*vault.KeyRing, error) {
	var kr *vault.KeyRing
	var err error
	switch {
	case os.Getenv("KESSAI_VAULT_KEY") != "" || keyFile != "":
		kr, err = vault.LoadKeyRing(os.Getenv("KESSAI_VAULT_KEY"), keyFile)
	case db.Dialect == store.SQLite:
		kr, _, err = vault.LoadOrCreate(dbf.data, "")
	default:
		return nil, errors.New("PostgreSQL needs the shared vault key: set KESSAI_VAULT_KEY or --vault-key-file")
	}
	if err != nil {
		return nil, fmt.Errorf("vault key (%s): %w", filepath.Join(dbf.data, vault.KeyFileName), err)
	}
	if check, err := db.Meta(ctx, "vault_check"); err == nil && check != "" {
		if err := kr.Verify(check); err != nil {
			return nil, err
		}
	}
	return kr, nil
}
