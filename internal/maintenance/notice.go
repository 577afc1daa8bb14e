package maintenance

import (
	"fmt"
	"io"
	"net/url"
	"sort"
	"strings"
	"time"
)

// Notices are generated from the schedule, never typed twice: the same data gives the annual
// letter, one window's notice and each change notice, in Japanese and English, as plain text
// (e-mail), HTML (notices page) and Markdown (help centre). Each notice is first built as a
// language-specific document (noticeDoc) and then written by one renderer per format, so the
// wording lives in one place and the formats cannot drift apart.

// NoticeConfig holds who sends the notices and how merchants reach support. Unsuffixed text
// fields are Japanese; the …EN fields are their English versions and fall back to the Japanese
// value when empty (an untranslated name beats a wrong one).
type NoticeConfig struct {
	// IssuedOn is the date printed on the notice; zero means today in Japan time.
	IssuedOn time.Time

	Addressee     string // 加盟店各位
	SenderCompany string // 株式会社Kessai
	SenderDept    string // カスタマーサポート課
	ServiceName   string // Kessai決済サービス
	SupportHours  string // telephone hours, e.g. 平日 9:00～18:00
	EmailHours    string // how e-mail is answered
	Address       string // postal address under the signature, optional

	AddresseeEN     string
	SenderCompanyEN string
	SenderDeptEN    string
	ServiceNameEN   string
	SupportHoursEN  string
	EmailHoursEN    string
	AddressEN       string

	SupportURL   string // help centre: manuals, FAQ, notices
	SupportEmail string
	SupportPhone string // optional
	CalendarURL  string // optional iCalendar feed of the schedule

	// MessageTemplateJA/EN replace the built-in customer message (see CustomerMessage) in the
	// notices' ER999 example, so merchants read exactly what their customers will see.
	MessageTemplateJA string
	MessageTemplateEN string
}

// DefaultNoticeConfig is Kessai's own sender and support desk. The contact addresses use the
// reserved .example domain on purpose: a deployment must set its real ones, and a notice sent with
// the defaults can never point merchants at someone else's mailbox.
func DefaultNoticeConfig() NoticeConfig {
	return NoticeConfig{
		Addressee:     "加盟店各位",
		SenderCompany: "株式会社Kessai",
		SenderDept:    "カスタマーサポート課",
		ServiceName:   "Kessai決済サービス",
		SupportHours:  "平日 9:00～18:00",
		EmailHours:    "24時間受付、18時以降のお問い合わせは翌営業日に回答",

		AddresseeEN:     "To all Kessai merchants",
		SenderCompanyEN: "Kessai Inc.",
		SenderDeptEN:    "Customer Support",
		ServiceNameEN:   "Kessai payment service",
		SupportHoursEN:  "weekdays 9:00–18:00 JST",
		EmailHoursEN:    "received 24 hours; messages after 18:00 JST are answered the next business day",

		SupportURL:   "https://support.kessai.example/",
		SupportEmail: "support@kessai.example",
	}
}

// Notice formats.
const (
	FormatText     = "text"
	FormatHTML     = "html"
	FormatMarkdown = "md"
)

func normFormat(f string) (string, error) {
	switch strings.ToLower(strings.TrimSpace(f)) {
	case "", "text", "txt":
		return FormatText, nil
	case "html":
		return FormatHTML, nil
	case "md", "markdown":
		return FormatMarkdown, nil
	}
	return "", inputErr("unknown notice format %q (text, html, md)", f)
}

// noticeDoc is a notice with all wording decided and no format yet.
type noticeDoc struct {
	Lang          string
	Date          string // as printed
	DateISO       string // for <time datetime>
	Addressee     string
	Sender        []string
	Title         string
	Greeting      []string // opening paragraphs
	Complimentary string   // 敬具 / Yours sincerely, closing the letter part
	Ki            string   // 記: the particulars follow (Japanese letters only)
	Sections      []docSection
	Outro         []string
	Ijo           string // 以上: end of the particulars
	Contact       []docGroup
	Signature     []string
}

type docSection struct {
	Heading string
	Paras   []string
	Fields  []docField
	Slots   []docSlot
	Bullets []string
}

type docField struct {
	Label   string
	Lines   []string
	Notes   []string
	Box     []string // preformatted text shown framed: the customer message
	BoxNote []string
}

type docSlot struct {
	Text     string
	StartISO string
	EndISO   string
	Notes    []string
}

type docGroup struct {
	Heading string
	Lines   []docLine
}

type docLine struct {
	Label string // e.g. "MAIL: "
	Text  string
	Href  string // link target, "" for plain text
	Note  string // e.g. hours, after the text
}

// phrase picks the Japanese or English wording.
func phrase(lang, ja, en string) string {
	if lang == LangEN {
		return en
	}
	return ja
}

// senderText is the config resolved for one language.
type senderText struct {
	addressee, company, dept, service, phoneHours, emailHours, address, msgTmpl string
}

