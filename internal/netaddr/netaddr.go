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

// SyntaxError is an address written wrong, as opposed to one whose name
// does not resolve: a mistake in what the user typed, whatever the network
// says. It reads "ADDR": PROBLEM; want FORM.
type SyntaxError struct {
	Addr    string // the address as written
	Problem string // what is wrong, in words
	Form    string // what is wanted, with examples
}

func (e *SyntaxError) Error() string {
	return fmt.Sprintf("%q: %s; want %s", e.Addr, e.Problem, e.Form)
}

// The forms of the two kinds of address.
const (
	listenForm = "host:port such as 127.0.0.1:123 or [::1]:123"
	targetForm = "HOST or HOST:PORT such as 127.0.0.1:123, [::1]:123 or time.example.com"
)

// parsePort reads a port: a number from min to 65535, or a service name
// such as ntp (from the local services file, not the network).
func parsePort(ps string, min int) (int, error) {
	var n int
	var err error
	switch {
	case ps != "" && strings.Trim(ps, "0123456789") == "":
		n, err = strconv.Atoi(ps)
	case ps != "" && strings.Trim(ps, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-") == "":
		n, err = net.LookupPort("udp", ps)
	default:
		err = strconv.ErrSyntax
	}
	if err != nil || n < min || n > 65535 {
		return 0, fmt.Errorf("port %q is not a number from %d to 65535 or a service name such as ntp", ps, min)
	}
	return n, nil
}

// badHost reports whether host cannot be a host name or address.
func badHost(host string) bool { return host == "" || strings.ContainsAny(host, "[]:/ ") }

// Listen reads a listen address: host:port, [v6]:port, or :port for every
// IPv4 address ("[::]:port" is every IPv4 and IPv6 address). Port 0 asks for
// any free port. A host name is looked up (localhost, say). An address
// written wrong is a *SyntaxError (wrapped: "listen address ...").
func Listen(s string) (netip.AddrPort, error) {
	in := s
	if strings.HasPrefix(in, ":") {
		in = "0.0.0.0" + in
	}
	if ap, err := netip.ParseAddrPort(in); err == nil {
		return unmap(ap), nil
	}
	syntax := func(problem string) (netip.AddrPort, error) {
		return netip.AddrPort{}, fmt.Errorf("listen address %w", &SyntaxError{s, problem, listenForm})
	}
	host, ps, err := net.SplitHostPort(in)
	if err != nil {
		return syntax("not host:port")
	}
	port, err := parsePort(ps, 0)
	if err != nil {
		return syntax(err.Error())
	}
	if a, err := netip.ParseAddr(host); err == nil {
		return unmap(netip.AddrPortFrom(a, uint16(port))), nil
	}
	if badHost(host) {
		return syntax("not a host name or address")
	}
	ua, err := net.ResolveUDPAddr("udp", net.JoinHostPort(host, strconv.Itoa(port)))
	if err == nil && !ua.AddrPort().IsValid() {
		err = errors.New("no address")
	}
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("listen address %q: %w", s, err)
	}
	return unmap(ua.AddrPort()), nil
}

// SplitTarget reads the address of a server to contact as Resolve does,
// without looking the host up: its host, and its port (port when s names
// none). Errors are *SyntaxError.
func SplitTarget(s string, port int) (host string, p int, err error) {
	host, ps, hasPort := Split(s)
	if hasPort {
		if port, err = parsePort(ps, 1); err != nil {
			return "", 0, &SyntaxError{s, err.Error(), targetForm}
		}
	}
	if port <= 0 || port > 65535 {
		return "", 0, &SyntaxError{s, "no port", "HOST:PORT such as 127.0.0.1:11123 or [::1]:11123"}
	}
	if _, err := netip.ParseAddr(host); err == nil {
		return host, port, nil
	}
	if badHost(host) {
		return "", 0, &SyntaxError{s, "not a host name or address", targetForm}
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
