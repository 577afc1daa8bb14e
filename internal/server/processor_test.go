package server_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stripe/stripe-go/v82/webhook"

	"kessai/internal/acquirer/stripeacq"
	"kessai/internal/acquirer/stripeacq/stripetest"
	"kessai/internal/maintenance"
	"kessai/internal/payment"
	sched "kessai/internal/schedule"
	"kessai/internal/server"
	"kessai/internal/store"
	"kessai/internal/testenv"
)

const (
	testKey  = "sk_test_kessaiSecretKeyNeverLogged"
	hookKey  = "whsec_kessaiTestSigningSecret"
	stripeID = "129077"
)

type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuf) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func stripeServer(t *testing.T, px *stripetest.Proxy, health int) (*testenv.Srv, *syncBuf) {
	t.Helper()
	log := &syncBuf{}
	srv := testenv.Start(t, testenv.Options{Log: log, Acquirer: server.AcquirerConfig{Name: "stripe", WebhookSecret: hookKey,
		HealthFailures: health, HealthWindow: 30 * time.Minute,
		Stripe: stripeacq.Config{Key: testKey, APIBase: px.URL, CallTimeout: 300 * time.Millisecond, Budget: 2 * time.Second, Attempts: 3}}})
	srv.CreateStore(t, stripeID, "本番ストア", nil)
	return srv, log
}

func charge(t *testing.T, base, cod, pan, job string) []string {
	t.Helper()
	f := url.Values{"aid": {stripeID}, "jb": {job}, "rt": {"1"}, "cod": {cod}, "am": {"1000"}, "tx": {"100"}, "sf": {"0"}, "cn": {pan},
		"ed": {time.Now().AddDate(2, 0, 0).Format("0601")}, "cvv": {"123"}, "fn": {"TARO"}, "ln": {"YAMADA"}, "em": {"t@example.com"}, "pn": {"0312345678"}}
	return post(t, base+"/gateway/gateway.aspx", f)
}

func post(t *testing.T, u string, f url.Values) []string {
	t.Helper()
	resp, err := testenv.Client.PostForm(u, f)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return strings.Split(strings.TrimSpace(string(b)), ",")
}

func charged(px *stripetest.Proxy) (n int) {
	for _, in := range px.Intents() {
		if in.Charged() {
			n++
		}
	}
	return n
}

// eventually polls cond until it holds (a worker acts in the background); the bound only keeps a
// broken build from hanging, it is not a speed assertion.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("never happened: %s", what)
}

