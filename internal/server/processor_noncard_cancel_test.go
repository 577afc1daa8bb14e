package server_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"kessai/internal/acquirer/stripeacq/stripetest"
	"kessai/internal/clock"
	"kessai/internal/noncard"
	"kessai/internal/store"
	"kessai/internal/testenv"
)

// eventFrom is a Stripe event caused by an API request made under Idempotency-Key key, as Stripe
// names it in the event's request.
func eventFrom(id, typ, object, key string) string {
	return fmt.Sprintf(`{"id":%q,"object":"event","api_version":"2025-01-27.acacia","created":%d,"type":%q,"request":{"id":"req_%s","idempotency_key":%q},"data":{"object":%s}}`,
		id, time.Now().Unix(), typ, id, key, object)
}

// The merchant cancels an unpaid slip; Kessai cancels its PaymentIntent at Stripe, and Stripe
// sends payment_intent.canceled. Whichever of the two is recorded first, the slip ends CANCELLED
// (no expiry notice); an intent cancelled by anyone else, or closed at the deadline, still ends
// EXPIRED with the expiry notice.
func TestStripeMerchantCancelEndsCancelledInEitherOrder(t *testing.T) {
	srv, px, _ := stripeNonCard(t)
	ctx := context.Background()
	issue := func(method, cod string) (string, stripetest.Intent) {
		t.Helper()
		path, f := "/gateway/cvs2.aspx", cvsOrder(cod, "020")
		if method == store.MethodBank {
			path, f = "/gateway/bank.aspx", bankOrder(cod)
		}
		col := strings.Split(strings.TrimSpace(string(ncPost(t, srv.URL+path, f))), ",")
		if len(col) < 2 || col[1] != "1" {
			t.Fatalf("%s %s: %v", method, cod, col)
		}
		return col[0], px.Intents()[len(px.Intents())-1]
	}
	intent := func(id string) stripetest.Intent {
		for _, in := range px.Intents() {
			if in.ID == id {
				return in
			}
		}
		t.Fatalf("no intent %s", id)
		return stripetest.Intent{}
	}
	// canceled is Stripe's payment_intent.canceled for intent id as it is now, naming the key of
	// the request that cancelled it
	canceled := func(evID, id string) (int, string) {
		h, b := signed(t, hookKey, time.Now(), eventFrom(evID, "payment_intent.canceled", px.Object(id), intent(id).CancelKey))
		return hook(t, srv.URL, h, b)
	}
	expect := func(gid, state string) {
		t.Helper()
		sl, err := srv.DB.GetSlip(ctx, gid)
		if err != nil {
			t.Fatal(err)
		}
		p, _ := srv.DB.GetPayment(ctx, stripeID, gid)
		if sl.State != state || p.Status != state {
			t.Fatalf("slip %s, payment %s; want %s", sl.State, p.Status, state)
		}
		kbs, err := srv.DB.KickbacksOf(ctx, stripeID, gid, 10)
		if err != nil {
			t.Fatal(err)
		}
		notices := 0
		for _, k := range kbs {
			if q, _ := url.ParseQuery(k.Query); q.Get("ap") == noncard.ApCVSExpired || q.Get("ap") == noncard.ApBankExpired {
				notices++
			}
		}
		if want := map[string]int{store.SlipExpired: 1, store.SlipCancelled: 0}[state]; notices != want {
			t.Fatalf("%d expiry notices queued for a %s slip, want %d", notices, state, want)
		}
	}

	for _, method := range []string{store.MethodCVS, store.MethodBank} {
		t.Run(method+": Stripe's canceled is applied before Kessai records the merchant's cancel", func(t *testing.T) {
			gid, in := issue(method, "c-first-"+method)
			// the webhook arrives once Stripe has cancelled the intent and before Kessai has its
			// answer: it is applied first
			var once sync.Once
			var code int
			var outcome string
			px.Answered = func(c stripetest.Call) {
				if c.Method == "POST" && c.Path == "/v1/payment_intents/"+in.ID+"/cancel" {
					once.Do(func() { code, outcome = canceled("evt_first_"+method, in.ID) })
				}
			}
			out, err := srv.NonCard.Apply(ctx, stripeID, gid, noncard.Cancel, 0, "test")
			px.Answered = nil
			if code != http.StatusOK || !strings.Contains(outcome, `"applied"`) {
				t.Fatalf("Stripe's canceled during the cancel: %d %s", code, outcome)
			}
			if err != nil || out == nil || out.To != store.SlipCancelled {
				t.Fatalf("the merchant's cancel answered %+v %v, want done", out, err)
			}
			if got := intent(in.ID); got.Status != "canceled" || got.CancelReason != "requested_by_customer" {
				t.Fatalf("intent at Stripe: %s, reason %q", got.Status, got.CancelReason)
			}
			expect(gid, store.SlipCancelled)
		})
		t.Run(method+": the merchant's cancel is recorded before Stripe's canceled", func(t *testing.T) {
			gid, in := issue(method, "c-after-"+method)
			if _, err := srv.NonCard.Apply(ctx, stripeID, gid, noncard.Cancel, 0, "test"); err != nil {
				t.Fatal(err)
			}
			if code, outcome := canceled("evt_after_"+method, in.ID); code != http.StatusOK || !strings.Contains(outcome, "not-forward") {
				t.Fatalf("Stripe's canceled after the cancel: %d %s", code, outcome)
			}
			expect(gid, store.SlipCancelled)
		})
	}
	t.Run("a konbini voucher that expires at Stripe still ends expired", func(t *testing.T) {
		gid, in := issue(store.MethodCVS, "c-natural")
		if out := deliver(t, srv.URL, "evt_natural", "payment_intent.payment_failed", px.Object(in.ID)); !strings.Contains(out, `"applied"`) {
			t.Fatalf("payment_failed: %s", out)
		}
		expect(gid, store.SlipExpired)
	})
	t.Run("an intent cancelled at Stripe by someone else, even with the same reason, ends expired", func(t *testing.T) {
		gid, in := issue(store.MethodBank, "c-dashboard")
		req, _ := http.NewRequest("POST", px.URL+"/v1/payment_intents/"+in.ID+"/cancel", strings.NewReader("cancellation_reason=requested_by_customer"))
		req.SetBasicAuth("sk_test_123", "")
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Idempotency-Key", "dashboard-cancel-1")
		resp, err := testenv.Client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if got := intent(in.ID); resp.StatusCode != 200 || got.Status != "canceled" || got.CancelReason != "requested_by_customer" {
			t.Fatalf("dashboard cancel: %d, intent %+v", resp.StatusCode, got)
		}
		if code, outcome := canceled("evt_dashboard", in.ID); code != http.StatusOK || !strings.Contains(outcome, `"applied"`) {
			t.Fatalf("Stripe's canceled: %d %s", code, outcome)
		}
		expect(gid, store.SlipExpired)
	})
	t.Run("Kessai's close at the deadline, its canceled applied first, ends expired", func(t *testing.T) {
		gid, in := issue(store.MethodBank, "c-deadline")
		sl, _ := srv.DB.GetSlip(ctx, gid)
		later := &noncard.Service{DB: srv.DB, Pay: srv.Pay, Net: srv.NonCard.Net, Maint: srv.NonCard.Maint,
			Clock: clock.NewFixed(sl.Deadline.Add(noncard.ProcessorGrace + time.Minute))}
		var once sync.Once
		var outcome string
		px.Answered = func(c stripetest.Call) {
			if c.Method == "POST" && c.Path == "/v1/payment_intents/"+in.ID+"/cancel" {
				once.Do(func() { _, outcome = canceled("evt_deadline", in.ID) })
			}
		}
		later.DuePass(ctx)
		px.Answered = nil
		if !strings.Contains(outcome, `"applied"`) {
			t.Fatalf("Stripe's canceled during the deadline close: %s", outcome)
		}
		expect(gid, store.SlipExpired)
	})
}
