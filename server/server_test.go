package server

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	beevik "github.com/beevik/ntp"
	"golang.org/x/sys/unix"

	"github.com/leapsmear/leapsmear/client"
	"github.com/leapsmear/leapsmear/internal/ntptest"
	"github.com/leapsmear/leapsmear/leap"
	"github.com/leapsmear/leapsmear/ntp"
	"github.com/leapsmear/leapsmear/timescale"
)

// systemSource is the real system source, assumed synchronised.
func systemSource(t testing.TB) timescale.Source {
	t.Helper()
	src, err := timescale.NewSystem(timescale.Config{Table: leap.Default(), AssumeSynced: true, CheckInterval: -1,
		Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = src.Close() })
	return src
}

// newServer binds a server on the real clock serving noon-to-noon.
func newServer(t *testing.T, cfg Config) *Server {
	t.Helper()
	r := NewResponder(systemSource(t), ntptest.Smear(t, leap.Default(), "noon-to-noon"), testSettings, nil)
	srv, err := New(context.Background(), cfg, r)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	return srv
}

// serve runs srv until the test ends, then checks Serve returned cleanly.
func serve(t *testing.T, srv *Server) {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- srv.Serve() }()
	t.Cleanup(func() {
		srv.Close()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Serve: %v", err)
			}
		case <-time.After(5 * time.Second):
			t.Error("Serve did not return within 5 s of Close")
		}
	})
}

// startServer binds and serves the listen addresses.
func startServer(t *testing.T, listen ...string) *Server {
	t.Helper()
	srv := newServer(t, Config{Listen: listen, SocketsPerAddress: 2})
	serve(t, srv)
	return srv
}

// haveIPv6 reports whether ::1 can be bound.
func haveIPv6() bool {
	c, err := net.ListenUDP("udp6", &net.UDPAddr{IP: net.IPv6loopback})
	if err != nil {
		return false
	}
	c.Close()
	return true
}

// TestServeGoClients: our client (NTPv3 and v4) and github.com/beevik/ntp
// accept the server on IPv4 and IPv6 loopback and measure a tiny offset:
// the server runs on this machine's clock and no leap is near.
func TestServeGoClients(t *testing.T) {
	for _, listen := range []string{"127.0.0.1:0", "[::1]:0"} {
		t.Run(listen, func(t *testing.T) {
			if strings.Contains(listen, "::") && !haveIPv6() {
				t.Skip("no IPv6 loopback here")
			}
			srv := startServer(t, listen)
			addr := srv.Addrs()[0]
			if addr.Port() == 0 || addr.Addr().String() != strings.Trim(strings.Split(listen, "]")[0], "[") && !addr.Addr().Is4() {
				t.Fatalf("bound %v", addr)
			}
			for _, version := range []uint8{3, 4} {
				start := time.Now()
				resp, err := client.Query(context.Background(), addr.String(), client.Options{Version: version, Timeout: 2 * time.Second})
				took := time.Since(start)
				if err != nil {
					t.Fatalf("client v%d: %v", version, err)
				}
				h := resp.Header
				if h.Version != version || h.Stratum != 3 || h.Leap != ntp.LeapNone || h.ReferenceID != testSettings.RefID || h.Precision != -23 {
					t.Errorf("client v%d: %+v", version, h)
				}
				// Same clock: the offset is at most half the round trip, which
				// is no longer than the exchange (1 ms for reading the clocks).
				if !ntptest.OffsetWithin(resp.Offset, 0, resp.Delay) || resp.Delay < 0 || resp.Delay > took+time.Millisecond {
					t.Errorf("client v%d: offset %v delay %v in an exchange of %v", version, resp.Offset, resp.Delay, took)
				}
				t.Logf("client v%d: offset %v delay %v", version, resp.Offset, resp.Delay)
			}
			start := time.Now()
			b, err := beevik.QueryWithOptions(addr.String(), beevik.QueryOptions{Timeout: 2 * time.Second})
			took := time.Since(start)
			if err != nil {
				t.Fatalf("beevik: %v", err)
			}
			if err := b.Validate(); err != nil {
				t.Fatalf("beevik rejects the reply: %v", err)
			}
			if b.Stratum != 3 || b.ReferenceID != testSettings.RefID || b.Leap != beevik.LeapNoWarning ||
				b.RootDelay != ntp.ShortFromDuration(testSettings.RootDelay).Duration() ||
				b.RootDispersion != ntp.ShortFromDuration(testSettings.RootDispersion).Duration() ||
				b.Precision != ntp.PrecisionDuration(-23) {
				t.Errorf("beevik: %+v", b)
			}
			if !ntptest.OffsetWithin(b.ClockOffset, 0, b.RTT) || b.RTT > took+time.Millisecond {
				t.Errorf("beevik: offset %v rtt %v in an exchange of %v", b.ClockOffset, b.RTT, took)
			}
			t.Logf("beevik: offset %v rtt %v", b.ClockOffset, b.RTT)
			if st := srv.Stats(); st.Answered() != 3 || st.Received != 3 || st.Dropped() != 0 || st.SendErrors != 0 {
				t.Errorf("stats %+v", st)
			}
		})
	}
}

