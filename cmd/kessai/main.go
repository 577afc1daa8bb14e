// Command kessai is the whole Kessai payment gateway in one binary: the server and the operators'
// command-line tools.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"kessai/internal/maintenance"
	"kessai/internal/store"
)

const usage = `kessai — a card payment gateway for Japanese merchants (ROBOT PAYMENT wire-compatible)

Usage:
  kessai serve [--data DIR] [--addr HOST:PORT] [--clock RFC3339 [--clock-rate R]] [--database-url URL]
  kessai store create|list|update …
  kessai user create --aid NNNNNN --login NAME --password PW --role admin|viewer
  kessai user list --aid NNNNNN
  kessai user passwd --aid NNNNNN --login NAME --password PW
  kessai user mfa-reset --aid NNNNNN --login NAME --reason TEXT
  kessai operator create --login NAME --password PW
  kessai operator passwd --login NAME --password PW
  kessai operator mfa-reset --login NAME --reason TEXT
  kessai maintenance add|list|status|move|cancel|draft|notice|export|import|start|end|extend|update|publish …
      (add, move, cancel, publish, start, extend, update, end: --message-ja TEXT --message-en TEXT public, --note TEXT internal)
  kessai vault rotate
  kessai mail send --smtp HOST:PORT | kessai mail log
  kessai migrate
  kessai bench gateway --addr HOST:PORT …
  kessai bench floor|pgfloor [--kessai BIN,BIN] …   side by side with the floor (limitsrv, pgbench)
  kessai autocharge list|run …
  kessai link create --aid NNNNNN (--am N [--tx N] [--sf N] | --iid CODE | --jb CHECK) [--expires DURATION] [--base-url URL]
  kessai product create|list|update --aid NNNNNN --iid CODE --am N [--tx N] [--sf N] [--actp N --acam N …]
  kessai apikey create --aid NNNNNN --name NAME | list --aid NNNNNN | revoke --aid NNNNNN ID
  kessai listen --url URL --key KEY --forward-to http://localhost:3000/notify [--since 2h] [--events KINDS]
  kessai clock show|set RFC3339|advance 720h|rate R|freeze|unfreeze --url URL --key KEY   (sandbox)
  kessai sandbox pay|cancel|transfer|expire GID [--amount N] [--at RFC3339]   (convenience-store and bank payments)

Every command that touches storage takes --data DIR (or KESSAI_DATA; default ./kessai-data) for the
embedded SQLite database, or --database-url postgres://… (or KESSAI_DATABASE_URL).
Run "kessai COMMAND --help" for the subcommands of a command and "kessai COMMAND SUBCOMMAND --help"
for the flags of one.
`

// commands lists every command and its subcommands (nil: the command takes flags itself). "kessai
// COMMAND --help" prints the command's lines of usage and these subcommands; the test of --help
// runs every entry.
var commands = map[string][]string{
	"serve":       nil,
	"store":       {"create", "list", "update"},
	"user":        {"create", "list", "passwd", "mfa-reset"},
	"operator":    {"create", "passwd", "mfa-reset"},
	"maintenance": {"add", "list", "status", "move", "cancel", "draft", "notice", "export", "import", "start", "end", "extend", "update", "publish"},
	"vault":       {"rotate"},
	"mail":        {"send", "log"},
	"migrate":     nil,
	"bench":       {"gateway", "auth-sales", "hosted", "mixed"},
	"autocharge":  {"list", "run"},
	"link":        {"create"},
	"product":     {"create", "list", "update"},
	"apikey":      {"create", "list", "revoke"},
	"listen":      nil,
	"clock":       {"show", "set", "advance", "rate", "freeze", "unfreeze"},
}

// aliases maps the other spellings of a command to its name in commands.
var aliases = map[string]string{"maint": "maintenance", "mt": "maintenance", "stores": "store", "users": "user",
	"operators": "operator", "ac": "autocharge", "links": "link", "products": "product", "apikeys": "apikey"}

func isHelp(a string) bool { return a == "-h" || a == "-help" || a == "--help" || a == "help" }

// commandHelp prints a command's usage lines (from usage) and its subcommands to w.
func commandHelp(w io.Writer, cmd string) {
	fmt.Fprintf(w, "Usage of kessai %s:\n", cmd)
	for _, l := range strings.Split(usage, "\n") {
		if strings.HasPrefix(l, "  kessai "+cmd+" ") || l == "  kessai "+cmd {
			fmt.Fprintln(w, l)
		}
	}
	if subs := commands[cmd]; len(subs) > 0 {
		fmt.Fprintf(w, "\nSubcommands: %s\nRun \"kessai %s SUBCOMMAND --help\" for the flags of one.\n", strings.Join(subs, ", "), cmd)
	}
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	if err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "kessai:", err)
		}
		os.Exit(exitCode(err))
	}
}

