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

// accountFlags are the flags the user and operator subcommands share: the database's, the
// account's store (--aid, panel users only) and --login, and what the subcommand needs besides
// (a password, or the reason for the audit log).
type accountFlags struct {
	fs     *flag.FlagSet
	db     dbFlags
	aid    string
	login  string
	reason string
	pw     passwordFlags
}

// The flags an account subcommand has, besides the database's.
const (
	flagAID      = 1 << iota // --aid: the panel user's store
	flagLogin                // --login
	flagPassword             // --password / --password-stdin
	flagReason               // --reason, for the audit log
)

// newAccountFlags declares the flags of subcommand name (e.g. "user passwd") that has names.
func newAccountFlags(name string, stderr io.Writer, has int) *accountFlags {
	a := &accountFlags{fs: newFlagSet(name, stderr)}
	a.db.register(a.fs)
	if has&flagAID != 0 {
		a.fs.StringVar(&a.aid, "aid", "", "store ID, 6 digits (required)")
	}
	if has&flagLogin != 0 {
		a.fs.StringVar(&a.login, "login", "", "login ID (required)")
	}
	if has&flagPassword != 0 {
		a.pw.register(a.fs)
	}
	if has&flagReason != 0 {
		a.fs.StringVar(&a.reason, "reason", "", "why, for the audit log (required)")
	}
	return a
}

func (a *accountFlags) parse(args []string) error {
	_, err := parseInterleaved(a.fs, args)
	return err
}

// user reads the panel user named by --aid and --login.
func (a *accountFlags) user(ctx context.Context, d *store.DB) (*store.User, error) {
	u, err := d.UserByLogin(ctx, a.aid, a.login)
	if errors.Is(err, store.ErrNotFound) {
		return nil, fmt.Errorf("no user %s in store %s", a.login, a.aid)
	}
	return u, err
}

// operator reads the operator named by --login.
func (a *accountFlags) operator(ctx context.Context, d *store.DB) (*store.Operator, error) {
	o, err := d.OperatorByLogin(ctx, a.login)
	if errors.Is(err, store.ErrNotFound) {
		return nil, fmt.Errorf("no operator %s", a.login)
	}
	return o, err
}

func userCreate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	a := newAccountFlags("user create", stderr, flagAID|flagLogin|flagPassword)
	role := a.fs.String("role", store.RoleAdmin, "admin (acts and changes settings) | viewer (looks only)")
	if err := a.parse(args); err != nil {
		return err
	}
	if !aidRe.MatchString(a.aid) {
		return usageErr("--aid must be 6 digits, got %q", a.aid)
	}
	if !loginRe.MatchString(a.login) {
		return usageErr("--login must be 1-64 letters, digits or . _ @ -")
	}
	if *role != store.RoleAdmin && *role != store.RoleViewer {
		return usageErr("--role must be admin or viewer")
	}
	hash, err := a.pw.hash()
	if err != nil {
		return err
	}
	d, err := a.db.open(ctx)
	if err != nil {
		return err
	}
	defer d.Close()
	err = d.CreateUser(ctx, &store.User{AID: a.aid, Login: a.login, PwHash: hash, Role: *role})
	if errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("no store %s (create it with kessai store create)", a.aid)
	}
	if err != nil {
		return err
	}
	_ = d.Audit(ctx, store.AuditEntry{Actor: "cli", AID: a.aid, Action: "user.create", Detail: "login=" + a.login + " role=" + *role})
	fmt.Fprintf(stdout, "created %s user %s of store %s\n", *role, a.login, a.aid)
	return nil
}

func userList(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	a := newAccountFlags("user list", stderr, flagAID)
	if err := a.parse(args); err != nil {
		return err
	}
	if !aidRe.MatchString(a.aid) {
		return usageErr("--aid must be 6 digits, got %q", a.aid)
	}
	d, err := a.db.open(ctx)
	if err != nil {
		return err
	}
	defer d.Close()
	us, err := d.Users(ctx, a.aid)
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
	a := newAccountFlags("user passwd", stderr, flagAID|flagLogin|flagPassword)
	if err := a.parse(args); err != nil {
		return err
	}
	if a.aid == "" || a.login == "" {
		return usageErr("--aid and --login are required")
	}
	hash, err := a.pw.hash()
	if err != nil {
		return err
	}
	d, err := a.db.open(ctx)
	if err != nil {
		return err
	}
	defer d.Close()
	u, err := a.user(ctx, d)
	if err != nil {
		return err
	}
	if err := d.SetUserPassword(ctx, a.aid, u.ID, hash); err != nil {
		return err
	}
	_ = d.Audit(ctx, store.AuditEntry{Actor: "cli", AID: a.aid, Action: "user.password", Detail: "login=" + a.login})
	fmt.Fprintf(stdout, "password of %s (store %s) changed; the account is unlocked and signed out everywhere\n", a.login, a.aid)
	return nil
}

