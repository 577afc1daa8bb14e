package clock

import (
	"testing"
	"time"
)

// TestSandboxControls: a frozen clock stands still and moves only when told; rates apply from the
// present instant on; bad rates are refused and change nothing.
func TestSandboxControls(t *testing.T) {
	start := time.Date(2026, 7, 22, 2, 54, 50, 0, time.UTC)
	c := NewSandbox(start, 1)
	c.Freeze(true)
	at := c.Now()
	if got := c.Now(); !got.Equal(at) {
		t.Fatalf("frozen clock moved: %s → %s", at, got)
	}
	if c.Rate() != 0 || !c.State().Frozen {
		t.Fatalf("frozen state: rate %v %+v", c.Rate(), c.State())
	}
	c.Advance(720 * time.Hour)
	if got := c.Now(); !got.Equal(at.Add(720 * time.Hour)) {
		t.Fatalf("advance while frozen: %s", got)
	}
	c.Set(start)
	if got := c.Now(); !got.Equal(start) {
		t.Fatalf("set while frozen: %s", got)
	}
	if err := c.SetRate(0); err == nil {
		t.Fatal("rate 0 accepted")
	}
	if err := c.SetRate(3600); err != nil {
		t.Fatal(err)
	}
	if !c.Now().Equal(start) || c.State().Rate != 3600 {
		t.Fatalf("a rate change moved a frozen clock or was lost: %+v", c.State())
	}
	c.Freeze(false)
	for c.Now().Sub(start) < time.Second { // an hour per real second: a real millisecond is 3.6 s
		time.Sleep(time.Millisecond)
	}
	if c.Now().Before(start) {
		t.Fatal("clock ran backwards")
	}
}
