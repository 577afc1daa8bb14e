package notify

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"time"

	mail "github.com/wneessen/go-mail"

	"kessai/internal/clock"
	"kessai/internal/maintenance"
	"kessai/internal/store"
)

// SMTPConfig says where mail goes. TLS is opportunistic; production relays should offer it.
type SMTPConfig struct {
	Addr     string // host:port
	From     string
	Username string
	Password string
}

// Sender delivers one message.
type Sender interface {
	Send(ctx context.Context, to, subject, body string) error
}

// SMTP sends through an SMTP relay with go-mail.
type SMTP struct{ Cfg SMTPConfig }

// Send delivers one plain-text UTF-8 message.
func (s SMTP) Send(ctx context.Context, to, subject, body string) error {
	host, port, err := net.SplitHostPort(s.Cfg.Addr)
	if err != nil {
		return fmt.Errorf("smtp address %q: %w", s.Cfg.Addr, err)
	}
	p, _ := strconv.Atoi(port)
	opts := []mail.Option{mail.WithPort(p), mail.WithTLSPolicy(mail.TLSOpportunistic), mail.WithTimeout(15 * time.Second)}
	if s.Cfg.Username != "" {
		opts = append(opts, mail.WithSMTPAuth(mail.SMTPAuthPlain), mail.WithUsername(s.Cfg.Username), mail.WithPassword(s.Cfg.Password))
	}
	c, err := mail.NewClient(host, opts...)
	if err != nil {
		return err
	}
	m := mail.NewMsg()
	if err := m.From(s.Cfg.From); err != nil {
		return fmt.Errorf("from: %w", err)
	}
	if err := m.To(to); err != nil {
		return fmt.Errorf("to: %w", err)
	}
	m.Subject(subject)
	m.SetBodyString(mail.TypeTextPlain, body)
	return c.DialAndSendWithContext(ctx, m)
}

// Mailer turns the maintenance schedule into e-mail to every store's notification address: the
// annual notice on publication, reminders before each window (7 and 1 days by default), the start
// and the end, and every change. Each message is queued once under a dedupe key, so it is sent
// once even across restarts and instances; failures are retried and logged per store.
type Mailer struct {
	DB        *store.DB
	Clock     clock.Clock
	Log       *slog.Logger
	Sender    Sender
	Reminders []time.Duration
	// Poll is the wall-clock interval between passes.
	Poll time.Duration
	// MaxAttempts before a message is given up.
	MaxAttempts int
}

func (m *Mailer) defaults() {
	if len(m.Reminders) == 0 {
		m.Reminders = []time.Duration{7 * 24 * time.Hour, 24 * time.Hour}
	}
	if m.Poll == 0 {
		m.Poll = time.Second
	}
	if m.MaxAttempts == 0 {
		m.MaxAttempts = 8
	}
}

