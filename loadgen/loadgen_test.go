package loadgen

import (
	"context"
	"encoding/binary"
	"math"
	"math/rand/v2"
	"net"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/leapsmear/leapsmear/ntp"
)

// fakeServer answers NTP requests on loopback one datagram at a time; reply
// decides what to send back (nothing when it returns 0).
type fakeServer struct {
	conn     *net.UDPConn
	received atomic.Uint64
	wg       sync.WaitGroup
}

type replyFunc func(i uint64, req, resp []byte) int

// answer is a correct server reply: mode 4, stratum 1, origin = transmit.
func answer(_ uint64, req, resp []byte) int {
	h := ntp.Header{Version: 4, Mode: ntp.ModeServer, Stratum: 1,
		Origin:   ntp.Timestamp(binary.BigEndian.Uint64(req[40:48])),
		Receive:  ntp.TimestampFromUnixNano(time.Now().UnixNano()),
		Transmit: ntp.TimestampFromUnixNano(time.Now().UnixNano())}
	_ = h.Encode(resp)
	return ntp.HeaderLen
}

func startFake(t *testing.T, reply replyFunc) *fakeServer {
	t.Helper()
	conn, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeServer{conn: conn}
	f.wg.Go(func() {
		buf := make([]byte, 1500)
		resp := make([]byte, 1500)
		for {
			n, from, err := conn.ReadFromUDPAddrPort(buf)
			if err != nil {
				return
			}
			i := f.received.Add(1)
			if n < ntp.HeaderLen {
				continue
			}
			if m := reply(i, buf[:n], resp); m > 0 {
				_, _ = conn.WriteToUDPAddrPort(resp[:m], from)
			}
		}
	})
	t.Cleanup(func() {
		conn.Close()
		f.wg.Wait()
	})
	return f
}

func (f *fakeServer) addr() netip.AddrPort { return f.conn.LocalAddr().(*net.UDPAddr).AddrPort() }

func run(t *testing.T, cfg Config) Result {
	t.Helper()
	res, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	return res
}

func TestRunAnswersEveryRequest(t *testing.T) {
	var mu sync.Mutex
	seen := map[uint64]bool{}
	dup := 0
	f := startFake(t, func(i uint64, req, resp []byte) int {
		h := ntp.Header{}
		_ = h.Decode(req)
		if h.Version != 4 || h.Mode != ntp.ModeClient || h.Transmit == 0 {
			t.Errorf("request %d: version %d mode %d transmit %v: not a valid NTPv4 client request", i, h.Version, h.Mode, h.Transmit)
		}
		mu.Lock()
		if seen[uint64(h.Transmit)] {
			dup++
		}
		seen[uint64(h.Transmit)] = true
		mu.Unlock()
		return answer(i, req, resp)
	})
	res := run(t, Config{Target: f.addr(), Duration: 300 * time.Millisecond, Workers: 3, Window: 16})
	if res.Sent == 0 || res.Answered != res.Sent {
		t.Fatalf("sent %d, answered %d: want every request answered", res.Sent, res.Answered)
	}
	if got := f.received.Load(); got != res.Sent {
		t.Errorf("server received %d, generator sent %d", got, res.Sent)
	}
	if res.Unmatched+res.Malformed+res.Kissed+res.Errors != 0 {
		t.Errorf("unexpected tallies: %+v", res)
	}
	if dup > 0 {
		t.Errorf("%d transmit timestamps repeated among %d requests: want random ones", dup, res.Sent)
	}
	if res.Latency.Count() != res.Answered {
		t.Errorf("latency histogram holds %d, answered %d", res.Latency.Count(), res.Answered)
	}
	p50, p99 := res.Latency.Quantile(0.5), res.Latency.Quantile(0.99)
	if p50 <= 0 || p99 < p50 || p99 > time.Second {
		t.Errorf("p50 %v p99 %v: want 0 < p50 <= p99 < 1s", p50, p99)
	}
	if res.Elapsed < 300*time.Millisecond || res.Elapsed > 2*time.Second {
		t.Errorf("elapsed %v for a 300ms run", res.Elapsed)
	}
	if aps := res.AnsweredPerSecond(); math.Abs(aps-float64(res.Answered)/res.Elapsed.Seconds()) > 1e-6 {
		t.Errorf("answered/s %v", aps)
	}
}

