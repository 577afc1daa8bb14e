package gateway_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"kessai/internal/store"
	"kessai/internal/testenv"
	"kessai/internal/wire"
)

// javaSplit is Java's String.split(","): trailing empty fields are dropped.
func javaSplit(s string) []string {
	f := strings.Split(s, ",")
	if len(f) == 1 {
		return f
	}
	for len(f) > 0 && f[len(f)-1] == "" {
		f = f[:len(f)-1]
	}
	return f
}

// rawGet sends a GET with the query exactly as given (built by concatenation, not URL-encoded, as
// the provider's EC-CUBE module does) and returns the body.
func rawGet(t testing.TB, base, path, query string) string {
	t.Helper()
	resp, err := testenv.Client.Get(base + path + "?" + query)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s answered HTTP %d", path, resp.StatusCode)
	}
	return strings.TrimSpace(string(b))
}

func postTo(t testing.TB, base, path string, v url.Values) string {
	t.Helper()
	resp, err := testenv.Client.PostForm(base+path, v)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return strings.TrimSpace(string(b))
}

// apiToken makes a card token through the token API, as CPToken.js does.
func apiToken(t testing.TB, base, cn string) string {
	t.Helper()
	var m map[string]any
	body := postTo(t, base, "/gateway/token.json", url.Values{"aid": {aid}, "cn": {cn}, "ed": {exp()}, "fn": {"TARO"},
		"ln": {"YAMADA"}, "cvv": {"123"}})
	if err := json.Unmarshal([]byte(body), &m); err != nil || m["resultCode"] != "Success" {
		t.Fatalf("token API: %s", body)
	}
	return m["token"].(string)
}

func tokenCharge(tkn, cod string, kv ...string) url.Values {
	v := url.Values{"aid": {aid}, "jb": {"CAPTURE"}, "rt": {"1"}, "cod": {cod}, "tkn": {tkn}, "em": {"taro@example.com"},
		"pn": {"0312345678"}, "am": {"1000"}, "tx": {"100"}, "sf": {"0"}}
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] == "<del>" {
			v.Del(kv[i])
		} else {
			v.Set(kv[i], kv[i+1])
		}
	}
	return v
}

// TestFollowUpsWithReplyLineECCUBE: the provider's EC-CUBE module sends SALES and CANCEL with rt=1
// by GET, its query concatenated without URL-encoding, splits the body on "," and reads column 1
// (rst) and column 3 (ec): success is rst=1; "already captured" is ER032, a refused cancel ER033.
// rt=0 keeps answering OK / ER:ERnnn (wire.md §3.2).
func TestFollowUpsWithReplyLineECCUBE(t *testing.T) {
	s := testenv.Start(t, testenv.Options{})
	s.CreateStore(t, aid, "テスト商店", nil)
	a := line(t, post(t, s.URL, charge("ec-1", "jb", "AUTH")))
	if a.Rst != "1" {
		t.Fatalf("AUTH: %+v", a)
	}
	// what the module does: $url = $gateway."?aid=".$aid."&jb=SALES&rt=1&tid=".$tid."&am=".$am…
	eccube := func(jb string) []string {
		q := "aid=" + aid + "&jb=" + jb + "&rt=1&tid=" + a.Gid + "&am=1000&tx=100&sf=0"
		body := rawGet(t, s.URL, "/gateway/gateway.aspx", q)
		cols := strings.Split(body, ",")
		if len(cols) < 4 {
			t.Fatalf("%s rt=1 answered %q, not a result line", jb, body)
		}
		return cols
	}
	for i, step := range []struct{ jb, rst, ec string }{
		{"SALES", "1", ""}, {"SALES", "2", "ER032"}, {"CANCEL", "1", ""}, {"CANCEL", "2", "ER033"}, {"SALES", "2", "ER032"},
	} {
		cols := eccube(step.jb)
		if cols[1] != step.rst || cols[3] != step.ec {
			t.Fatalf("step %d %s: rst=%q ec=%q, want rst=%s ec=%q (line %q)", i, step.jb, cols[1], cols[3], step.rst, step.ec,
				strings.Join(cols, ","))
		}
		r := line(t, strings.Join(cols, ","))
		if r.Gid != a.Gid || r.Cod != "ec-1" || r.Ta != 1100 {
			t.Fatalf("step %d: the line is not that payment's: %+v", i, r)
		}
	}
	p, err := s.DB.GetPayment(context.Background(), aid, a.Gid)
	if err != nil || p.Status != store.StatusRefunded || p.Captured != 1100 || p.Refunded != 1100 {
		t.Fatalf("payment after SALES and CANCEL: %+v %v", p, err)
	}
	// rt=0 stays the short answer
	if got := post(t, s.URL, url.Values{"aid": {aid}, "jb": {"SALES"}, "rt": {"0"}, "tid": {a.Gid}}); got != "ER:ER032" {
		t.Fatalf("SALES rt=0 after CANCEL: %q", got)
	}
	b := line(t, post(t, s.URL, charge("ec-2", "jb", "AUTH")))
	if got := post(t, s.URL, url.Values{"aid": {aid}, "jb": {"SALES"}, "rt": {"0"}, "tid": {b.Gid}}); got != "OK" {
		t.Fatalf("SALES rt=0: %q", got)
	}
	// an unknown tid with rt=1 is a refused job, said in the line
	cols := strings.Split(rawGet(t, s.URL, "/gateway/gateway.aspx", "aid="+aid+"&jb=CANCEL&rt=1&tid=999"), ",")
	if len(cols) != wire.Columns || cols[1] != "2" || cols[3] != "ER033" {
		t.Fatalf("CANCEL rt=1 of an unknown tid: %q", strings.Join(cols, ","))
	}
}

