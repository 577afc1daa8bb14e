package link

import (
	"html/template"
	"strings"
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

// TestPagesWithTextsWritten renders every hosted card page in each language from the set with the
// language's fixed texts written into the templates and from the set that runs {{$.T.key}}, with
// every optional part of the pages shown, and wants the same bytes (render.go, pages).
func TestPagesWithTextsWritten(t *testing.T) {
	for lang := range texts {
		al := &alert{Title: "T<1>", Text: "x & y", Code: "ER001", Note: "n"}
		v := &view{Lang: lang, T: texts[lang], Title: "title", Sandbox: true, TestCards: sandboxCards()[lang], StoreName: "店<s>",
			AltLang: otherLang(lang), AltLangURL: "/link/creditcard/order?o=A&lang=" + otherLang(lang),
			Order:  &orderView{Store: "s", Item: "i<b>", Cod: "W-1", Am: "1", Tx: "2", Sf: "3", Total: "6", TotalLabel: "t", ShowTx: true, ShowSf: true, Check: true},
			Plan:   &planView{Amount: "1", Cycle: "c", First: "f", Trial: "t", TrialCharge: "2", Count: "3", End: "e", Today: "1", StopURL: "https://s.example/stop"},
			Brands: badges([]brandBadge{{Brand: "visa", Name: "Visa"}, {Brand: "jcb", Name: "JCB", Closed: true}}),
			Form: &formView{Session: "S", CSRF: "C", Signed: "D", Alert: al, Errors: map[string]string{"cn": "e1", "ed": "e2", "holder": "e3", "cvv": "e4", "md": "e5"},
				Holder: "H\"", Months: expiryOptions(0, 3), Years: expiryOptions(2026, 29), CVV: true, Methods: options(methods(lang, "10")), Button: "pay",
				NowYYMM: "2605", Closed: "jcb", Accepted: "visa jcb", BrandNotes: []string{"note"}, Plan: true, MsgClosed: map[string]string{"jcb": "closed"}},
			Challenge: &challengeView{Notice: al, Session: "S", CSRF: "C", Card: "4111 11** **** 1111", Total: "1", SandboxCode: "123456", Alert: al},
			Result:    &resultView{Heading: "h", Gid: "1", Card: "c", Total: "1", ReturnURL: "https://s.example/done?x=1", Already: true},
			Processor: &processorView{URL: "https://p.example/3ds", Card: "c", Total: "1"},
		}
		v.Problem = &problemView{Lang: lang, Heading: "h", Text: "t", Code: "ER001", Detail: "d", Hint: "h", BackURL: "https://s.example/back", T: texts[lang], Primary: true,
			Alt: &problemView{Lang: otherLang(lang), Heading: "h2", T: texts[otherLang(lang)]}}
		v.Maint = &maintView{Lang: lang, Lines: []string{"a", "b"}, Code: "ER999", BackURL: "https://s.example/back", T: texts[lang], Primary: true,
			Alt: &maintView{Lang: otherLang(lang), Lines: []string{"c"}, T: texts[otherLang(lang)]}}
		for _, alt := range []bool{false, true} {
			if alt {
				v.AltLangForm, v.AltLangURL = &langForm{Session: "S", Signed: "D"}, ""
			}
			for _, name := range pageNames {
				var written, run strings.Builder
				if err := pages[lang][name].Execute(&written, v); err != nil {
					t.Fatalf("%s %s: %v", lang, name, err)
				}
				if err := pages[""][name].Execute(&run, v); err != nil {
					t.Fatalf("%s %s: %v", lang, name, err)
				}
				if written.String() != run.String() {
					t.Errorf("%s %s: the page with its texts written differs from the page that runs them:\n%s\n---\n%s", lang, name, written.String(), run.String())
				}
				if !strings.Contains(written.String(), template.HTMLEscapeString(texts[lang]["footer"])) {
					t.Errorf("%s %s: no footer text", lang, name)
				}
			}
		}
	}
	// a view whose texts are not its language's own runs them
	v := &view{Lang: "ja", T: texts["en"]}
	if pageFor(v, "form") != pages[""]["form"] {
		t.Error("a view with another language's texts got the Japanese set")
	}
	if pageFor(&view{Lang: "ja", T: texts["ja"]}, "form") != pages["ja"]["form"] || pageFor(&view{Lang: "xx", T: texts["ja"]}, "form") != pages[""]["form"] {
		t.Error("pageFor chose the wrong set")
	}
}
