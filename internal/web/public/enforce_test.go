package public_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"

	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	ics "github.com/arran4/golang-ical"

	"kessai/internal/acquirer"
	"kessai/internal/clock"
	"kessai/internal/maintenance"
	"kessai/internal/schedule"
	"kessai/internal/store"
	"kessai/internal/testenv"
	"kessai/internal/wire"
)

const aid = "123456"

func at(t testing.TB, s string) time.Time {
	t.Helper()
	v, err := time.Parse(time.RFC3339, s)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func charge(cod string, kv ...string) url.Values {
	v := url.Values{"aid": {aid}, "jb": {"CAPTURE"}, "rt": {"1"}, "cod": {cod}, "cn": {"4111111111111111"}, "ed": {"4012"},
		"fn": {"YAMADA"}, "ln": {"TARO"}, "cvv": {"123"}, "am": {"1000"}, "tx": {"100"}, "sf": {"0"}}
	for i := 0; i+1 < len(kv); i += 2 {
		v.Set(kv[i], kv[i+1])
	}
	return v
}

func post(t testing.TB, base string, v url.Values) (string, http.Header) {
	t.Helper()
	resp, err := testenv.Client.PostForm(base+"/gateway/gateway.aspx", v)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("gateway HTTP %d", resp.StatusCode)
	}
	return strings.TrimSpace(string(b)), resp.Header
}

func add2020(t testing.TB, s *testenv.Srv, dates ...string) []maintenance.Window {
	t.Helper()
	var ws []maintenance.Window
	for _, d := range dates {
		w, err := maintenance.WallWindow(d, "02:55", "04:30", "")
		if err != nil {
			t.Fatal(err)
		}
		ws = append(ws, w)
	}
	out, err := s.DB.AddWindows(context.Background(), ws, "test")
	if err != nil {
		t.Fatal(err)
	}
	waitIndex(t, s, len(out))
	return out
}

// waitIndex waits until the server's watcher has loaded n windows.
func waitIndex(t testing.TB, s *testenv.Srv, n int) {
	t.Helper()
	for i := 0; i < 100; i++ {
		if len(s.Maint.Windows()) >= n {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("watcher did not load %d windows", n)
}

func getJSON(t testing.TB, u string) (map[string]any, http.Header) {
	t.Helper()
	resp, err := testenv.Client.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&m); err != nil {
		t.Fatalf("%s: not JSON: %v", u, err)
	}
	return m, resp.Header
}

func TestScheduledWindowEnforcedAtItsBoundaries(t *testing.T) {
	clk := clock.NewFixed(at(t, "2020-07-22T02:54:59+09:00"))
	s := testenv.Start(t, testenv.Options{Clock: clk})
	s.CreateStore(t, aid, "テスト商店", nil)
	add2020(t, s, "2020-06-18", "2020-07-22", "2020-08-20")

	if body, _ := post(t, s.URL, charge("before")); !strings.HasPrefix(body, "0") && strings.HasPrefix(body, "ER:") {
		t.Fatalf("02:54:59: %q", body)
	}
	clk.Set(at(t, "2020-07-22T02:55:00+09:00"))
	body, hdr := post(t, s.URL, charge("inside"))
	if body != "ER:ER999" {
		t.Fatalf("02:55:00: %q, want ER:ER999", body)
	}
	if ra, _ := strconv.Atoi(hdr.Get("Retry-After")); ra != 95*60 {
		t.Fatalf("Retry-After %q, want %d (until 04:30)", hdr.Get("Retry-After"), 95*60)
	}
	// follow-up jobs, token and auto-charge endpoints are refused too
	for _, path := range []string{"/gateway/gateway.aspx?jb=SALES&tid=1", "/gateway/gateway_token.aspx?jb=CAPTURE", "/gateway/onetouch.aspx?jb=CAPTURE", "/gateway/acsgate.aspx?cmd=1&acid=1"} {
		resp, err := testenv.Client.Get(s.URL + path + "&aid=" + aid)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(b) != "ER:ER999" || resp.Header.Get("Retry-After") == "" {
			t.Errorf("%s inside the window: %q (Retry-After %q)", path, b, resp.Header.Get("Retry-After"))
		}
	}
	st, hdr := getJSON(t, s.URL+"/api/maintenance")
	if st["active"] != true || st["code"] != "ER999" || hdr.Get("Retry-After") == "" {
		t.Fatalf("status API inside the window: %v", st)
	}
	win := st["window"].(map[string]any)
	if win["start"] != "2020-07-22T02:55:00+09:00" || win["end"] != "2020-07-22T04:30:00+09:00" {
		t.Fatalf("status window: %v", win)
	}
	clk.Set(at(t, "2020-07-22T04:29:59+09:00"))
	if body, _ := post(t, s.URL, charge("late")); body != "ER:ER999" {
		t.Fatalf("04:29:59: %q", body)
	}
	clk.Set(at(t, "2020-07-22T04:30:00+09:00"))
	if body, _ := post(t, s.URL, charge("after")); strings.HasPrefix(body, "ER:") {
		t.Fatalf("04:30:00 (end is exclusive): %q", body)
	}
	st, _ = getJSON(t, s.URL+"/api/maintenance")
	if st["active"] != false || st["window"] != nil {
		t.Fatalf("status API after the window: %v", st)
	}
	// the July window was listed while in progress though never announced (it was enforced); the
	// August one, a draft, is not public until announced (maintenance.md §3.6, issue 15 item 13)
	if up := st["upcoming"].([]any); len(up) != 0 {
		t.Fatalf("an unannounced window is listed as upcoming: %v", up)
	}
	if _, err := schedule.PublishYear(context.Background(), s.DB, 2020, maintenance.ChangeText{}, "test"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the announced window to be listed", func() bool {
		st, _ = getJSON(t, s.URL+"/api/maintenance")
		up := st["upcoming"].([]any)
		return len(up) == 1 && up[0].(map[string]any)["start"] == "2020-08-20T02:55:00+09:00" && up[0].(map[string]any)["status"] == "announced"
	})
}

