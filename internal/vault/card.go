package vault

import "strings"

// Card brands returned by Brand. They are the spellings the acquirer and the control panel use.
const (
	BrandVisa   = "VISA"
	BrandMaster = "MASTER"
	BrandJCB    = "JCB"
	BrandAmex   = "AMEX"
	BrandDiners = "DINERS"
)

// PAN length limits. ISO/IEC 7812 allows 8–19 digits, but no brand Kessai accepts issues fewer
// than 12, and anything shorter is far more likely a typo than a card.
const (
	MinPANLen = 12
	MaxPANLen = 19
)

// isSep reports the separators people and forms put inside card numbers.
func isSep(c byte) bool { return c == ' ' || c == '-' }

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// stripSeps removes spaces and hyphens. It returns s itself when there are none, so the common
// case does not allocate.
func stripSeps(s string) string {
	if strings.IndexByte(s, ' ') < 0 && strings.IndexByte(s, '-') < 0 {
		return s
	}
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		if !isSep(s[i]) {
			b = append(b, s[i])
		}
	}
	return string(b)
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) {
			return false
		}
	}
	return len(s) > 0
}

// NormalizePAN removes spaces and hyphens and reports whether what remains is 12–19 ASCII digits.
// It does not check the Luhn digit: a wrong check digit has its own wire code (ER014), so callers
// test Luhn separately.
func NormalizePAN(s string) (string, bool) {
	d := stripSeps(s)
	if len(d) < MinPANLen || len(d) > MaxPANLen || !allDigits(d) {
		return "", false
	}
	return d, true
}

// Luhn reports whether pan (spaces and hyphens ignored) is at least two digits long and its check
// digit is right. Any other character makes it false.
func Luhn(pan string) bool {
	d := stripSeps(pan)
	if len(d) < 2 || !allDigits(d) {
		return false
	}
	return luhnBytes(d)
}

// luhnBytes runs the check over ASCII digits; generic so Redact's scratch buffer needs no copy.
func luhnBytes[T string | []byte](d T) bool {
	sum := 0
	double := false
	for i := len(d) - 1; i >= 0; i-- {
		n := int(d[i] - '0')
		if double {
			n *= 2
			if n > 9 {
				n -= 9
			}
		}
		sum += n
		double = !double
	}
	return sum%10 == 0
}

// MaskStored renders a stored card's kept digits (first 6, last 4) the way Mask renders a full
// number: 411111******1111; with only the last 4 known, ************1111; nothing known, "". Every
// page, export and log line that shows a stored card goes through it or Mask.
func MaskStored(first6, last4 string) string {
	switch {
	case first6 == "" && last4 == "":
		return ""
	case first6 == "":
		return "************" + last4
	}
	return first6 + "******" + last4
}

// Mask is the one masking helper used wherever a card number could be shown or logged. After
// removing spaces and hyphens, a number of 13 digits or more keeps its first 6 and last 4 digits
// (411111******1111: what PCI DSS allows to be displayed); a shorter number keeps only its last 4,
// and 4 digits or fewer are hidden entirely. Anything that is not purely digits is garbage that
// might still hide a number, so every character becomes '*'. Mask never panics and its result never
// holds more than 10 digits.
func Mask(pan string) string {
	d := stripSeps(pan)
	if d == "" {
		return ""
	}
	if !allDigits(d) {
		n := 0
		for range d { // count runes: a multi-byte character is still one character
			n++
		}
		return strings.Repeat("*", n)
	}
	n := len(d)
	b := make([]byte, n)
	for i := range b {
		b[i] = '*'
	}
	switch {
	case n >= 13:
		copy(b, d[:6])
		copy(b[n-4:], d[n-4:])
	case n > 4:
		copy(b[n-4:], d[n-4:])
	}
	return string(b)
}

// Last4 returns the last four digits of a card number (spaces and hyphens ignored), or "" when the
// input is not a number of at least 4 digits.
func Last4(pan string) string {
	d := stripSeps(pan)
	if len(d) < 4 || !allDigits(d) {
		return ""
	}
	return d[len(d)-4:]
}

