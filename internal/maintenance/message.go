package maintenance

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"text/template"
	"time"
)

// ErrorCode is the result code every refused request carries during a window; merchants' systems
// parse it, so it is a constant, never a translation.
const ErrorCode = "ER999"

// Languages the customer message and notices are written in.
const (
	LangJA = "ja"
	LangEN = "en"
)

// normLang accepts "", "ja", "en" and regional forms such as "ja-JP" or "en_US"; "" is Japanese,
// the language of Kessai's merchants' customers.
func normLang(lang string) (string, error) {
	base, _, _ := strings.Cut(strings.ToLower(strings.TrimSpace(lang)), "-")
	base, _, _ = strings.Cut(base, "_")
	switch base {
	case "", LangJA:
		return LangJA, nil
	case LangEN:
		return LangEN, nil
	}
	return "", inputErr("unknown language %q (ja, en)", lang)
}

var weekdayJA = [...]string{"日", "月", "火", "水", "木", "金", "土"}

// dateJA is the notice's date form, 2020年07月22日(水): zero-padded so schedule lines align, the
// weekday computed, never typed.
func dateJA(t time.Time) string {
	return fmt.Sprintf("%04d年%02d月%02d日(%s)", t.Year(), int(t.Month()), t.Day(), weekdayJA[t.Weekday()])
}

// clockJA12 writes the time the way Japanese customers read a 12-hour clock: AM/PM with hours
// 00–11 (午前0時, 午後0時), as in "AM 02:55".
func clockJA12(t time.Time) string {
	ampm := "AM"
	if t.Hour() >= 12 {
		ampm = "PM"
	}
	return fmt.Sprintf("%s %02d:%02d", ampm, t.Hour()%12, t.Minute())
}

func localSpan(w Window) (start, end time.Time, loc *time.Location) {
	loc = w.Location()
	return w.Start.In(loc), w.End.In(loc), loc
}

func sameDay(a, b time.Time) bool {
	ay, am, ad := a.Date()
	by, bm, bd := b.Date()
	return ay == by && am == bm && ad == bd
}

// zoneSuffixJA names the zone only when it is not Japan time, which Japanese readers assume.
func zoneSuffixJA(w Window, t time.Time) string {
	if w.Zone == "" || w.Zone == DefaultZone {
		return ""
	}
	return " (" + t.Format("MST") + ")"
}

// FormatSpanJA renders a window for Japanese customers in its own zone, e.g.
// "2020年07月22日(水) AM 02:55～AM 04:30"; a window that ends on a later date names that date too.
func FormatSpanJA(w Window) string {
	s, e, _ := localSpan(w)
	out := dateJA(s) + " " + clockJA12(s) + "～"
	if !sameDay(s, e) {
		out += dateJA(e) + " "
	}
	return out + clockJA12(e) + zoneSuffixJA(w, e)
}

// formatSpanJA24 is the notices' schedule-line form, "2020年07月22日(水) 02:55～04:30": a list of
// dates reads more easily on a 24-hour clock, as in the source letter.
func formatSpanJA24(w Window) string {
	s, e, _ := localSpan(w)
	out := dateJA(s) + " " + s.Format("15:04") + "～"
	if !sameDay(s, e) {
		out += dateJA(e) + " "
	}
	return out + e.Format("15:04") + zoneSuffixJA(w, e)
}

// FormatSpanEN renders a window for English readers, e.g. "Wed 22 Jul 2020, 02:55–04:30 JST", or
// "Wed 10 Mar 2021, 22:30 – Thu 11 Mar 2021, 05:00 JST" across midnight. The zone abbreviation is
// always given: an English reader may be anywhere.
func FormatSpanEN(w Window) string {
	s, e, _ := localSpan(w)
	sz, ez := s.Format("MST"), e.Format("MST")
	if sameDay(s, e) && sz == ez {
		return s.Format("Mon 2 Jan 2006, 15:04") + "–" + e.Format("15:04") + " " + ez
	}
	start := s.Format("Mon 2 Jan 2006, 15:04")
	if sz != ez {
		start += " " + sz
	}
	return start + " – " + e.Format("Mon 2 Jan 2006, 15:04") + " " + ez
}

// MessageData is what a customer-message template can use. Text fields are already formatted in
// the message's language and the window's zone; StartTime/EndTime allow any other layout, e.g.
// {{.StartTime.Format "15:04"}}.
type MessageData struct {
	Code       string    // ER999
	Span       string    // the whole window, FormatSpanJA or FormatSpanEN
	Start      string    // start date and time
	End        string    // end date and time
	ReserveEnd string    // latest end if the work overruns, "" when none is set
	Title      string    // the window's title in the language, may be ""
	Zone       string    // IANA zone of the window
	Lang       string    // ja or en
	StartTime  time.Time // start in the window's zone
	EndTime    time.Time // end in the window's zone
}

