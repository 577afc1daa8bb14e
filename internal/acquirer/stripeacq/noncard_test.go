package stripeacq_test

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/stripe/stripe-go/v82/webhook"

	"kessai/internal/acquirer"
	"kessai/internal/acquirer/stripeacq"
	"kessai/internal/acquirer/stripeacq/stripetest"
)

var jst = time.FixedZone("JST", 9*3600)

// A convenience-store slip is a konbini PaymentIntent and a bank transfer a JP bank transfer one:
// each request is accepted by stripe-mock (it validates the shape against Stripe's OpenAPI), every
// field Kessai sends is what it meant, and every field of Stripe's answer lands in the slip.
//
// stripe-mock answers these intents with a fixture whose next_action carries no voucher and no
// account ({"type":"type"}); the proxy in stripetest answers what Stripe documents for them
// instead (constructed values: stripetest.PaymentCode, VoucherURL, BankCode …), so the mapping of
// each answer field is asserted against values the connector could not make up.
func TestStripeSlipsMappedAndAcceptedByMock(t *testing.T) {
	px := stripetest.Start(t, stripetest.MockURL(t))
	a := connector(t, px)
	ctx := context.Background()
	deadline := time.Date(2026, 12, 3, 23, 59, 59, 0, jst)

	t.Run("konbini", func(t *testing.T) {
		ans, err := a.OpenSlip(ctx, acquirer.SlipRequest{Key: "129001/c-1/cvs:2000:200:0", Account: "acct_1Store", Method: "cvs", Gid: "1000000000000012",
			Chain: "020", Amount: 2200, Name: "ヤマダ ハナコ", Email: "hanako@example.jp", Phone: "0312345678", Deadline: deadline, Description: "お茶"})
		if err != nil {
			t.Fatal(err)
		}
		pi := posts(px.Calls(), "/v1/payment_intents")
		if len(pi) != 1 {
			t.Fatalf("want one intent, got %d", len(pi))
		}
		for f, v := range map[string]string{"amount": "2200", "currency": "jpy", "confirm": "true", "payment_method_types[0]": "konbini",
			"payment_method_data[type]":                            "konbini",
			"payment_method_data[billing_details][name]":           "ヤマダ ハナコ",
			"payment_method_data[billing_details][email]":          "hanako@example.jp",
			"payment_method_data[billing_details][phone]":          "0312345678",
			"payment_method_options[konbini][expires_at]":          strconv.FormatInt(deadline.Unix(), 10),
			"payment_method_options[konbini][confirmation_number]": "0312345678",
			"metadata[kessai_key]":                                 "129001/c-1/cvs:2000:200:0", "description": "お茶"} {
			want(t, pi[0], f, v)
		}
		// the key covers every parameter (Stripe refuses one key with other parameters) and is the
		// attempt's metadata, by which a lost answer is looked up
		if pi[0].Key == "" || pi[0].Key != pi[0].Form.Get("metadata[kessai_attempt]") || pi[0].Account != "acct_1Store" {
			t.Errorf("key %q account %q", pi[0].Key, pi[0].Account)
		}
		in := px.Intents()[0]
		if ans.Ref != "acct_1Store:"+in.ID || ans.PayNo != stripetest.PaymentCode("lawson", in.SlipN()) || ans.SlipURL != stripetest.VoucherURL(in.ID) {
			t.Fatalf("answer %+v, intent %+v", ans, in)
		}
		if !ans.Deadline.Equal(deadline) {
			t.Errorf("deadline %v, want %v", ans.Deadline, deadline)
		}
		// the same order again (a retry has a new gid): the same key, the same intent, the same number
		again, err := a.OpenSlip(ctx, acquirer.SlipRequest{Key: "129001/c-1/cvs:2000:200:0", Account: "acct_1Store", Method: "cvs", Gid: "1000000000000099",
			Chain: "020", Amount: 2200, Name: "ヤマダ ハナコ", Email: "hanako@example.jp", Phone: "0312345678", Deadline: deadline, Description: "お茶"})
		if err != nil || again != ans || len(px.Intents()) != 1 {
			t.Fatalf("repeat: %+v %v, intents %d", again, err, len(px.Intents()))
		}
	})

	t.Run("JP bank transfer", func(t *testing.T) {
		ans, err := a.OpenSlip(ctx, acquirer.SlipRequest{Key: "129001/b-1/bank:5000:500:0", Method: "bank", Gid: "1000000000000020",
			Amount: 5500, Name: "ヤマダ タロウ", Email: "taro@example.jp", Deadline: deadline})
		if err != nil {
			t.Fatal(err)
		}
		cus := posts(px.Calls(), "/v1/customers")
		if len(cus) != 1 {
			t.Fatalf("a bank transfer needs its own customer: %d made", len(cus))
		}
		want(t, cus[0], "name", "ヤマダ タロウ")
		want(t, cus[0], "email", "taro@example.jp")
		pis := posts(px.Calls(), "/v1/payment_intents")
		pi := pis[len(pis)-1]
		for f, v := range map[string]string{"amount": "5500", "currency": "jpy", "confirm": "true", "payment_method_types[0]": "customer_balance",
			"payment_method_data[type]":                                                           "customer_balance",
			"payment_method_options[customer_balance][funding_type]":                              "bank_transfer",
			"payment_method_options[customer_balance][bank_transfer][type]":                       "jp_bank_transfer",
			"payment_method_options[customer_balance][bank_transfer][requested_address_types][0]": "zengin",
			"metadata[kessai_key]":                                                                "129001/b-1/bank:5000:500:0"} {
			want(t, pi, f, v)
		}
		in := px.Intents()[len(px.Intents())-1]
		if pi.Form.Get("customer") != in.Customer || in.Customer == "" {
			t.Errorf("intent's customer %q, made %q", pi.Form.Get("customer"), in.Customer)
		}
		n := in.SlipN()
		wantAcct := acquirer.VirtualAccount{BankCode: stripetest.BankCode, BankName: stripetest.BankName, BranchCode: stripetest.Branch(n),
			BranchName: stripetest.BranchName, Type: "普通", Number: stripetest.Account(n), Holder: "ｽﾄﾗｲﾌﾟ．ｼﾞﾔﾊﾟﾝ(ｶ"}
		if ans.Bank != wantAcct || ans.PayNo != stripetest.Branch(n)+stripetest.Account(n) || ans.Ref != in.ID || !ans.Deadline.IsZero() {
			t.Fatalf("answer %+v\nwant account %+v", ans, wantAcct)
		}
		if got := ans.Bank.String(); got != "0001.みずほ銀行."+stripetest.Branch(n)+".ストライプ支店.普通."+stripetest.Account(n)+".ｽﾄﾗｲﾌﾟ．ｼﾞﾔﾊﾟﾝ(ｶ" {
			t.Errorf("bank string %q", got)
		}
	})

	t.Run("refusals", func(t *testing.T) {
		_, err := a.OpenSlip(ctx, acquirer.SlipRequest{Key: "k-711", Method: "cvs", Chain: "010", Amount: 1000, Name: "ア", Email: "a@example.jp", Deadline: deadline})
		if !errors.Is(err, acquirer.ErrUnsupported) {
			t.Errorf("Seven-Eleven through konbini: %v", err)
		}
		_, err = a.OpenSlip(ctx, acquirer.SlipRequest{Key: "k-noem", Method: "cvs", Chain: "030", Amount: 1000, Name: "ア", Deadline: deadline})
		if !errors.Is(err, acquirer.ErrNeedsEmail) {
			t.Errorf("konbini without an e-mail: %v", err)
		}
	})
}