// A real acquirer turns the sandbox off: no TEST mark, the sandbox API refused, MFA required; the
// jobs go through Stripe, the decline's processor code is kept, and the secret key never reaches
// the log.
func TestStripeServerIsRealAndKeepsTheKeyOutOfTheLog(t *testing.T) {
	px := stripetest.Start(t, stripetest.MockURL(t))
	srv, log := stripeServer(t, px, 0)
	if srv.Sandbox {
		t.Fatal("with --acquirer stripe the server still says sandbox")
	}
	resp, err := testenv.Client.Get(srv.URL + "/api/v1/sandbox/clock")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("sandbox API with a real acquirer: %d, want 404", resp.StatusCode)
	}
	// no page calls itself a test environment (the marks every sandbox page carries)
	for _, path := range []string{"/", "/maintenance", "/console/", "/console/login", "/operator/", "/operator/login", "/link/creditcard?aid=" + stripeID + "&jb=CAPTURE&am=100&tx=0&sf=0&cod=page-1"} {
		resp, err := testenv.Client.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		for _, mark := range []string{"テスト環境", "SANDBOX", `class="testmark"`, `class="test-mark"`, `class="sandbox"`, "Test environment"} {
			if strings.Contains(string(b), mark) {
				t.Errorf("GET %s (%d) with a real acquirer shows %q", path, resp.StatusCode, mark)
			}
		}
	}
	ok := charge(t, srv.URL, "p-1", "4242424242424242", "CAPTURE")
	if ok[1] != "1" || charged(px) != 1 {
		t.Fatalf("CAPTURE: %v (charges %d)", ok, charged(px))
	}
	p, err := srv.DB.GetPayment(context.Background(), stripeID, ok[0])
	if err != nil || !strings.HasPrefix(p.NetRef, "pi_test_") || p.Status != store.StatusCaptured {
		t.Fatalf("recorded payment: %+v %v", p, err)
	}
	if ref, _ := srv.DB.CardProcessorRef(context.Background(), stripeID, p.CardID); !strings.HasPrefix(ref, "cus_") {
		t.Errorf("the card's Stripe customer/payment method is not referenced from the vault record: %q", ref)
	}
	no := charge(t, srv.URL, "p-2", "4000000000009995", "CAPTURE")
	if no[1] != "2" || no[3] != "ER016" {
		t.Fatalf("insufficient funds: %v", no)
	}
	if code, _ := srv.DB.ProcessorCode(context.Background(), no[0]); code != "card_declined/insufficient_funds" {
		t.Errorf("processor code kept on the declined payment: %q", code)
	}
	if tds := charge(t, srv.URL, "p-3", stripetest.ThreeDSCard, "CAPTURE"); tds[3] != "ER900" {
		t.Errorf("server-to-server charge needing 3-D Secure: %v, want ER900", tds)
	}
	// a zero-yen verification needing 3-D Secure, server to server: nobody to send to Stripe's
	// page, so ER900 (a CHECK, and an auto-charge sign-up of 0 yen), nothing registered
	f := url.Values{"aid": {stripeID}, "jb": {"CHECK"}, "rt": {"1"}, "cod": {"p-4"}, "am": {"0"}, "tx": {"0"}, "sf": {"0"}, "cn": {stripetest.ThreeDSCard},
		"ed": {time.Now().AddDate(2, 0, 0).Format("0601")}, "cvv": {"123"}}
	if chk := post(t, srv.URL+"/gateway/gateway.aspx", f); len(chk) < 4 || chk[1] != "2" || chk[3] != "ER900" {
		t.Errorf("server-to-server CHECK needing 3-D Secure: %v, want ER900", chk)
	}
	f.Set("jb", "CAPTURE")
	f.Set("cod", "p-5")
	f.Set("actp", "4")
	f.Set("acam", "980")
	if su := post(t, srv.URL+"/gateway/gateway.aspx", f); len(su) < 4 || su[1] != "2" || su[3] != "ER900" {
		t.Errorf("server-to-server zero-yen sign-up needing 3-D Secure: %v, want ER900", su)
	}
	var plans int
	srv.DB.QueryRow(context.Background(), `SELECT COUNT(*) FROM autocharges WHERE aid = ?`, stripeID).Scan(&plans)
	if plans != 0 {
		t.Errorf("a sign-up refused ER900 left %d plans", plans)
	}
	if strings.Contains(log.String(), testKey) || strings.Contains(log.String(), "4242424242424242") {
		t.Fatal("the Stripe secret key or a card number reached the log")
	}
	for _, c := range px.Calls() {
		if c.Method == "POST" && c.Key == "" {
			t.Errorf("POST %s without an Idempotency-Key", c.Path)
		}
	}
}

