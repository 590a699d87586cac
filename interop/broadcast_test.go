package interop

import (
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/leapsmear/leapsmear/internal/testenv"
	"github.com/leapsmear/leapsmear/ntp"
)

// TestDirectedBroadcastSources: requests forged from a directed broadcast
// address of the host's subnets get no reply and are counted as
// bad_source: 127.255.255.255 (lo's 127.0.0.0/8) from the start, and
// 10.9.0.255 once 10.9.0.1/24 is added to an interface while the server
// runs (the daemon reads the interfaces again at every periodic check). A
// reply to such an address would reach every host of the subnet. A request
// forged from an ordinary address, 127.0.0.9, is answered: the forging
// works, and the reply would be seen.
//
// In a network namespace made by the test, whose interfaces it may change.
// Needs root and iproute2's ip.
func TestDirectedBroadcastSources(t *testing.T) {
	t.Parallel()
	ipPath := testenv.Program(t, "ip", "iproute2")
	ns := fmt.Sprintf("lsbc%d", os.Getpid()%100000)
	addNetns(t, ipPath, ns)
	mustRun(t, ipPath, "-n", ns, "link", "set", "lo", "up") // 127.0.0.1/8 and ::1

	inNS := []string{ipPath, "netns", "exec", ns}
	s := startWrapped(t, inNS, "--listen", "127.0.0.1:11123", "--admin", "127.0.0.1:9123")
	forge := func(src string) string {
		t.Helper()
		return strings.TrimSpace(helperIn(t, inNS, "forge", src+">127.0.0.1:11123"))
	}
	if got := forge("127.0.0.9"); got != "replied" {
		t.Fatalf("request forged from 127.0.0.9: %s, want replied (the forging does not work here)", got)
	}
	if got := forge("127.255.255.255"); got != "silent" {
		t.Errorf("request forged from lo's broadcast 127.255.255.255: %s, want silent", got)
	}
	mustRun(t, ipPath, "-n", ns, "addr", "add", "10.9.0.1/24", "dev", "lo")
	recs := s.waitLog(t, "broadcast addresses changed", 1)
	t.Logf("after adding 10.9.0.1/24: %v", recs[0]["broadcasts"])
	if got := forge("10.9.0.255"); got != "silent" {
		t.Errorf("request forged from 10.9.0.255 (10.9.0.0/24 added while serving): %s, want silent", got)
	}
	m := parseMetrics(helperIn(t, inNS, "get", "http://127.0.0.1:9123/metrics"))
	if bad, sent, errs := m[`leapsmear_packets_dropped_total{reason="bad_source"}`], m["leapsmear_replies_sent_total"],
		m[`leapsmear_send_errors_total{reason="refused"}`]; bad != 2 || sent != 1 || errs != 0 {
		t.Errorf("bad_source %v, replies %v, send errors %v: want 2, 1 (to 127.0.0.9) and 0", bad, sent, errs)
	}
}

// forgeRequest is the helper job "forge": arg is SRC>DST, an IPv4 source
// address and a destination address:port. It binds a UDP socket to
// 0.0.0.0 (any port P), sends an NTP client request from SRC:P to DST
// through a raw socket, and prints "replied" if a datagram reaches the
// socket within 500 ms, else "silent". (A reply to a broadcast address of
// the host reaches a socket bound to 0.0.0.0:P as well.)
func forgeRequest(arg string) int {
	fail := func(err error) int {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	srcS, dstS, ok := strings.Cut(arg, ">")
	src, err1 := netip.ParseAddr(srcS)
	dst, err2 := netip.ParseAddrPort(dstS)
	if !ok || err1 != nil || err2 != nil || !src.Is4() || !dst.Addr().Is4() {
		return fail(fmt.Errorf("forge %q: want SRC>DST:PORT, IPv4", arg))
	}
	l, err := net.ListenUDP("udp4", &net.UDPAddr{})
	if err != nil {
		return fail(err)
	}
	defer l.Close()
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_RAW, unix.IPPROTO_RAW)
	if err != nil {
		return fail(fmt.Errorf("raw socket: %w", err))
	}
	defer unix.Close(fd)
	var pkt [20 + 8 + ntp.HeaderLen]byte
	pkt[0], pkt[8], pkt[9] = 0x45, 64, unix.IPPROTO_UDP // IPv4, TTL, UDP; the kernel fills length and checksum
	s4, d4 := src.As4(), dst.Addr().As4()
	copy(pkt[12:16], s4[:])
	copy(pkt[16:20], d4[:])
	binary.BigEndian.PutUint16(pkt[20:22], uint16(l.LocalAddr().(*net.UDPAddr).Port))
	binary.BigEndian.PutUint16(pkt[22:24], dst.Port())
	binary.BigEndian.PutUint16(pkt[24:26], 8+ntp.HeaderLen) // UDP length; checksum 0: none (IPv4)
	_ = (&ntp.Header{Version: 4, Mode: ntp.ModeClient, Transmit: 0x1234}).Encode(pkt[28:])
	if err := unix.Sendto(fd, pkt[:], 0, &unix.SockaddrInet4{Addr: d4}); err != nil {
		return fail(fmt.Errorf("sendto: %w", err))
	}
	_ = l.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
	if _, err := l.Read(make([]byte, 512)); err == nil {
		fmt.Println("replied")
	} else {
		fmt.Println("silent")
	}
	return 0
}
