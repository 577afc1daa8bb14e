package autocharge_test

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"kessai/internal/acquirer"
	"kessai/internal/autocharge"
	"kessai/internal/clock"
	"kessai/internal/maintenance"
	"kessai/internal/notify"
	"kessai/internal/payment"
	"kessai/internal/store"
	"kessai/internal/testenv"
	"kessai/internal/token"
	"kessai/internal/vault"
	"kessai/internal/web/acpages"
	"kessai/internal/web/gateway"
	"kessai/internal/wire"
)

// env is one Kessai over a real SQLite database, with the gateway and the customer pages served
// over real HTTP, a clock the test moves, and a kickback receiver.
type env struct {
	db    *store.DB
	clk   *clock.Fixed
	pay   *payment.Service
	svc   *autocharge.Service
	tok   *token.Service
	run   *autocharge.Runner
	maint *maintenance.Index
	st    *store.Store
	srv   *httptest.Server
	rcv   *receiver
	kick  *notify.Kickbacks
}

var quiet = slog.New(slog.DiscardHandler)

// jst parses "2006-01-02 15:04" as Japan time.
func jst(tb testing.TB, s string) time.Time {
	tb.Helper()
	t, err := time.ParseInLocation("2006-01-02 15:04", s, autocharge.JST)
	if err != nil {
		tb.Fatal(err)
	}
	return t
}

// newEnv runs on a fresh SQLite database, or PostgreSQL when KESSAI_TEST_PG is set.
func newEnv(tb testing.TB, start time.Time) *env {
	tb.Helper()
	return newEnvAt(tb, testenv.StoreConfig(tb), start)
}

func newEnvAt(tb testing.TB, cfg store.Config, start time.Time) *env {
	tb.Helper()
	ctx := context.Background()
	db, err := store.Open(ctx, cfg)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	e := &env{db: db, clk: clock.NewFixed(start), maint: maintenance.NewIndex(nil), rcv: newReceiver(tb)}
	e.st = store.NewStore("123456", "テスト商店")
	e.st.ResultURL = e.rcv.url + "/result"
	e.st.ACResultURL = e.rcv.url + "/ac"
	if err := db.CreateStore(ctx, e.st); err != nil && !strings.Contains(err.Error(), "exists") {
		tb.Fatal(err)
	}
	kr := vault.GenerateKeyRing()
	e.pay = payment.New(db, kr, acquirer.Sandbox{}, e.clk, quiet)
	e.svc = autocharge.New(e.pay, e.clk, quiet)
	e.tok = token.New(db, kr, acquirer.Sandbox{}, e.clk, quiet)
	e.run = &autocharge.Runner{Svc: e.svc, Maint: e.maint}
	gate := func(t time.Time, op maintenance.Op, brand string, r *http.Request) *maintenance.Window {
		return e.maint.Refused(t, op, "card", brand)
	}
	gw := &gateway.Handler{Pay: e.pay, Clock: e.clk, Gate: gate, Log: quiet, AutoCharge: e.svc, Tokens: e.tok,
		RemoteIP: func(r *http.Request) netip.Addr {
			h, _, _ := net.SplitHostPort(r.RemoteAddr)
			a, _ := netip.ParseAddr(h)
			return a
		}}
	mux := http.NewServeMux()
	gw.Register(mux)
	(&acpages.Handler{AC: e.svc, Clock: e.clk, Gate: gate, Log: quiet, Sandbox: true}).Register(mux)
	e.srv = httptest.NewServer(mux)
	tb.Cleanup(e.srv.Close)
	e.kick = &notify.Kickbacks{DB: db, Clock: e.clk, Maint: e.maint, Log: quiet, Stores: e.pay.Stores.Get, Poll: 20 * time.Millisecond,
		AllowPrivate: true} // the receiver is on loopback, as in the sandbox
	return e
}

// setStore changes the store's settings.
func (e *env) setStore(tb testing.TB, fn func(*store.Store)) {
	tb.Helper()
	fn(e.st)
	if err := e.db.UpdateStore(context.Background(), e.st); err != nil {
		tb.Fatal(err)
	}
	e.pay.Stores.Invalidate()
}

// call sends a gateway request and returns the body.
func (e *env) call(tb testing.TB, path string, params map[string]string) string {
	tb.Helper()
	v := url.Values{}
	for k, x := range params {
		v.Set(k, x)
	}
	resp, err := http.PostForm(e.srv.URL+path, v)
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return strings.TrimSpace(string(b))
}

// signUpParams is a raw-card sign-up with no charge now (am=0) plus the plan parameters.
func signUpParams(cod, pan string, plan map[string]string) map[string]string {
	p := map[string]string{"aid": "123456", "jb": "CAPTURE", "rt": "1", "cod": cod, "cn": pan, "ed": "3012", "cvv": "123",
		"fn": "YAMADA", "ln": "TARO", "em": "taro@example.com", "pn": "0312345678", "am": "0", "tx": "0", "sf": "0"}
	for k, v := range plan {
		p[k] = v
	}
	return p
}