// Follow-ups: SALES captures part, CANCEL after capture refunds, the panel's partial refund too;
// every one once at Stripe.
func TestStripeFollowUps(t *testing.T) {
	px := stripetest.Start(t, stripetest.MockURL(t))
	srv, _ := stripeServer(t, px, 0)
	a := charge(t, srv.URL, "f-1", "4242424242424242", "AUTH")
	if a[1] != "1" {
		t.Fatalf("AUTH: %v", a)
	}
	if s := post(t, srv.URL+"/gateway/gateway.aspx", url.Values{"aid": {stripeID}, "jb": {"SALES"}, "rt": {"1"}, "tid": {a[0]}, "am": {"700"}, "tx": {"0"}, "sf": {"0"}}); s[1] != "1" {
		t.Fatalf("SALES: %v", s)
	}
	st, _ := srv.Pay.Stores.Get(context.Background(), stripeID)
	if _, err := srv.Pay.Refund(context.Background(), st, a[0], 300, "test"); err != nil {
		t.Fatalf("partial refund: %v", err)
	}
	if x := post(t, srv.URL+"/gateway/gateway.aspx", url.Values{"aid": {stripeID}, "jb": {"CANCEL"}, "rt": {"1"}, "tid": {a[0]}}); x[1] != "1" {
		t.Fatalf("CANCEL after capture: %v", x)
	}
	in := px.Intents()[0]
	if in.Captured != 700 || in.Refunded != 700 || in.Charged() {
		t.Fatalf("at Stripe after SALES 700, refund 300, CANCEL: %+v", in)
	}
}

