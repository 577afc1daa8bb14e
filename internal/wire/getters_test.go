package wire

import (
	"net/url"
	"testing"
	"time"
)

func params(tb testing.TB, q string) *Params {
	tb.Helper()
	p, err := ParseQuery(q)
	if err != nil {
		tb.Fatalf("ParseQuery(%q): %v", q, err)
	}
	return p
}

// checkResult asserts a getter's outcome: want when code is "", else an *Error with code.
func checkResult[T comparable](tb testing.TB, q string, got T, err error, want T, code Code) {
	tb.Helper()
	if code != "" {
		if err == nil {
			tb.Fatalf("%q: got %v, want %s", q, got, code)
		}
		wantCode(tb, err, code)
		return
	}
	if err != nil {
		tb.Fatalf("%q: %v", q, err)
	}
	if got != want {
		tb.Fatalf("%q: got %v, want %v", q, got, want)
	}
}

type strCase struct {
	q, want string
	code    Code
}

func runStr(t *testing.T, cases []strCase, get func(*Params) (string, error)) {
	t.Helper()
	for _, tt := range cases {
		t.Run(tt.q, func(t *testing.T) {
			got, err := get(params(t, tt.q))
			checkResult(t, tt.q, got, err, tt.want, tt.code)
		})
	}
}

func TestAID(t *testing.T) {
	runStr(t, []strCase{
		{"aid=123456", "123456", ""},
		{"aid=+123456+", "123456", ""},
		{"", "", ERParamAID},
		{"aid=", "", ERParamAID},
		{"aid=12345", "", ERParamAID},
		{"aid=1234567", "", ERParamAID},
		{"aid=12345a", "", ERParamAID},
		{"aid=%EF%BC%91%EF%BC%92%EF%BC%93%EF%BC%94%EF%BC%95%EF%BC%96", "", ERParamAID}, // full-width
	}, (*Params).AID)
}

func TestJobType(t *testing.T) {
	for _, def := range []string{"", JobCapture} {
		runStr(t, []strCase{
			{"jb=CAPTURE", JobCapture, ""},
			{"jb=AUTH", JobAuth, ""},
			{"jb=CHECK", JobCheck, ""},
			{"jb=SALES", JobSales, ""},
			{"jb=CANCEL", JobCancel, ""},
			{"jb=capture", JobCapture, ""},
			{"jb=REFUND", "", ERParamJob},
		}, func(p *Params) (string, error) { return p.JobType(def) })
	}
	got, err := params(t, "").JobType(JobCapture)
	checkResult(t, "link default", got, err, JobCapture, "")
	_, err = params(t, "jb=").JobType("")
	wantCode(t, err, ERParamJob)
}

func TestReplyType(t *testing.T) {
	for _, tt := range []struct {
		q    string
		want int
		code Code
	}{
		{"rt=0", ReplyOK, ""},
		{"rt=1", ReplyLine, ""},
		{"", ReplyLine, ""},
		{"rt=2", 0, ERParamReply},
		{"rt=x", 0, ERParamReply},
	} {
		got, err := params(t, tt.q).ReplyType()
		checkResult(t, tt.q, got, err, tt.want, tt.code)
	}
}

func TestIdentifiers(t *testing.T) {
	runStr(t, []strCase{
		{"tid=G123-abc_9", "G123-abc_9", ""},
		{"", "", ERParamTID},
		{"tid=a%2Cb", "", ERParamTID},
		{"tid=123456789012345678901234567890123", "", ERParamTID}, // 33 characters
	}, (*Params).TID)
	runStr(t, []strCase{
		{"acid=AC1", "AC1", ""},
		{"", "", ERParamACID},
		{"acid=a+b", "", ERParamACID},
	}, (*Params).ACID)
	runStr(t, []strCase{
		{"iid=ITEM-1", "ITEM-1", ""},
		{"", "", ""},
		{"iid=%E5%95%86", "", ERParamItem},
	}, (*Params).Item)
	runStr(t, []strCase{
		{"cmd=1", "1", ""},
		{"cmd=2", "2", ""},
		{"cmd=3", "", ERParamCmd},
		{"", "", ERParamCmd},
	}, func(p *Params) (string, error) { return p.Cmd("1", "2") })
}

