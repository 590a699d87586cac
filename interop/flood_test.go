package interop

import (
	"context"
	"encoding/json"
	"fmt"
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

// floodResult is what one flood measured.
type floodResult struct {
	bench                  map[string]float64
	rssBefore, rssDuring   int
	rssAfter               int
	goodAnswered, goodSent int
	malformedSent          map[string]int
	metrics                map[string]float64
}

// flood runs `leapsmear bench` (with benchArgs) against the server for d from
// 127.0.0.1 with eight sockets, while the test sends malformed datagrams from 127.0.0.3,
// valid requests from 4096 other loopback addresses (spoofed sources, one
// socket each), and a well-behaved client on 127.0.0.2 queries twice a
// second and must be answered correctly every time.
func flood(t *testing.T, s *server, d time.Duration, benchArgs ...string) floodResult {
	t.Helper()
	res := floodResult{malformedSent: map[string]int{}}
	pid := s.cmd.Process.Pid
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
	var answered, sent atomic.Int64
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
			if err != nil {
				t.Errorf("well-behaved client during the flood: %v", err)
				continue
			}
			if resp.Header.Stratum != 2 || resp.Header.Leap != ntp.LeapNone || resp.Offset.Abs() > 20*time.Millisecond {
				t.Errorf("well-behaved client: stratum %d, LI %d, offset %v", resp.Header.Stratum, resp.Header.Leap, resp.Offset)
				continue
			}
			answered.Add(1)
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
	res.goodAnswered, res.goodSent = int(answered.Load()), int(sent.Load())
	if err := json.Unmarshal([]byte(out.String()), &res.bench); err != nil {
		t.Fatalf("bench JSON: %v\n%s", err, out)
	}
	res.metrics = metrics(t, s)
	t.Logf("flood of %v: bench %v; well-behaved client %d/%d answered; RSS before %d KiB, during %d KiB, after %d KiB",
		d, res.bench, res.goodAnswered, res.goodSent, res.rssBefore, res.rssDuring, res.rssAfter)
	return res
}

// checkFlood asserts what every flood must show: the well-behaved client
// always answered, memory bounded, malformed datagrams dropped and counted.
func checkFlood(t *testing.T, res floodResult) {
	t.Helper()
	if res.goodSent < 10 || res.goodAnswered != res.goodSent {
		t.Errorf("well-behaved client answered %d of %d", res.goodAnswered, res.goodSent)
	}
	// The server allocates nothing per packet and its tables are fixed:
	// memory may move with the runtime, not with the flood.
	const bound = 16 << 10 // KiB
	if res.rssDuring > res.rssBefore+bound || res.rssAfter > res.rssBefore+bound {
		t.Errorf("RSS grew: before %d KiB, during %d KiB, after %d KiB", res.rssBefore, res.rssDuring, res.rssAfter)
	}
	for reason, n := range res.malformedSent {
		// Loopback may drop a few datagrams when the socket buffer is full
		// (counted by the kernel, never seen by the server).
		got := res.metrics[`leapsmear_packets_dropped_total{reason="`+reason+`"}`]
		if got < 0.9*float64(n) || got > float64(n) {
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
// requests are answered.
func TestFloodRateLimited(t *testing.T) {
	s := startServer(t, "--sockets", "2", "--admin", "127.0.0.1:0", "--rate-limit", "4", "--rate-burst", "8", "--kiss-interval", "1s")
	res := flood(t, s, 12*time.Second, "--window", "256", "--timeout", "5ms")
	checkFlood(t, res)
	m := res.metrics
	if m[`leapsmear_packets_dropped_total{reason="rate_limited"}`] < 0.5*res.bench["sent"] || m["leapsmear_kod_sent_total"] < 1 {
		t.Errorf("flood of %v requests: %v rate-limited, %v KoD", res.bench["sent"], m[`leapsmear_packets_dropped_total{reason="rate_limited"}`], m["leapsmear_kod_sent_total"])
	}
	// At most a burst and a kiss per interval reach the flooding address.
	if max := 8 + 4*12 + 13 + 50.0; res.bench["answered"] > max {
		t.Errorf("the flooding address got %v answers, want at most %v", res.bench["answered"], max)
	}
}

// TestFloodUnlimited loads a server without rate limiting at its capacity
// (closed loop: each of 8 workers keeps 32 requests in flight, fewer than
// the socket buffer holds): the well-behaved
// client is still answered correctly. An open-loop flood beyond capacity
// overflows the socket buffer, and the kernel then drops requests without
// regard to their source: that is what the rate limiter is for.
func TestFloodUnlimited(t *testing.T) {
	s := startServer(t, "--sockets", "2", "--admin", "127.0.0.1:0")
	res := flood(t, s, 10*time.Second, "--window", "32")
	checkFlood(t, res)
	if res.bench["answered"] < 0.9*res.bench["sent"] {
		t.Errorf("bench: %v of %v answered without a limit", res.bench["answered"], res.bench["sent"])
	}
}
