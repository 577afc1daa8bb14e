package wire

import (
	"strings"
	"unicode/utf8"
)

// ResultField reports whether name is the name of a field Kessai itself writes into a kickback, a
// browser return link or a result line (wire.md §2.4, §3, §8): gid, rst, ap, ec, god, ta, acid, the
// convenience-store and bank-transfer fields cv, no, cu, bank, exp, mf, nk, nkd, and the parameters
// that are Known (cod, am, …). Such a name is never a free parameter: merchants' handlers read the
// first or the last value of a name (PHP's $_GET takes the last), so an echoed rst=1 or ta=…
// forged by a shopper would be believed. A name is compared up to its first '[' as well, because
// PHP and Rack read "rst[]" or "rst[x]" as rst.
//
// Such a parameter is dropped silently, not refused [D]: real integrations send some of these names
// themselves (a shop posting its own ta, or a form that round-trips a previous gid), and refusing
// them would break those shops for no gain — the value is simply never echoed.
func ResultField(name string) bool {
	if i := strings.IndexByte(name, '['); i >= 0 {
		name = name[:i]
	}
	switch strings.ToLower(strings.TrimSpace(name)) {
	case "gid", "rst", "ap", "ec", "god", "ta", "acid", "cv", "no", "cu", "bank", "exp", "mf", "nk", "nkd":
		return true
	}
	return false
}

// reservedName reports a name that can never be a free parameter: a result field, or (through its
// PHP-style base name) one of Kessai's own parameters.
func reservedName(name string) bool {
	if ResultField(name) {
		return true
	}
	if i := strings.IndexByte(name, '['); i >= 0 {
		return Known(name[:i])
	}
	return false
}

// DropResultFields removes result-field names (ResultField) from free parameters encoded by
// EncodeFree. New payments never store such a name (Params.Free drops them); this keeps payments
// recorded before that rule from echoing one in a kickback resend, a return link or column 13. It
// returns s unchanged when nothing is dropped (or s does not decode).
func DropResultFields(s string) string {
	if s == "" {
		return s
	}
	kv, err := DecodeFree(s)
	if err != nil {
		return s
	}
	out := kv[:0]
	for _, p := range kv {
		if !reservedName(p.K) {
			out = append(out, p)
		}
	}
	if len(out) == len(kv) {
		return s
	}
	return EncodeFree(out)
}

// noCardScan lists the parameters whose values are not checked for card numbers: the card number
// itself, and Kessai's own identifiers and signatures, which are not text a person typed and are
// never stored as such (tokens and hak are random letters and hex digits, tid/acid are Kessai's
// IDs, some of them issued before IDs were made to fail the check digit, ut is a timestamp).
func noCardScan(name string) bool {
	switch name {
	case "cn", "tkn", "tid", "acid", "hak", "ut", "mailauthckey":
		return true
	}
	return ResultField(name) // dropped, never stored
}

// refuseCardNumbers refuses a card number (LooksLikeCardNumber) in any parameter name or value other
// than cn (wire.md §2.1, issue 14): it would otherwise be stored in clear in the payment, shown in the
// panel, exported and sent in the kickback. The code is the field's own (ER054 cod, ER059 em, ER060
// pn, ER057/ER058 fn/ln, ER061–ER063 amounts, …: ParamCode) and ER001 for fields without one (inm,
// free parameters). The error never carries the value.
func (p *Params) refuseCardNumbers() error {
	for _, f := range p.fields {
		if noCardScan(f.name) {
			continue
		}
		if LooksLikeCardNumber(f.name) {
			return Errf(ERMalformed, "", "a parameter name looks like a card number")
		}
		if LooksLikeCardNumber(f.val) {
			return Errf(ParamCode(f.name), f.name, "looks like a card number; card numbers belong in cn only")
		}
	}
	return nil
}

