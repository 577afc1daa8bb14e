package gateway_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf8"

	"golang.org/x/text/encoding/japanese"

	"kessai/internal/notify"
	"kessai/internal/store"
	"kessai/internal/testenv"
	"kessai/internal/wire"
)

const aid = "123456"

func exp() string { return time.Now().AddDate(3, 0, 0).Format("0601") }

func charge(cod string, kv ...string) url.Values {
	v := url.Values{"aid": {aid}, "jb": {"CAPTURE"}, "rt": {"1"}, "cod": {cod}, "cn": {"4111111111111111"}, "ed": {exp()},
		"fn": {"YAMADA"}, "ln": {"TARO"}, "cvv": {"123"}, "em": {"taro@example.com"}, "pn": {"0312345678"},
		"am": {"1000"}, "tx": {"100"}, "sf": {"0"}}
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] == "<del>" {
			v.Del(kv[i])
		} else {
			v.Set(kv[i], kv[i+1])
		}
	}
	return v
}

func post(t testing.TB, base string, v url.Values) string {
	t.Helper()
	resp, err := testenv.Client.PostForm(base+"/gateway/gateway.aspx", v)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("gateway answered HTTP %d", resp.StatusCode)
	}
	b, _ := io.ReadAll(resp.Body)
	return strings.TrimSpace(string(b))
}

func line(t testing.TB, body string) wire.Result {
	t.Helper()
	r, err := wire.ParseResultLine(body)
	if err != nil {
		t.Fatalf("not a result line: %q (%v)", body, err)
	}
	return r
}

// receiver is a kickback endpoint that can be down.
type receiver struct {
	mu   sync.Mutex
	hits []url.Values
	hdr  []http.Header
	down atomic.Bool
	srv  *httptest.Server
}

func newReceiver(t testing.TB) *receiver {
	r := &receiver{}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if r.down.Load() {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		r.mu.Lock()
		r.hits = append(r.hits, req.URL.Query())
		h := req.Header.Clone()
		h.Set("X-Test-Raw-Query", req.URL.RawQuery)
		r.hdr = append(r.hdr, h)
		r.mu.Unlock()
		w.Write([]byte("OK"))
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) wait(t testing.TB, d time.Duration, pred func(url.Values) bool) (url.Values, http.Header) {
	t.Helper()
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		r.mu.Lock()
		for i, h := range r.hits {
			if pred(h) {
				hd := r.hdr[i]
				r.mu.Unlock()
				return h, hd
			}
		}
		r.mu.Unlock()
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("no matching kickback within %s", d)
	return nil, nil
}

func (r *receiver) count(pred func(url.Values) bool) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, h := range r.hits {
		if pred(h) {
			n++
		}
	}
	return n
}

func TestAuthSalesCancelFlow(t *testing.T) {
	s := testenv.Start(t, testenv.Options{})
	s.CreateStore(t, aid, "テスト商店", nil)
	a := line(t, post(t, s.URL, charge("flow-1", "jb", "AUTH")))
	if a.Rst != "1" || a.Ec != "" || len(a.Ap) != 6 || a.Ta != 1100 || a.Cod != "flow-1" {
		t.Fatalf("AUTH result: %+v", a)
	}
	steps := []struct{ jb, want string }{{"SALES", "OK"}, {"SALES", "ER:ER032"}, {"CANCEL", "OK"}, {"CANCEL", "ER:ER033"}}
	for _, st := range steps {
		got := post(t, s.URL, url.Values{"aid": {aid}, "jb": {st.jb}, "rt": {"0"}, "tid": {a.Gid}})
		if got != st.want {
			t.Fatalf("%s: got %q, want %q", st.jb, got, st.want)
		}
	}
	p, err := s.DB.GetPayment(context.Background(), aid, a.Gid)
	if err != nil || p.Status != store.StatusRefunded || p.Refunded != 1100 {
		t.Fatalf("payment after SALES+CANCEL: %+v %v", p, err)
	}
	// AUTH then CANCEL is a void; a SALES after it fails.
	v := line(t, post(t, s.URL, charge("flow-2", "jb", "AUTH")))
	if got := post(t, s.URL, url.Values{"aid": {aid}, "jb": {"CANCEL"}, "tid": {v.Gid}}); got != "OK" {
		t.Fatalf("void: %q", got)
	}
	if got := post(t, s.URL, url.Values{"aid": {aid}, "jb": {"SALES"}, "tid": {v.Gid}}); got != "ER:ER032" {
		t.Fatalf("SALES after void: %q", got)
	}
	// partial capture
	pc := line(t, post(t, s.URL, charge("flow-3", "jb", "AUTH")))
	if got := post(t, s.URL, url.Values{"aid": {aid}, "jb": {"SALES"}, "tid": {pc.Gid}, "am": {"500"}}); got != "OK" {
		t.Fatalf("partial SALES: %q", got)
	}
	p, _ = s.DB.GetPayment(context.Background(), aid, pc.Gid)
	if p.Captured != 500 {
		t.Fatalf("captured %d, want 500", p.Captured)
	}
	// unknown tid
	if got := post(t, s.URL, url.Values{"aid": {aid}, "jb": {"CANCEL"}, "tid": {"999"}}); got != "ER:ER033" {
		t.Fatalf("CANCEL of unknown tid: %q", got)
	}
}

