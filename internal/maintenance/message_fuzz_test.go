package maintenance

import (
	"errors"
	"testing"
)

// FuzzCustomerMessage feeds operator templates to the customer-message renderer: it never panics,
// and a template it cannot use is an input error, never anything else.
func FuzzCustomerMessage(f *testing.F) {
	for _, s := range []string{"", "{{.Span}} {{.Code}}", "{{.Nope}}", "{{", "{{range .}}{{end}}", "メンテナンス中 {{.Start}}～{{.End}}", "{{printf \"%v\" .}}"} {
		f.Add(s, "ja")
	}
	w, err := WallWindow("2020-07-22", "02:55", "04:30", "")
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, tmpl, lang string) {
		out, err := CustomerMessage(w, lang, tmpl)
		if err != nil && !errors.Is(err, ErrInvalid) {
			t.Fatalf("template %q: %v is not an input error", tmpl, err)
		}
		if err == nil && tmpl == "" && out == "" {
			t.Fatal("default message empty")
		}
	})
}
