package notify_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"kessai/internal/store"
	"kessai/internal/testenv"
)

// TestHangingReceiverDoesNotHoldUpOthers queues many kickbacks to a receiver that never answers,
// one that answers slowly and one that answers garbage, then one to a healthy receiver: the
// healthy one is delivered promptly, and garbage with a 200 still counts as acknowledged.
func TestHangingReceiverDoesNotHoldUpOthers(t *testing.T) {
	block := make(chan struct{})
	hang := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-block }))
	defer hang.Close()
	defer close(block)
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(2 * time.Second)
		w.Write([]byte("OK"))
	}))
	defer slow.Close()
	garbage := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("\x00\xff<<not a kickback answer>>\xfe"))
	}))
	defer garbage.Close()
	var healthy atomic.Int64
	good := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { healthy.Add(1); w.Write([]byte("OK")) }))
	defer good.Close()

	s := testenv.Start(t, testenv.Options{})
	s.CreateStore(t, "111111", "Hangs", func(st *store.Store) { st.ResultURL = hang.URL + "/kb" })
	s.CreateStore(t, "222222", "Slow", func(st *store.Store) { st.ResultURL = slow.URL + "/kb" })
	s.CreateStore(t, "333333", "Garbage", func(st *store.Store) { st.ResultURL = garbage.URL + "/kb" })
	s.CreateStore(t, "444444", "Healthy", func(st *store.Store) { st.ResultURL = good.URL + "/kb" })
	pay := func(aid, cod string) {
		v := url.Values{"aid": {aid}, "jb": {"CAPTURE"}, "rt": {"0"}, "cod": {cod}, "cn": {"4111111111111111"}, "ed": {"4012"},
			"cvv": {"123"}, "am": {"1000"}, "tx": {"0"}, "sf": {"0"}}
		resp, err := testenv.Client.PostForm(s.URL+"/gateway/gateway.aspx", v)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	for i := 0; i < 80; i++ { // more than the worker pool: unbounded per receiver, these would take every worker
		pay("111111", fmt.Sprintf("h%d", i))
	}
	for i := 0; i < 4; i++ {
		pay("222222", "s"+strings.Repeat("x", i))
	}
	pay("333333", "g1")
	time.Sleep(300 * time.Millisecond)
	t0 := time.Now()
	pay("444444", "ok1")
	for healthy.Load() == 0 && time.Since(t0) < 8*time.Second {
		time.Sleep(20 * time.Millisecond)
	}
	if healthy.Load() == 0 {
		t.Fatalf("a healthy receiver's kickback waited behind hanging and slow receivers for %s", time.Since(t0))
	}
	kbs, _ := s.DB.KickbacksOf(t.Context(), "333333", "", 5)
	for i := 0; i < 50 && (len(kbs) == 0 || kbs[0].Status != store.KickbackDelivered); i++ {
		time.Sleep(50 * time.Millisecond)
		kbs, _ = s.DB.KickbacksOf(t.Context(), "333333", "", 5)
	}
	if len(kbs) != 1 || kbs[0].Status != store.KickbackDelivered {
		t.Fatalf("garbage body with HTTP 200: %+v", kbs)
	}
	t.Logf("healthy kickback delivered %s after it was owed", time.Since(t0).Round(time.Millisecond))
}

// TestKickbackToAnInternalAddressIsRefused: with the production rule (outside the sandbox, or
// RefusePrivateKickbacks), a result URL on loopback — a merchant pointing Kessai into the
// provider's network — gets no request; the attempt is logged with the refusal and retried
// later like any failure, never delivered.
func TestKickbackToAnInternalAddressIsRefused(t *testing.T) {
	var hits atomic.Int64
	inside := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.Add(1); w.Write([]byte("OK")) }))
	defer inside.Close()
	s := testenv.Start(t, testenv.Options{RefusePrivateKickbacks: true})
	s.CreateStore(t, "555555", "Points inside", func(st *store.Store) { st.ResultURL = inside.URL + "/kb" })
	v := url.Values{"aid": {"555555"}, "jb": {"CAPTURE"}, "rt": {"0"}, "cod": {"ssrf-1"}, "cn": {"4111111111111111"}, "ed": {"4012"},
		"cvv": {"123"}, "am": {"1000"}, "tx": {"0"}, "sf": {"0"}}
	resp, err := testenv.Client.PostForm(s.URL+"/gateway/gateway.aspx", v)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if strings.TrimSpace(string(b)) != "OK" {
		t.Fatalf("rt=0 payment: %q", b)
	}
	ctx := context.Background()
	var kb *store.Kickback
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		var gid string
		s.DB.QueryRow(ctx, `SELECT gid FROM payments WHERE aid = '555555' AND cod = 'ssrf-1'`).Scan(&gid)
		if ks, _ := s.DB.KickbacksOf(ctx, "555555", gid, 5); len(ks) == 1 {
			if as, _ := s.DB.Attempts(ctx, ks[0].ID); len(as) > 0 {
				kb = ks[0]
				if !strings.Contains(as[0].Error, "private") && !strings.Contains(as[0].Error, "internal") {
					t.Fatalf("attempt error %q does not say the address was refused", as[0].Error)
				}
				break
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	if kb == nil {
		t.Fatal("no refused attempt was logged")
	}
	if hits.Load() != 0 {
		t.Fatalf("the internal receiver got %d requests", hits.Load())
	}
	if kb.Status == "delivered" {
		t.Fatalf("kickback marked delivered: %+v", kb)
	}
}