func TestTestCardOutcomes(t *testing.T) {
	s := testenv.Start(t, testenv.Options{})
	s.CreateStore(t, aid, "テスト商店", nil)
	cases := []struct {
		card, cvv, rst, ec string
	}{
		{"4111111111111111", "123", "1", ""},
		{"4444333322221111", "123", "1", ""},
		{"5555555555554444", "123", "1", ""},
		{"3530111333300000", "123", "1", ""},
		{"378282246310005", "1234", "1", ""},
		{"36227206271667", "123", "1", ""},
		{"4000000000000002", "123", "2", "ER030"},
		{"4000000000009995", "123", "2", "ER016"},
		{"4000000000000069", "123", "2", "ER056"},
		{"4000000000000127", "123", "2", "ER079"},
		{"4000000000000119", "123", "2", "ER042"},
	}
	for i, c := range cases {
		t.Run(c.card, func(t *testing.T) {
			r := line(t, post(t, s.URL, charge(fmt.Sprintf("card-%d", i), "cn", c.card, "cvv", c.cvv)))
			if r.Rst != c.rst || r.Ec != c.ec {
				t.Fatalf("rst=%s ec=%s, want rst=%s ec=%s", r.Rst, r.Ec, c.rst, c.ec)
			}
			if (r.Rst == "1") != (r.Ap != "") {
				t.Fatalf("approval code %q with rst %s", r.Ap, r.Rst)
			}
		})
	}
	// CHECK does not charge: the payment is recorded as a check with nothing captured.
	r := line(t, post(t, s.URL, charge("check-1", "jb", "CHECK")))
	p, _ := s.DB.GetPayment(context.Background(), aid, r.Gid)
	if r.Rst != "1" || p.Status != store.StatusChecked || p.Captured != 0 {
		t.Fatalf("CHECK: %+v %+v", r, p)
	}
	if r := line(t, post(t, s.URL, charge("check-2", "jb", "CHECK", "cn", "4000000000000002"))); r.Ec != "ER031" {
		t.Fatalf("declined CHECK ec=%s, want ER031", r.Ec)
	}
	// a decline does not occupy the order number: the shopper may pay it with another card
	post(t, s.URL, charge("retry-1", "cn", "4000000000000002"))
	if r := line(t, post(t, s.URL, charge("retry-1"))); r.Rst != "1" {
		t.Fatalf("order after a decline: %+v", r)
	}
}

