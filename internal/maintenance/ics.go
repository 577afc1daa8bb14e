package maintenance

import (
	"bytes"
	"fmt"
	"hash/fnv"
	"io"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// The iCalendar feed (RFC 5545, with RFC 7986's NAME and REFRESH-INTERVAL) lets merchants
// subscribe to the schedule in the calendar they already use. Cancelled windows stay in the feed
// with STATUS:CANCELLED and SEQUENCE carries the window's revision, so subscribed calendars update
// an event instead of keeping a stale copy. X-KESSAI-* properties carry what calendars do not
// model (scope, kind, reserve end, titles), which makes export → import lossless for Kessai's own
// feed while any other calendar still reads the standard properties.

// ICSOptions tune the exported calendar.
type ICSOptions struct {
	Name            string        // calendar name (NAME, X-WR-CALNAME); "" is "Kessai maintenance"
	RefreshInterval time.Duration // how often subscribers should re-fetch; 0 is one hour
	ProdID          string        // PRODID; "" is Kessai's
	Now             time.Time     // DTSTAMP; zero is the current time
	// BaseURL, when set (e.g. "https://pay.example.jp"), gives each event a URL property: the
	// window's public notice, BaseURL/maintenance/window/ID.
	BaseURL string
}

const (
	defaultICSName    = "Kessai maintenance"
	defaultICSProdID  = "-//Kessai//Maintenance schedule//EN"
	defaultICSRefresh = time.Hour // emergencies and cancellations should reach subscribers the same day
	icsLocalLayout    = "20060102T150405"
	icsUTCLayout      = "20060102T150405Z"
	icsDateLayout     = "20060102"
	maxICSBytes       = 16 << 20
	icsFoldOctets     = 75
)

// ExportICS writes ws as one VCALENDAR with a VTIMEZONE for each zone used and one VEVENT per
// window, in the given order. Times are written as local time with TZID (UTC windows in the Z
// form), so calendars show the wall-clock times of the notice. Nothing is written if a window is
// invalid (unknown zone, end not after start): that is an *InputError naming the window.
func ExportICS(w io.Writer, ws []Window, opts ICSOptions) error {
	if opts.Name == "" {
		opts.Name = defaultICSName
	}
	if opts.ProdID == "" {
		opts.ProdID = defaultICSProdID
	}
	if opts.RefreshInterval <= 0 {
		opts.RefreshInterval = defaultICSRefresh
	}
	if opts.Now.IsZero() {
		opts.Now = time.Now()
	}
	locs := make([]*time.Location, len(ws))
	for i, win := range ws {
		loc, err := LoadZone(win.Zone)
		if err != nil {
			return inputErr("window %d (#%d): %v", i+1, win.ID, err)
		}
		if !win.End.After(win.Start) {
			return inputErr("window %d (#%d): end %s is not after start %s", i+1, win.ID,
				win.End.Format(time.RFC3339), win.Start.Format(time.RFC3339))
		}
		locs[i] = loc
	}

	var b bytes.Buffer
	line := func(s string) { foldLine(&b, s) }
	line("BEGIN:VCALENDAR")
	line("VERSION:2.0")
	line("PRODID:" + icsText(opts.ProdID))
	line("CALSCALE:GREGORIAN")
	line("METHOD:PUBLISH")
	line("NAME:" + icsText(opts.Name))
	line("X-WR-CALNAME:" + icsText(opts.Name))
	line("REFRESH-INTERVAL;VALUE=DURATION:" + icsDuration(opts.RefreshInterval))
	line("X-PUBLISHED-TTL:" + icsDuration(opts.RefreshInterval))
	writeTimezones(line, ws, locs)

	stamp := opts.Now.UTC().Format(icsUTCLayout)
	for i, win := range ws {
		loc := locs[i]
		line("BEGIN:VEVENT")
		line("UID:" + icsText(icsUID(win)))
		line("DTSTAMP:" + stamp)
		line("DTSTART" + icsTime(win.Start, loc))
		line("DTEND" + icsTime(win.End, loc))
		line("SUMMARY:" + icsText(icsSummary(win)))
		line("DESCRIPTION:" + icsText(icsDescription(win, loc)))
		if opts.BaseURL != "" && win.ID != 0 {
			line("URL:" + strings.TrimRight(opts.BaseURL, "/") + "/maintenance/window/" + strconv.FormatInt(win.ID, 10))
		}
		switch win.Status {
		case StatusCancelled:
			line("STATUS:CANCELLED")
		case StatusPlanned:
			// a draft is enforced but not yet announced: subscribers see it as tentative
			line("STATUS:TENTATIVE")
		default:
			line("STATUS:CONFIRMED")
		}
		line("SEQUENCE:" + strconv.Itoa(max(win.Revision, 0)))
		line("TRANSP:OPAQUE")
		line("CATEGORIES:MAINTENANCE")
		if !win.CreatedAt.IsZero() {
			line("CREATED:" + win.CreatedAt.UTC().Format(icsUTCLayout))
		}
		if !win.UpdatedAt.IsZero() {
			line("LAST-MODIFIED:" + win.UpdatedAt.UTC().Format(icsUTCLayout))
		}
		if win.ID != 0 {
			line("X-KESSAI-ID:" + strconv.FormatInt(win.ID, 10))
		}
		line("X-KESSAI-SCOPE:" + icsText(win.Scope.String()))
		kind := win.Kind
		if kind == "" {
			kind = KindScheduled
		}
		line("X-KESSAI-KIND:" + icsText(kind))
		if !win.ReserveEnd.IsZero() {
			line("X-KESSAI-RESERVE-END" + icsTime(win.ReserveEnd, loc))
		}
		for _, p := range []struct{ name, v string }{
			{"X-KESSAI-TITLE-JA", win.TitleJA}, {"X-KESSAI-TITLE-EN", win.TitleEN},
			{"X-KESSAI-NOTES-JA", win.NotesJA}, {"X-KESSAI-NOTES-EN", win.NotesEN},
		} {
			if p.v != "" {
				line(p.name + ":" + icsText(p.v))
			}
		}
		line("END:VEVENT")
	}
	line("END:VCALENDAR")
	_, err := w.Write(b.Bytes())
	return err
}

// icsUID is the window's UID, or one derived from its id (stable across exports, so calendars
// update rather than duplicate), or for an unsaved window from its times and scope.
func icsUID(w Window) string {
	switch {
	case w.UID != "":
		return w.UID
	case w.ID != 0:
		return fmt.Sprintf("mw-%d@kessai", w.ID)
	}
	h := fnv.New32a()
	fmt.Fprintf(h, "%d|%d|%s|%s", w.Start.UnixNano(), w.End.UnixNano(), w.Zone, w.Scope.String())
	return fmt.Sprintf("mw-%s-%08x@kessai", w.Start.UTC().Format(icsUTCLayout), h.Sum32())
}

func icsSummary(w Window) string {
	ja, en := w.TitleJA, w.TitleEN
	if ja == "" && en == "" {
		if w.Kind == KindEmergency {
			ja, en = "決済サーバ緊急メンテナンス", "Emergency payment server maintenance"
		} else {
			ja, en = "決済サーバメンテナンス", "Payment server maintenance"
		}
	}
	switch {
	case ja == "":
		return en
	case en == "":
		return ja
	}
	return ja + " / " + en
}

func icsDescription(w Window, loc *time.Location) string {
	var b strings.Builder
	fmt.Fprintf(&b, "決済サーバのメンテナンスです。停止対象: %s。停止中の処理にはエラーコード %s を返します。", ScopeWords(w.Scope, LangJA), ErrorCode)
	if !w.ReserveEnd.IsZero() {
		fmt.Fprintf(&b, "作業が延びた場合も %s までに終了します。", w.ReserveEnd.In(loc).Format("2006-01-02 15:04"))
	}
	fmt.Fprintf(&b, "\nPayment server maintenance. Stops: %s. Requests in scope are refused with error code %s.", ScopeWords(w.Scope, LangEN), ErrorCode)
	if !w.ReserveEnd.IsZero() {
		fmt.Fprintf(&b, " Ends by %s at the latest.", w.ReserveEnd.In(loc).Format("2006-01-02 15:04 MST"))
	}
	for _, n := range []string{w.NotesJA, w.NotesEN} {
		if strings.TrimSpace(n) != "" {
			b.WriteString("\n" + n)
		}
	}
	return b.String()
}

// isUTC reports whether times in loc are best written in the Z form (no VTIMEZONE needed).
func isUTC(loc *time.Location) bool { return loc == time.UTC || loc.String() == "UTC" }

// icsTime renders ";TZID=zone:local" or ":…Z" for t, ready to follow a property name.
func icsTime(t time.Time, loc *time.Location) string {
	if isUTC(loc) {
		return ":" + t.UTC().Format(icsUTCLayout)
	}
	return ";TZID=" + icsParam(loc.String()) + ":" + t.In(loc).Format(icsLocalLayout)
}

// icsParam quotes a parameter value when it holds a character that would end it.
func icsParam(v string) string {
	v = strings.ReplaceAll(v, `"`, "")
	if strings.ContainsAny(v, ":;,") {
		return `"` + v + `"`
	}
	return v
}

// icsDuration writes d as an RFC 5545 duration (seconds precision).
func icsDuration(d time.Duration) string {
	s := int64(d / time.Second)
	if s <= 0 {
		return "PT0S"
	}
	if s%86400 == 0 {
		return fmt.Sprintf("P%dD", s/86400)
	}
	out := "P"
	if days := s / 86400; days > 0 {
		out += strconv.FormatInt(days, 10) + "D"
		s %= 86400
	}
	out += "T"
	if h := s / 3600; h > 0 {
		out += strconv.FormatInt(h, 10) + "H"
	}
	if m := s % 3600 / 60; m > 0 {
		out += strconv.FormatInt(m, 10) + "M"
	}
	if sec := s % 60; sec > 0 {
		out += strconv.FormatInt(sec, 10) + "S"
	}
	return out
}

// icsText escapes a TEXT value (RFC 5545 §3.3.11). Control characters other than tab are not
// allowed in TEXT and are dropped; line breaks become \n.
func icsText(s string) string {
	s = strings.NewReplacer("\r\n", "\n", "\r", "\n").Replace(s)
	var b strings.Builder
	for _, r := range s {
		switch r {
		case '\\':
			b.WriteString(`\\`)
		case ';':
			b.WriteString(`\;`)
		case ',':
			b.WriteString(`\,`)
		case '\n':
			b.WriteString(`\n`)
		default:
			if r < 0x20 && r != '\t' || r == 0x7f {
				continue
			}
			b.WriteRune(r)
		}
	}
	return b.String()
}

// foldLine writes one content line folded at 75 octets (RFC 5545 §3.1), never inside a UTF-8
// sequence, with CRLF endings.
func foldLine(b *bytes.Buffer, s string) {
	limit := icsFoldOctets
	for len(s) > limit {
		cut := limit
		for cut > limit-utf8.UTFMax && !utf8.RuneStart(s[cut]) {
			cut--
		}
		if !utf8.RuneStart(s[cut]) { // not UTF-8 at all: any cut is as good as another
			cut = limit
		}
		b.WriteString(s[:cut])
		b.WriteString("\r\n ")
		s = s[cut:]
		limit = icsFoldOctets - 1 // the leading space counts
	}
	b.WriteString(s)
	b.WriteString("\r\n")
}

// writeTimezones writes a VTIMEZONE for every zone the windows use, with one observance for each
// zone period that a written time falls in. A period that began before 1970 (Japan's has since
// 1951) is written from 1970-01-01 with equal offsets, the common form calendars expect.
func writeTimezones(line func(string), ws []Window, locs []*time.Location) {
	type period struct {
		start    time.Time
		from, to int
		name     string
		dst      bool
		onset    string // DTSTART override for periods with no (or a pre-1970) start
	}
	byZone := map[string]map[int64]period{}
	zoneLoc := map[string]*time.Location{}
	epoch := time.Unix(0, 0).UTC()
	for i, w := range ws {
		loc := locs[i]
		if isUTC(loc) {
			continue
		}
		name := loc.String()
		zoneLoc[name] = loc
		if byZone[name] == nil {
			byZone[name] = map[int64]period{}
		}
		for _, t := range []time.Time{w.Start, w.End, w.ReserveEnd} {
			if t.IsZero() {
				continue
			}
			lt := t.In(loc)
			abbr, off := lt.Zone()
			start, _ := lt.ZoneBounds()
			p := period{start: start, to: off, name: abbr, dst: lt.IsDST()}
			switch {
			case !lt.Before(epoch) && (start.IsZero() || start.Before(epoch)):
				p.start, p.from, p.onset = epoch, off, "19700101T000000"
			case start.IsZero(): // a time before 1970 in a zone that never changed
				p.from, p.onset = off, "00010101T000000"
			default:
				_, p.from = start.Add(-time.Second).In(loc).Zone()
			}
			byZone[name][p.start.Unix()] = p
		}
	}
	names := make([]string, 0, len(byZone))
	for n := range byZone {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		ps := make([]period, 0, len(byZone[n]))
		for _, p := range byZone[n] {
			ps = append(ps, p)
		}
		sort.Slice(ps, func(i, j int) bool {
			if !ps[i].start.Equal(ps[j].start) {
				return ps[i].start.Before(ps[j].start)
			}
			return ps[i].onset < ps[j].onset
		})
		line("BEGIN:VTIMEZONE")
		line("TZID:" + icsText(n))
		for _, p := range ps {
			kind := "STANDARD"
			if p.dst {
				kind = "DAYLIGHT"
			}
			// DTSTART is the onset in the local time that was in force before it (RFC 5545 §3.6.5).
			onset := p.onset
			if onset == "" {
				onset = p.start.In(time.FixedZone("", p.from)).Format(icsLocalLayout)
			}
			line("BEGIN:" + kind)
			line("DTSTART:" + onset)
			line("TZOFFSETFROM:" + icsOffset(p.from))
			line("TZOFFSETTO:" + icsOffset(p.to))
			if p.name != "" {
				line("TZNAME:" + icsText(p.name))
			}
			line("END:" + kind)
		}
		line("END:VTIMEZONE")
	}
}

func icsOffset(sec int) string {
	sign := '+'
	if sec < 0 {
		sign, sec = '-', -sec
	}
	s := fmt.Sprintf("%c%02d%02d", sign, sec/3600, sec%3600/60)
	if r := sec % 60; r != 0 {
		s += fmt.Sprintf("%02d", r)
	}
	return s
}

// --- import ---

type icsLine struct {
	text string
	num  int // physical line where the logical line starts
}

type icsProp struct {
	name   string
	params map[string]string
	value  string
	line   int
}

// ImportICS reads windows from an iCalendar stream: Kessai's own feed losslessly, and the standard
// properties of any other calendar. Times with a TZID are read in that IANA zone, the Z form as
// UTC (zone "UTC"), floating times in DefaultZone. Every refusal is an *InputError that names the
// line, e.g. `line 12: DTSTART: bad date-time "2020x"`.
func ImportICS(r io.Reader) ([]Window, error) {
	data, err := io.ReadAll(io.LimitReader(r, maxICSBytes+1))
	if err != nil {
		return nil, fmt.Errorf("reading calendar: %w", err)
	}
	if len(data) > maxICSBytes {
		return nil, inputErr("calendar larger than %d MiB", maxICSBytes>>20)
	}
	lines, err := unfoldICS(data)
	if err != nil {
		return nil, err
	}
	type comp struct {
		name string
		line int
	}
	var (
		stack []comp
		ev    *icsEvent
		out   []Window
		seen  bool
	)
	for _, l := range lines {
		p, err := parseICSLine(l)
		if err != nil {
			return nil, err
		}
		switch p.name {
		case "BEGIN", "END":
			name := strings.ToUpper(strings.TrimSpace(p.value))
			if name == "" {
				return nil, inputErr("line %d: %s without a component name", l.num, p.name)
			}
			if p.name == "BEGIN" {
				switch {
				case len(stack) == 0 && name != "VCALENDAR":
					return nil, inputErr("line %d: missing BEGIN:VCALENDAR (found BEGIN:%s)", l.num, name)
				case len(stack) > 0 && name == "VCALENDAR":
					return nil, inputErr("line %d: BEGIN:VCALENDAR inside BEGIN:%s (line %d)", l.num, stack[len(stack)-1].name, stack[len(stack)-1].line)
				}
				seen = true
				stack = append(stack, comp{name, l.num})
				if name == "VEVENT" && len(stack) == 2 {
					ev = &icsEvent{begin: l.num, props: map[string]icsProp{}}
				}
				continue
			}
			if len(stack) == 0 {
				return nil, inputErr("line %d: END:%s without BEGIN", l.num, name)
			}
			if top := stack[len(stack)-1]; top.name != name {
				return nil, inputErr("line %d: END:%s does not close BEGIN:%s (line %d)", l.num, name, top.name, top.line)
			}
			stack = stack[:len(stack)-1]
			if name == "VEVENT" && ev != nil && len(stack) == 1 {
				w, err := ev.window()
				if err != nil {
					return nil, err
				}
				out = append(out, w)
				ev = nil
			}
		default:
			if len(stack) == 0 {
				if !seen {
					return nil, inputErr("line %d: missing BEGIN:VCALENDAR (found %s)", l.num, p.name)
				}
				return nil, inputErr("line %d: %s outside any component", l.num, p.name)
			}
			if ev != nil && len(stack) == 2 {
				if err := ev.add(p); err != nil {
					return nil, err
				}
			}
		}
	}
	if len(stack) > 0 {
		top := stack[len(stack)-1]
		return nil, inputErr("line %d: BEGIN:%s is never ended", top.line, top.name)
	}
	if !seen {
		return nil, inputErr("line 1: missing BEGIN:VCALENDAR (empty calendar)")
	}
	return out, nil
}

// unfoldICS splits data into logical lines: CRLF or bare LF ends a line, and a line starting with
// a space or tab continues the previous one (RFC 5545 §3.1). Blank lines are skipped.
func unfoldICS(data []byte) ([]icsLine, error) {
	var (
		out  []icsLine
		cur  []byte // the logical line being assembled (appending keeps unfolding linear)
		from int    // its first physical line, 0 when none
	)
	flush := func() {
		if from != 0 {
			out = append(out, icsLine{text: string(cur), num: from})
		}
		cur, from = cur[:0], 0
	}
	num := 0
	for len(data) > 0 {
		num++
		var raw []byte
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			raw, data = data[:i], data[i+1:]
		} else {
			raw, data = data, nil
		}
		raw = bytes.TrimSuffix(raw, []byte("\r"))
		if len(raw) > 0 && (raw[0] == ' ' || raw[0] == '\t') {
			if from == 0 {
				return nil, inputErr("line %d: continuation line with nothing to continue", num)
			}
			cur = append(cur, raw[1:]...)
			continue
		}
		if len(bytes.TrimSpace(raw)) == 0 {
			continue
		}
		flush()
		cur, from = append(cur, raw...), num
	}
	flush()
	return out, nil
}

