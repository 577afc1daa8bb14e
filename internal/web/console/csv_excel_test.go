package console_test

import (
	"encoding/csv"
	"net/url"
	"strings"
	"testing"
	"time"
)

// TestCSVForExcel (issue 15 item 9): digit-only identifiers — the payment number, order number,
// approval code, a phone number with its leading 0 — are written as Excel text (="…"), so Excel
// keeps every digit; the free parameters are a column of their own; a formula a shopper typed is
// still defused. The file parses with a standard CSV reader, one header and one row per payment.
func TestCSVForExcel(t *testing.T) {
	e := newEnv(t)
	v := url.Values{"aid": {aidA}, "jb": {"CAPTURE"}, "rt": {"1"}, "cod": {"000123"}, "am": {"1000"}, "tx": {"0"}, "sf": {"0"},
		"cn": {"4111111111111111"}, "ed": {time.Now().AddDate(3, 0, 0).Format("0601")}, "cvv": {"123"}, "fn": {"TARO"}, "ln": {"YAMADA"},
		"em": {"taro@example.com"}, "pn": {"0312345678"}, "memo": {"ギフト包装"}, "campaign": {"=HYPERLINK(\"x\")"}}
	body := e.wire(v)
	gid := strings.Split(body, ",")[0]
	b := e.browser()
	b.mustLogin(aidA, "owner")
	p := b.get("/console/payments.csv?cod=000123")
	rows, err := csv.NewReader(strings.NewReader(strings.TrimPrefix(p.body, "\ufeff"))).ReadAll()
	if err != nil || len(rows) != 2 {
		t.Fatalf("csv: %v %d rows\n%s", err, len(rows), p.body)
	}
	head, row := rows[0], rows[1]
	col := func(name string) string {
		for i, h := range head {
			if h == name {
				return row[i]
			}
		}
		t.Fatalf("no column %q in %q", name, head)
		return ""
	}
	if got := col("決済番号"); got != `="`+gid+`"` {
		t.Errorf("payment number %q, want Excel text of %s", got, gid)
	}
	if got := col("電話番号"); got != `="0312345678"` {
		t.Errorf("phone %q", got)
	}
	if got := col("オーダー番号"); got != `="000123"` {
		t.Errorf("order number %q", got)
	}
	free := col("自由項目")
	if !strings.Contains(free, "memo=ギフト包装") || !strings.Contains(free, `campaign==HYPERLINK("x")`) {
		t.Errorf("free parameters %q", free)
	}
	if strings.ContainsAny(free[:1], "=+-@") {
		t.Errorf("the free-parameter cell starts a formula: %q", free)
	}
	if col("金額") != "1000" {
		t.Errorf("amounts stay numbers: %q", col("金額"))
	}
}