// First6 returns the first six digits (the issuer identification number) of a card number of 13
// digits or more, or "" otherwise: for shorter numbers the first six and last four would reveal
// nearly everything, which Mask does not allow either.
func First6(pan string) string {
	d := stripSeps(pan)
	if len(d) < 13 || !allDigits(d) {
		return ""
	}
	return d[:6]
}

// Brand tells the card brand from the number's leading digits (spaces and hyphens ignored), or ""
// when the number belongs to none of the brands Kessai knows. The ranges are the public IIN ranges:
// Visa 4; Mastercard 51–55 and 2221–2720; JCB 3528–3589; American Express 34 and 37; Diners Club
// 300–305, 3095, 36, 38 and 39.
func Brand(pan string) string {
	d := stripSeps(pan)
	if len(d) < 4 || !allDigits(d[:4]) {
		if len(d) >= 1 && d[0] == '4' {
			return BrandVisa
		}
		return ""
	}
	p2 := atoiN(d, 2)
	p3 := atoiN(d, 3)
	p4 := atoiN(d, 4)
	switch {
	case d[0] == '4':
		return BrandVisa
	case p2 >= 51 && p2 <= 55, p4 >= 2221 && p4 <= 2720:
		return BrandMaster
	case p4 >= 3528 && p4 <= 3589:
		return BrandJCB
	case p2 == 34, p2 == 37:
		return BrandAmex
	case p3 >= 300 && p3 <= 305, p4 == 3095, p2 == 36, p2 == 38, p2 == 39:
		return BrandDiners
	}
	return ""
}

// atoiN reads the first n digits of d, which the caller has checked are digits.
func atoiN(d string, n int) int {
	v := 0
	for i := 0; i < n; i++ {
		v = v*10 + int(d[i]-'0')
	}
	return v
}

// span is one run of digits inside a string, [start, end).
type span struct{ start, end int }

// Redact is the safety net applied to every log line: it replaces each card number it finds in s
// with its Mask. A card number here is a sequence of 13–19 digits that passes Luhn, either
// contiguous or in groups joined by single spaces or hyphens ("4111 1111 1111 1111"), starting and
// ending at group boundaries. Digits glued to other digits never form a candidate on their own, so a
// 20-digit ID is left alone, and so is an order number whose check digit fails. Text without a
// candidate is returned as is, without allocating.
func Redact(s string) string {
	var out []byte // nil until the first replacement
	copied := 0    // s[:copied] is already in out
	var buf [8]span
	var digits [MaxPANLen]byte
	i := 0
	for i < len(s) {
		if !isDigit(s[i]) {
			i++
			continue
		}
		// A group: digit chunks joined by exactly one separator.
		chunks := buf[:0]
		total := 0
		for {
			st := i
			for i < len(s) && isDigit(s[i]) {
				i++
			}
			chunks = append(chunks, span{st, i})
			total += i - st
			if i+1 < len(s) && isSep(s[i]) && isDigit(s[i+1]) {
				i++
				continue
			}
			break
		}
		if total < 13 {
			continue
		}
		// Leftmost-longest: from each chunk, the longest run of whole chunks that is a card number.
		for a := 0; a < len(chunks); {
			best := -1
			n := 0
			for b := a; b < len(chunks); b++ {
				l := chunks[b].end - chunks[b].start
				if n+l > MaxPANLen {
					break
				}
				n += copy(digits[n:], s[chunks[b].start:chunks[b].end])
				if n >= 13 && luhnBytes(digits[:n]) {
					best = b
				}
			}
			if best < 0 {
				a++
				continue
			}
			if out == nil {
				out = make([]byte, 0, len(s))
			}
			st, en := chunks[a].start, chunks[best].end
			out = append(out, s[copied:st]...)
			out = append(out, Mask(s[st:en])...)
			copied = en
			a = best + 1
		}
	}
	if out == nil {
		return s
	}
	out = append(out, s[copied:]...)
	return string(out)
}