// TestFollowUpParametersValidated: every parameter a follow-up job takes is checked with its code,
// before anything happens to the payment (issue 14 item 7).
func TestFollowUpParametersValidated(t *testing.T) {
	s := testenv.Start(t, testenv.Options{})
	s.CreateStore(t, aid, "テスト商店", nil)
	a := line(t, post(t, s.URL, charge("fv-1", "jb", "AUTH")))
	for _, c := range []struct {
		kv   []string
		want string
	}{
		{[]string{"jb", "SALES", "tx", "abc"}, "ER:ER062"},
		{[]string{"jb", "SALES", "am", "abc"}, "ER:ER061"},
		{[]string{"jb", "SALES", "am", "-5"}, "ER:ER061"},
		{[]string{"jb", "SALES", "am", "0"}, "ER:ER061"},
		{[]string{"jb", "SALES", "sf", "1.5"}, "ER:ER063"},
		{[]string{"jb", "SALES", "rt", "2"}, "ER:ER052"},
		{[]string{"jb", "SALES", "tid", "12;34"}, "ER:ER053"},
		{[]string{"jb", "SALES", "tid", ""}, "ER:ER053"},
		{[]string{"jb", "CANCEL", "tx", "abc"}, "ER:ER062"},
		{[]string{"jb", "CANCEL", "am", "1,000"}, "ER:ER061"},
		{[]string{"jb", "SALES", "rt", "1", "sf", "x"}, "ER:ER063"},
	} {
		v := url.Values{"aid": {aid}, "rt": {"0"}, "tid": {a.Gid}}
		for i := 0; i+1 < len(c.kv); i += 2 {
			v.Set(c.kv[i], c.kv[i+1])
		}
		if got := post(t, s.URL, v); got != c.want {
			t.Errorf("%v: got %q, want %q", c.kv, got, c.want)
		}
	}
	p, _ := s.DB.GetPayment(context.Background(), aid, a.Gid)
	if p.Status != store.StatusAuthorized {
		t.Fatalf("a refused follow-up changed the payment: %s", p.Status)
	}
	// the same payment, properly asked, is captured for the amount given
	if got := post(t, s.URL, url.Values{"aid": {aid}, "jb": {"SALES"}, "rt": {"0"}, "tid": {a.Gid}, "am": {"700"}, "tx": {"70"}}); got != "OK" {
		t.Fatalf("SALES: %q", got)
	}
	if p, _ := s.DB.GetPayment(context.Background(), aid, a.Gid); p.Captured != 770 {
		t.Fatalf("captured %d, want 770", p.Captured)
	}
}