// A slip whose answers are all lost is "outcome unknown" (never a refusal), every retry under one
// key; once Stripe answers again the same order gets the intent made then, not a second one.
func TestStripeSlipOutcomeUnknown(t *testing.T) {
	px := stripetest.Start(t, stripetest.MockURL(t))
	px.Inject = func(c stripetest.Call) stripetest.Fault {
		if c.Path == "/v1/payment_intents" && c.Method == "POST" {
			return "drop"
		}
		if c.Path == "/v1/payment_intents/search" {
			return "500-before"
		}
		return ""
	}
	a := connector(t, px)
	r := acquirer.SlipRequest{Key: "129001/u-9/cvs:1000:0:0", Method: "cvs", Chain: "030", Amount: 1000, Name: "ア", Email: "a@example.jp",
		Deadline: time.Now().Add(72 * time.Hour)}
	_, err := a.OpenSlip(context.Background(), r)
	if !errors.Is(err, acquirer.ErrOutcomeUnknown) {
		t.Fatalf("every answer cut: want ErrOutcomeUnknown, got %v", err)
	}
	pi := posts(px.Calls(), "/v1/payment_intents")
	if len(pi) < 2 {
		t.Fatalf("no retry: %d calls", len(pi))
	}
	for _, c := range pi {
		if c.Key != pi[0].Key {
			t.Fatalf("retries under different keys: %q %q", pi[0].Key, c.Key)
		}
	}
	px.Inject = nil
	ans, err := a.OpenSlip(context.Background(), r)
	if err != nil || len(px.Intents()) != 1 || ans.Ref != px.Intents()[0].ID {
		t.Fatalf("the retried order: %+v %v, intents %+v", ans, err, px.Intents())
	}
}