func (c NoticeConfig) forLang(lang string) senderText {
	pick := func(ja, en string) string {
		if lang == LangEN && strings.TrimSpace(en) != "" {
			return oneLine(en)
		}
		return oneLine(ja)
	}
	s := senderText{
		addressee: pick(c.Addressee, c.AddresseeEN), company: pick(c.SenderCompany, c.SenderCompanyEN),
		dept: pick(c.SenderDept, c.SenderDeptEN), service: pick(c.ServiceName, c.ServiceNameEN),
		phoneHours: pick(c.SupportHours, c.SupportHoursEN), emailHours: pick(c.EmailHours, c.EmailHoursEN),
		address: pick(c.Address, c.AddressEN), msgTmpl: c.MessageTemplateJA,
	}
	if lang == LangEN {
		s.msgTmpl = c.MessageTemplateEN
	}
	if s.service == "" {
		s.service = phrase(lang, "Kessai決済サービス", "Kessai payment service")
	}
	return s
}

// oneLine keeps operator text from breaking a notice's layout: line breaks become spaces and
// other control characters are dropped.
func oneLine(s string) string {
	s = strings.NewReplacer("\r\n", " ", "\r", " ", "\n", " ").Replace(s)
	return strings.Map(func(r rune) rune {
		if r < 0x20 && r != '\t' || r == 0x7f {
			return -1
		}
		return r
	}, strings.TrimSpace(s))
}

// lines splits operator notes into clean lines.
func lines(s string) []string {
	var out []string
	for _, l := range strings.Split(strings.ReplaceAll(s, "\r\n", "\n"), "\n") {
		if l = oneLine(l); l != "" {
			out = append(out, l)
		}
	}
	return out
}

func japanNow() time.Time {
	loc, err := time.LoadLocation(DefaultZone)
	if err != nil {
		return time.Now().UTC()
	}
	return time.Now().In(loc)
}

// letterHead fills the parts every notice shares: date, addressee, sender, contact, signature.
func letterHead(cfg NoticeConfig, lang, title string) noticeDoc {
	st := cfg.forLang(lang)
	issued := cfg.IssuedOn
	if issued.IsZero() {
		issued = japanNow()
	} else if loc, err := time.LoadLocation(DefaultZone); err == nil {
		issued = issued.In(loc)
	}
	d := noticeDoc{Lang: lang, Title: oneLine(title), Addressee: st.addressee, DateISO: issued.Format("2006-01-02")}
	if lang == LangEN {
		d.Date = issued.Format("2 January 2006")
	} else {
		d.Date = fmt.Sprintf("%d年%d月%d日", issued.Year(), int(issued.Month()), issued.Day())
	}
	for _, s := range []string{st.company, st.dept} {
		if s != "" {
			d.Sender = append(d.Sender, s)
		}
	}
	d.Signature = append(append([]string{}, d.Sender...), nonEmpty(st.address)...)

	if u := oneLine(cfg.SupportURL); u != "" {
		d.Contact = append(d.Contact, docGroup{
			Heading: phrase(lang, "サポートサイト", "Support site"),
			Lines: []docLine{
				{Text: phrase(lang, "マニュアル、よくあるご質問、お知らせを掲載しています。",
					"Manuals, frequently asked questions and notices.")},
				{Text: u, Href: safeHref(u)},
			},
		})
	}
	g := docGroup{Heading: phrase(lang, "お問い合わせ", "Contact"), Lines: []docLine{{Text: phrase(lang,
		"お問い合わせの際は、必ず店舗IDをお知らせください（管理画面の右上に表示されています）。",
		"Please always tell us your store ID (shown at the top right of the control panel).")}}}
	if e := oneLine(cfg.SupportEmail); e != "" {
		g.Lines = append(g.Lines, docLine{Label: phrase(lang, "メール", "Email"), Text: e, Href: safeHref("mailto:" + e), Note: st.emailHours})
	}
	if p := oneLine(cfg.SupportPhone); p != "" {
		g.Lines = append(g.Lines, docLine{Label: phrase(lang, "電話", "Phone"), Text: p, Href: telHref(p), Note: st.phoneHours})
	}
	d.Contact = append(d.Contact, g)
	return d
}

// safeHref lets through only the schemes a notice has reason to link (web, mail, phone), so a
// misconfigured URL is shown as text and never becomes a javascript: or data: link in any format.
func safeHref(u string) string {
	p, err := url.Parse(u)
	if err != nil {
		return ""
	}
	switch strings.ToLower(p.Scheme) {
	case "http", "https":
		if p.Host == "" {
			return ""
		}
		return u
	case "mailto":
		if strings.ContainsAny(p.Opaque, "<>\"' ") || !strings.Contains(p.Opaque, "@") {
			return ""
		}
		return u
	}
	return ""
}

// telHref keeps only what a tel: URI may hold, so the link is safe whatever was configured.
func telHref(p string) string {
	var b strings.Builder
	for i, r := range p {
		if r >= '0' && r <= '9' || r == '+' && i == 0 {
			b.WriteRune(r)
		}
	}
	if b.Len() == 0 {
		return ""
	}
	return "tel:" + b.String()
}

func nonEmpty(ss ...string) []string {
	var out []string
	for _, s := range ss {
		if s != "" {
			out = append(out, s)
		}
	}
	return out
}

// --- scope and window wording ---

