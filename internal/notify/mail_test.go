package notify_test

import (
	"context"
	"encoding/base64"
	"io"
	"mime"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"strings"
	"sync"
	"testing"
	"time"

	smtp "github.com/emersion/go-smtp"

	"kessai/internal/clock"
	"kessai/internal/maintenance"
	"kessai/internal/notify"
	"kessai/internal/schedule"
	"kessai/internal/store"
	"kessai/internal/testenv"
)

// inbox is a real SMTP server in the test process that records every message.
type inbox struct {
	mu   sync.Mutex
	msgs []msg
	fail int // refuse this many messages first
	addr string
}

type msg struct{ to, subject, body string }

type backend struct{ in *inbox }
type session struct {
	in *inbox
	to string
}

func (b backend) NewSession(*smtp.Conn) (smtp.Session, error) { return &session{in: b.in}, nil }
func (s *session) Reset()                                     {}
func (s *session) Logout() error                              { return nil }
func (s *session) Mail(string, *smtp.MailOptions) error       { return nil }
func (s *session) Rcpt(to string, _ *smtp.RcptOptions) error  { s.to = to; return nil }
func (s *session) Data(r io.Reader) error {
	m, err := mail.ReadMessage(r)
	if err != nil {
		return err
	}
	var body io.Reader = m.Body
	switch strings.ToLower(m.Header.Get("Content-Transfer-Encoding")) {
	case "quoted-printable":
		body = quotedprintable.NewReader(body)
	case "base64":
		body = base64.NewDecoder(base64.StdEncoding, body)
	}
	b, _ := io.ReadAll(body)
	subj, _ := new(mime.WordDecoder).DecodeHeader(m.Header.Get("Subject"))
	s.in.mu.Lock()
	defer s.in.mu.Unlock()
	if s.in.fail > 0 {
		s.in.fail--
		return &smtp.SMTPError{Code: 451, Message: "try later"}
	}
	s.in.msgs = append(s.in.msgs, msg{to: s.to, subject: subj, body: string(b)})
	return nil
}

func newInbox(t testing.TB, fail int) *inbox {
	in := &inbox{fail: fail}
	srv := smtp.NewServer(backend{in})
	srv.Domain = "localhost"
	srv.AllowInsecureAuth = true
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	in.addr = ln.Addr().String()
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return in
}

func (in *inbox) count(pred func(msg) bool) int {
	in.mu.Lock()
	defer in.mu.Unlock()
	n := 0
	for _, m := range in.msgs {
		if pred(m) {
			n++
		}
	}
	return n
}

func (in *inbox) waitFor(t testing.TB, what string, pred func(msg) bool) {
	t.Helper()
	for i := 0; i < 200; i++ {
		if in.count(pred) > 0 {
			return
		}
		time.Sleep(25 * time.Millisecond)
	}
	t.Fatalf("no %s e-mail arrived", what)
}

func subj(s string) func(msg) bool { return func(m msg) bool { return strings.Contains(m.subject, s) } }

