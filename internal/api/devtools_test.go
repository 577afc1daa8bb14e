package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"kessai/internal/api"
	"kessai/internal/listen"
	"kessai/internal/maintenance"
	"kessai/internal/store"
	"kessai/internal/testenv"
)

// receiver is a real HTTP server recording every GET it gets, in order; it can be taken down and
// brought up again on the same port.
type receiver struct {
	t    testing.TB
	addr string
	mu   sync.Mutex
	hits []url.Values
	hdrs []http.Header
	srv  *http.Server
}

func newReceiver(t testing.TB) *receiver {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r := &receiver{t: t, addr: ln.Addr().String()}
	r.serve(ln)
	t.Cleanup(r.down)
	return r
}

func (r *receiver) url() string { return "http://" + r.addr + "/notify" }

func (r *receiver) serve(ln net.Listener) {
	r.srv = &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, q *http.Request) {
		r.mu.Lock()
		r.hits = append(r.hits, q.URL.Query())
		r.hdrs = append(r.hdrs, q.Header.Clone())
		r.mu.Unlock()
		io.WriteString(w, "OK")
	})}
	go r.srv.Serve(ln)
}

func (r *receiver) down() {
	if r.srv != nil {
		r.srv.Close()
		r.srv = nil
	}
}

func (r *receiver) up() {
	var ln net.Listener
	var err error
	for i := 0; i < 50; i++ {
		if ln, err = net.Listen("tcp", r.addr); err == nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		r.t.Fatalf("receiver up again on %s: %v", r.addr, err)
	}
	r.serve(ln)
}

func (r *receiver) cods() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, h := range r.hits {
		out = append(out, h.Get("cod"))
	}
	return out
}

func (r *receiver) count(cod string) int {
	n := 0
	for _, c := range r.cods() {
		if c == cod {
			n++
		}
	}
	return n
}

// waitFor polls cond until it holds or a generous deadline passes (no timing is asserted).
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("timed out waiting for %s", what)
}

// syncBuf collects the listener's output.
type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) { s.mu.Lock(); defer s.mu.Unlock(); return s.b.Write(p) }
func (s *syncBuf) String() string              { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

type env struct {
	t   *testing.T
	s   *testenv.Srv
	aid string
	key string
	rcv *receiver
}

func newEnv(t *testing.T) *env {
	s := testenv.Start(t, testenv.Options{})
	e := &env{t: t, s: s, aid: "128001", rcv: newReceiver(t)}
	s.CreateStore(t, e.aid, "開発", func(st *store.Store) {
		st.ResultURL = e.rcv.url()
		st.ACResultURL = e.rcv.url()
		st.KickbackSecret = "shh-secret"
	})
	e.key = e.newKey("ci")
	return e
}

func (e *env) newKey(name string) string {
	text, k := api.NewKey(e.aid, name, "test", time.Now())
	if err := e.s.DB.CreateAPIKey(context.Background(), k, store.AuditEntry{At: time.Now(), Actor: "test", AID: e.aid, Action: "apikey.create"}); err != nil {
		e.t.Fatal(err)
	}
	return text
}

func (e *env) charge(cod string, extra url.Values) string {
	e.t.Helper()
	v := url.Values{"aid": {e.aid}, "jb": {"CAPTURE"}, "rt": {"0"}, "cod": {cod}, "cn": {"4111111111111111"},
		"ed": {time.Now().AddDate(3, 0, 0).Format("0601")}, "cvv": {"123"}, "fn": {"YAMADA"}, "ln": {"TARO"},
		"em": {"taro@example.com"}, "pn": {"0312345678"}, "am": {"1000"}, "tx": {"100"}, "sf": {"0"}}
	for k, vs := range extra {
		v[k] = vs
	}
	resp, err := testenv.Client.PostForm(e.s.URL+"/gateway/gateway.aspx", v)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return strings.TrimSpace(string(b))
}

func (e *env) do(method, path, key string, body any) (int, http.Header, []byte) {
	e.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, e.s.URL+path, rd)
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := testenv.Client.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, b
}

func (e *env) list(query string) api.List {
	e.t.Helper()
	st, _, b := e.do("GET", "/api/v1/kickbacks"+query, e.key, nil)
	if st != 200 {
		e.t.Fatalf("GET /api/v1/kickbacks%s: %d %s", query, st, b)
	}
	var l api.List
	if err := json.Unmarshal(b, &l); err != nil {
		e.t.Fatal(err)
	}
	return l
}

