package wire

import (
	"bytes"
	"net/url"
	"strings"
	"unicode/utf8"

	"golang.org/x/text/encoding/japanese"
)

// Convenience-store and bank-transfer payments (wire.md §8). The provider's codes for these
// refusals were never observed; Kessai's assignment [D] lives here and in docs/wire.md.
const (
	ERChain         Code = "ER160" // cv: unknown chain, or a chain the store does not take
	ERChainLimit    Code = "ER161" // total above the chain's limit (Seven-Eleven 300,000, others 500,000)
	ERParamKana     Code = "ER162" // na: customer name in full-width katakana
	ERParamTransfer Code = "ER163" // nmf: transfer name in full-width katakana
	ERParamPostal   Code = "ER164" // po: postal code
	ERNotContracted Code = "ER165" // the store is not contracted for this payment method
	ERSlipExpired   Code = "ER166" // the payment deadline passed (expiry notice; a slip no longer payable)
)

func init() {
	descs[ERChain] = desc{"コンビニ(cv)の指定が正しくありません", "unknown or unavailable convenience-store chain (cv)"}
	descs[ERChainLimit] = desc{"コンビニの支払上限額を超えています", "amount above the chain's limit"}
	descs[ERParamKana] = desc{"お名前(カナ)が正しくありません", "invalid customer name in katakana (na)"}
	descs[ERParamTransfer] = desc{"振込名義(カナ)が正しくありません", "invalid transfer name in katakana (nmf)"}
	descs[ERParamPostal] = desc{"郵便番号が正しくありません", "invalid postal code (po)"}
	descs[ERNotContracted] = desc{"この決済方法はご契約がありません", "payment method not contracted for this store"}
	descs[ERSlipExpired] = desc{"お支払期限を過ぎています", "payment deadline passed"}
}

// NonCardParam reports whether name is one of the non-card request parameters (pt, na, cv, nmf,
// po) or a non-card result field (cv, no, cu, bank, exp, mf, nk, nkd): never a free parameter,
// so a shopper cannot forge what a merchant's handler reads.
func NonCardParam(name string) bool {
	switch name {
	case "pt", "na", "cv", "nmf", "po", "no", "cu", "bank", "exp", "mf", "nk", "nkd",
		"gid", "rst", "ap", "ec", "god", "ta":
		return true
	}
	return false
}

// NonCardFree is p's free parameters without the non-card names (NonCardParam).
func NonCardFree(p *Params) []KV {
	var out []KV
	for _, kv := range p.Free() {
		if !NonCardParam(kv.K) {
			out = append(out, kv)
		}
	}
	return out
}

// smallKana are the small katakana a bank transfer name cannot hold (banks print them large).
const smallKana = "ァィゥェォッャュョヮヵヶ"

// Kana checks a name in full-width katakana: spaces (half- or full-width) are ignored, the long
// vowel mark ー is allowed, small kana (ャュョッ …) are refused as banks do. It returns the name
// without its spaces; code names the parameter's error.
func Kana(v string, code Code, field string, maxRunes int) (string, error) {
	var b strings.Builder
	n := 0
	for _, r := range v {
		switch {
		case r == ' ' || r == '\u3000':
			continue
		case strings.ContainsRune(smallKana, r):
			return "", Errf(code, field, "small katakana %q is not allowed", string(r))
		case (r >= 'ア' && r <= 'ヴ') || r == 'ー':
		default:
			return "", Errf(code, field, "only full-width katakana allowed")
		}
		b.WriteRune(r)
		n++
	}
	if n == 0 {
		return "", Errf(code, field, "required")
	}
	if n > maxRunes {
		return "", Errf(code, field, "longer than %d characters", maxRunes)
	}
	return b.String(), nil
}

// Postal checks a postal code: 7 digits, an optional hyphen after the third; empty is allowed.
func Postal(v string) (string, error) {
	v = strings.TrimSpace(v)
	if v == "" {
		return "", nil
	}
	d := strings.Replace(v, "-", "", 1)
	if len(d) != 7 || !isDigits(d) || (len(v) == 8 && v[3] != '-') {
		return "", Errf(ERParamPostal, "po", "postal code must be 7 digits")
	}
	return d, nil
}

// CVSColumn is the cvs2.aspx line's column 12: cv=…&no=…&cu=… in that order, cu URL-encoded
// (the provider's module splits it by position).
func CVSColumn(cv, no, cu string) string {
	return "cv=" + url.QueryEscape(cv) + "&no=" + url.QueryEscape(no) + "&cu=" + url.QueryEscape(cu)
}

// CVSLine is the cvs2.aspx result line: the result with column 12 = CVSColumn.
func CVSLine(r Result, cv, no, cu string) []byte {
	r.Acid = CVSColumn(cv, no, cu)
	return r.AppendLine(nil)
}

// BankLine is the bank.aspx result line: column 12 the seven-field bank string as Shift_JIS
// bytes (the module converts it from SJIS), column 13 the deadline YYYYMMDD. The line is built by
// AppendLine with column 12 empty and the bytes put in afterwards, so it keeps AppendLine's
// shape. Shift_JIS never uses ',' as a byte, so the columns stay where they are.
func BankLine(r Result, bank, exp string) []byte {
	r.Acid, r.Other = "", exp
	line := r.AppendLine(nil)
	sj, err := japanese.ShiftJIS.NewEncoder().Bytes([]byte(bank))
	if err != nil || !utf8.ValidString(bank) {
		sj = []byte(bank)
	}
	at, commas := -1, 0
	for i, c := range line {
		if c == ',' {
			if commas++; commas == 12 {
				at = i + 1
				break
			}
		}
	}
	if at < 0 || bytes.IndexByte(sj, ',') >= 0 {
		return line
	}
	out := make([]byte, 0, len(line)+len(sj))
	out = append(out, line[:at]...)
	out = append(out, sj...)
	return append(out, line[at:]...)
}