// LooksLikeCardNumber reports whether s holds something that would be a card number if it were one:
// 13–19 digits (ASCII or full-width ０–９) that pass the check digit (Luhn) and start like a card of
// a payment network (2200–2204, 2221–2720, or 3, 4, 5, 6: Mir, Mastercard, JCB, Amex, Diners, Visa,
// Discover, UnionPay…), either contiguous or in groups separated by spaces, hyphens or dashes (ASCII
// or full-width, the ideographic space, the katakana prolonged sound mark that Japanese input often
// puts in place of a hyphen). A candidate starts and ends at a group boundary: digits glued to
// more digits never form one, so a 20-digit ID is not a card number.
//
// The network prefix is a deliberate narrowing [D]: numbers merchants put in order numbers and
// free parameters are mostly dates (20250101123456), millisecond timestamps (1735689600000),
// Japanese phone numbers (0…) and Kessai's own older IDs (0…); one in ten of each passes Luhn, and
// none of them starts like a card.
func LooksLikeCardNumber(s string) bool {
	// fast path: fewer than 13 digits of any kind cannot hold a card number
	n := 0
	for i := 0; i < len(s); i++ {
		if c := s[i]; '0' <= c && c <= '9' || c == 0xEF { // 0xEF starts ０–９ (U+FF10–U+FF19)
			n++
		}
	}
	if n < 13 {
		return false
	}
	var dbuf [64]byte
	var gbuf [16]int
	i := 0
	for i < len(s) {
		d, w := digitAt(s, i)
		if w == 0 {
			_, sz := utf8.DecodeRuneInString(s[i:])
			i += sz
			continue
		}
		// a run: groups of digits joined by separators
		digits, groups := dbuf[:0], gbuf[:0]
		for {
			start := len(digits)
			for w > 0 {
				digits = append(digits, d)
				i += w
				d, w = digitAt(s, i)
			}
			groups = append(groups, len(digits)-start)
			// separators, then another digit group?
			j := i
			for j < len(s) {
				sw := sepAt(s, j)
				if sw == 0 {
					break
				}
				j += sw
			}
			if j == i {
				break
			}
			if d2, w2 := digitAt(s, j); w2 > 0 {
				i, d, w = j, d2, w2
				continue
			}
			break
		}
		if runHasCard(digits, groups) {
			return true
		}
	}
	return false
}

// runHasCard looks for a card number made of whole consecutive groups of a run.
func runHasCard(d []byte, groups []int) bool {
	off := 0
	for a := 0; a < len(groups); a++ {
		n := 0
		for b := a; b < len(groups); b++ {
			n += groups[b]
			if n > 19 {
				break
			}
			if n >= 13 && cardLike(d[off:off+n]) {
				return true
			}
		}
		off += groups[a]
	}
	return false
}

// cardLike reports 13–19 digits with a payment network's prefix and a right check digit.
func cardLike(d []byte) bool {
	p4 := int(d[0]-'0')*1000 + int(d[1]-'0')*100 + int(d[2]-'0')*10 + int(d[3]-'0')
	switch {
	case d[0] >= '3' && d[0] <= '6':
	case p4 >= 2200 && p4 <= 2204, p4 >= 2221 && p4 <= 2720:
	default:
		return false
	}
	sum, double := 0, false
	for i := len(d) - 1; i >= 0; i-- {
		n := int(d[i] - '0')
		if double {
			if n *= 2; n > 9 {
				n -= 9
			}
		}
		sum += n
		double = !double
	}
	return sum%10 == 0
}

// digitAt returns the ASCII digit at s[i] (ASCII or full-width) and its width in bytes, or 0.
func digitAt(s string, i int) (byte, int) {
	if i >= len(s) {
		return 0, 0
	}
	if c := s[i]; '0' <= c && c <= '9' {
		return c, 1
	}
	// ０–９ are U+FF10–U+FF19: EF BC 90 – EF BC 99
	if i+2 < len(s) && s[i] == 0xEF && s[i+1] == 0xBC && s[i+2] >= 0x90 && s[i+2] <= 0x99 {
		return '0' + (s[i+2] - 0x90), 3
	}
	return 0, 0
}

// sepAt returns the width of a separator at s[i], or 0.
func sepAt(s string, i int) int {
	switch s[i] {
	case ' ', '-':
		return 1
	case '.', '/', ',', '_', '*':
		return 0
	}
	if s[i] < utf8.RuneSelf {
		return 0
	}
	r, w := utf8.DecodeRuneInString(s[i:])
	switch r {
	case '\u3000', // ideographic space
		'\uFF0D',                                                   // full-width hyphen-minus
		'\u2010', '\u2011', '\u2012', '\u2013', '\u2014', '\u2015', // hyphens and dashes
		'\u2212', // minus sign
		'\u30FC', // katakana prolonged sound mark, typed for a hyphen
		'\uFF70', // half-width prolonged sound mark
		'\u00A0': // no-break space
		return w
	}
	return 0
}
