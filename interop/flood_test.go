package interop

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/leapsmear/leapsmear/client"
	"github.com/leapsmear/leapsmear/internal/ntptest"
	"github.com/leapsmear/leapsmear/internal/testenv"
	"github.com/leapsmear/leapsmear/ntp"
)

// rssKiB reads the resident set size of a process from /proc.
func rssKiB(t *testing.T, pid int) int {
	t.Helper()
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kib, err := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(rest), " kB"))
			if err != nil {
				t.Fatalf("VmRSS %q: %v", rest, err)
			}
			return kib
		}
	}
	t.Fatalf("no VmRSS in /proc/%d/status", pid)
	return 0
}

// malformed are datagrams the server must drop, each with the drop reason
// the metrics must count it under.
var malformed = []struct {
	reason string
	pkt    func() []byte
}{
	{"short", func() []byte { return make([]byte, 20) }},
	{"bad_version", func() []byte { return header(0, 3, 48) }},
	{"bad_version", func() []byte { return header(5, 3, 48) }},
	{"bad_mode", func() []byte { return header(4, 6, 48) }},
	{"bad_mode", func() []byte { return header(4, 7, 48) }},
	{"bad_mode", func() []byte { return header(4, 4, 48) }},
	{"malformed", func() []byte { // an extension field whose length runs past the end
		b := header(4, 3, 76)
		b[48], b[49], b[50], b[51] = 0x01, 0x04, 0x01, 0x00
		return b
	}},
}

func header(version, mode uint8, size int) []byte {
	b := make([]byte, size)
	b[0] = version<<3 | mode
	return b
}

// readSocketDrops sums the datagrams the kernel dropped for want of room in
// the receive buffers of the UDP sockets bound to addr (the drops column of
// /proc/net/udp): requests the server never saw.
func readSocketDrops(addr netip.AddrPort) (int, error) {
	data, err := os.ReadFile("/proc/net/udp")
	if err != nil {
		return 0, err
	}
	a4 := addr.Addr().As4()
	local := fmt.Sprintf("%02X%02X%02X%02X:%04X", a4[3], a4[2], a4[1], a4[0], addr.Port())
	total, sockets := 0, 0
	for _, line := range strings.Split(string(data), "\n")[1:] {
		f := strings.Fields(line)
		if len(f) < 13 || f[1] != local {
			continue
		}
		n, err := strconv.Atoi(f[len(f)-1])
		if err != nil {
			return 0, fmt.Errorf("/proc/net/udp: %q: %w", line, err)
		}
		total += n
		sockets++
	}
	if sockets == 0 {
		return 0, fmt.Errorf("no socket bound to %v in /proc/net/udp", addr)
	}
	return total, nil
}