var opLabels = map[Op][2]string{
	OpCapture:    {"決済（与信・売上）", "payments (authorise and capture)"},
	OpAuth:       {"与信（仮売上）", "authorisations"},
	OpCheck:      {"有効性チェック", "card checks"},
	OpSales:      {"売上確定（実売上）", "captures of authorisations"},
	OpCancel:     {"取消・返金", "cancellations and refunds"},
	OpToken:      {"トークン発行・3Dセキュア", "tokens and 3-D Secure"},
	OpAutoCharge: {"自動課金", "recurring billing"},
	OpKickback:   {"決済結果通知（キックバック）", "result notifications (kickback)"},
	OpPanel:      {"管理画面", "control panel"},
}

var methodLabels = map[string][2]string{
	"card": {"クレジットカード", "card"},
	"cvs":  {"コンビニ決済", "convenience store"},
	"bank": {"銀行振込", "bank transfer"},
}

func isPartial(s Scope) bool { return s.String() != "all" }

func label(m map[string][2]string, k, lang string) string {
	l, ok := m[k]
	if !ok {
		return ""
	}
	return phrase(lang, l[0], l[1])
}

// scopeNote names what a partial window stops, codes first: merchants' systems know the job names
// (jb=CANCEL…), their staff read the words.
func scopeNote(s Scope, lang string) string {
	if s.Ops&AllPayments == AllPayments && (len(s.Brands) > 0 || len(s.Methods) > 0) {
		// limited to a brand or a method: in words ("JCBカードの決済のみ"), not a list of jobs
		return phrase(lang, "この回の停止対象: ", "Stops only: ") + ScopeWords(s, lang)
	}
	var ops []string
	for _, n := range s.Ops.Names() {
		l := opLabels[OpForJob(n)]
		ops = append(ops, n+phrase(lang, "（"+l[0]+"）", " ("+l[1]+")"))
	}
	out := phrase(lang, "この回の停止対象: ", "Stops only: ") + strings.Join(ops, phrase(lang, "、", ", "))
	if len(s.Methods) > 0 {
		var ms []string
		for _, m := range s.Methods {
			ms = append(ms, m+phrase(lang, "（"+label(methodLabels, m, lang)+"）", " ("+label(methodLabels, m, lang)+")"))
		}
		out += phrase(lang, "／支払方法: ", "; payment methods: ") + strings.Join(ms, phrase(lang, "、", ", "))
	}
	if len(s.Brands) > 0 {
		out += phrase(lang, "／カードブランド: ", "; card brands: ") + strings.Join(s.Brands, phrase(lang, "、", ", "))
	}
	return out
}

// spanLine is a window as a schedule line in lang.
func spanLine(w Window, lang string) string {
	if lang == LangEN {
		return FormatSpanEN(w)
	}
	return formatSpanJA24(w)
}

// reserveNote tells merchants the latest end when the operator has set one.
func reserveNote(w Window, lang string) string {
	if w.ReserveEnd.IsZero() {
		return ""
	}
	loc := w.Location()
	r, e := w.ReserveEnd.In(loc), w.End.In(loc)
	var at string
	if lang == LangEN {
		at = r.Format("15:04 MST")
		if !sameDay(r, e) {
			at = r.Format("Mon 2 Jan 2006, 15:04 MST")
		}
		return "If the work overruns, it ends by " + at + " at the latest."
	}
	at = r.Format("15:04")
	if !sameDay(r, e) {
		at = dateJA(r) + " " + at
	}
	return "※作業が延びた場合も、遅くとも " + at + " までに終了します。"
}

// windowNotes are the notes printed under a window's line.
func windowNotes(w Window, lang string) []string {
	var out []string
	if w.Kind == KindEmergency {
		out = append(out, phrase(lang, "※緊急メンテナンス", "Emergency maintenance."))
	}
	if isPartial(w.Scope) {
		note := scopeNote(w.Scope, lang)
		if lang != LangEN {
			note = "※" + note
		}
		out = append(out, note)
	}
	if n := reserveNote(w, lang); n != "" {
		out = append(out, n)
	}
	notes := w.NotesJA // the public message; English readers get the English one only
	if lang == LangEN {
		notes = w.NotesEN
	}
	for _, l := range lines(notes) {
		out = append(out, phrase(lang, "※", "")+l)
	}
	return out
}

func slotOf(w Window, lang string) docSlot {
	loc := w.Location()
	return docSlot{Text: spanLine(w, lang), StartISO: w.Start.In(loc).Format(time.RFC3339),
		EndISO: w.End.In(loc).Format(time.RFC3339), Notes: windowNotes(w, lang)}
}

// impactField says what stops. For the whole-service scope it is the source notice's sentence
// (every payment, and the control panel); a partial scope lists what stops and says whether the
// panel stays up.
func impactField(s Scope, lang string) docField {
	f := docField{Label: phrase(lang, "影響範囲", "Impact")}
	if !isPartial(s) {
		f.Lines = []string{phrase(lang, "メンテナンス中は、すべての決済処理を受け付けません。",
			"No payment can be processed during maintenance.")}
		f.Notes = []string{phrase(lang, "※加盟店管理画面（コントロールパネル）もご利用いただけません。",
			"The merchant control panel is unavailable too.")}
		return f
	}
	f.Lines = []string{phrase(lang, "下記の処理のみ受け付けを停止します。", "Only the following is stopped."), scopeNote(s, lang)}
	if s.Ops&OpPanel != 0 {
		f.Notes = []string{phrase(lang, "※加盟店管理画面（コントロールパネル）もご利用いただけません。",
			"The merchant control panel is unavailable too.")}
	} else {
		f.Notes = []string{phrase(lang, "※加盟店管理画面（コントロールパネル）は通常どおりご利用いただけます。",
			"The merchant control panel stays available.")}
	}
	return f
}

