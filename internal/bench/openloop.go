package bench

import (
	"context"
	"fmt"
	"io"
	"math"
	"net/http"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// openDrain is how long an open-loop run waits, after its schedule ends, for the requests still in
// flight; those unanswered by then are cancelled and counted as errors ("unfinished"), not dropped.
const openDrain = 5 * time.Second

// runOpen offers cfg.Rate requests per second whatever the server does (open loop).
//
// The schedule is fixed in advance: request k is due at start + k/Rate, for every k due before the
// run's end (and below cfg.Requests). cfg.Clients workers take the requests in order; a worker that
// takes one before its due time sleeps until then. Each latency runs from the due time to the
// answer, so when the server falls behind, the time a request spends waiting — for the server, or
// for a worker while all of them are busy — is part of its latency, and the requests are not
// spread out to match the server's pace (no coordinated omission). The report says how many
// requests found every worker busy (Late), the longest wait (MaxLag) and how many were due but
// never sent before the schedule ended (Behind): the offered load fell short of the target by
// exactly that much, and the report says so instead of quietly measuring a lighter load. (Those
// are not sent after the end, so that a run stays bounded; their latency is not in the figures.)
func runOpen(ctx context.Context, cfg Config, client *http.Client) (*Report, error) {
	due := int64(math.Ceil(cfg.Duration.Seconds() * cfg.Rate))
	if due > cfg.Requests {
		due = cfg.Requests
	}
	span := min(cfg.Duration, time.Duration(float64(due)/cfg.Rate*float64(time.Second)))
	// the schedule starts a moment from now, so that the workers are waiting for the first
	// requests rather than finding them already due
	start := time.Now().Add(20 * time.Millisecond)
	end := start.Add(cfg.Duration)
	at := func(k int64) time.Time { return start.Add(time.Duration(float64(k) * float64(time.Second) / cfg.Rate)) }

	schedCtx, cancelSched := context.WithDeadline(ctx, end)
	defer cancelSched()
	reqCtx, cancelReq := context.WithDeadline(ctx, end.Add(openDrain))
	defer cancelReq()

	if cfg.OnTick != nil {
		go everySecond(schedCtx, start, cfg.OnTick)
	}

	var next, sent, ok, httpN, late atomic.Int64
	var mu sync.Mutex
	errs := map[string]int64{}
	lat := make([][]time.Duration, cfg.Clients)
	lags := make([]time.Duration, cfg.Clients)
	var wg sync.WaitGroup
	for w := 0; w < cfg.Clients; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			timer := time.NewTimer(time.Hour)
			defer timer.Stop()
			for {
				k := next.Add(1) - 1
				if k >= due {
					return
				}
				t0 := at(k)
				if wait := time.Until(t0); wait > 0 {
					// a free worker waits for the due time (which is before the end: a timer
					// that fires a little after the end still sends)
					timer.Reset(wait)
					select {
					case <-timer.C:
					case <-ctx.Done():
						return
					}
				} else {
					late.Add(1) // every worker was busy when it fell due
					if !time.Now().Before(end) {
						return // taken up only after the schedule ended: unsent, counted as Behind
					}
				}
				if ctx.Err() != nil {
					return
				}
				now := time.Now()
				if lag := now.Sub(t0); lag > lags[w] {
					lags[w] = lag
				}
				sent.Add(1)
				base := "http://" + cfg.Addrs[int(k)%len(cfg.Addrs)]
				code, calls, err := one(reqCtx, client, base, cfg, fmt.Sprintf("%s-o%d", cfg.RunID, k), w, int(k))
				d := time.Since(t0)
				httpN.Add(int64(calls))
				if err != nil {
					if ctx.Err() != nil {
						return // the caller gave up on the run
					}
					code = "transport: " + shortErr(err)
					if reqCtx.Err() != nil {
						code = "unfinished" // still unanswered openDrain after the schedule ended
					}
				}
				if code == "" {
					ok.Add(1)
					lat[w] = append(lat[w], d)
				} else {
					mu.Lock()
					errs[code]++
					mu.Unlock()
				}
			}
		}(w)
	}
	wg.Wait()
	el := time.Since(start)
	r := &Report{Scenario: cfg.Scenario, Clients: cfg.Clients, Elapsed: el, OK: ok.Load(), Errors: errs, HTTPRequest: httpN.Load(),
		OpenLoop: true, Target: cfg.Rate, Due: due, Late: late.Load(), Behind: due - sent.Load()}
	r.percentiles(lat)
	for _, l := range lags {
		r.MaxLag = max(r.MaxLag, l)
	}
	r.PerSecond = float64(r.OK) / el.Seconds()
	r.HTTPPerSec = float64(r.HTTPRequest) / el.Seconds()
	if span > 0 {
		r.Offered = float64(sent.Load()) / span.Seconds()
	}
	return r, nil
}

// printOpen writes the open-loop part of a report on one line.
func (r *Report) printOpen(w io.Writer) {
	fmt.Fprintf(w, "open-loop target=%.0f/s offered=%.1f/s due=%d late=%d behind=%d max-lag=%s\n",
		r.Target, r.Offered, r.Due, r.Late, r.Behind, ms(r.MaxLag))
}

// OpenLine is an open-loop run on one line, for the side-by-side runs (Floor): its keys differ
// from Print's, so that what reads Print's lines does not mistake it for a closed-loop run.
func (r *Report) OpenLine() string {
	return fmt.Sprintf("open-loop scenario=%s workers=%d target=%.0f/s offered=%.1f/s done=%.0f/s ok=%d p50=%s p95=%s p99=%s max=%s late=%d behind=%d max-lag=%s errors=%s",
		r.Scenario, r.Clients, r.Target, r.Offered, r.PerSecond, r.OK, ms(r.P50), ms(r.P95), ms(r.P99), ms(r.Max), r.Late, r.Behind, ms(r.MaxLag), r.errorList())
}

func (r *Report) errorList() string {
	if len(r.Errors) == 0 {
		return "none"
	}
	keys := make([]string, 0, len(r.Errors))
	for k := range r.Errors {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for i, k := range keys {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, "%s:%d", k, r.Errors[k])
	}
	return b.String()
}
