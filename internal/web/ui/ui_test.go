package ui

import (
	"strings"
	"testing"
	"time"

	"kessai/internal/maintenance"
)

func TestSafeNext(t *testing.T) {
	for in, want := range map[string]string{
		"":                         "/console/",
		"/console/payments?cod=1":  "/console/payments?cod=1",
		"https://evil.example/":    "/console/",
		"//evil.example/console/":  "/console/",
		"/operator/":               "/console/",
		"/console/\r\nSet-Cookie:": "/console/",
		"/console\\@evil":          "/console/",
	} {
		if got := SafeNext(in, "/console"); got != want {
			t.Errorf("SafeNext(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestMaskCardNeverShowsMoreThanTenDigits(t *testing.T) {
	if got := MaskCard("411111", "1111"); got != "411111******1111" {
		t.Fatalf("got %q", got)
	}
	if got := MaskCard("", "1234"); got != "************1234" {
		t.Fatalf("got %q", got)
	}
	if MaskCard("", "") != "" {
		t.Fatal("empty card")
	}
}

func TestYen(t *testing.T) {
	for n, want := range map[int64]string{0: "0", 999: "999", 1000: "1,000", 1234567: "1,234,567", -5000: "-5,000"} {
		if got := Yen(n); got != want {
			t.Errorf("Yen(%d) = %q", n, got)
		}
	}
}

func TestBarChartIsPlainSVG(t *testing.T) {
	svg := string(BarChart(`売上 <"&>`, []ChartPoint{{Label: "1/1", Value: 1000, Tip: "<b>"}, {Label: "1/2", Value: 0}}))
	if !strings.HasPrefix(svg, "<svg") || strings.Count(svg, "<rect") != 2 {
		t.Fatalf("chart %s", svg)
	}
	for _, bad := range []string{"<script", "style=", "<b>", `<"&>`} {
		if strings.Contains(svg, bad) {
			t.Fatalf("chart contains %q", bad)
		}
	}
	if s := string(BarChart("empty", nil)); !strings.Contains(s, "</svg>") {
		t.Fatal("empty chart")
	}
}

func TestBanners(t *testing.T) {
	now := time.Date(2026, 7, 15, 12, 0, 0, 0, time.UTC)
	soon, _ := maintenance.WallWindow("2026-07-20", "02:55", "04:30", "")
	soon.ID = 1
	far, _ := maintenance.WallWindow("2026-09-20", "02:55", "04:30", "")
	far.ID = 2
	soon.Status, far.Status = maintenance.StatusAnnounced, maintenance.StatusAnnounced
	draft, _ := maintenance.WallWindow("2026-07-18", "02:55", "04:30", "")
	draft.ID = 3 // planned, never announced: no banner until it runs (maintenance.md §3.6)
	ix := maintenance.NewIndex([]maintenance.Window{soon, far, draft})
	bs := Banners(ix, now, JA)
	if len(bs) != 1 || !strings.Contains(bs[0].Text, "2026年07月20日(月) AM 02:55～AM 04:30") {
		t.Fatalf("banners %+v", bs)
	}
	if bs := Banners(ix, soon.Start.Add(time.Minute), EN); len(bs) != 1 || bs[0].Class != "warn" || !strings.Contains(bs[0].Text, "in progress") {
		t.Fatalf("active banner %+v", bs)
	}
	if bs := Banners(ix, draft.Start.Add(time.Minute), JA); len(bs) != 2 || bs[0].Class != "warn" {
		t.Fatalf("an unannounced window in progress is enforced, so shown: %+v", bs)
	}
}
