package wire

import (
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Job types (jb).
const (
	JobCapture = "CAPTURE" // authorise and capture (仮実同時売上)
	JobAuth    = "AUTH"    // authorise only (仮売上)
	JobCheck   = "CHECK"   // card validity check, no charge
	JobSales   = "SALES"   // capture an earlier AUTH (tid)
	JobCancel  = "CANCEL"  // void an AUTH or refund a capture (tid)
)

// Reply types (rt).
const (
	ReplyOK   = 0 // body "OK" or "ER:…"; the result goes to the result URL
	ReplyLine = 1 // the full result line in the body
)

// Payment methods (md).
const (
	MethodLump        = "10" // 一括
	MethodInstallment = "61" // 分割, sent as "61-N"
	MethodRevolving   = "80" // リボ, sent as "80-0"
)

// MaxAmount bounds am, tx, sf and the auto-charge amounts as a matter of format (ER061…). Store
// limits are business rules with their own codes (ER017/ER018), checked by the payment service.
const MaxAmount = 9_999_999_999

// value returns the named value with surrounding spaces removed; empty means absent.
func (p *Params) value(name string) string {
	return strings.TrimSpace(p.Get(name))
}

// Str returns the named value, at most maxRunes characters (0: no limit). Absent or empty gives ""
// or, when required, code.
func (p *Params) Str(name string, code Code, maxRunes int, required bool) (string, error) {
	v := p.value(name)
	if v == "" {
		if required {
			return "", Errf(code, name, "required")
		}
		return "", nil
	}
	if maxRunes > 0 && utf8.RuneCountInString(v) > maxRunes {
		return "", Errf(code, name, "longer than %d characters", maxRunes)
	}
	return v, nil
}

// Int returns the named decimal integer, which must lie in [min, max]. Absent or empty gives 0 or,
// when required, code; so do signs (unless min < 0), decimals and digit grouping.
func (p *Params) Int(name string, code Code, min, max int64, required bool) (int64, error) {
	v := p.value(name)
	if v == "" {
		if required {
			return 0, Errf(code, name, "required")
		}
		return 0, nil
	}
	digits := v
	if min < 0 && strings.HasPrefix(v, "-") {
		digits = v[1:]
	}
	if !isDigits(digits) {
		return 0, Errf(code, name, "not a whole number")
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < min || n > max {
		return 0, Errf(code, name, "outside %d–%d", min, max)
	}
	return n, nil
}

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// isIdent reports 1–max characters from [A-Za-z0-9_-].
func isIdent(s string, max int) bool {
	if s == "" || len(s) > max {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// AID returns the store ID: exactly 6 digits, always required (ER050).
func (p *Params) AID() (string, error) {
	v := p.value("aid")
	if len(v) != 6 || !isDigits(v) {
		return "", Errf(ERParamAID, "aid", "want 6 digits")
	}
	return v, nil
}

// JobType returns jb, upper-cased (clients all send upper case; accepting "capture" costs nothing).
// When jb is absent it returns def, or ER051 if def is "": the gateway passes "" (jb is required
// there), hosted pages pass JobCapture. Unknown job types are ER051.
func (p *Params) JobType(def string) (string, error) {
	v := strings.ToUpper(p.value("jb"))
	if v == "" {
		if def == "" {
			return "", Errf(ERParamJob, "jb", "required")
		}
		return def, nil
	}
	switch v {
	case JobCapture, JobAuth, JobCheck, JobSales, JobCancel:
		return v, nil
	}
	return "", Errf(ERParamJob, "jb", "unknown job type")
}

// ReplyType returns rt: ReplyOK (0) or ReplyLine (1). Absent means ReplyLine [D]: a client that
// does not ask for the short reply gets the whole result, from which success is still readable,
// rather than a bare "OK" with nothing to match a kickback against. Anything else is ER052.
func (p *Params) ReplyType() (int, error) {
	switch p.value("rt") {
	case "", "1":
		return ReplyLine, nil
	case "0":
		return ReplyOK, nil
	}
	return 0, Errf(ERParamReply, "rt", "want 0 or 1")
}

// TID returns tid, the gid of an earlier payment: required, 1–32 of [A-Za-z0-9_-] (ER053).
func (p *Params) TID() (string, error) {
	v := p.value("tid")
	if !isIdent(v, 32) {
		return "", Errf(ERParamTID, "tid", "want 1–32 letters or digits")
	}
	return v, nil
}

// ACID returns acid, an auto-charge number: required, 1–32 of [A-Za-z0-9_-] (ER072).
func (p *Params) ACID() (string, error) {
	v := p.value("acid")
	if !isIdent(v, 32) {
		return "", Errf(ERParamACID, "acid", "want 1–32 letters or digits")
	}
	return v, nil
}

// Item returns iid, a product code, or "" when absent; 1–50 of [A-Za-z0-9_-] (ER068).
func (p *Params) Item() (string, error) {
	v := p.value("iid")
	if v == "" {
		return "", nil
	}
	if !isIdent(v, 50) {
		return "", Errf(ERParamItem, "iid", "want up to 50 letters or digits")
	}
	return v, nil
}

// ItemName returns inm: free text, up to 255 characters (ER001 beyond; clients cut it to about 50,
// but nothing says the service did).
func (p *Params) ItemName() (string, error) {
	return p.Str("inm", ERMalformed, 255, false)
}

// Cmd returns cmd, which must be one of allowed (ER069); absent is ER069 too.
func (p *Params) Cmd(allowed ...string) (string, error) {
	v := p.value("cmd")
	for _, a := range allowed {
		if v == a {
			return v, nil
		}
	}
	return "", Errf(ERParamCmd, "cmd", "want one of %v", allowed)
}

// Cod returns the merchant order number, or "" when absent: up to 50 printable ASCII characters,
// no comma and no space (ER054). It is echoed in the result line, which is ASCII and
// comma-separated, so anything else could not be returned faithfully.
func (p *Params) Cod() (string, error) {
	v := p.value("cod")
	if len(v) > 50 {
		return "", Errf(ERParamCod, "cod", "longer than 50 characters")
	}
	for i := 0; i < len(v); i++ {
		if c := v[i]; c <= ' ' || c > '~' || c == ',' {
			return "", Errf(ERParamCod, "cod", "want printable ASCII without commas")
		}
	}
	return v, nil
}

// Amounts returns am, tx and sf, each 0–MaxAmount yen. am is required when requireAm is set (it is
// not when iid gives the amounts) (ER061); tx and sf default to 0 (ER062, ER063).
func (p *Params) Amounts(requireAm bool) (am, tx, sf int64, err error) {
	if am, err = p.Int("am", ERParamAmount, 0, MaxAmount, requireAm); err != nil {
		return 0, 0, 0, err
	}
	if tx, err = p.Int("tx", ERParamTax, 0, MaxAmount, false); err != nil {
		return 0, 0, 0, err
	}
	if sf, err = p.Int("sf", ERParamShipping, 0, MaxAmount, false); err != nil {
		return 0, 0, 0, err
	}
	return am, tx, sf, nil
}

// halfWidth converts what a Japanese IME types in a numeric field to its ASCII form: full-width
// digits ０–９ become 0–9, the full-width plus ＋ becomes '+', and the full-width and ideographic
// spaces and the dashes Japanese input puts in place of a hyphen (－ ‐ ‑ – — ― ー) become ' ' and
// '-' (issue 15 item 2). Applied by the getters of cn, ed, cvv and pn, so every surface (gateway,
// hosted pages, tokens, API) accepts them alike. Anything else is returned unchanged.
func halfWidth(s string) string {
	ascii := true
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			ascii = false
			break
		}
	}
	if ascii {
		return s
	}
	return strings.Map(func(r rune) rune {
		switch {
		case '０' <= r && r <= '９':
			return '0' + (r - '０')
		case r == '＋':
			return '+'
		case r == '\u3000':
			return ' '
		case r == '－', r == '‐', r == '‑', r == '–', r == '—', r == '―', r == 'ー', r == '−':
			return '-'
		}
		return r
	}, s)
}

// digitsValue returns the named value trimmed and in half-width form (halfWidth).
func (p *Params) digitsValue(name string) string {
	return strings.TrimSpace(halfWidth(p.Get(name)))
}

// dropSpacesAndDashes removes the spaces and hyphens people type in card and phone numbers. It
// allocates only when there is one to remove (a strings.Replacer built per call cost ~4 % of a
// payment's CPU).
func dropSpacesAndDashes(v string) string {
	if strings.IndexByte(v, ' ') < 0 && strings.IndexByte(v, '-') < 0 {
		return v
	}
	b := make([]byte, 0, len(v))
	for i := 0; i < len(v); i++ {
		if c := v[i]; c != ' ' && c != '-' {
			b = append(b, c)
		}
	}
	return string(b)
}

// CardNumber returns cn with spaces and hyphens removed (full-width digits, spaces and dashes
// converted first: halfWidth): required, 12–19 digits (ER055). The check digit (ER014) and the brand
// (ER015) are the caller's: they are card rules, not format.
func (p *Params) CardNumber() (string, error) {
	v := dropSpacesAndDashes(p.digitsValue("cn"))
	if len(v) < 12 || len(v) > 19 || !isDigits(v) {
		return "", Errf(ERParamCardNumber, "cn", "want 12–19 digits")
	}
	return v, nil
}

// Expiry returns ed, the card expiry as YYMM: required, 4 digits, month 01–12, and a year no more
// than 20 years after now's (a value further out is almost surely MMYY) (ER056). A past expiry is
// returned as is: whether it is refused, and with which code, is the caller's decision (Expired).
func (p *Params) Expiry(now time.Time) (string, error) {
	v := p.digitsValue("ed")
	if len(v) != 4 || !isDigits(v) {
		return "", Errf(ERParamExpiry, "ed", "want YYMM")
	}
	yy, mm := atoi2(v[:2]), atoi2(v[2:])
	if mm < 1 || mm > 12 {
		return "", Errf(ERParamExpiry, "ed", "want YYMM")
	}
	if 2000+yy > now.Year()+20 {
		return "", Errf(ERParamExpiry, "ed", "year too far ahead (MMYY?)")
	}
	return v, nil
}

func atoi2(s string) int { return int(s[0]-'0')*10 + int(s[1]-'0') }

// Expired reports whether a YYMM expiry lies before now's month: a card is valid through the last
// day of its expiry month, in now's time zone.
func Expired(yymm string, now time.Time) bool {
	if len(yymm) != 4 || !isDigits(yymm) {
		return true
	}
	exp := (2000+atoi2(yymm[:2]))*12 + atoi2(yymm[2:])
	return now.Year()*12+int(now.Month()) > exp
}

// Email returns em, or "" when absent (ER059). The check is deliberately loose on the local part:
// Japanese mobile carriers issued addresses with consecutive or trailing dots, and their owners
// still pay with them.
func (p *Params) Email() (string, error) {
	v := p.value("em")
	if v == "" {
		return "", nil
	}
	if !validEmail(v) {
		return "", Errf(ERParamEmail, "em", "not an e-mail address")
	}
	return v, nil
}

func validEmail(s string) bool {
	if len(s) > 254 {
		return false
	}
	at := strings.LastIndexByte(s, '@')
	if at < 1 || at > 64 || at == len(s)-1 {
		return false
	}
	for i := 0; i < at; i++ {
		c := s[i]
		if c <= ' ' || c > '~' || strings.IndexByte(`,<>"()[];:\@`, c) >= 0 {
			return false
		}
	}
	dom := s[at+1:]
	if !strings.Contains(dom, ".") {
		return false
	}
	for label := range strings.SplitSeq(dom, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !('0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || c == '-') {
				return false
			}
		}
	}
	return true
}

// Phone returns pn with hyphens and spaces removed, or "" when absent: 10–15 digits (10–11 for a
// Japanese number, up to 15 for E.164), optionally after a '+' that is kept (ER060).
func (p *Params) Phone() (string, error) {
	v := p.digitsValue("pn")
	if v == "" {
		return "", nil
	}
	v = dropSpacesAndDashes(v)
	d := strings.TrimPrefix(v, "+")
	if len(d) < 10 || len(d) > 15 || !isDigits(d) {
		return "", Errf(ERParamPhone, "pn", "want 10–15 digits")
	}
	return v, nil
}

// Method returns md in wire form and its number of installments: "10" (lump sum, the default when
// absent) with 0; "61-N" with N, which must be 2–24 (ER065); "80-0" (revolving) with 0. Any other
// value is ER064.
func (p *Params) Method() (md string, installments int, err error) {
	v := p.value("md")
	switch {
	case v == "" || v == MethodLump:
		return MethodLump, 0, nil
	case v == MethodRevolving+"-0":
		return v, 0, nil
	case v == MethodInstallment || strings.HasPrefix(v, MethodInstallment+"-"):
		n, err := strconv.Atoi(strings.TrimPrefix(v, MethodInstallment+"-"))
		if v == MethodInstallment || err != nil || n < 2 || n > 24 || !isDigits(v[3:]) {
			return "", 0, Errf(ERParamInstallments, "md", "want 61-N with N from 2 to 24")
		}
		return v, n, nil
	}
	return "", 0, Errf(ERParamMethod, "md", "want 10, 61-N or 80-0")
}

// HolderNames returns the card holder's names fn and ln: each up to 50 characters of romaji letters,
// spaces, '.', '-' and '\” (ER057, ER058); required on raw-card endpoints.
func (p *Params) HolderNames(required bool) (fn, ln string, err error) {
	if fn, err = p.holderName("fn", ERParamFN, required); err != nil {
		return "", "", err
	}
	if ln, err = p.holderName("ln", ERParamLN, required); err != nil {
		return "", "", err
	}
	return fn, ln, nil
}

func (p *Params) holderName(name string, code Code, required bool) (string, error) {
	v, err := p.Str(name, code, 50, required)
	if err != nil || v == "" {
		return v, err
	}
	for i := 0; i < len(v); i++ {
		c := v[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || c == ' ' || c == '.' || c == '-' || c == '\'') {
			return "", Errf(code, name, "want romaji letters")
		}
	}
	return v, nil
}

// CVV returns the security code: 3 or 4 digits (ER079). Absent gives "" unless required.
func (p *Params) CVV(required bool) (string, error) {
	v := p.digitsValue("cvv")
	if v == "" && !required {
		return "", nil
	}
	if len(v) < 3 || len(v) > 4 || !isDigits(v) {
		return "", Errf(ERParamCVV, "cvv", "want 3 or 4 digits")
	}
	return v, nil
}

// Token returns tkn: required (ER583), 32 letters and digits (ER584), and never together with a
// card number (ER586). Whether the token exists, is unused and unexpired is the caller's check.
func (p *Params) Token() (string, error) {
	if p.value("cn") != "" {
		return "", Errf(ERTokenWithCard, "cn", "card number sent with a token")
	}
	v := p.value("tkn")
	if v == "" {
		return "", Errf(ERTokenMissing, "tkn", "required")
	}
	if len(v) != 32 || !isIdent(v, 32) || strings.ContainsAny(v, "-_") {
		return "", Errf(ERTokenInvalid, "tkn", "want 32 letters or digits")
	}
	return v, nil
}