func TestCod(t *testing.T) {
	long := "12345678901234567890123456789012345678901234567890"
	runStr(t, []strCase{
		{"cod=ORDER-1", "ORDER-1", ""},
		{"cod=a%2Fb%3F%23", "a/b?#", ""},
		{"", "", ""},
		{"cod=" + long, long, ""},
		{"cod=" + long + "1", "", ERParamCod},
		{"cod=a%2Cb", "", ERParamCod},
		{"cod=a+b", "", ERParamCod},
		{"cod=%E6%B3%A8", "", ERParamCod},
	}, (*Params).Cod)
}

func TestItemName(t *testing.T) {
	runStr(t, []strCase{
		{"inm=%E3%81%BB%E3%81%86%E3%81%98%E8%8C%B6", "ほうじ茶", ""},
		{"inm=" + repeat("%E8%8C%B6", 255), repeat("茶", 255), ""},
		{"inm=" + repeat("%E8%8C%B6", 256), "", ERMalformed},
	}, (*Params).ItemName)
}

func repeat(s string, n int) string {
	b := make([]byte, 0, len(s)*n)
	for range n {
		b = append(b, s...)
	}
	return string(b)
}

func TestInt(t *testing.T) {
	for _, tt := range []struct {
		q        string
		min, max int64
		required bool
		want     int64
		code     Code
	}{
		{"n=10", 0, 100, true, 10, ""},
		{"n=007", 0, 100, true, 7, ""},
		{"", 0, 100, false, 0, ""},
		{"", 0, 100, true, 0, ERParamAmount},
		{"n=", 0, 100, true, 0, ERParamAmount},
		{"n=101", 0, 100, true, 0, ERParamAmount},
		{"n=-1", 0, 100, true, 0, ERParamAmount},
		{"n=-1", -5, 100, true, -1, ""},
		{"n=%2B1", 0, 100, true, 0, ERParamAmount},
		{"n=1.0", 0, 100, true, 0, ERParamAmount},
		{"n=1%2C000", 0, 10000, true, 0, ERParamAmount},
		{"n=99999999999999999999999", 0, MaxAmount, true, 0, ERParamAmount},
		{"n=%EF%BC%91", 0, 100, true, 0, ERParamAmount},
	} {
		got, err := params(t, tt.q).Int("n", ERParamAmount, tt.min, tt.max, tt.required)
		checkResult(t, tt.q, got, err, tt.want, tt.code)
	}
}

func TestAmounts(t *testing.T) {
	for _, tt := range []struct {
		q          string
		requireAm  bool
		am, tx, sf int64
		code       Code
	}{
		{"am=1000&tx=100&sf=500", true, 1000, 100, 500, ""},
		{"am=0&tx=0&sf=0", true, 0, 0, 0, ""},
		{"am=1000", true, 1000, 0, 0, ""},
		{"", false, 0, 0, 0, ""},
		{"", true, 0, 0, 0, ERParamAmount},
		{"am=x", true, 0, 0, 0, ERParamAmount},
		{"am=1&tx=-1", true, 0, 0, 0, ERParamTax},
		{"am=1&sf=a", true, 0, 0, 0, ERParamShipping},
		{"am=10000000000", true, 0, 0, 0, ERParamAmount},
	} {
		am, tx, sf, err := params(t, tt.q).Amounts(tt.requireAm)
		checkResult(t, tt.q, [3]int64{am, tx, sf}, err, [3]int64{tt.am, tt.tx, tt.sf}, tt.code)
	}
}

func TestCardNumber(t *testing.T) {
	runStr(t, []strCase{
		{"cn=4111111111111111", "4111111111111111", ""},
		{"cn=4111+1111+1111+1111", "4111111111111111", ""},
		{"cn=4111-1111-1111-1111", "4111111111111111", ""},
		{"cn=4111111111111112", "4111111111111112", ""}, // Luhn is the caller's (ER014)
		{"", "", ERParamCardNumber},
		{"cn=41111111111", "", ERParamCardNumber},
		{"cn=41111111111111111111", "", ERParamCardNumber},
		{"cn=4111x11111111111", "", ERParamCardNumber},
	}, (*Params).CardNumber)
}

