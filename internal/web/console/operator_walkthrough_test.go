package console_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"kessai/internal/maintenance"
	"kessai/internal/store"
	"kessai/internal/web/ui"
)

// TestOperatorConfirmsIrreversibleActions (issue 15 item 14): suspending a store and publishing the
// year each show a confirmation that says what will happen (the store's name; the number of windows
// and of recipients) and change nothing until confirmed; a suspension needs a reason, kept in the
// audit log; resuming lands on ?done=resumed with its message.
func TestOperatorConfirmsIrreversibleActions(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	st, _ := e.srv.DB.GetStore(ctx, aidA)
	st.NotifyEmail = "shop@example.jp"
	if err := e.srv.DB.UpdateStore(ctx, st); err != nil {
		t.Fatal(err)
	}
	op := e.browser()
	op.operatorLogin()
	p := op.submit("/operator/stores/"+aidA, "/operator/stores/"+aidA+"/suspend", url.Values{"action": {"suspend"}})
	if p.status != 200 || !strings.Contains(p.body, "テスト商店") || !strings.Contains(p.body, "ER998") || !strings.Contains(p.body, `id="confirm-form"`) {
		t.Fatalf("suspend without confirmation: %d\n%.2000s", p.status, p.body)
	}
	if s, _ := e.srv.DB.GetStore(ctx, aidA); s.Suspended {
		t.Fatal("the store was suspended before the confirmation")
	}
	p = op.submit("/operator/stores/"+aidA, "/operator/stores/"+aidA+"/suspend", url.Values{"action": {"suspend"}, "confirm": {"yes"}})
	if p.status != http.StatusUnprocessableEntity || !strings.Contains(p.body, "停止の理由を入力してください") {
		t.Fatalf("confirmed without a reason: %d", p.status)
	}
	if s, _ := e.srv.DB.GetStore(ctx, aidA); s.Suspended {
		t.Fatal("suspended without a reason")
	}
	p = op.submit("/operator/stores/"+aidA, "/operator/stores/"+aidA+"/suspend", url.Values{"action": {"suspend"}, "confirm": {"yes"}, "reason": {"未払い"}})
	if p.status != http.StatusSeeOther || p.h.Get("Location") != "/operator/stores/"+aidA+"?done=suspended" {
		t.Fatalf("suspend: %d %s", p.status, p.h.Get("Location"))
	}
	p = op.submit("/operator/stores/"+aidA, "/operator/stores/"+aidA+"/suspend", url.Values{"action": {"resume"}})
	if p.status != http.StatusSeeOther || p.h.Get("Location") != "/operator/stores/"+aidA+"?done=resumed" {
		t.Fatalf("resume: %d %q", p.status, p.h.Get("Location"))
	}
	if d := op.get(p.h.Get("Location")); !strings.Contains(d.body, "加盟店の停止を解除しました") {
		t.Error("?done=resumed shows no message")
	}
	es, _ := e.srv.DB.AuditLog(ctx, store.AuditFilter{AID: aidA, Action: "store.suspend", Limit: 5})
	if len(es) != 1 || es[0].Detail != "未払い" {
		t.Errorf("audit of the suspension: %+v", es)
	}

	// publishing the year
	year := e.clock.Now().In(ui.Tokyo).Year() + 1
	for _, d := range []string{"-03-18", "-04-18"} {
		w, _ := maintenance.WallWindow(itoa(year)+d, "02:55", "04:30", "")
		if _, err := e.srv.DB.AddWindows(ctx, []maintenance.Window{w}, "test"); err != nil {
			t.Fatal(err)
		}
	}
	p = op.submit("/operator/maintenance?year="+itoa(year), "/operator/maintenance/publish", url.Values{"year": {itoa(year)}})
	if p.status != 200 || !strings.Contains(p.body, "未告知の 2 件") || !strings.Contains(p.body, "1 件の加盟店") {
		t.Fatalf("publish confirmation (2 windows, 1 recipient): %d\n%.3000s", p.status, p.body)
	}
	if ws, _ := e.srv.DB.Windows(ctx); ws[0].Status != maintenance.StatusPlanned {
		t.Fatal("published before the confirmation")
	}
	p = op.submit("/operator/maintenance?year="+itoa(year), "/operator/maintenance/publish", url.Values{"year": {itoa(year)}, "confirm": {"yes"}})
	if p.status != http.StatusSeeOther {
		t.Fatalf("confirmed publish: %d", p.status)
	}
	if ws, _ := e.srv.DB.Windows(ctx); ws[0].Status != maintenance.StatusAnnounced || ws[1].Status != maintenance.StatusAnnounced {
		t.Fatal("the confirmed publish did not announce the windows")
	}
}

// TestOperatorMessagesNotesAndUpdates (issue 15 items 13, 15): the console warns about planned,
// unannounced windows in the next 30 days; an emergency started there keeps its public message and
// its internal note apart (the note in the console's history only, never on the notices page);
// updates posted from the console are published with their stage.
func TestOperatorMessagesNotesAndUpdates(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	op := e.browser()
	op.operatorLogin()
	soon := e.clock.Now().In(ui.Tokyo).AddDate(0, 0, 10).Format("2006-01-02")
	later := e.clock.Now().In(ui.Tokyo).AddDate(0, 0, 60).Format("2006-01-02")
	for _, d := range []string{soon, later} {
		w, _ := maintenance.WallWindow(d, "02:55", "04:30", "")
		if _, err := e.srv.DB.AddWindows(ctx, []maintenance.Window{w}, "test"); err != nil {
			t.Fatal(err)
		}
	}
	p := op.get("/operator/maintenance")
	if !strings.Contains(p.body, `id="unannounced"`) {
		t.Fatal("no warning about an unannounced window 10 days ahead")
	}
	warn := p.body[strings.Index(p.body, `id="unannounced"`):]
	warn = warn[:strings.Index(warn, "</section>")]
	if strings.Count(warn, "<li>") != 1 {
		t.Errorf("the warning should list only the window within 30 days:\n%s", warn)
	}
	p = op.submit("/operator/maintenance", "/operator/maintenance/emergency", url.Values{"minutes": {"30"}, "scope": {"all"}, "confirm": {"yes"},
		"message_ja": {"決済を一時停止しています"}, "message_en": {"Payments are paused"}, "note": {"DB障害-SECRET"}})
	if p.status != http.StatusSeeOther {
		t.Fatalf("emergency: %d %s", p.status, p.body)
	}
	act := e.srv.Maint.Active(e.clock.Now())
	if act == nil {
		t.Fatal("no active window")
	}
	p = op.submit("/operator/maintenance", "/operator/maintenance/windows/"+itoa64(act.ID)+"/update", url.Values{"stage": {"identified"},
		"message_ja": {"原因を特定しました"}, "message_en": {"Cause identified"}, "note": {"ticket-SECRET-2"}})
	if p.status != http.StatusSeeOther || !strings.Contains(p.h.Get("Location"), "done=update") {
		t.Fatalf("update: %d %s", p.status, p.body)
	}
	hist := op.get("/operator/maintenance")
	for _, want := range []string{"DB障害-SECRET", "ticket-SECRET-2", "原因を特定しました", "対応中"} {
		if !strings.Contains(hist.body, want) {
			t.Errorf("the console lacks %q", want)
		}
	}
	pub := op.get("/maintenance?lang=en")
	if strings.Contains(pub.body, "SECRET") || !strings.Contains(pub.body, "Payments are paused") || !strings.Contains(pub.body, "Cause identified") {
		t.Errorf("notices page: note leaked or message missing:\n%.3000s", pub.body)
	}
}
