package server_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/text/encoding/japanese"

	"kessai/internal/acquirer/stripeacq"
	"kessai/internal/acquirer/stripeacq/stripetest"
	"kessai/internal/clock"
	"kessai/internal/noncard"
	"kessai/internal/server"
	"kessai/internal/store"
	"kessai/internal/testenv"
)

// Issue 17, non-card mapping: a Stripe store's convenience-store slips are konbini PaymentIntents
// and its bank transfers JP bank transfer ones; the wire answers with Stripe's payment code,
// voucher and account in the §8 shapes merchants parse; Stripe's webhooks become the later
// kickbacks (CPL, BAN_SAL with mf/nk/nkd, the opt-in expiry notice), once each, never backwards.
//
// stripe-mock validates every request's shape but answers these intents without a voucher or an
// account: the stripetest proxy answers what Stripe documents instead (constructed values named
// in stripetest), and the webhook events carry the intent as the proxy shows it then.

type receiver struct {
	URL  string
	mu   sync.Mutex
	hits []url.Values
}

func startReceiver(t *testing.T) *receiver {
	r := &receiver{}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, q *http.Request) {
		r.mu.Lock()
		r.hits = append(r.hits, q.URL.Query())
		r.mu.Unlock()
		w.Write([]byte("OK"))
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	r.URL = "http://" + ln.Addr().String()
	return r
}

func (r *receiver) count(ap, cod string) (n int, last url.Values) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, h := range r.hits {
		if h.Get("ap") == ap && h.Get("cod") == cod {
			n, last = n+1, h
		}
	}
	return n, last
}

// wait waits for one kickback ap for cod (the wire's 30 s).
func (r *receiver) wait(t *testing.T, ap, cod string) url.Values {
	t.Helper()
	for end := time.Now().Add(30 * time.Second); time.Now().Before(end); time.Sleep(50 * time.Millisecond) {
		if n, h := r.count(ap, cod); n > 0 {
			return h
		}
	}
	t.Fatalf("no %s kickback for %s; got %v", ap, cod, r.hits)
	return nil
}

// javaSplitLine is Java's String.split(","): trailing empty fields dropped.
func javaSplitLine(s string) []string {
	f := strings.Split(s, ",")
	for len(f) > 0 && f[len(f)-1] == "" {
		f = f[:len(f)-1]
	}
	return f
}

func stripeNonCard(t *testing.T) (*testenv.Srv, *stripetest.Proxy, *receiver) {
	t.Helper()
	px := stripetest.Start(t, stripetest.MockURL(t))
	rcv := startReceiver(t)
	srv := testenv.Start(t, testenv.Options{AllowPrivateKickbacks: true, Acquirer: server.AcquirerConfig{Name: "stripe", WebhookSecret: hookKey,
		Stripe: stripeacq.Config{Key: testKey, APIBase: px.URL, CallTimeout: 300 * time.Millisecond, Budget: 2 * time.Second, Attempts: 3}}})
	srv.CreateStore(t, stripeID, "本番ストア", func(s *store.Store) { s.ResultURL = rcv.URL + "/kb" })
	set := store.DefaultStoreMethods(stripeID)
	set.Methods = []string{store.MethodCard, store.MethodCVS, store.MethodBank}
	set.ExpiryNotice, set.HolidayHold = true, false
	if err := srv.DB.PutStoreMethods(context.Background(), set); err != nil {
		t.Fatal(err)
	}
	return srv, px, rcv
}

func ncPost(t *testing.T, u string, f url.Values) []byte {
	t.Helper()
	resp, err := testenv.Client.PostForm(u, f)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return b
}

func cvsOrder(cod, cv string) url.Values {
	return url.Values{"aid": {stripeID}, "jb": {"CAPTURE"}, "rt": {"1"}, "cod": {cod}, "em": {"hanako@example.jp"}, "pn": {"0312345678"},
		"am": {"2000"}, "tx": {"200"}, "sf": {"0"}, "na": {"ヤマダ ハナコ"}, "cv": {cv}, "memo": {"m1"}}
}