// Card and phone numbers without separators, the usual case, are taken as they are: nothing is
// allocated for them.
func TestDropSpacesAndDashesAllocatesOnlyToRemove(t *testing.T) {
	for in, want := range map[string]string{"4111111111111111": "4111111111111111", "4111 1111-1111 1111": "4111111111111111",
		"--": "", "": "", "+81 90": "+8190"} {
		if got := dropSpacesAndDashes(in); got != want {
			t.Errorf("dropSpacesAndDashes(%q) = %q, want %q", in, got, want)
		}
	}
	if n := testing.AllocsPerRun(100, func() { dropSpacesAndDashes("09012345678") }); n != 0 {
		t.Errorf("%v allocations for a number without separators", n)
	}
}

func TestExpiry(t *testing.T) {
	now := time.Date(2026, 3, 15, 12, 0, 0, 0, time.UTC)
	runStr(t, []strCase{
		{"ed=2812", "2812", ""},
		{"ed=2601", "2601", ""}, // expired: the caller decides
		{"ed=4603", "4603", ""},
		{"ed=4703", "", ERParamExpiry},
		{"ed=1228", "", ERParamExpiry}, // MMYY
		{"ed=2800", "", ERParamExpiry},
		{"ed=2813", "", ERParamExpiry},
		{"ed=281", "", ERParamExpiry},
		{"ed=28%2F12", "", ERParamExpiry},
		{"", "", ERParamExpiry},
	}, func(p *Params) (string, error) { return p.Expiry(now) })
	for _, tt := range []struct {
		yymm    string
		expired bool
	}{{"2603", false}, {"2602", true}, {"2512", true}, {"2604", false}, {"", true}, {"xx01", true}} {
		if got := Expired(tt.yymm, now); got != tt.expired {
			t.Errorf("Expired(%q) = %v", tt.yymm, got)
		}
	}
	if !Expired("2603", time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC)) {
		t.Error("2603 not expired on 1 April")
	}
}

func TestEmail(t *testing.T) {
	runStr(t, []strCase{
		{"em=taro%40example.jp", "taro@example.jp", ""},
		{"em=taro..yamada.%40docomo.ne.jp", "taro..yamada.@docomo.ne.jp", ""},
		{"em=a%2Bb%40mail.example.com", "a+b@mail.example.com", ""},
		{"", "", ""},
		{"em=taro", "", ERParamEmail},
		{"em=%40example.jp", "", ERParamEmail},
		{"em=taro%40", "", ERParamEmail},
		{"em=taro%40localhost", "", ERParamEmail},
		{"em=taro%40exa_mple.jp", "", ERParamEmail},
		{"em=ta+ro%40example.jp", "", ERParamEmail},
		{"em=a%2Cb%40example.jp", "", ERParamEmail},
		{"em=%E5%A4%AA%40example.jp", "", ERParamEmail},
		{"em=a%40-x.jp", "", ERParamEmail},
		{"em=a%40x..jp", "", ERParamEmail},
	}, (*Params).Email)
}

func TestPhone(t *testing.T) {
	runStr(t, []strCase{
		{"pn=09012345678", "09012345678", ""},
		{"pn=090-1234-5678", "09012345678", ""},
		{"pn=090+1234-5678", "09012345678", ""},
		{"pn=0312345678", "0312345678", ""},
		{"pn=%2B819012345678", "+819012345678", ""},
		{"pn=123456789012345", "123456789012345", ""},
		{"", "", ""},
		{"pn=123456789", "", ERParamPhone},
		{"pn=1234567890123456", "", ERParamPhone},
		{"pn=090x1234567", "", ERParamPhone},
	}, (*Params).Phone)
}

func TestMethod(t *testing.T) {
	for _, tt := range []struct {
		q    string
		md   string
		n    int
		code Code
	}{
		{"", "10", 0, ""},
		{"md=10", "10", 0, ""},
		{"md=61-2", "61-2", 2, ""},
		{"md=61-24", "61-24", 24, ""},
		{"md=80-0", "80-0", 0, ""},
		{"md=61-1", "", 0, ERParamInstallments},
		{"md=61-25", "", 0, ERParamInstallments},
		{"md=61-", "", 0, ERParamInstallments},
		{"md=61", "", 0, ERParamInstallments},
		{"md=61-%2B3", "", 0, ERParamInstallments},
		{"md=61-x", "", 0, ERParamInstallments},
		{"md=80", "", 0, ERParamMethod},
		{"md=21", "", 0, ERParamMethod},
		{"md=1", "", 0, ERParamMethod},
	} {
		md, n, err := params(t, tt.q).Method()
		type out struct {
			md string
			n  int
		}
		checkResult(t, tt.q, out{md, n}, err, out{tt.md, tt.n}, tt.code)
	}
}

