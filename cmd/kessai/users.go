package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"regexp"
	"strings"
	"text/tabwriter"

	"kessai/internal/auth"
	"kessai/internal/clock"
	"kessai/internal/store"
)

// cmdUser manages merchant control-panel users.
func cmdUser(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return usageErr("kessai user create|list|passwd|mfa-reset")
	}
	switch args[0] {
	case "create", "add":
		return userCreate(ctx, args[1:], stdout, stderr)
	case "list", "ls":
		return userList(ctx, args[1:], stdout, stderr)
	case "passwd", "password":
		return userPasswd(ctx, args[1:], stdout, stderr)
	case "mfa-reset":
		return userMFAReset(ctx, args[1:], stdout, stderr)
	}
	return usageErr("unknown user command %q", args[0])
}

// cmdOperator manages operator-console accounts.
func cmdOperator(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return usageErr("kessai operator create|passwd|mfa-reset")
	}
	switch args[0] {
	case "create", "add":
		return operatorCreate(ctx, args[1:], stdout, stderr)
	case "passwd", "password":
		return operatorPasswd(ctx, args[1:], stdout, stderr)
	case "mfa-reset":
		return operatorMFAReset(ctx, args[1:], stdout, stderr)
	}
	return usageErr("unknown operator command %q", args[0])
}

// passwordFlags reads a password from --password or, better for shell history, --password-stdin.
type passwordFlags struct {
	pw    string
	stdin bool
}

func (p *passwordFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&p.pw, "password", "", "the password (prefer --password-stdin: command lines are visible to other users)")
	fs.BoolVar(&p.stdin, "password-stdin", false, "read the password from the first line of standard input")
}

func (p *passwordFlags) hash() (string, error) {
	pw := p.pw
	if p.stdin {
		line, err := bufio.NewReader(os.Stdin).ReadString('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return "", err
		}
		pw = strings.TrimRight(line, "\r\n")
	}
	if pw == "" {
		return "", usageErr("give --password or --password-stdin")
	}
	if err := auth.CheckPasswordPolicy(pw); err != nil {
		return "", usageErr("%v", err)
	}
	return auth.HashPassword(pw)
}

func userCreate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("user create", stderr)
	var db dbFlags
	db.register(fs)
	aid := fs.String("aid", "", "store ID, 6 digits (required)")
	login := fs.String("login", "", "login ID (required)")
	role := fs.String("role", store.RoleAdmin, "admin (acts and changes settings) | viewer (looks only)")
	var pw passwordFlags
	pw.register(fs)
	if _, err := parseInterleaved(fs, args); err != nil {
		return err
	}
	if !aidRe.MatchString(*aid) {
		return usageErr("--aid must be 6 digits, got %q", *aid)
	}
	if !loginRe.MatchString(*login) {
		return usageErr("--login must be 1-64 letters, digits or . _ @ -")
	}
	if *role != store.RoleAdmin && *role != store.RoleViewer {
		return usageErr("--role must be admin or viewer")
	}
	hash, err := pw.hash()
	if err != nil {
		return err
	}
	d, err := db.open(ctx)
	if err != nil {
		return err
	}
	defer d.Close()
	err = d.CreateUser(ctx, &store.User{AID: *aid, Login: *login, PwHash: hash, Role: *role})
	if errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("no store %s (create it with kessai store create)", *aid)
	}
	if err != nil {
		return err
	}
	_ = d.Audit(ctx, store.AuditEntry{Actor: "cli", AID: *aid, Action: "user.create", Detail: "login=" + *login + " role=" + *role})
	fmt.Fprintf(stdout, "created %s user %s of store %s\n", *role, *login, *aid)
	return nil
}

func userList(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("user list", stderr)
	var db dbFlags
	db.register(fs)
	aid := fs.String("aid", "", "store ID, 6 digits (required)")
	if _, err := parseInterleaved(fs, args); err != nil {
		return err
	}
	if !aidRe.MatchString(*aid) {
		return usageErr("--aid must be 6 digits, got %q", *aid)
	}
	d, err := db.open(ctx)
	if err != nil {
		return err
	}
	defer d.Close()
	us, err := d.Users(ctx, *aid)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "LOGIN\tROLE\tLOCKED UNTIL\tCREATED")
	for _, u := range us {
		locked := "-"
		if !u.LockedUntil.IsZero() {
			locked = u.LockedUntil.Format("2006-01-02 15:04:05Z07:00")
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", u.Login, u.Role, locked, u.CreatedAt.Format("2006-01-02 15:04"))
	}
	return tw.Flush()
}