func exitCode(err error) int {
	switch {
	case errors.Is(err, flag.ErrHelp):
		return 0
	case errors.Is(err, maintenance.ErrInvalid), errors.Is(err, errUsage):
		return 2
	}
	return 1
}

var errUsage = errors.New("usage")

func usageErr(format string, a ...any) error {
	return fmt.Errorf("%w: %s", errUsage, fmt.Sprintf(format, a...))
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return errUsage
	}
	cmd, rest := args[0], args[1:]
	if a, ok := aliases[cmd]; ok {
		cmd = a
	}
	// "kessai COMMAND --help" (and "kessai help COMMAND") for a command with subcommands: its usage
	// on stdout, exit 0; a command without subcommands parses its own flags, --help included.
	if cmd == "help" && len(rest) == 1 {
		if a, ok := aliases[rest[0]]; ok {
			rest[0] = a
		}
		if _, ok := commands[rest[0]]; ok {
			commandHelp(stdout, rest[0])
			return nil
		}
	}
	if subs, ok := commands[cmd]; ok && subs != nil && len(rest) > 0 && isHelp(rest[0]) {
		commandHelp(stdout, cmd)
		return nil
	}
	switch cmd {
	case "serve":
		return cmdServe(ctx, rest, stdout, stderr)
	case "maintenance", "maint", "mt":
		return cmdMaintenance(ctx, rest, stdout, stderr)
	case "store", "stores":
		return cmdStore(ctx, rest, stdout, stderr)
	case "user", "users":
		return cmdUser(ctx, rest, stdout, stderr)
	case "operator", "operators":
		return cmdOperator(ctx, rest, stdout, stderr)
	case "vault":
		return cmdVault(ctx, rest, stdout, stderr)
	case "migrate":
		return cmdMigrate(ctx, rest, stdout, stderr)
	case "mail":
		return cmdMail(ctx, rest, stdout, stderr)
	case "bench":
		return cmdBench(ctx, rest, stdout, stderr)
	case "autocharge", "ac":
		return cmdAutoCharge(ctx, rest, stdout, stderr)
	case "link", "links":
		return cmdLink(ctx, rest, stdout, stderr)
	case "product", "products":
		return cmdProduct(ctx, rest, stdout, stderr)
	case "apikey", "apikeys":
		return cmdAPIKey(ctx, rest, stdout, stderr)
	case "listen":
		return cmdListen(ctx, rest, stdout, stderr)
	case "clock":
		return cmdClock(ctx, rest, stdout, stderr)
	case "sandbox":
		return cmdSandbox(ctx, rest, stdout, stderr) // noncard.go
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	fmt.Fprint(stderr, usage)
	return usageErr("unknown command %q", cmd)
}

// dbFlags are the storage flags every storage command shares.
type dbFlags struct {
	data string
	url  string
}

func (d *dbFlags) register(fs *flag.FlagSet) {
	def := os.Getenv("KESSAI_DATA")
	if def == "" {
		def = "kessai-data"
	}
	fs.StringVar(&d.data, "data", def, "data directory for the embedded SQLite database (env KESSAI_DATA)")
	fs.StringVar(&d.url, "database-url", os.Getenv("KESSAI_DATABASE_URL"), "PostgreSQL URL, postgres://… (env KESSAI_DATABASE_URL); overrides --data")
}

func (d *dbFlags) open(ctx context.Context) (*store.DB, error) {
	return store.Open(ctx, store.Config{DataDir: d.data, DatabaseURL: d.url})
}

// parseOpen parses a command's arguments (fs has the database flags registered) and opens the
// database they name; it returns the positional arguments. The caller closes the database.
func (d *dbFlags) parseOpen(ctx context.Context, fs *flag.FlagSet, args []string) (*store.DB, []string, error) {
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return nil, nil, err
	}
	db, err := d.open(ctx)
	return db, pos, err
}

// parseInterleaved parses flags that may come before or after positional arguments
// ("move --data D 3 --to 05:00"), returning the positionals.
func parseInterleaved(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

func newFlagSet(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("kessai "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return fs
}

// multiFlag collects a repeatable string flag.
type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }
