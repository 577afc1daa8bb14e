package link

import (
	"testing"

	"kessai/internal/store"
)

func TestTextsComplete(t *testing.T) {
	for k := range texts["ja"] {
		if texts["en"][k] == "" {
			t.Errorf("%q has no English text", k)
		}
	}
	for k := range texts["en"] {
		if texts["ja"][k] == "" {
			t.Errorf("%q has no Japanese text", k)
		}
	}
}

func TestYen(t *testing.T) {
	for _, tc := range []struct {
		lang string
		n    int64
		want string
	}{{"ja", 0, "0円"}, {"ja", 2678, "2,678円"}, {"ja", 1234567, "1,234,567円"}, {"en", 999, "¥999"}, {"en", 1000, "¥1,000"}, {"ja", -1500, "-1,500円"}} {
		if got := yen(tc.lang, tc.n); got != tc.want {
			t.Errorf("yen(%s, %d) = %q, want %q", tc.lang, tc.n, got, tc.want)
		}
	}
}

func TestReturnURL(t *testing.T) {
	p := &store.Payment{Gid: "123", Rst: "1", Ap: "ABC123", God: "KS1", Cod: "W-1", Am: 1000, Tx: 100, Ta: 1100, Free: "acting=x&memo=a%26b"}
	for _, tc := range []struct{ base, want string }{
		{"", ""},
		{"javascript:alert(1)", ""},
		{"/relative", ""},
		{"https://shop.example.jp/done", "https://shop.example.jp/done?gid=123&rst=1&ap=ABC123&ec=&god=KS1&cod=W-1&am=1000&tx=100&sf=0&ta=1100&acting=x&memo=a%26b"},
		{"https://shop.example.jp/done?x=1#top", "https://shop.example.jp/done?x=1&gid=123&rst=1&ap=ABC123&ec=&god=KS1&cod=W-1&am=1000&tx=100&sf=0&ta=1100&acting=x&memo=a%26b#top"},
	} {
		if got := ReturnURL(tc.base, p); got != tc.want {
			t.Errorf("ReturnURL(%q) = %q, want %q", tc.base, got, tc.want)
		}
	}
}

func TestOriginAllowed(t *testing.T) {
	st := &store.Store{AllowOrigins: []string{"https://shop.example.jp", "http://127.0.0.1:8080/"}}
	for o, want := range map[string]bool{
		"https://shop.example.jp":     true,
		"https://shop.example.jp:443": true,
		"http://127.0.0.1:8080":       true,
		"https://evil.example.com":    false,
		"http://shop.example.jp":      false,
		"":                            false,
	} {
		if got := originAllowed(st, o); got != want {
			t.Errorf("originAllowed(%q) = %v", o, got)
		}
	}
	if !originAllowed(&store.Store{}, "") {
		t.Error("a store without an allow-list refused a request")
	}
}
