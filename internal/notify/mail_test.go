package notify_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"kessai/internal/clock"
	"kessai/internal/maintenance"
	"kessai/internal/notify"
	"kessai/internal/schedule"
	"kessai/internal/store"
	"kessai/internal/testenv"
	"kessai/internal/testenv/inbox"
)

// waitFor waits up to 5 s for a message that satisfies pred.
func waitFor(t testing.TB, in *inbox.Inbox, what string, pred func(inbox.Mail) bool) {
	t.Helper()
	for i := 0; i < 200; i++ {
		if in.Count(pred) > 0 {
			return
		}
		time.Sleep(25 * time.Millisecond)
	}
	t.Fatalf("no %s e-mail arrived", what)
}

func subj(s string) func(inbox.Mail) bool {
	return func(m inbox.Mail) bool { return strings.Contains(m.Subject, s) }
}

func TestMaintenanceMailAtTheRightSandboxTimesOnceEach(t *testing.T) {
	in := inbox.New(t)
	in.FailNext(1) // the first delivery fails and must be retried
	clk := clock.NewFixed(time.Date(2020, 7, 1, 12, 0, 0, 0, time.UTC))
	s := testenv.Start(t, testenv.Options{Clock: clk, SMTP: notify.SMTPConfig{Addr: in.Addr, From: "ops@kessai.example"}})
	s.CreateStore(t, "123456", "テスト商店", func(st *store.Store) { st.NotifyEmail = "shop@example.jp" })
	s.CreateStore(t, "234567", "No mail", nil)
	ctx := context.Background()
	w, _ := maintenance.WallWindow("2020-07-22", "02:55", "04:30", "")
	ws, err := s.DB.AddWindows(ctx, []maintenance.Window{w}, "test")
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond)
	if n := in.Count(func(inbox.Mail) bool { return true }); n != 0 {
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
	waitFor(t, in, "annual notice", subj("2020年 決済サーバ定期メンテナンス"))
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
		if in.Count(subj(st.subject)) != 0 {
			t.Fatalf("%q mail arrived before %s", st.subject, st.at)
		}
		clk.Set(ts)
		waitFor(t, in, st.subject, subj(st.subject))
	}
	// a restart must not send anything again
	cfg, key := s.Config, s.Key
	s.Stop()
	s2 := testenv.Start(t, testenv.Options{Clock: clk, Store: &cfg, VaultKey: key, SMTP: notify.SMTPConfig{Addr: in.Addr}})
	time.Sleep(time.Second)
	for _, x := range []string{"2020年 決済サーバ", "7日前", "1日前", "開始のお知らせ", "終了のお知らせ"} {
		if n := in.Count(subj(x)); n != 1 {
			t.Errorf("%q arrived %d times", x, n)
		}
	}
	if n := in.Count(func(m inbox.Mail) bool { return m.To != "shop@example.jp" }); n != 0 {
		t.Errorf("%d e-mails to a store without a notification address", n)
	}
	if in.Count(func(m inbox.Mail) bool {
		return strings.Contains(m.Body, "ER999") && strings.Contains(m.Body, "2020年07月22日")
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
	waitFor(t, in, "cancellation", subj("メンテナンス中止のお知らせ（2020年07月22日(水)）"))
}

// TestWindowPublishedAfterTheAnnualNoticeIsMailedAsAdded: the annual notice covers the windows
// published with it (no separate mail for them); a window added to the year and published later
// gets its own 追加 notice, once, and the annual notice is not sent again.
func TestWindowPublishedAfterTheAnnualNoticeIsMailedAsAdded(t *testing.T) {
	in := inbox.New(t)
	clk := clock.NewFixed(time.Date(2020, 7, 1, 12, 0, 0, 0, time.UTC))
	s := testenv.Start(t, testenv.Options{Clock: clk, SMTP: notify.SMTPConfig{Addr: in.Addr, From: "ops@kessai.example"}})
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
	waitFor(t, in, "annual notice", subj("2020年 決済サーバ定期メンテナンス"))
	time.Sleep(500 * time.Millisecond)
	if n := in.Count(subj("追加")); n != 0 {
		t.Fatalf("%d 追加 mails for a window the annual notice announced", n)
	}
	publish("2020-08-19")
	waitFor(t, in, "追加 notice", subj("メンテナンス追加のお知らせ"))
	time.Sleep(500 * time.Millisecond)
	if n := in.Count(subj("メンテナンス追加のお知らせ")); n != 1 {
		t.Fatalf("%d 追加 mails, want 1", n)
	}
	if n := in.Count(subj("2020年 決済サーバ定期メンテナンス")); n != 1 {
		t.Fatalf("the annual notice went out %d times", n)
	}
	if in.Count(func(m inbox.Mail) bool {
		return strings.Contains(m.Subject, "追加") && strings.Contains(m.Body, "2020年08月19日")
	}) != 1 {
		t.Fatalf("the 追加 mail does not name the added window")
	}
}

// TestMaintenanceMailBodiesSubjectsAndNewAddresses (issue 15 item 12): the end mail says the
// maintenance ended (not the announcement's "実施いたします"); every change mail has a subject of its
// own with the window's date; a store whose address is entered after events happened receives only
// what is still ahead; the letter has one addressee form; a brand-limited scope is named in words.
func TestMaintenanceMailBodiesSubjectsAndNewAddresses(t *testing.T) {
	in := inbox.New(t)
	clk := clock.NewFixed(time.Date(2020, 7, 1, 12, 0, 0, 0, time.UTC))
	s := testenv.Start(t, testenv.Options{Clock: clk, SMTP: notify.SMTPConfig{Addr: in.Addr, From: "ops@kessai.example"}})
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
	waitFor(t, in, "annual notice", subj("2020年 決済サーバ定期メンテナンス"))
	if _, err := schedule.Move(ctx, s.DB, ws[1].ID, "2020-08-20", "", "", maintenance.ChangeText{MessageJA: "祝日のため", Note: "INTERNAL"}, "test"); err != nil {
		t.Fatal(err)
	}
	if _, err := schedule.Cancel(ctx, s.DB, ws[0].ID, maintenance.ChangeText{}, "test"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, in, "move", subj("メンテナンス日程変更のお知らせ（2020年08月19日(水)）"))
	waitFor(t, in, "cancellation", subj("メンテナンス中止のお知らせ（2020年07月22日(水)）"))
	if n := in.Count(func(m inbox.Mail) bool { return strings.Contains(m.Body, "INTERNAL") }); n != 0 {
		t.Errorf("%d mails carry the internal note", n)
	}
	// a second store gets its address now: nothing of the past arrives (the pause keeps the
	// changes above clearly before the address, beyond the mailer's poll)
	time.Sleep(2500 * time.Millisecond)
	s.CreateStore(t, "234567", "新しい店", func(st *store.Store) { st.NotifyEmail = "new@example.jp" })
	clk.Set(time.Date(2020, 9, 15, 3, 0, 0, 0, jstZone)) // the JCB window's 1-day reminder is due
	waitFor(t, in, "reminder to the new address", func(m inbox.Mail) bool { return m.To == "new@example.jp" && strings.Contains(m.Subject, "1日前") })
	time.Sleep(500 * time.Millisecond)
	if n := in.Count(func(m inbox.Mail) bool { return m.To == "new@example.jp" && !strings.Contains(m.Subject, "1日前") }); n != 0 {
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
	waitFor(t, in, "update", subj("メンテナンス状況のお知らせ（対応中）"))
	clk.Set(time.Date(2020, 9, 16, 4, 30, 0, 0, jstZone))
	end := func(m inbox.Mail) bool {
		return m.To == "shop@example.jp" && strings.Contains(m.Subject, "メンテナンス終了のお知らせ（2020年09月16日(水)）")
	}
	waitFor(t, in, "end", end)
	subjects := map[string]int{}
	for _, m := range in.All() {
		subjects[m.To+" "+m.Subject]++
		if (strings.Contains(m.Body, "デモストア 様") || strings.Contains(m.Body, "新しい店 様")) && strings.Contains(m.Body, "加盟店各位") {
			t.Errorf("%q addresses the store twice (様 and 加盟店各位)", m.Subject)
		}
		if strings.Contains(m.Subject, "終了のお知らせ") && (strings.Contains(m.Body, "実施いたします") || !strings.Contains(m.Body, "終了いたしました")) {
			t.Errorf("the end mail is not an end letter:\n%s", m.Body)
		}
		if strings.Contains(m.Body, "2020年09月16日") && strings.Contains(m.Subject, "1日前") && !strings.Contains(m.Body, "JCBカードの決済のみ") {
			t.Errorf("the JCB-only window is not named in words:\n%s", m.Body)
		}
	}
	for k, n := range subjects {
		if n != 1 {
			t.Errorf("%q arrived %d times", k, n)
		}
	}
}

var jstZone = time.FixedZone("JST", 9*3600)