// After the deadline a slip is read at Stripe: paid → paid; part of a transfer → what arrived;
// nothing → cancelled there (no money can arrive any more) and reported unpaid.
func TestStripeCloseSlip(t *testing.T) {
	px := stripetest.Start(t, stripetest.MockURL(t))
	a := connector(t, px)
	ctx := context.Background()
	open := func(key, method string) string {
		ans, err := a.OpenSlip(ctx, acquirer.SlipRequest{Key: key, Method: method, Chain: "080", Amount: 3000, Name: "ア", Email: "a@example.jp",
			Deadline: time.Now().Add(72 * time.Hour)})
		if err != nil {
			t.Fatal(err)
		}
		return ans.Ref
	}
	paid, short, none := open("k-paid", "cvs"), open("k-short", "bank"), open("k-none", "bank")
	px.PayKonbini(paid)
	px.Fund(short, 1000)
	if st, err := a.CloseSlip(ctx, paid); err != nil || !st.Paid || st.Received != 3000 {
		t.Errorf("paid: %+v %v", st, err)
	}
	if st, err := a.CloseSlip(ctx, short); err != nil || st.Paid || st.Received != 1000 {
		t.Errorf("short: %+v %v", st, err)
	}
	if st, err := a.CloseSlip(ctx, none); err != nil || st.Paid || st.Received != 0 {
		t.Errorf("unpaid: %+v %v", st, err)
	}
	for _, in := range px.Intents() {
		if in.ID == none && in.Status != "canceled" {
			t.Errorf("an unpaid slip past its deadline is left open at Stripe: %s", in.Status)
		}
		if in.ID == short && in.Status != "requires_action" {
			t.Errorf("a short transfer was cancelled (its money would go back): %s", in.Status)
		}
	}
}