func TestErrorCodes(t *testing.T) {
	s := testenv.Start(t, testenv.Options{})
	s.CreateStore(t, aid, "テスト商店", func(st *store.Store) { st.MinAmount, st.MaxAmount = 50, 500000 })
	s.CreateStore(t, "200001", "Suspended", func(st *store.Store) { st.Suspended = true })
	s.CreateStore(t, "200002", "IP-limited", func(st *store.Store) { st.AllowIPs = []string{"10.0.0.0/8"} })
	s.CreateStore(t, "200003", "Signed", func(st *store.Store) { st.AuthCode = "secret-code" })
	s.CreateStore(t, "200004", "Visa only", func(st *store.Store) { st.Brands = []string{"VISA"} })
	s.CreateStore(t, "200005", "Installments", func(st *store.Store) { st.Installments = true })
	ut := strconv.FormatInt(time.Now().Unix(), 10)
	sum := sha256.Sum256([]byte(ut + "secret-code"))
	hak := hex.EncodeToString(sum[:])
	post(t, s.URL, charge("used-1"))
	cases := []struct {
		name string
		v    url.Values
		want string
	}{
		{"unknown store", charge("e", "aid", "999999"), "ER004"},
		{"bad aid", charge("e", "aid", "12ab"), "ER050"},
		{"suspended", charge("e", "aid", "200001"), "ER998"},
		{"ip not allowed", charge("e", "aid", "200002"), "ER003"},
		{"signature missing", charge("e", "aid", "200003"), "ER001"},
		{"signature stale", charge("e", "aid", "200003", "ut", "1000000000", "hak", hak), "ER001"},
		{"bad jb", charge("e", "jb", "REFUND"), "ER051"},
		{"bad rt", charge("e", "rt", "7"), "ER052"},
		{"bad cod", charge("a,b"), "ER054"},
		{"cod reused with other amounts", charge("used-1", "am", "2000"), "ER054"},
		{"no card", charge("e", "cn", "<del>"), "ER055"},
		{"luhn", charge("e", "cn", "4111111111111112"), "ER014"},
		{"brand unknown", charge("e", "cn", "9999999999999995"), "ER015"},
		{"brand refused", charge("e", "aid", "200004", "cn", "5555555555554444"), "ER015"},
		{"bad expiry", charge("e", "ed", "1399"), "ER056"},
		{"expired", charge("e", "ed", "2001"), "ER056"},
		{"bad email", charge("e", "em", "not-an-address"), "ER059"},
		{"bad phone", charge("e", "pn", "03-abc"), "ER060"},
		{"no amount", charge("e", "am", "<del>"), "ER061"},
		{"bad amount", charge("e", "am", "12x"), "ER061"},
		{"bad tax", charge("e", "tx", "-1"), "ER062"},
		{"bad shipping", charge("e", "sf", "x"), "ER063"},
		{"bad method", charge("e", "md", "99"), "ER064"},
		{"installments refused", charge("e", "md", "61-3"), "ER064"},
		{"unknown product", charge("e", "iid", "nope", "am", "<del>"), "ER005"},
		{"bad cvv", charge("e", "cvv", "12"), "ER079"},
		{"missing cvv", charge("e", "cvv", "<del>"), "ER079"},
		{"below minimum", charge("e", "am", "10", "tx", "0"), "ER017"},
		{"above maximum", charge("e", "am", "900000"), "ER018"},
		{"token with card", charge("e", "tkn", strings.Repeat("a", 32)), "ER586"},
		{"holder family name not romaji", charge("e", "fn", "山田"), "ER057"},
		{"holder given name not romaji", charge("e", "ln", "TARO1"), "ER058"},
		{"holder name checked before the card", charge("e", "fn", "山田", "cn", "4111111111111112"), "ER057"},
		{"SALES without tid", charge("e", "jb", "SALES", "tid", "<del>"), "ER053"},
		{"installment count out of range", charge("e", "aid", "200005", "md", "61-99"), "ER065"},
		{"iid too long", charge("e", "iid", strings.Repeat("x", 33), "am", "<del>"), "ER068"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := post(t, s.URL, c.v); got != "ER:"+c.want {
				t.Fatalf("got %q, want ER:%s", got, c.want)
			}
		})
	}
	t.Run("good signature", func(t *testing.T) {
		r := line(t, post(t, s.URL, charge("signed-1", "aid", "200003", "ut", ut, "hak", hak)))
		if r.Rst != "1" {
			t.Fatalf("signed request refused: %+v", r)
		}
	})
	t.Run("wrong method", func(t *testing.T) {
		req, _ := http.NewRequest(http.MethodPut, s.URL+"/gateway/gateway.aspx?"+charge("m").Encode(), nil)
		resp, err := testenv.Client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(b) != "ER:ER107" {
			t.Fatalf("PUT: %q", b)
		}
	})
}