// The default customer messages, in Kessai's own words: what is happening, when, an apology, and
// what the customer should do next. Operators may replace them (CustomerMessage's tmpl).
const (
	defaultMessageJA = `ただいま決済システムのメンテナンスを行っております。
メンテナンス時間：{{.Span}}
{{- if .ReserveEnd}}
作業の状況により、最長で {{.ReserveEnd}} まで延長する場合があります。
{{- end}}
この間はお支払いのお手続きができません。ご迷惑をおかけして申し訳ございません。
メンテナンスが終わりましたら、お手数ですがもう一度お支払いをお試しください。
（エラーコード：{{.Code}}）`

	defaultMessageEN = `Our payment system is undergoing maintenance.
Maintenance window: {{.Span}}
{{- if .ReserveEnd}}
Depending on the work, it may run until {{.ReserveEnd}} at the latest.
{{- end}}
Payments cannot be made during this time. We apologise for the inconvenience.
Please try your payment again after the maintenance has ended.
(Error code: {{.Code}})`
)

// maxMessageBytes bounds an operator template's output: the message sits on a payment page.
const maxMessageBytes = 16 << 10

// DefaultMessageTemplate returns the built-in template for lang, for an operator to start editing.
func DefaultMessageTemplate(lang string) (string, error) {
	l, err := normLang(lang)
	if err != nil {
		return "", err
	}
	if l == LangEN {
		return defaultMessageEN, nil
	}
	return defaultMessageJA, nil
}

// messageData fills MessageData for w in lang (already normalised).
func messageData(w Window, lang string) MessageData {
	s, e, loc := localSpan(w)
	d := MessageData{Code: ErrorCode, Zone: w.Zone, Lang: lang, StartTime: s, EndTime: e}
	if d.Zone == "" {
		d.Zone = DefaultZone
	}
	if lang == LangEN {
		d.Span, d.Title = FormatSpanEN(w), w.TitleEN
		d.Start = s.Format("Mon 2 Jan 2006, 15:04 MST")
		d.End = e.Format("Mon 2 Jan 2006, 15:04 MST")
		if !w.ReserveEnd.IsZero() {
			d.ReserveEnd = w.ReserveEnd.In(loc).Format("Mon 2 Jan 2006, 15:04 MST")
		}
	} else {
		d.Span, d.Title = FormatSpanJA(w), w.TitleJA
		d.Start = dateJA(s) + " " + clockJA12(s) + zoneSuffixJA(w, s)
		d.End = dateJA(e) + " " + clockJA12(e) + zoneSuffixJA(w, e)
		if !w.ReserveEnd.IsZero() {
			r := w.ReserveEnd.In(loc)
			d.ReserveEnd = clockJA12(r) + zoneSuffixJA(w, r)
			if !sameDay(r, e) {
				d.ReserveEnd = dateJA(r) + " " + d.ReserveEnd
			}
		}
	}
	return d
}

type limitedBuffer struct {
	bytes.Buffer
	max int
}

var errMessageTooLong = errors.New("output too long")

func (b *limitedBuffer) Write(p []byte) (int, error) {
	if b.Len()+len(p) > b.max {
		return 0, errMessageTooLong
	}
	return b.Buffer.Write(p)
}

// CustomerMessage renders the message a customer sees on the hosted (link-method) payment page
// while w refuses payments. lang is "ja" (default) or "en"; tmpl, when not empty, replaces the
// built-in wording with an operator's text/template over MessageData. A template that does not
// parse, names an unknown field or writes more than 16 KiB is an *InputError, so the console can
// refuse it before a customer ever sees a broken page.
func CustomerMessage(w Window, lang string, tmpl string) (string, error) {
	l, err := normLang(lang)
	if err != nil {
		return "", err
	}
	src := tmpl
	if strings.TrimSpace(src) == "" {
		src, _ = DefaultMessageTemplate(l)
	}
	t, err := template.New("message").Option("missingkey=error").Parse(src)
	if err != nil {
		return "", inputErr("customer message template: %v", err)
	}
	buf := &limitedBuffer{max: maxMessageBytes}
	if err := t.Execute(buf, messageData(w, l)); err != nil {
		if errors.Is(err, errMessageTooLong) {
			return "", inputErr("customer message template writes more than %d bytes", maxMessageBytes)
		}
		return "", inputErr("customer message template: %v", err)
	}
	return strings.TrimRight(buf.String(), "\n"), nil
}