func userPasswd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("user passwd", stderr)
	var db dbFlags
	db.register(fs)
	aid := fs.String("aid", "", "store ID (required)")
	login := fs.String("login", "", "login ID (required)")
	var pw passwordFlags
	pw.register(fs)
	if _, err := parseInterleaved(fs, args); err != nil {
		return err
	}
	if *aid == "" || *login == "" {
		return usageErr("--aid and --login are required")
	}
	hash, err := pw.hash()
	if err != nil {
		return err
	}
	d, err := db.open(ctx)
	if err != nil {
		return err
	}
	defer d.Close()
	u, err := d.UserByLogin(ctx, *aid, *login)
	if errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("no user %s in store %s", *login, *aid)
	}
	if err != nil {
		return err
	}
	if err := d.SetUserPassword(ctx, *aid, u.ID, hash); err != nil {
		return err
	}
	_ = d.Audit(ctx, store.AuditEntry{Actor: "cli", AID: *aid, Action: "user.password", Detail: "login=" + *login})
	fmt.Fprintf(stdout, "password of %s (store %s) changed; the account is unlocked and signed out everywhere\n", *login, *aid)
	return nil
}

func operatorCreate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("operator create", stderr)
	var db dbFlags
	db.register(fs)
	login := fs.String("login", "", "login ID (required)")
	var pw passwordFlags
	pw.register(fs)
	if _, err := parseInterleaved(fs, args); err != nil {
		return err
	}
	if !loginRe.MatchString(*login) {
		return usageErr("--login must be 1-64 letters, digits or . _ @ -")
	}
	hash, err := pw.hash()
	if err != nil {
		return err
	}
	d, err := db.open(ctx)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.CreateOperator(ctx, &store.Operator{Login: *login, PwHash: hash}); err != nil {
		return err
	}
	_ = d.Audit(ctx, store.AuditEntry{Actor: "cli", Action: "operator.create", Detail: "login=" + *login})
	fmt.Fprintf(stdout, "created operator %s\n", *login)
	return nil
}

func operatorPasswd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("operator passwd", stderr)
	var db dbFlags
	db.register(fs)
	login := fs.String("login", "", "login ID (required)")
	var pw passwordFlags
	pw.register(fs)
	if _, err := parseInterleaved(fs, args); err != nil {
		return err
	}
	hash, err := pw.hash()
	if err != nil {
		return err
	}
	d, err := db.open(ctx)
	if err != nil {
		return err
	}
	defer d.Close()
	o, err := d.OperatorByLogin(ctx, *login)
	if errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("no operator %s", *login)
	}
	if err != nil {
		return err
	}
	if err := d.SetOperatorPassword(ctx, o.ID, hash); err != nil {
		return err
	}
	_ = d.Audit(ctx, store.AuditEntry{Actor: "cli", Action: "operator.password", Detail: "login=" + *login})
	fmt.Fprintf(stdout, "password of operator %s changed\n", *login)
	return nil
}

var loginRe = regexp.MustCompile(`^[A-Za-z0-9._@-]{1,64}$`)

// userMFAReset removes a panel user's second factor (lost phone and recovery codes) and signs the
// user out everywhere; the audit log records it with the reason.
func userMFAReset(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("user mfa-reset", stderr)
	var db dbFlags
	db.register(fs)
	aid := fs.String("aid", "", "store ID (required)")
	login := fs.String("login", "", "login ID (required)")
	reason := fs.String("reason", "", "why, for the audit log (required)")
	if _, err := parseInterleaved(fs, args); err != nil {
		return err
	}
	if *aid == "" || *login == "" || strings.TrimSpace(*reason) == "" {
		return usageErr("--aid, --login and --reason are required")
	}
	d, err := db.open(ctx)
	if err != nil {
		return err
	}
	defer d.Close()
	u, err := d.UserByLogin(ctx, *aid, *login)
	if errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("no user %s in store %s", *login, *aid)
	}
	if err != nil {
		return err
	}
	had, err := auth.NewAuthenticator(d, clock.Real{}).Reset(ctx, &auth.Account{Kind: store.SessionMerchant, ID: u.ID, AID: u.AID, Login: u.Login, Role: u.Role},
		"cli", strings.TrimSpace(*reason), "")
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s (store %s): %s; signed out everywhere\n", *login, *aid, resetWord(had))
	return nil
}

// operatorMFAReset removes an operator's second factor and signs the operator out everywhere.
func operatorMFAReset(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("operator mfa-reset", stderr)
	var db dbFlags
	db.register(fs)
	login := fs.String("login", "", "login ID (required)")
	reason := fs.String("reason", "", "why, for the audit log (required)")
	if _, err := parseInterleaved(fs, args); err != nil {
		return err
	}
	if *login == "" || strings.TrimSpace(*reason) == "" {
		return usageErr("--login and --reason are required")
	}
	d, err := db.open(ctx)
	if err != nil {
		return err
	}
	defer d.Close()
	o, err := d.OperatorByLogin(ctx, *login)
	if errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("no operator %s", *login)
	}
	if err != nil {
		return err
	}
	had, err := auth.NewAuthenticator(d, clock.Real{}).Reset(ctx, &auth.Account{Kind: store.SessionOperator, ID: o.ID, Login: o.Login},
		"cli", strings.TrimSpace(*reason), "")
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "operator %s: %s; signed out everywhere\n", *login, resetWord(had))
	return nil
}

func resetWord(had bool) string {
	if had {
		return "two-step sign-in reset (a new one is set up at the next sign-in when required)"
	}
	return "had no second factor"
}
