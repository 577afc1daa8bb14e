package velocity

import (
	"net/netip"
	"testing"
	"time"
)

func TestLimitPerStoreAndAddress(t *testing.T) {
	l := New()
	t0 := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	a := netip.MustParseAddr("203.0.113.7")
	for i := 0; i < DefaultMaxFailures; i++ {
		if w := l.Wait("100001", a, t0); w != 0 {
			t.Fatalf("refused after %d failures", i)
		}
		l.Fail("100001", a, t0.Add(time.Duration(i)*time.Second))
	}
	at := t0.Add(time.Minute)
	if w := l.Wait("100001", a, at); w != DefaultWindow-time.Minute {
		t.Fatalf("after %d failures: wait %v, want the rest of the window (%v)", DefaultMaxFailures, w, DefaultWindow-time.Minute)
	}
	if w := l.Wait("100002", a, at); w != 0 {
		t.Fatalf("another store is held too: %v", w)
	}
	if w := l.Wait("100001", netip.MustParseAddr("203.0.113.8"), at); w != 0 {
		t.Fatalf("another address is held too: %v", w)
	}
	if w := l.Wait("100001", netip.MustParseAddr("::ffff:203.0.113.7"), at); w == 0 {
		t.Fatalf("the same IPv4 address written as IPv6-mapped escapes the limit")
	}
	if w := l.Wait("100001", a, t0.Add(DefaultWindow)); w != 0 {
		t.Fatalf("still held after the window: %v", w)
	}
	// a new window counts from zero
	l.Fail("100001", a, t0.Add(DefaultWindow))
	if w := l.Wait("100001", a, t0.Add(DefaultWindow+time.Second)); w != 0 {
		t.Fatalf("one failure in a new window holds the address: %v", w)
	}
}

func TestIPv6CountsBySlash64(t *testing.T) {
	l := New()
	now := time.Now()
	for i := 0; i < DefaultMaxFailures; i++ {
		// a new address of the same /64 each time, as a script rotating through its subnet would
		l.Fail("100001", netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, byte(i + 1)}), now)
	}
	if l.Wait("100001", netip.MustParseAddr("2001:db8:0:1::ffff"), now) == 0 {
		t.Fatalf("rotating addresses inside one /64 escaped the limit")
	}
	if l.Wait("100001", netip.MustParseAddr("2001:db8:0:2::1"), now) != 0 {
		t.Fatalf("a neighbouring /64 is held too")
	}
}

func TestMemoryStaysBounded(t *testing.T) {
	l := New()
	now := time.Now()
	addr := func(i int) netip.Addr { return netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}) }
	for i := 0; i < maxKeys; i++ {
		l.Fail("100001", addr(i), now)
	}
	// full, nothing expired: the table starts afresh rather than grow
	l.Fail("100001", netip.MustParseAddr("192.0.2.1"), now)
	if n := l.Len(); n != 1 {
		t.Fatalf("%d entries after overflowing a full table, want 1", n)
	}
	for i := 1; i < maxKeys; i++ {
		l.Fail("100001", addr(i), now)
	}
	// full again; after the window every old entry has expired and a sweep removes only those
	l.Fail("100001", netip.MustParseAddr("192.0.2.2"), now.Add(DefaultWindow))
	if n := l.Len(); n != 1 {
		t.Fatalf("%d entries after a sweep of expired ones, want 1", n)
	}
}

func TestNilNeverRefuses(t *testing.T) {
	var l *Limiter
	l.Fail("100001", netip.MustParseAddr("192.0.2.1"), time.Now())
	if l.Wait("100001", netip.MustParseAddr("192.0.2.1"), time.Now()) != 0 {
		t.Fatal("a nil limiter refused")
	}
}
