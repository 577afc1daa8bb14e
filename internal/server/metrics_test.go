package server_test

import (
	"io"
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