func TestScopeAndOperatorAllowList(t *testing.T) {
	clk := clock.NewFixed(at(t, "2021-01-10T01:00:00+09:00"))
	s := testenv.Start(t, testenv.Options{Clock: clk})
	s.CreateStore(t, aid, "テスト商店", nil)
	w, _ := maintenance.WallWindow("2021-01-10", "02:00", "03:00", "")
	w.Scope = maintenance.Scope{Ops: maintenance.OpCancel}
	if _, err := s.DB.AddWindows(context.Background(), []maintenance.Window{w}, "test"); err != nil {
		t.Fatal(err)
	}
	waitIndex(t, s, 1)
	body, _ := post(t, s.URL, charge("scoped"))
	r, err := wire.ParseResultLine(body)
	if err != nil || r.Rst != "1" {
		t.Fatalf("before the window: %q", body)
	}
	clk.Set(at(t, "2021-01-10T02:30:00+09:00"))
	if body, _ := post(t, s.URL, charge("scoped-2")); strings.HasPrefix(body, "ER:") {
		t.Fatalf("CAPTURE refused by a CANCEL-only window: %q", body)
	}
	if body, _ := post(t, s.URL, url.Values{"aid": {aid}, "jb": {"CANCEL"}, "tid": {r.Gid}}); body != "ER:ER999" {
		t.Fatalf("CANCEL inside a CANCEL-only window: %q", body)
	}
}

func TestOperatorAllowListPassesThrough(t *testing.T) {
	clk := clock.NewFixed(at(t, "2020-07-22T03:00:00+09:00"))
	s := testenv.Start(t, testenv.Options{Clock: clk, OperatorAllow: []string{"127.0.0.1/32"}})
	s.CreateStore(t, aid, "テスト商店", nil)
	add2020(t, s, "2020-07-22")
	if body, _ := post(t, s.URL, charge("verify")); strings.HasPrefix(body, "ER:") {
		t.Fatalf("operator on the allow-list refused: %q", body)
	}
}

