package wire

import (
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestCheckSignature(t *testing.T) {
	now := time.Unix(1_780_000_000, 0)
	const code = "secret-code"
	ut := strconv.FormatInt(now.Unix(), 10)
	good := Sign(now.Unix(), code)
	tests := []struct {
		name, ut, hak string
		now           time.Time
		ok            bool
	}{
		{"valid", ut, good, now, true},
		{"upper-case hex", ut, strings.ToUpper(good), now, true},
		{"299 s late", ut, good, now.Add(299 * time.Second), true},
		{"300 s early", ut, good, now.Add(-300 * time.Second), true},
		{"301 s late", ut, good, now.Add(301 * time.Second), false},
		{"301 s early", ut, good, now.Add(-301 * time.Second), false},
		{"wrong code", ut, Sign(now.Unix(), "other"), now, false},
		{"signature of other time", ut, Sign(now.Unix()+1, code), now, false},
		{"missing hak", ut, "", now, false},
		{"missing ut", "", good, now, false},
		{"ut not a number", "12a", good, now, false},
		{"ut milliseconds", ut + "000", good, now, false},
		{"short hak", ut, good[:63], now, false},
		{"non-hex hak", ut, "z" + good[1:], now, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckSignature(tt.ut, tt.hak, code, tt.now, 0)
			if tt.ok {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			wantCode(t, err, ERMalformed)
		})
	}
	p := params(t, "aid=123456&ut="+ut+"&hak="+good)
	if err := p.CheckSignature(code, now, time.Minute); err != nil {
		t.Fatal(err)
	}
	wantCode(t, p.CheckSignature(code, now.Add(2*time.Minute), time.Minute), ERMalformed)
}

func TestSignMatchesSpec(t *testing.T) {
	// Computed independently: printf 1700000000abc | sha256sum
	const want = "ac57c53028381abb1ea339e0626dc90526bdb29774c7bb210695dfee66c87175"
	if got := Sign(1700000000, "abc"); got != want {
		t.Fatalf("Sign = %q, want %q", got, want)
	}
}