func TestMaintenanceMailAtTheRightSandboxTimesOnceEach(t *testing.T) {
	in := newInbox(t, 1) // the first delivery fails and must be retried
	clk := clock.NewFixed(time.Date(2020, 7, 1, 12, 0, 0, 0, time.UTC))
	s := testenv.Start(t, testenv.Options{Clock: clk, SMTP: notify.SMTPConfig{Addr: in.addr, From: "ops@kessai.example"}})
	s.CreateStore(t, "123456", "テスト商店", func(st *store.Store) { st.NotifyEmail = "shop@example.jp" })
	s.CreateStore(t, "234567", "No mail", nil)
	ctx := context.Background()
	w, _ := maintenance.WallWindow("2020-07-22", "02:55", "04:30", "")
	ws, err := s.DB.AddWindows(ctx, []maintenance.Window{w}, "test")
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond)
	if n := in.count(func(msg) bool { return true }); n != 0 {
		t.Fatalf("%d e-mails for an unpublished draft", n)
	}
	if _, err := s.DB.ChangeWindow(ctx, ws[0].ID, maintenance.ChangePublished, "test", "", func(w *maintenance.Window) error {
		w.Status = maintenance.StatusAnnounced
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(500 * time.Millisecond) // the first attempt is refused; its retry is due 5 s later in service time
	clk.Advance(10 * time.Second)
	in.waitFor(t, "annual notice", subj("2020年 決済サーバ定期メンテナンス"))
	steps := []struct {
		at, subject string
	}{
		{"2020-07-15T02:55:00+09:00", "7日前"},
		{"2020-07-21T02:55:00+09:00", "1日前"},
		{"2020-07-22T02:55:00+09:00", "メンテナンス開始のお知らせ（2020年07月22日(水)）"},
		{"2020-07-22T04:30:00+09:00", "メンテナンス終了のお知らせ（2020年07月22日(水)）"},
	}
	for _, st := range steps {
		ts, _ := time.Parse(time.RFC3339, st.at)
		clk.Set(ts.Add(-time.Second))
		time.Sleep(300 * time.Millisecond)
		if in.count(subj(st.subject)) != 0 {
			t.Fatalf("%q mail arrived before %s", st.subject, st.at)
		}
		clk.Set(ts)
		in.waitFor(t, st.subject, subj(st.subject))
	}
	// a restart must not send anything again
	cfg, key := s.Config, s.Key
	s.Stop()
	s2 := testenv.Start(t, testenv.Options{Clock: clk, Store: &cfg, VaultKey: key, SMTP: notify.SMTPConfig{Addr: in.addr}})
	time.Sleep(time.Second)
	for _, x := range []string{"2020年 決済サーバ", "7日前", "1日前", "開始のお知らせ", "終了のお知らせ"} {
		if n := in.count(subj(x)); n != 1 {
			t.Errorf("%q arrived %d times", x, n)
		}
	}
	if n := in.count(func(m msg) bool { return m.to != "shop@example.jp" }); n != 0 {
		t.Errorf("%d e-mails to a store without a notification address", n)
	}
	if in.count(func(m msg) bool {
		return strings.Contains(m.body, "ER999") && strings.Contains(m.body, "2020年07月22日")
	}) == 0 {
		t.Errorf("no e-mail names the window and ER999")
	}
	log, _ := s2.DB.Emails(ctx, 50)
	retried := false
	for _, e := range log {
		retried = retried || (e.Status == "sent" && e.Attempts >= 2)
	}
	if !retried {
		t.Errorf("the refused first delivery was not retried and logged")
	}
	// a change after publication is mailed too
	if _, err := s2.DB.ChangeWindow(ctx, ws[0].ID, maintenance.ChangeCancelled, "test", "", func(w *maintenance.Window) error {
		w.Status = maintenance.StatusCancelled
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	in.waitFor(t, "cancellation", subj("メンテナンス中止のお知らせ（2020年07月22日(水)）"))
}

// TestWindowPublishedAfterTheAnnualNoticeIsMailedAsAdded: the annual notice covers the windows
// published with it (no separate mail for them); a window added to the year and published later
// gets its own 追加 notice, once, and the annual notice is not sent again.
func TestWindowPublishedAfterTheAnnualNoticeIsMailedAsAdded(t *testing.T) {
	in := newInbox(t, 0)
	clk := clock.NewFixed(time.Date(2020, 7, 1, 12, 0, 0, 0, time.UTC))
	s := testenv.Start(t, testenv.Options{Clock: clk, SMTP: notify.SMTPConfig{Addr: in.addr, From: "ops@kessai.example"}})
	s.CreateStore(t, "123456", "テスト商店", func(st *store.Store) { st.NotifyEmail = "shop@example.jp" })
	ctx := context.Background()
	publish := func(date string) {
		t.Helper()
		w, _ := maintenance.WallWindow(date, "02:55", "04:30", "")
		ws, err := s.DB.AddWindows(ctx, []maintenance.Window{w}, "test")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.DB.ChangeWindow(ctx, ws[0].ID, maintenance.ChangePublished, "test", "", func(w *maintenance.Window) error {
			w.Status = maintenance.StatusAnnounced
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	publish("2020-07-22")
	in.waitFor(t, "annual notice", subj("2020年 決済サーバ定期メンテナンス"))
	time.Sleep(500 * time.Millisecond)
	if n := in.count(subj("追加")); n != 0 {
		t.Fatalf("%d 追加 mails for a window the annual notice announced", n)
	}
	publish("2020-08-19")
	in.waitFor(t, "追加 notice", subj("メンテナンス追加のお知らせ"))
	time.Sleep(500 * time.Millisecond)
	if n := in.count(subj("メンテナンス追加のお知らせ")); n != 1 {
		t.Fatalf("%d 追加 mails, want 1", n)
	}
	if n := in.count(subj("2020年 決済サーバ定期メンテナンス")); n != 1 {
		t.Fatalf("the annual notice went out %d times", n)
	}
	if in.count(func(m msg) bool {
		return strings.Contains(m.subject, "追加") && strings.Contains(m.body, "2020年08月19日")
	}) != 1 {
		t.Fatalf("the 追加 mail does not name the added window")
	}
}

// TestMaintenanceMailBodiesSubjectsAndNewAddresses (issue 15 item 12): the end mail says the
// maintenance ended (not the announcement's "実施いたします"); every change mail has a subject of its
// own with the window's date; a store whose address is entered after events happened receives only
// what is still ahead; the letter has one addressee form; a brand-limited scope is named in words.
func TestMaintenanceMailBodiesSubjectsAndNewAddresses(t *testing.T) {
	in := newInbox(t, 0)
	clk := clock.NewFixed(time.Date(2020, 7, 1, 12, 0, 0, 0, time.UTC))
	s := testenv.Start(t, testenv.Options{Clock: clk, SMTP: notify.SMTPConfig{Addr: in.addr, From: "ops@kessai.example"}})
	s.CreateStore(t, "123456", "デモストア", func(st *store.Store) { st.NotifyEmail = "shop@example.jp" })
	ctx := context.Background()
	var ws []maintenance.Window
	for _, d := range []string{"2020-07-22", "2020-08-19", "2020-09-16"} {
		w, _ := maintenance.WallWindow(d, "02:55", "04:30", "")
		ws = append(ws, w)
	}
	ws[2].Scope, _ = maintenance.ParseScope("payments,brand:JCB")
	ws, err := s.DB.AddWindows(ctx, ws, "test")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := schedule.PublishYear(ctx, s.DB, 2020, maintenance.ChangeText{}, "test"); err != nil {
		t.Fatal(err)
	}
	in.waitFor(t, "annual notice", subj("2020年 決済サーバ定期メンテナンス"))
	if _, err := schedule.Move(ctx, s.DB, ws[1].ID, "2020-08-20", "", "", maintenance.ChangeText{MessageJA: "祝日のため", Note: "INTERNAL"}, "test"); err != nil {
		t.Fatal(err)
	}
	if _, err := schedule.Cancel(ctx, s.DB, ws[0].ID, maintenance.ChangeText{}, "test"); err != nil {
		t.Fatal(err)
	}
	in.waitFor(t, "move", subj("メンテナンス日程変更のお知らせ（2020年08月19日(水)）"))
	in.waitFor(t, "cancellation", subj("メンテナンス中止のお知らせ（2020年07月22日(水)）"))
	if n := in.count(func(m msg) bool { return strings.Contains(m.body, "INTERNAL") }); n != 0 {
		t.Errorf("%d mails carry the internal note", n)
	}
	// a second store gets its address now: nothing of the past arrives (the pause keeps the
	// changes above clearly before the address, beyond the mailer's poll)
	time.Sleep(2500 * time.Millisecond)
	s.CreateStore(t, "234567", "新しい店", func(st *store.Store) { st.NotifyEmail = "new@example.jp" })
	clk.Set(time.Date(2020, 9, 15, 3, 0, 0, 0, jstZone)) // the JCB window's 1-day reminder is due
	in.waitFor(t, "reminder to the new address", func(m msg) bool { return m.to == "new@example.jp" && strings.Contains(m.subject, "1日前") })
	time.Sleep(500 * time.Millisecond)
	if n := in.count(func(m msg) bool { return m.to == "new@example.jp" && !strings.Contains(m.subject, "1日前") }); n != 0 {
		t.Errorf("a newly entered address received %d past mails", n)
	}
	// a progress update is mailed only when the operator asks (--mail)
	clk.Set(time.Date(2020, 9, 16, 3, 0, 0, 0, jstZone))
	for _, mail := range []bool{false, true} {
		if _, err := schedule.Update(ctx, s.DB, ws[2].ID, clk.Now(), maintenance.ChangeText{Stage: maintenance.StageIdentified,
			MessageJA: "対応中です", MessageEN: "Fixing", Mail: mail}, "test"); err != nil {
			t.Fatal(err)
		}
	}
	in.waitFor(t, "update", subj("メンテナンス状況のお知らせ（対応中）"))
	clk.Set(time.Date(2020, 9, 16, 4, 30, 0, 0, jstZone))
	end := func(m msg) bool {
		return m.to == "shop@example.jp" && strings.Contains(m.subject, "メンテナンス終了のお知らせ（2020年09月16日(水)）")
	}
	in.waitFor(t, "end", end)
	in.mu.Lock()
	defer in.mu.Unlock()
	subjects := map[string]int{}
	for _, m := range in.msgs {
		subjects[m.to+" "+m.subject]++
		if (strings.Contains(m.body, "デモストア 様") || strings.Contains(m.body, "新しい店 様")) && strings.Contains(m.body, "加盟店各位") {
			t.Errorf("%q addresses the store twice (様 and 加盟店各位)", m.subject)
		}
		if strings.Contains(m.subject, "終了のお知らせ") && (strings.Contains(m.body, "実施いたします") || !strings.Contains(m.body, "終了いたしました")) {
			t.Errorf("the end mail is not an end letter:\n%s", m.body)
		}
		if strings.Contains(m.body, "2020年09月16日") && strings.Contains(m.subject, "1日前") && !strings.Contains(m.body, "JCBカードの決済のみ") {
			t.Errorf("the JCB-only window is not named in words:\n%s", m.body)
		}
	}
	for k, n := range subjects {
		if n != 1 {
			t.Errorf("%q arrived %d times", k, n)
		}
	}
}

var jstZone = time.FixedZone("JST", 9*3600)