func TestConcurrentSameCodChargesOnce(t *testing.T) {
	s := testenv.Start(t, testenv.Options{})
	s.CreateStore(t, aid, "テスト商店", nil)
	var wg sync.WaitGroup
	gids := make([]string, 50)
	for i := range gids {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			resp, err := testenv.Client.PostForm(s.URL+"/gateway/gateway.aspx", charge("dup-1"))
			if err != nil {
				return
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if r, err := wire.ParseResultLine(strings.TrimSpace(string(b))); err == nil {
				gids[i] = r.Gid
			}
		}(i)
	}
	wg.Wait()
	for _, g := range gids {
		if g == "" || g != gids[0] {
			t.Fatalf("50 concurrent requests with one cod gave gids %v", gids)
		}
	}
	var n int
	s.DB.QueryRow(context.Background(), `SELECT COUNT(*) FROM payments WHERE aid = ? AND cod = ?`, aid, "dup-1").Scan(&n)
	if n != 1 {
		t.Fatalf("%d payments recorded for one cod", n)
	}
}

func TestKickbackDeliveredAfterReceiverAndServerRestart(t *testing.T) {
	rcv := newReceiver(t)
	rcv.down.Store(true)
	var logs bytes.Buffer
	s := testenv.Start(t, testenv.Options{Log: &logs})
	s.CreateStore(t, aid, "テスト商店", func(st *store.Store) { st.ResultURL = rcv.srv.URL + "/kb"; st.KickbackSecret = "k-secret" })
	if got := post(t, s.URL, charge("kb-1", "rt", "0", "acting", "jpayment_card", "shop_ref", "日本語")); got != "OK" {
		t.Fatalf("rt=0: %q", got)
	}
	time.Sleep(600 * time.Millisecond) // at least one failed attempt while the receiver is down
	cfg, key := s.Config, s.Key
	s.Stop()
	rcv.down.Store(false)
	// the retry is scheduled a few seconds out; a restarted server must still deliver it
	s2 := testenv.Start(t, testenv.Options{Store: &cfg, VaultKey: key, Log: &logs})
	h, hdr := rcv.wait(t, 30*time.Second, func(v url.Values) bool { return v.Get("cod") == "kb-1" })
	for k, want := range map[string]string{"rst": "1", "ec": "", "am": "1000", "tx": "100", "sf": "0", "ta": "1100", "acting": "jpayment_card", "shop_ref": "日本語"} {
		if h.Get(k) != want {
			t.Errorf("kickback %s=%q, want %q", k, h.Get(k), want)
		}
	}
	if h.Get("gid") == "" || len(h.Get("ap")) != 6 {
		t.Errorf("kickback lacks gid/ap: %v", h)
	}
	sig := hdr.Get(notify.SignatureHeader)
	if !strings.HasPrefix(sig, "t=") || !strings.Contains(sig, ",v1=") {
		t.Errorf("signature header %q", sig)
	}
	ts, _ := strconv.ParseInt(strings.TrimPrefix(strings.Split(sig, ",")[0], "t="), 10, 64)
	if want := notify.Sign("k-secret", time.Unix(ts, 0), hdr.Get("X-Test-Raw-Query")); sig != want {
		t.Errorf("signature %q does not verify (want %q)", sig, want)
	}
	time.Sleep(time.Second)
	if n := rcv.count(func(v url.Values) bool { return v.Get("cod") == "kb-1" }); n != 1 {
		t.Fatalf("kickback delivered %d times", n)
	}
	kbs, _ := s2.DB.KickbacksOf(context.Background(), aid, h.Get("gid"), 10)
	if len(kbs) != 1 || kbs[0].Status != store.KickbackDelivered || kbs[0].Attempts < 2 {
		t.Fatalf("kickback record: %+v", kbs)
	}
	atts, _ := s2.DB.Attempts(context.Background(), kbs[0].ID)
	if len(atts) < 2 || atts[0].StatusCode != 503 || atts[len(atts)-1].StatusCode != 200 {
		t.Fatalf("attempt log: %+v", atts)
	}
}

