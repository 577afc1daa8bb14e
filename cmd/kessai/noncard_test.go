package main

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"kessai/internal/server"
	"kessai/internal/testenv"
)

// TestSandboxCommands: kessai store create --methods card,cvs,bank, then every sandbox action from
// the command line (--data for SQLite, --database-url on PostgreSQL) against the database a
// running server uses; the server delivers the resulting kickbacks, each once, with the first
// result's gid and cod; a repeated action changes nothing.
func TestSandboxCommands(t *testing.T) {
	ctx := context.Background()
	var mu sync.Mutex
	var hits []url.Values
	rcv := http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		hits = append(hits, r.URL.Query())
		mu.Unlock()
	})}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go rcv.Serve(ln)
	defer rcv.Close()

	cfg := testenv.StoreConfig(t)
	dbArgs := []string{"--data", cfg.DataDir}
	if cfg.DatabaseURL != "" {
		dbArgs = []string{"--database-url", cfg.DatabaseURL}
	}
	cli := func(args ...string) string {
		t.Helper()
		var out, errOut bytes.Buffer
		if err := run(ctx, append(args, dbArgs...), &out, &errOut); err != nil {
			t.Fatalf("kessai %v: %v\n%s", args, err, errOut.String())
		}
		return out.String()
	}
	srv := testenv.Start(t, testenv.Options{Store: &cfg})
	cli("store", "create", "--aid", "125001", "--name", "コンビニ商店", "--result-url", "http://"+ln.Addr().String()+"/kb", "--methods", "card,cvs,bank")
	cli("store", "update", "--aid", "125001", "--holiday-hold=false")
	post := func(path string, f url.Values) string {
		resp, err := testenv.Client.PostForm(srv.URL+path, f)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}
	wait := func(ap, cod string) url.Values {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for time.Now().Before(deadline) {
			mu.Lock()
			for _, h := range hits {
				if h.Get("ap") == ap && h.Get("cod") == cod {
					mu.Unlock()
					return h
				}
			}
			mu.Unlock()
			time.Sleep(50 * time.Millisecond)
		}
		t.Fatalf("no %s kickback for %s", ap, cod)
		return nil
	}
	cv := url.Values{"aid": {"125001"}, "jb": {"CAPTURE"}, "rt": {"1"}, "cod": {"c-1"}, "pn": {"0312345678"}, "am": {"2000"},
		"tx": {"200"}, "sf": {"0"}, "na": {"ヤマダ ハナコ"}, "cv": {"010"}}
	gid := strings.Split(post("/gateway/cvs2.aspx", cv), ",")[0]
	if out := cli("sandbox", "pay", gid); !strings.Contains(out, "pending → paid") {
		t.Fatalf("sandbox pay: %q", out)
	}
	if h := wait("CPL", "c-1"); h.Get("gid") != gid {
		t.Fatalf("CPL %v", h)
	}
	if out := cli("sandbox", "pay", gid); !strings.Contains(out, "nothing changed") {
		t.Fatalf("second sandbox pay: %q", out)
	}
	if out := cli("sandbox", "cancel", gid); !strings.Contains(out, "paid → cancelled") {
		t.Fatalf("sandbox cancel: %q", out)
	}
	wait("CVS_CAN", "c-1")

	bk := url.Values{"aid": {"125001"}, "jb": {"CAPTURE"}, "rt": {"1"}, "cod": {"b-1"}, "am": {"5000"}, "tx": {"500"}, "sf": {"0"}, "nmf": {"ヤマダ タロウ"}}
	bgid := strings.Split(post("/gateway/bank.aspx", bk), ",")[0]
	if out := cli("sandbox", "transfer", bgid, "--amount", "6000"); !strings.Contains(out, "mf=3") {
		t.Fatalf("sandbox transfer: %q", out)
	}
	if h := wait("BAN_SAL", "b-1"); h.Get("mf") != "3" || h.Get("nk") != "6000" || h.Get("gid") != bgid {
		t.Fatalf("BAN_SAL %v", h)
	}
	bk.Set("cod", "b-2")
	b2 := strings.Split(post("/gateway/bank.aspx", bk), ",")[0]
	if out := cli("sandbox", "expire", b2); !strings.Contains(out, "pending → expired") {
		t.Fatalf("sandbox expire: %q", out)
	}
	if out := cli("sandbox", "transfer", b2); !strings.Contains(out, "nothing changed") {
		t.Fatalf("transfer to an expired account: %q", out)
	}
	// --at: a transfer after the deadline (as a server on a sandbox clock would see it) is refused
	bk.Set("cod", "b-3")
	b3 := strings.Split(post("/gateway/bank.aspx", bk), ",")[0]
	if out := cli("sandbox", "transfer", b3, "--at", time.Now().AddDate(0, 0, 20).Format(time.RFC3339)); !strings.Contains(out, "deadline had passed") {
		t.Fatalf("transfer after the deadline: %q", out)
	}
	var errOut bytes.Buffer
	if err := run(ctx, append([]string{"sandbox", "pay", "1234"}, dbArgs...), io.Discard, &errOut); err == nil {
		t.Fatal("sandbox pay of an unknown gid succeeded")
	}
	mu.Lock()
	n := 0
	for _, h := range hits {
		if h.Get("ap") == "CPL" {
			n++
		}
	}
	mu.Unlock()
	if n != 1 {
		t.Fatalf("%d CPL kickbacks", n)
	}
}

// TestLinkCreateBankAndConvenience: kessai link create --page bankcheck / convenience prints a mail
// link that opens the non-card page without a Referer on an allow-listed store; changed, refused.
func TestLinkCreateBankAndConvenience(t *testing.T) {
	ctx := context.Background()
	data := t.TempDir()
	var out, errOut bytes.Buffer
	if err := run(ctx, []string{"store", "create", "--data", data, "--aid", "124002", "--name", "振込商店",
		"--allow-origin", "https://shop.example.jp", "--methods", "card,cvs,bank"}, &out, &errOut); err != nil {
		t.Fatalf("store create: %v\n%s", err, errOut.String())
	}
	s, err := server.New(ctx, server.Config{DataDir: data, Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(s.Handler())
	defer func() { srv.Close(); s.Close() }()
	for _, page := range []string{"bankcheck", "convenience"} {
		out.Reset()
		if err := run(ctx, []string{"link", "create", "--data", data, "--base-url", srv.URL, "--aid", "124002", "--am", "3000", "--page", page}, &out, &errOut); err != nil {
			t.Fatalf("link create: %v\n%s", err, errOut.String())
		}
		l := strings.SplitN(out.String(), "\n", 2)[0]
		if !strings.Contains(l, "/link/"+page+"?") {
			t.Fatalf("link %q", l)
		}
		resp, err := http.Get(l)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.Contains(string(b), `action="/link/noncard/issue"`) {
			t.Fatalf("%s link: %d", page, resp.StatusCode)
		}
		resp, _ = http.Get(strings.Replace(l, "am=3000", "am=30", 1))
		resp.Body.Close()
		if resp.StatusCode != 403 {
			t.Fatalf("changed %s link: %d", page, resp.StatusCode)
		}
	}
}
