package console_test

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"kessai/internal/auth"
	"kessai/internal/clock"
	"kessai/internal/notify"
	"kessai/internal/store"
	"kessai/internal/testenv"
	"kessai/internal/testenv/inbox"
)

// TestPasswordResetByEmailAndByOperator (issue 15 item 11): a user who set a reset address asks for
// a link on the sign-in page and gets it through the configured SMTP relay; the link sets a new
// password once (the old one stops working, sessions end); an unknown account gets the same answer
// and no mail; an operator issues a link for a user with no address, with a required reason.
func TestPasswordResetByEmailAndByOperator(t *testing.T) {
	box := inbox.New(t)
	clk := clock.NewFixed(time.Now().Truncate(time.Second))
	srv := testenv.Start(t, testenv.Options{Clock: clk, SMTP: notify.SMTPConfig{Addr: box.Addr, From: "noreply@kessai.example"}})
	e := &env{t: t, srv: srv, clock: clk}
	srv.CreateStore(t, aidA, "テスト商店", nil)
	e.addUser(aidA, "owner", store.RoleAdmin)
	e.addUser(aidA, "clerk", store.RoleViewer)
	hash, _ := auth.HashPassword(passwd)
	if err := srv.DB.CreateOperator(context.Background(), &store.Operator{Login: "ops", PwHash: hash}); err != nil {
		t.Fatal(err)
	}
	// the owner sets a reset address; a wrong one is refused next to the field, keeping the input
	b := e.browser()
	b.mustLogin(aidA, "owner")
	if p := b.submit("/console/password", "/console/password/email", url.Values{"email": {"not-an-address"}}); p.status != http.StatusUnprocessableEntity ||
		!strings.Contains(p.body, `id="email-error"`) || !strings.Contains(p.body, `value="not-an-address"`) {
		t.Fatalf("bad address: %d", p.status)
	}
	if p := b.submit("/console/password", "/console/password/email", url.Values{"email": {"owner@example.jp"}}); p.status != http.StatusSeeOther {
		t.Fatalf("set address: %d", p.status)
	}
	// forgot: an anonymous browser asks
	a := e.browser()
	if p := a.get("/console/login"); !strings.Contains(p.body, `href="/console/password/forgot"`) {
		t.Fatal("the sign-in page does not offer a password reset")
	}
	ask := func(login string) page {
		return a.submit("/console/password/forgot", "/console/password/forgot", url.Values{"aid": {aidA}, "login": {login}})
	}
	unknown := ask("nobody")
	known := ask("owner")
	if unknown.status != 200 || known.status != 200 || !strings.Contains(known.body, `id="forgot-sent"`) ||
		strings.Count(unknown.body, "forgot-sent") != strings.Count(known.body, "forgot-sent") {
		t.Fatalf("answers differ or fail: %d %d", unknown.status, known.status)
	}
	msgs := box.All() // bodies decoded from their transfer encoding
	if len(msgs) != 1 || msgs[0].To != "owner@example.jp" {
		t.Fatalf("reset mails: %d %v", len(msgs), msgs)
	}
	body := msgs[0].Body
	m := regexp.MustCompile(`/console/password/reset\?t=([A-Za-z0-9_-]+)`).FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no link in the mail:\n%s", msgs[0].Body)
	}
	link := "/console/password/reset?t=" + m[1]
	if p := a.get(link); p.status != 200 || !strings.Contains(p.body, `id="reset-form"`) {
		t.Fatalf("reset form: %d", p.status)
	}
	if p := a.submit(link, "/console/password/reset", url.Values{"t": {m[1]}, "new": {"short"}, "confirm": {"short"}}); p.status != http.StatusUnprocessableEntity || !strings.Contains(p.body, "10文字以上") {
		t.Fatalf("short password: %d", p.status)
	}
	newPW := "Brand-new-pass-2026"
	if p := a.submit(link, "/console/password/reset", url.Values{"t": {m[1]}, "new": {newPW}, "confirm": {newPW}}); p.status != 200 {
		t.Fatalf("reset: %d", p.status)
	}
	if p := b.get("/console/"); p.status != http.StatusSeeOther {
		t.Errorf("the owner's old session survived the reset: %d", p.status)
	}
	if p := e.browser().login(aidA, "owner", passwd); p.status == http.StatusSeeOther {
		t.Error("the old password still works")
	}
	if p := e.browser().login(aidA, "owner", newPW); p.status != http.StatusSeeOther {
		t.Errorf("the new password does not work: %d", p.status)
	}
	if p := a.get(link); p.status != http.StatusNotFound || !strings.Contains(p.body, `id="reset-invalid"`) {
		t.Errorf("a used link still works: %d", p.status)
	}
	// by an operator, for the clerk (no address)
	op := e.browser()
	op.operatorLogin()
	clerk, _ := srv.DB.UserByLogin(context.Background(), aidA, "clerk")
	path := "/operator/stores/" + aidA + "/users/" + itoa64(clerk.ID) + "/password-reset"
	if p := op.submit("/operator/stores/"+aidA, path, url.Values{"reason": {""}}); p.status != http.StatusUnprocessableEntity {
		t.Fatalf("operator reset without a reason: %d", p.status)
	}
	p := op.submit("/operator/stores/"+aidA, path, url.Values{"reason": {"電話で本人確認済み"}})
	lm := regexp.MustCompile(`/console/password/reset\?t=([A-Za-z0-9_-]+)`).FindStringSubmatch(p.body)
	if p.status != 200 || lm == nil {
		t.Fatalf("operator reset link: %d", p.status)
	}
	c := e.browser()
	if p := c.submit(lm[0], "/console/password/reset", url.Values{"t": {lm[1]}, "new": {newPW}, "confirm": {newPW}}); p.status != 200 {
		t.Fatalf("clerk reset: %d", p.status)
	}
	if p := e.browser().login(aidA, "clerk", newPW); p.status != http.StatusSeeOther {
		t.Errorf("the clerk's new password does not work: %d", p.status)
	}
	if e.auditCount("user.password.reset-link") != 1 {
		t.Error("the operator's reset is not audited")
	}
}
