package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"kessai/internal/clock"
	"kessai/internal/notify"
	"kessai/internal/server"
)

// cmdMail sends the maintenance e-mail that is due now (the annual notice after a publication,
// reminders, start/end, changes) with a progress bar, or lists the e-mail log. A running server
// sends the same messages by itself; this is for bulk sends from an operator's terminal.
func cmdMail(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || (args[0] != "send" && args[0] != "log") {
		return usageErr("kessai mail send --smtp HOST:PORT [--mail-from ADDR] | kessai mail log")
	}
	fs := newFlagSet("mail "+args[0], stderr)
	var db dbFlags
	db.register(fs)
	smtpAddr := fs.String("smtp", os.Getenv("KESSAI_SMTP_ADDR"), "SMTP relay HOST:PORT")
	from := fs.String("mail-from", os.Getenv("KESSAI_MAIL_FROM"), "sender address")
	limit := fs.Int("limit", 50, "log: how many entries")
	if _, err := parseInterleaved(fs, args[1:]); err != nil {
		return err
	}
	d, err := db.open(ctx)
	if err != nil {
		return err
	}
	defer d.Close()
	if args[0] == "log" {
		es, err := d.Emails(ctx, *limit)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tSTORE\tKIND\tSTATUS\tATTEMPTS\tRECIPIENT\tERROR")
		for _, e := range es {
			fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%d\t%s\t%s\n", e.ID, e.AID, e.Kind, e.Status, e.Attempts, e.Rcpt, e.LastError)
		}
		return tw.Flush()
	}
	if *smtpAddr == "" {
		return usageErr("--smtp HOST:PORT is required")
	}
	if *from == "" {
		*from = "noreply@kessai.example"
	}
	log := slog.New(server.NewRedactingHandler(slog.NewTextHandler(io.Discard, nil)))
	m := &notify.Mailer{DB: d, Clock: clock.Real{}, Log: log, Sender: notify.SMTP{Cfg: notify.SMTPConfig{Addr: *smtpAddr, From: *from,
		Username: os.Getenv("KESSAI_SMTP_USER"), Password: os.Getenv("KESSAI_SMTP_PASSWORD")}}}
	if err := m.Schedule(ctx); err != nil {
		return err
	}
	start := time.Now()
	// SendDue takes up to 500 messages a call; go on until nothing due is left (a failed message
	// is due again only later, so this ends)
	sent := 0
	for {
		n, err := m.SendDue(ctx, func(done, total int) { progressBar(stderr, done, total) })
		sent += n
		if err != nil {
			fmt.Fprintf(stderr, "\n")
			return err
		}
		if n == 0 {
			break
		}
	}
	fmt.Fprintf(stderr, "\n")
	fmt.Fprintf(stdout, "sent %d messages in %s (failures are retried; see kessai mail log)\n", sent, time.Since(start).Round(time.Millisecond))
	return nil
}

func progressBar(w io.Writer, done, total int) {
	const width = 30
	n := 0
	if total > 0 {
		n = done * width / total
	}
	fmt.Fprintf(w, "\r[%s%s] %d/%d", strings.Repeat("#", n), strings.Repeat(".", width-n), done, total)
}
