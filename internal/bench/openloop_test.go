package bench

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// captureServer answers every request with a successful 14-column CAPTURE line after sleep, and
// counts what it received.
func captureServer(t *testing.T, sleep time.Duration) (*httptest.Server, *atomic.Int64) {
	t.Helper()
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		r.ParseForm()
		time.Sleep(sleep)
		w.Write([]byte("1234567,1,0,," + r.Form.Get("cod") + ",1000,100,0,,,,,,\n"))
	}))
	t.Cleanup(srv.Close)
	return srv, &n
}

func openCfg(srv *httptest.Server, workers int, rate float64, d time.Duration) Config {
	return Config{Addrs: []string{strings.TrimPrefix(srv.URL, "http://")}, AID: "100001", Clients: workers, Duration: d,
		Scenario: "capture", Card: "4111111111111111", Expiry: "3001", Rate: rate, OpenLoop: true}
}

// A server that keeps up: the load offered is the rate asked for (not as fast as the server
// answers, as in the closed loop), and the latency includes the server's time.
func TestOpenLoopOffersTheRate(t *testing.T) {
	srv, got := captureServer(t, 2*time.Millisecond)
	r, err := Run(context.Background(), openCfg(srv, 16, 300, 2*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	r.Print(&out)
	t.Log(out.String())
	if !r.OpenLoop || r.Target != 300 || r.Due != 600 {
		t.Fatalf("open loop report: OpenLoop=%v Target=%v Due=%d, want true 300 600", r.OpenLoop, r.Target, r.Due)
	}
	if r.Offered < 270 || r.Offered > 330 {
		t.Errorf("offered %.1f/s, want 300 ±10%%", r.Offered)
	}
	if r.OK < 540 || r.OK > 660 || len(r.Errors) != 0 {
		t.Errorf("ok=%d errors=%v, want ~600 and none", r.OK, r.Errors)
	}
	if sent := got.Load(); sent != r.OK {
		t.Errorf("server received %d requests, report says %d ok", sent, r.OK)
	}
	if r.Behind != 0 {
		t.Errorf("behind=%d with 16 workers against a 2 ms server at 300/s", r.Behind)
	}
	if r.P50 < 2*time.Millisecond {
		t.Errorf("p50 %s is below the server's 2 ms", r.P50)
	}
	if !strings.Contains(out.String(), "open-loop target=300/s") || !strings.HasPrefix(out.String(), "scenario=capture clients=16 ") {
		t.Errorf("report lines: %q", out.String())
	}
}

// A server slower than the rate (one worker, 20 ms an answer, 200 due per second): the requests
// queue up behind it, and that queueing is in the latency — which grows with the backlog — and
// in Behind, instead of the load being lowered to the server's pace. A closed loop with the same
// worker would report ~20 ms.
func TestOpenLoopCountsTheQueueing(t *testing.T) {
	srv, _ := captureServer(t, 20*time.Millisecond)
	r, err := Run(context.Background(), openCfg(srv, 1, 200, time.Second))
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	r.Print(&out)
	t.Log(out.String())
	// at most ~50 of the 200 due requests can be sent in 1 s; each waits 15 ms longer than the one before
	if r.Due != 200 || r.Behind < 100 || r.Late < 20 {
		t.Errorf("due=%d behind=%d late=%d: want 200, the backlog reported (behind ≥ 100, late ≥ 20)", r.Due, r.Behind, r.Late)
	}
	if r.Offered > 100 {
		t.Errorf("offered %.1f/s: a 20 ms server with one worker cannot be sent more than ~50/s", r.Offered)
	}
	if r.P50 < 200*time.Millisecond || r.Max < 500*time.Millisecond || r.MaxLag < 400*time.Millisecond {
		t.Errorf("p50=%s max=%s max-lag=%s: the wait behind the slow server is not counted (want p50 ≥ 200 ms, max ≥ 500 ms, max-lag ≥ 400 ms)",
			r.P50, r.Max, r.MaxLag)
	}
	if !strings.Contains(out.String(), "behind="+strconv.FormatInt(r.Behind, 10)) {
		t.Errorf("the report does not say it fell behind: %q", out.String())
	}
}

func TestOpenLoopNeedsARate(t *testing.T) {
	if _, err := Run(context.Background(), Config{Addrs: []string{"127.0.0.1:1"}, Duration: time.Second, OpenLoop: true}); err == nil {
		t.Fatal("open loop without a rate ran")
	}
}

// The open-loop summary puts each binary's p50/p99 beside the floor's at the same load, with the
// per-round p99 ratio, in keys that the closed-loop summary's readers do not match.
func TestOpenSummaryLines(t *testing.T) {
	rep := func(p50, p99 time.Duration, behind int64) *Report {
		return &Report{OpenLoop: true, Target: 5000, Offered: 4990, P50: p50, P99: p99, Behind: behind}
	}
	floor := &openSeries{label: "floor /tmp/limitsrv", reports: []*Report{rep(time.Millisecond, 4*time.Millisecond, 0), rep(time.Millisecond, 2*time.Millisecond, 0)}}
	k := &openSeries{label: "kessai /tmp/k", reports: []*Report{rep(2*time.Millisecond, 6*time.Millisecond, 0), rep(2*time.Millisecond, 4*time.Millisecond, 3)},
		p99s: []float64{1.5, 2}}
	var out bytes.Buffer
	floor.summary(&out, nil)
	k.summary(&out, floor)
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("%d lines: %q", len(lines), out.String())
	}
	for _, want := range []string{"p50(median)=2.00ms", "p99(median)=5.00ms", "floor p50/p99(median)=1.00/3.00ms", "p99/floor(median)=1.75", "p99/floor=1.50,2.00", "behind=3"} {
		if !strings.Contains(lines[1], want) {
			t.Errorf("kessai line lacks %q: %s", want, lines[1])
		}
	}
	for _, l := range lines {
		if !strings.HasPrefix(l, "open-loop ") || strings.Contains(l, "ratio(median)=") || strings.Contains(l, "payments/s(median)=") {
			t.Errorf("line could be read as a closed-loop summary line: %s", l)
		}
	}
}