// TestResultLinesSurviveJavaSplit: every result line Kessai answers — a charge, a decline, an
// auto-charge sign-up, a CHECK, a token charge, a one-touch charge, a follow-up — keeps 14 fields
// under Java's String.split(",") (which drops trailing empty fields; the Java client reads index 13
// whenever ec is empty), while PHP's explode(',') finds columns 0–13 where wire.md §3.1 puts them.
func TestResultLinesSurviveJavaSplit(t *testing.T) {
	s := testenv.Start(t, testenv.Options{})
	s.CreateStore(t, aid, "テスト商店", nil)
	auth := line(t, post(t, s.URL, charge("js-auth", "jb", "AUTH")))
	tkn := apiToken(t, s.URL, "5555555555554444")
	lines := map[string]string{
		"CAPTURE":  post(t, s.URL, charge("js-1")),
		"declined": post(t, s.URL, charge("js-2", "cn", "4000000000000002")),
		"sign-up (am=0)": post(t, s.URL, charge("js-3", "am", "0", "tx", "0", "sf", "0", "actp", "4", "acam", "1500",
			"actx", "150", "acsf", "0", "ac1", "99")),
		"CHECK":      post(t, s.URL, charge("js-4", "jb", "CHECK", "am", "0", "tx", "0", "sf", "0")),
		"token":      postTo(t, s.URL, "/gateway/gateway_token.aspx", tokenCharge(tkn, "js-5")),
		"one-touch":  postTo(t, s.URL, "/gateway/onetouch.aspx", url.Values{"aid": {aid}, "rt": {"1"}, "cod": {"js-6"}, "em": {"taro@example.com"}, "pn": {"0312345678"}, "am": {"500"}, "cmd": {"1"}}),
		"SALES rt=1": rawGet(t, s.URL, "/gateway/gateway.aspx", "aid="+aid+"&jb=SALES&rt=1&tid="+auth.Gid),
		"free":       post(t, s.URL, charge("js-7", "order_ref", "77")),
	}
	for what, l := range lines {
		j := javaSplit(l)
		if len(j) < wire.Columns {
			t.Errorf("%s: Java's split gives %d fields, the client reads index 13: %q", what, len(j), l)
			continue
		}
		x := strings.Split(l, ",") // PHP explode
		if len(x) != wire.Columns {
			t.Errorf("%s: explode gives %d columns: %q", what, len(x), l)
			continue
		}
		if x[1] != "1" && x[1] != "2" || (x[1] == "1") != (x[3] == "") {
			t.Errorf("%s: rst %q / ec %q at columns 1 and 3: %q", what, x[1], x[3], l)
		}
		if j[3] == "" && j[13] == "" {
			t.Errorf("%s: index 13 empty", what)
		}
	}
	if x := strings.Split(lines["sign-up (am=0)"], ","); x[12] == "" || x[13] != "&" {
		t.Errorf("sign-up: acid at column 12 and an empty other written '&': %q", lines["sign-up (am=0)"])
	}
	if x := strings.Split(lines["free"], ","); x[13] != "order_ref=77" {
		t.Errorf("free parameters at column 13: %q", lines["free"])
	}
	if r := line(t, lines["one-touch"]); r.Rst != "1" {
		t.Errorf("one-touch: %+v", r)
	}
}

// TestZeroYenCheck: a CHECK charges nothing, so gateway.aspx and gateway_token.aspx take am=0 or no
// amount at all (README, wire.md §2.1), below the store's minimum; it never captures anything.
func TestZeroYenCheck(t *testing.T) {
	s := testenv.Start(t, testenv.Options{})
	s.CreateStore(t, aid, "テスト商店", nil)
	tk1, tk2 := apiToken(t, s.URL, "4111111111111111"), apiToken(t, s.URL, "5555555555554444")
	for what, body := range map[string]string{
		"am=0":             post(t, s.URL, charge("ck-1", "jb", "CHECK", "am", "0", "tx", "0", "sf", "0")),
		"no amount":        post(t, s.URL, charge("ck-2", "jb", "CHECK", "am", "<del>", "tx", "<del>", "sf", "<del>")),
		"token, am=0":      postTo(t, s.URL, "/gateway/gateway_token.aspx", tokenCharge(tk1, "ck-3", "jb", "CHECK", "am", "0", "tx", "0")),
		"token, no amount": postTo(t, s.URL, "/gateway/gateway_token.aspx", tokenCharge(tk2, "ck-4", "jb", "CHECK", "am", "<del>", "tx", "<del>", "sf", "<del>")),
	} {
		r, err := wire.ParseResultLine(body)
		if err != nil || r.Rst != "1" || r.Ec != "" || r.Ta != 0 {
			t.Errorf("CHECK with %s: %q", what, body)
			continue
		}
		p, err := s.DB.GetPayment(context.Background(), aid, r.Gid)
		if err != nil || p.Status != store.StatusChecked || p.Captured != 0 {
			t.Errorf("CHECK with %s recorded %+v %v", what, p, err)
		}
	}
	// a card the network refuses still fails the check; a CAPTURE still needs its amount
	if r := line(t, post(t, s.URL, charge("ck-5", "jb", "CHECK", "am", "0", "cn", "4000000000000002"))); r.Ec != "ER031" {
		t.Errorf("declined CHECK: %+v", r)
	}
	if got := post(t, s.URL, charge("ck-6", "am", "<del>")); got != "ER:ER061" {
		t.Errorf("CAPTURE without am: %q", got)
	}
	if got := post(t, s.URL, charge("ck-7", "am", "0", "tx", "0")); got != "ER:ER017" {
		t.Errorf("CAPTURE of 0 yen: %q", got)
	}
}

