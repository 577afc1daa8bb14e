package link_test

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"html"
	"log/slog"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"kessai/internal/acquirer/stripeacq"
	"kessai/internal/acquirer/stripeacq/stripetest"
	"kessai/internal/clock"
	"kessai/internal/server"
	"kessai/internal/store"
	"kessai/internal/testenv"
)

// stripeEnv is a Kessai running the Stripe acquirer against stripe-mock through the state-keeping
// proxy (KESSAI_STRIPE_MOCK, as the acquirer's own tests).
func stripeEnv(t *testing.T) (*env, *stripetest.Proxy) {
	t.Helper()
	px := stripetest.Start(t, stripetest.MockURL(t))
	sc := testenv.StoreConfig(t)
	key := make([]byte, 32)
	rand.Read(key)
	s, err := server.New(context.Background(), server.Config{DataDir: sc.DataDir, DatabaseURL: sc.DatabaseURL, Clock: clock.Real{},
		VaultKeyEnv: base64.StdEncoding.EncodeToString(key), Log: slog.New(slog.DiscardHandler),
		Acquirer: server.AcquirerConfig{Name: "stripe", WebhookSecret: "whsec_kessaiTestSigningSecret",
			Stripe: stripeacq.Config{Key: "sk_test_123", APIBase: px.URL, CallTimeout: 2 * time.Second, Budget: 5 * time.Second, Attempts: 3}}})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(func() { srv.Close(); s.Close() })
	e := &env{t: t, s: s, srv: srv}
	e.store("123456", "テスト商店", func(st *store.Store) { st.CompletionURL = "https://shop.example.jp/thanks?from=kessai" })
	return e, px
}

var reProcessorGo = regexp.MustCompile(`id="processor-go" href="([^"]+)"`)

// TestStripeThreeDSOnHostedPage: with the Stripe acquirer, a hosted-page charge Stripe wants
// authenticated sends the shopper to Stripe's page (not ER900); back from it, the order is paid
// once through the same authorisation, and a reload of the return shows the result without a
// second charge. A failed authentication returns to the form with ER901, and nothing is charged.
func TestStripeThreeDSOnHostedPage(t *testing.T) {
	e, px := stripeEnv(t)
	b := e.browser()
	s := hidden(t, do(t, b, "POST", e.srv.URL+"/link/creditcard", orderForm("cod", "ST-1"), nil).body)
	a := do(t, b, "POST", e.srv.URL+"/link/creditcard/pay", cardForm(s, stripetest.ThreeDSCard), nil)
	if a.url.Path != "/link/creditcard/authenticate" {
		t.Fatalf("a card Stripe wants authenticated went to %s:\n%.1500s", a.url, a.body)
	}
	checkSecurityHeaders(t, a.header)
	m := reProcessorGo.FindStringSubmatch(a.body)
	if m == nil || !strings.HasPrefix(html.UnescapeString(m[1]), "https://hooks.stripe.com/3d_secure_2/hosted?pi=") {
		t.Fatalf("no way to Stripe's authentication:\n%.1500s", a.body)
	}
	mustNotContain(t, a.body, stripetest.ThreeDSCard)
	in := px.Intents()
	if len(in) != 1 || in[0].Status != "requires_action" {
		t.Fatalf("intents %+v", in)
	}
	// the return URL Stripe was given is Kessai's return of this order
	pis := 0
	for _, c := range px.Calls() {
		if c.Method == "POST" && c.Path == "/v1/payment_intents" {
			pis++
			if ru := c.Form.Get("return_url"); !strings.HasPrefix(ru, e.srv.URL+"/link/creditcard/return?o="+s.o) || c.Form.Get("error_on_requires_action") != "" {
				t.Fatalf("return_url %q, error_on_requires_action %q", ru, c.Form.Get("error_on_requires_action"))
			}
		}
	}
	if ok, declined := successes(t, e, "123456", "ST-1"); ok+declined != 0 {
		t.Fatalf("a payment was recorded before authentication: %d/%d", ok, declined)
	}
	if !px.Authenticate(in[0].ID, true) {
		t.Fatal("the intent was not waiting for authentication")
	}
	// Stripe sends the shopper back with its own parameters
	back := e.srv.URL + "/link/creditcard/return?o=" + s.o + "&payment_intent=" + in[0].ID + "&payment_intent_client_secret=x&redirect_status=succeeded"
	a = do(t, b, "GET", back, nil, nil)
	if a.url.Path != "/link/creditcard/result" {
		t.Fatalf("after authentication: %s\n%.1500s", a.url, a.body)
	}
	mustContain(t, a.body, "お支払いが完了しました", "400000******3184")
	gid := reGid.FindStringSubmatch(a.body)
	// a reload of the return: the result again, nothing more at Stripe or in the payments
	a = do(t, b, "GET", back, nil, nil)
	if a.url.Path != "/link/creditcard/result" || !strings.Contains(a.body, `id="gid">`+gid[1]+"<") {
		t.Fatalf("reload of the return: %s", a.url)
	}
	if ok, declined := successes(t, e, "123456", "ST-1"); ok != 1 || declined != 0 {
		t.Fatalf("payments %d/%d, want one", ok, declined)
	}
	after := 0
	for _, c := range px.Calls() {
		if c.Method == "POST" && c.Path == "/v1/payment_intents" {
			after++
		}
	}
	charged := 0
	for _, in := range px.Intents() {
		if in.Charged() {
			charged++
		}
	}
	if after != pis || charged != 1 {
		t.Fatalf("intents created %d (then %d), charged %d: want one", pis, after, charged)
	}
	var ref string
	e.s.DB.QueryRow(context.Background(), `SELECT net_ref FROM payments WHERE gid = ?`, gid[1]).Scan(&ref)
	if !strings.HasSuffix(ref, in[0].ID) {
		t.Fatalf("the payment's reference %q is not the authenticated intent %s", ref, in[0].ID)
	}

	// a failed authentication: back to the form with ER901, the order open, nothing charged
	b2 := e.browser()
	s2 := hidden(t, do(t, b2, "POST", e.srv.URL+"/link/creditcard", orderForm("cod", "ST-2"), nil).body)
	do(t, b2, "POST", e.srv.URL+"/link/creditcard/pay", cardForm(s2, stripetest.ThreeDSCard), nil)
	in = px.Intents()
	last := in[len(in)-1]
	px.Authenticate(last.ID, false)
	a = do(t, b2, "GET", e.srv.URL+"/link/creditcard/return?o="+s2.o+"&payment_intent="+last.ID, nil, nil)
	if a.url.Path != "/link/creditcard/order" {
		t.Fatalf("after a failed authentication: %s", a.url)
	}
	mustContain(t, a.body, "ER901", `id="cardform"`)
	if ok, _ := successes(t, e, "123456", "ST-2"); ok != 0 {
		t.Fatal("a failed authentication was charged")
	}
	// another browser cannot finish someone's order
	if a := do(t, e.browser(), "GET", e.srv.URL+"/link/creditcard/return?o="+s2.o, nil, nil); a.status != 400 {
		t.Fatalf("a foreign browser's return: %d", a.status)
	}
}
