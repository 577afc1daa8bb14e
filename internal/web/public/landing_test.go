package public_test

import (
	"io"
	"strings"
	"testing"

	"kessai/internal/testenv"
)

// TestLandingPage: "/" lists the surfaces the start-up banner lists, links that answer; other
// unknown paths stay 404 (issue 15 item 17).
func TestLandingPage(t *testing.T) {
	s := testenv.Start(t, testenv.Options{})
	get := func(path string) (int, string) {
		t.Helper()
		resp, err := testenv.Client.Get(s.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	code, page := get("/")
	if code != 200 {
		t.Fatalf("/ answered %d", code)
	}
	for _, want := range []string{`href="/console/"`, `href="/operator/"`, `href="/maintenance"`, `href="/maintenance.ics"`,
		`href="/api/maintenance"`, `href="/api/openapi.json"`, "/gateway/gateway.aspx", "/link/creditcard", "/api/v1/", "加盟店管理画面", "Merchant control panel"} {
		if !strings.Contains(page, want) {
			t.Errorf("landing page lacks %q", want)
		}
	}
	for _, link := range []string{"/console/", "/operator/", "/maintenance", "/maintenance.ics", "/api/maintenance", "/api/openapi.json", "/healthz"} {
		if code, _ := get(link); code != 200 && code != 303 { // the consoles send a visitor to their sign-in
			t.Errorf("landing link %s answers %d", link, code)
		}
	}
	if code, _ := get("/no-such-page"); code != 404 {
		t.Errorf("/no-such-page answered %d, want 404", code)
	}
}
