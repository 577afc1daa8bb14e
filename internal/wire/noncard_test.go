package wire

import (
	"strings"
	"testing"

	"golang.org/x/text/encoding/japanese"
)

// TestNonCardLines: the cvs2.aspx and bank.aspx lines read the way the provider's EC-CUBE module
// reads them (split by ",", column 12 by "&" and "=" by position; bank column 12 from Shift_JIS).
func TestNonCardLines(t *testing.T) {
	r := Result{Gid: "1000000000000001", Rst: "1", Ap: "CPL_PRE", God: "KS0000000001", Cod: "c-1", Am: 2000, Tx: 200, Ta: 2200, Other: "memo=m1"}
	line := string(CVSLine(r, "010", "1000000000001", "https://k.example/link/slip/1?k=a,b"))
	cols := strings.Split(line, ",")
	if len(cols) < 14 || cols[12] != "cv=010&no=1000000000001&cu=https%3A%2F%2Fk.example%2Flink%2Fslip%2F1%3Fk%3Da%2Cb" || cols[13] != "memo=m1" {
		t.Fatalf("cvs line %q", line)
	}
	r.Ap = "BANK"
	bank := "0999.ケッサイ銀行.700.サンドボックス支店.普通.0000001.カ）ケッサイ"
	b := BankLine(r, bank, "20260324")
	bc := strings.Split(string(b), ",")
	if len(bc) < 14 || strings.TrimSpace(bc[13]) != "20260324" || bc[2] != "BANK" {
		t.Fatalf("bank line %q", b)
	}
	got, err := japanese.ShiftJIS.NewDecoder().String(bc[12])
	if err != nil || got != bank {
		t.Fatalf("bank column decodes to %q (%v)", got, err)
	}
}
