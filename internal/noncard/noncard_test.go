package noncard_test

import (
	"testing"
	"time"

	"kessai/internal/noncard"
	"kessai/internal/store"
	"kessai/internal/wire"
)

func TestDeadlineCutsAtEndOfDayJST(t *testing.T) {
	for _, tc := range []struct {
		now  time.Time
		days int
		want string
	}{
		{time.Date(2026, 3, 10, 10, 0, 0, 0, noncard.JST), 14, "2026-03-24 23:59:59"},
		// 23:30 UTC on the 9th is already the 10th in Japan
		{time.Date(2026, 3, 9, 23, 30, 0, 0, time.UTC), 1, "2026-03-11 23:59:59"},
		{time.Date(2026, 12, 25, 0, 0, 0, 0, noncard.JST), 10, "2027-01-04 23:59:59"},
	} {
		if got := noncard.Deadline(tc.now, tc.days).In(noncard.JST).Format("2006-01-02 15:04:05"); got != tc.want {
			t.Errorf("Deadline(%v, %d) = %s, want %s", tc.now, tc.days, got, tc.want)
		}
	}
}

func TestNextBusinessMorning(t *testing.T) {
	for _, tc := range []struct{ at, want string }{
		{"2026-01-12T10:00:00+09:00", "2026-01-13T09:00:00+09:00"}, // 成人の日 (Mon) → Tue
		{"2026-05-04T10:00:00+09:00", "2026-05-07T09:00:00+09:00"}, // みどりの日 → 5/5, 5/6 (振替休日) → Thu 5/7
		{"2026-02-11T23:59:00+09:00", "2026-02-12T09:00:00+09:00"},
	} {
		at, _ := time.Parse(time.RFC3339, tc.at)
		if got := noncard.NextBusinessMorning(at).Format(time.RFC3339); got != tc.want {
			t.Errorf("NextBusinessMorning(%s) = %s, want %s", tc.at, got, tc.want)
		}
	}
}

func TestCheck(t *testing.T) {
	set := store.DefaultStoreMethods("130001")
	set.Methods = []string{"card", "cvs", "bank"}
	set.Chains = []string{"010", "020"}
	for _, tc := range []struct {
		name, method, cv, pn, kana, po string
		total                          int64
		want                           wire.Code
	}{
		{"fine", "cvs", "010", "", "ヤマダ ハナコ", "", 300000, ""},
		{"full-width spaces are ignored", "bank", "", "", "ヤマダ　タロウ", "150-0001", 1000, ""},
		{"Seven-Eleven above its limit", "cvs", "010", "", "ヤマダ", "", 300001, wire.ERChainLimit},
		{"chain not enabled", "cvs", "030", "", "ヤマダ", "", 100, wire.ERChain},
		{"Lawson without pn", "cvs", "020", "", "ヤマダ", "", 100, wire.ERParamPhone},
		{"small ャ", "cvs", "010", "", "キャロル", "", 100, wire.ERParamKana},
		{"small ッ in nmf", "bank", "", "", "ハットリ", "", 100, wire.ERParamTransfer},
		{"hiragana", "bank", "", "", "やまだ", "", 100, wire.ERParamTransfer},
		{"postal code", "bank", "", "", "ヤマダ", "1234", 100, wire.ERParamPostal},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := noncard.Check(set, tc.method, tc.cv, tc.total, tc.pn, tc.kana, tc.po, true, false)
			if got := wire.CodeOf(err); got != tc.want {
				t.Fatalf("code %q, want %q (%v)", got, tc.want, err)
			}
		})
	}
	set.Methods = []string{"card"}
	if _, _, err := noncard.Check(set, "bank", "", 100, "", "ヤマダ", "", true, false); wire.CodeOf(err) != wire.ERNotContracted {
		t.Fatalf("not contracted: %v", err)
	}
}
