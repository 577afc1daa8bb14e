package maintenance

import (
	"bytes"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"
)

// testNoticeConfig is the default sender with a fixed date and every optional field set, so the
// golden files show every block.
func testNoticeConfig(t testing.TB) NoticeConfig {
	t.Helper()
	cfg := DefaultNoticeConfig()
	cfg.IssuedOn = time.Date(2019, 12, 4, 10, 0, 0, 0, tokyoLoc(t))
	cfg.SupportPhone = "03-0000-0000"
	cfg.Address = "〒100-0000 東京都千代田区（サンプル）"
	cfg.AddressEN = "Chiyoda-ku, Tokyo (sample)"
	cfg.CalendarURL = "https://status.kessai.example/maintenance.ics"
	return cfg
}

func renderNotice(t testing.TB, f func(*bytes.Buffer) error) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := f(&b); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

var noticeLangs, noticeFormats = []string{LangJA, LangEN}, []string{FormatText, FormatHTML, FormatMarkdown}

func TestAnnualNotice2020Golden(t *testing.T) {
	cfg, ws := testNoticeConfig(t), windows2020(t)
	for _, lang := range noticeLangs {
		for _, format := range noticeFormats {
			t.Run(lang+"-"+format, func(t *testing.T) {
				got := renderNotice(t, func(b *bytes.Buffer) error { return RenderAnnualNotice(b, cfg, 2020, ws, lang, format) })
				checkGolden(t, fmt.Sprintf("annual_2020.%s.%s", lang, format), got)
			})
		}
	}
}

// Every window of the source notice appears with its weekday computed from the date, in date
// order, and the notice names ER999 — in every language and format.
func TestAnnualNotice2020Content(t *testing.T) {
	cfg, ws := testNoticeConfig(t), windows2020(t)
	// Shuffle the input: the notice must sort.
	ws[0], ws[11] = ws[11], ws[0]
	for _, format := range noticeFormats {
		ja := string(renderNotice(t, func(b *bytes.Buffer) error { return RenderAnnualNotice(b, cfg, 2020, ws, "ja", format) }))
		en := string(renderNotice(t, func(b *bytes.Buffer) error { return RenderAnnualNotice(b, cfg, 2020, ws, "en", format) }))
		last := -1
		for _, d := range notice2020Dates {
			day := wallIn(t, d, "02:55", "04:30", "")
			local := day.Start.In(day.Location())
			re := regexp.MustCompile(fmt.Sprintf(`%d年%02d月%02d日\(%s\) 02:55～04:30`,
				local.Year(), local.Month(), local.Day(), weekdayJA[local.Weekday()]))
			loc := re.FindStringIndex(ja)
			if loc == nil {
				t.Errorf("%s ja: no line for %s", format, d)
				continue
			}
			if loc[0] < last {
				t.Errorf("%s ja: %s out of order", format, d)
			}
			last = loc[0]
			if !strings.Contains(en, local.Format("Mon 2 Jan 2006")+", 02:55–04:30 JST") {
				t.Errorf("%s en: no line for %s", format, d)
			}
		}
		for _, doc := range []string{ja, en} {
			if !strings.Contains(doc, ErrorCode) {
				t.Errorf("%s: no %s", format, ErrorCode)
			}
		}
		if !strings.Contains(ja, "2020年07月22日(水)") || strings.Contains(ja, "2020年07月23日") {
			t.Errorf("%s: 2020-07-22 must be a Wednesday and 07-23 absent", format)
		}
	}
}