// The fault-injecting proxy between Kessai and stripe-mock: whatever is cut, no payment is answered
// success without a confirmed charge, and no charge is left without a payment or a void.
func TestStripeFaultsNeverChargeTwiceNorLoseACharge(t *testing.T) {
	old := payment.ReconcileGrace
	t.Cleanup(func() { payment.ReconcileGrace = old })
	px := stripetest.Start(t, stripetest.MockURL(t))
	px.Delay = time.Second
	srv, _ := stripeServer(t, px, 0)

	var mu sync.Mutex
	faults := map[string]stripetest.Fault{} // cod -> fault on every create of its intent
	keyCod := map[string]string{}
	searchDown := false
	px.Inject = func(c stripetest.Call) stripetest.Fault {
		mu.Lock()
		defer mu.Unlock()
		if c.Path == "/v1/payment_intents/search" && searchDown {
			return "500-before"
		}
		if c.Method != "POST" || c.Path != "/v1/payment_intents" {
			return ""
		}
		k := c.Form.Get("metadata[kessai_key]")
		for cod, f := range faults {
			if strings.HasPrefix(k, stripeID+"/"+cod+"/") {
				keyCod[c.Key] = cod
				return f
			}
		}
		return ""
	}
	setFault := func(cod string, f stripetest.Fault) { mu.Lock(); faults[cod] = f; mu.Unlock() }

	// 0. every answer to the charge is cut, but the look-up by metadata finds it: answered success
	payment.ReconcileGrace = time.Hour
	setFault("v-1", "drop")
	if r := charge(t, srv.URL, "v-1", "4242424242424242", "CAPTURE"); r[1] != "1" || charged(px) != 1 {
		t.Fatalf("answers cut, intent found by metadata: %v (charges %d)", r, charged(px))
	}

	// 1. every answer cut and the look-up fails too: ER990 (never a decline); the merchant retries
	// the same cod and gets the one charge that was made
	mu.Lock()
	searchDown = true
	mu.Unlock()
	setFault("x-1", "drop")
	r1 := charge(t, srv.URL, "x-1", "4242424242424242", "CAPTURE")
	if strings.Join(r1, ",") != "ER:ER990" {
		t.Fatalf("every answer cut: %v, want ER:ER990", r1)
	}
	setFault("x-1", "")
	r2 := charge(t, srv.URL, "x-1", "4242424242424242", "CAPTURE")
	if r2[1] != "1" || charged(px) != 2 || len(px.Intents()) != 2 {
		t.Fatalf("retry of the same cod: %v; charges %d, intents %d", r2, charged(px), len(px.Intents()))
	}

	mu.Lock()
	searchDown = false
	mu.Unlock()

	// 2. a 500 after the charge, then a delay past the timeout: retried under the same key within
	// the request, answered success once, one charge each
	for _, f := range []stripetest.Fault{"500", "delay", "500-before"} {
		cod := "y-" + string(f)
		n := len(px.Intents())
		first := true
		setFault(cod, "")
		px.Inject = func(inner func(stripetest.Call) stripetest.Fault) func(stripetest.Call) stripetest.Fault {
			return func(c stripetest.Call) stripetest.Fault {
				if c.Method == "POST" && c.Path == "/v1/payment_intents" && strings.Contains(c.Form.Get("metadata[kessai_key]"), "/"+cod+"/") && first {
					first = false
					return f
				}
				return inner(c)
			}
		}(px.Inject)
		r := charge(t, srv.URL, cod, "4242424242424242", "CAPTURE")
		if r[1] != "1" || len(px.Intents()) != n+1 {
			t.Fatalf("%s once: %v, intents %d → %d", f, r, n, len(px.Intents()))
		}
	}

	// 2b. a decline body (a 402 card_declined however good the card): a decline, never a
	// success, nothing held; the same cod again gets Stripe's remembered decline under the same key
	setFault("d-1", "decline")
	n := len(px.Intents())
	if r := charge(t, srv.URL, "d-1", "4242424242424242", "CAPTURE"); len(r) < 4 || r[1] != "2" || r[3] != "ER030" || len(px.Intents()) != n {
		t.Fatalf("a decline body: %v (intents %d → %d)", r, n, len(px.Intents()))
	}
	setFault("d-1", "")
	if r := charge(t, srv.URL, "d-1", "4242424242424242", "CAPTURE"); len(r) < 4 || r[1] != "2" || len(px.Intents()) != n {
		t.Fatalf("the same cod after a decline: %v (intents %d → %d)", r, n, len(px.Intents()))
	}

	// 3. ER990 and no retry: the reconciler finds the charge by metadata and voids it
	payment.ReconcileGrace = 0
	mu.Lock()
	searchDown = true
	mu.Unlock()
	setFault("z-1", "drop")
	if r := charge(t, srv.URL, "z-1", "4242424242424242", "CAPTURE"); strings.Join(r, ",") != "ER:ER990" {
		t.Fatalf("z-1: %v", r)
	}
	mu.Lock()
	searchDown = false // Stripe's search answers again: the reconciler can look the charge up
	mu.Unlock()
	var z stripetest.Intent
	for _, in := range px.Intents() {
		if strings.Contains(in.Key, "/z-1/") {
			z = in
		}
	}
	if !z.Charged() {
		t.Fatalf("the cut charge should exist at Stripe before the reconciler runs: %+v", z)
	}
	eventually(t, "the reconciler voids the unrecorded charge", func() bool {
		for _, in := range px.Intents() {
			if in.ID == z.ID {
				return !in.Charged()
			}
		}
		return false
	})

	// the books: every charge held at Stripe has a successful payment recording it, and every
	// successful payment a charge held at Stripe
	for _, in := range px.Intents() {
		p, err := srv.DB.PaymentByNetRef(context.Background(), in.ID)
		recorded := err == nil && p.Rst == "1"
		if in.Charged() != recorded {
			t.Errorf("intent %s (%s, key %s): charged=%v, recorded=%v", in.ID, in.Status, in.Key, in.Charged(), recorded)
		}
	}
	for _, c := range px.Calls() {
		if c.Method == "POST" && c.Key == "" {
			t.Errorf("POST %s without an Idempotency-Key", c.Path)
		}
	}
	// acquirer health is off by default: all these failures opened no emergency window
	if w := srv.Maint.Active(time.Now()); w != nil {
		t.Errorf("an emergency window opened with acquirer health off (the default): %+v", w)
	}
	// one operation, one key: every create of one cod's intent carried the same key
	keys := map[string]map[string]bool{}
	for _, c := range px.Calls() {
		if c.Method == "POST" && c.Path == "/v1/payment_intents" {
			k := c.Form.Get("metadata[kessai_key]")
			if keys[k] == nil {
				keys[k] = map[string]bool{}
			}
			keys[k][c.Key] = true
		}
	}
	for k, ks := range keys {
		if len(ks) != 1 {
			t.Errorf("request %s went out under %d keys", k, len(ks))
		}
	}
}

