package notify

import (
	"context"
	"errors"
	"net/netip"
	"testing"
)

func TestPublicOnlyDialerRefusesInternalAddresses(t *testing.T) {
	for _, a := range []string{"127.0.0.1", "::1", "10.1.2.3", "172.16.0.9", "192.168.1.1", "169.254.169.254", "100.64.0.1", "0.0.0.0", "fe80::1", "::ffff:127.0.0.1"} {
		if PublicAddr(netip.MustParseAddr(a)) {
			t.Errorf("%s counted as public", a)
		}
	}
	for _, a := range []string{"203.0.113.10", "8.8.8.8", "2001:db8::1"} {
		if !PublicAddr(netip.MustParseAddr(a)) {
			t.Errorf("%s counted as internal", a)
		}
	}
	// dialling loopback fails before any packet is sent
	_, err := PublicOnlyDialer().DialContext(context.Background(), "tcp", "127.0.0.1:9")
	if !errors.Is(err, ErrPrivateAddress) {
		t.Fatalf("dial 127.0.0.1: %v, want ErrPrivateAddress", err)
	}
}

// TestTargetRules: every internal range of issue 14 item 4, also written in IPv6 forms that embed
// an IPv4 address, is refused by the default rule; the loopback-only sandbox rule adds loopback and
// nothing else.
func TestTargetRules(t *testing.T) {
	internal := []string{"127.0.0.1", "127.8.9.10", "::1", "10.0.0.1", "172.31.255.255", "192.168.0.1", "169.254.169.254", "169.254.0.1",
		"100.64.0.1", "100.127.255.254", "224.0.0.1", "239.255.255.250", "255.255.255.255", "0.0.0.0", "0.1.2.3", "::",
		"fc00::1", "fd12:3456::1", "fe80::1", "ff02::1", "fec0::1",
		"::ffff:127.0.0.1", "::ffff:10.1.2.3", "::ffff:169.254.169.254", "::127.0.0.1", "::10.0.0.1",
		"64:ff9b::7f00:1", "64:ff9b::a9fe:a9fe", "64:ff9b:1::a00:1", "2002:7f00:1::1", "2002:a9fe:a9fe::1", "2001:0:4136:e378::1"}
	for _, a := range internal {
		ip := netip.MustParseAddr(a)
		if PublicAddr(ip) || PublicOnly.Allows(ip) {
			t.Errorf("%s allowed by the default rule", a)
		}
		if !AnyAddress.Allows(ip) {
			t.Errorf("%s refused with --allow-private-kickbacks", a)
		}
	}
	for _, a := range []string{"203.0.113.10", "8.8.8.8", "2001:db8::1", "2606:4700::1111", "64:ff9b::808:808", "2002:808:808::1"} {
		if !PublicOnly.Allows(netip.MustParseAddr(a)) {
			t.Errorf("%s refused by the default rule", a)
		}
	}
	for _, a := range []string{"127.0.0.1", "::1", "::ffff:127.0.0.1"} {
		if !PublicAndLoopback.Allows(netip.MustParseAddr(a)) {
			t.Errorf("%s refused by the loopback-only sandbox", a)
		}
	}
	for _, a := range []string{"10.0.0.1", "192.168.1.1", "169.254.169.254", "fd00::1", "100.64.0.1", "0.0.0.0"} {
		if PublicAndLoopback.Allows(netip.MustParseAddr(a)) {
			t.Errorf("%s allowed by the loopback-only sandbox", a)
		}
	}
	ctx := context.Background()
	for _, u := range []string{"http://localhost:9/kb", "http://127.0.0.1:5432/", "http://[::1]/", "http://169.254.169.254/latest", "http://[::ffff:10.0.0.1]/"} {
		if CheckTarget(ctx, u, PublicOnly) == nil {
			t.Errorf("CheckTarget(%s) accepted under the default rule", u)
		}
	}
	if err := CheckTarget(ctx, "https://203.0.113.10/kb", PublicOnly); err != nil {
		t.Errorf("public URL refused: %v", err)
	}
	if err := CheckTarget(ctx, "http://localhost:9/kb", PublicAndLoopback); err != nil {
		t.Errorf("localhost refused by the loopback-only sandbox: %v", err)
	}
	// the dialer checks the address it connects to, after resolution: "localhost" resolves to
	// loopback and is refused before any packet is sent
	if _, err := PublicOnlyDialer().DialContext(ctx, "tcp", "localhost:9"); !errors.Is(err, ErrPrivateAddress) {
		t.Fatalf("dial localhost: %v, want ErrPrivateAddress", err)
	}
}
