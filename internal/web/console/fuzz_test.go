package console

import (
	"bytes"
	"encoding/csv"
	"net/url"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzCSVRow writes customer-supplied text the way the payments export does and reads it back:
// the row keeps its column count, no cell starts a spreadsheet formula, and text survives.
func FuzzCSVRow(f *testing.F) {
	for _, s := range []string{"order-1", "=HYPERLINK(\"http://x\")", "+1", "-2+3", "@SUM(A1)", "a,b\"c", "日本語", "\tx"} {
		f.Add(s, "taro@example.com")
	}
	f.Fuzz(func(t *testing.T, cod, em string) {
		// what can be stored: the wire refuses invalid UTF-8 and control characters (ER001), so
		// no cod or e-mail reaching the export holds them (encoding/csv drops a bare CR)
		for _, s := range []string{cod, em} {
			if !utf8.ValidString(s) || strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) }) {
				return
			}
		}
		var b bytes.Buffer
		w := csv.NewWriter(&b)
		w.UseCRLF = true
		w.Write([]string{"gid", csvSafe(cod), csvSafe(em), "411111******1111"})
		w.Flush()
		rows, err := csv.NewReader(&b).ReadAll()
		if err != nil {
			t.Fatalf("export unreadable: %v", err)
		}
		if len(rows) != 1 || len(rows[0]) != 4 {
			t.Fatalf("row shape %v", rows)
		}
		for _, cell := range rows[0][1:3] {
			if cell != "" && strings.ContainsRune("=+-@\t", rune(cell[0])) {
				t.Fatalf("cell starts a formula: %q", cell)
			}
		}
		if got := rows[0][1]; got != cod && got != "'"+cod {
			t.Fatalf("cod changed: %q -> %q", cod, got)
		}
	})
}

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
