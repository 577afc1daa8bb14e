package notify

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"syscall"
	"time"
)

// ErrPrivateAddress refuses a kickback to an address inside the provider's own network.
var ErrPrivateAddress = errors.New("receiver address is loopback, private or link-local: refused outside the sandbox")

// PublicOnlyDialer returns a dialer that refuses loopback, private, link-local, multicast and
// unspecified addresses at connect time — after DNS resolution, so a merchant's host name that
// resolves (or re-resolves) to an internal address cannot turn kickbacks into a probe of the
// provider's network (SSRF).
func PublicOnlyDialer() *net.Dialer {
	return &net.Dialer{
		Timeout: 5 * time.Second,
		Control: func(network, address string, _ syscall.RawConn) error {
			ap, err := netip.ParseAddrPort(address)
			if err != nil {
				return err
			}
			if !PublicAddr(ap.Addr()) {
				return ErrPrivateAddress
			}
			return nil
		},
	}
}

// PublicAddr reports whether a may be dialled for a merchant.
func PublicAddr(a netip.Addr) bool {
	a = a.Unmap()
	return a.IsValid() && !a.IsLoopback() && !a.IsPrivate() && !a.IsLinkLocalUnicast() && !a.IsLinkLocalMulticast() &&
		!a.IsMulticast() && !a.IsUnspecified() && !a.IsInterfaceLocalMulticast() &&
		!netip.MustParsePrefix("100.64.0.0/10").Contains(a) && !netip.MustParsePrefix("169.254.0.0/16").Contains(a)
}

// dialContext is the public-only dial function for an http.Transport.
func dialContext() func(ctx context.Context, network, addr string) (net.Conn, error) {
	return PublicOnlyDialer().DialContext
}
