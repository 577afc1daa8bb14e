// Package e2e holds end-to-end tests that drive the real kessai binary as a separate process:
// crashes (SIGKILL) under load, restarts, and what must survive them.
package e2e

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"kessai/internal/store"
	"kessai/internal/testenv"
	"kessai/internal/wire"
)

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// binary builds cmd/kessai once for the package's tests.
func binary(t testing.TB) string {
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "kessai-e2e-bin")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "kessai")
		out, err := exec.Command("go", "build", "-o", binPath, "kessai/cmd/kessai").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("%v: %s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

func freePort(t testing.TB) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

type proc struct {
	cmd  *exec.Cmd
	addr string
}

func start(t testing.TB, cfg store.Config, key string, log io.Writer) *proc {
	t.Helper()
	addr := freePort(t)
	args := []string{"serve", "--data", cfg.DataDir, "--addr", addr}
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
	p := &proc{cmd: cmd, addr: addr}
	t.Cleanup(func() { p.kill() })
	for i := 0; i < 300; i++ {
		if c, err := net.DialTimeout("tcp", addr, 100*time.Millisecond); err == nil {
			c.Close()
			return p
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("kessai serve did not listen on %s", addr)
	return nil
}

func (p *proc) kill() {
	if p.cmd.Process != nil {
		syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
		p.cmd.Wait()
	}
}

type lockedLog struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// TestSIGKILLUnderLoad kills the server 20 times at random moments while 16 clients pay (half
// rt=1, half rt=0 with kickbacks), restarting it each time. Afterwards: every payment whose answer
// said success exists exactly once with its amounts; a retry of its cod returns the same gid; every
// kickback owed for an acknowledged rt=0 payment is delivered.
func TestSIGKILLUnderLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("crash test")
	}
	rounds := 20
	cfg := testenv.StoreConfig(t)
	k := make([]byte, 32)
	rand.Read(k)
	key := base64.StdEncoding.EncodeToString(k)

	var kbMu sync.Mutex
	kicked := map[string]string{} // cod -> gid from kickbacks
	rcv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		kbMu.Lock()
		kicked[q.Get("cod")] = q.Get("gid")
		kbMu.Unlock()
		w.Write([]byte("OK"))
	})}
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	go rcv.Serve(ln)
	defer rcv.Close()

	log := &lockedLog{}
	p := start(t, cfg, key, log)
	// create the store through the CLI against the same storage
	args := []string{"store", "create", "--data", cfg.DataDir, "--aid", "123456", "--name", "クラッシュ商店", "--result-url", "http://" + ln.Addr().String() + "/kb"}
	if cfg.DatabaseURL != "" {
		args = append(args, "--database-url", cfg.DatabaseURL)
	}
	if out, err := exec.Command(binary(t), args...).CombinedOutput(); err != nil {
		t.Fatalf("store create: %v %s", err, out)
	}
	time.Sleep(1100 * time.Millisecond) // the server's store cache

	var mu sync.Mutex
	acked := map[string]string{} // rt=1 cod -> gid
	ackedOK := map[string]bool{} // rt=0 cods answered OK
	cutOff := map[string]bool{}  // cods whose answer the kill cut off: the client does not know
	client := &http.Client{Timeout: 5 * time.Second}
	for r := 0; r < rounds; r++ {
		if r > 0 {
			p = start(t, cfg, key, log)
		}
		stop := make(chan struct{})
		var wg sync.WaitGroup
		for c := 0; c < 16; c++ {
			wg.Add(1)
			go func(c int) {
				defer wg.Done()
				for i := 0; ; i++ {
					select {
					case <-stop:
						return
					default:
					}
					rt := c % 2
					cod := fmt.Sprintf("r%d-c%d-%d", r, c, i)
					v := url.Values{"aid": {"123456"}, "jb": {"CAPTURE"}, "rt": {fmt.Sprint(rt)}, "cod": {cod}, "cn": {"4111111111111111"},
						"ed": {"4012"}, "cvv": {"123"}, "am": {"1000"}, "tx": {"80"}, "sf": {"0"}}
					resp, err := client.PostForm("http://"+p.addr+"/gateway/gateway.aspx", v)
					if err != nil {
						mu.Lock()
						cutOff[cod] = true
						mu.Unlock()
						continue
					}
					b, err := io.ReadAll(resp.Body)
					resp.Body.Close()
					if err != nil {
						mu.Lock()
						cutOff[cod] = true
						mu.Unlock()
						continue
					}
					body := strings.TrimSpace(string(b))
					mu.Lock()
					if rt == 0 && body == "OK" {
						ackedOK[cod] = true
					} else if res, err := wire.ParseResultLine(body); err == nil && res.OK() {
						acked[cod] = res.Gid
					}
					mu.Unlock()
				}
			}(c)
		}
		time.Sleep(time.Duration(300+mrand.IntN(900)) * time.Millisecond)
		p.kill()
		close(stop)
		wg.Wait()
	}
	p = start(t, cfg, key, log)
	if len(acked) == 0 || len(ackedOK) == 0 {
		t.Fatalf("nothing acknowledged: %d rt=1, %d rt=0", len(acked), len(ackedOK))
	}
	db, err := store.Open(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	lost := 0
	for cod, gid := range acked {
		var n int
		var ta int64
		var g string
		db.QueryRow(context.Background(), `SELECT COUNT(*), MAX(gid), MAX(ta) FROM payments WHERE aid = '123456' AND cod = ? AND cod <> '' AND rst = '1'`, cod).Scan(&n, &g, &ta)
		if n != 1 || g != gid || ta != 1080 {
			lost++
			if lost < 5 {
				t.Errorf("acknowledged %s (gid %s): %d successful payments, gid %s, ta %d", cod, gid, n, g, ta)
			}
		}
	}
	// every rt=0 payment answered OK exists once with its amounts
	for cod := range ackedOK {
		var n int
		var ta int64
		db.QueryRow(context.Background(), `SELECT COUNT(*), MAX(ta) FROM payments WHERE aid = '123456' AND cod = ? AND cod <> '' AND rst = '1'`, cod).Scan(&n, &ta)
		if n != 1 || ta != 1080 {
			if lost++; lost < 5 {
				t.Errorf("acknowledged rt=0 %s: %d successful payments, ta %d", cod, n, ta)
			}
		}
	}
	retry := func(cod string) *wire.Result {
		t.Helper()
		v := url.Values{"aid": {"123456"}, "jb": {"CAPTURE"}, "rt": {"1"}, "cod": {cod}, "cn": {"4111111111111111"},
			"ed": {"4012"}, "cvv": {"123"}, "am": {"1000"}, "tx": {"80"}, "sf": {"0"}}
		resp, err := client.PostForm("http://"+p.addr+"/gateway/gateway.aspx", v)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		res, err := wire.ParseResultLine(strings.TrimSpace(string(b)))
		if err != nil || !res.OK() {
			t.Errorf("retry of %s: %q", cod, b)
			return nil
		}
		return &res
	}
	// retries of acknowledged orders get the same gid and charge nothing new
	i := 0
	for cod, gid := range acked {
		if i++; i > 200 {
			break
		}
		if res := retry(cod); res != nil && res.Gid != gid {
			t.Errorf("retry of %s: gid %s, want %s", cod, res.Gid, gid)
		}
	}
	// a client whose request the crash cut off retries it: whether or not the first attempt was
	// recorded, the order ends up paid exactly once, with the gid the retry answers
	for cod := range cutOff {
		res := retry(cod)
		if res == nil {
			continue
		}
		var n int
		var g string
		db.QueryRow(context.Background(), `SELECT COUNT(*), MAX(gid) FROM payments WHERE aid = '123456' AND cod = ? AND cod <> '' AND rst = '1'`, cod).Scan(&n, &g)
		if n != 1 || g != res.Gid {
			t.Errorf("cut-off order %s retried: %d successful payments (gid %s), the retry answered gid %s", cod, n, g, res.Gid)
		}
	}
	if len(cutOff) == 0 {
		t.Errorf("no request was cut off by %d kills: the retry case was not exercised", rounds)
	}
	var dup int
	db.QueryRow(context.Background(), `SELECT COUNT(*) FROM (SELECT cod FROM payments WHERE rst = '1' GROUP BY cod HAVING COUNT(*) > 1) d`).Scan(&dup)
	if dup != 0 {
		t.Errorf("%d order numbers charged twice", dup)
	}
	// every kickback owed for an acknowledged rt=0 payment arrives
	deadline := time.Now().Add(60 * time.Second)
	missing := len(ackedOK)
	for time.Now().Before(deadline) {
		missing = 0
		kbMu.Lock()
		for cod := range ackedOK {
			if kicked[cod] == "" {
				missing++
			}
		}
		kbMu.Unlock()
		if missing == 0 {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if missing != 0 {
		t.Errorf("%d of %d kickbacks owed for acknowledged payments never arrived", missing, len(ackedOK))
	}
	t.Logf("%d rounds of SIGKILL: %d rt=1 and %d rt=0 payments acknowledged, %d requests cut off and retried; %d lost or changed, %d duplicated, %d kickbacks missing",
		rounds, len(acked), len(ackedOK), len(cutOff), lost, dup, missing)
}