func TestRunCountsLostAndBogusReplies(t *testing.T) {
	cases := []struct {
		name  string
		reply replyFunc
		check func(t *testing.T, r Result)
	}{
		{"every other lost", func(i uint64, req, resp []byte) int {
			if i%2 == 0 {
				return 0
			}
			return answer(i, req, resp)
		}, func(t *testing.T, r Result) {
			if r.Answered == 0 || r.Answered > r.Sent/2+uint64(4*16) || r.Answered < r.Sent/2-uint64(4*16) {
				t.Errorf("sent %d answered %d: want about half", r.Sent, r.Answered)
			}
		}},
		{"wrong origin", func(i uint64, req, resp []byte) int {
			n := answer(i, req, resp)
			resp[30] ^= 0x55
			return n
		}, func(t *testing.T, r Result) {
			if r.Answered != 0 || !most(r.Unmatched, r.Sent) {
				t.Errorf("answered %d unmatched %d sent %d: want every reply unmatched", r.Answered, r.Unmatched, r.Sent)
			}
		}},
		{"kiss of death", func(i uint64, req, resp []byte) int {
			n := answer(i, req, resp)
			resp[1] = 0
			return n
		}, func(t *testing.T, r Result) {
			if r.Answered != 0 || !most(r.Kissed, r.Sent) {
				t.Errorf("answered %d kissed %d sent %d", r.Answered, r.Kissed, r.Sent)
			}
		}},
		{"client mode echoed", func(_ uint64, req, resp []byte) int {
			return copy(resp, req)
		}, func(t *testing.T, r Result) {
			if r.Answered != 0 || !most(r.Malformed, r.Sent) {
				t.Errorf("answered %d malformed %d sent %d", r.Answered, r.Malformed, r.Sent)
			}
		}},
		{"short reply", func(i uint64, req, resp []byte) int {
			answer(i, req, resp)
			return 40
		}, func(t *testing.T, r Result) {
			if r.Answered != 0 || !most(r.Malformed, r.Sent) {
				t.Errorf("answered %d malformed %d sent %d", r.Answered, r.Malformed, r.Sent)
			}
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := startFake(t, c.reply)
			res := run(t, Config{Target: f.addr(), Duration: 200 * time.Millisecond, Workers: 2, Window: 16, Timeout: 50 * time.Millisecond})
			if res.Sent == 0 {
				t.Fatal("nothing sent")
			}
			c.check(t, res)
		})
	}
}

// most reports whether n counts all of sent but the requests that may still
// have been in flight when the run ended (2 workers of 16 in the cases).
func most(n, sent uint64) bool { return n <= sent && n+2*16 >= sent && n > 0 }

func TestRunStopsAtRequestBudget(t *testing.T) {
	f := startFake(t, answer)
	res := run(t, Config{Target: f.addr(), Duration: 10 * time.Second, Requests: 1000, Workers: 3, Window: 32})
	if res.Sent != 1000 || res.Answered != 1000 {
		t.Fatalf("sent %d answered %d: want exactly 1000", res.Sent, res.Answered)
	}
	if res.Elapsed > 5*time.Second {
		t.Errorf("took %v: the budget should end the run early", res.Elapsed)
	}
}

func TestRunRateCap(t *testing.T) {
	f := startFake(t, answer)
	const rate = 4000
	res := run(t, Config{Target: f.addr(), Duration: 500 * time.Millisecond, Rate: rate, Workers: 2})
	want := rate * res.Elapsed.Seconds()
	if float64(res.Sent) > want*1.1+2*batch || float64(res.Sent) < want*0.8 {
		t.Fatalf("sent %d in %v at --rate %d: want about %.0f", res.Sent, res.Elapsed, rate, want)
	}
}

func TestRunNoServer(t *testing.T) {
	// A port nothing listens on: ICMP port unreachable makes the sends or
	// receives fail (ECONNREFUSED); nothing is answered, and Run ends.
	conn, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	addr := conn.LocalAddr().(*net.UDPAddr).AddrPort()
	conn.Close()
	start := time.Now()
	res := run(t, Config{Target: addr, Duration: 200 * time.Millisecond, Timeout: 100 * time.Millisecond})
	if res.Answered != 0 {
		t.Errorf("answered %d with no server", res.Answered)
	}
	if time.Since(start) > 2*time.Second {
		t.Errorf("took %v", time.Since(start))
	}
}

