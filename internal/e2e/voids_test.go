package e2e

import (
	"context"
	"fmt"
	"io"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"kessai/internal/acquirer"
	"kessai/internal/testenv"
	"kessai/internal/wire"
)

var raceCards = []struct{ pan, cvv string }{
	{"4111111111111111", "123"}, {"4444333322221111", "123"}, {"5555555555554444", "123"},
	{"3530111333300000", "123"}, {"378282246310005", "1234"}, {"36227206271667", "123"},
}

func gatewayPost(t *testing.T, base string, v url.Values) string {
	t.Helper()
	resp, err := testenv.Client.PostForm(base+"/gateway/gateway.aspx", v)
	if err != nil {
		t.Error(err)
		return ""
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return strings.TrimSpace(string(b))
}

// untilLedger waits until the sandbox ledger's counts satisfy ok (the void worker runs in the
// background; a void that never comes fails after 20 s).
func untilLedger(t *testing.T, l *acquirer.Ledger, what string, ok func(acquirer.Stats) bool) acquirer.Stats {
	t.Helper()
	return untilLedgerWithin(t, l, 20*time.Second, what, ok)
}

// untilLedgerWithin is untilLedger with another bound.
//
// explain, if given, adds what it says to the failure (the state behind it, for the next reader).
func untilLedgerWithin(t *testing.T, l *acquirer.Ledger, within time.Duration, what string, ok func(acquirer.Stats) bool, explain ...func() string) acquirer.Stats {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		st := l.Stats()
		if ok(st) {
			return st
		}
		if time.Now().After(deadline) {
			more := ""
			for _, e := range explain {
				more += "\n" + e()
			}
			t.Fatalf("%s: ledger %+v%s", what, st, more)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestRaceOnOneCodLeavesNoOpenAuthorisation (issue 14 item 6): 30 requests at once on one cod
// with six different cards (five of each): exactly one payment is recorded, and every other
// authorisation the network made is voided — the sandbox's open-authorisation count comes back to
// the one recorded AUTH payment (and for CAPTURE, the captured count to the one recorded sale).
func TestRaceOnOneCodLeavesNoOpenAuthorisation(t *testing.T) {
	for _, jb := range []string{"AUTH", "CAPTURE"} {
		t.Run(jb, func(t *testing.T) {
			s := testenv.Start(t, testenv.Options{})
			s.CreateStore(t, "140060", "競争", nil)
			var wg sync.WaitGroup
			answers := make([]string, 30)
			for i := range answers {
				wg.Add(1)
				go func(i int) {
					defer wg.Done()
					c := raceCards[i%len(raceCards)]
					answers[i] = gatewayPost(t, s.URL, url.Values{"aid": {"140060"}, "jb": {jb}, "rt": {"1"}, "cod": {"race-1"},
						"cn": {c.pan}, "ed": {"4012"}, "fn": {"YAMADA"}, "ln": {"TARO"}, "cvv": {c.cvv}, "am": {"1000"}, "tx": {"100"}, "sf": {"0"}})
				}(i)
			}
			wg.Wait()
			gids := map[string]bool{}
			for _, a := range answers {
				if strings.HasPrefix(a, "ER:") {
					t.Fatalf("a racing request failed: %q", a)
				}
				gids[strings.Split(a, ",")[0]] = true
			}
			var n int
			s.DB.QueryRow(context.Background(), `SELECT COUNT(*) FROM payments WHERE aid = '140060' AND rst = '1'`).Scan(&n)
			if n != 1 || len(gids) != 1 {
				t.Fatalf("%d payments recorded, %d gids answered; want 1 and 1", n, len(gids))
			}
			if jb == "AUTH" {
				st := untilLedger(t, s.Ledger, "open authorisations after the race", func(st acquirer.Stats) bool { return st.Open == 1 })
				if st.Sold != 0 || st.Voided < len(raceCards)-1 {
					t.Fatalf("ledger after an AUTH race: %+v (want 1 open, every other card voided)", st)
				}
			} else {
				st := untilLedger(t, s.Ledger, "sales after the race", func(st acquirer.Stats) bool { return st.Sold == 1 })
				if st.Open != 0 || st.Voided < len(raceCards)-1 {
					t.Fatalf("ledger after a CAPTURE race: %+v (want 1 sold, every other card voided)", st)
				}
			}
			// the network has them all; each void's record is marked done once acknowledged
			deadline := time.Now().Add(20 * time.Second)
			for {
				pv, err := s.DB.PendingVoids(context.Background())
				if err == nil && pv == 0 {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("%d voids not acknowledged (%v)", pv, err)
				}
				time.Sleep(50 * time.Millisecond)
			}
		})
	}
}

// TestSalesCancelRaceLeavesNoNetworkEffectUnaccounted (issue 14 item 6): SALES and CANCEL sent at
// once on each of 20 authorisations. Exactly one of each pair wins; the loser is refused before it
// reaches the network, so the network's state of every authorisation matches the recorded one
// (captured ↔ sold, voided ↔ voided) and none stays open.
func TestSalesCancelRaceLeavesNoNetworkEffectUnaccounted(t *testing.T) {
	s := testenv.Start(t, testenv.Options{})
	s.CreateStore(t, "140061", "取消競争", nil)
	const n = 20
	gids := make([]string, n)
	for i := range gids {
		a := gatewayPost(t, s.URL, url.Values{"aid": {"140061"}, "jb": {"AUTH"}, "rt": {"1"}, "cod": {fmt.Sprintf("sc-%d", i)},
			"cn": {"4111111111111111"}, "ed": {"4012"}, "fn": {"YAMADA"}, "ln": {"TARO"}, "cvv": {"123"}, "am": {"1000"}, "tx": {"100"}, "sf": {"0"}})
		r, err := wire.ParseResultLine(a)
		if err != nil || r.Rst != "1" {
			t.Fatalf("AUTH %d: %q", i, a)
		}
		gids[i] = r.Gid
	}
	if st := s.Ledger.Stats(); st.Open != n {
		t.Fatalf("ledger before the race: %+v", st)
	}
	type pair struct{ sales, cancel string }
	out := make([]pair, n)
	var wg sync.WaitGroup
	for i := range gids {
		wg.Add(2)
		go func(i int) {
			defer wg.Done()
			out[i].sales = gatewayPost(t, s.URL, url.Values{"aid": {"140061"}, "jb": {"SALES"}, "rt": {"0"}, "tid": {gids[i]}})
		}(i)
		go func(i int) {
			defer wg.Done()
			out[i].cancel = gatewayPost(t, s.URL, url.Values{"aid": {"140061"}, "jb": {"CANCEL"}, "rt": {"0"}, "tid": {gids[i]}})
		}(i)
	}
	wg.Wait()
	ctx := context.Background()
	for i, g := range gids {
		p, err := s.DB.GetPayment(ctx, "140061", g)
		if err != nil {
			t.Fatal(err)
		}
		net := s.Ledger.State(p.NetRef)
		switch {
		case out[i].sales == "OK" && out[i].cancel == "ER:ER033":
			if p.Status != "captured" || net != "sold" {
				t.Errorf("pair %d: SALES won, recorded %s, network %s", i, p.Status, net)
			}
		case out[i].cancel == "OK" && out[i].sales == "ER:ER032":
			if p.Status != "voided" || net != "voided" {
				t.Errorf("pair %d: CANCEL won, recorded %s, network %s", i, p.Status, net)
			}
		case out[i].sales == "OK" && out[i].cancel == "OK":
			// SALES then CANCEL one after the other: a capture refunded
			if p.Status != "refunded" {
				t.Errorf("pair %d: both OK, recorded %s", i, p.Status)
			}
		default:
			t.Errorf("pair %d: SALES %q CANCEL %q (recorded %s, network %s)", i, out[i].sales, out[i].cancel, p.Status, net)
		}
	}
	if st := s.Ledger.Stats(); st.Open != 0 {
		t.Fatalf("authorisations left open after the race: %+v", st)
	}
}
