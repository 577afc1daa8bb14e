package public_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"regexp"
	"strings"
	"testing"
	"time"

	"kessai/internal/clock"
	"kessai/internal/maintenance"
	"kessai/internal/schedule"
	"kessai/internal/testenv"
)

func getBody(t testing.TB, u string) (int, string) {
	t.Helper()
	resp, err := testenv.Client.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// everything fetches every public surface in both languages, concatenated.
func everything(t testing.TB, base string) string {
	var b strings.Builder
	for _, p := range []string{"/maintenance?lang=ja", "/maintenance?lang=en", "/api/maintenance", "/maintenance.atom?lang=ja",
		"/maintenance.atom?lang=en", "/maintenance.ics"} {
		_, body := getBody(t, base+p)
		b.WriteString(body)
	}
	return b.String()
}

// TestPublicMessagesAndInternalNotes (issue 15 items 13, 16): the operator's internal note of a
// window and of each change never reaches a public surface; the public message does, in its own
// language (the English fields carry the English message, never the Japanese one); a planned window
// is not public until announced; publishing 12 windows makes 12 Atom entries, with absolute links.
func TestPublicMessagesAndInternalNotes(t *testing.T) {
	clk := clock.NewFixed(at(t, "2026-12-01T12:00:00+09:00"))
	s := testenv.Start(t, testenv.Options{Clock: clk})
	ctx := context.Background()
	var ws []maintenance.Window
	for m := 1; m <= 12; m++ {
		w, err := maintenance.WallWindow(fmt.Sprintf("2027-%02d-18", m), "02:55", "04:30", "")
		if err != nil {
			t.Fatal(err)
		}
		w.Note = fmt.Sprintf("INTERNAL-window-%d", m)
		ws = append(ws, w)
	}
	added, err := s.DB.AddWindows(ctx, ws, "test")
	if err != nil {
		t.Fatal(err)
	}
	waitIndex(t, s, 12)
	if all := everything(t, s.URL); strings.Contains(all, "2027-01-18") || strings.Contains(all, "20270118") || strings.Contains(all, "INTERNAL") {
		t.Fatal("a planned, unannounced window (or its note) is public")
	}
	if _, err := schedule.PublishYear(ctx, s.DB, 2027, maintenance.ChangeText{Note: "INTERNAL-publish"}, "test"); err != nil {
		t.Fatal(err)
	}
	if _, err := schedule.Move(ctx, s.DB, added[2].ID, "2027-03-19", "", "", maintenance.ChangeText{MessageJA: "祝日のため変更します",
		MessageEN: "Moved because of a public holiday", Note: "INTERNAL-move"}, "test"); err != nil {
		t.Fatal(err)
	}
	_, atom := getBody(t, s.URL+"/maintenance.atom?lang=ja")
	// 12 publications + 1 move: one entry per published window, none for their creation
	if n := len(regexp.MustCompile(`<entry>`).FindAllString(atom, -1)); n != 13 {
		t.Fatalf("12 published windows and one move made %d Atom entries, want 13:\n%.3000s", n, atom)
	}
	if strings.Contains(atom, "追加") {
		t.Error("windows published with the annual notice are announced as 追加 (added)")
	}
	for _, href := range regexp.MustCompile(`href="([^"]*)"`).FindAllStringSubmatch(atom, -1) {
		if !strings.HasPrefix(href[1], s.URL+"/") {
			t.Errorf("Atom link %q is not absolute", href[1])
		}
	}
	_, atomEN := getBody(t, s.URL+"/maintenance.atom?lang=en")
	if !strings.Contains(atomEN, "Moved because of a public holiday") || strings.Contains(atomEN, "祝日のため") {
		t.Error("the English feed does not carry the English message (only)")
	}
	if !strings.Contains(atom, "祝日のため変更します") {
		t.Error("the Japanese feed lacks the public message of the move")
	}
	// iCalendar: each event links its notice; the scope is described in words
	_, cal := getBody(t, s.URL+"/maintenance.ics")
	unfolded := strings.ReplaceAll(cal, "\r\n ", "")
	if !strings.Contains(unfolded, fmt.Sprintf("URL:%s/maintenance/window/%d", s.URL, added[0].ID)) {
		t.Error("the calendar event has no URL to its notice")
	}
	if !strings.Contains(unfolded, "すべての決済と管理画面") || strings.Contains(unfolded, "停止対象: all") {
		t.Error("the calendar describes the scope by its code, not in words")
	}
	// an emergency with a public message and an internal note
	clk.Set(at(t, "2027-02-01T10:00:00+09:00"))
	em, err := schedule.StartEmergency(ctx, s.DB, clk.Now(), 30*time.Minute, maintenance.Scope{Ops: maintenance.DefaultScope},
		maintenance.ChangeText{MessageJA: "決済処理を一時停止しています。\n復旧作業中です。", MessageEN: "Payments are paused.\nWe are working on it.", Note: "INTERNAL-db-failover"}, "test")
	if err != nil {
		t.Fatal(err)
	}
	waitIndex(t, s, 13)
	all := everything(t, s.URL)
	if strings.Contains(all, "INTERNAL") {
		i := strings.Index(all, "INTERNAL")
		t.Fatalf("an internal note reached a public surface: …%s…", all[max(0, i-200):i+40])
	}
	var st map[string]any
	_, body := getBody(t, s.URL+"/api/maintenance")
	if err := json.Unmarshal([]byte(body), &st); err != nil {
		t.Fatal(err)
	}
	win := st["window"].(map[string]any)
	if win["notes_en"] != "Payments are paused.\nWe are working on it." || win["notes_ja"] != "決済処理を一時停止しています。\n復旧作業中です。" {
		t.Errorf("status API messages: ja %q en %q", win["notes_ja"], win["notes_en"])
	}
	if win["status"] != maintenance.StatusInProgress || win["state"] != nil {
		t.Errorf("one status field, in_progress: %v / state %v", win["status"], win["state"])
	}
	if url, _ := win["url"].(string); url != fmt.Sprintf("%s/maintenance/window/%d", s.URL, em.ID) {
		t.Errorf("window url %q", url)
	}
	// one zone, whole seconds, in every time of the answer
	for _, m := range regexp.MustCompile(`"(now|start|end|created_at|updated_at|at)": "([^"]+)"`).FindAllStringSubmatch(body, -1) {
		if !strings.HasSuffix(m[2], "+09:00") || strings.Contains(m[2], ".") {
			t.Errorf("%s %q: want Japan time in whole seconds", m[1], m[2])
		}
	}
	// the page shows it as in progress with its message line by line, not as upcoming
	_, page := getBody(t, s.URL+"/maintenance?lang=ja")
	if !strings.Contains(page, `id="in-progress"`) || !strings.Contains(page, "決済処理を一時停止しています。<br>復旧作業中です。") {
		t.Errorf("the page does not show the emergency in progress with its lines:\n%.3000s", page)
	}
	up := page[strings.Index(page, `id="upcoming"`):]
	if strings.Contains(up[:strings.Index(up, "</section>")], "緊急") {
		t.Error("the window in progress is listed under upcoming")
	}
}

// TestEmergencyUpdates (issue 15 item 15): timed updates 調査中 → 対応中 → 復旧 appear on the notices
// page (newest first), in the Atom feed and in the status API, each with its public message only;
// with nothing happening the page says all systems are operational.
func TestEmergencyUpdates(t *testing.T) {
	clk := clock.NewFixed(at(t, "2027-02-01T10:00:00+09:00"))
	s := testenv.Start(t, testenv.Options{Clock: clk})
	ctx := context.Background()
	_, page := getBody(t, s.URL+"/maintenance?lang=ja")
	if !strings.Contains(page, "すべてのシステムは正常に稼働しています") {
		t.Error("an idle page does not say all systems are operational")
	}
	if _, en := getBody(t, s.URL+"/maintenance?lang=en"); !strings.Contains(en, "All systems operational") {
		t.Error("an idle English page does not say all systems are operational")
	}
	em, err := schedule.StartEmergency(ctx, s.DB, clk.Now(), time.Hour, maintenance.Scope{Ops: maintenance.DefaultScope},
		maintenance.ChangeText{MessageJA: "障害を調査しています", MessageEN: "We are investigating"}, "test")
	if err != nil {
		t.Fatal(err)
	}
	steps := []maintenance.ChangeText{
		{Stage: maintenance.StageInvestigating, MessageJA: "原因を調査しています", MessageEN: "Investigating the cause", Note: "INTERNAL-1"},
		{Stage: maintenance.StageIdentified, MessageJA: "原因を特定し対応しています", MessageEN: "Cause identified, fixing", Note: "INTERNAL-2"},
		{Stage: maintenance.StageResolved, MessageJA: "復旧しました", MessageEN: "Resolved", Note: "INTERNAL-3"},
	}
	for i, st := range steps {
		clk.Set(clk.Now().Add(10 * time.Minute))
		if _, err := schedule.Update(ctx, s.DB, em.ID, clk.Now(), st, "test"); err != nil {
			t.Fatalf("update %d: %v", i, err)
		}
	}
	// an update needs a stage and a public message
	if _, err := schedule.Update(ctx, s.DB, em.ID, clk.Now(), maintenance.ChangeText{Stage: "fixed", MessageJA: "x"}, "test"); err == nil {
		t.Error("an unknown stage was accepted")
	}
	if _, err := schedule.Update(ctx, s.DB, em.ID, clk.Now(), maintenance.ChangeText{Stage: maintenance.StageResolved, Note: "only a note"}, "test"); err == nil {
		t.Error("an update without a public message was accepted")
	}
	waitIndex(t, s, 1)
	_, page = getBody(t, s.URL+"/maintenance?lang=ja")
	i1, i2, i3 := strings.Index(page, "復旧しました"), strings.Index(page, "原因を特定し対応しています"), strings.Index(page, "原因を調査しています")
	if i1 < 0 || i2 < 0 || i3 < 0 || !(i1 < i2 && i2 < i3) {
		t.Errorf("updates not on the page newest first (%d %d %d)", i1, i2, i3)
	}
	for _, w := range []string{"調査中", "対応中", "復旧"} {
		if !strings.Contains(page, w) {
			t.Errorf("stage %s missing from the page", w)
		}
	}
	_, atom := getBody(t, s.URL+"/maintenance.atom?lang=en")
	for _, w := range []string{"Maintenance update (Investigating)", "Maintenance update (Identified)", "Maintenance update (Resolved)", "Cause identified, fixing"} {
		if !strings.Contains(atom, w) {
			t.Errorf("Atom lacks %q", w)
		}
	}
	var st struct {
		Window struct {
			Updates []struct{ At, Stage, MessageJA, MessageEN string } `json:"updates"`
		} `json:"window"`
	}
	_, body := getBody(t, s.URL+"/api/maintenance")
	if err := json.Unmarshal([]byte(body), &st); err != nil {
		t.Fatal(err)
	}
	if u := st.Window.Updates; len(u) != 3 || u[0].Stage != "investigating" || u[2].Stage != "resolved" {
		t.Errorf("status API updates: %s", body)
	}
	if strings.Contains(everything(t, s.URL), "INTERNAL") {
		t.Error("an update's internal note is public")
	}
}
