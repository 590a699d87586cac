// Package ntptest holds what the tests of several packages need to serve
// and check NTP: small NTP servers on loopback for the tests of the
// packages that query servers (the query and watch commands, package
// watch), each answering every well-formed request as the test's reply
// function says and counting what it received; NTS requests and exchanges
// (nts.go); the smear a policy serves (smear.go); and the bound a measured
// offset must meet (OffsetWithin).
package ntptest

import (
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/leapsmear/leapsmear/ntp"
)

// Server is a loopback NTP server started by Start.
type Server struct {
	// Addr is the server's host:port.
	Addr     string
	requests atomic.Int64
}

// Requests returns how many datagrams the server has received.
func (s *Server) Requests() int64 { return s.requests.Load() }

// Start listens on host (a loopback address of network "udp4" or "udp6")
// and answers each request that decodes with reply(request); datagrams that
// do not decode are counted and dropped. The server stops when the test
// ends. The test is skipped where the loopback address is missing.
func Start(t testing.TB, network, host string, reply func(req ntp.Header) ntp.Header) *Server {
	t.Helper()
	conn, err := net.ListenUDP(network, &net.UDPAddr{IP: net.ParseIP(host)})
	if err != nil {
		t.Skipf("no %s loopback: %v", network, err)
	}
	s := &Server{Addr: conn.LocalAddr().String()}
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 1024)
		out := make([]byte, ntp.HeaderLen)
		for {
			n, from, err := conn.ReadFromUDPAddrPort(buf)
			if err != nil {
				return // closed
			}
			s.requests.Add(1)
			var req ntp.Header
			if req.Decode(buf[:n]) != nil {
				continue
			}
			h := reply(req)
			_ = h.Encode(out)
			_, _ = conn.WriteToUDPAddrPort(out, from)
		}
	}()
	t.Cleanup(func() { conn.Close(); <-done })
	return s
}

// Reply returns a synchronised stratum 2 server's answer to req from a
// clock ahead of this machine's by offset (behind when negative): reference
// ID 192.0.2.1, root delay 1 ms, root dispersion 2 ms.
func Reply(req ntp.Header, offset time.Duration) ntp.Header {
	now := time.Now().Add(offset)
	return ntp.Header{
		Version: req.Version, Mode: ntp.ModeServer, Stratum: 2, Poll: 4, Precision: -23,
		RootDelay: ntp.ShortFromDuration(time.Millisecond), RootDispersion: ntp.ShortFromDuration(2 * time.Millisecond),
		ReferenceID: 0xc0000201, Reference: ntp.TimestampFromTime(now.Add(-time.Minute)),
		Origin: req.Transmit, Receive: ntp.TimestampFromTime(now), Transmit: ntp.TimestampFromTime(now),
	}
}

// ClosedPort returns a loopback address where nothing listens.
func ClosedPort(t testing.TB) string {
	t.Helper()
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	return c.LocalAddr().String()
}

// OffsetWithin reports whether a measured offset is want to within half the
// exchange's round-trip delay (the most an asymmetric path can move an NTP
// offset) plus 1 ms for reading the clocks: the bound that holds for
// loopback exchanges however loaded the machine.
func OffsetWithin(offset, want, delay time.Duration) bool {
	d := offset - want
	return d.Abs() <= delay/2+time.Millisecond
}