// errorFields are the ER999 code and the customer message shown on the link method, rendered
// with the operator's template for example window w (nil: no example).
func errorFields(cfg NoticeConfig, lang string, example *Window, annual bool) ([]docField, error) {
	fs := []docField{{Label: phrase(lang, "停止時間中のエラーコード", "Error code during maintenance"), Lines: []string{ErrorCode}}}
	if example == nil {
		return fs, nil
	}
	msg, err := CustomerMessage(*example, lang, cfg.forLang(lang).msgTmpl)
	if err != nil {
		return nil, err
	}
	var box []string
	for _, l := range strings.Split(msg, "\n") {
		box = append(box, strings.Map(func(r rune) rune {
			if r < 0x20 && r != '\t' || r == 0x7f {
				return -1
			}
			return r
		}, l))
	}
	lbl := phrase(lang, "お客様への表示", "Message shown to customers")
	if annual {
		lbl = phrase(lang, "お客様への表示（例: "+dateJA(example.Start.In(example.Location()))+"の回）",
			"Message shown to customers (example: "+example.Start.In(example.Location()).Format("2 Jan 2006")+")")
	}
	fs = append(fs, docField{
		Label: lbl,
		Box:   box,
		BoxNote: []string{phrase(lang,
			"※この表示はリンク方式の決済画面にのみ出ます。その他の接続方式では、エラーコード ER999 のみを返します。",
			"This message appears only on the hosted payment page (link method); other connection methods receive the error code ER999 only.")},
	})
	return fs, nil
}

// caveats are the standing notes of every notice of upcoming work.
func caveats(cfg NoticeConfig, lang string, anyReserve bool) []string {
	out := []string{
		phrase(lang, "作業の状況により、終了時刻が早まる、または延びる場合があります。終了後は自動的に受付を再開します。",
			"The end time may move with the work. Payments resume by themselves when the maintenance ends."),
	}
	if anyReserve {
		out = append(out, phrase(lang, "予備の終了時刻を記載した回は、作業が延びた場合も遅くともその時刻までに終了します。",
			"Where a latest end time is given, the work ends by then even if it overruns."))
	}
	out = append(out,
		phrase(lang, "開始時刻より前に受け付けたお取引は、通常どおり最後まで処理します。",
			"Transactions accepted before the start are processed to completion as usual."),
		phrase(lang, "メンテナンス中に予定されていた自動課金は、終了後に順次実行します。",
			"Recurring charges due during maintenance run after it ends."),
		phrase(lang, "決済結果の通知（キックバック）は、メンテナンス終了後にまとめて送信します。",
			"Result notifications (kickback) held during maintenance are sent after it ends."),
		phrase(lang, "日程に変更がある場合は、あらためてお知らせいたします。",
			"Any change to these dates will be announced in a separate notice."),
	)
	if u := oneLine(cfg.CalendarURL); u != "" {
		out = append(out, phrase(lang, "メンテナンス日程はカレンダー（iCalendar）でも配信しています: ",
			"The schedule is also published as a calendar (iCalendar): ")+u)
	}
	return out
}

func outro(lang string) []string {
	return []string{phrase(lang, "ご不明な点がございましたら、下記の窓口までお気軽にお問い合わせください。",
		"If you have any questions, please contact us as below.")}
}

// --- annual notice ---

// RenderAnnualNotice writes the annual schedule letter for year: the shape of the source notice
// (date, addressee, sender, title, formal greeting, overview with ER999 and the customer message,
// one line per window, caveats, contact). Windows whose local start falls in another year and
// cancelled windows are left out; partial-scope windows carry a note of what they stop. lang is
// ja or en, format text, html or md; anything else is an *InputError.
func RenderAnnualNotice(w io.Writer, cfg NoticeConfig, year int, windows []Window, lang, format string) error {
	l, f, err := normLangFormat(lang, format)
	if err != nil {
		return err
	}
	doc, err := annualDoc(cfg, year, windows, l)
	if err != nil {
		return err
	}
	return renderDoc(w, doc, f)
}

func normLangFormat(lang, format string) (string, string, error) {
	l, err := normLang(lang)
	if err != nil {
		return "", "", err
	}
	f, err := normFormat(format)
	if err != nil {
		return "", "", err
	}
	return l, f, nil
}

// liveSorted keeps the windows that will happen, in start order.
func liveSorted(ws []Window, keep func(Window) bool) []Window {
	var out []Window
	for _, w := range ws {
		if w.Status != StatusCancelled && keep(w) {
			out = append(out, w)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Start.Before(out[j].Start) })
	return out
}