// TestResultFieldsNeverEchoed: a shopper (or a form) adding gid, rst, ap, ta… gets none of them
// echoed: not stored with the payment, not in the kickback, not in column 13 (wire.md §2.4). They
// are dropped silently, so a shop that sends its own ta keeps working.
func TestResultFieldsNeverEchoed(t *testing.T) {
	rcv := newReceiver(t)
	s := testenv.Start(t, testenv.Options{})
	s.CreateStore(t, aid, "テスト商店", func(st *store.Store) { st.ResultURL = rcv.srv.URL + "/kb" })
	forged := []string{"ta", "99999", "rst", "1", "gid", "FORGED", "ap", "X", "ec", "", "god", "G", "acid", "1", "cv", "010",
		"no", "1", "cu", "u", "bank", "b", "exp", "20300101", "mf", "1", "nk", "1", "nkd", "20300101", "RST", "1", "ta[]", "7",
		"memo", "keep"}
	if got := post(t, s.URL, charge("rf-1", append([]string{"rt", "0"}, forged...)...)); got != "OK" {
		t.Fatalf("rt=0 with forged fields: %q", got)
	}
	_, hdr := rcv.wait(t, 20*time.Second, func(v url.Values) bool { return v.Get("cod") == "rf-1" })
	raw := hdr.Get("X-Test-Raw-Query")
	q, _ := url.ParseQuery(raw)
	for _, n := range []string{"gid", "rst", "ap", "ec", "god", "ta"} {
		if len(q[n]) != 1 {
			t.Errorf("kickback carries %s %d times: %s", n, len(q[n]), raw)
		}
	}
	for _, n := range []string{"cv", "no", "cu", "bank", "exp", "mf", "nk", "nkd", "acid", "ta[]", "RST"} {
		if q.Has(n) {
			t.Errorf("kickback echoes %s: %s", n, raw)
		}
	}
	if q.Get("gid") == "FORGED" || q.Get("ta") != "1100" || q.Get("memo") != "keep" {
		t.Errorf("kickback values: %s", raw)
	}
	// rt=1: column 13 holds only the real free parameter, and so does the payment
	l := line(t, post(t, s.URL, charge("rf-2", forged...)))
	if l.Other != "memo=keep" || l.Ta != 1100 {
		t.Errorf("result line %+v", l)
	}
	p, _ := s.DB.GetPayment(context.Background(), aid, l.Gid)
	if p.Free != "memo=keep" {
		t.Errorf("stored free parameters %q", p.Free)
	}
}