// mixed2021 exercises what the 2020 list does not: midnight, partial scope, reserve end, a
// cancelled window, an emergency window, operator notes, a window of another year.
func mixed2021(t testing.TB) []Window {
	t.Helper()
	normal := wallIn(t, "2021-01-21", "02:55", "04:30", "")
	night := wallIn(t, "2021-03-10", "22:30", "05:00", "")
	partial := wallIn(t, "2021-04-15", "01:00", "02:00", "")
	partial.Scope = Scope{Ops: OpCancel | OpAutoCharge, Methods: []string{"cvs"}}
	reserve := wallIn(t, "2021-05-20", "02:55", "04:30", "")
	reserve.ReserveEnd = reserve.End.Add(time.Hour)
	cancelled := wallIn(t, "2021-06-17", "02:55", "04:30", "")
	cancelled.Status = StatusCancelled
	emergency := wallIn(t, "2021-07-01", "13:00", "13:30", "")
	emergency.Kind = KindEmergency
	emergency.NotesJA = "カード会社側の設備更新に伴う作業です。"
	emergency.NotesEN = "Work on the card network's equipment."
	other := wallIn(t, "2022-01-20", "02:55", "04:30", "")
	return []Window{other, reserve, night, emergency, cancelled, partial, normal}
}

func TestAnnualNoticeMixedGolden(t *testing.T) {
	cfg, ws := testNoticeConfig(t), mixed2021(t)
	for _, c := range []struct{ lang, format string }{{"ja", "text"}, {"en", "text"}, {"ja", "md"}, {"en", "html"}} {
		t.Run(c.lang+"-"+c.format, func(t *testing.T) {
			got := renderNotice(t, func(b *bytes.Buffer) error { return RenderAnnualNotice(b, cfg, 2021, ws, c.lang, c.format) })
			checkGolden(t, fmt.Sprintf("annual_2021_mixed.%s.%s", c.lang, c.format), got)
			s := string(got)
			if strings.Contains(s, "06月17日") || strings.Contains(s, "17 Jun 2021") {
				t.Error("cancelled window listed")
			}
			if strings.Contains(s, "2022") {
				t.Error("window of another year listed")
			}
			if !strings.Contains(s, "CANCEL") || !strings.Contains(s, "AUTOCHARGE") || !strings.Contains(s, "cvs") {
				t.Error("partial window lacks its scope codes")
			}
		})
	}
}

func TestWindowNoticeGolden(t *testing.T) {
	cfg := testNoticeConfig(t)
	ws := mixed2021(t)
	for _, c := range []struct {
		name   string
		w      Window
		lang   string
		format string
	}{
		{"scheduled", wallIn(t, "2020-07-22", "02:55", "04:30", ""), "ja", "text"},
		{"scheduled", wallIn(t, "2020-07-22", "02:55", "04:30", ""), "en", "text"},
		{"scheduled", wallIn(t, "2020-07-22", "02:55", "04:30", ""), "ja", "html"},
		{"partial-reserve", func() Window { w := ws[5]; w.ReserveEnd = w.End.Add(30 * time.Minute); return w }(), "ja", "md"},
		{"emergency", ws[3], "en", "md"},
		{"cancelled", ws[4], "ja", "text"},
	} {
		t.Run(c.name+"-"+c.lang+"-"+c.format, func(t *testing.T) {
			got := renderNotice(t, func(b *bytes.Buffer) error { return RenderWindowNotice(b, cfg, c.w, c.lang, c.format) })
			checkGolden(t, fmt.Sprintf("window_%s.%s.%s", c.name, c.lang, c.format), got)
		})
	}
}

