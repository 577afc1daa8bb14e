package wire

import (
	"net/url"
	"strings"

	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/japanese"
)

// shouldEscape reports whether url.QueryEscape escapes c.
func shouldEscape(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return false
	case c == '-', c == '_', c == '.', c == '~', c == ' ':
		return false // ' ' becomes '+'
	}
	return true
}

// escapedLen is len(url.QueryEscape(s)), without building it.
func escapedLen(s string) int {
	n := len(s)
	for i := 0; i < len(s); i++ {
		if shouldEscape(s[i]) {
			n += 2
		}
	}
	return n
}

// EncodeFree encodes free parameters in order as "k=v&k2=v2", form-encoded UTF-8: the form they take
// in the result line's last column, which therefore never holds a comma, CR or LF.
func EncodeFree(kv []KV) string {
	n := 0
	for _, p := range kv {
		n += escapedLen(p.K) + escapedLen(p.V) + 2
	}
	var b strings.Builder
	b.Grow(n)
	for i, p := range kv {
		if i > 0 {
			b.WriteByte('&')
		}
		b.WriteString(url.QueryEscape(p.K))
		b.WriteByte('=')
		b.WriteString(url.QueryEscape(p.V))
	}
	return b.String()
}

// DecodeFree is the inverse of EncodeFree, keeping order and empty values. It returns ER001 for
// malformed escapes. Values are taken as UTF-8 (what EncodeFree writes).
func DecodeFree(s string) ([]KV, error) {
	if s == "" {
		return nil, nil
	}
	kv := make([]KV, 0, strings.Count(s, "&")+1)
	for pair := range strings.SplitSeq(s, "&") {
		if pair == "" {
			continue
		}
		k, v, _ := strings.Cut(pair, "=")
		uk, err := url.QueryUnescape(k)
		if err != nil {
			return nil, Errf(ERMalformed, "", "free parameters: %v", err)
		}
		uv, err := url.QueryUnescape(v)
		if err != nil {
			return nil, Errf(ERMalformed, uk, "free parameters: %v", err)
		}
		kv = append(kv, KV{uk, uv})
	}
	return kv, nil
}

// RecodeQuery re-escapes a query written by EncodeFree (UTF-8) for a receiver that wants enc:
// under Shift_JIS (EncShiftJIS or its aliases) each name and value is percent-encoded as its
// CP932 bytes, characters CP932 lacks becoming "?"; any other enc returns s unchanged. A query
// that does not decode is returned unchanged too (it came from EncodeFree, so it always does).
func RecodeQuery(s, enc string) string {
	if n, _ := normEncoding(enc); s == "" || n != EncShiftJIS {
		return s
	}
	kv, err := DecodeFree(s)
	if err != nil {
		return s
	}
	enc2 := encoding.ReplaceUnsupported(japanese.ShiftJIS.NewEncoder())
	var b strings.Builder
	for i, p := range kv {
		if i > 0 {
			b.WriteByte('&')
		}
		k, _ := enc2.String(p.K)
		v, _ := enc2.String(p.V)
		b.WriteString(url.QueryEscape(k))
		b.WriteByte('=')
		b.WriteString(url.QueryEscape(v))
	}
	return b.String()
}
