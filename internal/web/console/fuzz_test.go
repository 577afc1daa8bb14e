package console

import (
	"bytes"
	"encoding/csv"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"

	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/japanese"

	"kessai/internal/store"
)

// FuzzCSVRow writes customer-supplied text through the payments export's own code (exportWriter
// and csvRecord, UTF-8 and Shift_JIS) and reads it back: the row keeps its column count, no cell
// starts a spreadsheet formula, the card stays masked, and text survives (under Shift_JIS, as
// far as CP932 can hold it).
func FuzzCSVRow(f *testing.F) {
	for _, s := range []string{"order-1", "=HYPERLINK(\"http://x\")", "+1", "-2+3", "@SUM(A1)", "a,b\"c", "日本語", "\tx", "髙橋①"} {
		f.Add(s, "taro@example.com", "09012345678")
	}
	f.Fuzz(func(t *testing.T, cod, em, pn string) {
		// what can be stored: the wire refuses invalid UTF-8 and control characters (ER001), so
		// no stored value holds them (encoding/csv drops a bare CR)
		for _, s := range []string{cod, em, pn} {
			if !utf8.ValidString(s) || strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) }) {
				return
			}
		}
		p := &store.Payment{Gid: "0913533387558420480", Cod: cod, Em: em, Pn: pn, Status: store.StatusCaptured, Job: "CAPTURE", Rst: "1",
			First6: "411111", Last4: "1111", Brand: "VISA", Am: 1000, Ta: 1000}
		for _, sjis := range []bool{false, true} {
			var b bytes.Buffer
			cw, closeCSV := exportWriter(&b, sjis)
			cw.Write(csvHeader("ja"))
			cw.Write(csvRecord(p, "ja"))
			if err := closeCSV(); err != nil {
				t.Fatalf("sjis=%v: %v", sjis, err)
			}
			text := strings.TrimPrefix(b.String(), "\ufeff")
			want := cod
			if sjis {
				dec, err := japanese.ShiftJIS.NewDecoder().String(text)
				if err != nil {
					t.Fatalf("Shift_JIS export does not decode: %v", err)
				}
				text = dec
				// what CP932 can hold of cod: the export writes the rest as '?'
				enc, _ := encoding.ReplaceUnsupported(japanese.ShiftJIS.NewEncoder()).String(cod)
				want, _ = japanese.ShiftJIS.NewDecoder().String(enc)
			}
			rows, err := csv.NewReader(strings.NewReader(text)).ReadAll()
			if err != nil {
				t.Fatalf("sjis=%v: export unreadable: %v", sjis, err)
			}
			if len(rows) != 2 || len(rows[1]) != len(rows[0]) {
				t.Fatalf("sjis=%v: row shape %v", sjis, rows)
			}
			row := rows[1]
			for _, i := range []int{1, 15, 16} { // cod, em, pn
				// the one formula allowed is Excel's inert text form of a digit-only value,
				// ="0312345678" (issue 15 item 9): it computes nothing and keeps every digit
				if c := row[i]; c != "" && strings.ContainsRune("=+-@\t", rune(c[0])) && !excelTextRe.MatchString(c) {
					t.Fatalf("sjis=%v: cell %d starts a formula: %q", sjis, i, c)
				}
			}
			if row[13] != "411111******1111" {
				t.Fatalf("card column %q", row[13])
			}
			if got := row[1]; got != want && got != "'"+want && got != `="`+want+`"` {
				t.Fatalf("sjis=%v: cod changed: %q -> %q", sjis, cod, got)
			}
		}
	})
}

var excelTextRe = regexp.MustCompile(`^="\+?[0-9]+"$`)

// FuzzPaymentFilter parses arbitrary search query strings: never a panic, always either a filter
// for the session's own store or a list of problems.
func FuzzPaymentFilter(f *testing.F) {
	for _, s := range []string{"cod=mine-1", "from=2026-01-01&to=2026-01-31&status=captured", "amount=1000&last4=1111", "gid=' OR 1=1--", "page=-1", "em=%00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, q string) {
		v, err := url.ParseQuery(q)
		if err != nil {
			return
		}
		_, flt, probs := parseFilter(v, "123456", "ja")
		if len(probs) == 0 && flt.AID != "123456" {
			t.Fatalf("filter escaped its store: %+v", flt)
		}
	})
}
