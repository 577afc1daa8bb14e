package link

import (
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"kessai/internal/store"
)

// BenchmarkHostedPageRender is the template alone: the card form page of one order.
func BenchmarkHostedPageRender(b *testing.B) {
	h := &Handler{Sandbox: true}
	st := store.NewStore("123456", "テスト商店")
	o := &store.LinkOrder{ID: strings.Repeat("A", 32), AID: st.AID, Jb: "CAPTURE", Cod: "W-1001", Am: 1980, Tx: 198, Sf: 500,
		Inm: "抹茶ラテ<script>alert(1)</script>", CSRF: strings.Repeat("B", 32)}
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, jst)
	durs := make([]time.Duration, 0, b.N)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		w := httptest.NewRecorder()
		t0 := time.Now()
		h.renderForm(w, http.StatusOK, st, o, "ja", formState{}, now)
		durs = append(durs, time.Since(t0))
	}
	b.StopTimer()
	slices.Sort(durs)
	b.ReportMetric(float64(durs[int(0.99*float64(len(durs)-1))])/float64(time.Millisecond), "p99-ms")
}
