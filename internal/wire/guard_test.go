package wire

import (
	"strings"
	"testing"
)

// JavaSplit is Java's String.split(",") (limit 0): the fields, with trailing empty fields removed.
func javaSplit(s string) []string {
	f := strings.Split(s, ",")
	if len(f) == 1 {
		return f // no separator: Java returns the input itself, even when empty
	}
	for len(f) > 0 && f[len(f)-1] == "" {
		f = f[:len(f)-1]
	}
	return f
}

// phpExplode is PHP's explode(',', $line): every field, empty ones included.
func phpExplode(s string) []string { return strings.Split(s, ",") }

func TestResultLineSurvivesJavaSplit(t *testing.T) {
	cases := []Result{
		{Gid: "1000001", Rst: RstSuccess, Ap: "123456", God: "KS1", Cod: "A-1", Am: 1000, Tx: 100, Ta: 1100},
		{Gid: "1000002", Rst: RstSuccess, Ap: "123456", God: "KS2", Cod: "S-1", Acid: "2000001"}, // am=0 sign-up
		{Gid: "1000003", Rst: RstFailure, Ec: "ER030", Cod: "D-1", Am: 500, Ta: 500},
		{Gid: "1000004", Rst: RstSuccess, Ap: "123456", Cod: "F-1", Am: 1, Ta: 1, Other: EncodeFree([]KV{{"memo", "x"}})},
		{},
	}
	names := []string{"gid", "rst", "ap", "ec", "god", "cod", "am", "tx", "sf", "ta", "id", "ps", "acid", "other"}
	for _, r := range cases {
		line := r.Line()
		j := javaSplit(line)
		// the Java client reads index 13 whenever ec (index 3) is empty
		if len(j) < Columns {
			t.Fatalf("%q: Java's split gives %d fields, the client reads index 13", line, len(j))
		}
		if j[3] == "" {
			if free := j[13]; free != NoFree && free != r.Other {
				t.Errorf("%q: index 13 is %q", line, free)
			}
		}
		// PHP explode: columns 0–13 where wire.md puts them, and no more
		x := phpExplode(line)
		if len(x) != Columns {
			t.Fatalf("%q: explode gives %d columns, want %d", line, len(x), Columns)
		}
		want := map[string]string{"gid": r.Gid, "rst": r.Rst, "ap": r.Ap, "ec": r.Ec, "acid": r.Acid, "cod": r.Cod}
		for i, n := range names {
			if w, ok := want[n]; ok && x[i] != w {
				t.Errorf("%q: column %d (%s) = %q, want %q", line, i, n, x[i], w)
			}
		}
		// what the merchant does with the last column: parse it as a query; "&" holds nothing
		free, err := DecodeFree(x[13])
		if err != nil {
			t.Fatal(err)
		}
		if r.Other == "" && len(free) != 0 {
			t.Errorf("%q: an empty other decodes to %v", line, free)
		}
		back, err := ParseResultLine(line)
		if err != nil || back.Other != r.Other {
			t.Errorf("%q: ParseResultLine other = %q (%v), want %q", line, back.Other, err, r.Other)
		}
	}
}

func TestResultFieldsAreNeverFree(t *testing.T) {
	q := "aid=123456&cod=A&ta=99999&rst=1&gid=FORGED&ap=X&ec=&god=G&acid=9&cv=010&no=1&cu=u&bank=b&exp=20300101" +
		"&mf=1&nk=1&nkd=20300101&RST=1&rst%5B%5D=1&ta[x]=2&cod[]=3&memo=keep&id=42"
	p, err := ParseQuery(q)
	if err != nil {
		t.Fatal(err)
	}
	got := EncodeFree(p.Free())
	if got != "memo=keep&id=42" {
		t.Fatalf("free parameters = %q, want memo=keep&id=42", got)
	}
	if p.Get("ta") != "99999" {
		t.Error("the parameter itself must stay readable (a merchant may send ta): only its echo is dropped")
	}
	stored := "memo=keep&ta=99999&rst=1&gid=FORGED&x=1"
	if d := DropResultFields(stored); d != "memo=keep&x=1" {
		t.Errorf("DropResultFields = %q", d)
	}
	if d := DropResultFields("memo=keep"); d != "memo=keep" {
		t.Errorf("DropResultFields changed a clean query: %q", d)
	}
}

