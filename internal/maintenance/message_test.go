package maintenance

import (
	"strings"
	"testing"
	"time"
)

func TestFormatSpan(t *testing.T) {
	reserve := wallIn(t, "2021-04-10", "01:00", "02:00", "")
	reserve.ReserveEnd = reserve.End.Add(90 * time.Minute)
	for _, c := range []struct {
		name   string
		w      Window
		ja, en string
	}{
		{"notice-window", wallIn(t, "2020-07-22", "02:55", "04:30", ""),
			"2020年07月22日(水) AM 02:55～AM 04:30", "Wed 22 Jul 2020, 02:55–04:30 JST"},
		{"afternoon-uses-00-11-hours", wallIn(t, "2020-07-22", "12:05", "13:30", ""),
			"2020年07月22日(水) PM 00:05～PM 01:30", "Wed 22 Jul 2020, 12:05–13:30 JST"},
		{"crosses-midnight", wallIn(t, "2021-03-10", "22:30", "05:00", ""),
			"2021年03月10日(水) PM 10:30～2021年03月11日(木) AM 05:00", "Wed 10 Mar 2021, 22:30 – Thu 11 Mar 2021, 05:00 JST"},
		{"other-zone-named", wallIn(t, "2020-07-22", "02:55", "04:30", "UTC"),
			"2020年07月22日(水) AM 02:55～AM 04:30 (UTC)", "Wed 22 Jul 2020, 02:55–04:30 UTC"},
		{"dst-change-inside", wallIn(t, "2026-03-08", "01:00", "04:00", "America/New_York"),
			"2026年03月08日(日) AM 01:00～AM 04:00 (EDT)", "Sun 8 Mar 2026, 01:00 EST – Sun 8 Mar 2026, 04:00 EDT"},
		{"reserve-end-does-not-change-span", reserve,
			"2021年04月10日(土) AM 01:00～AM 02:00", "Sat 10 Apr 2021, 01:00–02:00 JST"},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := FormatSpanJA(c.w); got != c.ja {
				t.Errorf("ja %q, want %q", got, c.ja)
			}
			if got := FormatSpanEN(c.w); got != c.en {
				t.Errorf("en %q, want %q", got, c.en)
			}
		})
	}
}

func TestCustomerMessageGolden(t *testing.T) {
	reserve := wallIn(t, "2021-04-10", "01:00", "02:00", "")
	reserve.ReserveEnd = reserve.End.Add(90 * time.Minute)
	cases := []struct {
		name string
		w    Window
	}{
		{"notice-2020-07-22", wallIn(t, "2020-07-22", "02:55", "04:30", "")},
		{"crosses-midnight", wallIn(t, "2021-03-10", "22:30", "05:00", "")},
		{"reserve-end", reserve},
	}
	var b strings.Builder
	for _, c := range cases {
		for _, lang := range []string{"ja", "en"} {
			msg, err := CustomerMessage(c.w, lang, "")
			if err != nil {
				t.Fatal(err)
			}
			b.WriteString("== " + c.name + " " + lang + "\n" + msg + "\n")
		}
	}
	checkGolden(t, "customer_message", []byte(b.String()))
}

func TestCustomerMessageDefaultsAndCode(t *testing.T) {
	w := wallIn(t, "2020-07-22", "02:55", "04:30", "")
	ja, err := CustomerMessage(w, "", "")
	if err != nil {
		t.Fatal(err)
	}
	jaJP, err := CustomerMessage(w, "ja-JP", "")
	if err != nil {
		t.Fatal(err)
	}
	if ja != jaJP {
		t.Error(`"" and "ja-JP" should both give the Japanese default`)
	}
	for _, want := range []string{FormatSpanJA(w), ErrorCode} {
		if !strings.Contains(ja, want) {
			t.Errorf("Japanese message lacks %q:\n%s", want, ja)
		}
	}
	// The source notice's typo (年 missing) cannot happen: the date comes from data.
	if !strings.Contains(ja, "2020年07月22日") {
		t.Errorf("date not rendered from data:\n%s", ja)
	}
	en, err := CustomerMessage(w, "en", "")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(en, FormatSpanEN(w)) || !strings.Contains(en, ErrorCode) {
		t.Errorf("English message lacks the span or the code:\n%s", en)
	}
}

func TestCustomerMessageOperatorTemplate(t *testing.T) {
	w := wallIn(t, "2020-07-22", "02:55", "04:30", "")
	w.TitleJA = "定期メンテナンス"
	for _, c := range []struct {
		name, lang, tmpl, want string
	}{
		{"span-and-code", "ja", "{{.Code}}: {{.Span}}", "ER999: 2020年07月22日(水) AM 02:55～AM 04:30"},
		{"start-end", "en", "{{.Start}} / {{.End}}", "Wed 22 Jul 2020, 02:55 JST / Wed 22 Jul 2020, 04:30 JST"},
		{"time-layout", "ja", `{{.StartTime.Format "15:04"}}-{{.EndTime.Format "15:04"}} {{.Zone}}`, "02:55-04:30 Asia/Tokyo"},
		{"title", "ja", "{{.Title}}", "定期メンテナンス"},
		{"blank-means-default", "en", "  \n", ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := CustomerMessage(w, c.lang, c.tmpl)
			if err != nil {
				t.Fatal(err)
			}
			want := c.want
			if want == "" {
				want, _ = CustomerMessage(w, c.lang, "")
			}
			if got != want {
				t.Errorf("got %q, want %q", got, want)
			}
		})
	}
}

func TestCustomerMessageRefusals(t *testing.T) {
	w := wallIn(t, "2020-07-22", "02:55", "04:30", "")
	for _, c := range []struct{ name, lang, tmpl string }{
		{"unknown-lang", "fr", ""},
		{"does-not-parse", "ja", "{{.Span"},
		{"unknown-field", "ja", "{{.Nope}}"},
		{"execution-fails", "en", `{{.StartTime.Format 3}}`},
		{"too-long", "en", `{{range 100000}}{{$.Span}}{{end}}`},
	} {
		t.Run(c.name, func(t *testing.T) {
			if _, err := CustomerMessage(w, c.lang, c.tmpl); !isInputError(err) {
				t.Fatalf("got %v, want an *InputError", err)
			}
		})
	}
}
