package gateway_test

import (
	"net/http/httptest"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"kessai/internal/server"
	"kessai/internal/testenv"
)

// cpuTime is the process's CPU time so far (user + system), every goroutine included: the
// group-commit writer, SQLite, the handlers and the garbage collector.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkCaptureCPU runs durable CAPTURE rt=1 payments through the whole server in process
// (middleware, parsing, maintenance gate, card checks, vault, group commit on SQLite with
// synchronous=FULL, result line), 32 at a time, without the network. Besides ns/op it reports
// cpu-ns/op, the process's CPU time per payment: that figure barely moves when other work shares
// the machine, so it is the one to compare before and after a change to the hot path (issue 18).
func BenchmarkCaptureCPU(b *testing.B) {
	if os.Getenv("KESSAI_BENCH_DEFAULT_GC") == "" {
		server.TuneGC() // as kessai serve runs (set KESSAI_BENCH_DEFAULT_GC=1 for Go's defaults)
	}
	s := testenv.Start(b, testenv.Options{})
	s.CreateStore(b, aid, "bench", nil)
	h := s.Handler()
	var n atomic.Int64
	form := func() string {
		i := n.Add(1)
		return url.Values{"aid": {aid}, "jb": {"CAPTURE"}, "rt": {"1"}, "cod": {"b" + strconv.FormatInt(i, 10)}, "am": {"1000"},
			"tx": {"100"}, "sf": {"0"}, "cn": {"4111111111111111"}, "ed": {"2812"}, "cvv": {"123"}, "fn": {"TARO"},
			"ln": {"YAMADA"}, "em": {"bench@example.com"}}.Encode()
	}
	b.SetParallelism(16) // 32 concurrent payments on two cores
	b.ReportAllocs()
	b.ResetTimer()
	c0 := cpuTime()
	var mu sync.Mutex
	durs := make([]time.Duration, 0, b.N)
	b.RunParallel(func(pb *testing.PB) {
		var mine []time.Duration
		defer func() {
			mu.Lock()
			durs = append(durs, mine...)
			mu.Unlock()
		}()
		for pb.Next() {
			t0 := time.Now()
			r := httptest.NewRequest("POST", "/gateway/gateway.aspx", strings.NewReader(form()))
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			r.RemoteAddr = "127.0.0.1:1234"
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			mine = append(mine, time.Since(t0))
			if body := w.Body.String(); !strings.HasPrefix(body, "") || strings.Count(body, ",") < 13 || strings.Split(body, ",")[1] != "1" {
				b.Fatalf("CAPTURE answered %q", body)
			}
		}
	})
	b.StopTimer()
	b.ReportMetric(float64(cpuTime()-c0)/float64(b.N), "cpu-ns/op")
	slices.Sort(durs)
	if len(durs) > 0 {
		b.ReportMetric(float64(durs[len(durs)*99/100])/1e6, "p99-ms")
	}
}
