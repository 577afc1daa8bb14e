package server

import (
	"net/http/httptest"
	"testing"
	"time"

	"kessai/internal/maintenance"
)

func schedule(n int) []maintenance.Window {
	base := time.Date(2020, 1, 1, 17, 55, 0, 0, time.UTC)
	ws := make([]maintenance.Window, n)
	for i := range ws {
		s := base.Add(time.Duration(i) * 26 * time.Hour)
		ws[i] = maintenance.Window{ID: int64(i + 1), Start: s, End: s.Add(95 * time.Minute), Zone: maintenance.DefaultZone,
			Scope: maintenance.Scope{Ops: maintenance.DefaultScope}}
	}
	return ws
}

func TestGateOperatorAllowList(t *testing.T) {
	ws := schedule(3)
	s := &Server{Maint: maintenance.NewIndex(ws)}
	p, _ := parsePrefix("192.0.2.0/24")
	s.allowOps = append(s.allowOps, p)
	in := ws[1].Start.Add(time.Minute)
	r := httptest.NewRequest("GET", "/gateway/gateway.aspx", nil)
	r.RemoteAddr = "198.51.100.7:4000"
	if s.Gate(in, maintenance.OpCapture, "", r) == nil {
		t.Fatal("a merchant passed through a window")
	}
	r.RemoteAddr = "192.0.2.9:4000"
	if s.Gate(in, maintenance.OpCapture, "", r) != nil {
		t.Fatal("an operator on the allow-list was refused")
	}
}

// BenchmarkGate is the per-request cost of the maintenance gate over a 10,000-window schedule,
// for a request outside any window (the common case) and one inside.
func BenchmarkGate(b *testing.B) {
	ws := schedule(10000)
	s := &Server{Maint: maintenance.NewIndex(ws)}
	r := httptest.NewRequest("GET", "/gateway/gateway.aspx", nil)
	for _, c := range []struct {
		name string
		at   time.Time
	}{{"outside", ws[5000].End.Add(time.Hour)}, {"inside", ws[5000].Start.Add(time.Minute)}} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				s.Gate(c.at, maintenance.OpCapture, "", r)
			}
		})
	}
}
