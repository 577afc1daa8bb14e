package main

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"kessai/internal/maintenance"
	"kessai/internal/store"
)

// TestMessageAndNoteFlags (issue 15 item 13): add, move, cancel, publish, start, extend, update and
// end take --message-ja, --message-en (public) and --note (internal), and store them apart: the
// window's public message in notes_ja/notes_en, its note separately; each change its own message
// and note. --reason is the internal note too.
func TestMessageAndNoteFlags(t *testing.T) {
	d := t.TempDir()
	m := func(sub string, args ...string) string { return cli(t, append([]string{sub, "--data", d}, args...)...) }
	m("add", "--date", "2030-07-18", "--message-ja", "公開メッセージ", "--message-en", "Public message", "--note", "internal-add")
	m("add", "--date", "2030-08-18")
	m("move", "2", "--date", "2030-08-19", "--message-ja", "移動理由", "--message-en", "Moved", "--note", "internal-move")
	m("publish", "--year", "2030", "--note", "internal-publish")
	m("cancel", "2", "--message-ja", "中止理由", "--message-en", "Cancelled", "--reason", "internal-cancel")
	now := time.Now()
	at := now.Format(time.RFC3339)
	m("start", "--for", "30m", "--at", at, "--message-ja", "緊急停止中", "--message-en", "Paused", "--note", "internal-start")
	m("extend", "--by", "15m", "--at", at, "--message-ja", "延長します", "--message-en", "Extended", "--note", "internal-extend")
	m("update", "--stage", "identified", "--at", at, "--message-ja", "対応中です", "--message-en", "Fixing", "--note", "internal-update", "--mail")
	m("end", "--at", now.Add(time.Minute).Format(time.RFC3339), "--message-ja", "復旧しました", "--message-en", "Resolved", "--note", "internal-end")

	db, err := store.Open(context.Background(), store.Config{DataDir: d})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ws, _ := db.Windows(context.Background())
	chs, _ := db.Changes(context.Background())
	if len(ws) != 3 {
		t.Fatalf("%d windows", len(ws))
	}
	byID := map[int64]maintenance.Window{}
	for _, w := range ws {
		byID[w.ID] = w
	}
	if w := byID[1]; w.NotesJA != "公開メッセージ" || w.NotesEN != "Public message" || w.Note != "internal-add" {
		t.Errorf("added window: %q %q %q", w.NotesJA, w.NotesEN, w.Note)
	}
	em := byID[3]
	if em.Kind != maintenance.KindEmergency || em.NotesJA != "緊急停止中" || em.NotesEN != "Paused" || em.Note != "internal-start" {
		t.Errorf("emergency: %+v", em)
	}
	want := map[string][3]string{
		maintenance.ChangeMoved:     {"移動理由", "Moved", "internal-move"},
		maintenance.ChangeCancelled: {"中止理由", "Cancelled", "internal-cancel"},
		maintenance.ChangeExtended:  {"延長します", "Extended", "internal-extend"},
		maintenance.ChangeUpdate:    {"対応中です", "Fixing", "internal-update"},
		maintenance.ChangeEnded:     {"復旧しました", "Resolved", "internal-end"},
		maintenance.ChangePublished: {"", "", "internal-publish"},
	}
	seen := map[string]bool{}
	for _, c := range chs {
		w, ok := want[c.Kind]
		if !ok || seen[c.Kind] {
			continue
		}
		seen[c.Kind] = true
		if got := [3]string{c.MessageJA, c.MessageEN, c.Note}; got != w {
			t.Errorf("%s change: %q, want %q", c.Kind, got, w)
		}
		if c.Kind == maintenance.ChangeUpdate && (c.Stage != maintenance.StageIdentified || !c.Mail) {
			t.Errorf("update: stage %q mail %v", c.Stage, c.Mail)
		}
	}
	if len(seen) != len(want) {
		t.Errorf("changes recorded: %v", seen)
	}
	// the list's JSON (operator side) still names the window; an unknown stage is refused
	if out := m("list", "--json"); !strings.Contains(out, `"id": `+strconv.FormatInt(em.ID, 10)) {
		t.Errorf("list: %s", out)
	}
	var errOut strings.Builder
	if err := cmdMaintenance(context.Background(), []string{"update", "--data", d, "--stage", "fixed", "--message-ja", "x", strconv.FormatInt(em.ID, 10)}, &errOut, &errOut); err == nil {
		t.Error("an unknown stage was accepted")
	}
}
