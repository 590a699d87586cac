// Package netaddr reads the network addresses that users write on the
// command line and in configuration files: where a server listens, and which
// server a client asks. Every command and package parses addresses here, so
// that one spelling means the same everywhere. IPv4-mapped IPv6 addresses
// are unmapped.
package netaddr

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
)

// Listen reads a listen address: host:port, [v6]:port, or :port for every
// IPv4 address ("[::]:port" is every IPv4 and IPv6 address). Port 0 asks for
// any free port. A host name is looked up (localhost, say).
func Listen(s string) (netip.AddrPort, error) {
	in := s
	if strings.HasPrefix(in, ":") {
		in = "0.0.0.0" + in
	}
	if ap, err := netip.ParseAddrPort(in); err == nil {
		return unmap(ap), nil
	}
	ua, err := net.ResolveUDPAddr("udp", in)
	if err == nil && !ua.AddrPort().IsValid() {
		err = errors.New("no address") // "" would bind a random port on [::]
	}
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("listen address %q: want host:port such as 127.0.0.1:123 or [::1]:123: %w", s, err)
	}
	return unmap(ua.AddrPort()), nil
}

// Resolve reads the address of a server to contact: "host", "host:port",
// "[v6]:port", "[v6]" or a bare IPv6 address, with port when s names none
// (port 0: s must name one). Names are looked up with the default resolver;
// the first address wins.
func Resolve(ctx context.Context, s string, port int) (netip.AddrPort, error) {
	host, p, hasPort := Split(s)
	if hasPort {
		n, err := net.DefaultResolver.LookupPort(ctx, "udp", p)
		if err != nil || n <= 0 || n > 65535 {
			return netip.AddrPort{}, fmt.Errorf("%s: bad port %q", s, p)
		}
		port = n
	}
	if port <= 0 || port > 65535 {
		return netip.AddrPort{}, fmt.Errorf("%q: want HOST:PORT such as 127.0.0.1:11123 or [::1]:11123", s)
	}
	if a, err := netip.ParseAddr(host); err == nil {
		return netip.AddrPortFrom(a.Unmap(), uint16(port)), nil
	}
	if host == "" || strings.ContainsAny(host, "[]:/ ") {
		return netip.AddrPort{}, fmt.Errorf("%q: not a host, host:port or [IPv6]:port", s)
	}
	addrs, err := net.DefaultResolver.LookupNetIP(ctx, "ip", host)
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("%s: %w", s, err)
	}
	if len(addrs) == 0 {
		return netip.AddrPort{}, fmt.Errorf("%s: no address for %s", s, host)
	}
	return netip.AddrPortFrom(addrs[0].Unmap(), uint16(port)), nil
}

// Split splits an address that may name a port: "host", "host:port",
// "[v6]:port", "[v6]" or a bare IPv6 address ("::1"). The host comes without
// brackets; hasPort says whether a port was written (the caller checks that
// it is a good one).
func Split(s string) (host, port string, hasPort bool) {
	if h, p, err := net.SplitHostPort(s); err == nil {
		return h, p, true
	}
	if len(s) > 2 && s[0] == '[' && s[len(s)-1] == ']' {
		return s[1 : len(s)-1], "", false
	}
	return s, "", false
}

func unmap(ap netip.AddrPort) netip.AddrPort {
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
}