// Run schedules and sends until ctx ends.
func (m *Mailer) Run(ctx context.Context) {
	m.defaults()
	t := time.NewTicker(m.Poll)
	defer t.Stop()
	for {
		if err := m.Schedule(ctx); err != nil && ctx.Err() == nil {
			m.Log.Warn("mail scheduling failed", "err", err)
		}
		if _, err := m.SendDue(ctx, nil); err != nil && ctx.Err() == nil {
			m.Log.Warn("mail sending failed", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// published reports whether merchants have been told about w: drafts (planned) are not mailed.
func published(w maintenance.Window) bool {
	return w.Status == maintenance.StatusAnnounced || w.Kind == maintenance.KindEmergency
}

type due struct {
	key, kind, subjectJA, subjectEN string
	w                               maintenance.Window
	// at is when the event happened (a change, a publication, an end); a message is sent only to
	// addresses that were set before it, so an address entered today does not receive every past
	// event at once (issue 15 item 12). Zero (reminders, a start while the window runs): the
	// event is still ahead or current, and goes to every address.
	at   time.Time
	real bool // at is wall-clock time (operator actions), not service (sandbox) time
	body func(cfg maintenance.NoticeConfig, lang string, b io.Writer) error
	// covered are messages that d already says: queued as skipped when d is queued now, and
	// sent only when d had gone out before (the windows of a year published after its annual
	// notice get their own 追加 notice)
	covered []due
}

// Schedule queues every message that is due now and not yet queued.
func (m *Mailer) Schedule(ctx context.Context) error {
	m.defaults()
	now := m.Clock.Now()
	// changes first, then windows: a change and its window's new state commit together, so every
	// change read here has its window's state in the later read. The other order could see a
	// publication whose window still reads as a draft (PostgreSQL, read committed): the annual
	// notice would go out without that window, and the next pass would mail it as 追加.
	chs, err := m.DB.Changes(ctx)
	if err != nil {
		return err
	}
	ws, err := m.DB.Windows(ctx)
	if err != nil {
		return err
	}
	var ds []due
	byID := map[int64]maintenance.Window{}
	years := map[int]bool{}
	for _, w := range ws {
		byID[w.ID] = w
	}
	recent := time.Now().Add(-24 * time.Hour) // changes are operator actions, in real time
	told := map[int64]bool{}                  // windows merchants have been told about
	for _, c := range chs {
		if w, ok := byID[c.WindowID]; ok && (c.Kind == maintenance.ChangePublished || published(w)) {
			told[c.WindowID] = true
		}
	}
	for _, c := range chs {
		w, ok := byID[c.WindowID]
		if !ok || c.At.Before(recent) || !told[c.WindowID] {
			continue // drafts are not mailed
		}
		if c.Kind == maintenance.ChangePublished {
			years[w.Start.In(w.Location()).Year()] = true
			continue
		}
		if c.Kind == maintenance.ChangeAdded && w.Kind != maintenance.KindEmergency {
			continue // a scheduled window is announced by publication, not by its creation
		}
		if c.Kind == maintenance.ChangeUpdate && !c.Mail {
			continue // progress updates are mailed only when the operator asks (--mail)
		}
		c := c
		ds = append(ds, due{key: fmt.Sprintf("change-%d", c.ID), kind: "change-" + c.Kind, w: w, at: c.At, real: true,
			subjectJA: maintenance.MailSubject(c.Kind, w, &c, "ja"), subjectEN: maintenance.MailSubject(c.Kind, w, &c, "en"),
			body: func(cfg maintenance.NoticeConfig, lang string, b io.Writer) error {
				return maintenance.RenderChangeNotice(b, cfg, w, c, lang, maintenance.FormatText)
			}})
	}
	pubAt := map[int]time.Time{} // when each year was first published
	for _, c := range chs {
		if w, ok := byID[c.WindowID]; ok && c.Kind == maintenance.ChangePublished {
			y := w.Start.In(w.Location()).Year()
			if t, ok := pubAt[y]; !ok || c.At.Before(t) {
				pubAt[y] = c.At
			}
		}
	}
	for y := range years {
		y := y
		var pub []maintenance.Window
		var added []due
		for _, w := range ws {
			if w.Status == maintenance.StatusAnnounced && w.Start.In(w.Location()).Year() == y {
				pub = append(pub, w)
				if w.Kind == maintenance.KindEmergency {
					continue // an emergency has its own notice when it starts
				}
				w := w
				added = append(added, due{key: fmt.Sprintf("added-w%d", w.ID), kind: "added", w: w, at: w.UpdatedAt, real: true,
					subjectJA: maintenance.MailSubject(maintenance.ChangeAdded, w, nil, "ja"), subjectEN: maintenance.MailSubject(maintenance.ChangeAdded, w, nil, "en"),
					body: func(cfg maintenance.NoticeConfig, lang string, b io.Writer) error {
						return maintenance.RenderWindowNotice(b, cfg, w, lang, maintenance.FormatText)
					}})
			}
		}
		ds = append(ds, due{key: fmt.Sprintf("annual-%d", y), kind: "annual", at: pubAt[y], real: true,
			subjectJA: fmt.Sprintf("【Kessai】%d年 決済サーバ定期メンテナンススケジュールのご案内", y),
			subjectEN: fmt.Sprintf("[Kessai] %d payment-server maintenance schedule", y),
			body: func(cfg maintenance.NoticeConfig, lang string, b io.Writer) error {
				return maintenance.RenderAnnualNotice(b, cfg, y, pub, lang, maintenance.FormatText)
			}, covered: added})
	}
	for _, w := range ws {
		if !published(w) || w.Status == maintenance.StatusCancelled {
			continue
		}
		w := w
		windowBody := func(cfg maintenance.NoticeConfig, lang string, b io.Writer) error {
			return maintenance.RenderWindowNotice(b, cfg, w, lang, maintenance.FormatText)
		}
		eventBody := func(event string) func(cfg maintenance.NoticeConfig, lang string, b io.Writer) error {
			return func(cfg maintenance.NoticeConfig, lang string, b io.Writer) error {
				return maintenance.RenderEventNotice(b, cfg, w, event, lang, maintenance.FormatText)
			}
		}
		// reminders: of those whose time has come, only the nearest is sent; earlier ones
		// that were missed (a window added late, a server down) are recorded as skipped
		var dueOffsets []time.Duration
		for _, o := range m.Reminders {
			if !now.Before(w.Start.Add(-o)) && now.Before(w.Start) {
				dueOffsets = append(dueOffsets, o)
			}
		}
		if len(dueOffsets) > 0 {
			nearest := dueOffsets[0]
			for _, o := range dueOffsets {
				if o < nearest {
					nearest = o
				}
			}
			for _, o := range dueOffsets {
				d := due{key: fmt.Sprintf("remind-%s-w%d-r%d", durName(o), w.ID, w.Revision), kind: "reminder-" + durName(o), w: w,
					subjectJA: strings.TrimSuffix(maintenance.MailSubject("reminder", w, nil, "ja"), "）") + "・" + durJA(o) + "前）",
					subjectEN: maintenance.MailSubject("reminder", w, nil, "en") + " (in " + durEN(o) + ")", body: windowBody}
				if o != nearest {
					d.body = nil // skipped
				}
				ds = append(ds, d)
			}
		}
		if w.Active(now) {
			ds = append(ds, due{key: fmt.Sprintf("start-w%d", w.ID), kind: "start", w: w,
				subjectJA: maintenance.MailSubject(maintenance.EventStart, w, nil, "ja"), subjectEN: maintenance.MailSubject(maintenance.EventStart, w, nil, "en"),
				body: eventBody(maintenance.EventStart)})
		}
		if !now.Before(w.End) && now.Before(w.End.Add(6*time.Hour)) {
			ds = append(ds, due{key: fmt.Sprintf("end-w%d", w.ID), kind: "end", w: w, at: w.End,
				subjectJA: maintenance.MailSubject(maintenance.EventEnd, w, nil, "ja"), subjectEN: maintenance.MailSubject(maintenance.EventEnd, w, nil, "en"),
				body: eventBody(maintenance.EventEnd)})
		}
	}
	if len(ds) == 0 {
		return nil
	}
	stores, err := m.DB.ListStores(ctx)
	if err != nil {
		return err
	}
	cfg, err := m.DB.NoticeConfig(ctx)
	if err != nil {
		return err
	}
	since := map[string][2]time.Time{} // [service clock, wall clock]
	for _, st := range stores {
		if st.NotifyEmail == "" {
			continue
		}
		if since[st.AID], err = m.addressSince(ctx, st, now); err != nil {
			return err
		}
	}
	for _, d := range ds {
		for _, st := range stores {
			if st.NotifyEmail == "" {
				continue
			}
			// an event from before this address was set is not news to it: recorded as skipped
			ref := since[st.AID][0]
			if d.real {
				ref = since[st.AID][1]
			}
			// the mailer sees a new address within a poll of its entry
			past := !d.at.IsZero() && d.at.Before(ref.Add(-2*m.Poll))
			added, err := m.queue(ctx, cfg, st, d, now, past)
			if err != nil {
				return err
			}
			for _, c := range d.covered {
				// said by d if d goes out now; its own message if d went out before
				if _, err := m.queue(ctx, cfg, st, c, now, added || past); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// queue records one message for a store (as skipped when skip is set, or d has no body) and
// reports whether it was new.
func (m *Mailer) queue(ctx context.Context, cfg maintenance.NoticeConfig, st *store.Store, d due, now time.Time, skip bool) (bool, error) {
	e := &store.Email{Dedupe: st.AID + "/" + d.key, AID: st.AID, Rcpt: st.NotifyEmail, Kind: d.kind, WindowID: d.w.ID,
		Status: "pending", NextAt: now, CreatedAt: now, Subject: d.subjectJA + " / " + d.subjectEN}
	if d.body == nil || skip {
		e.Status = "skipped"
	} else {
		// one addressee form: the letter's own (加盟店各位 / Dear merchants); the store is named in
		// the footer, not in a second salutation
		var b bytes.Buffer
		if err := d.body(cfg, "ja", &b); err != nil {
			return false, err
		}
		b.WriteString("\n\n---------------- English ----------------\n\n")
		if err := d.body(cfg, "en", &b); err != nil {
			return false, err
		}
		fmt.Fprintf(&b, "\n\n--\nこのメールは %s（店舗ID: %s）の通知先アドレスにお送りしています。\nSent to the notification address of %s (store ID %s).\n", st.Name, st.AID, st.Name, st.AID)
		e.Body = b.String()
	}
	return m.DB.QueueEmail(ctx, e)
}

// addressSince is when the mailer first saw the store's current notification address, in service
// (sandbox) time and in wall-clock time (kept in meta, per store; a new address starts anew).
func (m *Mailer) addressSince(ctx context.Context, st *store.Store, now time.Time) ([2]time.Time, error) {
	key := "mail_since/" + st.AID
	v, err := m.DB.Meta(ctx, key)
	if err != nil {
		return [2]time.Time{}, err
	}
	if parts := strings.Split(v, "|"); len(parts) == 3 && parts[0] == st.NotifyEmail {
		a, err1 := strconv.ParseInt(parts[1], 10, 64)
		b, err2 := strconv.ParseInt(parts[2], 10, 64)
		if err1 == nil && err2 == nil {
			return [2]time.Time{time.Unix(0, a), time.Unix(0, b)}, nil
		}
	}
	wall := time.Now()
	if err := m.DB.SetMeta(ctx, key, st.NotifyEmail+"|"+strconv.FormatInt(now.UnixNano(), 10)+"|"+strconv.FormatInt(wall.UnixNano(), 10)); err != nil {
		return [2]time.Time{}, err
	}
	return [2]time.Time{now, wall}, nil
}

func durName(d time.Duration) string {
	if d%(24*time.Hour) == 0 {
		return strconv.Itoa(int(d/(24*time.Hour))) + "d"
	}
	return strings.ReplaceAll(d.String(), "0s", "")
}

func durJA(d time.Duration) string {
	if d%(24*time.Hour) == 0 {
		return strconv.Itoa(int(d/(24*time.Hour))) + "日"
	}
	return d.String()
}

func durEN(d time.Duration) string {
	if d%(24*time.Hour) == 0 {
		n := int(d / (24 * time.Hour))
		if n == 1 {
			return "1 day"
		}
		return strconv.Itoa(n) + " days"
	}
	return d.String()
}

// SendDue sends the pending messages that are due; progress, when set, is told after each one.
func (m *Mailer) SendDue(ctx context.Context, progress func(done, total int)) (int, error) {
	m.defaults()
	if m.Sender == nil {
		return 0, nil
	}
	es, err := m.DB.DueEmails(ctx, m.Clock.Now(), 500)
	if err != nil {
		return 0, err
	}
	sent := 0
	for i, e := range es {
		if err := ctx.Err(); err != nil {
			return sent, err // shutting down: nothing more is sent
		}
		err := m.Sender.Send(ctx, e.Rcpt, e.Subject, e.Body)
		at := m.Clock.Now()
		// The outcome is recorded even if shutdown began during the send: a message that went out
		// but was not marked sent would go out again at the next start (a race the detector's
		// slowness showed: the end-of-maintenance notice arrived twice across a restart).
		rec, cancel := context.WithTimeout(context.WithoutCancel(ctx), 15*time.Second)
		if err != nil {
			n := e.Attempts + 1
			giveUp := n >= m.MaxAttempts
			m.Log.Warn("mail failed", "aid", e.AID, "kind", e.Kind, "attempt", n, "give_up", giveUp, "err", err)
			if err := m.DB.MarkEmail(rec, e.ID, false, at, err.Error(), at.Add(Backoff(n)), giveUp); err != nil {
				cancel()
				return sent, err
			}
		} else {
			sent++
			m.Log.Info("mail sent", "aid", e.AID, "kind", e.Kind, "window", e.WindowID)
			if err := m.DB.MarkEmail(rec, e.ID, true, at, "", at, false); err != nil {
				cancel()
				return sent, err
			}
		}
		cancel()
		if progress != nil {
			progress(i+1, len(es))
		}
	}
	return sent, nil
}