func annualDoc(cfg NoticeConfig, year int, windows []Window, lang string) (noticeDoc, error) {
	ws := liveSorted(windows, func(w Window) bool { return w.Start.In(w.Location()).Year() == year })
	st := cfg.forLang(lang)
	doc := letterHead(cfg, lang, phrase(lang,
		fmt.Sprintf("%d年 決済サーバ定期メンテナンススケジュールのご案内", year),
		fmt.Sprintf("Scheduled Maintenance of the Payment Servers in %d", year)))
	if lang == LangEN {
		doc.Greeting = []string{
			"Thank you for choosing the " + st.service + ".",
			fmt.Sprintf("The dates of the scheduled maintenance of our payment servers in %d are now fixed; they are listed below.", year),
			"Payments cannot be processed while maintenance is under way. We apologise for the inconvenience and thank you for your understanding.",
		}
		doc.Complimentary = "Yours sincerely,"
	} else {
		doc.Greeting = []string{
			"拝啓　平素より" + st.service + "をお引き立ていただき、厚く御礼申し上げます。",
			fmt.Sprintf("このたび、%d年に実施する決済サーバの定期メンテナンスの日程が決まりましたので、下記のとおりお知らせいたします。", year),
			"メンテナンス中は決済をご利用いただけず、ご不便をおかけいたしますが、何卒ご理解とご協力を賜りますようお願い申し上げます。",
		}
		doc.Complimentary = "敬具"
		doc.Ki = "記"
		doc.Ijo = "以上"
	}

	anyPartial, anyReserve := false, false
	for _, w := range ws {
		anyPartial = anyPartial || isPartial(w.Scope)
		anyReserve = anyReserve || !w.ReserveEnd.IsZero()
	}
	impact := impactField(Scope{Ops: DefaultScope}, lang)
	if anyPartial {
		impact.Notes = append(impact.Notes, phrase(lang, "※日程に停止対象を記載した回は、記載の処理のみを停止します。",
			"Where the schedule names what a window stops, only that is stopped."))
	}
	overview := docSection{Heading: phrase(lang, "概要", "Overview"), Fields: []docField{
		{Label: phrase(lang, "内容", "Work"), Lines: []string{phrase(lang, "決済サーバの定期メンテナンス", "Scheduled maintenance of the payment servers")}},
		{Label: phrase(lang, "対象", "Service"), Lines: []string{phrase(lang, st.service+"全般", "The "+st.service+", all functions")}},
		impact,
	}}
	var example *Window
	if len(ws) > 0 {
		example = &ws[0]
	}
	ef, err := errorFields(cfg, lang, example, true)
	if err != nil {
		return noticeDoc{}, err
	}
	overview.Fields = append(overview.Fields, ef...)

	sched := docSection{Heading: phrase(lang, fmt.Sprintf("%d年のメンテナンス日程（日本時間）", year),
		fmt.Sprintf("Maintenance schedule for %d", year))}
	for _, w := range ws {
		sched.Slots = append(sched.Slots, slotOf(w, lang))
	}
	if len(ws) == 0 {
		sched.Paras = []string{phrase(lang, "予定しているメンテナンスはありません。", "No maintenance is planned.")}
	}
	doc.Sections = []docSection{overview, sched,
		{Heading: phrase(lang, "ご注意", "Please note"), Bullets: caveats(cfg, lang, anyReserve)}}
	doc.Outro = outro(lang)
	return doc, nil
}

// --- one window ---

// RenderWindowNotice writes the notice of one window (typically sent some days before it, or when
// an emergency window is announced): when, what stops, ER999 and the customer message, caveats
// and contact. A cancelled window gets the cancellation notice instead.
func RenderWindowNotice(w io.Writer, cfg NoticeConfig, win Window, lang, format string) error {
	l, f, err := normLangFormat(lang, format)
	if err != nil {
		return err
	}
	if win.Status == StatusCancelled {
		doc, err := changeDoc(cfg, win, Change{Kind: ChangeCancelled, WindowID: win.ID, Revision: win.Revision}, l)
		if err != nil {
			return err
		}
		return renderDoc(w, doc, f)
	}
	doc, err := windowDoc(cfg, win, l)
	if err != nil {
		return err
	}
	return renderDoc(w, doc, f)
}

func shortGreeting(st senderText, lang string) string {
	return phrase(lang, "平素より"+st.service+"をご利用いただき、誠にありがとうございます。",
		"Thank you for using the "+st.service+".")
}

func windowTitle(win Window, lang string) string {
	s := win.Start.In(win.Location())
	if win.Kind == KindEmergency {
		return phrase(lang, "緊急メンテナンスのお知らせ（"+dateJA(s)+"）", "Emergency Maintenance on "+s.Format("2 Jan 2006"))
	}
	return phrase(lang, "決済サーバメンテナンスのお知らせ（"+dateJA(s)+"）", "Payment Server Maintenance on "+s.Format("2 Jan 2006"))
}

