package server_test

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"kessai/internal/testenv"
)

func TestMetricsExposeRuntimeAndRequests(t *testing.T) {
	s := testenv.Start(t, testenv.Options{})
	resp, err := testenv.Client.Get(s.URL + "/maintenance")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	resp, err = testenv.Client.Get(s.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{"go_goroutines ", "process_resident_memory_bytes ", `kessai_http_requests_total{code="200",surface="public"} `, "kessai_maintenance_active 0"} {
		if !strings.Contains(string(b), want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
}

// TestSecureCookiesBehindATrustedTLSProxy: a TLS-terminating proxy on the trusted list gets Secure
// cookies for its https clients; the same header from anyone else changes nothing.
func TestSecureCookiesBehindATrustedTLSProxy(t *testing.T) {
	for _, c := range []struct {
		name    string
		trusted []string
		want    bool
	}{{"trusted proxy", []string{"127.0.0.1/32"}, true}, {"untrusted sender", []string{"10.0.0.0/8"}, false}} {
		t.Run(c.name, func(t *testing.T) {
			s := testenv.Start(t, testenv.Options{TrustedProxy: c.trusted})
			req, _ := http.NewRequest("GET", s.URL+"/console/login", nil)
			req.Header.Set("X-Forwarded-Proto", "https")
			resp, err := testenv.Client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if len(resp.Cookies()) == 0 {
				t.Fatalf("no cookie set by the login page (HTTP %d)", resp.StatusCode)
			}
			for _, ck := range resp.Cookies() {
				if ck.Secure != c.want {
					t.Errorf("cookie %s Secure=%v, want %v", ck.Name, ck.Secure, c.want)
				}
			}
			if got := resp.Header.Get("Strict-Transport-Security") != ""; got != c.want {
				t.Errorf("HSTS present=%v, want %v", got, c.want)
			}
		})
	}
}
