package bench

import (
	"os"
	"os/exec"
	"runtime"
	"strings"
	"testing"
)

// restore gives every thread of the test process back the CPUs it had (list as in /proc).
func restore(t *testing.T, list string) {
	cpus, err := cpuList(list)
	if err != nil {
		t.Fatal(err)
	}
	if err := pinProcess(cpus); err != nil {
		t.Fatal(err)
	}
}

// A server started pinned runs on the servers' CPUs only, and the load generator (this process)
// on the others.
func TestPinnedServerRunsOnItsCPUs(t *testing.T) {
	if runtime.NumCPU() < 2 {
		t.Skip("needs two CPUs: one for the server, one for the load generator")
	}
	if _, err := os.Stat("/proc/self/status"); err != nil {
		t.Skip("no /proc")
	}
	before := allowed(t, "/proc/self/status")
	p, err := newPinning("0")
	if err != nil {
		t.Fatal(err)
	}
	defer restore(t, before)
	if s := formatCPUs(p.servers); s != "0" {
		t.Fatalf("servers on %s", s)
	}
	out := new(strings.Builder)
	cmd := exec.Command("sh", "-c", "grep Cpus_allowed_list /proc/self/status")
	cmd.Stdout = out
	if err := p.startCmd(cmd); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatal(err)
	}
	if got := strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(out.String()), "Cpus_allowed_list:")); got != "0" {
		t.Fatalf("the server may run on CPUs %q, want 0", got)
	}
	// this thread, and every other, kept the load generator's CPUs
	for _, c := range p.load {
		if c == 0 {
			t.Fatalf("the load generator was given the server's CPU: %v", p.load)
		}
	}
	mine, err := cpuList(allowed(t, "/proc/self/status"))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range mine {
		if c == 0 {
			t.Fatalf("the load generator's main thread is left on the server's CPU (%s)", formatCPUs(mine))
		}
	}
	if _, err := newPinning(before); err == nil {
		t.Fatal("giving every CPU to the servers was accepted")
	}
}

func allowed(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "Cpus_allowed_list:"); ok {
			return strings.TrimSpace(v)
		}
	}
	t.Fatalf("no Cpus_allowed_list in %s", path)
	return ""
}