// windowSections are the particulars of a window that will happen (or is happening).
func windowSections(cfg NoticeConfig, win Window, lang string, withWhen bool) ([]docSection, error) {
	st := cfg.forLang(lang)
	when := docField{Label: phrase(lang, "日時", "When"), Lines: []string{spanLine(win, lang)}}
	if n := reserveNote(win, lang); n != "" {
		when.Notes = append(when.Notes, n)
	}
	work := phrase(lang, "決済サーバの定期メンテナンス", "Scheduled maintenance of the payment servers")
	if win.Kind == KindEmergency {
		work = phrase(lang, "決済サーバの緊急メンテナンス", "Emergency maintenance of the payment servers")
	}
	target := docField{Label: phrase(lang, "対象", "Service"), Lines: []string{phrase(lang, st.service+"全般", "The "+st.service+", all functions")}}
	if isPartial(win.Scope) {
		target.Lines = []string{st.service}
	}
	var fields []docField
	if withWhen {
		fields = append(fields, when)
	}
	fields = append(fields, docField{Label: phrase(lang, "内容", "Work"), Lines: []string{work}}, target, impactField(win.Scope, lang))
	notes := win.NotesJA // the public message; English readers get the English one only
	if lang == LangEN {
		notes = win.NotesEN
	}
	if ls := lines(notes); len(ls) > 0 {
		fields = append(fields, docField{Label: phrase(lang, "備考", "Notes"), Lines: ls})
	}
	ef, err := errorFields(cfg, lang, &win, false)
	if err != nil {
		return nil, err
	}
	fields = append(fields, ef...)
	return []docSection{
		{Heading: phrase(lang, "概要", "Overview"), Fields: fields},
		{Heading: phrase(lang, "ご注意", "Please note"), Bullets: caveats(cfg, lang, !win.ReserveEnd.IsZero())},
	}, nil
}

func windowDoc(cfg NoticeConfig, win Window, lang string) (noticeDoc, error) {
	doc := letterHead(cfg, lang, windowTitle(win, lang))
	st := cfg.forLang(lang)
	intro := phrase(lang, "下記の日時に、決済サーバのメンテナンスを実施いたします。メンテナンス中は決済をご利用いただけません。ご不便をおかけいたしますが、ご理解のほどお願い申し上げます。",
		"We will carry out maintenance of our payment servers at the time below, during which payments cannot be processed. We apologise for the inconvenience.")
	if win.Kind == KindEmergency {
		intro = phrase(lang, "下記の日時に、決済サーバの緊急メンテナンスを実施いたします。急なご案内となり誠に申し訳ございません。メンテナンス中は決済をご利用いただけません。",
			"We must carry out emergency maintenance of our payment servers at the time below, during which payments cannot be processed. We are sorry for the short notice.")
	}
	doc.Greeting = []string{shortGreeting(st, lang), intro}
	secs, err := windowSections(cfg, win, lang, true)
	if err != nil {
		return noticeDoc{}, err
	}
	doc.Sections = secs
	doc.Outro = outro(lang)
	return doc, nil
}

// --- changes ---

// RenderChangeNotice writes the notice of one change to a published window: moved, cancelled
// (中止), added (追加), extended, ended early, or an emergency start. win is the window after the
// change; ch carries the old and new times. An unknown change kind is an *InputError.
func RenderChangeNotice(w io.Writer, cfg NoticeConfig, win Window, ch Change, lang, format string) error {
	l, f, err := normLangFormat(lang, format)
	if err != nil {
		return err
	}
	doc, err := changeDoc(cfg, win, ch, l)
	if err != nil {
		return err
	}
	return renderDoc(w, doc, f)
}

// withTimes is win with other start/end instants (zero keeps the window's own).
func withTimes(win Window, start, end time.Time) Window {
	if !start.IsZero() {
		win.Start = start
	}
	if !end.IsZero() {
		win.End = end
	}
	return win
}

