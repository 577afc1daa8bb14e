package autocharge_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"kessai/internal/acquirer"
	"kessai/internal/autocharge"
	"kessai/internal/maintenance"
	"kessai/internal/payment"
	"kessai/internal/store"
	"kessai/internal/testenv"
)

// TestMaintenanceWindowDefersCharge: a charge due at 03:00 JST on 2020-07-22, inside the
// 02:55–04:30 window, runs once, at the window's end.
func TestMaintenanceWindowDefersCharge(t *testing.T) {
	e := newEnv(t, jst(t, "2020-07-21 12:00"))
	e.svc.ChargeAt = 3 * time.Hour
	w, err := maintenance.WallWindow("2020-07-22", "02:55", "04:30", "")
	if err != nil {
		t.Fatal(err)
	}
	e.maint.Replace([]maintenance.Window{w})
	acid := e.signUp(t, "mw-1", "4111111111111111", map[string]string{"actp": "4", "acam": "980", "ac4": "2020/07/22"})["acid"]
	if a := e.plan(t, acid); !a.NextAt.Equal(jst(t, "2020-07-22 03:00")) {
		t.Fatalf("due %v, want 03:00 JST", a.NextAt)
	}
	for _, at := range []string{"2020-07-22 02:50", "2020-07-22 03:00", "2020-07-22 03:30", "2020-07-22 04:29"} {
		e.clk.Set(jst(t, at))
		if o := e.runOnce(t); o.Total() != 0 {
			t.Fatalf("at %s: %+v", at, o)
		}
		if !e.run.Paused(e.clk.Now()) && at != "2020-07-22 02:50" {
			t.Fatalf("runner not paused at %s", at)
		}
	}
	e.clk.Set(jst(t, "2020-07-22 04:30"))
	if o := e.runOnce(t); o.Charged != 1 {
		t.Fatalf("after the window: %+v", o)
	}
	for _, at := range []string{"2020-07-22 04:31", "2020-07-22 12:00", "2020-08-21 23:00"} {
		e.clk.Set(jst(t, at))
		e.runOnce(t)
	}
	got := e.charges(t, acid)
	if len(got) != 1 || !got[0].At.Equal(jst(t, "2020-07-22 04:30")) || got[0].Cod != acid+"-20200722" {
		t.Fatalf("charges %+v, want one at 04:30", got)
	}
}

// TestBrandLimitedWindowHoldsOnlyThatBrand: a window refusing AMEX only, 02:55–04:30, does not
// pause the runner. A Visa plan due at 03:00 is charged at 03:00; an AMEX plan due then is held
// (its lease runs to the window's end, so no runner claims it meanwhile) and charged once at 04:30.
func TestBrandLimitedWindowHoldsOnlyThatBrand(t *testing.T) {
	e := newEnv(t, jst(t, "2020-07-21 12:00"))
	e.svc.ChargeAt = 3 * time.Hour
	w, err := maintenance.WallWindow("2020-07-22", "02:55", "04:30", "")
	if err != nil {
		t.Fatal(err)
	}
	if w.Scope, err = maintenance.ParseScope("all,brand:AMEX"); err != nil {
		t.Fatal(err)
	}
	e.maint.Replace([]maintenance.Window{w})
	plan := map[string]string{"actp": "4", "acam": "980", "ac4": "2020/07/22"}
	visa := e.signUp(t, "bw-visa", "4111111111111111", plan)["acid"]
	amexPlan := map[string]string{"actp": "4", "acam": "980", "ac4": "2020/07/22", "cvv": "1234"}
	amex := e.signUp(t, "bw-amex", "378282246310005", amexPlan)["acid"]

	e.clk.Set(jst(t, "2020-07-22 03:00"))
	if e.run.Paused(e.clk.Now()) {
		t.Fatalf("a window limited to AMEX paused every auto-charge")
	}
	if o := e.runOnce(t); o.Charged != 1 {
		t.Fatalf("at 03:00: %+v, want the Visa plan charged", o)
	}
	if got := e.charges(t, visa); len(got) != 1 || !got[0].At.Equal(jst(t, "2020-07-22 03:00")) {
		t.Fatalf("Visa charges %+v, want one at 03:00", got)
	}
	if got := e.charges(t, amex); len(got) != 0 {
		t.Fatalf("AMEX charged inside a window refusing AMEX: %+v", got)
	}
	if a := e.plan(t, amex); !a.LeaseUntil.Equal(w.End.Add(-time.Nanosecond)) {
		t.Fatalf("AMEX plan held until %v, want the window's last instant (before %v)", a.LeaseUntil, w.End)
	}
	for _, at := range []string{"2020-07-22 03:30", "2020-07-22 04:29"} {
		e.clk.Set(jst(t, at))
		if o := e.runOnce(t); o.Total() != 0 {
			t.Fatalf("at %s: %+v", at, o)
		}
	}
	e.clk.Set(jst(t, "2020-07-22 04:30"))
	if o := e.runOnce(t); o.Charged != 1 {
		t.Fatalf("after the window: %+v", o)
	}
	e.clk.Set(jst(t, "2020-07-22 12:00"))
	e.runOnce(t)
	if got := e.charges(t, amex); len(got) != 1 || !got[0].At.Equal(jst(t, "2020-07-22 04:30")) {
		t.Fatalf("AMEX charges %+v, want one at 04:30", got)
	}
}