func TestChangeNoticeGolden(t *testing.T) {
	cfg := testNoticeConfig(t)
	at := time.Date(2020, 7, 1, 12, 0, 0, 0, tokyoLoc(t))
	old := wallIn(t, "2020-07-23", "02:55", "04:30", "")
	moved := wallIn(t, "2020-07-22", "02:55", "04:30", "")
	moved.Revision = 1
	cancelled := old
	cancelled.Status = StatusCancelled
	added := wallIn(t, "2020-08-06", "01:00", "03:00", "")
	extended := moved
	extended.End = moved.End.Add(45 * time.Minute)
	extended.ReserveEnd = extended.End.Add(30 * time.Minute)
	ended := moved
	ended.End = moved.Start.Add(50 * time.Minute)
	emergency := wallIn(t, "2020-09-03", "14:10", "15:00", "")
	emergency.Kind = KindEmergency
	for _, c := range []struct {
		name string
		win  Window
		ch   Change
	}{
		{"moved", moved, Change{Kind: ChangeMoved, OldStart: old.Start, OldEnd: old.End, NewStart: moved.Start, NewEnd: moved.End,
			At: at, ChangeText: ChangeText{MessageJA: "7月23日が祝日（海の日）となったため", MessageEN: "23 July became a public holiday (Marine Day)"}}},
		{"cancelled", cancelled, Change{Kind: ChangeCancelled, At: at}},
		{"added", added, Change{Kind: ChangeAdded, NewStart: added.Start, NewEnd: added.End, At: at}},
		{"extended", extended, Change{Kind: ChangeExtended, OldStart: moved.Start, OldEnd: moved.End, NewEnd: extended.End, At: at}},
		{"ended", ended, Change{Kind: ChangeEnded, OldEnd: moved.End, NewEnd: ended.End, At: ended.End}},
		{"started", emergency, Change{Kind: ChangeStarted, At: emergency.Start}},
	} {
		for _, lang := range noticeLangs {
			t.Run(c.name+"-"+lang, func(t *testing.T) {
				got := renderNotice(t, func(b *bytes.Buffer) error { return RenderChangeNotice(b, cfg, c.win, c.ch, lang, "text") })
				checkGolden(t, fmt.Sprintf("change_%s.%s.text", c.name, lang), got)
			})
		}
	}
	got := renderNotice(t, func(b *bytes.Buffer) error {
		return RenderChangeNotice(b, cfg, cancelled, Change{Kind: ChangeCancelled}, "ja", "html")
	})
	checkGolden(t, "change_cancelled.ja.html", got)
	got = renderNotice(t, func(b *bytes.Buffer) error {
		return RenderChangeNotice(b, cfg, moved, Change{Kind: ChangeMoved, OldStart: old.Start, OldEnd: old.End}, "en", "md")
	})
	checkGolden(t, "change_moved.en.md", got)
}

// The change notices state facts from data: both spans of a move, and the cancelled span.
func TestChangeNoticeContent(t *testing.T) {
	cfg := testNoticeConfig(t)
	old := wallIn(t, "2020-07-23", "02:55", "04:30", "")
	moved := wallIn(t, "2020-07-22", "02:55", "04:30", "")
	s := string(renderNotice(t, func(b *bytes.Buffer) error {
		return RenderChangeNotice(b, cfg, moved, Change{Kind: ChangeMoved, OldStart: old.Start, OldEnd: old.End}, "ja", "text")
	}))
	if !strings.Contains(s, formatSpanJA24(old)) || !strings.Contains(s, formatSpanJA24(moved)) {
		t.Errorf("moved notice lacks a span:\n%s", s)
	}
	s = string(renderNotice(t, func(b *bytes.Buffer) error {
		return RenderChangeNotice(b, cfg, old, Change{Kind: ChangeCancelled}, "ja", "text")
	}))
	if !strings.Contains(s, "中止") || !strings.Contains(s, formatSpanJA24(old)) || strings.Contains(s, "お客様への表示") {
		t.Errorf("cancelled notice: want 中止 and the span, no customer message:\n%s", s)
	}
}

