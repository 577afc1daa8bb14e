package wire

import (
	"net/url"
	"testing"
	"unicode/utf8"
)

// FuzzShiftJIS decodes arbitrary bytes posted as a form value under each encoding setting: the
// result is always valid UTF-8 or a clear ER001, never a panic.
func FuzzShiftJIS(f *testing.F) {
	for _, s := range [][]byte{[]byte("ほうじ茶"), {0x82, 0xd9, 0x82, 0xa4, 0x82, 0xb6, 0x92, 0x83}, {0x81}, {0xff, 0xfe}, {0x87, 0x40}} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		q := "aid=123456&inm=" + url.QueryEscape(string(b))
		for _, enc := range []string{EncAuto, EncUTF8, EncShiftJIS} {
			p, err := ParseQuery(q)
			if err != nil {
				if CodeOf(err) == "" {
					t.Fatalf("error without a code: %v", err)
				}
				return
			}
			if err := p.Recode(enc); err != nil {
				if CodeOf(err) != ERMalformed && CodeOf(err) != ERInternal {
					t.Fatalf("recode %s: %v", enc, err)
				}
				continue
			}
			if v := p.Get("inm"); !utf8.ValidString(v) {
				t.Fatalf("%s gave invalid UTF-8 %q", enc, v)
			}
		}
	})
}