// TestListenBackfillsThenLiveInOrderSurvivesOutageAndGetsResends is issue 16's must-show: a listener
// started after three kickbacks back-fills them, then forwards live ones, in order, each once; a
// local receiver that is down for 5 s gets its kickbacks when it comes back; a resend by API
// reaches both the result URL and the listener.
func TestListenBackfillsThenLiveInOrderSurvivesOutageAndGetsResends(t *testing.T) {
	e := newEnv(t)
	for i := 0; i < 3; i++ {
		if got := e.charge(fmt.Sprintf("dv-%d", i), nil); !strings.HasPrefix(got, "OK") {
			t.Fatalf("charge dv-%d: %q", i, got)
		}
	}
	waitFor(t, "three kickbacks at the result URL", func() bool { return e.rcv.count("dv-2") == 1 })

	local := newReceiver(t)
	out := &syncBuf{}
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	l := &listen.Listener{URL: e.s.URL, Key: e.key, ForwardTo: local.url(), Since: "1h", Out: out}
	go func() { done <- l.Run(ctx) }()
	defer func() {
		stop()
		if err := <-done; err != nil {
			t.Errorf("listen ended with %v", err)
		}
	}()
	waitFor(t, "the back-fill", func() bool { return len(local.cods()) >= 3 })
	if got := strings.Join(local.cods(), " "); got != "dv-0 dv-1 dv-2" {
		t.Fatalf("back-fill forwarded %q, want dv-0 dv-1 dv-2 in order", got)
	}
	// the forwarded copy is the same GET, freshly signed with the store's secret
	h := local.hdrs[0].Get("X-Kessai-Signature")
	if !strings.HasPrefix(h, "t=") || !strings.Contains(h, ",v1=") {
		t.Fatalf("forwarded kickback carries no signature: %q", h)
	}
	if local.hits[0].Get("gid") == "" || local.hits[0].Get("rst") != "1" {
		t.Fatalf("forwarded kickback lacks its parameters: %v", local.hits[0])
	}

	// live
	e.charge("dv-3", nil)
	waitFor(t, "the live kickback", func() bool { return local.count("dv-3") == 1 })

	// the local receiver is down for 5 s: nothing is dropped
	local.down()
	e.charge("dv-4", nil)
	e.charge("dv-5", nil)
	waitFor(t, "the listener reporting the outage", func() bool { return strings.Contains(out.String(), "unreachable") })
	time.Sleep(5 * time.Second)
	if n := len(local.cods()); n != 4 {
		t.Fatalf("receiver down, yet it has %d hits", n)
	}
	local.up()
	waitFor(t, "the kickbacks held during the outage", func() bool { return local.count("dv-5") == 1 })

	// resend by API: the result URL and the listener both get it again
	l1 := e.list("?cod=dv-1")
	if len(l1.Data) != 1 || l1.Data[0].Cod != "dv-1" {
		t.Fatalf("filter by cod: %+v", l1.Data)
	}
	before := e.rcv.count("dv-1")
	st, _, b := e.do("POST", fmt.Sprintf("/api/v1/kickbacks/%d/resend", l1.Data[0].ID), e.key, nil)
	if st != http.StatusAccepted {
		t.Fatalf("resend: %d %s", st, b)
	}
	waitFor(t, "the resend at the result URL", func() bool { return e.rcv.count("dv-1") == before+1 })
	waitFor(t, "the resend at the listener", func() bool { return local.count("dv-1") == 2 })
	if got := strings.Join(local.cods(), " "); got != "dv-0 dv-1 dv-2 dv-3 dv-4 dv-5 dv-1" {
		t.Fatalf("listener forwarded %q; want each once, in order, then the resend", got)
	}
	if !strings.Contains(out.String(), "(resend)") {
		t.Errorf("the listener's output does not mark the resend:\n%s", out.String())
	}
	var k api.Kickback
	_, _, b = e.do("GET", fmt.Sprintf("/api/v1/kickbacks/%d", l1.Data[0].ID), e.key, nil)
	json.Unmarshal(b, &k)
	if len(k.Attempts) != 2 || k.Attempts[1].Status != 200 || k.Attempts[1].Answer != "OK" {
		t.Fatalf("detail after a resend: want two attempts, the second answered 200 OK: %+v", k.Attempts)
	}
}