func socketDrops(t *testing.T, addr netip.AddrPort) int {
	t.Helper()
	n, err := readSocketDrops(addr)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// lossBound is the most of n datagrams that may go missing when each is
// dropped with probability p: the count lost is binomial, and more than its
// mean plus three standard deviations is an error of the server's.
func lossBound(n int, p float64) int {
	mean := float64(n) * p
	return int(math.Ceil(mean + 3*math.Sqrt(mean*(1-p))))
}

// floodResult is what one flood measured.
type floodResult struct {
	bench                  map[string]float64
	rssBefore, rssDuring   int
	rssAfter               int
	goodAnswered, goodSent int
	goodLost               int     // queries of the well-behaved client that timed out
	maxDelay               float64 // the well-behaved client's longest round trip, s
	drops                  int     // datagrams the kernel dropped at the server's sockets
	dropRate               float64 // drops over the datagrams that reached the sockets
	probeSent, probeLost   int     // malformed datagrams sent, and not counted by the server
	probeLoss              float64 // probeLost / probeSent
	malformedSent          map[string]int
	metrics                map[string]float64
}

// flood runs `leapsmear bench` (with benchArgs) against the server for d from
// 127.0.0.1 with eight sockets, while the test sends malformed datagrams from 127.0.0.3,
// valid requests from 4096 other loopback addresses (spoofed sources, one
// socket each), and a well-behaved client on 127.0.0.2 queries twice a
// second. Every answer the client gets must be correct, its offset within
// half the round trip; the queries that go unanswered, and the datagrams
// the kernel dropped at the server's sockets, are counted for checkFlood.
func flood(t *testing.T, s *server, d time.Duration, benchArgs ...string) floodResult {
	t.Helper()
	res := floodResult{malformedSent: map[string]int{}}
	pid := s.cmd.Process.Pid
	addr := netip.MustParseAddrPort(s.addr)
	dropsBefore := socketDrops(t, addr)
	res.rssBefore = rssKiB(t, pid)
	ctx, cancel := context.WithTimeout(context.Background(), d+30*time.Second)
	defer cancel()

	args := append([]string{"bench", "--target", s.addr, "--duration", d.String(), "--workers", "8", "--json"}, benchArgs...)
	bench := exec.CommandContext(ctx, leapsmear(t), args...)
	out := &testenv.Buffer{}
	bench.Stdout, bench.Stderr = out, out
	if err := bench.Start(); err != nil {
		t.Fatal(err)
	}
	benchDone := make(chan error, 1)
	go func() { benchDone <- bench.Wait() }()

	var wg sync.WaitGroup
	stop := make(chan struct{})
	var mu sync.Mutex
	// Malformed datagrams, about 2000 a second, bounded by the flood's length.
	wg.Add(1)
	go func() {
		defer wg.Done()
		conn, err := net.DialUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 3)}, net.UDPAddrFromAddrPort(netip.MustParseAddrPort(s.addr)))
		if err != nil {
			t.Error(err)
			return
		}
		defer conn.Close()
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			for _, m := range malformed {
				if _, err := conn.Write(m.pkt()); err == nil {
					mu.Lock()
					res.malformedSent[m.reason]++
					mu.Unlock()
				}
			}
		}
	}()
	// Spoofed sources: 4096 addresses of 127.1.0.0/16, three requests each.
	wg.Add(1)
	go func() {
		defer wg.Done()
		req := header(4, 3, 48)
		for i := 0; i < 4096; i++ {
			src := net.IPv4(127, 1, byte(i>>8), byte(i))
			conn, err := net.DialUDP("udp4", &net.UDPAddr{IP: src}, net.UDPAddrFromAddrPort(netip.MustParseAddrPort(s.addr)))
			if err != nil {
				t.Error(err)
				return
			}
			for j := 0; j < 3; j++ {
				_, _ = conn.Write(req)
			}
			conn.Close()
		}
	}()
	// The well-behaved client: twice a second, from its own address.
	var answered, sent, lost atomic.Int64
	var maxDelay atomic.Int64
	wg.Add(1)
	go func() {
		defer wg.Done()
		c, err := client.Dial(ctx, s.addr, client.Options{Timeout: time.Second, LocalAddr: netip.MustParseAddr("127.0.0.2")})
		if err != nil {
			t.Error(err)
			return
		}
		defer c.Close()
		tick := time.NewTicker(500 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			sent.Add(1)
			resp, err := c.Query(ctx)
			if errors.Is(err, client.ErrNoAnswer) {
				// The request or its reply was dropped: checkFlood weighs
				// these against what the kernel dropped.
				lost.Add(1)
				continue
			}
			if err != nil {
				t.Errorf("well-behaved client during the flood: %v", err)
				continue
			}
			if resp.Header.Stratum != 2 || resp.Header.Leap != ntp.LeapNone || !ntptest.OffsetWithin(resp.Offset, 0, resp.Delay) {
				t.Errorf("well-behaved client: stratum %d, LI %d, offset %v, delay %v", resp.Header.Stratum, resp.Header.Leap, resp.Offset, resp.Delay)
				continue
			}
			answered.Add(1)
			for d := int64(resp.Delay); ; {
				m := maxDelay.Load()
				if d <= m || maxDelay.CompareAndSwap(m, d) {
					break
				}
			}
		}
	}()

	time.Sleep(d / 2)
	res.rssDuring = rssKiB(t, pid)
	if err := <-benchDone; err != nil {
		t.Errorf("leapsmear bench: %v\n%s", err, out)
	}
	close(stop)
	wg.Wait()
	time.Sleep(time.Second)
	res.rssAfter = rssKiB(t, pid)
	res.goodAnswered, res.goodSent, res.goodLost = int(answered.Load()), int(sent.Load()), int(lost.Load())
	res.maxDelay = time.Duration(maxDelay.Load()).Seconds()
	if err := json.Unmarshal([]byte(out.String()), &res.bench); err != nil {
		t.Fatalf("bench JSON: %v\n%s", err, out)
	}
	res.metrics = metrics(t, s)
	res.drops = socketDrops(t, addr) - dropsBefore
	if reached := float64(res.drops) + res.metrics["leapsmear_requests_received_total"]; reached > 0 {
		res.dropRate = float64(res.drops) / reached
	}
	// The malformed datagrams are a probe: sent steadily, like the client's
	// requests, from their own address, and each either counted by the
	// server or dropped by the kernel.
	for reason, n := range res.malformedSent {
		res.probeSent += n
		res.probeLost += n - int(res.metrics[`leapsmear_packets_dropped_total{reason="`+reason+`"}`])
	}
	if res.probeSent > 0 {
		res.probeLoss = float64(max(res.probeLost, 0)) / float64(res.probeSent)
	}
	t.Logf("flood of %v: bench %v; well-behaved client %d/%d answered (%d timed out, longest round trip %.1f ms); "+
		"kernel dropped %d datagrams at the server's sockets (%.2f%%), %d of %d malformed ones (%.2f%%); send errors %v; "+
		"RSS before %d KiB, during %d KiB, after %d KiB",
		d, res.bench, res.goodAnswered, res.goodSent, res.goodLost, 1e3*res.maxDelay, res.drops, 100*res.dropRate,
		res.probeLost, res.probeSent, 100*res.probeLoss, res.metrics["leapsmear_send_errors_total"], res.rssBefore, res.rssDuring, res.rssAfter)
	return res
}

