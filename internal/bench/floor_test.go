package bench

import "testing"

// pgbench's own summary, as PostgreSQL 15's pgbench prints it: the tps figure the ratio divides by.
func TestPgbenchOutputIsParsed(t *testing.T) {
	out := []byte(`pgbench (15.20 (Debian 15.20-0+deb12u1))
transaction type: /tmp/insert.sql
scaling factor: 1
query mode: prepared
number of clients: 32
number of threads: 2
maximum number of tries: 1
duration: 8 s
number of transactions actually processed: 26464
number of failed transactions: 0 (0.000%)
latency average = 9.673 ms
initial connection time = 21.365 ms
tps = 3308.226167 (without initial connection time)
`)
	m := tpsRe.FindSubmatch(out)
	if m == nil || string(m[1]) != "3308.226167" {
		t.Fatalf("tps not found: %q", m)
	}
	if l := latRe.FindSubmatch(out); l == nil || string(l[1]) != "9.673" {
		t.Fatalf("latency not found: %q", l)
	}
}

func TestMedian(t *testing.T) {
	for _, c := range []struct {
		in   []float64
		want float64
	}{{nil, 0}, {[]float64{3}, 3}, {[]float64{5, 1, 3}, 3}, {[]float64{4, 1, 3, 2}, 2.5}} {
		if got := median(c.in); got != c.want {
			t.Errorf("median(%v) = %v, want %v", c.in, got, c.want)
		}
	}
}