func TestNoticeRefusals(t *testing.T) {
	cfg, ws := testNoticeConfig(t), windows2020(t)
	badTmpl := cfg
	badTmpl.MessageTemplateJA = "{{.Nope}}"
	for _, c := range []struct {
		name string
		run  func() error
	}{
		{"annual-unknown-lang", func() error { return RenderAnnualNotice(&bytes.Buffer{}, cfg, 2020, ws, "fr", "text") }},
		{"annual-unknown-format", func() error { return RenderAnnualNotice(&bytes.Buffer{}, cfg, 2020, ws, "ja", "pdf") }},
		{"annual-bad-message-template", func() error { return RenderAnnualNotice(&bytes.Buffer{}, badTmpl, 2020, ws, "ja", "text") }},
		{"window-unknown-format", func() error { return RenderWindowNotice(&bytes.Buffer{}, cfg, ws[0], "en", "docx") }},
		{"window-unknown-lang", func() error { return RenderWindowNotice(&bytes.Buffer{}, cfg, ws[0], "de", "md") }},
		{"change-unknown-kind", func() error {
			return RenderChangeNotice(&bytes.Buffer{}, cfg, ws[0], Change{Kind: "teleported"}, "ja", "text")
		}},
		{"change-unknown-format", func() error {
			return RenderChangeNotice(&bytes.Buffer{}, cfg, ws[0], Change{Kind: ChangeCancelled}, "ja", "rtf")
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			if err := c.run(); !isInputError(err) {
				t.Fatalf("got %v, want an *InputError", err)
			}
		})
	}
}

// hostile is operator data that would inject markup if it were not escaped.
func hostileConfig(t testing.TB) (NoticeConfig, Window) {
	cfg := testNoticeConfig(t)
	cfg.SenderCompany = `<script>alert("x")</script>株式会社`
	cfg.SenderCompanyEN = `<img src=x onerror=alert(1)> *Inc* [x](http://evil.example)`
	cfg.SupportURL = "javascript:alert(1)"
	cfg.SupportEmail = `a"><b>@kessai.example`
	cfg.SupportPhone = `03-0000-0000"><script>`
	w := wallIn(t, "2020-07-22", "02:55", "04:30", "")
	w.NotesJA = "<b>太字</b>\n# 見出し\n- リスト"
	w.NotesEN = "1. not a list <i>x</i> `code` | table |"
	return cfg, w
}

func TestNoticeHTMLEscapesData(t *testing.T) {
	cfg, w := hostileConfig(t)
	for _, lang := range noticeLangs {
		s := string(renderNotice(t, func(b *bytes.Buffer) error { return RenderWindowNotice(b, cfg, w, lang, "html") }))
		for _, bad := range []string{"<script", "<img", "<b>", "<i>", `href="javascript`, `a"><b>`, `0000"><script`} {
			if strings.Contains(s, bad) {
				t.Errorf("%s: raw %q in HTML output", lang, bad)
			}
		}
		if !strings.Contains(s, "&lt;") {
			t.Errorf("%s: expected escaped markup", lang)
		}
	}
}

func TestNoticeMarkdownEscapesData(t *testing.T) {
	cfg, w := hostileConfig(t)
	for _, lang := range noticeLangs {
		s := string(renderNotice(t, func(b *bytes.Buffer) error { return RenderWindowNotice(b, cfg, w, lang, "md") }))
		unescaped := regexp.MustCompile("(^|[^\\\\])(<script|<img|<b>|<i>|\\[x\\]|\\*Inc|`code)|\n# 見出し|\\(<javascript")
		if m := unescaped.FindString(s); m != "" {
			t.Errorf("%s: unescaped %q in Markdown output:\n%s", lang, m, s)
		}
	}
}

func TestMdEscape(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"plain 日本語", "plain 日本語"},
		{"*a* _b_ `c`", `\*a\* \_b\_ \` + "`" + `c\` + "`"},
		{"[l](u)", `\[l\](u)`},
		{"- item", `\- item`},
		{"12. x", `12\. x`},
		{"v1.2", "v1.2"},
		{"<b>&amp;", `\<b\>\&amp;`},
	} {
		if got := mdEscape(c.in); got != c.want {
			t.Errorf("mdEscape(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestDispWidth(t *testing.T) {
	for _, c := range []struct {
		s string
		n int
	}{{"abc", 3}, {"加盟店各位", 10}, {"【内容】", 8}, {"2020年07月22日(水)", 18}, {"～", 2}} {
		if got := dispWidth(c.s); got != c.n {
			t.Errorf("dispWidth(%q) = %d, want %d", c.s, got, c.n)
		}
	}
}
