package e2e

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"kessai/internal/store"
	"kessai/internal/testenv"
)

// TestInjectionThroughCodAndFreeParameters sends values crafted to add parameters or headers to
// the kickback request: they must arrive as plain values of their own parameter.
func TestInjectionThroughCodAndFreeParameters(t *testing.T) {
	var mu sync.Mutex
	var raw []string
	var hdrs []http.Header
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		raw = append(raw, r.URL.RawQuery)
		hdrs = append(hdrs, r.Header.Clone())
		mu.Unlock()
	}))
	defer rcv.Close()
	s := testenv.Start(t, testenv.Options{})
	s.CreateStore(t, "123456", "注入商店", func(st *store.Store) { st.ResultURL = rcv.URL + "/kb?merchant=fixed" })
	evil := "x&rst=2&gid=forged\r\nX-Injected: 1"
	v := url.Values{"aid": {"123456"}, "jb": {"CAPTURE"}, "rt": {"0"}, "cod": {"inj-1"}, "cn": {"4111111111111111"}, "ed": {"4012"},
		"cvv": {"123"}, "am": {"100"}, "tx": {"0"}, "sf": {"0"}, "note": {"a&rst=2#frag"}, "memo": {"日本語 & = ?"}}
	resp, err := testenv.Client.PostForm(s.URL+"/gateway/gateway.aspx", v)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(b) != "OK" {
		t.Fatalf("payment: %q", b)
	}
	// a cod carrying separators or control characters is refused outright
	v2 := url.Values{"aid": {"123456"}, "cod": {evil}, "cn": {"4111111111111111"}, "ed": {"4012"}, "cvv": {"123"}, "am": {"100"}}
	resp, _ = testenv.Client.PostForm(s.URL+"/gateway/gateway.aspx", v2)
	b, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.HasPrefix(string(b), "ER:ER0") {
		t.Fatalf("cod with CR/LF and &: %q", b)
	}
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		mu.Lock()
		n := len(raw)
		mu.Unlock()
		if n > 0 {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(raw) != 1 {
		t.Fatalf("%d kickbacks", len(raw))
	}
	q, err := url.ParseQuery(raw[0])
	if err != nil {
		t.Fatalf("kickback query unparsable: %v", err)
	}
	if q.Get("note") != "a&rst=2#frag" || q.Get("memo") != "日本語 & = ?" || len(q["rst"]) != 1 || q.Get("rst") != "1" || q.Get("merchant") != "fixed" {
		t.Fatalf("free parameters changed the kickback: %v", q)
	}
	if hdrs[0].Get("X-Injected") != "" {
		t.Fatal("header injected")
	}
}

// TestOversizedBodies: the gateway answers a body over its limit with ER001 (status 200, what
// its clients parse); the hosted pages, the token API and the panels answer 413.
func TestOversizedBodies(t *testing.T) {
	s := testenv.Start(t, testenv.Options{})
	s.CreateStore(t, "123456", "大きい商店", nil)
	big := "aid=123456&am=100&inm=" + strings.Repeat("あ", 2<<20)
	resp, err := testenv.Client.Post(s.URL+"/gateway/gateway.aspx", "application/x-www-form-urlencoded", strings.NewReader(big))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(b) != "ER:ER001" {
		t.Fatalf("gateway oversized body: %q", b)
	}
	// just over each surface's limit (64 KiB for the hosted pages and the token API, 1 MiB for
	// the panels), so the whole body is sent before the answer: each must answer exactly 413
	over := func(n int) string { return "aid=123456&am=100&inm=" + strings.Repeat("x", n) }
	for _, c := range []struct {
		path string
		size int
	}{
		{"/link/creditcard", 80 << 10}, {"/link/creditcard/pay", 80 << 10}, {"/gateway/payform.aspx", 80 << 10}, {"/gateway/token.json", 80 << 10},
		{"/console/login", 1<<20 + 16<<10}, {"/console/lang", 1<<20 + 16<<10}, {"/operator/login", 1<<20 + 16<<10},
	} {
		resp, err := testenv.Client.Post(s.URL+c.path, "application/x-www-form-urlencoded", strings.NewReader(over(c.size)))
		if err != nil {
			t.Errorf("%s: %v", c.path, err)
			continue
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusRequestEntityTooLarge {
			t.Errorf("%s body over the limit: HTTP %d, want 413", c.path, resp.StatusCode)
		}
	}
}

// TestSlowClientIsCutOff opens a connection that sends its headers slower than the server's
// header timeout: the server closes it rather than holding a goroutine forever.
func TestSlowClientIsCutOff(t *testing.T) {
	s := testenv.Start(t, testenv.Options{ReadHeaderTimeout: 500 * time.Millisecond})
	c, err := net.Dial("tcp", strings.TrimPrefix(s.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.Write([]byte("GET /maintenance HTTP/1.1\r\nHost: x\r\n"))
	time.Sleep(1500 * time.Millisecond)
	c.SetReadDeadline(time.Now().Add(3 * time.Second))
	_, err = bufio.NewReader(c).ReadString('\n')
	if err == nil {
		// a 408 answer is also a cut-off; anything else means the request was still being read
		t.Log("server answered the slow client")
	}
	if _, werr := c.Write([]byte("X: y\r\n\r\n")); werr == nil {
		buf := make([]byte, 64)
		c.SetReadDeadline(time.Now().Add(2 * time.Second))
		n, _ := c.Read(buf)
		if bytes.HasPrefix(buf[:n], []byte("HTTP/1.1 200")) {
			t.Fatal("a client slower than the header timeout was served")
		}
	}
}

// TestSlowBodyIsCutOff sends a payment's headers at once and then its body slower than the
// server's read timeout: the server cuts the request off (no answer, an error status, or the
// gateway's ER:ER001) and records nothing, rather than holding a goroutine for as long as the
// client likes.
func TestSlowBodyIsCutOff(t *testing.T) {
	s := testenv.Start(t, testenv.Options{ReadTimeout: 700 * time.Millisecond})
	s.CreateStore(t, "123456", "遅い商店", nil)
	body := "aid=123456&jb=CAPTURE&rt=1&cod=slow-body&cn=4111111111111111&ed=4012&cvv=123&am=1000&tx=0&sf=0"
	c, err := net.Dial("tcp", strings.TrimPrefix(s.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fmt.Fprintf(c, "POST /gateway/gateway.aspx HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: %d\r\n\r\n", len(body))
	c.Write([]byte(body[:10]))
	time.Sleep(1500 * time.Millisecond) // past the read timeout
	c.Write([]byte(body[10:]))
	c.SetReadDeadline(time.Now().Add(3 * time.Second))
	// the gateway answers errors with 200 and an ER code (its clients parse the body): the
	// request must not have been processed, whatever the status line says
	if resp, err := http.ReadResponse(bufio.NewReader(c), nil); err == nil {
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode/100 == 2 && !strings.HasPrefix(string(b), "ER:") {
			t.Fatalf("a body slower than the read timeout was processed: %d %q", resp.StatusCode, b)
		}
		t.Logf("answer to the cut-off request: %d %q", resp.StatusCode, b)
	}
	var n int
	s.DB.QueryRow(context.Background(), `SELECT COUNT(*) FROM payments WHERE cod = 'slow-body'`).Scan(&n)
	if n != 0 {
		t.Fatalf("%d payments recorded from a cut-off request", n)
	}
}
