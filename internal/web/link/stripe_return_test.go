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

// TestStripeThreeDSZeroYenSignUp: a zero-yen auto-charge sign-up and a zero-yen CHECK on the hosted
// page, for a card Stripe wants authenticated (the SetupIntent is requires_action: the proxy
// rewrites stripe-mock's fixture into the redirect Stripe gives, see stripetest), send the shopper
// to Stripe's page and back like a charge does: the same SetupIntent is read on return, the card
// and the plan are registered once (a second return, a reload, make nothing more), the card is kept
// at Stripe for the plan's off-session charges, and no money moves. An authentication the shopper
// did not complete is ER901, with nothing registered.
func TestStripeThreeDSZeroYenSignUp(t *testing.T) {
	e, px := stripeEnv(t)
	ctx := context.Background()
	b := e.browser()
	s := hidden(t, do(t, b, "POST", e.srv.URL+"/link/creditcard",
		orderForm("cod", "SU-1", "am", "0", "tx", "0", "sf", "0", "actp", "4", "acam", "2700"), nil).body)
	a := do(t, b, "POST", e.srv.URL+"/link/creditcard/pay", cardForm(s, stripetest.ThreeDSCard), nil)
	if a.url.Path != "/link/creditcard/authenticate" {
		t.Fatalf("a zero-yen sign-up Stripe wants authenticated went to %s:\n%.1500s", a.url, a.body)
	}
	m := reProcessorGo.FindStringSubmatch(a.body)
	if m == nil || !strings.HasPrefix(html.UnescapeString(m[1]), "https://hooks.stripe.com/3d_secure_2/hosted?setup_intent=seti_") {
		t.Fatalf("no way to Stripe's authentication:\n%.1500s", a.body)
	}
	mustNotContain(t, a.body, stripetest.ThreeDSCard)
	si := px.Setups()
	if len(si) != 1 || si[0].Status != "requires_action" || len(px.Intents()) != 0 {
		t.Fatalf("setup intents %+v, payment intents %d", si, len(px.Intents()))
	}
	for _, c := range px.Calls() {
		if c.Method == "POST" && c.Path == "/v1/setup_intents" {
			if ru := c.Form.Get("return_url"); !strings.HasPrefix(ru, e.srv.URL+"/link/creditcard/return?o="+s.o) {
				t.Fatalf("the SetupIntent's return_url %q is not this order's return", ru)
			}
		}
	}
	plans := func(cod string) (n int) {
		e.s.DB.QueryRow(ctx, `SELECT COUNT(*) FROM autocharges WHERE aid = ? AND cod = ?`, "123456", cod).Scan(&n)
		return n
	}
	if ok, declined := successes(t, e, "123456", "SU-1"); ok+declined != 0 || plans("SU-1") != 0 {
		t.Fatalf("registered before authentication: payments %d/%d, plans %d", ok, declined, plans("SU-1"))
	}
	// coming back before authenticating (the shopper closed Stripe's page): ER901, nothing kept
	back := e.srv.URL + "/link/creditcard/return?o=" + s.o + "&setup_intent=" + si[0].ID + "&setup_intent_client_secret=x&redirect_status=failed"
	a = do(t, b, "GET", back, nil, nil)
	if a.url.Path != "/link/creditcard/order" {
		t.Fatalf("back without authenticating: %s\n%.1500s", a.url, a.body)
	}
	mustContain(t, a.body, "ER901", `id="cardform"`)
	if ok, _ := successes(t, e, "123456", "SU-1"); ok != 0 || plans("SU-1") != 0 {
		t.Fatal("an authentication not completed registered the card or the plan")
	}

	// the shopper tries again (Stripe replays the same SetupIntent, still waiting for them) and
	// authenticates: registered once
	s = hidden(t, a.body)
	a = do(t, b, "POST", e.srv.URL+"/link/creditcard/pay", cardForm(s, stripetest.ThreeDSCard), nil)
	if a.url.Path != "/link/creditcard/authenticate" {
		t.Fatalf("second attempt went to %s:\n%.1500s", a.url, a.body)
	}
	si = px.Setups()
	last := si[len(si)-1]
	if len(si) != 1 {
		t.Fatalf("the same order with the same card made %d SetupIntents while the first still waited", len(si))
	}
	if !px.Authenticate(last.ID, true) {
		t.Fatalf("the SetupIntent was not waiting for authentication: %+v", si)
	}
	back = e.srv.URL + "/link/creditcard/return?o=" + s.o + "&setup_intent=" + last.ID + "&redirect_status=succeeded"
	a = do(t, b, "GET", back, nil, nil)
	if a.url.Path != "/link/creditcard/result" {
		t.Fatalf("after authentication: %s\n%.1500s", a.url, a.body)
	}
	mustContain(t, a.body, "カードの登録が完了しました", "400000******3184")
	gid := reGid.FindStringSubmatch(a.body)
	for i := 0; i < 2; i++ { // a reload, and Stripe's return opened again in the same browser
		if a = do(t, b, "GET", back, nil, nil); a.url.Path != "/link/creditcard/result" || !strings.Contains(a.body, `id="gid">`+gid[1]+"<") {
			t.Fatalf("return again: %s", a.url)
		}
	}
	if ok, _ := successes(t, e, "123456", "SU-1"); ok != 1 || plans("SU-1") != 1 {
		t.Fatalf("payments %d, plans %d: want one sign-up", ok, plans("SU-1"))
	}
	var status, ref string
	var cardID int64
	e.s.DB.QueryRow(ctx, `SELECT status, net_ref, card_id FROM payments WHERE gid = ?`, gid[1]).Scan(&status, &ref, &cardID)
	if status != store.StatusRegistered || !strings.HasSuffix(ref, last.ID) {
		t.Fatalf("the sign-up payment: status %q, reference %q (want registered, %s)", status, ref, last.ID)
	}
	kept, _ := e.s.DB.CardProcessorRef(ctx, "123456", cardID)
	if !strings.HasPrefix(kept, "cus_") || kept != last.Customer+"/"+last.PaymentMethod {
		t.Fatalf("the card kept at Stripe for the plan's charges: %q, want %s/%s", kept, last.Customer, last.PaymentMethod)
	}
	if len(px.Intents()) != 0 || len(px.Setups()) != 1 {
		t.Fatalf("a sign-up moved money or verified again: %d payment intents, %d setup intents", len(px.Intents()), len(px.Setups()))
	}

	// a zero-yen CHECK: the same way through Stripe's page; a failed authentication is ER901
	b2 := e.browser()
	s2 := hidden(t, do(t, b2, "POST", e.srv.URL+"/link/creditcard", orderForm("cod", "CK-1", "jb", "CHECK", "am", "0", "tx", "0", "sf", "0"), nil).body)
	if a = do(t, b2, "POST", e.srv.URL+"/link/creditcard/pay", cardForm(s2, stripetest.ThreeDSCard), nil); a.url.Path != "/link/creditcard/authenticate" {
		t.Fatalf("CHECK went to %s", a.url)
	}
	si = px.Setups()
	px.Authenticate(si[len(si)-1].ID, false)
	a = do(t, b2, "GET", e.srv.URL+"/link/creditcard/return?o="+s2.o, nil, nil)
	if a.url.Path != "/link/creditcard/order" {
		t.Fatalf("CHECK after a failed authentication: %s", a.url)
	}
	mustContain(t, a.body, "ER901")
	s2 = hidden(t, a.body)
	if a = do(t, b2, "POST", e.srv.URL+"/link/creditcard/pay", cardForm(s2, stripetest.ThreeDSCard), nil); a.url.Path != "/link/creditcard/authenticate" {
		t.Fatalf("CHECK again went to %s", a.url)
	}
	// the failed SetupIntent is over: the new attempt is a new one, which the shopper passes
	si = px.Setups()
	if len(si) != 3 || !px.Authenticate(si[2].ID, true) {
		t.Fatalf("after a failed authentication the retry should make a new SetupIntent: %+v", si)
	}
	a = do(t, b2, "GET", e.srv.URL+"/link/creditcard/return?o="+s2.o, nil, nil)
	if a.url.Path != "/link/creditcard/result" {
		t.Fatalf("CHECK after authentication: %s\n%.1500s", a.url, a.body)
	}
	if ok, _ := successes(t, e, "123456", "CK-1"); ok != 1 || len(px.Intents()) != 0 {
		t.Fatalf("CHECK: %d successes, %d payment intents", ok, len(px.Intents()))
	}
}

