package link_test

import (
	"strings"
	"testing"
	"time"
)

// TestAcceptLanguageWhenNoLang: with no lang from the merchant the hosted page follows the
// browser's Accept-Language (issue 15 item 6); the merchant's lang, when sent, wins; a browser that
// prefers neither language, or none at all, gets Japanese.
func TestAcceptLanguageWhenNoLang(t *testing.T) {
	e := newEnv(t, time.Time{})
	for _, c := range []struct {
		lang, accept, want string
	}{
		{"", "en-US,en;q=0.9", "en"},
		{"", "ja,en-US;q=0.8,en;q=0.7", "ja"},
		{"", "fr-FR,fr;q=0.9,en;q=0.8,ja;q=0.5", "en"},
		{"", "en;q=0.2,ja;q=0.9", "ja"},
		{"", "de-DE", "ja"},
		{"", "", "ja"},
		{"ja", "en-US,en;q=0.9", "ja"},
		{"en", "ja", "en"},
	} {
		form := orderForm()
		if c.lang != "" {
			form.Set("lang", c.lang)
		}
		hdr := map[string]string{}
		if c.accept != "" {
			hdr["Accept-Language"] = c.accept
		}
		a := do(t, e.browser(), "POST", e.srv.URL+"/link/creditcard", form, hdr)
		if a.status != 200 || !strings.Contains(a.body, `<html lang="`+c.want+`"`) {
			t.Errorf("lang=%q Accept-Language %q: status %d, want a %s page", c.lang, c.accept, a.status, c.want)
		}
	}
}