func signed(t *testing.T, secret string, at time.Time, body string) (string, []byte) {
	sp := webhook.GenerateTestSignedPayload(&webhook.UnsignedPayload{Payload: []byte(body), Secret: secret, Timestamp: at})
	return sp.Header, sp.Payload
}

func hook(t *testing.T, base, header string, payload []byte) (int, string) {
	t.Helper()
	req, _ := http.NewRequest("POST", base+"/webhooks/stripe", bytes.NewReader(payload))
	req.Header.Set("Stripe-Signature", header)
	req.Header.Set("Content-Type", "application/json")
	resp, err := testenv.Client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp.StatusCode, string(b)
}

func event(id, typ, object string) string {
	return fmt.Sprintf(`{"id":%q,"object":"event","api_version":"2025-01-27.acacia","created":%d,"type":%q,"data":{"object":%s}}`, id, time.Now().Unix(), typ, object)
}

// POST /webhooks/stripe: Stripe's signature verified (a forged one and a replay older than the
// tolerance refused), an event applied once (a duplicate changes nothing), and events in any order
// never move a payment backwards.
func TestStripeWebhooks(t *testing.T) {
	px := stripetest.Start(t, stripetest.MockURL(t))
	srv, _ := stripeServer(t, px, 0)
	r := charge(t, srv.URL, "w-1", "4242424242424242", "CAPTURE")
	p, err := srv.DB.GetPayment(context.Background(), stripeID, r[0])
	if err != nil {
		t.Fatal(err)
	}
	refunded := event("evt_refund_1", "charge.refunded", fmt.Sprintf(`{"id":"ch_1","object":"charge","payment_intent":%q,"amount_captured":1100,"amount_refunded":400,"refunded":false}`, p.NetRef))
	state := func() *store.Payment {
		q, err := srv.DB.GetPayment(context.Background(), stripeID, p.Gid)
		if err != nil {
			t.Fatal(err)
		}
		return q
	}

	t.Run("forged signature refused", func(t *testing.T) {
		h, b := signed(t, "whsec_somebodyElse", time.Now(), refunded)
		if code, _ := hook(t, srv.URL, h, b); code != http.StatusBadRequest || state().Refunded != 0 {
			t.Fatalf("forged: %d, refunded %d", code, state().Refunded)
		}
		h, b = signed(t, hookKey, time.Now(), refunded)
		if code, _ := hook(t, srv.URL, h, bytes.Replace(b, []byte(`400`), []byte(`900`), 1)); code != http.StatusBadRequest {
			t.Fatalf("a body changed after signing was accepted: %d", code)
		}
	})
	t.Run("replay older than the tolerance refused", func(t *testing.T) {
		h, b := signed(t, hookKey, time.Now().Add(-stripeacq.WebhookTolerance-time.Minute), refunded)
		if code, _ := hook(t, srv.URL, h, b); code != http.StatusBadRequest || state().Refunded != 0 {
			t.Fatalf("stale: %d, refunded %d", code, state().Refunded)
		}
	})
	t.Run("applied once, duplicate ignored", func(t *testing.T) {
		h, b := signed(t, hookKey, time.Now(), refunded)
		if code, body := hook(t, srv.URL, h, b); code != 200 || !strings.Contains(body, `"applied"`) {
			t.Fatalf("first delivery: %d %s", code, body)
		}
		if q := state(); q.Status != store.StatusPartiallyRefunded || q.Refunded != 400 {
			t.Fatalf("after a partial refund at Stripe: %s %d", q.Status, q.Refunded)
		}
		h, b = signed(t, hookKey, time.Now(), refunded)
		if code, body := hook(t, srv.URL, h, b); code != 200 || !strings.Contains(body, `"duplicate"`) {
			t.Fatalf("duplicate delivery: %d %s", code, body)
		}
		if seen, _ := srv.DB.ProcessorEventSeen(context.Background(), "evt_refund_1"); !seen {
			t.Fatal("event ID not recorded")
		}
	})
	t.Run("out of order never moves backwards", func(t *testing.T) {
		full := event("evt_refund_2", "charge.refunded", fmt.Sprintf(`{"id":"ch_1","object":"charge","payment_intent":%q,"amount_captured":1100,"amount_refunded":1100,"refunded":true}`, p.NetRef))
		succeeded := event("evt_succeeded", "payment_intent.succeeded", fmt.Sprintf(`{"id":%q,"object":"payment_intent","status":"succeeded","amount":1100,"amount_received":1100}`, p.NetRef))
		h, b := signed(t, hookKey, time.Now(), full)
		if code, _ := hook(t, srv.URL, h, b); code != 200 || state().Status != store.StatusRefunded {
			t.Fatalf("full refund: %d %s", code, state().Status)
		}
		h, b = signed(t, hookKey, time.Now(), succeeded) // sent before, arriving after
		if code, body := hook(t, srv.URL, h, b); code != 200 || !strings.Contains(body, "not-forward") {
			t.Fatalf("late succeeded: %d %s", code, body)
		}
		if q := state(); q.Status != store.StatusRefunded || q.Refunded != 1100 {
			t.Fatalf("a late event moved the payment back: %s %d", q.Status, q.Refunded)
		}
	})
}