func bankOrder(cod string) url.Values {
	return url.Values{"aid": {stripeID}, "jb": {"CAPTURE"}, "rt": {"1"}, "cod": {cod}, "em": {"taro@example.jp"}, "pn": {"0312345678"},
		"am": {"5000"}, "tx": {"500"}, "sf": {"0"}, "nmf": {"ヤマダ タロウ"}, "po": {"150-0001"}, "memo": {"b1"}}
}

// deliver signs an event the way Stripe does and posts it; it returns the outcome Kessai reports.
func deliver(t *testing.T, base, id, typ, object string) string {
	t.Helper()
	h, b := signed(t, hookKey, time.Now(), event(id, typ, object))
	code, body := hook(t, base, h, b)
	if code != 200 {
		t.Fatalf("%s %s: %d %s", typ, id, code, body)
	}
	return body
}

func TestStripeKonbini(t *testing.T) {
	srv, px, rcv := stripeNonCard(t)
	ctx := context.Background()
	body := ncPost(t, srv.URL+"/gateway/cvs2.aspx", cvsOrder("k-1", "020"))
	line := strings.TrimSpace(string(body))
	in := px.Intents()[0]

	t.Run("cvs2.aspx answers Stripe's payment code and voucher in §8's columns", func(t *testing.T) {
		col := strings.Split(line, ",") // PHP explode(',')
		if len(col) != 14 || len(javaSplitLine(line)) < 14 {
			t.Fatalf("line %q: %d columns (Java split: %d)", line, len(col), len(javaSplitLine(line)))
		}
		if col[1] != "1" || col[2] != noncard.ApSlipIssued || col[3] != "" || col[5] != "k-1" || col[9] != "2200" {
			t.Fatalf("line %q", line)
		}
		// the EC-CUBE module splits column 12 by & and = by position: cv, no, cu
		parts := strings.Split(col[12], "&")
		if len(parts) != 3 {
			t.Fatalf("column 12 %q", col[12])
		}
		val := func(i int, name string) string {
			k, v, _ := strings.Cut(parts[i], "=")
			if k != name {
				t.Fatalf("column 12 part %d is %q, want %s", i, k, name)
			}
			u, _ := url.QueryUnescape(v)
			return u
		}
		if cv, no, cu := val(0, "cv"), val(1, "no"), val(2, "cu"); cv != "020" || no != stripetest.PaymentCode("lawson", in.SlipN()) || cu != stripetest.VoucherURL(in.ID) {
			t.Fatalf("cv %q no %q cu %q; intent %+v", cv, no, cu, in)
		}
		p, err := srv.DB.GetPayment(ctx, stripeID, col[0])
		if err != nil || p.NetRef != in.ID {
			t.Fatalf("the payment keeps the intent: %+v %v", p, err)
		}
		// the deadline Stripe was asked for is the store's: 14 days, 23:59:59 JST
		sl, _ := srv.DB.GetSlip(ctx, col[0])
		if sl.Deadline.Unix() != in.ExpiresAt || sl.Deadline.In(noncard.JST).Format("15:04:05") != "23:59:59" {
			t.Fatalf("deadline %v, Stripe's expires_at %d", sl.Deadline, in.ExpiresAt)
		}
	})
	t.Run("the same order again is the same slip, no second intent", func(t *testing.T) {
		again := strings.TrimSpace(string(ncPost(t, srv.URL+"/gateway/cvs2.aspx", cvsOrder("k-1", "020"))))
		if again != line || len(px.Intents()) != 1 {
			t.Fatalf("repeat %q (first %q), intents %d", again, line, len(px.Intents()))
		}
	})
	t.Run("a forged event is refused and moves nothing", func(t *testing.T) {
		px.PayKonbini(in.ID)
		h, b := signed(t, "whsec_forger", time.Now(), event("evt_k_forged", "payment_intent.succeeded", px.Object(in.ID)))
		if code, _ := hook(t, srv.URL, h, b); code != http.StatusBadRequest {
			t.Fatalf("forged: %d", code)
		}
		sl, _ := srv.DB.GetSlip(ctx, strings.Split(line, ",")[0])
		if sl.State != store.SlipPending {
			t.Fatalf("a forged event moved the slip: %s", sl.State)
		}
	})
	t.Run("paid at the store: CPL once, a duplicate changes nothing", func(t *testing.T) {
		obj := px.Object(in.ID)
		if out := deliver(t, srv.URL, "evt_k_paid", "payment_intent.succeeded", obj); !strings.Contains(out, `"applied"`) {
			t.Fatalf("succeeded: %s", out)
		}
		h := rcv.wait(t, noncard.ApCVSPaid, "k-1")
		if h.Get("rst") != "1" || h.Get("gid") != strings.Split(line, ",")[0] || h.Get("ta") != "2200" || h.Get("memo") != "m1" ||
			h.Get("no") != stripetest.PaymentCode("lawson", in.SlipN()) {
			t.Fatalf("CPL kickback %v", h)
		}
		if out := deliver(t, srv.URL, "evt_k_paid", "payment_intent.succeeded", obj); !strings.Contains(out, `"duplicate"`) {
			t.Fatalf("duplicate: %s", out)
		}
		// a later expiry of the same intent (out of order) moves nothing back
		if out := deliver(t, srv.URL, "evt_k_late_fail", "payment_intent.payment_failed", obj); !strings.Contains(out, "not-forward") {
			t.Fatalf("late failure: %s", out)
		}
		time.Sleep(300 * time.Millisecond) // a second notice would be out by now
		if n, _ := rcv.count(noncard.ApCVSPaid, "k-1"); n != 1 {
			t.Fatalf("CPL delivered %d times", n)
		}
		p, _ := srv.DB.GetPayment(ctx, stripeID, h.Get("gid"))
		if p.Status != store.SlipPaid || p.Captured != 2200 {
			t.Fatalf("payment %s captured %d", p.Status, p.Captured)
		}
	})
	t.Run("expired at Stripe: the expiry notice", func(t *testing.T) {
		col := strings.Split(strings.TrimSpace(string(ncPost(t, srv.URL+"/gateway/cvs2.aspx", cvsOrder("k-2", "030")))), ",")
		if col[1] != "1" {
			t.Fatalf("k-2: %v", col)
		}
		id := px.Intents()[len(px.Intents())-1].ID
		if out := deliver(t, srv.URL, "evt_k2_exp", "payment_intent.payment_failed", px.Object(id)); !strings.Contains(out, `"applied"`) {
			t.Fatalf("payment_failed: %s", out)
		}
		h := rcv.wait(t, noncard.ApCVSExpired, "k-2")
		if h.Get("rst") != "2" || h.Get("gid") != col[0] {
			t.Fatalf("expiry notice %v", h)
		}
		sl, _ := srv.DB.GetSlip(ctx, col[0])
		if sl.State != store.SlipExpired {
			t.Fatalf("slip %s", sl.State)
		}
	})
	t.Run("refusals in the wire's codes", func(t *testing.T) {
		if srv.NonCard.Reaches("010") || !srv.NonCard.Reaches("020") {
			t.Errorf("hosted pages would offer the wrong chains: Seven-Eleven %v, Lawson %v", srv.NonCard.Reaches("010"), srv.NonCard.Reaches("020"))
		}
		if b := string(ncPost(t, srv.URL+"/gateway/cvs2.aspx", cvsOrder("k-711", "010"))); b != "ER:ER160" {
			t.Errorf("Seven-Eleven is not reached by Stripe's konbini: %q", b)
		}
		f := cvsOrder("k-noem", "020")
		f.Del("em")
		if b := string(ncPost(t, srv.URL+"/gateway/cvs2.aspx", f)); b != "ER:ER059" {
			t.Errorf("konbini without e-mail: %q", b)
		}
	})
	t.Run("an answer lost at Stripe is ER990, and the same order then gets its slip", func(t *testing.T) {
		before := len(px.Intents())
		px.Inject = func(c stripetest.Call) stripetest.Fault {
			if c.Path == "/v1/payment_intents" && c.Method == "POST" {
				return "drop"
			}
			if c.Path == "/v1/payment_intents/search" {
				return "500-before"
			}
			return ""
		}
		if b := string(ncPost(t, srv.URL+"/gateway/cvs2.aspx", cvsOrder("k-lost", "080"))); b != "ER:ER990" {
			t.Fatalf("lost answer: %q", b)
		}
		px.Inject = nil
		col := strings.Split(strings.TrimSpace(string(ncPost(t, srv.URL+"/gateway/cvs2.aspx", cvsOrder("k-lost", "080")))), ",")
		if len(px.Intents()) != before+1 || col[1] != "1" {
			t.Fatalf("retry: %v, intents %d (before %d)", col, len(px.Intents()), before)
		}
		last := px.Intents()[len(px.Intents())-1]
		if !strings.Contains(col[12], "no="+stripetest.PaymentCode("ministop", last.SlipN())) {
			t.Fatalf("the retry's slip is not the intent made under the lost answer: %q", col[12])
		}
	})
}