// TestSignUpChecksTheCard: an am=0 sign-up charges nothing, but the network checks the card: a
// declined card (4000000000000002) or a wrong security code is refused at sign-up, with no plan and
// no stored card, instead of failing at its first charge weeks later.
func TestSignUpChecksTheCard(t *testing.T) {
	e := newEnv(t, jst(t, "2020-03-01 12:00"))
	for _, c := range []struct{ pan, ec string }{{"4000000000000002", "ER030"}, {"4000000000000127", "ER079"}} {
		r := result(t, e.call(t, "/gateway/gateway.aspx", signUpParams("chk-"+c.ec, c.pan, map[string]string{"actp": "4", "acam": "980"})))
		if r["rst"] != "2" || r["ec"] != c.ec || r["acid"] != "" {
			t.Fatalf("am=0 sign-up with %s: %v, want rst=2 ec=%s and no plan", c.pan, r, c.ec)
		}
	}
	var plans, cards int
	e.db.QueryRow(context.Background(), `SELECT COUNT(*) FROM autocharges`).Scan(&plans)
	e.db.QueryRow(context.Background(), `SELECT COUNT(*) FROM cards`).Scan(&cards)
	if plans != 0 || cards != 0 {
		t.Fatalf("%d plans and %d cards after refused sign-ups", plans, cards)
	}
	if r := e.signUp(t, "chk-ok", "4111111111111111", map[string]string{"actp": "4", "acam": "980"}); r["am"] != "0" {
		t.Fatalf("good card sign-up %v", r)
	}
}

// TestDeclineRetryRetryStop: a card that declines at charge time (the sandbox's 4000000000009995,
// at its credit limit, which passes the zero-amount check of an am=0 sign-up) is retried after 1 day and 2 more days;
// the kickbacks, delivered over HTTP, say 3, 3, 2, and the plan stops.
func TestDeclineRetryRetryStop(t *testing.T) {
	e := newEnv(t, jst(t, "2020-03-01 12:00"))
	e.svc.ChargeAt = 9 * time.Hour
	acid := e.signUp(t, "dec-1", "4000000000009995", map[string]string{"actp": "4", "acam": "980", "actx": "98", "ac4": "2020/03/10"})["acid"]
	steps := []struct {
		at   string
		rst  string
		next string // JST instant of the next attempt; "" when the plan stopped
	}{
		{"2020-03-10 09:00", "3", "2020-03-11 09:00"},
		{"2020-03-11 09:00", "3", "2020-03-13 09:00"},
		{"2020-03-13 09:00", "2", ""},
	}
	for i, s := range steps {
		// nothing happens before the attempt is due
		e.clk.Set(jst(t, s.at).Add(-time.Minute))
		if o := e.runOnce(t); o.Total() != 0 {
			t.Fatalf("step %d early: %+v", i, o)
		}
		e.clk.Set(jst(t, s.at))
		if o := e.runOnce(t); o.Declined != 1 {
			t.Fatalf("step %d: %+v", i, o)
		}
		hits := e.deliver(t, "/ac", i+1)
		q := hits[i]
		if q.Get("rst") != s.rst || q.Get("ec") != "ER016" || q.Get("acid") != acid || q.Get("cod") != "dec-1" ||
			q.Get("ta") != "1078" || q.Get("gid") == "" {
			t.Fatalf("step %d kickback %v, want rst=%s", i, q, s.rst)
		}
		a := e.plan(t, acid)
		if s.next != "" && (a.Status != store.ACActive || !a.NextAt.Equal(jst(t, s.next)) || a.Failures != i+1) {
			t.Fatalf("step %d: plan %s failures %d next %v", i, a.Status, a.Failures, a.NextAt.In(autocharge.JST))
		}
		if s.next == "" && a.Status != store.ACFailed {
			t.Fatalf("plan %s after the last retry, want failed", a.Status)
		}
	}
	e.clk.Set(jst(t, "2020-06-01 12:00"))
	if o := e.runOnce(t); o.Total() != 0 {
		t.Fatalf("a failed plan charged again: %+v", o)
	}
	runs, _ := e.svc.Runs(context.Background(), acid)
	if len(runs) != 3 {
		t.Fatalf("runs %+v", runs)
	}
	for i, r := range runs {
		if r.Attempt != i || r.Rst != "2" || r.Ec != "ER016" || r.Period != "20200310" {
			t.Errorf("run %d: %+v", i, r)
		}
		p, err := e.db.GetPayment(context.Background(), "123456", r.Gid)
		if err != nil || p.Acid != acid || p.Rst != "2" {
			t.Errorf("run %d payment %+v %v", i, p, err)
		}
	}
	// a stop after the automatic stop is ER024
	wantCode(t, e.svc.Stop(context.Background(), e.st, acid, "console:test"), "ER024")
}

