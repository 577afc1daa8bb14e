package e2e

import (
	"context"
	"database/sql"
	"io"
	"net"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	_ "modernc.org/sqlite"

	"kessai/internal/store"
	"kessai/internal/testenv"
	"kessai/internal/wire"
)

type outcome struct {
	cod, body string
	took      time.Duration
}

// payDuring sends payments from 4 clients until stop closes and collects every answer.
func payDuring(t *testing.T, base string, stop <-chan struct{}, prefix string) []outcome {
	var mu sync.Mutex
	var out []outcome
	var wg sync.WaitGroup
	var n atomic.Int64
	for c := 0; c < 4; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				cod := prefix + "-" + strconv.FormatInt(n.Add(1), 10)
				v := url.Values{"aid": {"123456"}, "jb": {"CAPTURE"}, "rt": {"1"}, "cod": {cod}, "cn": {"4111111111111111"},
					"ed": {"4012"}, "cvv": {"123"}, "am": {"500"}, "tx": {"0"}, "sf": {"0"}}
				t0 := time.Now()
				resp, err := testenv.Client.PostForm(base+"/gateway/gateway.aspx", v)
				if err != nil {
					t.Errorf("transport error: %v", err)
					return
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				mu.Lock()
				out = append(out, outcome{cod: cod, body: strings.TrimSpace(string(b)), took: time.Since(t0)})
				mu.Unlock()
				time.Sleep(20 * time.Millisecond)
			}
		}()
	}
	wg.Wait()
	return out
}

// checkOutcomes asserts: every answer is a result line or a clear ER code, none took longer than
// bound, some were refused while the database was away, and every success is really recorded.
func checkOutcomes(t *testing.T, db *store.DB, outs []outcome, bound time.Duration) (ok, refused int) {
	t.Helper()
	for _, o := range outs {
		if o.took > bound {
			t.Errorf("%s took %s (a hang)", o.cod, o.took)
		}
		if o.body == "ER:ER000" {
			refused++
			continue
		}
		r, err := wire.ParseResultLine(o.body)
		if err != nil || !r.OK() {
			t.Errorf("%s: unexpected answer %q", o.cod, o.body)
			continue
		}
		ok++
		p, err := db.SuccessfulByCod(context.Background(), "123456", o.cod)
		if err != nil || p.Gid != r.Gid {
			t.Errorf("%s answered success (gid %s) but is not recorded: %v", o.cod, r.Gid, err)
		}
	}
	return ok, refused
}

// TestSQLiteLockedByAnotherProcess holds the database's write lock from another connection for
// a while: payments in that time get ER000 within a bound (not a hang, not a false success), and
// the service recovers by itself when the lock goes.
func TestSQLiteLockedByAnotherProcess(t *testing.T) {
	if testenv.Postgres() {
		t.Skip("SQLite only; the PostgreSQL variant is TestPostgresUnreachable")
	}
	s := testenv.Start(t, testenv.Options{})
	s.CreateStore(t, "123456", "ロック商店", nil)
	other, err := sql.Open("sqlite", "file:"+filepath.Join(s.Config.DataDir, "kessai.db")+"?_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	conn, err := other.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	stop := make(chan struct{})
	var outs []outcome
	done := make(chan struct{})
	go func() { outs = payDuring(t, s.URL, stop, "lk"); close(done) }()
	time.Sleep(500 * time.Millisecond)
	if _, err := conn.ExecContext(context.Background(), "BEGIN IMMEDIATE"); err != nil {
		t.Fatal(err)
	}
	time.Sleep(12 * time.Second) // longer than a request rides out (3 tries × 2.5 s busy timeout)
	conn.ExecContext(context.Background(), "ROLLBACK")
	time.Sleep(1500 * time.Millisecond)
	close(stop)
	<-done
	ok, refused := checkOutcomes(t, s.DB, outs, 10*time.Second)
	if refused == 0 {
		t.Fatalf("no request was refused while the database was locked (%d answers)", len(outs))
	}
	// recovered: the last answers are successes
	last := outs[len(outs)-1]
	if r, err := wire.ParseResultLine(last.body); err != nil || !r.OK() {
		t.Fatalf("not recovered after the lock: last answer %q", last.body)
	}
	t.Logf("%d answers: %d succeeded, %d refused with ER000 while locked", len(outs), ok, refused)
}

// proxy is a TCP relay to PostgreSQL that the test can cut, making the database unreachable
// without disturbing the shared server.
type proxy struct {
	ln     net.Listener
	target string
	mu     sync.Mutex
	down   bool
	conns  []net.Conn
}

func newProxy(t *testing.T, target string) *proxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{ln: ln, target: target}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			p.mu.Lock()
			if p.down {
				p.mu.Unlock()
				c.Close()
				continue
			}
			u, err := net.Dial("tcp", target)
			if err != nil {
				p.mu.Unlock()
				c.Close()
				continue
			}
			p.conns = append(p.conns, c, u)
			p.mu.Unlock()
			go func() { io.Copy(u, c); u.Close() }()
			go func() { io.Copy(c, u); c.Close() }()
		}
	}()
	t.Cleanup(func() { ln.Close(); p.cut(true) })
	return p
}

func (p *proxy) cut(down bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down = down
	if down {
		for _, c := range p.conns {
			c.Close()
		}
		p.conns = nil
	}
}

// TestPostgresUnreachable cuts the connection to PostgreSQL for a while: payments get ER000
// quickly, nothing is falsely acknowledged, and the service reconnects by itself.
func TestPostgresUnreachable(t *testing.T) {
	if !testenv.Postgres() {
		t.Skip("needs " + testenv.PGEnv)
	}
	cfg := testenv.StoreConfig(t)
	u, _ := url.Parse(cfg.DatabaseURL)
	px := newProxy(t, u.Host)
	u.Host = px.ln.Addr().String()
	via := cfg
	via.DatabaseURL = u.String()
	s := testenv.Start(t, testenv.Options{Store: &via})
	s.CreateStore(t, "123456", "切断商店", nil)
	stop := make(chan struct{})
	var outs []outcome
	done := make(chan struct{})
	go func() { outs = payDuring(t, s.URL, stop, "pg"); close(done) }()
	time.Sleep(500 * time.Millisecond)
	px.cut(true)
	time.Sleep(3 * time.Second)
	px.cut(false)
	time.Sleep(3 * time.Second)
	close(stop)
	<-done
	direct, err := store.Open(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer direct.Close()
	ok, refused := checkOutcomes(t, direct, outs, 12*time.Second)
	if refused == 0 {
		t.Fatalf("no request was refused while PostgreSQL was unreachable (%d answers)", len(outs))
	}
	last := outs[len(outs)-1]
	if r, err := wire.ParseResultLine(last.body); err != nil || !r.OK() {
		t.Fatalf("not recovered: last answer %q", last.body)
	}
	t.Logf("%d answers: %d succeeded, %d refused with ER000 while unreachable", len(outs), ok, refused)
}