func TestRunCancelled(t *testing.T) {
	f := startFake(t, answer)
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	res, err := Run(ctx, Config{Target: f.addr(), Duration: 30 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("cancelled run took %v", d)
	}
	if res.Answered == 0 {
		t.Error("nothing answered before the cancel")
	}
}

func TestConfigChecks(t *testing.T) {
	lo := netip.MustParseAddrPort("127.0.0.1:123")
	cases := []struct {
		cfg  Config
		want string
	}{
		{Config{Target: netip.MustParseAddrPort("192.0.2.1:123"), Duration: time.Second}, "not a loopback address"},
		{Config{Target: netip.MustParseAddrPort("[2001:db8::1]:123"), Duration: time.Second}, "not a loopback address"},
		{Config{Target: netip.MustParseAddrPort("127.0.0.1:0"), Duration: time.Second}, "port"},
		{Config{Target: lo, Duration: 0}, "duration 0s: want more than 0"},
		{Config{Target: lo, Duration: 61 * time.Second}, "at most 1m0s"},
		{Config{Target: lo, Duration: time.Second, Window: MaxWindow + 1}, "window"},
		{Config{Target: lo, Duration: time.Second, Workers: -1}, "workers -1: want 1 to 256"},
		{Config{Target: lo, Duration: time.Second, Rate: -5}, "rate -5: want 0 (unlimited) or a positive number"},
	}
	for _, c := range cases {
		_, err := Run(context.Background(), c.cfg)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: error %v, want one containing %q", c.cfg, err, c.want)
		}
	}
	for _, ok := range []string{"127.0.0.1:123", "127.3.4.5:1", "[::1]:123", "[::ffff:127.0.0.1]:123"} {
		if err := CheckTarget(netip.MustParseAddrPort(ok), false); err != nil {
			t.Errorf("CheckTarget(%s): %v", ok, err)
		}
	}
	if err := CheckTarget(netip.MustParseAddrPort("192.0.2.1:123"), true); err != nil {
		t.Errorf("CheckTarget with allowRemote: %v", err)
	}
}

func TestHistogramBuckets(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	prev := -1
	for v := uint64(0); v < 5000; v++ {
		b := bucketOf(v)
		if b < prev || b > prev+1 {
			t.Fatalf("bucketOf(%d) = %d after %d: buckets must be consecutive", v, b, prev)
		}
		prev = b
	}
	for range 100000 {
		v := r.Uint64N(1 << 40)
		b := bucketOf(v)
		low, width := bucketRange(b)
		if v < low || v >= low+width {
			t.Fatalf("value %d in bucket %d = [%d, %d)", v, b, low, low+width)
		}
		if v >= 64 && float64(width) > float64(low)/32+1 {
			t.Fatalf("bucket %d: width %d too coarse for %d", b, width, low)
		}
	}
	if got := bucketOf(1 << 40); got != maxBucket || got >= len(Histogram{}.counts) {
		t.Fatalf("maxBucket %d, array %d", maxBucket, len(Histogram{}.counts))
	}
}

func TestHistogramQuantiles(t *testing.T) {
	var h Histogram
	if h.Quantile(0.5) != 0 {
		t.Error("empty histogram: want 0")
	}
	// 1 us .. 1000 us, one each: p50 is 500 us, p99 990 us, within a bucket.
	for i := 1; i <= 1000; i++ {
		h.Record(time.Duration(i) * time.Microsecond)
	}
	for _, c := range []struct {
		q    float64
		want time.Duration
	}{{0.5, 500 * time.Microsecond}, {0.99, 990 * time.Microsecond}, {1, 1000 * time.Microsecond}, {0, time.Microsecond}} {
		got := h.Quantile(c.q)
		if math.Abs(float64(got-c.want)) > float64(c.want)/32 {
			t.Errorf("Quantile(%v) = %v, want %v within 3%%", c.q, got, c.want)
		}
	}
	var o Histogram
	o.Record(-time.Second) // counts as zero
	o.Record(time.Hour)    // clamped into the last bucket
	h.Merge(&o)
	if h.Count() != 1002 {
		t.Errorf("count %d after merge", h.Count())
	}
	if h.Quantile(0) != 0 || h.Quantile(1) < time.Duration(1<<40)*31/32 {
		t.Errorf("extremes %v %v", h.Quantile(0), h.Quantile(1))
	}
}

func TestHistogramRecordAllocs(t *testing.T) {
	var h Histogram
	if a := testing.AllocsPerRun(1000, func() { h.Record(123 * time.Microsecond) }); a != 0 {
		t.Fatalf("Record allocates %v times", a)
	}
}
