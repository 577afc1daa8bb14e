package e2e

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"kessai/internal/notify"
	"kessai/internal/store"
	"kessai/internal/testenv"
)

// serveAt runs `kessai serve` listening on listen (HOST:PORT) with extra flags; it returns the
// loopback URL to reach it.
func serveAt(t *testing.T, cfg store.Config, key, listen string, log io.Writer, extra ...string) (*proc, string) {
	t.Helper()
	_, port, _ := net.SplitHostPort(listen)
	args := append([]string{"serve", "--data", cfg.DataDir, "--addr", listen}, extra...)
	if cfg.DatabaseURL != "" {
		args = append(args, "--database-url", cfg.DatabaseURL)
	}
	cmd := exec.Command(binary(t), args...)
	cmd.Env = append(os.Environ(), "KESSAI_VAULT_KEY="+key)
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &proc{cmd: cmd, addr: "127.0.0.1:" + port}
	t.Cleanup(p.kill)
	for i := 0; i < 300; i++ {
		if c, err := net.DialTimeout("tcp", p.addr, 100*time.Millisecond); err == nil {
			c.Close()
			return p, "http://" + p.addr
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("kessai serve did not listen on %s", listen)
	return nil, ""
}

func kessaiCLI(t *testing.T, cfg store.Config, key string, args ...string) string {
	t.Helper()
	if cfg.DatabaseURL != "" {
		args = append(args, "--database-url", cfg.DatabaseURL)
	}
	args = append(args, "--data", cfg.DataDir)
	cmd := exec.Command(binary(t), args...)
	cmd.Env = append(os.Environ(), "KESSAI_VAULT_KEY="+key)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("kessai %v: %v: %s", args, err, out)
	}
	return string(out)
}

func payRT0(t *testing.T, base, aid, cod string) {
	t.Helper()
	v := url.Values{"aid": {aid}, "jb": {"CAPTURE"}, "rt": {"0"}, "cod": {cod}, "cn": {"4111111111111111"}, "ed": {"4012"},
		"fn": {"YAMADA"}, "ln": {"TARO"}, "cvv": {"123"}, "am": {"1000"}, "tx": {"100"}, "sf": {"0"}}
	resp, err := testenv.Client.PostForm(base+"/gateway/gateway.aspx", v)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if strings.TrimSpace(string(b)) != "OK" {
		t.Fatalf("payment %s: %q", cod, b)
	}
}

// firstAttempt waits for the first delivery attempt of the kickback of (aid, cod).
func firstAttempt(t *testing.T, db *store.DB, aid, cod string) store.Attempt {
	t.Helper()
	ctx := context.Background()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		var gid string
		db.QueryRow(ctx, `SELECT gid FROM payments WHERE aid = ? AND cod = ?`, aid, cod).Scan(&gid)
		if gid != "" {
			if ks, _ := db.KickbacksOf(ctx, aid, gid, 5); len(ks) == 1 {
				if as, _ := db.Attempts(ctx, ks[0].ID); len(as) > 0 {
					return as[0]
				}
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("no delivery attempt for %s/%s", aid, cod)
	return store.Attempt{}
}

// TestSSRFSharedSandboxRefusesInternalTargets (issue 14 item 4), black-box over the binary: a
// sandbox listening on 0.0.0.0 sends nothing to a loopback receiver, records each refused target
// with one message and no timing whatever the port (no port scan through the delivery log); the
// loopback-only sandbox (the README's serve) delivers to loopback; --allow-private-kickbacks opts
// out. The banner says which rule is in force, and the CLI accepts such a URL with a warning.
func TestSSRFSharedSandboxRefusesInternalTargets(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the binary three times")
	}
	var hits atomic.Int64
	var mu sync.Mutex
	got := map[string]bool{}
	rcv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		mu.Lock()
		got[r.URL.Query().Get("cod")] = true
		mu.Unlock()
		w.Write([]byte("OK"))
	})}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go rcv.Serve(ln)
	defer rcv.Close()
	cfg := testenv.StoreConfig(t)
	key := testKey()
	out := kessaiCLI(t, cfg, key, "store", "create", "--aid", "140041", "--name", "受信", "--result-url", "http://"+ln.Addr().String()+"/kb")
	if !strings.Contains(out, "warning:") || !strings.Contains(out, "internal address") {
		t.Fatalf("the CLI took a loopback result URL without a warning: %s", out)
	}
	kessaiCLI(t, cfg, key, "store", "create", "--aid", "140042", "--name", "DB", "--result-url", "http://127.0.0.1:5432/")
	kessaiCLI(t, cfg, key, "store", "create", "--aid", "140043", "--name", "閉", "--result-url", "http://127.0.0.1:1/")
	kessaiCLI(t, cfg, key, "store", "create", "--aid", "140044", "--name", "メタ", "--result-url", "http://169.254.169.254/latest/meta-data/")

	db, err := store.Open(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()

	// 1. shared sandbox: refused, one message, no connection
	log := &lockedLog{}
	p, base := serveAt(t, cfg, key, "0.0.0.0:"+portOf(t), log)
	for _, aid := range []string{"140041", "140042", "140043", "140044"} {
		payRT0(t, base, aid, "shared-"+aid)
	}
	var msgs []string
	for _, aid := range []string{"140041", "140042", "140043", "140044"} {
		a := firstAttempt(t, db, aid, "shared-"+aid)
		if a.Error != notify.RefusedByPolicy || a.StatusCode != 0 || a.LatencyMS != 0 || a.Body != "" {
			t.Errorf("store %s: attempt %+v, want refused by policy with no status, body or timing", aid, a)
		}
		msgs = append(msgs, a.Error)
	}
	if hits.Load() != 0 {
		t.Fatalf("a server listening on 0.0.0.0 delivered %d kickbacks to 127.0.0.1", hits.Load())
	}
	if !strings.Contains(log.String(), "kickbacks: public addresses only") {
		t.Fatalf("the banner does not say the rule in force:\n%s", log.String())
	}
	p.kill()

	// 2. the README's serve, on loopback only: a loopback receiver works
	log2 := &lockedLog{}
	p, base = serveAt(t, cfg, key, "127.0.0.1:"+portOf(t), log2)
	payRT0(t, base, "140041", "loopback-1")
	waitFor(t, "kickback from the loopback-only sandbox", func() bool { mu.Lock(); defer mu.Unlock(); return got["loopback-1"] })
	if !strings.Contains(log2.String(), "kickbacks: public addresses and loopback") {
		t.Fatalf("banner of the loopback sandbox:\n%s", log2.String())
	}
	p.kill()

	// 3. the explicit opt-out
	log3 := &lockedLog{}
	_, base = serveAt(t, cfg, key, "0.0.0.0:"+portOf(t), log3, "--allow-private-kickbacks")
	payRT0(t, base, "140041", "optout-1")
	waitFor(t, "kickback with --allow-private-kickbacks", func() bool { mu.Lock(); defer mu.Unlock(); return got["optout-1"] })
	if !strings.Contains(log3.String(), "kickbacks: any address") {
		t.Fatalf("banner with --allow-private-kickbacks:\n%s", log3.String())
	}
}

func (l *lockedLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func portOf(t *testing.T) string {
	_, port, _ := net.SplitHostPort(freePort(t))
	return port
}

func testKey() string {
	k := make([]byte, 32)
	rand.Read(k)
	return base64.StdEncoding.EncodeToString(k)
}