// Acquirer health: after N consecutive failures Kessai opens an emergency window by itself, so
// merchants get ER999 with Retry-After; an operator ends it.
func TestStripeHealthOpensEmergencyWindow(t *testing.T) {
	px := stripetest.Start(t, stripetest.MockURL(t))
	down := true
	var mu sync.Mutex
	px.Inject = func(c stripetest.Call) stripetest.Fault {
		mu.Lock()
		defer mu.Unlock()
		if down && c.Method == "POST" && c.Path == "/v1/payment_intents" {
			return "500-before"
		}
		return ""
	}
	srv, _ := stripeServer(t, px, 2)
	for i := 0; i < 2; i++ {
		if r := charge(t, srv.URL, fmt.Sprintf("h-%d", i), "4242424242424242", "CAPTURE"); strings.Join(r, ",") != "ER:ER990" {
			t.Fatalf("processor down: %v", r)
		}
	}
	var retry string
	eventually(t, "an emergency window after 2 failures", func() bool {
		resp, err := testenv.Client.PostForm(srv.URL+"/gateway/gateway.aspx", url.Values{"aid": {stripeID}, "jb": {"CAPTURE"}, "rt": {"1"}, "cod": {"h-x"},
			"am": {"100"}, "tx": {"0"}, "sf": {"0"}, "cn": {"4242424242424242"}, "ed": {"3012"}})
		if err != nil {
			return false
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		retry = resp.Header.Get("Retry-After")
		return strings.TrimSpace(string(b)) == "ER:ER999"
	})
	if retry == "" {
		t.Error("ER999 without Retry-After")
	}
	w := srv.Maint.Active(time.Now())
	if w == nil {
		t.Fatal("no active window")
	}
	mu.Lock()
	down = false
	mu.Unlock()
	if _, err := sched.End(context.Background(), srv.DB, w.ID, time.Now(), maintenance.ChangeText{Note: "processor back"}, "operator"); err != nil {
		t.Fatal(err)
	}
	ws, _ := srv.DB.Windows(context.Background())
	srv.Maint.Replace(ws)
	if r := charge(t, srv.URL, "h-after", "4242424242424242", "CAPTURE"); r[1] != "1" {
		t.Fatalf("after the operator ended the window: %v", r)
	}
}
