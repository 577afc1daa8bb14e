package console_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// TestRefundCheckedBeforeConfirmation (issue 15 item 10): a refund above what is refundable is
// refused on the first step, before any confirmation page, saying how much can be refunded; a
// refund of an authorization says to cancel it instead; nothing is changed.
func TestRefundCheckedBeforeConfirmation(t *testing.T) {
	e := newEnv(t)
	gid := e.charge(aidA, "rf-1", "CAPTURE", 1200)
	auth := e.charge(aidA, "rf-2", "AUTH", 500)
	b := e.browser()
	b.mustLogin(aidA, "owner")
	p := b.submit("/console/payments/"+gid, "/console/payments/"+gid+"/refund", url.Values{"amount": {"5000"}})
	if p.status != http.StatusUnprocessableEntity || !strings.Contains(p.body, "返金できるのは 1,200 円までです") || strings.Contains(p.body, `name="confirm"`) {
		t.Fatalf("over-refund: %d\n%.2000s", p.status, p.body)
	}
	p = b.submit("/console/payments/"+auth, "/console/payments/"+auth+"/refund", url.Values{"amount": {"100"}})
	if p.status != http.StatusUnprocessableEntity || !strings.Contains(p.body, "取消") {
		t.Fatalf("refund of an authorization: %d", p.status)
	}
	// within the refundable amount the confirmation page comes as before
	if p := b.submit("/console/payments/"+gid, "/console/payments/"+gid+"/refund", url.Values{"amount": {"200"}}); p.status != 200 || !strings.Contains(p.body, `name="confirm"`) {
		t.Fatalf("refund within the amount: %d", p.status)
	}
	if pay := e.payment(aidA, gid); pay.Refunded != 0 {
		t.Fatalf("refunded %d without a confirmation", pay.Refunded)
	}
}

// TestDateRangeAndWording (issue 15 item 10): a from date after the to date is said, not answered
// with an empty list; the password rule reads "10文字以上".
func TestDateRangeAndWording(t *testing.T) {
	e := newEnv(t)
	e.charge(aidA, "dr-1", "CAPTURE", 100)
	b := e.browser()
	b.mustLogin(aidA, "owner")
	p := b.get("/console/payments?from=2030-01-10&to=2030-01-01")
	if !strings.Contains(p.body, "開始日が終了日より後になっています") {
		t.Errorf("from > to is not said:\n%.2000s", p.body)
	}
	for _, path := range []string{"/console/users", "/console/password"} {
		if p := b.get(path); !strings.Contains(p.body, "10文字以上") || strings.Contains(p.body, "文字以上: 10") {
			t.Errorf("%s: the password rule does not read 10文字以上", path)
		}
	}
}

// TestSettingsErrorsNextToFields (issue 15 item 10): a refused settings form shows each problem
// next to its field and keeps everything that was typed, the wrong values included; nothing is
// saved.
func TestSettingsErrorsNextToFields(t *testing.T) {
	e := newEnv(t)
	b := e.browser()
	b.mustLogin(aidA, "owner")
	form := url.Values{"result_url": {"ftp://shop.example.jp/r"}, "completion_url": {"https://shop.example.jp/done"},
		"allow_ips": {"203.0.113.10\n999.1.1.1"}, "notify_email": {"shop@example.jp"}}
	for _, br := range []string{"VISA", "JCB"} {
		form.Set("brand_"+br, "on")
	}
	p := b.submit("/console/settings", "/console/settings", form)
	if p.status != http.StatusUnprocessableEntity {
		t.Fatalf("status %d", p.status)
	}
	for _, want := range []string{`id="result_url-error"`, `id="allow_ips-error"`, `value="ftp://shop.example.jp/r"`,
		`value="https://shop.example.jp/done"`, "203.0.113.10\n999.1.1.1", `value="shop@example.jp"`} {
		if !strings.Contains(p.body, want) {
			t.Errorf("refused settings form lacks %q", want)
		}
	}
	i, j := strings.Index(p.body, `id="result_url"`), strings.Index(p.body, `id="result_url-error"`)
	if i < 0 || j < i || j-i > 400 {
		t.Error("the result URL's error is not next to its field")
	}
	if st, _ := e.srv.DB.GetStore(t.Context(), aidA); st.CompletionURL == "https://shop.example.jp/done" {
		t.Error("a refused form saved a field")
	}
}

// TestAmountsWithTheirUnit (issue 15 item 10): amounts carry their unit in the page's language on
// the list, the detail and the dashboard; list cells are labelled for the phone layout.
func TestAmountsWithTheirUnit(t *testing.T) {
	e := newEnv(t)
	gid := e.charge(aidA, "yen-1", "CAPTURE", 1200)
	b := e.browser()
	b.mustLogin(aidA, "owner")
	for _, path := range []string{"/console/payments", "/console/payments/" + gid, "/console/"} {
		if p := b.get(path); !strings.Contains(p.body, "1,200円") {
			t.Errorf("%s: no 1,200円", path)
		}
	}
	if p := b.get("/console/payments"); !strings.Contains(p.body, `data-label="合計"`) {
		t.Error("list cells carry no labels for the phone layout")
	}
	b.submit("/console/", "/console/lang", url.Values{"lang": {"en"}, "next": {"/console/payments"}})
	if p := b.get("/console/payments"); !strings.Contains(p.body, "¥1,200") {
		t.Error("English list: no ¥1,200")
	}
}
