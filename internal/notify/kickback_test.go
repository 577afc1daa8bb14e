package notify_test

import (
	"fmt"
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
