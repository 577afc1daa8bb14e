package vault

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestMask(t *testing.T) {
	tests := []struct{ in, want string }{
		{"4111111111111111", "411111******1111"},
		{"4111 1111 1111 1111", "411111******1111"},
		{"4111-1111-1111-1111", "411111******1111"},
		{"378282246310005", "378282*****0005"},
		{"30569309025904", "305693****5904"},
		{"4111111111111", "411111***1111"},
		{"4242424242424242424", "424242*********2424"},
		{"123456789012", "********9012"},
		{"12345", "*2345"},
		{"1234", "****"},
		{"1", "*"},
		{"", ""},
		{" - ", ""},
		{"abc", "***"},
		{"4111x111111111111", "*****************"},
		{"４１１１１１１１１１１１１１１１", strings.Repeat("*", 16)}, // full-width digits are not ASCII digits
		{"\xff\xfe4111111111111111", strings.Repeat("*", 18)},
		{"ほうじ茶", "****"},
		{"4111111111111111\n", strings.Repeat("*", 17)},
		{"12345678901234567890123", "123456*************0123"},
	}
	for _, tt := range tests {
		if got := Mask(tt.in); got != tt.want {
			t.Errorf("Mask(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestLast4First6(t *testing.T) {
	tests := []struct{ in, first6, last4 string }{
		{"4111 1111 1111 1111", "411111", "1111"},
		{"123456789012", "", "9012"},
		{"123", "", ""},
		{"abcd", "", ""},
		{"", "", ""},
	}
	for _, tt := range tests {
		if got := First6(tt.in); got != tt.first6 {
			t.Errorf("First6(%q) = %q, want %q", tt.in, got, tt.first6)
		}
		if got := Last4(tt.in); got != tt.last4 {
			t.Errorf("Last4(%q) = %q, want %q", tt.in, got, tt.last4)
		}
	}
}

func TestBrand(t *testing.T) {
	tests := []struct{ pan, want string }{
		{"4111111111111111", BrandVisa},
		{"4", BrandVisa},
		{"5105105105105100", BrandMaster},
		{"5555555555554444", BrandMaster},
		{"2221000000000009", BrandMaster},
		{"2720990000000000", BrandMaster},
		{"2220990000000000", ""},
		{"2721000000000000", ""},
		{"3530111333300000", BrandJCB},
		{"3528000000000000", BrandJCB},
		{"3589000000000000", BrandJCB},
		{"3590000000000000", ""},
		{"378282246310005", BrandAmex},
		{"341111111111111", BrandAmex},
		{"30569309025904", BrandDiners},
		{"30000000000004", BrandDiners},
		{"30600000000000", ""},
		{"30950000000000", BrandDiners},
		{"36227206271667", BrandDiners},
		{"38520000023237", BrandDiners},
		{"39000000000000", BrandDiners},
		{"6011111111111117", ""},
		{"", ""},
		{"abcd", ""},
		{"35", ""},
	}
	for _, tt := range tests {
		if got := Brand(tt.pan); got != tt.want {
			t.Errorf("Brand(%q) = %q, want %q", tt.pan, got, tt.want)
		}
	}
}

func TestLuhn(t *testing.T) {
	valid := []string{"4111111111111111", "4111 1111 1111 1111", "378282246310005", "30569309025904", "79927398713"}
	invalid := []string{"4111111111111112", "", "0", "abc", "4111x11111111111", "1234567890123456"}
	for _, s := range valid {
		if !Luhn(s) {
			t.Errorf("Luhn(%q) = false, want true", s)
		}
	}
	for _, s := range invalid {
		if Luhn(s) {
			t.Errorf("Luhn(%q) = true, want false", s)
		}
	}
}

func TestNormalizePAN(t *testing.T) {
	tests := []struct {
		in   string
		want string
		ok   bool
	}{
		{"4111 1111-1111 1111", "4111111111111111", true},
		{"123456789012", "123456789012", true},
		{"12345678901", "", false},
		{"12345678901234567890", "", false},
		{"4111111111111111a", "", false},
		{"", "", false},
	}
	for _, tt := range tests {
		got, ok := NormalizePAN(tt.in)
		if got != tt.want || ok != tt.ok {
			t.Errorf("NormalizePAN(%q) = %q, %v; want %q, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

func TestRedact(t *testing.T) {
	tests := []struct{ in, want string }{
		{"cn=4111111111111111&x", "cn=411111******1111&x"},
		{"card 4111 1111 1111 1111 declined", "card 411111******1111 declined"},
		{"card 4111-1111-1111-1111.", "card 411111******1111."},
		{"a4111111111111111b", "a411111******1111b"},
		{"amex 378282246310005, visa 4242424242424242", "amex 378282*****0005, visa 424242******4242"},
		{"order 1234567890123456 shipped", "order 1234567890123456 shipped"}, // fails Luhn
		{"id 41111111111111112222", "id 41111111111111112222"},               // glued to more digits
		{"ts 20260101 1200", "ts 20260101 1200"},
		{"qty 1234 4111 1111 1111 1111", "qty 1234 411111******1111"},
		{"4111  1111 1111 1111", "4111  1111 1111 1111"}, // a double space breaks the group
		{"", ""},
		{"no digits at all", "no digits at all"},
		{"ほうじ茶 4111111111111111", "ほうじ茶 411111******1111"},
	}
	for _, tt := range tests {
		if got := Redact(tt.in); got != tt.want {
			t.Errorf("Redact(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestRedactDoesNotAllocateOnCleanText(t *testing.T) {
	s := "GET /gateway/gateway.aspx aid=123456 cod=ORDER-20260101-0001 am=1000 took 1.2ms"
	n := testing.AllocsPerRun(100, func() { _ = Redact(s) })
	if n != 0 {
		t.Errorf("Redact allocated %v times on text without a card number", n)
	}
}

// maxClearDigits is how many digits any masked output may show: first 6 and last 4.
const maxClearDigits = 10

func countDigits(s string) int {
	n := 0
	for i := 0; i < len(s); i++ {
		if isDigit(s[i]) {
			n++
		}
	}
	return n
}

func FuzzMask(f *testing.F) {
	for _, s := range []string{"4111111111111111", "4111 1111 1111 1111", "", "abc", "12345", "ほうじ茶", "\xff"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		m := Mask(s)
		if c := countDigits(m); c > maxClearDigits {
			t.Fatalf("Mask(%q) = %q shows %d digits", s, m, c)
		}
		if !utf8.ValidString(m) {
			t.Fatalf("Mask(%q) = %q is not valid UTF-8", s, m)
		}
		if d, ok := NormalizePAN(s); ok && len(d) >= 13 && strings.Contains(m, d) {
			t.Fatalf("Mask(%q) = %q contains the number", s, m)
		}
	})
}

// luhnRuns returns the maximal runs of contiguous ASCII digits of 13–19 digits that pass Luhn.
func luhnRuns(s string) []string {
	var runs []string
	for i := 0; i < len(s); {
		if !isDigit(s[i]) {
			i++
			continue
		}
		j := i
		for j < len(s) && isDigit(s[j]) {
			j++
		}
		if n := j - i; n >= 13 && n <= 19 && luhnBytes(s[i:j]) {
			runs = append(runs, s[i:j])
		}
		i = j
	}
	return runs
}

func FuzzRedact(f *testing.F) {
	for _, s := range []string{"cn=4111111111111111&x", "4111 1111 1111 1111", "1234 4111-1111-1111-1111", "order 1234567890123456", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r := Redact(s)
		if runs := luhnRuns(r); len(runs) > 0 {
			t.Fatalf("Redact(%q) = %q still holds card-like run %q", s, r, runs[0])
		}
		if countDigits(r) > countDigits(s) {
			t.Fatalf("Redact(%q) = %q added digits", s, r)
		}
		if len(luhnRuns(s)) == 0 && countDigits(s) < 13 && r != s {
			t.Fatalf("Redact(%q) = %q changed text with too few digits", s, r)
		}
		if utf8.ValidString(s) && !utf8.ValidString(r) {
			t.Fatalf("Redact(%q) = %q broke UTF-8", s, r)
		}
	})
}