func TestKickbackAPIFiltersPagesAndBulkResend(t *testing.T) {
	e := newEnv(t)
	for i := 0; i < 5; i++ {
		e.charge(fmt.Sprintf("pg-%d", i), nil)
	}
	waitFor(t, "five deliveries", func() bool { return len(e.rcv.cods()) == 5 })
	// pages of two, newest first, each once
	var seen []string
	cur := ""
	for pages := 0; ; pages++ {
		q := "?limit=2"
		if cur != "" {
			q += "&cursor=" + cur
		}
		l := e.list(q)
		for _, k := range l.Data {
			seen = append(seen, k.Cod)
			if k.Kind != "payment" || k.State != "delivered" || k.Gid == "" || k.DeliveredAt == nil {
				t.Fatalf("kickback view: %+v", k)
			}
		}
		if l.NextCursor == nil {
			break
		}
		cur = *l.NextCursor
		if pages > 5 {
			t.Fatal("pagination does not end")
		}
	}
	if got := strings.Join(seen, " "); got != "pg-4 pg-3 pg-2 pg-1 pg-0" {
		t.Fatalf("paged list: %q", got)
	}
	if n := len(e.list("?state=pending").Data); n != 0 {
		t.Fatalf("state=pending: %d, want 0", n)
	}
	if n := len(e.list("?kind=autocharge.run").Data); n != 0 {
		t.Fatalf("kind=autocharge.run: %d, want 0", n)
	}
	if n := len(e.list("?from=" + url.QueryEscape(time.Now().Add(time.Hour).Format(time.RFC3339))).Data); n != 0 {
		t.Fatalf("from an hour ahead: %d, want 0", n)
	}
	// bad input: problem+json naming the parameter
	st, h, b := e.do("GET", "/api/v1/kickbacks?state=lost&limit=0", e.key, nil)
	if st != 400 || h.Get("Content-Type") != "application/problem+json" || !strings.Contains(string(b), `"name":"state"`) || !strings.Contains(string(b), `"name":"limit"`) {
		t.Fatalf("bad filter: %d %s %s", st, h.Get("Content-Type"), b)
	}
	// bulk resend needs a filter, then resends exactly what matches
	if st, _, b := e.do("POST", "/api/v1/kickbacks/resend", e.key, nil); st != 400 {
		t.Fatalf("unfiltered bulk resend: %d %s", st, b)
	}
	st, _, b = e.do("POST", "/api/v1/kickbacks/resend?cod=pg-3", e.key, nil)
	var rs api.Resent
	json.Unmarshal(b, &rs)
	if st != 202 || rs.Resent != 1 {
		t.Fatalf("bulk resend by cod: %d %s", st, b)
	}
	waitFor(t, "the bulk resend", func() bool { return e.rcv.count("pg-3") == 2 })
	if e.rcv.count("pg-2") != 1 {
		t.Fatal("the bulk resend sent a kickback that did not match")
	}
}

func TestAPIKeysAuthenticateOnlyTheAPI(t *testing.T) {
	e := newEnv(t)
	for _, c := range []struct{ name, key string }{{"none", ""}, {"wrong", "ksk_not-a-real-key-at-all-000000"}} {
		st, h, b := e.do("GET", "/api/v1/kickbacks", c.key, nil)
		if st != 401 || h.Get("Content-Type") != "application/problem+json" || h.Get("WWW-Authenticate") == "" {
			t.Fatalf("%s key: %d %v %s", c.name, st, h, b)
		}
	}
	ctx := context.Background()
	ks, err := e.s.DB.APIKeys(ctx, e.aid)
	if err != nil || len(ks) != 1 || ks[0].LastUsedAt.IsZero() == false {
		t.Fatalf("keys before use: %v %+v", err, ks)
	}
	e.list("")
	ks, _ = e.s.DB.APIKeys(ctx, e.aid)
	if ks[0].LastUsedAt.IsZero() {
		t.Fatal("last-used time not recorded")
	}
	if ks[0].Hash == e.key || strings.Contains(ks[0].Hash, e.key[len(api.KeyPrefix):]) {
		t.Fatal("the key is stored in clear")
	}
	// a key is no panel password
	resp, err := testenv.Client.PostForm(e.s.URL+"/console/login", url.Values{"aid": {e.aid}, "login": {"ci"}, "password": {e.key}})
	if err == nil {
		resp.Body.Close()
		if resp.StatusCode == http.StatusSeeOther && strings.Contains(resp.Header.Get("Set-Cookie"), "kessai_console=") {
			t.Fatal("an API key signed in to the control panel")
		}
	}
	// another store's key sees nothing of this store
	other := "128002"
	e.s.CreateStore(t, other, "他店", nil)
	text, k := api.NewKey(other, "x", "test", time.Now())
	e.s.DB.CreateAPIKey(ctx, k, store.AuditEntry{At: time.Now(), Actor: "test", AID: other, Action: "apikey.create"})
	e.charge("mine", nil)
	waitFor(t, "delivery", func() bool { return e.rcv.count("mine") == 1 })
	id := e.list("").Data[0].ID
	if st, _, _ := e.do("GET", fmt.Sprintf("/api/v1/kickbacks/%d", id), text, nil); st != 404 {
		t.Fatalf("another store's key read this store's kickback: %d", st)
	}
	// revoked: refused
	if err := e.s.DB.RevokeAPIKey(ctx, e.aid, ks[0].ID, time.Now(), store.AuditEntry{At: time.Now(), Actor: "test", AID: e.aid, Action: "apikey.revoke"}); err != nil {
		t.Fatal(err)
	}
	if st, _, _ := e.do("GET", "/api/v1/kickbacks", e.key, nil); st != 401 {
		t.Fatalf("revoked key: %d", st)
	}
}