func TestHolderNames(t *testing.T) {
	for _, tt := range []struct {
		q        string
		required bool
		fn, ln   string
		code     Code
	}{
		{"fn=TARO&ln=YAMADA", true, "TARO", "YAMADA", ""},
		{"fn=Mary+Ann&ln=O%27Brien-Smith", true, "Mary Ann", "O'Brien-Smith", ""},
		{"", false, "", "", ""},
		{"", true, "", "", ERParamFN},
		{"fn=TARO", true, "", "", ERParamLN},
		{"fn=%E5%A4%AA%E9%83%8E&ln=YAMADA", true, "", "", ERParamFN},
		{"fn=TARO&ln=YAMADA1", true, "", "", ERParamLN},
		{"fn=" + repeat("A", 51) + "&ln=X", true, "", "", ERParamFN},
	} {
		fn, ln, err := params(t, tt.q).HolderNames(tt.required)
		checkResult(t, tt.q, [2]string{fn, ln}, err, [2]string{tt.fn, tt.ln}, tt.code)
	}
}

func TestCVV(t *testing.T) {
	runStr(t, []strCase{
		{"cvv=123", "123", ""},
		{"cvv=1234", "1234", ""},
		{"", "", ""},
		{"cvv=12", "", ERParamCVV},
		{"cvv=12345", "", ERParamCVV},
		{"cvv=12a", "", ERParamCVV},
	}, func(p *Params) (string, error) { return p.CVV(false) })
	_, err := params(t, "").CVV(true)
	wantCode(t, err, ERParamCVV)
}

func TestToken(t *testing.T) {
	const tkn = "abcdefghijklmnopqrstuvwxyz012345"
	runStr(t, []strCase{
		{"tkn=" + tkn, tkn, ""},
		{"", "", ERTokenMissing},
		{"tkn=short", "", ERTokenInvalid},
		{"tkn=abcdefghijklmnopqrstuvwxyz01234-", "", ERTokenInvalid},
		{"tkn=" + tkn + "&cn=4111111111111111", "", ERTokenWithCard},
	}, (*Params).Token)
}

func TestCodes(t *testing.T) {
	want := []Code{"ER000", "ER001", "ER002", "ER003", "ER004", "ER005", "ER014", "ER015", "ER016", "ER017",
		"ER018", "ER024", "ER030", "ER031", "ER032", "ER033", "ER042"}
	for c := 50; c <= 65; c++ {
		want = append(want, Code("ER0"+itoa(c)))
	}
	want = append(want, "ER068", "ER069", "ER072", "ER079", "ER107", "ER125", "ER126", "ER127", "ER128", "ER129")
	for c := 160; c <= 166; c++ { // convenience store and bank transfer (noncard.go)
		want = append(want, Code("ER"+itoa(c)))
	}
	for c := 570; c <= 586; c++ {
		want = append(want, Code("ER"+itoa(c)))
	}
	want = append(want, "ER900", "ER901", "ER990", "ER998", "ER999")
	got := Codes()
	if len(got) != len(want) {
		t.Fatalf("Codes() has %d codes, want %d: %v", len(got), len(want), got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("Codes()[%d] = %s, want %s", i, got[i], want[i])
		}
		c := got[i]
		if !c.Known() {
			t.Errorf("%s not Known", c)
		}
		ja, en := c.Describe("ja"), c.Describe("en")
		if ja == "" || en == "" || ja == en {
			t.Errorf("%s descriptions: ja=%q en=%q", c, ja, en)
		}
	}
	if Code("ER066").Known() || Code("ER066").Describe("ja-JP") == "" {
		t.Error("ER066 should be unknown but still describable")
	}
	if ERMaintenance.Describe("ja-JP") != "ただいまメンテナンス中です" || ERMaintenance.Describe("") != "under maintenance" {
		t.Error("Describe language selection")
	}
}

func itoa(n int) string {
	if n < 10 {
		return string(rune('0' + n))
	}
	return itoa(n/10) + string(rune('0'+n%10))
}

