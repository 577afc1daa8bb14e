package server_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"kessai/internal/acquirer/stripeacq"
	"kessai/internal/acquirer/stripeacq/stripetest"
	"kessai/internal/payment"
	"kessai/internal/server"
	"kessai/internal/store"
	"kessai/internal/testenv"
)

// gate holds the first proxy call it matches (its request before it takes effect, or its answer
// after) until the test releases it: one step of an interleaving, pinned.
type gate struct {
	match            func(stripetest.Call) bool
	reached, release chan struct{}
	fired            bool
}

type gates struct {
	mu sync.Mutex
	gs []*gate
}

func (g *gates) arm(match func(stripetest.Call) bool) *gate {
	x := &gate{match: match, reached: make(chan struct{}), release: make(chan struct{})}
	g.mu.Lock()
	g.gs = append(g.gs, x)
	g.mu.Unlock()
	return x
}

func (g *gates) hold(c stripetest.Call) {
	g.mu.Lock()
	var hit *gate
	for _, x := range g.gs {
		if !x.fired && x.match(c) {
			x.fired, hit = true, x
			break
		}
	}
	g.mu.Unlock()
	if hit != nil {
		close(hit.reached)
		<-hit.release
	}
}

func (x *gate) wait(t *testing.T, what string) {
	t.Helper()
	select {
	case <-x.reached:
	case <-time.After(20 * time.Second):
		t.Fatalf("never reached: %s", what)
	}
}

// raceServers starts n Kessai instances on one database (two need PostgreSQL) behind one proxy,
// with timeouts long enough for a held call to be released before the client gives up.
func raceServers(t *testing.T, px *stripetest.Proxy, n int) []*testenv.Srv {
	t.Helper()
	acq := server.AcquirerConfig{Name: "stripe", WebhookSecret: hookKey,
		Stripe: stripeacq.Config{Key: testKey, APIBase: px.URL, CallTimeout: 8 * time.Second, Budget: 15 * time.Second, Attempts: 3}}
	first := testenv.Start(t, testenv.Options{Acquirer: acq})
	first.CreateStore(t, stripeID, "本番ストア", nil)
	srvs := []*testenv.Srv{first}
	for i := 1; i < n; i++ {
		cfg := first.Config
		srvs = append(srvs, testenv.Start(t, testenv.Options{Acquirer: acq, Store: &cfg, VaultKey: first.Key}))
	}
	return srvs
}

// reconcileNow makes every pending reconciliation due at once (ReconcileGrace is an hour in these
// tests, so the reconciler runs only when an interleaving asks for it).
func reconcileNow(t *testing.T, db *store.DB) {
	t.Helper()
	if err := db.Write(context.Background(), func(tx *store.Tx) error {
		_, err := tx.Exec(`UPDATE acquirer_voids SET next_at = 0 WHERE status = 'pending'`)
		return err
	}); err != nil {
		t.Fatal(err)
	}
}

