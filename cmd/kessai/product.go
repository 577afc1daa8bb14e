package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"kessai/internal/autocharge"
	"kessai/internal/store"
)

// cmdProduct is "kessai product create|list|update": the products a store sells by code (iid),
// one-off or with an auto-charge plan (wire.md §2.1, §2.2).
func cmdProduct(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return usageErr("kessai product create|list|update")
	}
	switch args[0] {
	case "create", "add":
		return productPut(ctx, true, args[1:], stdout, stderr)
	case "update", "set":
		return productPut(ctx, false, args[1:], stdout, stderr)
	case "list", "ls":
		return productList(ctx, args[1:], stdout, stderr)
	}
	return usageErr("unknown product command %q", args[0])
}

// productFlags are the flags of product create/update; every one is text, checked by
// autocharge.BuildProduct with the wire's error codes.
var productFlagHelp = map[string]string{
	"iid":  "product code, up to 32 letters, digits, - or _ (required)",
	"name": "product name (default: the code)",
	"am":   "amount in yen (0 allowed with a plan: the sign-up then charges nothing now)",
	"tx":   "tax in yen", "sf": "shipping in yen",
	"actp": "auto-charge cycle: 2 weekly, 3 fortnightly, 4 monthly, 5 two-monthly, 6 quarterly, 7 half-yearly, 8 yearly",
	"acam": "each recurring charge's amount", "actx": "each recurring charge's tax", "acsf": "each recurring charge's shipping",
	"ac1": "charge day: 0 unspecified, 1–30, 99 last day of the month",
	"ac3": "stop after N charges (0 never)", "ac4": "first charge date YYYY/MM/DD",
	"trtp": "trial: 2 N days, 3/5 until a date, 4 N months", "tr1": "trial days", "tr2": "trial months",
	"tr3": "trial end date YYYY/MM/DD", "tram": "amount at trial end", "trtx": "tax at trial end", "trsf": "shipping at trial end",
}

func productPut(ctx context.Context, create bool, args []string, stdout, stderr io.Writer) error {
	name := "product update"
	if create {
		name = "product create"
	}
	fs := newFlagSet(name, stderr)
	var dbf dbFlags
	dbf.register(fs)
	aid := fs.String("aid", "", "store ID, 6 digits (required)")
	names := append([]string{"iid", "name", "am", "tx", "sf"}, autocharge.ProductPlanParams...)
	vals := map[string]*string{}
	for _, n := range names {
		vals[n] = fs.String(n, "", productFlagHelp[n])
	}
	noPlan := fs.Bool("no-plan", false, "update: remove the product's auto-charge plan")
	if _, err := parseInterleaved(fs, args); err != nil {
		return err
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if !aidRe.MatchString(*aid) {
		return usageErr("--aid must be 6 digits")
	}
	if strings.TrimSpace(*vals["iid"]) == "" {
		return usageErr("--iid is required")
	}
	if create && !set["am"] {
		return usageErr("--am is required")
	}
	db, err := dbf.open(ctx)
	if err != nil {
		return err
	}
	defer db.Close()
	st, err := db.GetStore(ctx, *aid)
	if errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("no store %s", *aid)
	}
	if err != nil {
		return err
	}
	f := map[string]string{}
	if !create {
		old, err := db.GetProduct(ctx, st.AID, strings.TrimSpace(*vals["iid"]))
		if errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("store %s has no product %q (use product create)", st.AID, *vals["iid"])
		}
		if err != nil {
			return err
		}
		f["name"], f["am"], f["tx"], f["sf"] = old.Name, strconv.FormatInt(old.Am, 10), strconv.FormatInt(old.Tx, 10), strconv.FormatInt(old.Sf, 10)
		planGiven := false
		for _, n := range autocharge.ProductPlanParams {
			planGiven = planGiven || set[n]
		}
		if !*noPlan {
			for k, v := range autocharge.ProductPlanValues(old.Plan) {
				f[k] = v
			}
			if planGiven && set["trtp"] {
				// a new trial replaces the old one as a whole
				for _, n := range []string{"tr1", "tr2", "tr3", "tram", "trtx", "trsf"} {
					delete(f, n)
				}
			}
		}
	}
	for _, n := range names {
		if set[n] {
			f[n] = *vals[n]
		}
	}
	pr, errs := autocharge.BuildProduct(st, f, time.Now())
	if len(errs) > 0 {
		var msgs []string
		for _, e := range errs {
			msgs = append(msgs, fmt.Sprintf("--%s: %s %s (%s)", e.Field, e.Code, e.Code.Describe("en"), e.Msg))
		}
		return usageErr("%s", strings.Join(msgs, "; "))
	}
	if create {
		err = db.InsertProduct(ctx, pr)
		if errors.Is(err, store.ErrConflict) {
			return fmt.Errorf("store %s already has a product %q (use product update)", st.AID, pr.IID)
		}
	} else {
		err = db.PutProduct(ctx, pr)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "product %s of store %s saved: %s\n", pr.IID, pr.AID, describeProduct(pr))
	return nil
}

func describeProduct(pr *store.Product) string {
	s := fmt.Sprintf("am=%d tx=%d sf=%d", pr.Am, pr.Tx, pr.Sf)
	if pr.Plan != "" {
		s += " plan " + strings.ReplaceAll(pr.Plan, "&", " ")
	} else {
		s += " (one-off)"
	}
	return s
}

func productList(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("product list", stderr)
	var dbf dbFlags
	dbf.register(fs)
	aid := fs.String("aid", "", "store ID, 6 digits (required)")
	if _, err := parseInterleaved(fs, args); err != nil {
		return err
	}
	if !aidRe.MatchString(*aid) {
		return usageErr("--aid must be 6 digits")
	}
	db, err := dbf.open(ctx)
	if err != nil {
		return err
	}
	defer db.Close()
	ps, err := db.Products(ctx, *aid)
	if err != nil {
		return err
	}
	w := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "IID\tNAME\tAM\tTX\tSF\tPLAN")
	for _, p := range ps {
		plan := "-"
		if p.Plan != "" {
			plan = strings.ReplaceAll(p.Plan, "&", " ")
		}
		fmt.Fprintf(w, "%s\t%s\t%d\t%d\t%d\t%s\n", p.IID, p.Name, p.Am, p.Tx, p.Sf, plan)
	}
	return w.Flush()
}