func changeDoc(cfg NoticeConfig, win Window, ch Change, lang string) (noticeDoc, error) {
	st := cfg.forLang(lang)
	loc := win.Location()
	old := withTimes(win, ch.OldStart, ch.OldEnd)
	cur := withTimes(win, ch.NewStart, ch.NewEnd)
	oldDate := dateJA(old.Start.In(loc))
	var title, intro string
	var change []docField
	upcoming := true // the notice describes work still to come: impact, ER999, caveats
	switch ch.Kind {
	case ChangeMoved:
		title = phrase(lang, "決済サーバメンテナンス日程変更のお知らせ（"+oldDate+"分）", "Payment Server Maintenance Rescheduled")
		intro = phrase(lang, oldDate+"に予定しておりました決済サーバのメンテナンスは、下記のとおり日時を変更いたします。",
			"The maintenance of our payment servers planned for "+old.Start.In(loc).Format("2 Jan 2006")+" has been moved as below.")
		change = []docField{
			{Label: phrase(lang, "変更前", "Was"), Lines: []string{spanLine(old, lang)}},
			{Label: phrase(lang, "変更後", "Now"), Lines: []string{spanLine(cur, lang)}},
		}
	case ChangeCancelled:
		upcoming = false
		title = phrase(lang, "決済サーバメンテナンス中止のお知らせ（"+oldDate+"分）", "Payment Server Maintenance Cancelled")
		intro = phrase(lang, "下記の日時に予定しておりました決済サーバのメンテナンスは、実施を取りやめることとなりました。当該時間帯も通常どおり決済をご利用いただけます。",
			"The maintenance of our payment servers planned for the time below will not take place. Payments are available as usual during that time.")
		change = []docField{{Label: phrase(lang, "中止した日時", "Cancelled"), Lines: []string{spanLine(old, lang)}}}
	case ChangeAdded, ChangePublished:
		title = phrase(lang, "決済サーバメンテナンス追加のお知らせ（"+dateJA(cur.Start.In(loc))+"）", "Additional Payment Server Maintenance on "+cur.Start.In(loc).Format("2 Jan 2006"))
		if win.Kind == KindEmergency {
			title = windowTitle(cur, lang)
		}
		intro = phrase(lang, "下記の日時に、決済サーバのメンテナンスを追加で実施いたします。メンテナンス中は決済をご利用いただけません。",
			"We will carry out an additional maintenance of our payment servers at the time below, during which payments cannot be processed.")
		change = []docField{{Label: phrase(lang, "追加する日時", "Added"), Lines: []string{spanLine(cur, lang)}}}
	case ChangeExtended:
		title = phrase(lang, "決済サーバメンテナンス終了時刻延長のお知らせ（"+dateJA(cur.Start.In(loc))+"）", "Payment Server Maintenance Extended")
		intro = phrase(lang, "下記のメンテナンスは、作業に時間を要しているため、終了時刻を延長いたします。ご迷惑をおかけし、誠に申し訳ございません。",
			"The maintenance below needs more time, and its end has been extended. We apologise for the inconvenience.")
		change = []docField{
			{Label: phrase(lang, "変更前", "Was"), Lines: []string{spanLine(old, lang)}},
			{Label: phrase(lang, "変更後", "Now"), Lines: []string{spanLine(cur, lang)}},
		}
	case ChangeEnded:
		upcoming = false
		title = phrase(lang, "決済サーバメンテナンス終了のお知らせ（"+dateJA(cur.Start.In(loc))+"）", "Payment Server Maintenance Ended")
		intro = phrase(lang, "下記のメンテナンスは予定より早く作業を終え、終了いたしました。現在は通常どおり決済をご利用いただけます。",
			"The maintenance below finished earlier than planned. Payments are available as usual again.")
		change = []docField{
			{Label: phrase(lang, "予定", "Planned"), Lines: []string{spanLine(old, lang)}},
			{Label: phrase(lang, "実際", "Actual"), Lines: []string{spanLine(cur, lang)}},
		}
	case ChangeStarted:
		title = phrase(lang, "緊急メンテナンス開始のお知らせ（"+dateJA(cur.Start.In(loc))+"）", "Emergency Maintenance Started")
		intro = phrase(lang, "下記のとおり、決済サーバの緊急メンテナンスを開始いたしました。終了まで決済をご利用いただけません。ご迷惑をおかけし、誠に申し訳ございません。",
			"We have started emergency maintenance of our payment servers. Payments cannot be processed until it ends. We apologise for the inconvenience.")
		change = []docField{{Label: phrase(lang, "日時", "When"), Lines: []string{spanLine(cur, lang)}}}
	case ChangeUpdate:
		upcoming = false
		stage := StageName(ch.Stage, lang)
		title = phrase(lang, "決済サーバメンテナンス状況のお知らせ（"+stage+"）", "Payment Server Maintenance Update ("+stage+")")
		intro = phrase(lang, "下記のメンテナンスの状況をお知らせいたします。", "An update on the maintenance below.")
		when := ch.At.In(loc)
		change = []docField{
			{Label: phrase(lang, "状況", "Status"), Lines: []string{stage}},
			{Label: phrase(lang, "日時", "When"), Lines: []string{spanLine(cur, lang)}},
			{Label: phrase(lang, "更新時刻", "Updated"), Lines: []string{phrase(lang, when.Format("2006年01月02日 15:04"), when.Format("2 Jan 2006 15:04 MST"))}},
		}
		if m := ch.Message(lang); strings.TrimSpace(m) != "" {
			change = append(change, docField{Label: phrase(lang, "内容", "Details"), Lines: lines(m)})
		}
	default:
		return noticeDoc{}, inputErr("unknown change kind %q (%s, %s, %s, %s, %s, %s)", ch.Kind,
			ChangeMoved, ChangeCancelled, ChangeAdded, ChangeExtended, ChangeEnded, ChangeStarted)
	}
	if n := reserveNote(cur, lang); n != "" && upcoming {
		change[len(change)-1].Notes = append(change[len(change)-1].Notes, n)
	}
	if r := oneLine(ch.Message(lang)); r != "" && ch.Kind != ChangeUpdate {
		change = append(change, docField{Label: phrase(lang, "理由", "Reason"), Lines: []string{r}})
	}
	doc := letterHead(cfg, lang, title)
	doc.Greeting = []string{shortGreeting(st, lang), intro}
	heading := phrase(lang, "変更内容", "What changed")
	if ch.Kind == ChangeAdded || ch.Kind == ChangePublished || ch.Kind == ChangeStarted {
		heading = phrase(lang, "日時", "When")
	}
	doc.Sections = []docSection{{Heading: heading, Fields: change}}
	if upcoming {
		secs, err := windowSections(cfg, cur, lang, false)
		if err != nil {
			return noticeDoc{}, err
		}
		doc.Sections = append(doc.Sections, secs...)
	}
	doc.Outro = outro(lang)
	return doc, nil
}