func TestEmergencyStartExtendEndWithinOneSecond(t *testing.T) {
	s := testenv.Start(t, testenv.Options{})
	s.CreateStore(t, aid, "テスト商店", nil)
	ctx := context.Background()
	i := 0
	untilCode := func(want func(string) bool) time.Duration {
		t0 := time.Now()
		for time.Since(t0) < 3*time.Second {
			i++
			if body, _ := post(t, s.URL, charge(fmt.Sprintf("em-%d", i))); want(body) {
				return time.Since(t0)
			}
			time.Sleep(20 * time.Millisecond)
		}
		return time.Since(t0)
	}
	now := time.Now().UTC()
	w := maintenance.Window{Start: now, End: now.Add(3 * time.Second), Zone: maintenance.DefaultZone, Kind: maintenance.KindEmergency,
		Status: maintenance.StatusAnnounced, Scope: maintenance.Scope{Ops: maintenance.DefaultScope}}
	added, err := s.DB.AddWindows(ctx, []maintenance.Window{w}, "test")
	if err != nil {
		t.Fatal(err)
	}
	if d := untilCode(func(b string) bool { return b == "ER:ER999" }); d > time.Second {
		t.Fatalf("emergency start obeyed after %s", d)
	}
	if _, err := s.DB.ChangeWindow(ctx, added[0].ID, maintenance.ChangeExtended, "test", "", func(w *maintenance.Window) error {
		w.End = w.End.Add(time.Hour)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(3500 * time.Millisecond) // past the original end: the extension must hold
	if body, _ := post(t, s.URL, charge("em-ext")); body != "ER:ER999" {
		t.Fatalf("after the original end of an extended window: %q", body)
	}
	if _, err := s.DB.ChangeWindow(ctx, added[0].ID, maintenance.ChangeEnded, "test", "", func(w *maintenance.Window) error {
		w.End = time.Now().UTC()
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if d := untilCode(func(b string) bool { return !strings.HasPrefix(b, "ER:") }); d > time.Second {
		t.Fatalf("early end obeyed after %s", d)
	}
}

// TestNoPaymentAcceptedInsideAWindow sends a stream of payments across a window's start with the
// sandbox clock running 50× fast: requests accepted before 02:55 complete and are recorded (some
// finish after it), and no payment carries an accept time inside the window. One payment uses the
// sandbox's slow card (2 s of network delay = 100 sandbox seconds), sent at 02:54:00, so a payment
// is certainly in flight at 02:55 — the stream alone crosses the boundary only by chance.
func TestNoPaymentAcceptedInsideAWindow(t *testing.T) {
	if testing.Short() {
		t.Skip("load test")
	}
	clk := clock.NewSandbox(at(t, "2020-07-22T02:54:00+09:00"), 50)
	s := testenv.Start(t, testenv.Options{Clock: clk})
	s.CreateStore(t, aid, "テスト商店", nil)
	ws := add2020(t, s, "2020-07-22")
	var wg sync.WaitGroup
	var ok, refused, straddled atomic.Int64
	start := ws[0].Start
	clk.Set(at(t, "2020-07-22T02:54:00+09:00"))     // 60 sandbox seconds (1.2 s) before the window, whatever set-up took
	stop := time.Now().Add(2500 * time.Millisecond) // 125 sandbox seconds: 02:54:00 → 02:56:05
	var slowT0, slowT1 time.Time
	var slowBody string
	wg.Add(1)
	go func() {
		defer wg.Done()
		slowT0 = clk.Now()
		slowBody, _ = post(t, s.URL, charge("load-slow", "cn", acquirer.SlowCard))
		slowT1 = clk.Now()
	}()
	for c := 0; c < 16; c++ {
		wg.Add(1)
		go func(c int) {
			defer wg.Done()
			for i := 0; time.Now().Before(stop); i++ {
				t0 := clk.Now()
				body, _ := post(t, s.URL, charge(fmt.Sprintf("load-%d-%d", c, i)))
				t1 := clk.Now()
				switch {
				case body == "ER:ER999":
					refused.Add(1)
				case !strings.HasPrefix(body, "ER:"):
					ok.Add(1)
					if t0.Before(start) && !t1.Before(start) {
						straddled.Add(1) // sent before 02:55, answered after it
					}
				default:
					t.Errorf("unexpected answer %q", body)
				}
			}
		}(c)
	}
	wg.Wait()
	if ok.Load() == 0 || refused.Load() == 0 {
		t.Fatalf("load did not cross the boundary: %d ok, %d refused", ok.Load(), refused.Load())
	}
	// the slow payment: sent before 02:55, answered after it, acknowledged and recorded once
	if !slowT0.Before(start) || slowT1.Before(start) {
		t.Fatalf("the slow payment did not span 02:55 (sent %s, answered %s)", slowT0.Format(time.TimeOnly), slowT1.Format(time.TimeOnly))
	}
	if strings.HasPrefix(slowBody, "ER:") {
		t.Fatalf("a payment accepted before 02:55 and in flight at it was refused: %q", slowBody)
	}
	var inside, total, slow int64
	ctx := context.Background()
	s.DB.QueryRow(ctx, `SELECT COUNT(*) FROM payments WHERE accepted_at >= ? AND accepted_at < ?`, store.NS(ws[0].Start), store.NS(ws[0].End)).Scan(&inside)
	s.DB.QueryRow(ctx, `SELECT COUNT(*) FROM payments`).Scan(&total)
	s.DB.QueryRow(ctx, `SELECT COUNT(*) FROM payments WHERE cod = ? AND rst = '1' AND accepted_at < ?`, "load-slow", store.NS(start)).Scan(&slow)
	if inside != 0 {
		t.Fatalf("%d payments accepted inside the window", inside)
	}
	if total != ok.Load()+1 {
		t.Fatalf("%d payments recorded, %d acknowledged", total, ok.Load()+1)
	}
	if slow != 1 {
		t.Fatalf("the slow payment is recorded %d times as approved and accepted before 02:55, want once", slow)
	}
	t.Logf("%d acknowledged, %d refused with ER999; the slow payment spanned %s–%s; %d fast ones also straddled 02:55",
		ok.Load()+1, refused.Load(), slowT0.Format(time.TimeOnly), slowT1.Format(time.TimeOnly), straddled.Load())
}

func TestKickbackDueInsideAWindowIsDeliveredAfterOnce(t *testing.T) {
	var hits atomic.Int64
	rcv := newServer(t, func(w http.ResponseWriter, r *http.Request) { hits.Add(1); w.Write([]byte("OK")) })
	clk := clock.NewFixed(at(t, "2021-02-01T03:00:00+09:00"))
	s := testenv.Start(t, testenv.Options{Clock: clk})
	s.CreateStore(t, aid, "テスト商店", func(st *store.Store) { st.ResultURL = rcv })
	w, _ := maintenance.WallWindow("2021-02-01", "02:55", "04:30", "")
	w.Scope = maintenance.Scope{Ops: maintenance.OpKickback}
	if _, err := s.DB.AddWindows(context.Background(), []maintenance.Window{w}, "test"); err != nil {
		t.Fatal(err)
	}
	waitIndex(t, s, 1)
	if body, _ := post(t, s.URL, charge("kb-in", "rt", "0")); body != "OK" {
		t.Fatalf("payment in a kickback-only window: %q", body)
	}
	time.Sleep(time.Second)
	if hits.Load() != 0 {
		t.Fatalf("kickback delivered during the window")
	}
	clk.Set(at(t, "2021-02-01T04:30:00+09:00"))
	deadline := time.Now().Add(10 * time.Second)
	for hits.Load() == 0 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(time.Second)
	if hits.Load() != 1 {
		t.Fatalf("kickback delivered %d times after the window, want 1", hits.Load())
	}
}

func newServer(t testing.TB, h http.HandlerFunc) string {
	srv := &http.Server{Handler: h}
	ln := listen(t)
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return "http://" + ln.Addr().String() + "/kb"
}

func TestICSFeedParsesInAnIndependentParser(t *testing.T) {
	s := testenv.Start(t, testenv.Options{})
	ws := add2020(t, s, "2020-06-18", "2020-07-22", "2020-08-20", "2020-09-17")
	// announced, then cancelled: stays in the feed as CANCELLED
	if _, err := s.DB.ChangeWindow(context.Background(), ws[2].ID, maintenance.ChangePublished, "test", "", func(w *maintenance.Window) error {
		w.Status = maintenance.StatusAnnounced
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	// a cancelled draft was never public and never is
	if _, err := s.DB.ChangeWindow(context.Background(), ws[3].ID, maintenance.ChangeCancelled, "test", "", func(w *maintenance.Window) error {
		w.Status = maintenance.StatusCancelled
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.DB.ChangeWindow(context.Background(), ws[2].ID, maintenance.ChangeCancelled, "test", "", func(w *maintenance.Window) error {
		w.Status = maintenance.StatusCancelled
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.DB.ChangeWindow(context.Background(), ws[1].ID, maintenance.ChangePublished, "test", "", func(w *maintenance.Window) error {
		w.Status = maintenance.StatusAnnounced
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	resp, err := testenv.Client.Get(s.URL + "/maintenance.ics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/calendar") || resp.Header.Get("ETag") == "" {
		t.Fatalf("headers: %v", resp.Header)
	}
	cal, err := ics.ParseCalendar(resp.Body)
	if err != nil {
		t.Fatalf("golang-ical cannot parse the feed: %v", err)
	}
	evs := cal.Events()
	if len(evs) != 2 {
		t.Fatalf("%d events, want 2 (the announced one and the announced-then-cancelled one; drafts are not public)", len(evs))
	}
	statuses := map[string]string{}
	for _, e := range evs {
		st, _ := e.GetStartAt()
		statuses[st.UTC().Format(time.RFC3339)] = e.GetProperty(ics.ComponentPropertyStatus).Value
	}
	// announced: CONFIRMED; cancelled after its announcement: CANCELLED; drafts (announced or
	// cancelled) are absent (maintenance.md §3.6)
	if statuses["2020-07-21T17:55:00Z"] != "CONFIRMED" || statuses["2020-08-19T17:55:00Z"] != "CANCELLED" {
		t.Fatalf("event statuses by start: %v", statuses)
	}
}

// TestStatusAPIMatchesOpenAPI checks the live answer against the schema the server publishes:
// required properties present and every property's JSON type as declared.
func TestStatusAPIMatchesOpenAPI(t *testing.T) {
	clk := clock.NewFixed(at(t, "2020-07-22T03:00:00+09:00"))
	s := testenv.Start(t, testenv.Options{Clock: clk})
	add2020(t, s, "2020-07-22", "2020-08-20")
	doc, _ := getJSON(t, s.URL+"/api/openapi.json")
	schemas := doc["components"].(map[string]any)["schemas"].(map[string]any)
	st, hdr := getJSON(t, s.URL+"/api/maintenance")
	if hdr.Get("Access-Control-Allow-Origin") != "*" || hdr.Get("ETag") == "" || !strings.Contains(hdr.Get("Cache-Control"), "max-age") {
		t.Fatalf("CORS/caching headers: %v", hdr)
	}
	validate(t, "Status", schemas["Status"].(map[string]any), st, schemas)
	// If-None-Match gives 304
	req, _ := http.NewRequest("GET", s.URL+"/api/maintenance", nil)
	req.Header.Set("If-None-Match", hdr.Get("ETag"))
	resp, err := testenv.Client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotModified {
		t.Fatalf("If-None-Match: HTTP %d", resp.StatusCode)
	}
}

func validate(t *testing.T, path string, schema map[string]any, v any, schemas map[string]any) {
	t.Helper()
	if ref, ok := schema["$ref"].(string); ok {
		schema = schemas[strings.TrimPrefix(ref, "#/components/schemas/")].(map[string]any)
	}
	if one, ok := schema["oneOf"].([]any); ok {
		for _, alt := range one {
			a := alt.(map[string]any)
			if a["type"] == "null" && v == nil {
				return
			}
			if v != nil && a["type"] != "null" {
				validate(t, path, a, v, schemas)
				return
			}
		}
		t.Errorf("%s: matches no alternative", path)
		return
	}
	switch schema["type"] {
	case "object":
		m, ok := v.(map[string]any)
		if !ok {
			t.Errorf("%s: not an object", path)
			return
		}
		req, _ := schema["required"].([]any)
		for _, r := range req {
			if _, ok := m[r.(string)]; !ok {
				t.Errorf("%s: missing required %s", path, r)
			}
		}
		props, _ := schema["properties"].(map[string]any)
		for k, x := range m {
			p, ok := props[k].(map[string]any)
			if !ok {
				if _, open := schema["additionalProperties"]; !open {
					t.Errorf("%s: property %s not in the schema", path, k)
				}
				continue
			}
			validate(t, path+"."+k, p, x, schemas)
		}
	case "array":
		a, ok := v.([]any)
		if !ok {
			t.Errorf("%s: not an array", path)
			return
		}
		for i, x := range a {
			validate(t, fmt.Sprintf("%s[%d]", path, i), schema["items"].(map[string]any), x, schemas)
		}
	case "string":
		s, ok := v.(string)
		if !ok {
			t.Errorf("%s: not a string", path)
			return
		}
		if enum, ok := schema["enum"].([]any); ok {
			found := false
			for _, e := range enum {
				found = found || e == s
			}
			if !found {
				t.Errorf("%s: %q not in %v", path, s, enum)
			}
		}
		if schema["format"] == "date-time" {
			if _, err := time.Parse(time.RFC3339, s); err != nil {
				t.Errorf("%s: %q is not date-time", path, s)
			}
		}
	case "integer":
		if f, ok := v.(float64); !ok || f != float64(int64(f)) {
			t.Errorf("%s: not an integer", path)
		}
	case "boolean":
		if _, ok := v.(bool); !ok {
			t.Errorf("%s: not a boolean", path)
		}
	}
}

// TestBrandLimitedWindowRefusesOnlyThatBrand: a window for JCB alone refuses JCB on every way a
// JCB card reaches the network — a raw card, a token (which stays usable), one-touch, SALES of a
// JCB authorisation, the token API — and nothing else: Visa charges, Visa SALES, the hosted page
// and the panel work through it.
func TestBrandLimitedWindowRefusesOnlyThatBrand(t *testing.T) {
	clk := clock.NewFixed(at(t, "2020-07-22T02:00:00+09:00"))
	s := testenv.Start(t, testenv.Options{Clock: clk})
	s.CreateStore(t, aid, "テスト商店", nil)
	const jcb, visa = "3530111333300000", "4111111111111111"
	send := func(path string, v url.Values) string {
		t.Helper()
		resp, err := testenv.Client.PostForm(s.URL+path, v)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return strings.TrimSpace(string(b))
	}
	gidOf := func(line string) string {
		t.Helper()
		cols := strings.Split(line, ",")
		if len(cols) != 14 || cols[1] != "1" {
			t.Fatalf("not a successful result line: %q", line)
		}
		return cols[0]
	}
	tokenFor := func(cn string) (int, map[string]any) {
		t.Helper()
		resp, err := testenv.Client.PostForm(s.URL+"/gateway/token.json", url.Values{"aid": {aid}, "cn": {cn}, "ed": {"4012"},
			"fn": {"TARO"}, "ln": {"YAMADA"}, "cvv": {"123"}})
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var m map[string]any
		json.NewDecoder(resp.Body).Decode(&m)
		return resp.StatusCode, m
	}
	// before the window: authorisations to capture during it, a stored JCB card, a JCB token
	jcbAuth := gidOf(send("/gateway/gateway.aspx", charge("b-auth-jcb", "jb", "AUTH", "cn", jcb)))
	visaAuth := gidOf(send("/gateway/gateway.aspx", charge("b-auth-visa", "jb", "AUTH")))
	gidOf(send("/gateway/gateway.aspx", charge("b-stored", "cn", jcb, "em", "hanako@example.com", "pn", "09012345678")))
	clk.Set(at(t, "2020-07-22T02:52:00+09:00")) // tokens live 10 minutes: this one until 03:02
	st, m := tokenFor(jcb)
	tkn, _ := m["token"].(string)
	if st != 200 || tkn == "" {
		t.Fatalf("JCB token before the window: %d %v", st, m)
	}

	w, err := maintenance.WallWindow("2020-07-22", "02:55", "03:00", "")
	if err != nil {
		t.Fatal(err)
	}
	if w.Scope, err = maintenance.ParseScope("all,brand:JCB"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.DB.AddWindows(context.Background(), []maintenance.Window{w}, "test"); err != nil {
		t.Fatal(err)
	}
	waitIndex(t, s, 1)
	clk.Set(at(t, "2020-07-22T02:56:00+09:00"))

	tokenCharge := url.Values{"aid": {aid}, "jb": {"CAPTURE"}, "rt": {"1"}, "cod": {"b-token"}, "am": {"1000"}, "tx": {"100"}, "sf": {"0"},
		"tkn": {tkn}, "em": {"taro@example.com"}}
	for _, c := range []struct {
		what, path string
		v          url.Values
		want       string // "ER:ER999", or "" for a success
	}{
		{"raw JCB", "/gateway/gateway.aspx", charge("b-jcb", "cn", jcb), "ER:ER999"},
		{"raw Visa", "/gateway/gateway.aspx", charge("b-visa"), ""},
		{"JCB token", "/gateway/gateway_token.aspx", tokenCharge, "ER:ER999"},
		{"one-touch JCB", "/gateway/onetouch.aspx", url.Values{"aid": {aid}, "rt": {"1"}, "cod": {"b-ot"}, "em": {"hanako@example.com"},
			"pn": {"09012345678"}, "am": {"2000"}, "cmd": {"1"}}, "ER:ER999"},
		{"SALES of a JCB AUTH", "/gateway/gateway.aspx", url.Values{"aid": {aid}, "jb": {"SALES"}, "tid": {jcbAuth}}, "ER:ER999"},
		{"SALES of a Visa AUTH", "/gateway/gateway.aspx", url.Values{"aid": {aid}, "jb": {"SALES"}, "tid": {visaAuth}}, "OK"},
	} {
		got := send(c.path, c.v)
		switch {
		case c.want == "" && (strings.HasPrefix(got, "ER:") || strings.Split(got, ",")[1] != "1"):
			t.Errorf("%s inside a JCB-only window: %q, want a success", c.what, got)
		case c.want != "" && got != c.want:
			t.Errorf("%s inside a JCB-only window: %q, want %q", c.what, got, c.want)
		}
	}
	if st, m := tokenFor(jcb); st != http.StatusServiceUnavailable || m["code"] != "ER999" || m["start"] == nil || m["end"] == nil {
		t.Errorf("token API, JCB card: %d %v; want 503 ER999 with the window's start and end", st, m)
	}
	if st, m := tokenFor(visa); st != 200 {
		t.Errorf("token API, Visa card: %d %v", st, m)
	}
	resp, err := testenv.Client.Get(s.URL + "/link/creditcard?" + url.Values{"aid": {aid}, "pt": {"1"}, "jb": {"CAPTURE"}, "am": {"1000"},
		"tx": {"0"}, "sf": {"0"}, "cod": {"b-link"}}.Encode())
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("hosted page during a JCB-only window: %d, want the card form", resp.StatusCode)
	}
	// after the window the token refused inside it is still good: it was not spent
	clk.Set(at(t, "2020-07-22T03:00:00+09:00"))
	if got := send("/gateway/gateway_token.aspx", tokenCharge); strings.HasPrefix(got, "ER:") || strings.Split(got, ",")[1] != "1" {
		t.Errorf("the JCB token after the window: %q", got)
	}
}

// TestPerWindowAndChangeNotices: the notices page links each published window's own notice and
// each change's notice; both render what the notice renderer renders for that window or change,
// in each format and language; drafts and unknown numbers are 404.
func TestPerWindowAndChangeNotices(t *testing.T) {
	clk := clock.NewFixed(at(t, "2020-07-01T12:00:00+09:00"))
	s := testenv.Start(t, testenv.Options{Clock: clk})
	ctx := context.Background()
	ws := add2020(t, s, "2020-07-22", "2020-08-19")
	if n, err := schedule.PublishYear(ctx, s.DB, 2020, maintenance.ChangeText{}, "test"); err != nil || n != 2 {
		t.Fatalf("publish: %d %v", n, err)
	}
	moved, err := schedule.Move(ctx, s.DB, ws[1].ID, "2020-08-20", "", "", maintenance.ChangeText{MessageJA: "工事日程の変更"}, "test")
	if err != nil {
		t.Fatal(err)
	}
	draft := add2020(t, s, "2020-09-16")[0]
	waitIndex(t, s, 3)
	get := func(path string) (int, string) {
		t.Helper()
		resp, err := testenv.Client.Get(s.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	cfg, _ := s.DB.NoticeConfig(ctx)
	chs, _ := s.DB.Changes(ctx)
	var change maintenance.Change
	for _, c := range chs {
		if c.WindowID == moved.ID && c.Kind == maintenance.ChangeMoved {
			change = c
		}
	}
	if change.ID == 0 {
		t.Fatalf("no move recorded: %+v", chs)
	}
	code, page := get("/maintenance?lang=ja")
	for _, link := range []string{fmt.Sprintf("/maintenance/window/%d?lang=ja", ws[0].ID), fmt.Sprintf("/maintenance/change/%d?lang=ja", change.ID)} {
		if code != 200 || !strings.Contains(page, strings.ReplaceAll(link, "&", "&amp;")) {
			t.Fatalf("notices page (%d) does not link %s", code, link)
		}
	}
	if strings.Contains(page, fmt.Sprintf("/maintenance/window/%d", draft.ID)) {
		t.Fatal("the page links a draft's notice")
	}
	for _, lang := range []string{"ja", "en"} {
		for _, format := range []string{"html", "md", "text"} {
			var want bytes.Buffer
			if err := maintenance.RenderWindowNotice(&want, cfg, ws[0], lang, format); err != nil {
				t.Fatal(err)
			}
			if code, got := get(fmt.Sprintf("/maintenance/window/%d?lang=%s&format=%s", ws[0].ID, lang, format)); code != 200 || got != want.String() {
				t.Fatalf("window notice %s/%s: %d\n%s\nwant\n%s", lang, format, code, got, want.String())
			}
			want.Reset()
			if err := maintenance.RenderChangeNotice(&want, cfg, moved, change, lang, format); err != nil {
				t.Fatal(err)
			}
			if code, got := get(fmt.Sprintf("/maintenance/change/%d?lang=%s&format=%s", change.ID, lang, format)); code != 200 || got != want.String() {
				t.Fatalf("change notice %s/%s: %d\n%s", lang, format, code, got)
			}
		}
	}
	if _, got := get(fmt.Sprintf("/maintenance/change/%d?lang=ja&format=text", change.ID)); !strings.Contains(got, "工事日程の変更") {
		t.Fatalf("the change notice lacks its reason:\n%s", got)
	}
	for _, path := range []string{fmt.Sprintf("/maintenance/window/%d", draft.ID), "/maintenance/window/99999", "/maintenance/change/99999"} {
		if code, _ := get(path); code != http.StatusNotFound {
			t.Fatalf("%s: %d, want 404", path, code)
		}
	}
	if code, _ := get(fmt.Sprintf("/maintenance/window/%d?format=pdf", ws[0].ID)); code != http.StatusBadRequest {
		t.Fatalf("unknown format: %d, want 400", code)
	}
}

// waitFor polls cond (the schedule watcher picks changes up within a second) for up to 10 s.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	for i := 0; i < 200; i++ {
		if cond() {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("timed out waiting for %s", what)
}
