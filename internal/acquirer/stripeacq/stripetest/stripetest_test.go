package stripetest_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"kessai/internal/acquirer/stripeacq/stripetest"
)

type answer struct {
	status   int
	replayed bool
	body     map[string]any
}

func send(t *testing.T, px *stripetest.Proxy, path, key string, f url.Values) answer {
	t.Helper()
	req, _ := http.NewRequest("POST", px.URL+path, strings.NewReader(f.Encode()))
	req.SetBasicAuth("sk_test_123", "")
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Idempotency-Key", key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	a := answer{status: resp.StatusCode, replayed: resp.Header.Get("Idempotent-Replayed") == "true"}
	if err := json.Unmarshal(b, &a.body); err != nil {
		t.Fatalf("%s: not JSON: %s", path, b)
	}
	return a
}

func errType(a answer) (typ, msg string) {
	e, _ := a.body["error"].(map[string]any)
	typ, _ = e["type"].(string)
	msg, _ = e["message"].(string)
	return typ, msg
}

// The proxy keeps Stripe's idempotency rules: the same key with the same parameters replays the
// first answer without acting again; with other parameters, or on another endpoint, it is refused
// (400 idempotency_error) and nothing is made; a request the API refused before running saves
// nothing under its key; a key forgotten after its time acts anew.
func TestProxyIdempotencyLikeStripe(t *testing.T) {
	px := stripetest.Start(t, stripetest.MockURL(t))
	pm := func(n string) url.Values {
		return url.Values{"type": {"card"}, "card[number]": {n}, "card[exp_month]": {"12"}, "card[exp_year]": {"2030"}}
	}
	first := send(t, px, "/v1/payment_methods", "k-1", pm("4242424242424242"))
	if first.status != 200 || first.replayed {
		t.Fatalf("first use of a key: %+v", first)
	}
	again := send(t, px, "/v1/payment_methods", "k-1", pm("4242424242424242"))
	if again.status != 200 || !again.replayed || again.body["id"] != first.body["id"] {
		t.Fatalf("same key, same parameters: want the first answer replayed, got %+v", again)
	}
	// the same parameters in another order are the same parameters
	reordered := send(t, px, "/v1/payment_methods", "k-1", url.Values{"card[exp_year]": {"2030"}, "card[number]": {"4242424242424242"}, "type": {"card"}, "card[exp_month]": {"12"}})
	if reordered.status != 200 || !reordered.replayed {
		t.Fatalf("same parameters reordered: %+v", reordered)
	}
	other := send(t, px, "/v1/payment_methods", "k-1", pm("5555555555554444"))
	if typ, msg := errType(other); other.status != 400 || typ != "idempotency_error" || !strings.HasPrefix(msg, stripetest.IdempotencyMismatch) {
		t.Fatalf("same key, another card: want 400 idempotency_error, got %d %s %q", other.status, typ, msg)
	}
	elsewhere := send(t, px, "/v1/customers", "k-1", url.Values{})
	if typ, msg := errType(elsewhere); elsewhere.status != 400 || typ != "idempotency_error" || !strings.Contains(msg, "same endpoint") {
		t.Fatalf("same key, another endpoint: want 400 idempotency_error, got %d %s %q", elsewhere.status, typ, msg)
	}
	made := 0
	for _, c := range px.Calls() {
		if c.Status == 200 && !c.Replayed {
			made++
		}
	}
	if made != 1 {
		t.Fatalf("one key made %d objects, want 1", made)
	}
	// a declined charge's answer is saved like any other: the same request gets the same decline
	card := send(t, px, "/v1/payment_methods", "k-2", pm("4000000000000002"))
	pi := url.Values{"amount": {"1000"}, "currency": {"jpy"}, "confirm": {"true"}, "payment_method": {card.body["id"].(string)}}
	d1 := send(t, px, "/v1/payment_intents", "k-3", pi)
	d2 := send(t, px, "/v1/payment_intents", "k-3", pi)
	if d1.status != 402 || d2.status != 402 || !d2.replayed || len(px.Intents()) != 1 {
		t.Fatalf("a decline replayed: %+v / %+v, intents %d", d1, d2, len(px.Intents()))
	}
	// refused before it ran (stripe-mock's validation): nothing saved, the key is free
	bad := send(t, px, "/v1/customers", "k-4", url.Values{"no_such_parameter": {"x"}})
	if bad.status == 200 {
		t.Fatalf("stripe-mock took an unknown parameter: %+v", bad)
	}
	if ok := send(t, px, "/v1/customers", "k-4", url.Values{"description": {"x"}}); ok.status != 200 || ok.replayed {
		t.Fatalf("a key whose first request never ran: %+v", ok)
	}
	// a day later the key is forgotten: the same key acts anew, whatever its parameters
	px.ExpireKeys()
	if late := send(t, px, "/v1/payment_methods", "k-1", pm("5555555555554444")); late.status != 200 || late.replayed || late.body["id"] == first.body["id"] {
		t.Fatalf("an expired key: %+v", late)
	}
}