func isNameChar(c byte) bool {
	return c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-'
}

// parseICSLine splits "NAME;PARAM=v;P2="q:v":value" (RFC 5545 §3.1). Parameter values may be
// quoted; only the first of a comma-separated list is kept, which is all Kessai needs.
func parseICSLine(l icsLine) (icsProp, error) {
	s := l.text
	i := 0
	for i < len(s) && isNameChar(s[i]) {
		i++
	}
	if i == 0 {
		return icsProp{}, inputErr("line %d: malformed content line %q (want NAME:value)", l.num, clip(s))
	}
	p := icsProp{name: strings.ToUpper(s[:i]), line: l.num}
	for i < len(s) && s[i] == ';' {
		i++
		j := i
		for j < len(s) && isNameChar(s[j]) {
			j++
		}
		if j == i || j >= len(s) || s[j] != '=' {
			return icsProp{}, inputErr("line %d: %s: malformed parameter", l.num, p.name)
		}
		pname := strings.ToUpper(s[i:j])
		i = j + 1
		first := true
		for {
			var v string
			if i < len(s) && s[i] == '"' {
				k := strings.IndexByte(s[i+1:], '"')
				if k < 0 {
					return icsProp{}, inputErr("line %d: %s: unterminated quoted parameter %s", l.num, p.name, pname)
				}
				v, i = s[i+1:i+1+k], i+2+k
			} else {
				k := i
				for k < len(s) && s[k] != ',' && s[k] != ';' && s[k] != ':' && s[k] != '"' {
					k++
				}
				v, i = s[i:k], k
			}
			if first {
				if p.params == nil {
					p.params = map[string]string{}
				}
				if _, dup := p.params[pname]; !dup {
					p.params[pname] = v
				}
				first = false
			}
			if i < len(s) && s[i] == ',' {
				i++
				continue
			}
			break
		}
	}
	if i >= len(s) || s[i] != ':' {
		return icsProp{}, inputErr("line %d: %s: missing ':' before the value", l.num, p.name)
	}
	p.value = s[i+1:]
	return p, nil
}