// TestNoCardNumberInClear pays with every test card and then searches the database files, the
// logs and every response for any of the numbers in clear.
func TestNoCardNumberInClear(t *testing.T) {
	var logs bytes.Buffer
	s := testenv.Start(t, testenv.Options{Log: &logs})
	s.CreateStore(t, aid, "テスト商店", nil)
	cards := []string{"4111111111111111", "5555555555554444", "3530111333300000", "4000000000000002", "4000000000000119", "4111111111111112"}
	var bodies strings.Builder
	for i, c := range cards {
		bodies.WriteString(post(t, s.URL, charge(fmt.Sprintf("leak-%d", i), "cn", c, "cvv", "987")))
		// GET with the card in the query string: the path is logged, never the query
		resp, err := testenv.Client.Get(s.URL + "/gateway/gateway.aspx?" + charge(fmt.Sprintf("leakg-%d", i), "cn", c, "cvv", "987").Encode())
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			bodies.Write(b)
		}
	}
	s.Stop()
	var files bytes.Buffer
	filepath.WalkDir(s.Config.DataDir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			b, _ := os.ReadFile(p)
			files.Write(b)
		}
		return nil
	})
	for _, c := range cards {
		for where, text := range map[string][]byte{"database files": files.Bytes(), "logs": logs.Bytes(), "responses": []byte(bodies.String())} {
			if bytes.Contains(text, []byte(c)) {
				t.Errorf("card %s…%s in clear in %s", c[:6], c[len(c)-4:], where)
			}
		}
	}
	if testenv.Postgres() {
		t.Log("PostgreSQL: database files live in the server; the SQL-level scan is in the store tests")
	}
	if bytes.Contains(logs.Bytes(), []byte("cvv=987")) || bytes.Contains(files.Bytes(), []byte("987\x00")) {
		t.Errorf("security code found")
	}
}

// TestKickbackInShiftJIS: a store whose result URL wants Shift_JIS (wire.md §5's per-store
// option) receives the merchant's free parameters percent-encoded as CP932 bytes; the fixed
// parameters are ASCII either way.
func TestKickbackInShiftJIS(t *testing.T) {
	rcv := newReceiver(t)
	s := testenv.Start(t, testenv.Options{})
	s.CreateStore(t, aid, "テスト商店", func(st *store.Store) { st.ResultURL = rcv.srv.URL + "/kb"; st.KickbackEncoding = "shift_jis" })
	if got := post(t, s.URL, charge("kb-sjis", "rt", "0", "shop_ref", "日本語の備考")); got != "OK" {
		t.Fatalf("rt=0: %q", got)
	}
	_, hdr := rcv.wait(t, 20*time.Second, func(v url.Values) bool { return v.Get("cod") == "kb-sjis" })
	raw := hdr.Get("X-Test-Raw-Query")
	i := strings.Index(raw, "shop_ref=")
	if i < 0 {
		t.Fatalf("no shop_ref in %q", raw)
	}
	esc := raw[i+len("shop_ref="):]
	if j := strings.IndexByte(esc, '&'); j >= 0 {
		esc = esc[:j]
	}
	b, err := url.QueryUnescape(esc)
	if err != nil {
		t.Fatal(err)
	}
	if utf8.ValidString(b) {
		t.Fatalf("shop_ref arrived as UTF-8 (%q), want Shift_JIS bytes", esc)
	}
	if dec, _ := japanese.ShiftJIS.NewDecoder().String(b); dec != "日本語の備考" {
		t.Fatalf("shop_ref decoded from Shift_JIS: %q", dec)
	}
}
