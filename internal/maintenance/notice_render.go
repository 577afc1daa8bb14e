package maintenance

import (
	"bufio"
	"html/template"
	"io"
	"strings"
)

// renderDoc writes a finished notice document in one format.
func renderDoc(w io.Writer, d noticeDoc, format string) error {
	bw := bufio.NewWriter(w)
	var err error
	switch format {
	case FormatHTML:
		err = noticeHTML.Execute(bw, htmlDoc(d))
	case FormatMarkdown:
		_, err = bw.WriteString(renderMarkdown(d))
	default:
		_, err = bw.WriteString(renderText(d))
	}
	if err != nil {
		return err
	}
	return bw.Flush()
}

// --- plain text ---

// textWidth is the line the letter is laid out on, in half-width columns (a Japanese character
// takes two), as in the fixed-pitch e-mail the source letter was written for.
const textWidth = 72

// wide reports whether r takes two columns in a fixed-pitch Japanese font (East Asian Wide and
// Fullwidth ranges).
func wide(r rune) bool {
	switch {
	case r >= 0x1100 && r <= 0x115F, r >= 0x2E80 && r <= 0x303E, r >= 0x3041 && r <= 0x33FF,
		r >= 0x3400 && r <= 0x4DBF, r >= 0x4E00 && r <= 0x9FFF, r >= 0xA000 && r <= 0xA4CF,
		r >= 0xAC00 && r <= 0xD7A3, r >= 0xF900 && r <= 0xFAFF, r >= 0xFE30 && r <= 0xFE4F,
		r >= 0xFF00 && r <= 0xFF60, r >= 0xFFE0 && r <= 0xFFE6, r >= 0x20000 && r <= 0x3FFFD,
		r == 0x25A0, r == 0x2501: // ■ and ━ are drawn full width in Japanese fonts
		return true
	}
	return false
}

func dispWidth(s string) int {
	n := 0
	for _, r := range s {
		if wide(r) {
			n += 2
		} else {
			n++
		}
	}
	return n
}

func renderText(d noticeDoc) string {
	var b strings.Builder
	ja := d.Lang != LangEN
	nl := func(ss ...string) {
		for _, s := range ss {
			b.WriteString(s)
		}
		b.WriteByte('\n')
	}
	right := func(s string) { nl(strings.Repeat(" ", max(0, textWidth-dispWidth(s))), s) }
	center := func(s string) { nl(strings.Repeat(" ", max(0, (textWidth-dispWidth(s))/2)), s) }

	right(d.Date)
	nl()
	if d.Addressee != "" {
		nl(d.Addressee)
		nl()
	}
	for _, s := range d.Sender {
		right(s)
	}
	nl()
	nl()
	if ja {
		center("「" + d.Title + "」")
	} else {
		center(d.Title)
	}
	nl()
	for i, p := range d.Greeting {
		if !ja && i > 0 {
			nl()
		}
		nl(p)
	}
	if d.Complimentary != "" {
		nl()
		if ja {
			right(d.Complimentary)
		} else {
			nl(d.Complimentary)
			nl(strings.Join(d.Sender, ", "))
		}
	}
	if d.Ki != "" {
		nl()
		center(d.Ki)
	}
	for _, s := range d.Sections {
		nl()
		if ja {
			nl("■", s.Heading)
		} else {
			nl("■ ", s.Heading)
		}
		nl()
		for _, p := range s.Paras {
			nl(p)
		}
		for _, f := range s.Fields {
			lbl := f.Label + ": "
			if ja {
				lbl = "【" + f.Label + "】"
			}
			indent := strings.Repeat(" ", dispWidth(lbl))
			if len(f.Lines) == 0 {
				nl(strings.TrimRight(lbl, " "))
			}
			for i, l := range f.Lines {
				if i == 0 {
					nl(lbl, l)
				} else {
					nl(indent, l)
				}
			}
			for _, n := range f.Notes {
				nl(indent, n)
			}
			if len(f.Box) > 0 {
				rule := strings.Repeat("-", textWidth)
				nl(rule)
				for _, l := range f.Box {
					nl(l)
				}
				nl(rule)
				for _, n := range f.BoxNote {
					nl(n)
				}
			}
		}
		for _, sl := range s.Slots {
			nl(" ", sl.Text)
			for _, n := range sl.Notes {
				nl("     ", n)
			}
		}
		for _, x := range s.Bullets {
			if ja {
				nl("・", x)
			} else {
				nl("- ", x)
			}
		}
	}
	nl()
	for _, p := range d.Outro {
		nl(p)
	}
	if d.Ijo != "" {
		right(d.Ijo)
	}
	nl()
	rule := strings.Repeat("=", textWidth)
	if ja {
		rule = strings.Repeat("━", textWidth/2)
	}
	nl(rule)
	for _, g := range d.Contact {
		if ja {
			nl("【", g.Heading, "】")
		} else {
			nl(g.Heading, ":")
		}
		for _, l := range g.Lines {
			nl(textContact(l, ja))
		}
	}
	nl(rule)
	for _, s := range d.Signature {
		nl(s)
	}
	return b.String()
}

