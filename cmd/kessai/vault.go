package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"kessai/internal/auth"
	"kessai/internal/store"
	"kessai/internal/vault"
)

// cmdVault rotates the card-data key: a new key becomes active, every stored card is re-encrypted
// under it, and the old key stays in the key file (for cards written by instances not yet
// restarted) until retired with --retire-old.
func cmdVault(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "rotate" {
		return usageErr("kessai vault rotate [--data DIR | --database-url URL] [--key-file FILE] [--retire-old]")
	}
	fs := newFlagSet("vault rotate", stderr)
	var db dbFlags
	db.register(fs)
	keyFile := fs.String("key-file", os.Getenv("KESSAI_VAULT_KEY_FILE"), "key file to rotate (default DATA/vault.key)")
	retire := fs.Bool("retire-old", false, "after re-encrypting, drop the previous keys from the file")
	if _, err := parseInterleaved(fs, args[1:]); err != nil {
		return err
	}
	if *keyFile == "" {
		if os.Getenv("KESSAI_VAULT_KEY") != "" {
			return usageErr("the key comes from KESSAI_VAULT_KEY, which this command cannot rewrite: move it to a key file (--vault-key-file) first")
		}
		*keyFile = filepath.Join(db.data, vault.KeyFileName)
	}
	kr, err := vault.LoadKeyRing("", *keyFile)
	if err != nil {
		return err
	}
	d, err := db.open(ctx)
	if err != nil {
		return err
	}
	defer d.Close()
	if check, err := d.Meta(ctx, "vault_check"); err == nil && check != "" {
		if err := kr.Verify(check); err != nil {
			return fmt.Errorf("%w: %s is not this database's key", err, *keyFile)
		}
	}
	old := kr.IDs()
	newID := kr.Rotate()
	// save first: if re-encryption stops half-way, every card is still readable with the file
	if err := kr.Save(*keyFile); err != nil {
		return err
	}
	n := 0
	err = d.AllCards(ctx, func(c *store.Card) error {
		s, err := kr.Reseal(vault.Sealed{KeyID: c.KeyID, Blob: c.Blob, First6: c.First6, Last4: c.Last4, Brand: c.Brand})
		if err != nil {
			return fmt.Errorf("card %d: %w", c.ID, err)
		}
		n++
		return d.Tx(ctx, func(tx *store.Tx) error { return tx.ResealCard(c.ID, s.KeyID, s.Blob) })
	})
	if err != nil {
		return err
	}
	// two-step sign-in secrets are sealed by the same key ring: re-seal them too, so retiring the
	// old keys never locks anyone out
	nm := 0
	err = d.AllMFA(ctx, func(m *store.MFA) error {
		id, blob, err := kr.ResealSecret(auth.SecretPurpose(m.Kind, m.Principal), m.KeyID, m.Secret)
		if err != nil {
			return fmt.Errorf("two-step sign-in secret of %s %d: %w", m.Kind, m.Principal, err)
		}
		nm++
		return d.ResealMFA(ctx, m.Kind, m.Principal, id, blob)
	})
	if err != nil {
		return err
	}
	if *retire {
		for _, id := range old {
			if err := kr.Retire(id); err != nil {
				return err
			}
		}
		if err := kr.Save(*keyFile); err != nil {
			return err
		}
	}
	fmt.Fprintf(stdout, "rotated to key %s; re-encrypted %d cards and %d two-step sign-in secrets; keys in file: %v\n", newID, n, nm, kr.IDs())
	return nil
}

func cmdMigrate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("migrate", stderr)
	var db dbFlags
	db.register(fs)
	d, _, err := db.parseOpen(ctx, fs, args)
	if err != nil {
		return err
	}
	defer d.Close()
	fmt.Fprintf(stdout, "schema at version %d (%s, %s)\n", store.SchemaVersion(), d.Dialect, d.Where)
	return nil
}