func TestParamCode(t *testing.T) {
	for name, code := range map[string]Code{
		"aid": ERParamAID, "jb": ERParamJob, "rt": ERParamReply, "tid": ERParamTID, "cod": ERParamCod,
		"cn": ERParamCardNumber, "ed": ERParamExpiry, "fn": ERParamFN, "ln": ERParamLN, "em": ERParamEmail,
		"pn": ERParamPhone, "am": ERParamAmount, "tx": ERParamTax, "sf": ERParamShipping, "md": ERParamMethod,
		"iid": ERParamItem, "cmd": ERParamCmd, "acid": ERParamACID, "cvv": ERParamCVV,
		"actp": ERACCycle, "ac1": ERACDay, "ac3": ERACStopCount, "ac4": ERACNextDate,
		"acam": ERAutoCharge570, "trsf": ERAutoCharge580, "inm": ERMalformed, "whatever": ERMalformed,
	} {
		if got := ParamCode(name); got != code {
			t.Errorf("ParamCode(%q) = %s, want %s", name, got, code)
		}
	}
	for name, code := range paramCodes {
		if !code.Known() {
			t.Errorf("ParamCode(%q) = %s, which is not a known code", name, code)
		}
	}
}

func TestError(t *testing.T) {
	e := Errf(ERParamAmount, "am", "outside %d–%d", 0, 10)
	if e.Error() != "ER061 am: outside 0–10" {
		t.Errorf("Error() = %q", e.Error())
	}
	if (&Error{Code: ERMaintenance}).Error() != "ER999" {
		t.Error("bare code")
	}
	if CodeOf(nil) != "" || CodeOf(e) != ERParamAmount || CodeOf(errString("boom")) != ERInternal {
		t.Error("CodeOf")
	}
	if CodeOf(wrapErr{e}) != ERParamAmount {
		t.Error("CodeOf through a wrapper")
	}
	if ErrorBody(ERMaintenance) != "ER:ER999" {
		t.Error("ErrorBody")
	}
}

type errString string

func (e errString) Error() string { return string(e) }

type wrapErr struct{ error }

func (w wrapErr) Unwrap() error { return w.error }

// TestFullWidthDigits: what a Japanese IME types in cn, ed, cvv and pn (全角 digits, ＋, the
// ideographic space, the dashes put in place of a hyphen) is read as its half-width form on every
// surface, since all of them read these values through the getters (issue 15 item 2). Other
// parameters keep their rule: a full-width aid is still refused (TestAID).
func TestFullWidthDigits(t *testing.T) {
	q := func(name, v string) string { return name + "=" + url.QueryEscape(v) }
	runStr(t, []strCase{
		{q("cn", "４１１１１１１１１１１１１１１１"), "4111111111111111", ""},
		{q("cn", "４１１１　１１１１　１１１１　１１１１"), "4111111111111111", ""},
		{q("cn", "４１１１－１１１１ー１１１１‐１１１１"), "4111111111111111", ""},
		{q("cn", "４１１１x１１１１１１１１１１１"), "", ERParamCardNumber},
		{q("cn", "４１１"), "", ERParamCardNumber},
	}, (*Params).CardNumber)
	now := time.Date(2026, 3, 15, 12, 0, 0, 0, time.UTC)
	runStr(t, []strCase{
		{q("ed", "２８１２"), "2812", ""},
		{q("ed", "２８１３"), "", ERParamExpiry},
	}, func(p *Params) (string, error) { return p.Expiry(now) })
	runStr(t, []strCase{
		{q("cvv", "１２３"), "123", ""},
		{q("cvv", "１２"), "", ERParamCVV},
	}, func(p *Params) (string, error) { return p.CVV(true) })
	runStr(t, []strCase{
		{q("pn", "０９０－１２３４－５６７８"), "09012345678", ""},
		{q("pn", "＋８１９０１２３４５６７８"), "+819012345678", ""},
		{q("pn", "０９０"), "", ERParamPhone},
	}, (*Params).Phone)
	if got := halfWidth("abc-123"); got != "abc-123" {
		t.Errorf("ASCII changed: %q", got)
	}
	if got := halfWidth("ｶﾅ漢字"); got != "ｶﾅ漢字" {
		t.Errorf("non-digit text changed: %q", got)
	}
}