func textContact(l docLine, ja bool) string {
	s := l.Text
	if l.Label != "" {
		s = l.Label + ": " + s
	}
	return s + noteParen(l.Note, ja)
}

// noteParen puts a note in the brackets of the language: full-width in Japanese.
func noteParen(note string, ja bool) string {
	switch {
	case note == "":
		return ""
	case ja:
		return "（" + note + "）"
	}
	return " (" + note + ")"
}

// --- HTML ---

// htmlView is noticeDoc with link targets typed for html/template: every other field is plain
// data and is escaped by the template.
type htmlView struct {
	noticeDoc
	Groups []htmlGroup
}

type htmlGroup struct {
	Heading string
	Lines   []htmlLine
}

type htmlLine struct {
	Label, Text, Note string // Note includes its brackets
	Href              any    // string (sanitised by html/template) or template.URL for a tel: built from digits
}

func htmlDoc(d noticeDoc) htmlView {
	v := htmlView{noticeDoc: d}
	for _, g := range d.Contact {
		hg := htmlGroup{Heading: g.Heading}
		for _, l := range g.Lines {
			hl := htmlLine{Label: l.Label, Text: l.Text, Note: noteParen(l.Note, d.Lang != LangEN)}
			switch {
			case strings.HasPrefix(l.Href, "tel:"):
				hl.Href = template.URL(l.Href) // telHref kept only digits and a leading +
			case l.Href != "":
				hl.Href = l.Href
			}
			hg.Lines = append(hg.Lines, hl)
		}
		v.Groups = append(v.Groups, hg)
	}
	return v
}

var noticeHTML = template.Must(template.New("notice").Parse(`<!DOCTYPE html>
<html lang="{{.Lang}}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Title}}</title>
<style>
.kessai-notice{max-width:46em;margin:2em auto;padding:0 1em;line-height:1.7;font-family:sans-serif}
.kessai-notice .date,.kessai-notice .sender,.kessai-notice .closing{text-align:right}
.kessai-notice .ki{text-align:center}
.kessai-notice h1{font-size:1.3em;text-align:center}
.kessai-notice h2{font-size:1.1em;border-bottom:1px solid #ccc}
.kessai-notice dt{font-weight:bold}
.kessai-notice pre.message{border:1px solid #999;padding:.8em;white-space:pre-wrap}
.kessai-notice .note{font-size:.92em}
.kessai-notice footer{border-top:3px double #666;margin-top:2em;padding-top:1em}
</style>
</head>
<body>
<article class="kessai-notice">
<p class="date"><time datetime="{{.DateISO}}">{{.Date}}</time></p>
{{- with .Addressee}}
<p class="addressee">{{.}}</p>
{{- end}}
<p class="sender">{{range $i, $s := .Sender}}{{if $i}}<br>{{end}}{{$s}}{{end}}</p>
<h1>{{.Title}}</h1>
{{- range .Greeting}}
<p>{{.}}</p>
{{- end}}
{{- with .Complimentary}}
<p class="closing">{{.}}</p>
{{- end}}
{{- with .Ki}}
<p class="ki">{{.}}</p>
{{- end}}
{{- range .Sections}}
<section>
<h2>{{.Heading}}</h2>
{{- range .Paras}}
<p>{{.}}</p>
{{- end}}
{{- if .Fields}}
<dl>
{{- range .Fields}}
<dt>{{.Label}}</dt>
<dd>{{range $i, $l := .Lines}}{{if $i}}<br>{{end}}{{$l}}{{end}}
{{- range .Notes}}<br><span class="note">{{.}}</span>{{end}}
{{- if .Box}}
<pre class="message">{{range $i, $l := .Box}}{{if $i}}
{{end}}{{$l}}{{end}}</pre>
{{- range .BoxNote}}
<p class="note">{{.}}</p>
{{- end}}
{{- end}}</dd>
{{- end}}
</dl>
{{- end}}
{{- if .Slots}}
<ul class="schedule">
{{- range .Slots}}
<li><time datetime="{{.StartISO}}">{{.Text}}</time>{{range .Notes}}<br><span class="note">{{.}}</span>{{end}}</li>
{{- end}}
</ul>
{{- end}}
{{- if .Bullets}}
<ul>
{{- range .Bullets}}
<li>{{.}}</li>
{{- end}}
</ul>
{{- end}}
</section>
{{- end}}
{{- range .Outro}}
<p>{{.}}</p>
{{- end}}
{{- with .Ijo}}
<p class="closing">{{.}}</p>
{{- end}}
<footer>
{{- range .Groups}}
<h3>{{.Heading}}</h3>
<p>{{range $i, $l := .Lines}}{{if $i}}<br>{{end}}{{with $l.Label}}{{.}}: {{end}}{{if $l.Href}}<a href="{{$l.Href}}">{{$l.Text}}</a>{{else}}{{$l.Text}}{{end}}{{$l.Note}}{{end}}</p>
{{- end}}
<p class="signature">{{range $i, $s := .Signature}}{{if $i}}<br>{{end}}{{$s}}{{end}}</p>
</footer>
</article>
</body>
</html>
`))

