package store

import (
	"testing"
	"time"
)

// The linger decision on synthetic times: the writer waits for company only while writes arrive
// faster than one per window, and never on a rate the load no longer has.
func TestArrivalsExpectOnlyAtTheLingeringRate(t *testing.T) {
	t0 := time.Unix(1_800_000_000, 0)
	const window = 500 * time.Microsecond // at least 2,000 writes/s to expect one within it
	steady := func(perWindow int) (*arrivals, time.Time) {
		var a arrivals
		now := t0
		for w := 0; w < 3; w++ { // three rate windows of batches of 5 writes
			for i := 0; i < perWindow/5; i++ {
				a.add(5, now)
				now = now.Add(rateWindow / time.Duration(perWindow/5))
			}
		}
		return &a, now
	}
	var fresh arrivals
	if fresh.expects(t0, window) {
		t.Fatal("no rate known yet, and it expects a write")
	}
	if a, now := steady(200); !a.expects(now, window) { // 4,000/s
		t.Fatalf("4,000 writes/s (rate %.0f/s): expected another write within %v", a.rate, window)
	}
	if a, now := steady(50); a.expects(now, window) { // 1,000/s: 0.5 expected in the window
		t.Fatalf("1,000 writes/s (rate %.0f/s): should not wait", a.rate)
	}
	a, now := steady(200)
	if a.expects(now.Add(rateWindow), window) {
		t.Fatal("a whole rate window without a write, and it still expects one on the burst's rate")
	}
	if a.expects(now.Add(rateWindow), 0) {
		t.Fatal("a zero window expects nothing")
	}
}
