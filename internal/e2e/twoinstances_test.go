package e2e

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"kessai/internal/maintenance"
	"kessai/internal/store"
	"kessai/internal/testenv"
	"kessai/internal/wire"
)

func cli(t testing.TB, cfg store.Config, key string, args ...string) {
	t.Helper()
	args = append(args, "--data", cfg.DataDir)
	if cfg.DatabaseURL != "" {
		args = append(args, "--database-url", cfg.DatabaseURL)
	}
	cmd := exec.Command(binary(t), args...)
	cmd.Env = append(cmd.Environ(), "KESSAI_VAULT_KEY="+key)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("kessai %s: %v %s", strings.Join(args[:2], " "), err, out)
	}
}

func newKey() string {
	k := make([]byte, 32)
	rand.Read(k)
	return base64.StdEncoding.EncodeToString(k)
}

// TestTwoInstancesOnePostgres runs two kessai serve processes on one PostgreSQL database.
func TestTwoInstancesOnePostgres(t *testing.T) {
	if !testenv.Postgres() {
		t.Skip("needs " + testenv.PGEnv + " (runs in .ci/run's PostgreSQL pass)")
	}
	cfg := testenv.StoreConfig(t)
	key := newKey()
	var mu sync.Mutex
	deliveries := map[string]int{}
	rcv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		deliveries[r.URL.Query().Get("cod")]++
		mu.Unlock()
	})}
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	go rcv.Serve(ln)
	defer rcv.Close()
	log := &lockedLog{}
	a := start(t, cfg, key, log)
	cli(t, cfg, key, "store", "create", "--aid", "123456", "--name", "二台商店", "--result-url", "http://"+ln.Addr().String()+"/kb")
	cli(t, cfg, key, "user", "create", "--aid", "123456", "--login", "owner", "--password", "S3cure-pass-2026", "--role", "admin")
	b := start(t, cfg, key, log)
	time.Sleep(1100 * time.Millisecond)
	inst := []*proc{a, b}
	pay := func(i int, cod string, rt string) string {
		v := url.Values{"aid": {"123456"}, "jb": {"CAPTURE"}, "rt": {rt}, "cod": {cod}, "cn": {"4111111111111111"}, "ed": {"4012"},
			"cvv": {"123"}, "am": {"1000"}, "tx": {"0"}, "sf": {"0"}}
		resp, err := testenv.Client.PostForm("http://"+inst[i%2].addr+"/gateway/gateway.aspx", v)
		if err != nil {
			return "transport: " + err.Error()
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return strings.TrimSpace(string(body))
	}

	t.Run("same cod on both at once charges once", func(t *testing.T) {
		var wg sync.WaitGroup
		gids := make([]string, 32)
		for i := range gids {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				if r, err := wire.ParseResultLine(pay(i, "both-1", "1")); err == nil {
					gids[i] = r.Gid
				}
			}(i)
		}
		wg.Wait()
		for _, g := range gids {
			if g == "" || g != gids[0] {
				t.Fatalf("gids %v", gids)
			}
		}
	})

	t.Run("each kickback delivered once", func(t *testing.T) {
		for i := 0; i < 200; i++ {
			if body := pay(i, fmt.Sprintf("kb-%d", i), "0"); body != "OK" {
				t.Fatalf("payment %d: %q", i, body)
			}
		}
		deadline := time.Now().Add(30 * time.Second)
		for time.Now().Before(deadline) {
			mu.Lock()
			n := len(deliveries)
			mu.Unlock()
			if n >= 200 {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		time.Sleep(time.Second)
		mu.Lock()
		defer mu.Unlock()
		for i := 0; i < 200; i++ {
			if n := deliveries[fmt.Sprintf("kb-%d", i)]; n != 1 {
				t.Errorf("kb-%d delivered %d times", i, n)
			}
		}
	})

	t.Run("maintenance change obeyed by both within a second", func(t *testing.T) {
		db, err := store.Open(context.Background(), cfg)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		now := time.Now().UTC()
		ws, err := db.AddWindows(context.Background(), []maintenance.Window{{Start: now, End: now.Add(time.Hour), Zone: maintenance.DefaultZone,
			Kind: maintenance.KindEmergency, Status: maintenance.StatusAnnounced, Scope: maintenance.Scope{Ops: maintenance.DefaultScope}}}, "test")
		if err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Second)
		for i := range inst {
			if body := pay(i, fmt.Sprintf("m-%d", i), "1"); body != "ER:ER999" {
				t.Errorf("instance %d one second after the window started: %q", i, body)
			}
		}
		if _, err := db.ChangeWindow(context.Background(), ws[0].ID, maintenance.ChangeEnded, "test", "", func(w *maintenance.Window) error {
			w.End = time.Now().UTC()
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Second)
		for i := range inst {
			if body := pay(i, fmt.Sprintf("m2-%d", i), "1"); strings.HasPrefix(body, "ER:") {
				t.Errorf("instance %d one second after the window ended: %q", i, body)
			}
		}
	})

	t.Run("a panel login works on both", func(t *testing.T) {
		jar, _ := cookiejar.New(nil)
		c := &http.Client{Jar: jar, Timeout: 10 * time.Second}
		// sessions live in the database: log in on A, use the session on B (same host, other port:
		// the cookie jar keys cookies by host, so both instances see it)
		resp, err := c.Get("http://" + a.addr + "/console/login")
		if err != nil {
			t.Fatal(err)
		}
		page, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		m := regexp.MustCompile(`name="csrf" value="([^"]*)"`).FindSubmatch(page)
		if m == nil {
			t.Fatalf("no csrf on the login form (HTTP %d)", resp.StatusCode)
		}
		resp, err = c.PostForm("http://"+a.addr+"/console/login", url.Values{"csrf": {string(m[1])}, "aid": {"123456"}, "login": {"owner"}, "password": {"S3cure-pass-2026"}})
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		// maintenance from the previous subtest may still be on: the panel is then 503 on both
		for i := 0; i < 40; i++ {
			resp, err = c.Get("http://" + b.addr + "/console/payments?cod=both-1")
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == 200 {
				if !strings.Contains(string(body), "both-1") {
					t.Fatalf("instance B does not know A's session: %s", body[:min(len(body), 200)])
				}
				return
			}
			time.Sleep(time.Second)
		}
		t.Fatalf("instance B answered HTTP %d", resp.StatusCode)
	})

	t.Run("an instance with another vault key refuses to start", func(t *testing.T) {
		args := []string{"serve", "--data", t.TempDir(), "--addr", "127.0.0.1:0", "--database-url", cfg.DatabaseURL}
		cmd := exec.Command(binary(t), args...)
		cmd.Env = append(cmd.Environ(), "KESSAI_VAULT_KEY="+newKey())
		out, err := cmd.CombinedOutput()
		if err == nil || !strings.Contains(string(out), "vault key") {
			t.Fatalf("started with a foreign key: %v %s", err, out)
		}
	})
}