// --- Markdown ---

// mdEscape makes operator text inert in Markdown: punctuation that could start emphasis, code,
// links, HTML or tables is backslash-escaped, and so is anything that would turn a line into a
// heading, list or quote.
func mdEscape(s string) string {
	var b strings.Builder
	for i, r := range s {
		switch r {
		case '\\', '`', '*', '_', '[', ']', '<', '>', '#', '|', '~', '&', '{', '}':
			b.WriteByte('\\')
		case '-', '+', '=':
			if i == 0 {
				b.WriteByte('\\')
			}
		case '.', ')':
			if i > 0 && allDigits(s[:i]) {
				b.WriteByte('\\')
			}
		}
		b.WriteRune(r)
	}
	return b.String()
}

func allDigits(s string) bool {
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return s != ""
}

// mdURL writes a link target in the <…> form, where only <, > and line breaks need care.
func mdURL(u string) string {
	return strings.NewReplacer("<", "%3C", ">", "%3E", " ", "%20", "\n", "", "\r", "").Replace(u)
}

// mdFence returns a code fence longer than any backtick run in the text, so the text cannot close it.
func mdFence(lines []string) string {
	longest := 0
	for _, l := range lines {
		run := 0
		for _, r := range l {
			if r == '`' {
				run++
				longest = max(longest, run)
			} else {
				run = 0
			}
		}
	}
	return strings.Repeat("`", max(3, longest+1))
}

func renderMarkdown(d noticeDoc) string {
	var b strings.Builder
	para := func(s string) {
		b.WriteString(s)
		b.WriteString("\n\n")
	}
	para(mdEscape(d.Date))
	if d.Addressee != "" {
		para(mdEscape(d.Addressee))
	}
	if len(d.Sender) > 0 {
		var ss []string
		for _, s := range d.Sender {
			ss = append(ss, mdEscape(s))
		}
		para(strings.Join(ss, "  \n"))
	}
	para("# " + mdEscape(d.Title))
	for _, p := range d.Greeting {
		para(mdEscape(p))
	}
	if d.Complimentary != "" {
		para(mdEscape(d.Complimentary))
	}
	if d.Ki != "" {
		para(mdEscape(d.Ki))
	}
	for _, s := range d.Sections {
		para("## " + mdEscape(s.Heading))
		for _, p := range s.Paras {
			para(mdEscape(p))
		}
		for _, f := range s.Fields {
			b.WriteString("- **" + mdEscape(f.Label) + "**")
			for i, l := range f.Lines {
				if i == 0 {
					b.WriteString(": " + mdEscape(l))
				} else {
					b.WriteString("  \n  " + mdEscape(l))
				}
			}
			for _, n := range f.Notes {
				b.WriteString("  \n  " + mdEscape(n))
			}
			b.WriteString("\n")
			if len(f.Box) > 0 {
				fence := mdFence(f.Box)
				b.WriteString("\n  " + fence + "text\n")
				for _, l := range f.Box {
					b.WriteString("  " + l + "\n")
				}
				b.WriteString("  " + fence + "\n")
				for _, n := range f.BoxNote {
					b.WriteString("\n  " + mdEscape(n) + "\n")
				}
				b.WriteString("\n")
			}
		}
		if len(s.Fields) > 0 && !strings.HasSuffix(b.String(), "\n\n") {
			b.WriteString("\n")
		}
		for _, sl := range s.Slots {
			b.WriteString("- " + mdEscape(sl.Text) + "\n")
			for _, n := range sl.Notes {
				b.WriteString("  - " + mdEscape(n) + "\n")
			}
		}
		if len(s.Slots) > 0 {
			b.WriteString("\n")
		}
		for _, x := range s.Bullets {
			b.WriteString("- " + mdEscape(x) + "\n")
		}
		if len(s.Bullets) > 0 {
			b.WriteString("\n")
		}
	}
	for _, p := range d.Outro {
		para(mdEscape(p))
	}
	if d.Ijo != "" {
		para(mdEscape(d.Ijo))
	}
	b.WriteString("---\n\n")
	for _, g := range d.Contact {
		b.WriteString("**" + mdEscape(g.Heading) + "**\n\n")
		for _, l := range g.Lines {
			s := mdEscape(l.Text)
			if l.Href != "" {
				s = "[" + s + "](<" + mdURL(l.Href) + ">)"
			}
			if l.Label != "" {
				s = mdEscape(l.Label) + ": " + s
			}
			if l.Note != "" {
				s += mdEscape(noteParen(l.Note, d.Lang != LangEN))
			}
			b.WriteString("- " + s + "\n")
		}
		b.WriteString("\n")
	}
	var sig []string
	for _, s := range d.Signature {
		sig = append(sig, mdEscape(s))
	}
	if len(sig) > 0 {
		para(strings.Join(sig, "  \n"))
	}
	return strings.TrimRight(b.String(), "\n") + "\n"
}