// result parses a 14-column result line.
func result(tb testing.TB, line string) map[string]string {
	tb.Helper()
	cols := strings.Split(line, ",")
	if len(cols) != 14 {
		tb.Fatalf("result line %q: %d columns", line, len(cols))
	}
	names := []string{"gid", "rst", "ap", "ec", "god", "cod", "am", "tx", "sf", "ta", "id", "ps", "acid", "other"}
	m := map[string]string{}
	for i, n := range names {
		m[n] = cols[i]
	}
	return m
}

// signUp registers a plan through gateway.aspx and returns the sign-up's result line.
func (e *env) signUp(tb testing.TB, cod, pan string, plan map[string]string) map[string]string {
	tb.Helper()
	line := e.call(tb, "/gateway/gateway.aspx", signUpParams(cod, pan, plan))
	r := result(tb, line)
	if r["rst"] != "1" || r["acid"] == "" {
		tb.Fatalf("sign-up %s: %q", cod, line)
	}
	return r
}

func (e *env) runOnce(tb testing.TB) autocharge.Outcome {
	tb.Helper()
	o, err := e.run.RunOnce(context.Background())
	if err != nil {
		tb.Fatal(err)
	}
	return o
}

// charge is one successful payment of a plan.
type charge struct {
	Cod  string
	Ta   int64
	Date string // JST date the payment was made
	At   time.Time
}

func (e *env) charges(tb testing.TB, acid string) []charge {
	tb.Helper()
	rows, err := e.db.Query(context.Background(), `SELECT cod, ta, created_at FROM payments WHERE acid = ? AND rst = '1' AND source = 'autocharge' ORDER BY created_at, cod`, acid)
	if err != nil {
		tb.Fatal(err)
	}
	defer rows.Close()
	var out []charge
	for rows.Next() {
		var c charge
		var at int64
		if err := rows.Scan(&c.Cod, &c.Ta, &at); err != nil {
			tb.Fatal(err)
		}
		c.At = time.Unix(0, at)
		c.Date = autocharge.DateOf(c.At).String()
		out = append(out, c)
	}
	return out
}

// acKickbacks lists the queued auto-charge kickbacks of a plan as parsed queries, oldest first.
func (e *env) acKickbacks(tb testing.TB, acid string) []kb {
	tb.Helper()
	rows, err := e.db.Query(context.Background(), `SELECT query, next_at, url FROM kickbacks WHERE acid = ? AND kind = 'autocharge' ORDER BY id`, acid)
	if err != nil {
		tb.Fatal(err)
	}
	defer rows.Close()
	var out []kb
	for rows.Next() {
		var q, u string
		var at int64
		if err := rows.Scan(&q, &at, &u); err != nil {
			tb.Fatal(err)
		}
		v, _ := url.ParseQuery(q)
		out = append(out, kb{Q: v, NextAt: time.Unix(0, at), URL: u})
	}
	return out
}

type kb struct {
	Q      url.Values
	NextAt time.Time
	URL    string
}

func (e *env) plan(tb testing.TB, acid string) *store.AutoCharge {
	tb.Helper()
	a, err := e.db.GetAutoCharge(context.Background(), "123456", acid)
	if err != nil {
		tb.Fatal(err)
	}
	return a
}

// deliver runs the kickback worker until want deliveries reached the receiver's path.
func (e *env) deliver(tb testing.TB, path string, want int) []url.Values {
	tb.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { e.kick.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if got := e.rcv.hits(path); len(got) >= want {
			return got
		}
		time.Sleep(10 * time.Millisecond)
	}
	got := e.rcv.hits(path)
	tb.Fatalf("kickbacks to %s: got %d, want %d", path, len(got), want)
	return nil
}

func wantCode(tb testing.TB, err error, code wire.Code) {
	tb.Helper()
	if got := wire.CodeOf(err); got != code {
		tb.Fatalf("got %v (%s), want %s", err, got, code)
	}
}

// receiver records kickbacks.
type receiver struct {
	url string
	mu  sync.Mutex
	got map[string][]url.Values
}

func newReceiver(tb testing.TB) *receiver {
	r := &receiver{got: map[string][]url.Values{}}
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, q *http.Request) {
		r.mu.Lock()
		r.got[q.URL.Path] = append(r.got[q.URL.Path], q.URL.Query())
		r.mu.Unlock()
		w.Write([]byte("OK"))
	}))
	tb.Cleanup(s.Close)
	r.url = s.URL
	return r
}

func (r *receiver) hits(path string) []url.Values {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]url.Values(nil), r.got[path]...)
}