// TestCatchUp: after the runner was down for four months it charges each missed period once,
// oldest first, in one pass.
func TestCatchUp(t *testing.T) {
	e := newEnv(t, jst(t, "2020-01-15 12:00"))
	acid := e.signUp(t, "cu-1", "4111111111111111", map[string]string{"actp": "4", "acam": "980", "ac1": "1"})["acid"]
	e.clk.Set(jst(t, "2020-05-20 08:00"))
	if o := e.runOnce(t); o.Charged != 4 {
		t.Fatalf("catch-up pass: %+v", o)
	}
	runs, _ := e.svc.Runs(context.Background(), acid)
	want := []string{"20200201", "20200301", "20200401", "20200501"}
	if len(runs) != len(want) {
		t.Fatalf("runs %+v", runs)
	}
	for i, r := range runs {
		if r.Period != want[i] || r.Rst != "1" {
			t.Errorf("run %d: %+v, want period %s", i, r, want[i])
		}
	}
	if o := e.runOnce(t); o.Total() != 0 {
		t.Fatalf("second pass: %+v", o)
	}
	if a := e.plan(t, acid); a.NextDate != "20200601" || a.Charges != 4 {
		t.Fatalf("plan next %s charges %d", a.NextDate, a.Charges)
	}
}

// TestAbandonedLease: a runner that claimed a plan and died holds it only until its lease ends;
// then another runner charges it, once.
func TestAbandonedLease(t *testing.T) {
	e := newEnv(t, jst(t, "2020-01-15 12:00"))
	acid := e.signUp(t, "al-1", "4111111111111111", map[string]string{"actp": "4", "acam": "980", "ac4": "2020/01/20"})["acid"]
	e.clk.Set(jst(t, "2020-01-20 06:00"))
	got, err := e.db.ClaimAutoCharges(context.Background(), e.clk.Now(), 10, 2*time.Minute)
	if err != nil || len(got) != 1 || got[0].Acid != acid {
		t.Fatalf("claim %v %v", got, err)
	}
	if o := e.runOnce(t); o.Total() != 0 {
		t.Fatalf("a leased plan was charged: %+v", o)
	}
	e.clk.Advance(2*time.Minute + time.Second)
	if o := e.runOnce(t); o.Charged != 1 {
		t.Fatalf("after the lease: %+v", o)
	}
	e.runOnce(t)
	if n := len(e.charges(t, acid)); n != 1 {
		t.Fatalf("%d charges", n)
	}
}