// exchange sends datagrams from a connected socket and returns the replies
// that come within wait of the last one.
func exchange(t *testing.T, addr netip.AddrPort, wait time.Duration, datagrams ...[]byte) [][]byte {
	t.Helper()
	c, err := net.DialUDP("udp", nil, net.UDPAddrFromAddrPort(addr))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for _, d := range datagrams {
		if _, err := c.Write(d); err != nil {
			t.Fatal(err)
		}
	}
	var replies [][]byte
	buf := make([]byte, 2048)
	for {
		_ = c.SetReadDeadline(time.Now().Add(wait))
		n, err := c.Read(buf)
		if errors.Is(err, os.ErrDeadlineExceeded) {
			return replies
		}
		if err != nil {
			t.Fatal(err)
		}
		replies = append(replies, append([]byte(nil), buf[:n]...))
	}
}

// waitStats waits (up to 2 s) until the server has read n datagrams.
func waitStats(t *testing.T, srv *Server, n uint64) Stats {
	t.Helper()
	deadline := time.Now().Add(2 * time.Second)
	for {
		st := srv.Stats()
		if st.Received >= n || time.Now().After(deadline) {
			return st
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestServeDropsAndCounts: malformed datagrams and modes 6 and 7 get no
// answer and are counted by reason; the one good request among them is
// answered, once.
func TestServeDropsAndCounts(t *testing.T) {
	srv := startServer(t, "127.0.0.1:0")
	bad := map[Verdict][][]byte{
		DropShort: {
			{0x23},
			request(t, 4, 3, 6, 1, nil)[:47],
			{0x16, 0x01, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0}, // ntpq readstat
		},
		DropVersion: {request(t, 0, 3, 6, 1, nil), request(t, 5, 3, 6, 1, nil), request(t, 7, 3, 6, 1, nil)},
		DropMode: {
			request(t, 2, 6, 6, 1, nil), request(t, 4, 6, 6, 1, nil),
			append([]byte{0x17, 0x00, 0x03, 0x2a}, make([]byte, 188)...), // ntpdc monlist
			request(t, 4, 7, 6, 1, nil), request(t, 4, 4, 6, 1, nil), request(t, 4, 1, 6, 1, nil),
			request(t, 4, 5, 6, 1, nil), request(t, 4, 0, 6, 1, nil),
		},
		DropMalformed: {
			request(t, 4, 3, 6, 1, []byte{1, 2, 3}),
			request(t, 3, 3, 6, 1, mac(16)),
			request(t, 4, 3, 6, 1, make([]byte, 3000)), // longer than the server reads: truncated
		},
	}
	var datagrams [][]byte
	for _, ds := range bad {
		datagrams = append(datagrams, ds...)
	}
	good := request(t, 4, 3, 6, 0x1122334455667788, extension(0x0104, 16))
	datagrams = append(datagrams, good)
	replies := exchange(t, srv.Addrs()[0], 300*time.Millisecond, datagrams...)
	if len(replies) != 1 {
		t.Fatalf("%d replies to %d datagrams of which one is a request", len(replies), len(datagrams))
	}
	if h := decode(t, replies[0]); len(replies[0]) != ntp.HeaderLen || h.Origin != 0x1122334455667788 || h.Mode != ntp.ModeServer {
		t.Fatalf("reply %+v (%d bytes)", h, len(replies[0]))
	}
	st := waitStats(t, srv, uint64(len(datagrams)))
	if st.Received != uint64(len(datagrams)) || st.Answered() != 1 || st.Dropped() != uint64(len(datagrams)-1) {
		t.Errorf("stats %+v for %d datagrams", st, len(datagrams))
	}
	for v, ds := range bad {
		if st.Verdicts[v] != uint64(len(ds)) {
			t.Errorf("%v: counted %d, sent %d", v, st.Verdicts[v], len(ds))
		}
	}
}

// TestServePortInUse: a port held by another program, or by another
// leapsmear (with SO_REUSEPORT), is reported in one line naming the address.
func TestServePortInUse(t *testing.T) {
	holder, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer holder.Close()
	busy := holder.LocalAddr().String()
	first := newServer(t, Config{Listen: []string{"127.0.0.1:0"}})
	busyReuse := first.Addrs()[0].String()
	r := first.Responder()
	for _, addr := range []string{busy, busyReuse} {
		srv, err := New(context.Background(), Config{Listen: []string{"127.0.0.1:0", addr}}, r)
		if err == nil {
			srv.Close()
			t.Fatalf("%s: bound twice", addr)
		}
		want := "listen " + addr + ": address already in use (another NTP server such as chronyd or ntpd may hold it)"
		if err.Error() != want {
			t.Errorf("got  %q\nwant %q", err, want)
		}
		if !errors.Is(err, syscall.EADDRINUSE) {
			t.Errorf("%s: errors.Is(%v, EADDRINUSE) is false: the cause is lost", addr, err)
		}
	}
	if _, err := New(context.Background(), Config{Listen: []string{"192.0.2.1:0"}}, r); !errors.Is(err, syscall.EADDRNOTAVAIL) {
		t.Errorf("192.0.2.1:0: errors.Is(%v, EADDRNOTAVAIL) is false: the cause is lost", err)
	}
	for _, c := range []struct{ listen, want string }{
		{"192.0.2.1:0", "listen 192.0.2.1:0: no such local address"},
		// A name the resolver refuses without asking a name server: tests send
		// nothing beyond loopback.
		{"no such host.invalid:123", `listen address "no such host.invalid:123"`},
		{"127.0.0.1:99999", `listen address "127.0.0.1:99999"`},
	} {
		srv, err := New(context.Background(), Config{Listen: []string{c.listen}}, r)
		if err == nil {
			srv.Close()
			t.Errorf("%s: no error", c.listen)
			continue
		}
		if !strings.HasPrefix(err.Error(), c.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: %q, want one line starting %q", c.listen, err, c.want)
		}
	}
	if _, err := New(context.Background(), Config{}, r); err == nil {
		t.Error("no listen address: no error")
	}
}

// TestServeWildcardReplyAddress: a server bound to a wildcard address
// answers from the address each request was sent to (packet info), which a
// client checks. From an unconnected socket on 127.0.0.1, requests to
// 127.0.0.2 would otherwise be answered from 127.0.0.1.
func TestServeWildcardReplyAddress(t *testing.T) {
	for _, c := range []struct {
		listen string
		dsts   []string
	}{
		{"0.0.0.0:0", []string{"127.0.0.1", "127.0.0.2", "127.45.6.7"}},
		{"[::]:0", []string{"::1", "127.0.0.2", "127.0.0.1"}}, // dual stack
	} {
		t.Run(c.listen, func(t *testing.T) {
			if strings.Contains(c.listen, "::") && !haveIPv6() {
				t.Skip("no IPv6 loopback here")
			}
			srv := startServer(t, c.listen)
			port := srv.Addrs()[0].Port()
			for _, dst := range c.dsts {
				network := "udp4"
				if strings.Contains(dst, ":") {
					network = "udp6"
				}
				conn, err := net.ListenUDP(network, nil)
				if err != nil {
					t.Fatal(err)
				}
				to := netip.AddrPortFrom(netip.MustParseAddr(dst), port)
				if _, err := conn.WriteToUDPAddrPort(request(t, 4, 3, 0, 77, nil), to); err != nil {
					t.Fatal(err)
				}
				_ = conn.SetReadDeadline(time.Now().Add(2 * time.Second))
				buf := make([]byte, 100)
				n, from, err := conn.ReadFromUDPAddrPort(buf)
				conn.Close()
				if err != nil {
					t.Fatalf("to %v: %v", to, err)
				}
				if from.Addr().Unmap() != to.Addr() || from.Port() != port {
					t.Errorf("request to %v answered from %v", to, from)
				}
				if h := decode(t, buf[:n]); h.Origin != 77 {
					t.Errorf("to %v: %+v", to, h)
				}
			}
		})
	}
}

// TestServeKernelReceiveTimestamps queues two requests 40 ms apart before
// the server reads its socket, so that both are read in one batch and
// answered at once: each receive timestamp (T2) is the kernel's, taken when
// the request arrived (on loopback, within the write that sent it), while
// the batch shares a transmit timestamp (T3) taken when the replies were
// built, after the server started. The bounds come from the instants the
// test read around each write and before starting the server, with 1 ms for
// reading the clocks; a loaded machine may stretch the 40 ms.
func TestServeKernelReceiveTimestamps(t *testing.T) {
	srv := newServer(t, Config{Listen: []string{"127.0.0.1:0"}, SocketsPerAddress: 1})
	c, err := net.DialUDP("udp", nil, net.UDPAddrFromAddrPort(srv.Addrs()[0]))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	const gap = 40 * time.Millisecond
	const slack = time.Millisecond // reading the clocks
	var sent, wrote [2]time.Time
	for i := range sent {
		sent[i] = time.Now()
		if _, err := c.Write(request(t, 4, 3, 0, ntp.Timestamp(i+1), nil)); err != nil {
			t.Fatal(err)
		}
		wrote[i] = time.Now()
		time.Sleep(gap)
	}
	started := time.Now()
	serve(t, srv)
	var h [2]ntp.Header
	buf := make([]byte, 100)
	_ = c.SetReadDeadline(time.Now().Add(2 * time.Second))
	for range 2 {
		n, err := c.Read(buf)
		if err != nil {
			t.Fatal(err)
		}
		r := decode(t, buf[:n])
		h[r.Origin-1] = r
	}
	t2a, t2b, t3 := h[0].Receive.Time(sent[0]), h[1].Receive.Time(sent[0]), h[0].Transmit.Time(sent[0])
	if h[0].Transmit != h[1].Transmit {
		t.Errorf("one batch, two transmit times: %v %v (the requests were not read together)", h[0].Transmit, h[1].Transmit)
	}
	for i, t2 := range []time.Time{t2a, t2b} {
		if t2.Before(sent[i].Add(-slack)) || t2.After(wrote[i].Add(slack)) {
			t.Errorf("request %d: T2 %v after it was sent, but the write took %v", i, t2.Sub(sent[i]), wrote[i].Sub(sent[i]))
		}
	}
	if d, lo, hi := t2b.Sub(t2a), sent[1].Sub(wrote[0]), wrote[1].Sub(sent[0]); d < lo-2*slack || d > hi+2*slack || lo < gap {
		t.Errorf("T2 of the two requests %v apart, sent %v to %v apart", d, lo, hi)
	}
	if d, waited := t3.Sub(t2b), started.Sub(wrote[1]); d < waited-2*slack || waited < gap {
		t.Errorf("T3 - T2 = %v, but the request waited %v in the socket", d, waited)
	}
	t.Logf("T2 apart %v, T3 - T2 %v", t2b.Sub(t2a), t3.Sub(t2b))
}

// TestServeManyClients: several sockets share the port; requests from many
// client sockets are all answered, and the counters add up across sockets.
func TestServeManyClients(t *testing.T) {
	srv := newServer(t, Config{Listen: []string{"127.0.0.1:0"}, SocketsPerAddress: 4})
	serve(t, srv)
	const clients, each = 40, 5
	var wg sync.WaitGroup
	errs := make(chan error, clients)
	for i := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := client.Dial(context.Background(), srv.Addrs()[0].String(), client.Options{Timeout: 2 * time.Second})
			if err != nil {
				errs <- err
				return
			}
			defer c.Close()
			for j := range each {
				if _, err := c.Query(context.Background()); err != nil {
					errs <- fmt.Errorf("client %d query %d: %w", i, j, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if st := srv.Stats(); st.Received != clients*each || st.Answered() != clients*each {
		t.Errorf("stats %+v", st)
	}
}

// TestServeIgnoresSourcePortZero: a request from port 0 (which only a raw
// socket can forge) is counted and never answered: a reply to it could only
// be part of a reflection attack. (The kernel would refuse to send it, which
// the send errors would count.)
func TestServeIgnoresSourcePortZero(t *testing.T) {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_RAW, unix.IPPROTO_UDP)
	if err != nil {
		t.Skipf("no raw socket (needs CAP_NET_RAW): %v", err)
	}
	defer unix.Close(fd)
	srv := startServer(t, "127.0.0.1:0")
	port := srv.Addrs()[0].Port()
	req := request(t, 4, 3, 6, 1, nil)
	pkt := make([]byte, 8, 8+len(req))
	binary.BigEndian.PutUint16(pkt[0:], 0) // source port 0
	binary.BigEndian.PutUint16(pkt[2:], port)
	binary.BigEndian.PutUint16(pkt[4:], uint16(8+len(req)))
	pkt = append(pkt, req...) // checksum 0: none, allowed over IPv4
	to := &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}
	if err := unix.Sendto(fd, pkt, 0, to); err != nil {
		t.Fatal(err)
	}
	// A good request after it, from a normal socket, is answered: the
	// server is alive and read both.
	if replies := exchange(t, srv.Addrs()[0], 300*time.Millisecond, req); len(replies) != 1 {
		t.Fatalf("%d replies to a good request", len(replies))
	}
	st := waitStats(t, srv, 2)
	if st.Verdicts[DropSource] != 1 || st.Answered() != 1 || st.SendErrors != 0 {
		t.Errorf("stats %+v", st)
	}
}

// forgeUDP sends payload in a UDP datagram from src to dst through a raw
// socket (which needs CAP_NET_RAW: the test is skipped without it), whatever
// src is: the kernel fills the IP length and checksum; the UDP checksum is
// 0, none, as IPv4 allows.
func forgeUDP(t *testing.T, src, dst netip.AddrPort, payload []byte) {
	t.Helper()
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_RAW, unix.IPPROTO_RAW)
	if err != nil {
		t.Skipf("no raw socket (needs CAP_NET_RAW): %v", err)
	}
	defer unix.Close(fd)
	pkt := make([]byte, 28, 28+len(payload))
	pkt[0], pkt[8], pkt[9] = 0x45, 64, unix.IPPROTO_UDP // IPv4, TTL, UDP
	s, d := src.Addr().As4(), dst.Addr().As4()
	copy(pkt[12:16], s[:])
	copy(pkt[16:20], d[:])
	binary.BigEndian.PutUint16(pkt[20:], src.Port())
	binary.BigEndian.PutUint16(pkt[22:], dst.Port())
	binary.BigEndian.PutUint16(pkt[24:], uint16(8+len(payload)))
	pkt = append(pkt, payload...)
	if err := unix.Sendto(fd, pkt, 0, &unix.SockaddrInet4{Addr: d}); err != nil {
		t.Fatal(err)
	}
}

// TestServeDropsDirectedBroadcastSource: a request forged from
// 127.255.255.255, the directed broadcast address of lo's 127.0.0.0/8, is
// counted as bad_source and gets no reply: a reply to a subnet's broadcast
// address would reach every host of the subnet. (Before the server knew
// its host's broadcasts, the request was answered, and the reply reached
// the socket listening on the forged port.) A good request after it is
// answered.
func TestServeDropsDirectedBroadcastSource(t *testing.T) {
	bcast := netip.MustParseAddr("127.255.255.255")
	if !hostHasPrefix(t, netip.MustParsePrefix("127.0.0.1/8")) {
		t.Skip("lo does not carry 127.0.0.1/8 here")
	}
	srv := startServer(t, "127.0.0.1:0")
	// Whoever listens on the forged source's port would get the reply.
	l, err := net.ListenUDP("udp4", &net.UDPAddr{})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	src := netip.AddrPortFrom(bcast, l.LocalAddr().(*net.UDPAddr).AddrPort().Port())
	req := request(t, 4, 3, 6, 1, nil)
	forgeUDP(t, src, srv.Addrs()[0], req)
	if replies := exchange(t, srv.Addrs()[0], 300*time.Millisecond, req); len(replies) != 1 {
		t.Fatalf("%d replies to a good request", len(replies))
	}
	st := waitStats(t, srv, 2)
	if st.Received != 2 || st.Verdicts[DropSource] != 1 || st.Answered() != 1 || st.SendErrors != 0 {
		t.Errorf("stats %+v: want 2 received, 1 bad_source, 1 answered, no send error", st)
	}
	_ = l.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
	if n, from, err := l.ReadFromUDPAddrPort(make([]byte, 512)); err == nil {
		t.Errorf("a reply of %d bytes from %v reached the broadcast source's port", n, from)
	}
}

// hostHasPrefix reports whether an interface of this host carries p (an
// address and its prefix length).
func hostHasPrefix(t *testing.T, p netip.Prefix) bool {
	t.Helper()
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok {
			ip, _ := netip.AddrFromSlice(n.IP)
			ones, _ := n.Mask.Size()
			if netip.PrefixFrom(ip.Unmap(), ones) == p {
				return true
			}
		}
	}
	return false
}