// checkFlood asserts what every flood must show: the well-behaved client
// answered but for what the kernel's drops explain, memory bounded,
// malformed datagrams dropped and counted.
func checkFlood(t *testing.T, res floodResult) {
	t.Helper()
	// Every datagram sent to the server's socket is either read by the
	// server or dropped by the kernel for want of buffer (the loopback
	// device drops none: /proc/net/dev): what the server did not count
	// must be among the kernel's drops.
	if res.probeLost < 0 || res.probeLost+res.goodLost > res.drops {
		t.Errorf("%d malformed datagrams and %d queries lost, more than the kernel dropped (%d)", res.probeLost, res.goodLost, res.drops)
	}
	// A query of the client is dropped as the probe's datagrams are, sent
	// steadily to the same socket: with the probability measured on them.
	// The server itself must lose none.
	if bound := lossBound(res.goodSent, res.probeLoss); res.goodSent < 10 || res.goodAnswered+res.goodLost != res.goodSent || res.goodLost > bound {
		t.Errorf("well-behaved client answered %d of %d (%d timed out; the kernel dropped %.2f%% of the probe's datagrams, which explains up to %d)",
			res.goodAnswered, res.goodSent, res.goodLost, 100*res.probeLoss, bound)
	}
	// The server allocates nothing per packet and its tables are fixed:
	// memory may move with the runtime, not with the flood.
	const bound = 16 << 10 // KiB
	if res.rssDuring > res.rssBefore+bound || res.rssAfter > res.rssBefore+bound {
		t.Errorf("RSS grew: before %d KiB, during %d KiB, after %d KiB", res.rssBefore, res.rssDuring, res.rssAfter)
	}
	for reason, n := range res.malformedSent {
		if got := res.metrics[`leapsmear_packets_dropped_total{reason="`+reason+`"}`]; got > float64(n) || got < 1 {
			t.Errorf("%d %s datagrams sent, %v counted", n, reason, got)
		}
	}
	if res.metrics["leapsmear_requests_received_total"] < res.bench["answered"] {
		t.Errorf("received %v < answered by bench %v", res.metrics["leapsmear_requests_received_total"], res.bench["answered"])
	}
}

// TestFloodRateLimited floods a server that limits each source to 4 requests
// a second, open loop (a 5 ms reply timeout keeps the generator sending
// although the server drops nearly everything): the flood gets RATE kisses
// and drops, the well-behaved client and the spoofed sources' first
// requests are answered, but for those the kernel drops at the full socket
// buffer. The server has one socket, so that the malformed datagrams (the
// probe) and the client's requests meet the same buffer: the fraction of the
// probe's the kernel dropped is the chance of each request being dropped.
func TestFloodRateLimited(t *testing.T) {
	s := startServer(t, "--sockets", "1", "--admin", "127.0.0.1:0", "--rate-limit", "4", "--rate-burst", "8", "--kiss-interval", "1s")
	res := flood(t, s, 12*time.Second, "--window", "256", "--timeout", "5ms")
	checkFlood(t, res)
	m := res.metrics
	// What reached the server from the flooding address: all it received
	// but the malformed datagrams, the spoofed sources' and the client's.
	fromFlood := m["leapsmear_requests_received_total"] - float64(res.goodSent) - 3*4096
	for reason := range res.malformedSent {
		fromFlood -= m[`leapsmear_packets_dropped_total{reason="`+reason+`"}`]
	}
	if limited := m[`leapsmear_packets_dropped_total{reason="rate_limited"}`]; limited < 0.5*fromFlood || m["leapsmear_kod_sent_total"] < 1 {
		t.Errorf("flood of %v requests, %v reached the server: %v rate-limited, %v KoD", res.bench["sent"], fromFlood, limited, m["leapsmear_kod_sent_total"])
	}
	// At most a burst and a kiss per interval reach the flooding address.
	if max := 8 + 4*12 + 13 + 50.0; res.bench["answered"] > max {
		t.Errorf("the flooding address got %v answers, want at most %v", res.bench["answered"], max)
	}
}

// TestFloodUnlimited loads a server without rate limiting, with two sockets,
// at its capacity (closed loop: each of 8 workers keeps 32 requests in
// flight, fewer than the socket buffers hold): the well-behaved client is
// still answered correctly. An open-loop flood beyond capacity
// overflows the socket buffer, and the kernel then drops requests without
// regard to their source: that is what the rate limiter is for.
func TestFloodUnlimited(t *testing.T) {
	s := startServer(t, "--sockets", "2", "--admin", "127.0.0.1:0")
	res := flood(t, s, 10*time.Second, "--window", "32")
	checkFlood(t, res)
	// Closed loop: the generator's requests that went unanswered are among
	// the kernel's drops.
	if lost := res.bench["sent"] - res.bench["answered"]; lost > float64(res.drops) {
		t.Errorf("bench: %v of %v answered without a limit; the kernel dropped %d", res.bench["answered"], res.bench["sent"], res.drops)
	}
}