// TestStripeReconcilerRaceWithRetry: a charge's answer is lost (ER990) and the merchant retries
// the same cod just as the reconciler looks the charge up. Each interleaving of the retry's steps
// (Stripe's replayed create, its read of the intent, its payment write) with the reconciler's
// (search by metadata, decision, read of the intent, refund) is pinned with the proxy; whatever
// the order, the charge ends recorded by exactly one payment or voided — never both, never
// neither — and the merchant, retrying the same cod while answered ER990, ends with exactly one
// charge. On PostgreSQL (KESSAI_TEST_PG) two instances share the database, each with its void
// worker, so the reconciler may run on either.
func TestStripeReconcilerRaceWithRetry(t *testing.T) {
	old := payment.ReconcileGrace
	payment.ReconcileGrace = time.Hour
	t.Cleanup(func() { payment.ReconcileGrace = old })
	px := stripetest.Start(t, stripetest.MockURL(t))
	n := 1
	if testenv.Postgres() {
		n = 2
	}
	srvs := raceServers(t, px, n)
	retrySrv, db := srvs[0], srvs[0].DB

	var mu sync.Mutex
	lose := "" // the cod whose creates are cut, with the search down: ER990
	px.Inject = func(c stripetest.Call) stripetest.Fault {
		mu.Lock()
		defer mu.Unlock()
		if lose == "" {
			return ""
		}
		if c.Path == "/v1/payment_intents/search" {
			return "500-before"
		}
		if c.Method == "POST" && c.Path == "/v1/payment_intents" && strings.Contains(c.Form.Get("metadata[kessai_key]"), "/"+lose+"/") {
			return "drop"
		}
		return ""
	}
	g := &gates{}
	px.Answered = g.hold
	inject := px.Inject
	px.Inject = func(c stripetest.Call) stripetest.Fault {
		f := inject(c)
		if c.Method == "POST" && c.Path == "/v1/refunds" {
			g.hold(Call(c, "before-refund"))
		}
		return f
	}

	intentOf := func(cod string) string {
		for _, in := range px.Intents() {
			if strings.Contains(in.Key, "/"+cod+"/") {
				return in.ID
			}
		}
		return ""
	}
	isGet := func(id string) func(stripetest.Call) bool {
		return func(c stripetest.Call) bool { return c.Method == "GET" && c.Path == "/v1/payment_intents/"+id }
	}
	search := func(c stripetest.Call) bool { return c.Path == "/v1/payment_intents/search" }
	refund := func(c stripetest.Call) bool { return c.Method == "before-refund" }

	type step struct {
		name string
		// run plays the interleaving: retry() is the merchant's retry of the same cod (its
		// answer); reconcile() makes the reconciler due now.
		run func(t *testing.T, id string, retry func() []string, reconcile func()) []string
	}
	steps := []step{
		{"retry, then reconciler", func(t *testing.T, id string, retry func() []string, reconcile func()) []string {
			r := retry()
			reconcile()
			return r
		}},
		{"reconciler voids, then retry", func(t *testing.T, id string, retry func() []string, reconcile func()) []string {
			reconcile()
			eventually(t, "the reconciler voids the lost charge", func() bool { return !charged1(px, id) })
			return retry()
		}},
		{"retry read the intent, reconciler voids, retry writes", func(t *testing.T, id string, retry func() []string, reconcile func()) []string {
			x := g.arm(isGet(id))
			out := make(chan []string, 1)
			go func() { out <- retry() }()
			x.wait(t, "the retry's read of the intent")
			reconcile()
			eventually(t, "the reconciler voids the charge the retry has read", func() bool { return !charged1(px, id) })
			close(x.release)
			return <-out
		}},
		{"reconciler decided, retry runs, reconciler voids", func(t *testing.T, id string, retry func() []string, reconcile func()) []string {
			x := g.arm(isGet(id))
			reconcile()
			x.wait(t, "the reconciler's read of the intent")
			r := retry()
			close(x.release)
			return r
		}},
		{"reconciler about to refund, retry runs", func(t *testing.T, id string, retry func() []string, reconcile func()) []string {
			x := g.arm(refund)
			reconcile()
			x.wait(t, "the reconciler's refund")
			r := retry()
			close(x.release)
			return r
		}},
		{"reconciler searched, retry runs, reconciler decides", func(t *testing.T, id string, retry func() []string, reconcile func()) []string {
			x := g.arm(search)
			reconcile()
			x.wait(t, "the reconciler's search")
			r := retry()
			close(x.release)
			return r
		}},
	}
	// unpinned: the retry and the reconciler let loose at the same moment, several times (on
	// PostgreSQL their claims meet in the database, from two instances)
	for k := 0; k < 6; k++ {
		steps = append(steps, step{fmt.Sprintf("together %d", k), func(t *testing.T, id string, retry func() []string, reconcile func()) []string {
			out := make(chan []string, 1)
			go func() { out <- retry() }()
			time.Sleep(time.Duration(k) * 40 * time.Millisecond)
			reconcile()
			return <-out
		}})
	}
	for i, sc := range steps {
		t.Run(sc.name, func(t *testing.T) {
			cod := fmt.Sprintf("race-%d", i)
			mu.Lock()
			lose = cod
			mu.Unlock()
			if r := charge(t, retrySrv.URL, cod, "4242424242424242", "CAPTURE"); strings.Join(r, ",") != "ER:ER990" {
				t.Fatalf("every answer cut: %v, want ER:ER990", r)
			}
			mu.Lock()
			lose = ""
			mu.Unlock()
			id := intentOf(cod)
			if id == "" || !charged1(px, id) {
				t.Fatalf("the lost charge should hold at Stripe: %+v", px.Intents())
			}
			// the retry goes to the first instance; the reconciler (any instance's void worker)
			// is made due through the last one's connection
			reconcile := func() { reconcileNow(t, srvs[len(srvs)-1].DB) }
			retry := func() []string { return charge(t, retrySrv.URL, cod, "4242424242424242", "CAPTURE") }
			r := sc.run(t, id, retry, reconcile)
			// the merchant keeps retrying the same cod while the answer is ER990
			for tries := 0; strings.Join(r, ",") == "ER:ER990" && tries < 20; tries++ {
				reconcile()
				time.Sleep(300 * time.Millisecond)
				r = retry()
			}
			if len(r) < 2 || r[1] != "1" {
				t.Fatalf("the merchant's retries of %s never succeeded: %v", cod, r)
			}
			// let every reconciliation finish, then read the books
			eventually(t, "no reconciliation pending", func() bool {
				reconcileNow(t, db)
				pending, err := db.PendingVoids(context.Background())
				return err == nil && pending == 0
			})
			held := 0
			for _, in := range px.Intents() {
				if !strings.Contains(in.Key, "/"+cod+"/") {
					continue
				}
				recorded := 0
				rows, err := db.Query(context.Background(), `SELECT rst FROM payments WHERE net_ref = ?`, in.ID)
				if err != nil {
					t.Fatal(err)
				}
				for rows.Next() {
					var rst string
					rows.Scan(&rst)
					if rst == "1" {
						recorded++
					}
				}
				rows.Close()
				if in.Charged() {
					held++
				}
				switch {
				case in.Charged() && recorded != 1:
					t.Errorf("intent %s holds money but is recorded by %d payments", in.ID, recorded)
				case !in.Charged() && recorded != 0:
					t.Errorf("intent %s was voided (%s, refunded %d) yet a payment records it as paid", in.ID, in.Status, in.Refunded)
				}
			}
			if held != 1 {
				t.Errorf("order %s holds %d charges at Stripe, want exactly 1", cod, held)
			}
			p, err := db.GetPayment(context.Background(), stripeID, r[0])
			if err != nil || !charged1(px, p.NetRef) {
				t.Errorf("the answered payment %s (%v) is not a charge held at Stripe", r[0], err)
			}
		})
	}
}

// Call marks a proxy call with a pseudo-method, so a gate can tell a request held before it took
// effect from an answer held after.
func Call(c stripetest.Call, method string) stripetest.Call {
	c.Method = method
	return c
}

func charged1(px *stripetest.Proxy, ref string) bool {
	if i := strings.LastIndex(ref, ":"); i >= 0 {
		ref = ref[i+1:]
	}
	for _, in := range px.Intents() {
		if in.ID == ref {
			return in.Charged()
		}
	}
	return false
}