// Webhook events of konbini and bank-transfer intents map to slip states; card events keep
// theirs.
func TestStripeSlipEventsParsed(t *testing.T) {
	const secret = "whsec_slips"
	parse := func(typ, obj string) acquirer.Event {
		t.Helper()
		body := fmt.Sprintf(`{"id":"evt_%s","object":"event","account":"acct_1S","api_version":"2025-01-27.acacia","created":%d,"type":%q,"data":{"object":%s}}`,
			typ, time.Now().Unix(), typ, obj)
		sp := webhook.GenerateTestSignedPayload(&webhook.UnsignedPayload{Payload: []byte(body), Secret: secret, Timestamp: time.Now()})
		ev, err := stripeacq.ParseEvent(sp.Payload, sp.Header, secret)
		if err != nil {
			t.Fatal(err)
		}
		return ev
	}
	bank := func(status string, remaining, received int64) string {
		return fmt.Sprintf(`{"id":"pi_b","object":"payment_intent","status":%q,"amount":5500,"amount_received":%d,"payment_method_types":["customer_balance"],
			"next_action":{"type":"display_bank_transfer_instructions","display_bank_transfer_instructions":{"amount_remaining":%d,"currency":"jpy","type":"jp_bank_transfer"}}}`,
			status, received, remaining)
	}
	konbini := `{"id":"pi_k","object":"payment_intent","status":"succeeded","amount":2200,"amount_received":2200,"payment_method_types":["konbini"]}`
	for _, c := range []struct {
		typ, obj string
		want     acquirer.Event
	}{
		{"payment_intent.succeeded", konbini, acquirer.Event{Ref: "acct_1S:pi_k", Method: "cvs", State: acquirer.SlipPaid, Received: 2200}},
		{"payment_intent.payment_failed", konbini, acquirer.Event{Ref: "acct_1S:pi_k", Method: "cvs", State: acquirer.SlipExpired}},
		{"payment_intent.succeeded", bank("succeeded", 0, 5500), acquirer.Event{Ref: "acct_1S:pi_b", Method: "bank", State: acquirer.SlipPaid, Received: 5500}},
		{"payment_intent.partially_funded", bank("requires_action", 3500, 0), acquirer.Event{Ref: "acct_1S:pi_b", Method: "bank", State: acquirer.SlipPartlyFunded, Received: 2000}},
		{"payment_intent.canceled", bank("canceled", 5500, 0), acquirer.Event{Ref: "acct_1S:pi_b", Method: "bank", State: acquirer.SlipExpired}},
		{"payment_intent.succeeded", `{"id":"pi_c","object":"payment_intent","status":"succeeded","amount":1100,"amount_received":1100,"payment_method_types":["card"]}`,
			acquirer.Event{Ref: "acct_1S:pi_c", State: "captured", Captured: 1100}},
		{"payment_intent.payment_failed", `{"id":"pi_c","object":"payment_intent","status":"requires_payment_method","amount":1100,"payment_method_types":["card"]}`,
			acquirer.Event{Ref: "acct_1S:pi_c"}},
	} {
		got := parse(c.typ, c.obj)
		c.want.ID, c.want.Kind = "evt_"+c.typ, c.typ
		if got != c.want {
			t.Errorf("%s %s:\n got %+v\nwant %+v", c.typ, c.obj[:40], got, c.want)
		}
	}
}

// The merchant's cancel (CancelSlip) is sent with reason requested_by_customer under the intent's
// own MerchantCancelKey; the deadline close (CloseSlip) with no reason under another key, so that
// Stripe's canceled event tells the two apart.
func TestStripeCancelSlipTellsStripeItIsTheMerchants(t *testing.T) {
	px := stripetest.Start(t, stripetest.MockURL(t))
	a := connector(t, px)
	ctx := context.Background()
	open := func(key string) string {
		ans, err := a.OpenSlip(ctx, acquirer.SlipRequest{Key: key, Method: "bank", Amount: 3000, Name: "ア", Email: "a@example.jp",
			Deadline: time.Now().Add(72 * time.Hour)})
		if err != nil {
			t.Fatal(err)
		}
		return ans.Ref
	}
	merchant, deadline := open("k-merchant"), open("k-deadline")
	if st, err := a.CancelSlip(ctx, merchant); err != nil || st.Paid || st.Received != 0 {
		t.Fatalf("cancel: %+v %v", st, err)
	}
	if _, err := a.CloseSlip(ctx, deadline); err != nil {
		t.Fatal(err)
	}
	for _, in := range px.Intents() {
		switch in.ID {
		case merchant:
			if in.Status != "canceled" || in.CancelReason != "requested_by_customer" || in.CancelKey != stripeacq.IdempotencyKey(merchant, stripeacq.MerchantCancelKey) {
				t.Errorf("merchant's cancel: %+v", in)
			}
		case deadline:
			if in.Status != "canceled" || in.CancelReason != "" || in.CancelKey == stripeacq.IdempotencyKey(deadline, stripeacq.MerchantCancelKey) {
				t.Errorf("deadline close: %+v", in)
			}
		}
	}
}

