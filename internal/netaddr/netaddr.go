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
	"strconv"
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

// SyntaxError is a server address written wrong, as opposed to one whose
// name does not resolve: a mistake in what the user typed, whatever the
// network says.
type SyntaxError struct {
	Addr   string // the address as written
	Reason string // what is wrong and what is wanted, in words
}

func (e *SyntaxError) Error() string { return fmt.Sprintf("%q: %s", e.Addr, e.Reason) }

// targetForm says what Resolve takes.
const targetForm = "want HOST or HOST:PORT such as 127.0.0.1:123, [::1]:123 or time.example.com"

// SplitTarget reads the address of a server to contact as Resolve does,
// without looking the host up: its host, and its port (port when s names
// none). Errors are *SyntaxError.
func SplitTarget(s string, port int) (host string, p int, err error) {
	host, ps, err := net.SplitHostPort(s)
	if err == nil {
		var n int
		switch {
		case ps != "" && strings.Trim(ps, "0123456789") == "":
			n, err = strconv.Atoi(ps)
		case ps != "" && strings.Trim(ps, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-") == "":
			// A service name, such as ntp, from the local services file.
			n, err = net.LookupPort("udp", ps)
		default:
			err = strconv.ErrSyntax
		}
		if err != nil || n <= 0 || n > 65535 {
			return "", 0, &SyntaxError{s, fmt.Sprintf("port %q is not a number from 1 to 65535 or a service name such as ntp; %s", ps, targetForm)}
		}
		port = n
	} else {
		// No port: "host", "127.0.0.1", "::1" or "[::1]".
		host = s
		if len(s) > 2 && s[0] == '[' && s[len(s)-1] == ']' {
			host = s[1 : len(s)-1]
		}
	}
	if port <= 0 || port > 65535 {
		return "", 0, &SyntaxError{s, "no port: want HOST:PORT such as 127.0.0.1:11123 or [::1]:11123"}
	}
	if _, err := netip.ParseAddr(host); err == nil {
		return host, port, nil
	}
	if host == "" || strings.ContainsAny(host, "[]:/ ") {
		return "", 0, &SyntaxError{s, "not a host name or address; " + targetForm}
	}
	return host, port, nil
}

// Resolve reads the address of a server to contact: "host", "host:port",
// "[v6]:port", "[v6]" or a bare IPv6 address, with port when s names none
// (port 0: s must name one). Names are looked up with the default resolver;
// the first address wins. An address written wrong is a *SyntaxError.
func Resolve(ctx context.Context, s string, port int) (netip.AddrPort, error) {
	host, port, err := SplitTarget(s, port)
	if err != nil {
		return netip.AddrPort{}, err
	}
	if a, err := netip.ParseAddr(host); err == nil {
		return netip.AddrPortFrom(a.Unmap(), uint16(port)), nil
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

func unmap(ap netip.AddrPort) netip.AddrPort {
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
}
