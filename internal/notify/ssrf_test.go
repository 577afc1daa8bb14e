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