func operatorCreate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	a := newAccountFlags("operator create", stderr, flagLogin|flagPassword)
	if err := a.parse(args); err != nil {
		return err
	}
	if !loginRe.MatchString(a.login) {
		return usageErr("--login must be 1-64 letters, digits or . _ @ -")
	}
	hash, err := a.pw.hash()
	if err != nil {
		return err
	}
	d, err := a.db.open(ctx)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.CreateOperator(ctx, &store.Operator{Login: a.login, PwHash: hash}); err != nil {
		return err
	}
	_ = d.Audit(ctx, store.AuditEntry{Actor: "cli", Action: "operator.create", Detail: "login=" + a.login})
	fmt.Fprintf(stdout, "created operator %s\n", a.login)
	return nil
}

func operatorPasswd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	a := newAccountFlags("operator passwd", stderr, flagLogin|flagPassword)
	if err := a.parse(args); err != nil {
		return err
	}
	hash, err := a.pw.hash()
	if err != nil {
		return err
	}
	d, err := a.db.open(ctx)
	if err != nil {
		return err
	}
	defer d.Close()
	o, err := a.operator(ctx, d)
	if err != nil {
		return err
	}
	if err := d.SetOperatorPassword(ctx, o.ID, hash); err != nil {
		return err
	}
	_ = d.Audit(ctx, store.AuditEntry{Actor: "cli", Action: "operator.password", Detail: "login=" + a.login})
	fmt.Fprintf(stdout, "password of operator %s changed\n", a.login)
	return nil
}

var loginRe = regexp.MustCompile(`^[A-Za-z0-9._@-]{1,64}$`)

// userMFAReset removes a panel user's second factor (lost phone and recovery codes) and signs the
// user out everywhere; the audit log records it with the reason.
func userMFAReset(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	a := newAccountFlags("user mfa-reset", stderr, flagAID|flagLogin|flagReason)
	if err := a.parse(args); err != nil {
		return err
	}
	if a.aid == "" || a.login == "" || strings.TrimSpace(a.reason) == "" {
		return usageErr("--aid, --login and --reason are required")
	}
	d, err := a.db.open(ctx)
	if err != nil {
		return err
	}
	defer d.Close()
	u, err := a.user(ctx, d)
	if err != nil {
		return err
	}
	had, err := auth.NewAuthenticator(d, clock.Real{}).Reset(ctx, &auth.Account{Kind: store.SessionMerchant, ID: u.ID, AID: u.AID, Login: u.Login, Role: u.Role},
		"cli", strings.TrimSpace(a.reason), "")
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s (store %s): %s; signed out everywhere\n", a.login, a.aid, resetWord(had))
	return nil
}

// operatorMFAReset removes an operator's second factor and signs the operator out everywhere.
func operatorMFAReset(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	a := newAccountFlags("operator mfa-reset", stderr, flagLogin|flagReason)
	if err := a.parse(args); err != nil {
		return err
	}
	if a.login == "" || strings.TrimSpace(a.reason) == "" {
		return usageErr("--login and --reason are required")
	}
	d, err := a.db.open(ctx)
	if err != nil {
		return err
	}
	defer d.Close()
	o, err := a.operator(ctx, d)
	if err != nil {
		return err
	}
	had, err := auth.NewAuthenticator(d, clock.Real{}).Reset(ctx, &auth.Account{Kind: store.SessionOperator, ID: o.ID, Login: o.Login},
		"cli", strings.TrimSpace(a.reason), "")
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "operator %s: %s; signed out everywhere\n", a.login, resetWord(had))
	return nil
}

func resetWord(had bool) string {
	if had {
		return "two-step sign-in reset (a new one is set up at the next sign-in when required)"
	}
	return "had no second factor"
}
