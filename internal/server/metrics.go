package server

import (
	"kessai/internal/store"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// metrics is the server's private Prometheus registry: process and Go runtime figures (resident
// memory, goroutines — what the soak test watches), request counts by surface and status, and
// whether a maintenance window is active.
type metrics struct {
	reg      *prometheus.Registry
	requests *prometheus.CounterVec
}

func newMetrics(s *Server) *metrics {
	m := &metrics{reg: prometheus.NewRegistry()}
	m.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m.requests = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "kessai_http_requests_total",
		Help: "HTTP requests by surface and status code."}, []string{"surface", "code"})
	m.reg.MustRegister(m.requests)
	m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "kessai_maintenance_active",
		Help: "1 while a maintenance window is active."}, func() float64 {
		if s.Maint.Active(s.Cfg.Clock.Now()) != nil {
			return 1
		}
		return 0
	}))
	m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "kessai_maintenance_windows",
		Help: "Live (not cancelled) maintenance windows in the schedule."}, func() float64 { return float64(len(s.Maint.Windows())) }))
	if s.Ledger != nil {
		m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "kessai_sandbox_open_authorisations",
			Help: "Authorisations the sandbox network holds open (neither captured nor voided)."}, func() float64 { return float64(s.Ledger.Stats().Open) }))
	}
	m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "kessai_payments_outcome_unknown",
		Help: "Payments answered ER990 that this instance is still settling."}, func() float64 { return float64(s.Pay.Unsettled()) }))
	for _, c := range []struct {
		name, help string
		v          func(store.WriterStats) int64
	}{
		{"kessai_store_batches_total", "Group-committed batches (one disk flush each).", func(w store.WriterStats) int64 { return w.Batches }},
		{"kessai_store_lingered_batches_total", "Batches the writer held open up to the linger for more writes.", func(w store.WriterStats) int64 { return w.Lingered }},
		{"kessai_store_batched_writes_total", "Writes committed in those batches (payments and their follow-ups).", func(w store.WriterStats) int64 { return w.Writes }},
		{"kessai_store_linger_trials_total", "Trials in which the writer measured whether lingering raises its throughput.", func(w store.WriterStats) int64 { return w.LingerTrials }},
		{"kessai_store_linger_trials_chose_total", "Trials that found lingering paid (the writer then lingered until the next trial).", func(w store.WriterStats) int64 { return w.LingerChosen }},
	} {
		v := c.v
		m.reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{Name: c.name, Help: c.help},
			func() float64 { return float64(v(s.DB.WriterStats())) }))
	}
	m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "kessai_store_lingering",
		Help: "1 while the writer lingers for larger batches, as its last trial chose (0: it does not)."},
		func() float64 { return float64(s.DB.WriterStats().Lingering) }))
	return m
}

func (m *metrics) handler() http.Handler { return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{}) }

// surfaceOf names the surface of a path for the request counter (bounded label values).
func surfaceOf(path string) string {
	switch {
	case len(path) >= 9 && path[:9] == "/gateway/", path == "/igateway/gateway.aspx":
		return "gateway"
	case len(path) >= 10 && path[:10] == "/igateway/":
		return "link"
	case len(path) >= 6 && path[:6] == "/link/":
		return "link"
	case len(path) >= 9 && path[:9] == "/console/":
		return "console"
	case len(path) >= 10 && path[:10] == "/operator/":
		return "operator"
	case len(path) >= 12 && path[:12] == "/maintenance", len(path) >= 5 && path[:5] == "/api/":
		return "public"
	}
	return "other"
}