func TestStripeBankTransfer(t *testing.T) {
	srv, px, rcv := stripeNonCard(t)
	ctx := context.Background()
	issue := func(cod string) ([]string, stripetest.Intent) {
		t.Helper()
		body := ncPost(t, srv.URL+"/gateway/bank.aspx", bankOrder(cod))
		line := strings.TrimRight(string(body), "\r\n")
		col := strings.Split(line, ",")
		if len(col) != 14 || len(javaSplitLine(line)) < 14 || col[1] != "1" || col[2] != noncard.ApBankIssued {
			t.Fatalf("bank.aspx %q", body)
		}
		return col, px.Intents()[len(px.Intents())-1]
	}

	col, in := issue("b-1")
	t.Run("bank.aspx answers Stripe's zengin account as the seven-field Shift_JIS bank string", func(t *testing.T) {
		bank, err := japanese.ShiftJIS.NewDecoder().String(col[12])
		if err != nil {
			t.Fatal(err)
		}
		f := strings.Split(bank, ".")
		want := []string{stripetest.BankCode, stripetest.BankName, stripetest.Branch(in.SlipN()), stripetest.BranchName, "普通",
			stripetest.Account(in.SlipN()), "ｽﾄﾗｲﾌﾟ．ｼﾞﾔﾊﾟﾝ(ｶ"}
		if len(f) != 7 || strings.Join(f, "|") != strings.Join(want, "|") {
			t.Fatalf("bank %q, want %v", bank, want)
		}
		sl, _ := srv.DB.GetSlip(ctx, col[0])
		if col[13] != sl.Deadline.In(noncard.JST).Format("20060102") || sl.Deadline.Sub(time.Now()) < 13*24*time.Hour {
			t.Fatalf("exp %q, deadline %v", col[13], sl.Deadline)
		}
		p, _ := srv.DB.GetPayment(ctx, stripeID, col[0])
		if p.NetRef != in.ID || in.Customer == "" {
			t.Fatalf("net ref %q, intent %+v", p.NetRef, in)
		}
	})
	t.Run("part arrives: BAN_SAL mf=2 with what arrived; the rest later moves nothing back", func(t *testing.T) {
		px.Fund(in.ID, 2000)
		if out := deliver(t, srv.URL, "evt_b1_part", "payment_intent.partially_funded", px.Object(in.ID)); !strings.Contains(out, `"applied"`) {
			t.Fatalf("partially_funded: %s", out)
		}
		h := rcv.wait(t, noncard.ApBankArrived, "b-1")
		today := time.Now().In(noncard.JST).Format("20060102")
		if h.Get("mf") != "2" || h.Get("nk") != "2000" || h.Get("nkd") != today || h.Get("gid") != col[0] || h.Get("ta") != "5500" {
			t.Fatalf("short arrival %v", h)
		}
	})
	t.Run("the rest arrives after the short notice: recorded on the payment, no second BAN_SAL", func(t *testing.T) {
		px.Fund(in.ID, 3500)
		if out := deliver(t, srv.URL, "evt_b1_rest", "payment_intent.succeeded", px.Object(in.ID)); !strings.Contains(out, `"recorded"`) {
			t.Fatalf("succeeded after partially_funded: %s", out)
		}
		sl, _ := srv.DB.GetSlip(ctx, col[0])
		if sl.State != store.SlipPaid || sl.Received != 5500 || sl.Mf != "2" {
			t.Fatalf("slip %s received %d mf %s", sl.State, sl.Received, sl.Mf)
		}
		evs, _ := srv.DB.Events(ctx, col[0])
		if last := evs[len(evs)-1]; last.Kind != noncard.TransferAgain || last.Amount != 3500 {
			t.Fatalf("timeline %+v", evs)
		}
		time.Sleep(300 * time.Millisecond)
		if n, _ := rcv.count(noncard.ApBankArrived, "b-1"); n != 1 {
			t.Fatalf("BAN_SAL delivered %d times", n)
		}
	})
	col2, in2 := issue("b-2")
	t.Run("arrived in full: BAN_SAL mf=1 once; an older partial event after it changes nothing", func(t *testing.T) {
		px.Fund(in2.ID, 1500)
		older := px.Object(in2.ID) // partially funded, delivered late
		px.Fund(in2.ID, 4000)
		if out := deliver(t, srv.URL, "evt_b2_full", "payment_intent.succeeded", px.Object(in2.ID)); !strings.Contains(out, `"applied"`) {
			t.Fatalf("succeeded: %s", out)
		}
		h := rcv.wait(t, noncard.ApBankArrived, "b-2")
		if h.Get("mf") != "1" || h.Get("nk") != "5500" || h.Get("gid") != col2[0] {
			t.Fatalf("full arrival %v", h)
		}
		if out := deliver(t, srv.URL, "evt_b2_part", "payment_intent.partially_funded", older); !strings.Contains(out, "not-forward") {
			t.Fatalf("late partial: %s", out)
		}
		if out := deliver(t, srv.URL, "evt_b2_full", "payment_intent.succeeded", px.Object(in2.ID)); !strings.Contains(out, `"duplicate"`) {
			t.Fatalf("duplicate: %s", out)
		}
		time.Sleep(300 * time.Millisecond)
		if n, _ := rcv.count(noncard.ApBankArrived, "b-2"); n != 1 {
			t.Fatalf("BAN_SAL delivered %d times", n)
		}
		sl, _ := srv.DB.GetSlip(ctx, col2[0])
		if sl.State != store.SlipPaid || sl.Mf != "1" || sl.Received != 5500 {
			t.Fatalf("slip %s mf %s received %d", sl.State, sl.Mf, sl.Received)
		}
	})
	t.Run("the merchant cancels an unpaid one: cancelled at Stripe too", func(t *testing.T) {
		col3, in3 := issue("b-3")
		if _, err := srv.NonCard.Apply(ctx, stripeID, col3[0], noncard.Cancel, 0, "test"); err != nil {
			t.Fatal(err)
		}
		for _, i := range px.Intents() {
			if i.ID == in3.ID && i.Status != "canceled" {
				t.Fatalf("intent left open at Stripe after the cancel: %s", i.Status)
			}
		}
		if out := deliver(t, srv.URL, "evt_b3_cancel", "payment_intent.canceled", px.Object(in3.ID)); !strings.Contains(out, "not-forward") {
			t.Fatalf("Stripe's canceled after Kessai's cancel: %s", out)
		}
	})
	t.Run("no word from Stripe after the deadline: Kessai asks, records what arrived, closes the rest", func(t *testing.T) {
		unpaid, inU := issue("b-4")
		short, inS := issue("b-5")
		px.Fund(inS.ID, 5000) // 500 short, its webhook never came
		kon := strings.Split(strings.TrimSpace(string(ncPost(t, srv.URL+"/gateway/cvs2.aspx", cvsOrder("k-9", "760")))), ",")
		inK := px.Intents()[len(px.Intents())-1]
		px.PayKonbini(inK.ID) // paid at 23:58, its webhook lost
		sl, _ := srv.DB.GetSlip(ctx, unpaid[0])
		// the deadline worker as it runs once the deadlines and the grace for Stripe's own word passed
		// (a service of its own on the same database, its clock past them)
		later := &noncard.Service{DB: srv.DB, Pay: srv.Pay, Net: srv.NonCard.Net, Maint: srv.NonCard.Maint,
			Clock: clock.NewFixed(sl.Deadline.Add(noncard.ProcessorGrace + time.Minute))}
		early := &noncard.Service{DB: srv.DB, Pay: srv.Pay, Net: srv.NonCard.Net, Maint: srv.NonCard.Maint,
			Clock: clock.NewFixed(sl.Deadline.Add(time.Minute))}
		if n := early.DuePass(ctx); n != 0 {
			t.Fatalf("within the grace Kessai waits for Stripe's own word; moved %d", n)
		}
		if n := later.DuePass(ctx); n != 3 {
			t.Fatalf("moved %d slips, want 3", n)
		}
		// the notices are queued at the worker's (future) clock: read from the outbox
		notice := func(gid, ap string) url.Values {
			t.Helper()
			kbs, err := srv.DB.KickbacksOf(ctx, stripeID, gid, 10)
			if err != nil {
				t.Fatal(err)
			}
			for _, k := range kbs {
				if q, _ := url.ParseQuery(k.Query); q.Get("ap") == ap {
					return q
				}
			}
			t.Fatalf("no %s notice queued for %s", ap, gid)
			return nil
		}
		if h := notice(unpaid[0], noncard.ApBankExpired); h.Get("cod") != "b-4" {
			t.Fatalf("expiry %v", h)
		}
		if h := notice(short[0], noncard.ApBankArrived); h.Get("mf") != "2" || h.Get("nk") != "5000" || h.Get("cod") != "b-5" {
			t.Fatalf("short arrival found after the deadline %v", h)
		}
		if h := notice(kon[0], noncard.ApCVSPaid); h.Get("cod") != "k-9" {
			t.Fatalf("konbini paid found after the deadline %v", h)
		}
		for _, i := range px.Intents() {
			if i.ID == inU.ID && i.Status != "canceled" {
				t.Fatalf("the expired slip's intent is still open at Stripe: %s", i.Status)
			}
		}
		// Stripe's own word arriving late changes nothing
		if out := deliver(t, srv.URL, "evt_k9_paid", "payment_intent.succeeded", px.Object(inK.ID)); !strings.Contains(out, "not-forward") {
			t.Fatalf("late succeeded: %s", out)
		}
	})
	t.Run("an event for no payment is recorded and ignored", func(t *testing.T) {
		obj := fmt.Sprintf(`{"id":"pi_elsewhere","object":"payment_intent","status":"succeeded","amount":100,"amount_received":100,"payment_method_types":["customer_balance"]}`)
		if out := deliver(t, srv.URL, "evt_elsewhere", "payment_intent.succeeded", obj); !strings.Contains(out, "no-payment") {
			t.Fatalf("unknown intent: %s", out)
		}
	})
}