func TestScenarioHeaderForcesOutcomesWithAnyCard(t *testing.T) {
	e := newEnv(t)
	for _, c := range []struct{ scenario, want string }{
		{"decline", "ER030"}, {"insufficient_funds", "ER016"}, {"expired", "ER056"}, {"cvc", "ER079"},
		{"network_error", "ER042"}, {"auth_failed", "ER901"},
	} {
		req, _ := http.NewRequest("POST", e.s.URL+"/gateway/gateway.aspx", strings.NewReader(url.Values{"aid": {e.aid}, "jb": {"CAPTURE"}, "rt": {"1"},
			"cod": {"sc-" + c.scenario}, "cn": {"4111111111111111"}, "ed": {time.Now().AddDate(3, 0, 0).Format("0601")}, "cvv": {"123"},
			"am": {"1000"}, "tx": {"0"}, "sf": {"0"}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Kessai-Scenario", c.scenario)
		resp, err := testenv.Client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		cols := strings.Split(strings.TrimSpace(string(b)), ",")
		if len(cols) < 4 || cols[3] != c.want {
			t.Errorf("Kessai-Scenario: %s gave %q, want ec %s", c.scenario, b, c.want)
		}
	}
	// without the header the same card is approved; an unknown scenario is refused, not ignored
	if got := e.charge("sc-none", url.Values{"rt": {"1"}}); !strings.Contains(got, ",1,") && !strings.HasPrefix(strings.SplitN(got, ",", 3)[1], "1") {
		t.Fatalf("no scenario: %q", got)
	}
	req, _ := http.NewRequest("POST", e.s.URL+"/gateway/gateway.aspx", strings.NewReader("aid="+e.aid))
	req.Header.Set("Kessai-Scenario", "explode")
	resp, err := testenv.Client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 400 {
		t.Fatalf("unknown scenario: %d", resp.StatusCode)
	}
}

// TestSandboxClockMovesARunningServer is issue 16's other must-show: advancing a running server
// by a month makes a due auto-charge run and a maintenance window start, with no restart.
func TestSandboxClockMovesARunningServer(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	// a monthly plan signed up now (first charge a month ahead) and a window starting in 30 days
	got := e.charge("plan-1", url.Values{"rt": {"1"}, "am": {"0"}, "tx": {"0"}, "actp": {"4"}, "acam": {"980"}})
	cols := strings.Split(got, ",")
	if len(cols) < 13 || cols[1] != "1" || cols[12] == "" {
		t.Fatalf("auto-charge sign-up: %q", got)
	}
	acid := cols[12]
	now := e.s.Cfg.Clock.Now()
	start := now.Add(30 * 24 * time.Hour).Truncate(time.Minute)
	sc, _ := maintenance.ParseScope("CAPTURE")
	w := maintenance.Window{Start: start.UTC(), End: start.Add(6 * 24 * time.Hour).UTC(), Zone: maintenance.DefaultZone,
		Kind: maintenance.KindScheduled, Status: maintenance.StatusPlanned, Scope: sc}
	if _, err := e.s.DB.AddWindows(ctx, []maintenance.Window{w}, "test"); err != nil {
		t.Fatal(err)
	}
	if got := e.charge("before", url.Values{"rt": {"1"}}); strings.Contains(got, "ER999") {
		t.Fatalf("refused before the window: %q", got)
	}
	time.Sleep(time.Second) // the runner has had passes: nothing is due yet
	if n := e.rcv.count(acid + "-"); n != 0 || autoChargeHits(e.rcv, acid) != 0 {
		t.Fatalf("the plan charged before its date")
	}

	st, _, b := e.do("POST", "/api/v1/sandbox/clock", e.key, map[string]any{"advance": "31d"})
	if st != 200 {
		t.Fatalf("advance: %d %s", st, b)
	}
	var cs api.ClockState
	json.Unmarshal(b, &cs)
	moved, _ := time.Parse(time.RFC3339Nano, cs.Now)
	if moved.Sub(now) < 31*24*time.Hour {
		t.Fatalf("clock after advance: %s (was %s)", cs.Now, now)
	}
	waitFor(t, "the auto-charge run", func() bool { return autoChargeHits(e.rcv, acid) > 0 })
	waitFor(t, "the maintenance window", func() bool { return strings.Contains(e.charge("during", url.Values{"rt": {"1"}}), "ER999") })
	_, _, b = e.do("GET", "/api/maintenance", "", nil)
	var ms struct{ Active bool }
	if json.Unmarshal(b, &ms); !ms.Active {
		t.Fatalf("status API after the move: %s", b)
	}
	// every timestamp written follows the clock: the run's payment and kickback are a month ahead
	l := e.list("?kind=autocharge.run")
	if len(l.Data) == 0 || l.Data[0].CreatedAt.Before(now.Add(30*24*time.Hour)) {
		t.Fatalf("auto-charge kickback written at %v, not on the moved clock", l.Data)
	}
	// freeze, rate, set; bad input is problem+json
	for _, c := range []map[string]any{{"freeze": true}, {"rate": 60}, {"set": "2030-01-01T00:00:00+09:00"}, {"freeze": false}} {
		if st, _, b := e.do("POST", "/api/v1/sandbox/clock", e.key, c); st != 200 {
			t.Fatalf("%v: %d %s", c, st, b)
		}
	}
	st, _, b = e.do("GET", "/api/v1/sandbox/clock", e.key, nil)
	json.Unmarshal(b, &cs)
	if st != 200 || cs.Rate != 60 || cs.Frozen || !strings.HasPrefix(cs.Now, "2029-12-31T15") && !strings.HasPrefix(cs.Now, "2030-01-01") {
		t.Fatalf("clock state: %d %s", st, b)
	}
	for _, c := range []map[string]any{{}, {"advance": "soon"}, {"rate": -1}, {"set": "tomorrow"}, {"jump": 1}} {
		if st, h, b := e.do("POST", "/api/v1/sandbox/clock", e.key, c); st != 400 || h.Get("Content-Type") != "application/problem+json" {
			t.Fatalf("%v: %d %s", c, st, b)
		}
	}
	if st, _, _ := e.do("GET", "/api/v1/sandbox/clock", "", nil); st != 401 {
		t.Fatalf("clock without a key: %d", st)
	}
}

func autoChargeHits(r *receiver, acid string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, h := range r.hits {
		if h.Get("acid") == acid && h.Get("rst") == "1" {
			n++
		}
	}
	return n
}

// TestStreamOutlivesServerTimeouts: a kickback stream held longer than the server's read and write
// timeouts is not cut (the listener never has to reconnect).
func TestStreamOutlivesServerTimeouts(t *testing.T) {
	s := testenv.Start(t, testenv.Options{ReadTimeout: time.Second, ReadHeaderTimeout: time.Second})
	e := &env{t: t, s: s, aid: "128001", rcv: newReceiver(t)}
	s.CreateStore(t, e.aid, "開発", func(st *store.Store) { st.ResultURL = e.rcv.url() })
	e.key = e.newKey("ci")
	local := newReceiver(t)
	out := &syncBuf{}
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	go (&listen.Listener{URL: s.URL, Key: e.key, ForwardTo: local.url(), Out: out}).Run(ctx)
	waitFor(t, "the listener to connect", func() bool { return strings.Contains(out.String(), "connected") })
	time.Sleep(3 * time.Second) // three read timeouts
	e.charge("late", nil)
	waitFor(t, "the late kickback", func() bool { return local.count("late") == 1 })
	if strings.Contains(out.String(), "stream lost") {
		t.Fatalf("the stream was cut:\n%s", out.String())
	}
}