func clip(s string) string {
	if len(s) > 40 {
		s = s[:40] + "…"
	}
	return strings.ToValidUTF8(s, "\uFFFD")
}

// icsUnescape reverses icsText: \\ \; \, \n \N; an unknown escape keeps its backslash. Control
// characters (not allowed in TEXT) are dropped and invalid UTF-8 is replaced, so what comes in is
// what goes out again.
func icsUnescape(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '\\' && i+1 < len(s) {
			switch s[i+1] {
			case '\\', ';', ',':
				b.WriteByte(s[i+1])
				i++
				continue
			case 'n', 'N':
				b.WriteByte('\n')
				i++
				continue
			}
		}
		if c < 0x20 && c != '\t' || c == 0x7f {
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}

type icsEvent struct {
	begin int
	props map[string]icsProp
}

// icsSingular are the properties an event may carry once; a second copy is ambiguous input.
var icsSingular = map[string]bool{
	"UID": true, "DTSTART": true, "DTEND": true, "SEQUENCE": true, "STATUS": true, "CREATED": true,
	"LAST-MODIFIED": true, "X-KESSAI-ID": true, "X-KESSAI-SCOPE": true, "X-KESSAI-KIND": true,
	"X-KESSAI-RESERVE-END": true, "X-KESSAI-TITLE-JA": true, "X-KESSAI-TITLE-EN": true,
	"X-KESSAI-NOTES-JA": true, "X-KESSAI-NOTES-EN": true,
}

func (e *icsEvent) add(p icsProp) error {
	if !icsSingular[p.name] {
		return nil
	}
	if prev, dup := e.props[p.name]; dup {
		return inputErr("line %d: %s given twice in one VEVENT (first on line %d)", p.line, p.name, prev.line)
	}
	e.props[p.name] = p
	return nil
}

func (e *icsEvent) window() (Window, error) {
	w := Window{Kind: KindScheduled, Status: StatusPlanned, Scope: Scope{Ops: DefaultScope}}
	uid, ok := e.props["UID"]
	if !ok || strings.TrimSpace(icsUnescape(uid.value)) == "" {
		return Window{}, inputErr("line %d: VEVENT has no UID", e.begin)
	}
	w.UID = icsUnescape(uid.value)
	ds, ok := e.props["DTSTART"]
	if !ok {
		return Window{}, inputErr("line %d: VEVENT has no DTSTART", e.begin)
	}
	de, ok := e.props["DTEND"]
	if !ok {
		return Window{}, inputErr("line %d: VEVENT has no DTEND (DURATION is not supported)", e.begin)
	}
	start, zone, err := parseICSTime(ds)
	if err != nil {
		return Window{}, err
	}
	end, _, err := parseICSTime(de)
	if err != nil {
		return Window{}, err
	}
	if !end.After(start) {
		return Window{}, inputErr("line %d: DTEND %s is not after DTSTART %s", de.line,
			end.Format(time.RFC3339), start.Format(time.RFC3339))
	}
	w.Start, w.End, w.Zone = start.UTC(), end.UTC(), zone
	if p, ok := e.props["X-KESSAI-RESERVE-END"]; ok {
		re, _, err := parseICSTime(p)
		if err != nil {
			return Window{}, err
		}
		if re.Before(end) {
			return Window{}, inputErr("line %d: X-KESSAI-RESERVE-END is before DTEND", p.line)
		}
		w.ReserveEnd = re.UTC()
	}
	if p, ok := e.props["STATUS"]; ok && strings.EqualFold(strings.TrimSpace(icsUnescape(p.value)), "CANCELLED") {
		w.Status = StatusCancelled
	}
	if p, ok := e.props["SEQUENCE"]; ok {
		n, err := strconv.Atoi(strings.TrimSpace(p.value))
		if err != nil || n < 0 {
			return Window{}, inputErr("line %d: SEQUENCE: want a non-negative integer, got %q", p.line, clip(p.value))
		}
		w.Revision = n
	}
	if p, ok := e.props["X-KESSAI-ID"]; ok {
		n, err := strconv.ParseInt(strings.TrimSpace(p.value), 10, 64)
		if err != nil || n < 0 {
			return Window{}, inputErr("line %d: X-KESSAI-ID: want a non-negative integer, got %q", p.line, clip(p.value))
		}
		w.ID = n
	}
	if p, ok := e.props["X-KESSAI-SCOPE"]; ok {
		sc, err := ParseScope(icsUnescape(p.value))
		if err != nil {
			return Window{}, inputErr("line %d: X-KESSAI-SCOPE: %v", p.line, err)
		}
		w.Scope = sc
	}
	if p, ok := e.props["X-KESSAI-KIND"]; ok {
		switch k := strings.ToLower(strings.TrimSpace(icsUnescape(p.value))); k {
		case KindScheduled, KindEmergency:
			w.Kind = k
		default:
			return Window{}, inputErr("line %d: X-KESSAI-KIND: unknown kind %q (scheduled, emergency)", p.line, clip(k))
		}
	}
	for _, f := range []struct {
		name string
		dst  *time.Time
	}{{"CREATED", &w.CreatedAt}, {"LAST-MODIFIED", &w.UpdatedAt}} {
		if p, ok := e.props[f.name]; ok {
			t, _, err := parseICSTime(p)
			if err != nil {
				return Window{}, err
			}
			*f.dst = t.UTC()
		}
	}
	for _, f := range []struct {
		name string
		dst  *string
	}{{"X-KESSAI-TITLE-JA", &w.TitleJA}, {"X-KESSAI-TITLE-EN", &w.TitleEN}, {"X-KESSAI-NOTES-JA", &w.NotesJA}, {"X-KESSAI-NOTES-EN", &w.NotesEN}} {
		if p, ok := e.props[f.name]; ok {
			*f.dst = icsUnescape(p.value)
		}
	}
	return w, nil
}

func allDigitsN(s string, n int) bool {
	if len(s) != n {
		return false
	}
	for i := 0; i < n; i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// parseICSTime reads a DATE-TIME (local with TZID, floating, or UTC with Z) or a DATE, and the
// zone the window should be shown in. Only the exact RFC forms are accepted: time.Parse alone
// would also take signs and fractions.
func parseICSTime(p icsProp) (time.Time, string, error) {
	v := strings.TrimSpace(p.value)
	bad := func() (time.Time, string, error) {
		return time.Time{}, "", inputErr("line %d: %s: bad date-time %q", p.line, p.name, clip(v))
	}
	tzid := strings.TrimPrefix(strings.TrimSpace(p.params["TZID"]), "/")
	zone, loc := DefaultZone, (*time.Location)(nil)
	if tzid != "" {
		l, err := time.LoadLocation(tzid)
		if err != nil {
			return time.Time{}, "", inputErr("line %d: %s: unknown TZID %q (want an IANA zone such as Asia/Tokyo)", p.line, p.name, clip(tzid))
		}
		zone, loc = tzid, l
	} else {
		l, err := LoadZone(DefaultZone)
		if err != nil {
			return time.Time{}, "", err
		}
		loc = l
	}
	switch {
	case len(v) == 16 && v[15] == 'Z' && allDigitsN(v[:8], 8) && v[8] == 'T' && allDigitsN(v[9:15], 6):
		t, err := time.Parse(icsUTCLayout, v)
		if err != nil {
			return bad()
		}
		return t, "UTC", nil
	case len(v) == 15 && allDigitsN(v[:8], 8) && v[8] == 'T' && allDigitsN(v[9:], 6):
		t, err := time.ParseInLocation(icsLocalLayout, v, loc)
		if err != nil {
			return bad()
		}
		return t, zone, nil
	case allDigitsN(v, 8):
		t, err := time.ParseInLocation(icsDateLayout, v, loc)
		if err != nil {
			return bad()
		}
		return t, zone, nil
	}
	return bad()
}
