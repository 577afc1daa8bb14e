package console_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

func (e *env) post(path string, v url.Values) string {
	e.t.Helper()
	resp, err := http.PostForm(e.srv.URL+path, v)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return strings.TrimSpace(string(b))
}

// TestPaymentDetailShowsThreeDS: the panel's payment page says what 3-D Secure the card had: a
// token authenticated frictionlessly, one authenticated through the challenge, and a raw card
// without any.
func TestPaymentDetailShowsThreeDS(t *testing.T) {
	e := newEnv(t)
	ed := time.Now().AddDate(3, 0, 0).Format("0601")
	tokenFor := func(cn string) string {
		var m map[string]any
		json.Unmarshal([]byte(e.post("/gateway/token.json", url.Values{"aid": {aidA}, "cn": {cn}, "ed": {ed}, "fn": {"TARO"},
			"ln": {"YAMADA"}, "cvv": {"123"}})), &m)
		tkn, _ := m["token"].(string)
		return tkn
	}
	auth := func(tkn string) map[string]any {
		var m map[string]any
		json.Unmarshal([]byte(e.post("/gateway/3ds/authenticate.json", url.Values{"aid": {aidA}, "tkn": {tkn}, "am": {"1000"},
			"tx": {"0"}, "sf": {"0"}, "em": {"taro@example.com"}})), &m)
		return m
	}
	charge := func(tkn, cod string) string {
		body := e.post("/gateway/gateway_token.aspx", url.Values{"aid": {aidA}, "jb": {"CAPTURE"}, "rt": {"1"}, "cod": {cod},
			"tkn": {tkn}, "em": {"taro@example.com"}, "am": {"1000"}, "tx": {"0"}, "sf": {"0"}})
		cols := strings.Split(body, ",")
		if len(cols) < 14 || cols[1] != "1" {
			t.Fatalf("token charge %s: %q", cod, body)
		}
		return cols[0]
	}
	fr := tokenFor("4111111111111111")
	auth(fr)
	frictionless := charge(fr, "tds-f")
	ch := tokenFor("4000000000003220")
	code := auth(ch)["challenge"].(map[string]any)["sandboxCode"].(string)
	e.post("/gateway/3ds/complete.json", url.Values{"aid": {aidA}, "tkn": {ch}, "otp": {code}, "action": {"authenticate"}})
	challenged := charge(ch, "tds-c")
	raw := e.charge(aidA, "tds-r", "CAPTURE", 1000)

	b := e.browser()
	b.mustLogin(aidA, "owner")
	for gid, want := range map[string]string{frictionless: "認証済み（フリクションレス）", challenged: "認証済み（チャレンジ）", raw: "なし"} {
		p := b.get("/console/payments/" + gid)
		if p.status != 200 || !strings.Contains(p.body, `<dd id="tds">`+want+`</dd>`) {
			i := strings.Index(p.body, `id="tds"`)
			t.Errorf("payment %s: want 3-D Secure %q; page (%d): %.120s", gid, want, p.status, p.body[max(i, 0):])
		}
	}
}

// TestOperatorStoreThreeDSSetting: a store created in the operator console requires 3-D Secure;
// the store page shows the setting and can turn it off (audited); stores that existed before keep
// theirs (off).
func TestOperatorStoreThreeDSSetting(t *testing.T) {
	e := newEnv(t)
	op := e.browser()
	op.operatorLogin()
	if p := op.submit("/operator/stores", "/operator/stores", url.Values{"aid": {"777777"}, "name": {"新規店"}}); p.status >= 400 {
		t.Fatalf("create store: %d", p.status)
	}
	ctx := context.Background()
	st, err := e.srv.DB.GetStore(ctx, "777777")
	if err != nil || !st.Require3DS {
		t.Fatalf("a store created now: %+v %v, want 3-D Secure required", st, err)
	}
	if old, _ := e.srv.DB.GetStore(ctx, aidA); old.Require3DS {
		t.Fatal("a store that existed before was changed")
	}
	page := op.get("/operator/stores/777777")
	if !strings.Contains(page.body, `name="require_3ds" id="require_3ds" checked`) {
		t.Fatalf("the store page does not show the setting on")
	}
	v := url.Values{"name": {"新規店"}, "min_amount": {"1"}, "max_amount": {"9999999"}, "require_cvv": {"on"}, "encoding": {"auto"},
		"kickback_encoding": {"utf-8"}}
	if p := op.submit("/operator/stores/777777", "/operator/stores/777777", v); p.status != http.StatusSeeOther {
		t.Fatalf("update store: %d", p.status)
	}
	if st, _ := e.srv.DB.GetStore(ctx, "777777"); st.Require3DS {
		t.Fatal("unticking 3-D Secure required did not turn it off")
	}
	if e.auditCount("store.update") == 0 {
		t.Fatal("the change is not audited")
	}
}
