package maintenance

import (
	"sync"
	"testing"
	"time"
)

func jst(t testing.TB, s string) time.Time {
	t.Helper()
	v, err := time.Parse(time.RFC3339, s)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func mustWall(t testing.TB, date, from, to string) Window {
	t.Helper()
	w, err := WallWindow(date, from, to, "")
	if err != nil {
		t.Fatal(err)
	}
	return w
}

func TestIndexBoundaries(t *testing.T) {
	w := mustWall(t, "2020-07-22", "02:55", "04:30")
	w.ID = 7
	ix := NewIndex([]Window{w})
	for _, c := range []struct {
		at   string
		want bool
	}{
		{"2020-07-22T02:54:59+09:00", false},
		{"2020-07-22T02:55:00+09:00", true},
		{"2020-07-22T04:29:59+09:00", true},
		{"2020-07-22T04:30:00+09:00", false},
		{"2020-07-21T18:00:00Z", true},
	} {
		got := ix.Refused(jst(t, c.at), OpCapture, "", "") != nil
		if got != c.want {
			t.Errorf("at %s refused=%v, want %v", c.at, got, c.want)
		}
	}
	if n := ix.Next(jst(t, "2020-07-01T00:00:00+09:00")); n == nil || n.ID != 7 {
		t.Errorf("next window not found: %v", n)
	}
	if n := ix.Next(jst(t, "2020-07-22T03:00:00+09:00")); n != nil {
		t.Errorf("next after the only window's start: %v", n)
	}
}

func TestIndexMidnightAndScope(t *testing.T) {
	night := mustWall(t, "2021-03-10", "22:30", "05:00")
	if got := night.End.Sub(night.Start); got != 6*time.Hour+30*time.Minute {
		t.Fatalf("midnight window lasts %s", got)
	}
	cancelOnly := mustWall(t, "2021-04-10", "01:00", "02:00")
	cancelOnly.Scope = Scope{Ops: OpCancel}
	jcb := mustWall(t, "2021-05-10", "01:00", "02:00")
	jcb.Scope = Scope{Ops: AllPayments, Brands: []string{"JCB"}}
	cancelled := mustWall(t, "2021-06-10", "01:00", "02:00")
	cancelled.Status = StatusCancelled
	ix := NewIndex([]Window{night, cancelOnly, jcb, cancelled})

	if ix.Refused(jst(t, "2021-03-11T04:59:00+09:00"), OpCapture, "", "") == nil {
		t.Error("window crossing midnight not active the next morning")
	}
	at := jst(t, "2021-04-10T01:30:00+09:00")
	if ix.Refused(at, OpCancel, "", "") == nil {
		t.Error("cancel-only window lets CANCEL through")
	}
	if ix.Refused(at, OpCapture, "", "") != nil {
		t.Error("cancel-only window refuses CAPTURE")
	}
	at = jst(t, "2021-05-10T01:30:00+09:00")
	if ix.Refused(at, OpCapture, "card", "VISA") != nil {
		t.Error("JCB-only window refuses a Visa card")
	}
	if ix.Refused(at, OpCapture, "card", "JCB") == nil {
		t.Error("JCB-only window lets JCB through")
	}
	if ix.Refused(jst(t, "2021-06-10T01:30:00+09:00"), OpCapture, "", "") != nil {
		t.Error("cancelled window still refuses")
	}
}

func TestIndexConcurrentReplace(t *testing.T) {
	a := mustWall(t, "2020-01-23", "02:55", "04:30")
	ix := NewIndex([]Window{a})
	var wg sync.WaitGroup
	at := jst(t, "2020-01-23T03:00:00+09:00")
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 20000; i++ {
				if ix.Refused(at, OpCapture, "", "") == nil {
					t.Error("window vanished during replace")
					return
				}
			}
		}()
	}
	for i := 0; i < 2000; i++ {
		ix.Replace([]Window{a})
	}
	wg.Wait()
}

func bigSchedule(n int) []Window {
	base := time.Date(2020, 1, 1, 17, 55, 0, 0, time.UTC)
	ws := make([]Window, n)
	for i := range ws {
		s := base.Add(time.Duration(i) * 26 * time.Hour)
		ws[i] = Window{ID: int64(i + 1), Start: s, End: s.Add(95 * time.Minute), Zone: DefaultZone, Scope: Scope{Ops: DefaultScope}}
	}
	return ws
}

// BenchmarkRefused measures the per-request cost of the maintenance lookup over 10,000 windows.
func BenchmarkRefused(b *testing.B) {
	ws := bigSchedule(10000)
	ix := NewIndex(ws)
	probes := make([]time.Time, 1024)
	for i := range probes {
		probes[i] = ws[(i*37)%len(ws)].Start.Add(time.Duration(i%3-1) * 50 * time.Minute)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		ix.Refused(probes[i&1023], OpCapture, "", "")
	}
}

// BenchmarkNext measures the "next window after t" lookup over 10,000 windows.
func BenchmarkNext(b *testing.B) {
	ws := bigSchedule(10000)
	ix := NewIndex(ws)
	t0 := ws[5000].Start
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		ix.Next(t0)
	}
}