// TestCardNumbersInTextRefused: a card number in any text field other than cn is refused with the
// field's code before anything is stored, on every gateway endpoint and the token API; afterwards
// the number is nowhere in the data directory.
func TestCardNumbersInTextRefused(t *testing.T) {
	const pan = "5555555555554444"
	s := testenv.Start(t, testenv.Options{})
	s.CreateStore(t, aid, "テスト商店", nil)
	for _, c := range []struct {
		path string
		v    url.Values
		want string
	}{
		{"/gateway/gateway.aspx", charge(pan), "ER:ER054"},
		{"/gateway/gateway.aspx", charge("ORD-" + pan), "ER:ER054"},
		{"/gateway/gateway.aspx", charge("cn-2", "inm", "カード "+pan), "ER:ER001"},
		{"/gateway/gateway.aspx", charge("cn-3", "em", pan+"@example.com"), "ER:ER059"},
		{"/gateway/gateway.aspx", charge("cn-4", "pn", "5555-5555-5555-4444"), "ER:ER060"},
		{"/gateway/gateway.aspx", charge("cn-5", "fn", "５５５５５５５５５５５５４４４４"), "ER:ER057"},
		{"/gateway/gateway.aspx", charge("cn-6", "memo", "5555 5555 5555 4444"), "ER:ER001"},
		{"/gateway/gateway.aspx", charge("cn-7", "memo", "５５５５－５５５５－５５５５－４４４４"), "ER:ER001"},
		{"/gateway/gateway.aspx", charge("cn-8", pan, "1"), "ER:ER001"},
		{"/gateway/gateway.aspx", charge("cn-9", "jb", "AUTH", "rt", "0", "memo", pan), "ER:ER001"},
		{"/gateway/gateway_token.aspx", tokenCharge("A123456789012345678901234567890B", "cn-10", "memo", pan), "ER:ER001"},
		{"/gateway/onetouch.aspx", url.Values{"aid": {aid}, "cod": {"cn-11"}, "em": {"taro@example.com"}, "pn": {"0312345678"},
			"am": {"500"}, "inm": {pan}}, "ER:ER001"},
		{"/gateway/gateway.aspx", url.Values{"aid": {aid}, "jb": {"SALES"}, "tid": {"1"}, "cod": {pan}}, "ER:ER054"},
	} {
		if got := postTo(t, s.URL, c.path, c.v); got != c.want {
			t.Errorf("%s %v: got %q, want %q", c.path, c.v, got, c.want)
		}
	}
	// the token API refuses it in its own shape (problem+json) before a token is made
	body := postTo(t, s.URL, "/gateway/token.json", url.Values{"aid": {aid}, "cn": {"4111111111111111"}, "ed": {exp()},
		"fn": {"TARO"}, "ln": {"YAMADA"}, "cvv": {"123"}, "memo": {pan}})
	if !strings.Contains(body, `"ER001"`) || strings.Contains(body, `"token"`) {
		t.Errorf("token API with a card number in a free parameter: %s", body)
	}
	// an ordinary order (numeric order number that is no card) still passes
	if r := line(t, post(t, s.URL, charge("20250101123456", "memo", "1735689600000"))); r.Rst != "1" {
		t.Errorf("a date-time order number was refused: %+v", r)
	}
	s.Stop()
	if testenv.Postgres() {
		var n int
		s2 := testenv.Start(t, testenv.Options{Store: &s.Config, VaultKey: s.Key})
		s2.DB.QueryRow(context.Background(), `SELECT COUNT(*) FROM payments WHERE cod LIKE '%5555%' OR free LIKE '%5555%' OR inm LIKE '%5555%' OR em LIKE '%5555%'`).Scan(&n)
		if n != 0 {
			t.Errorf("%d payments hold the number", n)
		}
		return
	}
	var found []string
	filepath.WalkDir(s.Config.DataDir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			b, _ := os.ReadFile(p)
			if bytes.Contains(b, []byte(pan)) || bytes.Contains(b, []byte("5555 5555 5555 4444")) {
				found = append(found, filepath.Base(p))
			}
		}
		return nil
	})
	if len(found) > 0 {
		t.Errorf("the card number sent in text fields is stored in %v", found)
	}
}

// TestFullWidthDigitsOnTheServer: card number, expiry, CVV and phone typed in 全角 (what an IME gives)
// are charged as their half-width form on the gateway, the token API and the token gateway; the
// payment stores the normalized phone and never the number in clear (issue 15 item 2).
func TestFullWidthDigitsOnTheServer(t *testing.T) {
	s := testenv.Start(t, testenv.Options{})
	s.CreateStore(t, aid, "テスト商店", nil)
	z := strings.NewReplacer("0", "０", "1", "１", "2", "２", "3", "３", "4", "４", "5", "５", "6", "６", "7", "７", "8", "８", "9", "９").Replace
	r := line(t, post(t, s.URL, charge("fw-1", "cn", z("4111 1111 1111 1111"), "ed", z(exp()), "cvv", z("123"), "pn", z("090")+"－"+z("1234-5678"))))
	if r.Rst != "1" || r.Ec != "" {
		t.Fatalf("full-width card charge: %+v", r)
	}
	p, err := s.DB.GetPayment(context.Background(), aid, r.Gid)
	if err != nil {
		t.Fatal(err)
	}
	if p.Pn != "09012345678" {
		t.Errorf("stored phone %q, want 09012345678", p.Pn)
	}
	tk := apiToken(t, s.URL, z("5555555555554444"))
	if r := line(t, postTo(t, s.URL, "/gateway/gateway_token.aspx", tokenCharge(tk, "fw-2"))); r.Rst != "1" {
		t.Errorf("token from a full-width number: %+v", r)
	}
	// still a format error when the full-width text is not a card number
	if got := post(t, s.URL, charge("fw-3", "cn", z("4111")+"x"+z("111111111111"))); got != "ER:ER055" {
		t.Errorf("full-width non-number: %q", got)
	}
}