func TestLooksLikeCardNumber(t *testing.T) {
	yes := []string{
		"5555555555554444",
		"4111111111111111",
		"378282246310005",     // Amex, 15
		"3530111333300000",    // JCB
		"36227206271667",      // Diners, 14
		"4222222222222",       // Visa, 13
		"2223000048400011",    // Mastercard 2-series
		"6011111111111117",    // Discover
		"5555 5555 5555 4444", // spaces
		"5555-5555-5555-4444", // hyphens
		"５５５５５５５５５５５５４４４４",           // full-width
		"５５５５　５５５５　５５５５　４４４４",        // full-width with ideographic spaces
		"5555ー5555ー5555ー4444",        // prolonged sound mark typed as a hyphen
		"カード 4111 1111 1111 1111 です", // inside text
		"ORD4111111111111111",        // glued to letters
		"exp 12/28 card 5555555555554444 cvv 123",
		"1 5555 5555 5555 4444", // a card after another group
		"5555 5555 5555 4444 1228",
		"5555 - 5555 - 5555 - 4444",
	}
	for _, s := range yes {
		if !LooksLikeCardNumber(s) {
			t.Errorf("LooksLikeCardNumber(%q) = false", s)
		}
	}
	no := []string{
		"",
		"5555555555554445",             // check digit
		"555555555555444",              // 15 digits, fails Luhn
		"20250101123456",               // a date-time order number (passes Luhn? irrelevant: no card prefix)
		"1735689600000",                // a millisecond timestamp
		"0123456789012345678",          // Kessai's older 19-digit IDs start with 0
		"09012345678",                  // phone
		"41111111111111111111",         // 20 digits glued together: not a card
		"4111.1111.1111.1111",          // dots are not separators
		"ほうじ茶 100g",                    // text
		"ＡＢＣ",                          // full-width letters
		"order 1234, 5678, 9012, 3456", // commas separate fields, not groups
	}
	for _, s := range no {
		if LooksLikeCardNumber(s) {
			t.Errorf("LooksLikeCardNumber(%q) = true", s)
		}
	}
	// every Luhn-passing 16-digit number with a network prefix is caught, whatever its digits
	if !cardLike([]byte("4000000000000002")) || cardLike([]byte("9000000000000008")) {
		t.Error("cardLike prefix rule")
	}
}

func TestCardNumbersRefusedOutsideCn(t *testing.T) {
	base := "aid=123456&jb=CAPTURE&am=1000&cn=5555555555554444&tkn=&tid=4111111111111111&acid=4111111111111111"
	if _, err := ParseQuery(base); err != nil {
		t.Fatalf("a card number in cn (and Kessai IDs in tid/acid) refused: %v", err)
	}
	for _, c := range []struct {
		q    string
		code Code
	}{
		{"cod=5555555555554444", ERParamCod},
		{"em=5555555555554444%40example.com", ERParamEmail},
		{"pn=5555-5555-5555-4444", ERParamPhone},
		{"fn=%EF%BC%95%EF%BC%95%EF%BC%95%EF%BC%95%EF%BC%95%EF%BC%95%EF%BC%95%EF%BC%95%EF%BC%95%EF%BC%95%EF%BC%95%EF%BC%95%EF%BC%94%EF%BC%94%EF%BC%94%EF%BC%94", ERParamFN},
		{"inm=card+5555+5555+5555+4444", ERMalformed},
		{"memo=5555555555554444", ERMalformed},
		{"5555555555554444=x", ERMalformed},
		{"tx=5555555555554444", ERParamTax},
	} {
		_, err := ParseQuery(base + "&" + c.q)
		if CodeOf(err) != c.code {
			t.Errorf("%s: got %v, want %s", c.q, err, c.code)
		}
		if err != nil && strings.Contains(err.Error(), "5555") {
			t.Errorf("%s: the error carries the number: %v", c.q, err)
		}
	}
	// Shift_JIS full-width digits are caught too (decoded before the check), and after Recode
	sj := "aid=123456&memo=" + strings.Repeat("%82%54", 12) + strings.Repeat("%82%53", 4) // ５…５４４４ in CP932
	if _, err := ParseQuery(sj); CodeOf(err) != ERMalformed {
		t.Errorf("Shift_JIS full-width card number: %v", err)
	}
}

// FuzzLooksLikeCardNumber: never panics; anything it finds really holds 13–19 digits; and a real
// card number embedded in arbitrary text between separators is always found.
func FuzzLooksLikeCardNumber(f *testing.F) {
	for _, s := range []string{"", "5555 5555 5555 4444", "abc", "５５５５", "4111-1111-1111-1111", "\xff\xfe", "1 2 3 4 5 6 7 8 9 0 1 2 3"} {
		f.Add(s, "x")
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		got := LooksLikeCardNumber(a)
		if got {
			n := 0
			for i := 0; i < len(a); {
				if _, w := digitAt(a, i); w > 0 {
					n++
					i += w
				} else {
					i++
				}
			}
			if n < 13 {
				t.Fatalf("%q: found a card number in %d digits", a, n)
			}
		}
		// a card between non-digit, non-separator characters is found whatever surrounds it
		s := a + "x5555 5555 5555 4444x" + b
		if !LooksLikeCardNumber(s) {
			t.Fatalf("missed the card in %q", s)
		}
	})
}
