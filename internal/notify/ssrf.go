package notify

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"net/url"
	"strings"
	"syscall"
	"time"
)

// ErrPrivateAddress refuses a kickback to an address inside the provider's own network.
var ErrPrivateAddress = errors.New("receiver address is loopback, private or link-local: refused outside the sandbox")

// RefusedByPolicy is what the delivery log records for a refused target. It is the same text
// whatever the address and port, and it is recorded without any connection being made, so the
// log cannot be read as a port scan of the provider's network.
const RefusedByPolicy = "送信先が内部アドレスのため送信しませんでした（SSRF 対策） / refused by policy: the receiver resolves to an internal address (loopback, private, link-local, …); nothing was sent"

// TargetRule says which receiver addresses kickbacks may reach.
type TargetRule int

const (
	// PublicOnly refuses every internal address: the default.
	PublicOnly TargetRule = iota
	// PublicAndLoopback also allows loopback: a sandbox that itself listens on loopback only, so
	// a developer's receiver on the same machine works; private LAN addresses stay refused.
	PublicAndLoopback
	// AnyAddress refuses nothing (--allow-private-kickbacks).
	AnyAddress
)

// String is the rule as the start-up banner prints it.
func (r TargetRule) String() string {
	switch r {
	case PublicAndLoopback:
		return "public addresses and loopback (sandbox listening on loopback only); private, link-local and other internal addresses refused"
	case AnyAddress:
		return "any address, internal ones included (--allow-private-kickbacks)"
	}
	return "public addresses only; loopback, private, link-local, CGNAT and other internal addresses refused"
}

// Allows reports whether a may be dialled under the rule.
func (r TargetRule) Allows(a netip.Addr) bool {
	switch r {
	case AnyAddress:
		return true
	case PublicAndLoopback:
		if u := a.Unmap(); u.IsLoopback() && u.Zone() == "" {
			return true
		}
	}
	return PublicAddr(a)
}

// PublicOnlyDialer returns a dialer that refuses every internal address at connect time.
func PublicOnlyDialer() *net.Dialer { return RuleDialer(PublicOnly) }

// RuleDialer returns a dialer that checks each address it is about to connect to — after DNS
// resolution, in the dialer's Control hook, which runs on the very socket address passed to
// connect(2) — so a host name that resolves (or re-resolves) to an internal address cannot turn
// kickbacks into a probe of the provider's network (SSRF), and there is no window between the
// check and the dial.
func RuleDialer(rule TargetRule) *net.Dialer {
	return &net.Dialer{
		Timeout: 5 * time.Second,
		Control: func(network, address string, _ syscall.RawConn) error {
			ap, err := netip.ParseAddrPort(address)
			if err != nil {
				return ErrPrivateAddress
			}
			if !rule.Allows(ap.Addr()) {
				return ErrPrivateAddress
			}
			return nil
		},
	}
}

var internalPrefixes = func() []netip.Prefix {
	var out []netip.Prefix
	for _, s := range []string{
		"0.0.0.0/8",      // "this network"
		"10.0.0.0/8",     // RFC 1918
		"100.64.0.0/10",  // CGNAT (RFC 6598)
		"127.0.0.0/8",    // loopback
		"169.254.0.0/16", // link-local, cloud metadata (169.254.169.254)
		"172.16.0.0/12",  // RFC 1918
		"192.0.0.0/24",   // IETF protocol assignments
		"192.168.0.0/16", // RFC 1918
		"198.18.0.0/15",  // benchmarking
		"224.0.0.0/4",    // multicast
		"240.0.0.0/4",    // reserved, broadcast
		"::/128",         // unspecified
		"::1/128",        // loopback
		"fc00::/7",       // unique local
		"fe80::/10",      // link-local
		"fec0::/10",      // site-local (deprecated)
		"ff00::/8",       // multicast
		"2001::/32",      // Teredo (embeds an obfuscated IPv4 address)
		"100::/64",       // discard
	} {
		out = append(out, netip.MustParsePrefix(s))
	}
	return out
}()

// PublicAddr reports whether a may be dialled for a merchant: not loopback, private (RFC 1918,
// IPv6 ULA), link-local, CGNAT, multicast, unspecified or reserved — also when such an IPv4 address
// is written in an IPv6 form (IPv4-mapped ::ffff:a.b.c.d, IPv4-compatible ::a.b.c.d, NAT64
// 64:ff9b::/96 and 64:ff9b:1::/48, 6to4 2002::/16).
func PublicAddr(a netip.Addr) bool {
	if !a.IsValid() || a.Zone() != "" {
		return false
	}
	a = a.Unmap()
	if a.Is6() {
		b := a.As16()
		switch {
		case netip.MustParsePrefix("::/96").Contains(a) && !a.IsUnspecified() && !a.IsLoopback(),
			netip.MustParsePrefix("64:ff9b::/96").Contains(a),
			netip.MustParsePrefix("64:ff9b:1::/48").Contains(a):
			return PublicAddr(netip.AddrFrom4([4]byte{b[12], b[13], b[14], b[15]}))
		case netip.MustParsePrefix("2002::/16").Contains(a):
			return PublicAddr(netip.AddrFrom4([4]byte{b[2], b[3], b[4], b[5]}))
		}
	}
	for _, p := range internalPrefixes {
		if p.Contains(a) {
			return false
		}
	}
	return !a.IsLoopback() && !a.IsPrivate() && !a.IsLinkLocalUnicast() && !a.IsLinkLocalMulticast() &&
		!a.IsMulticast() && !a.IsUnspecified() && !a.IsInterfaceLocalMulticast()
}

// dialContext is the rule's dial function for an http.Transport.
func dialContext(rule TargetRule) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return RuleDialer(rule).DialContext
}

// CheckTarget tells a merchant, when they save a result URL, whether kickbacks to it would be
// refused under rule: a literal address is checked as it is, "localhost" as loopback, a host
// name after resolving it (every address it resolves to must be allowed). A name that does not
// resolve now is accepted: delivery checks again at every connection.
func CheckTarget(ctx context.Context, raw string, rule TargetRule) error {
	if rule == AnyAddress || raw == "" {
		return nil
	}
	u, err := url.Parse(raw)
	if err != nil {
		return nil // the URL's own validation reports it
	}
	host := strings.TrimSuffix(strings.ToLower(u.Hostname()), ".")
	if host == "" {
		return nil
	}
	if a, err := netip.ParseAddr(host); err == nil {
		if !rule.Allows(a) {
			return ErrPrivateAddress
		}
		return nil
	}
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		if !rule.Allows(netip.IPv6Loopback()) {
			return ErrPrivateAddress
		}
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	addrs, err := net.DefaultResolver.LookupNetIP(ctx, "ip", host)
	if err != nil {
		return nil
	}
	for _, a := range addrs {
		if !rule.Allows(a) {
			return ErrPrivateAddress
		}
	}
	return nil
}
