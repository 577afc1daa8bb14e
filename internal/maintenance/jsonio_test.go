package maintenance

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func TestExportJSONGolden(t *testing.T) {
	var b bytes.Buffer
	if err := ExportJSON(&b, icsWindows(t)); err != nil {
		t.Fatal(err)
	}
	checkGolden(t, "windows.json", b.Bytes())
}

// Everything a window holds survives export and import, including every status (unlike the
// calendar feed, JSON is Kessai's own backup format).
func TestJSONRoundTrip(t *testing.T) {
	ws := icsWindows(t)
	ws[0].Status = StatusAnnounced
	ws[1].Status = StatusCompleted
	ws[2].Status = StatusInProgress
	ws[3].CreatedAt = time.Date(2019, 12, 1, 1, 2, 3, 456789000, time.UTC) // sub-second kept
	var b bytes.Buffer
	if err := ExportJSON(&b, ws); err != nil {
		t.Fatal(err)
	}
	got, err := ImportJSON(&b)
	if err != nil {
		t.Fatal(err)
	}
	sameWindows(t, got, ws)
}

func TestToJSON(t *testing.T) {
	w := wallIn(t, "2020-07-22", "02:55", "04:30", "")
	w.ID = 7
	w.Scope = Scope{Ops: OpCancel | OpAutoCharge, Methods: []string{"cvs"}}
	w.ReserveEnd = w.End.Add(time.Hour)
	for _, c := range []struct {
		at, state string
	}{
		{"", StatusPlanned}, // an export: the stored status
		{"2020-07-22T02:54:59+09:00", StatusPlanned},
		{"2020-07-22T02:55:00+09:00", StatusInProgress},
		{"2020-07-22T04:30:00+09:00", StatusCompleted},
	} {
		var at time.Time
		if c.at != "" {
			at = jst(t, c.at)
		}
		j := ToJSON(w, at)
		// one status field (issue 15 item 16): the status as seen at the instant
		if j.Status != c.state {
			t.Errorf("at %q: status %q, want %q", c.at, j.Status, c.state)
		}
		want := WindowJSON{ID: 7, Start: "2020-07-22T02:55:00+09:00", End: "2020-07-22T04:30:00+09:00",
			StartLocal: "2020-07-22 02:55", EndLocal: "2020-07-22 04:30", ReserveEnd: "2020-07-22T05:30:00+09:00",
			Zone: DefaultZone, Kind: KindScheduled, Status: c.state, Scope: "CANCEL,AUTOCHARGE,method:cvs"}
		if j != want {
			t.Errorf("at %q:\n got %+v\nwant %+v", c.at, j, want)
		}
	}
	// The JSON keys are the contract.
	raw, err := json.Marshal(ToJSON(w, jst(t, "2020-07-22T03:00:00+09:00")))
	if err != nil {
		t.Fatal(err)
	}
	var keys map[string]any
	if err := json.Unmarshal(raw, &keys); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"id", "uid", "start", "end", "start_local", "end_local", "reserve_end", "zone", "kind",
		"status", "revision", "scope"} {
		if _, ok := keys[k]; !ok {
			t.Errorf("key %q missing from %s", k, raw)
		}
	}
	if _, ok := keys["state"]; ok {
		t.Errorf("a second status field \"state\" in %s", raw)
	}
}

func TestImportJSONDefaults(t *testing.T) {
	ws, err := ImportJSON(strings.NewReader(`{"windows":[{"id":1,"uid":"","start":"2020-07-21T17:55:00Z","end":"2020-07-21T19:30:00Z"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	want := wallIn(t, "2020-07-22", "02:55", "04:30", "")
	want.ID = 1
	sameWindows(t, ws, []Window{want})
	if ws, err := ImportJSON(strings.NewReader(`{"windows":[]}`)); err != nil || len(ws) != 0 {
		t.Errorf("empty schedule: %v %v", ws, err)
	}
}

func TestImportJSONRefusals(t *testing.T) {
	win := func(fields string) string {
		return `{"windows":[{"id":1,"start":"2020-07-22T02:55:00+09:00","end":"2020-07-22T04:30:00+09:00"` + fields + `}]}`
	}
	for _, c := range []struct{ name, src string }{
		{"empty", ""},
		{"syntax", `{"windows":[`},
		{"not-an-object", `[1,2]`},
		{"wrong-type", `{"windows":[{"id":"seven"}]}`},
		{"unknown-field", win(`,"strat":"x"`)},
		{"no-windows", `{}`},
		{"trailing-data", win("") + `{}`},
		{"trailing-brace", win("") + `}`},
		{"bad-scope", win(`,"scope":"CAPTURE,TELEPORT"`)},
		{"bad-method", win(`,"scope":"method:cash"`)},
		{"bad-zone", win(`,"zone":"Mars/Olympus"`)},
		{"bad-start", `{"windows":[{"start":"2020-07-22 02:55","end":"2020-07-22T04:30:00+09:00"}]}`},
		{"missing-end", `{"windows":[{"start":"2020-07-22T02:55:00+09:00"}]}`},
		{"end-before-start", `{"windows":[{"start":"2020-07-22T04:30:00+09:00","end":"2020-07-22T02:55:00+09:00"}]}`},
		{"reserve-before-end", win(`,"reserve_end":"2020-07-22T04:00:00+09:00"`)},
		{"bad-kind", win(`,"kind":"sometimes"`)},
		{"bad-status", win(`,"status":"postponed"`)},
		{"negative-revision", win(`,"revision":-1`)},
		{"too-long", `{"windows":[{"start":"2020-07-01T00:00:00Z","end":"2020-07-09T00:00:00Z"}]}`},
	} {
		t.Run(c.name, func(t *testing.T) {
			ws, err := ImportJSON(strings.NewReader(c.src))
			if !isInputError(err) {
				t.Fatalf("got %v (%d windows), want an *InputError", err, len(ws))
			}
		})
	}
}

// TestScopeWords: scopes are named in words for merchants, never as job codes (issue 15 item 12).
func TestScopeWords(t *testing.T) {
	for _, c := range []struct{ scope, ja, en string }{
		{"all", "すべての決済と管理画面", "all payments and the control panel"},
		{"payments", "すべての決済", "all payments"},
		{"payments,brand:JCB", "JCBカードの決済のみ", "payments by JCB cards only"},
		{"payments,method:cvs", "コンビニ決済のみ", "convenience store payments only"},
		{"CANCEL,AUTOCHARGE", "取消・返金、自動課金のみ", "cancellations and refunds, recurring billing only"},
		{"PANEL", "管理画面のみ", "the control panel only"},
	} {
		sc, err := ParseScope(c.scope)
		if err != nil {
			t.Fatal(err)
		}
		if got := ScopeWords(sc, LangJA); got != c.ja {
			t.Errorf("%s ja: %q, want %q", c.scope, got, c.ja)
		}
		if got := ScopeWords(sc, LangEN); got != c.en {
			t.Errorf("%s en: %q, want %q", c.scope, got, c.en)
		}
	}
}