// TestStripeAnotherCardOnHostedPage: on the hosted page the shopper's first card is declined and
// they pay the same order with another card: it is charged (not card A's decline replayed under
// the order's key, nor Stripe's idempotency_error → ER042), once.
func TestStripeAnotherCardOnHostedPage(t *testing.T) {
	e, px := stripeEnv(t)
	b := e.browser()
	s := hidden(t, do(t, b, "POST", e.srv.URL+"/link/creditcard", orderForm("cod", "HP-1"), nil).body)
	a := do(t, b, "POST", e.srv.URL+"/link/creditcard/pay", cardForm(s, "4000000000000002"), nil)
	mustContain(t, a.body, "ER030", `id="cardform"`)
	a = do(t, b, "POST", e.srv.URL+"/link/creditcard/pay", cardForm(hidden(t, a.body), "4242424242424242"), nil)
	if a.url.Path != "/link/creditcard/result" {
		t.Fatalf("card B after card A's decline went to %s:\n%.2000s", a.url, a.body)
	}
	mustContain(t, a.body, "お支払いが完了しました", "424242******4242")
	if ok, declined := successes(t, e, "123456", "HP-1"); ok != 1 || declined != 1 {
		t.Fatalf("payments %d ok / %d declined, want 1/1", ok, declined)
	}
	charged := 0
	for _, in := range px.Intents() {
		if in.Charged() {
			charged++
		}
	}
	if charged != 1 {
		t.Fatalf("charges at Stripe: %d, want 1", charged)
	}
	for _, c := range px.Calls() {
		if c.Method == "POST" && c.Status == 400 {
			t.Errorf("Stripe refused %s under key %s", c.Path, c.Key)
		}
	}
}