// payment_intent.canceled is a cancel (acquirer.SlipCancelled) only when Kessai's merchant cancel
// caused it: its reason and its request's Idempotency-Key; any other cancel, and payment_failed,
// is an expiry.
func TestStripeMerchantCancelEventParsed(t *testing.T) {
	const secret = "whsec_slips"
	parse := func(typ, obj, request string) acquirer.Event {
		t.Helper()
		body := fmt.Sprintf(`{"id":"evt_1","object":"event","account":"acct_1S","api_version":"2025-01-27.acacia","created":%d,"type":%q,"request":%s,"data":{"object":%s}}`,
			time.Now().Unix(), typ, request, obj)
		sp := webhook.GenerateTestSignedPayload(&webhook.UnsignedPayload{Payload: []byte(body), Secret: secret, Timestamp: time.Now()})
		ev, err := stripeacq.ParseEvent(sp.Payload, sp.Header, secret)
		if err != nil {
			t.Fatal(err)
		}
		return ev
	}
	intent := func(method, reason string) string {
		r := "null"
		if reason != "" {
			r = `"` + reason + `"`
		}
		return fmt.Sprintf(`{"id":"pi_x","object":"payment_intent","status":"canceled","amount":5500,"cancellation_reason":%s,"payment_method_types":[%q]}`, r, method)
	}
	ours := fmt.Sprintf(`{"id":"req_1","idempotency_key":%q}`, stripeacq.IdempotencyKey("acct_1S:pi_x", stripeacq.MerchantCancelKey))
	for _, c := range []struct {
		name, typ, obj, request, want string
	}{
		{"Kessai's merchant cancel (konbini)", "payment_intent.canceled", intent("konbini", "requested_by_customer"), ours, acquirer.SlipCancelled},
		{"Kessai's merchant cancel (bank)", "payment_intent.canceled", intent("customer_balance", "requested_by_customer"), ours, acquirer.SlipCancelled},
		{"the same reason from another request", "payment_intent.canceled", intent("customer_balance", "requested_by_customer"), `{"id":"req_2","idempotency_key":"dash-1"}`, acquirer.SlipExpired},
		{"the same reason, no request", "payment_intent.canceled", intent("konbini", "requested_by_customer"), "null", acquirer.SlipExpired},
		{"the deadline close (no reason)", "payment_intent.canceled", intent("customer_balance", ""),
			fmt.Sprintf(`{"id":"req_3","idempotency_key":%q}`, stripeacq.IdempotencyKey("acct_1S:pi_x", "slip-deadline-cancel")), acquirer.SlipExpired},
		{"Kessai's key with another reason", "payment_intent.canceled", intent("konbini", "abandoned"), ours, acquirer.SlipExpired},
		{"a konbini voucher expired unpaid", "payment_intent.payment_failed", intent("konbini", ""), "null", acquirer.SlipExpired},
	} {
		if got := parse(c.typ, c.obj, c.request); got.State != c.want || got.Ref != "acct_1S:pi_x" {
			t.Errorf("%s: %+v, want state %s", c.name, got, c.want)
		}
	}
}