// Events a window's own mails announce, each with its own letter (issue 15 item 12).
const (
	EventReminder = "reminder" // before the start: the window notice ("実施いたします")
	EventStart    = "start"    // the window has started
	EventEnd      = "end"      // the window has ended: payments are back
)

// RenderEventNotice writes the letter for one event of a window: EventReminder is the window's
// notice; EventStart says the maintenance has started and what is stopped until when; EventEnd says
// it has ended, when, and that payments are available again (never the announcement's wording).
func RenderEventNotice(w io.Writer, cfg NoticeConfig, win Window, event, lang, format string) error {
	l, f, err := normLangFormat(lang, format)
	if err != nil {
		return err
	}
	var doc noticeDoc
	loc := win.Location()
	date := dateJA(win.Start.In(loc))
	dateEN := win.Start.In(loc).Format("2 Jan 2006")
	switch event {
	case EventReminder:
		doc, err = windowDoc(cfg, win, l)
		if err != nil {
			return err
		}
	case EventStart:
		doc = letterHead(cfg, l, phrase(l, "決済サーバメンテナンス開始のお知らせ（"+date+"）", "Payment Server Maintenance Started ("+dateEN+")"))
		doc.Greeting = []string{shortGreeting(cfg.forLang(l), l), phrase(l,
			"下記のメンテナンスを開始いたしました。終了までの間、下記の処理をご利用いただけません。ご不便をおかけいたしますが、ご理解のほどお願い申し上げます。",
			"The maintenance below has started. Until it ends, what is listed below cannot be used. We apologise for the inconvenience.")}
		secs, err := windowSections(cfg, win, l, true)
		if err != nil {
			return err
		}
		doc.Sections = secs
		doc.Outro = outro(l)
	case EventEnd:
		doc = letterHead(cfg, l, phrase(l, "決済サーバメンテナンス終了のお知らせ（"+date+"）", "Payment Server Maintenance Completed ("+dateEN+")"))
		doc.Greeting = []string{shortGreeting(cfg.forLang(l), l), phrase(l,
			"下記のメンテナンスは終了いたしました。現在は通常どおり決済をご利用いただけます。ご協力いただき、誠にありがとうございました。",
			"The maintenance below has been completed. Payments are available as usual again. Thank you for your patience.")}
		doc.Sections = []docSection{{Heading: phrase(l, "実施内容", "Completed maintenance"), Fields: []docField{
			{Label: phrase(l, "日時", "When"), Lines: []string{spanLine(win, l)}},
			{Label: phrase(l, "停止対象", "Stopped"), Lines: []string{ScopeWords(win.Scope, l)}},
		}}}
		doc.Outro = outro(l)
	default:
		return inputErr("unknown event %q", event)
	}
	return renderDoc(w, doc, f)
}

// MailSubject is the subject of a maintenance mail in lang: what happened and the window's date
// (its date before a move or cancellation), so that ten mails do not share one subject.
func MailSubject(kind string, win Window, ch *Change, lang string) string {
	loc := win.Location()
	start := win.Start
	if ch != nil && !ch.OldStart.IsZero() && (ch.Kind == ChangeMoved || ch.Kind == ChangeCancelled) {
		start = ch.OldStart
	}
	d := start.In(loc)
	names := map[string][2]string{
		"reminder":      {"メンテナンス実施のお知らせ", "Maintenance scheduled"},
		EventStart:      {"メンテナンス開始のお知らせ", "Maintenance started"},
		EventEnd:        {"メンテナンス終了のお知らせ", "Maintenance completed"},
		ChangeMoved:     {"メンテナンス日程変更のお知らせ", "Maintenance rescheduled"},
		ChangeCancelled: {"メンテナンス中止のお知らせ", "Maintenance cancelled"},
		ChangeExtended:  {"メンテナンス延長のお知らせ", "Maintenance extended"},
		ChangeEnded:     {"メンテナンス終了のお知らせ", "Maintenance ended early"},
		ChangeAdded:     {"メンテナンス追加のお知らせ", "Maintenance added"},
		ChangePublished: {"メンテナンス追加のお知らせ", "Maintenance added"},
		ChangeStarted:   {"緊急メンテナンスのお知らせ", "Emergency maintenance"},
	}
	n, ok := names[kind]
	if kind == ChangeAdded && win.Kind == KindEmergency {
		n, ok = names[ChangeStarted], true
	}
	if kind == ChangeUpdate && ch != nil {
		n, ok = [2]string{"メンテナンス状況のお知らせ（" + StageName(ch.Stage, LangJA) + "）", "Maintenance update (" + StageName(ch.Stage, LangEN) + ")"}, true
	}
	if !ok {
		n = [2]string{"メンテナンスのお知らせ", "Maintenance notice"}
	}
	if lang == LangEN {
		return "[Kessai] " + n[1] + " — " + d.Format("Mon 2 Jan 2006")
	}
	return "【Kessai】" + n[0] + "（" + dateJA(d) + "）"
}