// TestTwoRunners runs two runners, each with its own database connection as two instances would
// have, against one database for a simulated year, and checks no period was charged twice or
// skipped. The second variant gives leases no effect at all, so only the database's unique keys and
// the compare-and-set on the plan keep the charges single.
func TestTwoRunners(t *testing.T) {
	for _, lease := range []time.Duration{0, -time.Hour} {
		t.Run(fmt.Sprintf("lease=%v", lease), func(t *testing.T) {
			cfg := testenv.StoreConfig(t)
			start := jst(t, "2020-01-01 12:00")
			e := newEnvAt(t, cfg, start)
			db2, err := store.Open(context.Background(), cfg)
			if err != nil {
				t.Fatal(err)
			}
			defer db2.Close()
			pay2 := payment.New(db2, e.pay.Vault, acquirer.Sandbox{}, e.clk, quiet)
			runners := []*autocharge.Runner{
				{Svc: e.svc, Batch: 4, Workers: 3, Lease: lease},
				{Svc: autocharge.New(pay2, e.clk, quiet), Batch: 5, Workers: 4, Lease: lease},
			}
			cycles := []string{"2", "3", "4", "5", "6", "7", "8"}
			days := []string{"0", "1", "15", "28", "30", "99"}
			var acids []string
			for i := 0; i < 42; i++ {
				plan := map[string]string{"actp": cycles[i%len(cycles)], "acam": fmt.Sprint(100 + i), "ac1": days[i%len(days)]}
				if i%5 == 0 {
					plan["ac4"] = start.AddDate(0, 0, i).Format("2006/01/02")
				}
				acids = append(acids, e.signUp(t, fmt.Sprintf("two-%d", i), "4111111111111111", plan)["acid"])
			}
			var outs [2]autocharge.Outcome
			end := start.AddDate(1, 0, 0)
			for e.clk.Now().Before(end) {
				e.clk.Advance(6 * time.Hour)
				var wg sync.WaitGroup
				for k, r := range runners {
					wg.Add(1)
					go func() {
						defer wg.Done()
						o, err := r.RunOnce(context.Background())
						if err != nil && !(lease < 0 && errors.Is(err, store.ErrUnavailable)) {
							t.Error(err)
						}
						outs[k].Charged += o.Charged
						outs[k].Skipped += o.Skipped
					}()
				}
				wg.Wait()
			}
			// Without leases, PostgreSQL may abort a pass on a deadlock between the two runners'
			// batches (the production runner just tries again at its next poll): settle what is
			// left, then check.
			for i := 0; i < 20; i++ {
				o, err := runners[0].RunOnce(context.Background())
				if err == nil && o.Total() == 0 {
					break
				}
			}
			t.Logf("runner outcomes: %+v", outs)
			if outs[0].Charged == 0 || outs[1].Charged == 0 {
				t.Errorf("one runner did all the work: %+v", outs)
			}
			var dup int
			if err := e.db.QueryRow(context.Background(), `SELECT COUNT(*) FROM (SELECT cod FROM payments WHERE source = 'autocharge' AND rst = '1' GROUP BY aid, cod HAVING COUNT(*) > 1) d`).Scan(&dup); err != nil || dup != 0 {
				t.Fatalf("%d periods charged twice (%v)", dup, err)
			}
			total := 0
			for _, acid := range acids {
				a := e.plan(t, acid)
				// the charged periods are exactly the schedule from the first date up to now
				want := []string{}
				d, _ := autocharge.ParseDate(a.FirstDate)
				for ; !d.At(0).After(e.clk.Now()); d = autocharge.Cycle(a.Cycle).Next(d, a.Day) {
					want = append(want, acid+"-"+d.String())
				}
				got := e.charges(t, acid)
				if len(got) != len(want) {
					t.Fatalf("plan %s (actp %d): %d charges, want %d", acid, a.Cycle, len(got), len(want))
				}
				for k := range want {
					if got[k].Cod != want[k] {
						t.Fatalf("plan %s charge %d: %s, want %s", acid, k, got[k].Cod, want[k])
					}
				}
				var runs int
				e.db.QueryRow(context.Background(), `SELECT COUNT(*) FROM autocharge_runs WHERE acid = ?`, acid).Scan(&runs)
				var kbs int
				e.db.QueryRow(context.Background(), `SELECT COUNT(*) FROM kickbacks WHERE acid = ? AND kind = 'autocharge'`, acid).Scan(&kbs)
				if runs != len(want) || kbs != len(want) || a.Charges != len(want) {
					t.Fatalf("plan %s: %d runs, %d kickbacks, %d counted, want %d", acid, runs, kbs, a.Charges, len(want))
				}
				total += len(want)
			}
			t.Logf("%d charges over %d plans, none twice", total, len(acids))
		})
	}
}
